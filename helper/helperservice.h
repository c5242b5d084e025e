// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The object cryopod-helper exports at /io/github/cryopod/Helper, interface
// io.github.cryopod.Helper1 (helper/io.github.cryopod.Helper1.xml,
// docs/dbus-interface.md). Every method but Version() answers later: its
// body (Operations) runs on a worker thread of its own, so the bus thread
// never waits for polkit, /proc, the cgroup freezer or the engine. Jobs are
// tracked per caller; a caller that leaves the bus cancels its jobs. The
// helper quits after idleTimeoutMs with nothing running.
#pragma once

#include "operations.h"

#include <QDBusContext>
#include <QDBusObjectPath>
#include <QDBusUnixFileDescriptor>
#include <QHash>
#include <QObject>
#include <QTimer>
#include <QVariantMap>

#include <functional>

class HelperJob;
class QDBusServiceWatcher;

class HelperService : public QObject, protected QDBusContext, public JobHost
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "io.github.cryopod.Helper1")

public:
    // The helper exits after idleTimeoutMs without a call or a running job.
    HelperService(const QDBusConnection &bus, int idleTimeoutMs, QObject *parent = nullptr);
    ~HelperService() override;

    // Limits on jobs at once.
    static constexpr int kMaxJobsPerCaller = 16;
    static constexpr int kMaxJobs = 64;

    // JobHost (thread-safe)
    HelperResult<HelperJob *> createJob(const QString &owner, const QString &operation) override;
    void releaseJob(HelperJob *job) override;
    void adoptChild(pid_t pid) override;

    // Cancels every job (a checkpoint lets its target go, a restore undoes
    // itself), takes no new one, and emits stopped() once every worker
    // has ended. Not a slot: slots are the D-Bus methods.
    void stop();

public Q_SLOTS:
    // The helper's version; answers every caller, authorizes nothing.
    QString Version();
    // The host's process tree, a{sv} (ProcessSnapshotCodec), as the caller
    // could read it in /proc.
    QVariantMap ListProcesses();
    // The checkpointability report of PID's tree, a{sv}.
    QVariantMap Report(int pid);
    // Freezes PID's tree with the cgroup freezer until Thaw(PID).
    QVariantMap Freeze(int pid);
    void Thaw(int pid);
    // Streams the image of PID's tree into fd; returns the job's path.
    QDBusObjectPath Checkpoint(int pid, const QVariantMap &options, const QDBusUnixFileDescriptor &fd);
    // Reads an image from fd and restores it; returns the job's path.
    QDBusObjectPath Restore(const QDBusUnixFileDescriptor &fd, const QVariantMap &options);

Q_SIGNALS:
    void idleTimeout();
    void stopped();

private:
    // Runs body on a new worker thread, holding off the idle exit meanwhile.
    void startWorker(std::function<void()> body);
    void workerDone();
    void callerGone(const QString &busName);
    HelperJob *makeJob(const QString &owner, const QString &operation, QString *error);
    void dropJob(HelperJob *job);
    void watchChild(pid_t pid);
    // Request with the current message, answered later; or an error reply
    // for a direct (non-D-Bus) call.
    Request takeRequest();
    void touch();

    QDBusConnection m_bus;
    QTimer m_idleTimer;
    int m_workers = 0;
    bool m_stopping = false;
    // Job ids are milliseconds since the epoch at the job's start (one more
    // than the last when two start in the same millisecond): they keep
    // growing when the helper restarts, so a checkpoint id libcryopod hands
    // out names one job for good.
    quint64 m_lastJobId = 0;
    QHash<quint64, HelperJob *> m_jobs;
    QDBusServiceWatcher *m_callerWatcher = nullptr;
};
