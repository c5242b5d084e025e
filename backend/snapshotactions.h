// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SnapshotActions: "Snapshot now" and "Restore" for the GUI. Both go through
// cryopod-helper (HelperEngine over the system bus, or the bus named by
// DBUS_SYSTEM_BUS_ADDRESS) into and out of the user's own store, exactly as
// `cryopodctl snapshot` and `cryopodctl restore ID` do, on a worker thread:
// the UI thread never waits. One operation at a time; its phase is a
// property, its end a signal, its failure an errorString with the helper's
// message.
#pragma once

#include <QDBusMessage>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QThread>
#include <QtQmlIntegration>

#include "result.h"

#include <functional>
#include <memory>
#include <string>

namespace cryopod::store
{
class SnapshotStore;
}
class HelperClient;
class TerminalSession;

class SnapshotActions : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_MOC_INCLUDE("terminalsession.h")

    // The store's directory; empty: SnapshotStore::defaultLocation().
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY storePathChanged)
    Q_PROPERTY(bool busy READ isBusy NOTIFY busyChanged)
    // What the running operation does, in words ("" when idle).
    Q_PROPERTY(QString phase READ phase NOTIFY phaseChanged)
    // zstd level of the store's blobs for new snapshots (1..19).
    Q_PROPERTY(int compressionLevel READ compressionLevel WRITE setCompressionLevel NOTIFY settingsChanged)
    // After a snapshot: keep this many of the program's newest unpinned
    // snapshots, delete older ones; 0 keeps all.
    Q_PROPERTY(int keepLast READ keepLast WRITE setKeepLast NOTIFY settingsChanged)
    // The process being snapshotted (0 when none).
    Q_PROPERTY(int activePid READ activePid NOTIFY busyChanged)
    // Why the last operation failed ("" after a success, or when cleared).
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

    // Progress of the running operation, from the helper's job (its Progress
    // signals, docs/dbus-interface.md), followed on this object's thread.
    // The helper's phase, in words ("Capturing", "Restoring", "" before the first).
    Q_PROPERTY(QString step READ step NOTIFY progressChanged)
    Q_PROPERTY(qint64 doneBytes READ doneBytes NOTIFY progressChanged)
    // What the phase is expected to move: the helper's total when it knows
    // one, else an estimate (the process's resident memory for a snapshot,
    // the stored image's size for a restore); 0 when unknown.
    Q_PROPERTY(qint64 totalBytes READ totalBytes NOTIFY progressChanged)
    // 0..1, or -1 when there is nothing to measure it by (an indeterminate bar).
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
    // Seconds left at the rate so far, -1 when unknown.
    Q_PROPERTY(int etaSeconds READ etaSeconds NOTIFY progressChanged)
    // "12.0 MiB of about 80.0 MiB, about 3 s left", "" when nothing moved yet.
    Q_PROPERTY(QString progressText READ progressText NOTIFY progressChanged)
    // A Cancel now would be sent (busy, and not asked yet).
    Q_PROPERTY(bool canCancel READ canCancel NOTIFY progressChanged)
    // The last snapshot's pause and total ("paused 64 ms, 1.2 s in all"),
    // set before snapshotTaken().
    Q_PROPERTY(QString lastTimingText READ lastTimingText NOTIFY snapshotTaken)

public:
    explicit SnapshotActions(QObject *parent = nullptr);
    // Waits for a running operation: the helper ends its job when we go.
    ~SnapshotActions() override;

    QString storePath() const;
    void setStorePath(const QString &path);
    bool isBusy() const;
    QString phase() const;
    int activePid() const;
    QString errorString() const;
    int compressionLevel() const;
    void setCompressionLevel(int level);
    int keepLast() const;
    void setKeepLast(int count);
    QString step() const;
    qint64 doneBytes() const;
    qint64 totalBytes() const;
    double progress() const;
    int etaSeconds() const;
    QString progressText() const;
    QString lastTimingText() const;
    bool canCancel() const;

    // Checkpoints process pid into the store; false when another operation
    // is running. keepRunning false: the process ends once its snapshot is
    // complete (not when it fails). snapshotTaken() or failed() follows.
    Q_INVOKABLE bool snapshot(int pid, const QString &label = QString(), bool keepRunning = true);
    // Restores a snapshot with its original pid; restored() or failed().
    // replaceRunning: when the snapshot's program still runs with that pid
    // (runningPidOf), it is stopped (SIGKILL) and gone before the restore.
    // terminal: where a program that ran on a terminal goes: "" (ask:
    // when the snapshot's image has a terminal, nothing is restored and
    // terminalChoiceNeeded() follows), "new" (a new pty whose master a
    // TerminalSession holds: terminalOpened()) or "original" (its
    // /dev/pts/N, when that still exists).
    Q_INVOKABLE bool restore(qint64 snapshotId, bool replaceRunning = false, const QString &terminal = QString());
    // Pauses the process tree of pid with the cgroup freezer through the
    // helper (it stays paused until thaw(), also when Cryopod exits), or
    // lets it run again; asynchronous: freezeChanged() or failed() follows.
    Q_INVOKABLE void freeze(int pid);
    Q_INVOKABLE void thaw(int pid);
    // Writes the snapshot's image to a file (path or file: URL) that
    // `cryopodctl inspect`/`import` read; exported() or failed().
    Q_INVOKABLE bool exportSnapshot(qint64 snapshotId, const QString &path);
    // The pid of the snapshot's program when it still runs (the process
    // with the snapshot's pid runs the same executable: the original or an
    // earlier restore of it), 0 when it does not.
    Q_INVOKABLE int runningPidOf(qint64 snapshotId) const;
    // The store's target for a running process (same pid, executable and
    // start time), 0 when it has no snapshots yet.
    Q_INVOKABLE qint64 targetIdOf(int pid) const;
    Q_INVOKABLE void clearError();
    // Asks the helper to stop the running operation: a snapshot leaves the
    // process unchanged (running, or frozen when Freeze holds it; the
    // message says which) and stores nothing, a restore removes what it
    // built. cancelled() follows (or the operation's end, if it was done
    // first).
    Q_INVOKABLE void cancel();
    // Hangs up a terminal of terminalOpened() (its program gets SIGHUP, as
    // when a terminal window closes) and deletes it.
    Q_INVOKABLE void closeTerminal(TerminalSession *session);

