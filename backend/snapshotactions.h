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

#include <QObject>
#include <QPointer>
#include <QThread>
#include <QtQmlIntegration>

#include <memory>
#include <string>

namespace cryopod::store
{
class SnapshotStore;
}

class SnapshotActions : public QObject
{
    Q_OBJECT
    QML_ELEMENT

    // The store's directory; empty: SnapshotStore::defaultLocation().
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY storePathChanged)
    Q_PROPERTY(bool busy READ isBusy NOTIFY busyChanged)
    // What the running operation does, in words ("" when idle).
    Q_PROPERTY(QString phase READ phase NOTIFY phaseChanged)
    // The process being snapshotted (0 when none).
    Q_PROPERTY(int activePid READ activePid NOTIFY busyChanged)
    // Why the last operation failed ("" after a success, or when cleared).
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

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

    // Checkpoints process pid (it keeps running) into the store; false when
    // another operation is running. snapshotTaken() or failed() follows.
    Q_INVOKABLE bool snapshot(int pid, const QString &label = QString());
    // Restores a snapshot with its original pid; restored() or failed().
    Q_INVOKABLE bool restore(qint64 snapshotId);
    // The store's target for a running process (same pid, executable and
    // start time), 0 when it has no snapshots yet.
    Q_INVOKABLE qint64 targetIdOf(int pid) const;
    Q_INVOKABLE void clearError();

Q_SIGNALS:
    void storePathChanged();
    void busyChanged();
    void phaseChanged();
    void errorStringChanged();
    void snapshotTaken(qint64 snapshotId, qint64 targetId);
    void restored(qint64 snapshotId, int pid);
    void failed(const QString &message);

private:
    struct Outcome;
    static std::unique_ptr<cryopod::store::SnapshotStore> openStore(const std::string &storeDir, Outcome &outcome);
    // On the worker thread: its own bus client (whose signals arrive in the
    // worker's event loop, which HelperEngine runs while it waits) and its
    // own store object.
    static Outcome takeSnapshot(const std::string &storeDir, int pid, const QString &label);
    static Outcome restoreSnapshot(const std::string &storeDir, qint64 id);
    bool begin(int pid, const QString &phase);
    void finish(const Outcome &outcome);
    std::string storeDirectory() const;

    QString m_storePath;
    QString m_phase;
    QString m_error;
    int m_activePid = 0;
    std::unique_ptr<QThread> m_worker;
};
