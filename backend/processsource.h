// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Where the process tree comes from. Outside a sandbox the backend reads
// /proc itself (ProcfsProcessSource); inside a Flatpak its /proc shows only
// the sandbox, so the tree comes from cryopod-helper on the host
// (HelperProcessSource, helperprocesssource.h). ProcessScanner and everything
// above it see one interface and the same ProcessSnapshot either way.
#pragma once

#include "processinfo.h"

#include <QString>

#include <memory>

class ProcessSource
{
public:
    virtual ~ProcessSource() = default;
    // Blocking; called on the scanner's worker thread (or by the CLI/tests).
    // Failures are reported in ProcessSnapshot::error.
    virtual ProcessSnapshot scan() = 0;
    // "procfs", "helper": for logs and messages.
    virtual QString name() const = 0;
    // A source may list new processes without their details (arguments,
    // executable, ...; ProcessSnapshot::detailsPending) and read those in
    // passes after the scan: whether some are still to be read, and the
    // next pass (the last scan's snapshot with more of it filled in, its
    // figures and time unchanged). Blocking, on the same thread as scan().
    virtual bool hasPendingDetails() const
    {
        return false;
    }
    virtual ProcessSnapshot readPendingDetails()
    {
        return {};
    }
};

struct ProcfsScanCache;

// Keeps what each scan read for the next (ProcessScanner::scan's cache):
// a scan reads every process's stat and owner, a new process's other files
// are read by the details passes that follow (processscanner.cpp).
class ProcfsProcessSource : public ProcessSource
{
public:
    // How long one details pass reads at most (it reads one process at least).
    static constexpr qint64 kDetailsPassNs = 25'000'000;

    ProcfsProcessSource();
    ~ProcfsProcessSource() override;
    ProcessSnapshot scan() override;
    QString name() const override;
    bool hasPendingDetails() const override;
    ProcessSnapshot readPendingDetails() override;

private:
    std::unique_ptr<ProcfsScanCache> m_cache;
    ProcessSnapshot m_last;
};