Q_SIGNALS:
    void storePathChanged();
    void busyChanged();
    void phaseChanged();
    void errorStringChanged();
    void snapshotTaken(qint64 snapshotId, qint64 targetId);
    void restored(qint64 snapshotId, int pid);
    // The snapshot's program ran on the terminal originalPath: restore()
    // again with "new" or "original". originalExists: that terminal is
    // still there.
    void terminalChoiceNeeded(qint64 snapshotId, bool replaceRunning, const QString &originalPath, bool originalExists);
    // A restore onto a new pty: its master, in session (a child of this
    // object until closeTerminal()), before restored().
    void terminalOpened(TerminalSession *session, qint64 snapshotId, int pid);
    void exported(qint64 snapshotId, const QString &path);
    void freezeChanged(int pid, bool frozen);
    void failed(const QString &message);
    // The operation stopped because cancel() asked it to; message says what
    // that left behind.
    void cancelled(const QString &message);
    void progressChanged();
    void settingsChanged();

private Q_SLOTS:
    void onJobProgress(const QDBusMessage &message);

private:
    struct Outcome;
    struct Progress {
        QString phase;
        quint64 done = 0;
        quint64 total = 0;
    };
    static std::unique_ptr<cryopod::store::SnapshotStore> openStore(const std::string &storeDir, Outcome &outcome);
    // On the worker thread: its own bus client (whose signals arrive in the
    // worker's event loop, which HelperEngine runs while it waits) and its
    // own store object.
    // observer: told the helper's job path (on the worker thread).
    struct SnapshotRequest {
        int pid = 0;
        QString label;
        bool keepRunning = true;
        int level = 1;
        int keepLast = 0;
    };
    static Outcome takeSnapshot(const std::string &storeDir, const SnapshotRequest &request, const std::function<void(const QString &)> &observer);
    // Deletes the target's unpinned snapshots beyond the newest keepLast.
    static void applyRetention(cryopod::store::SnapshotStore &store, qint64 targetId, int keepLast);
    static Outcome restoreSnapshot(const std::string &storeDir, qint64 id, bool replaceRunning, const QString &terminal,
                                   const std::function<void(const QString &)> &observer, const std::function<void(quint64)> &imageBytes);
    // The first terminal the snapshot's image names ("" when none), from
    // the image's head (Terminal records come before the first Files record).
    static cryopod::Result<std::string> terminalOfImage(cryopod::store::SnapshotStore &store, qint64 id);
    // On this thread: the worker's job is known.
    void jobStarted(const QString &path);
    void applyProgress(const Progress &progress);
    void resetProgress();
    std::function<void(const QString &)> jobObserver();
    bool begin(int pid, const QString &phase);
    void finish(const Outcome &outcome);
    std::string storeDirectory() const;
    void setFrozen(int pid, bool frozen);
    static int runningPidOf(cryopod::store::SnapshotStore &store, qint64 snapshotId);
    // Stops pid and waits until its pid is free; an error message, or "".
    static QString stopAndWait(int pid);

    QString m_storePath;
    QString m_phase;
    QString m_error;
    QString m_lastTiming;
    int m_activePid = 0;
    int m_level = 1;
    int m_keepLast = 0;
    std::unique_ptr<QThread> m_worker;
    HelperClient *m_client = nullptr; // for Freeze and Thaw, on this thread

    QString m_jobPath;
    bool m_cancelRequested = false;
    QHash<QString, Progress> m_early; // progress of jobs whose path the worker has not told yet
    Progress m_progress;
    quint64 m_expectedBytes = 0;
    // The rate: bytes and time at the first progress of the current phase.
    QString m_ratePhase;
    quint64 m_rateStartBytes = 0;
    qint64 m_rateStartMs = 0;
    int m_eta = -1;
};
