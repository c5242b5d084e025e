// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TimelineModel: the snapshots of the user's store (docs/store.md), newest
// first, of one target or of all. reload() re-reads the index and applies
// the difference (rows removed, inserted, changed), never a reset, so that a
// selection survives a new snapshot. The store is opened lazily in the
// model's thread; listing reads an index, not the snapshots.
#pragma once

#include "result.h"
#include "storetypes.h"

#include <QAbstractListModel>
#include <QtQmlIntegration>

#include <functional>
#include <memory>
#include <vector>

namespace cryopod::store
{
class SnapshotStore;
}

class TimelineModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT

    // The store's directory; empty: SnapshotStore::defaultLocation().
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY storePathChanged)
    // Only this target's snapshots; 0: every target's.
    Q_PROPERTY(qint64 targetId READ targetId WRITE setTargetId NOTIFY targetIdChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    // Why the store could not be read ("" when it could).
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

public:
    enum Role {
        SnapshotIdRole = Qt::UserRole + 1,
        TargetIdRole,
        CreatedAtRole, // QDateTime
        TimeTextRole, // the creation time, formatted
        LabelRole,
        NoteRole,
        PinnedRole,
        OriginRole, // "snapshot", "import" or "schedule"
        RootPidRole,
        CommandRole, // the process's name (comm)
        ExecutableRole,
        TargetLabelRole,
        ImageBytesRole, // the image as the engine wrote it (compressed)
        RawBytesRole, // its payload uncompressed
        StoredBytesRole, // what the snapshot added to the store
        SizeTextRole, // "12.0 MiB stored of 80.0 MiB"
        PauseMsRole, // how long the process was stopped
        DurationMsRole,
        ScheduleIdRole, // the schedule that took it (origin "schedule"), 0 for a manual snapshot or a removed schedule
        TimingTextRole, // "paused 64 ms, 1.2 s in all": how long the program stopped and the snapshot took
    };
    Q_ENUM(Role)

    // "paused 64 ms, 1.2 s in all" (a pause of 0: unknown, only the total).
    static QString timingText(quint64 pauseNs, quint64 durationNs);

    explicit TimelineModel(QObject *parent = nullptr);
    ~TimelineModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString storePath() const;
    void setStorePath(const QString &path);
    qint64 targetId() const;
    void setTargetId(qint64 id);
    int count() const;
    QString errorString() const;

    // Re-reads the index (after a snapshot, a restore, another program's
    // change); false (and errorString) when the store cannot be read.
    Q_INVOKABLE bool reload();
    // The row of a snapshot, -1 when it is not listed.
    Q_INVOKABLE int rowOf(qint64 snapshotId) const;
    // The snapshot of a row (0 for none) and a snapshot's time as shown.
    Q_INVOKABLE qint64 snapshotIdAt(int row) const;
    Q_INVOKABLE QString timeTextOf(qint64 snapshotId) const;

    // Changes to the store, reflected in the rows at once; false and
    // errorString when the store refused.
    Q_INVOKABLE bool setLabel(qint64 snapshotId, const QString &label);
    Q_INVOKABLE bool setPinned(qint64 snapshotId, bool pinned);
    Q_INVOKABLE bool setNote(qint64 snapshotId, const QString &note);
    // A pinned snapshot is kept unless force.
    Q_INVOKABLE bool remove(qint64 snapshotId, bool force = false);

Q_SIGNALS:
    void storePathChanged();
    void targetIdChanged();
    void countChanged();
    void errorStringChanged();

private:
    cryopod::store::SnapshotStore *store();
    // Applies a change to the store and reloads; what (with %1 for the
    // store's message) when the store refuses.
    bool change(const QString &what, const std::function<cryopod::Result<void>(cryopod::store::SnapshotStore &)> &apply);
    void setError(const QString &error);
    void closeStore();

    std::unique_ptr<cryopod::store::SnapshotStore> m_store;
    std::vector<cryopod::store::SnapshotInfo> m_rows;
    QString m_storePath;
    qint64 m_targetId = 0;
    QString m_error;
};
