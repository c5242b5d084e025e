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
};

struct ProcfsScanCache;

// Keeps what each scan read for the next (ProcessScanner::scan's cache).
class ProcfsProcessSource : public ProcessSource
{
public:
    ProcfsProcessSource();
    ~ProcfsProcessSource() override;
    ProcessSnapshot scan() override;
    QString name() const override;

private:
    std::unique_ptr<ProcfsScanCache> m_cache;
};
