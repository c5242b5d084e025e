// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ProcessScanner reads /proc into a ProcessSnapshot. A scan tolerates
// processes that exit while it runs (they are left out). The GUI asks for
// scans with requestScan(), which runs them on a worker thread and delivers
// the result in the scanner's own thread; the CLI and tests call scan().
#pragma once

#include "processinfo.h"
#include "processsource.h"

#include <QObject>
#include <QThread>

#include <memory>
#include <optional>

class ProcessScanWorker;

class ProcessScanner : public QObject
{
    Q_OBJECT

public:
    // Scans /proc (ProcfsProcessSource).
    explicit ProcessScanner(QObject *parent = nullptr);
    // Scans through `source` on the worker thread (e.g. the helper's list
    // inside a Flatpak).
    explicit ProcessScanner(std::shared_ptr<ProcessSource> source, QObject *parent = nullptr);
    ~ProcessScanner() override;

    // Reads every process in /proc, in the calling thread. Never call it from
    // the UI thread: use requestScan() there. cache (optional): what the
    // previous scan with it read, updated; with it the files that change
    // only with exec or the credentials are not read for a process it knows,
    // and are left to a details pass for a new one (processscanner.cpp,
    // readProcessAt; ProcfsProcessSource runs the passes).
    static ProcessSnapshot scan(ProcfsScanCache *cache = nullptr);

    // Reads one process; nullopt when it does not exist (or vanished while
    // being read).
    static std::optional<ProcessInfo> readProcess(pid_t pid);

    // Starts a scan on this scanner's worker thread; snapshotReady() follows
    // in this object's thread, and again after each details pass the source
    // runs (ProcessSnapshot::detailsPending). A request while a scan runs is
    // coalesced into one more scan after it.
    void requestScan();
    bool isScanning() const;

Q_SIGNALS:
    void snapshotReady(const ProcessSnapshot &snapshot);

private:
    void startScan();
    void onScanned(const ProcessSnapshot &snapshot);

    // Its own thread and plain queued signals both ways, not a QFuture
    // continuation on the global pool: under load such a continuation was
    // lost now and then (the pool thread idle, the UI thread waiting, no
    // snapshot ever delivered).
    QThread m_thread;
    ProcessScanWorker *m_worker = nullptr;
    bool m_scanning = false;
    bool m_pending = false;
};
