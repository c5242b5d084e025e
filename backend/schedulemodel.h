// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ScheduleModel: the schedules of the user's store for QML (docs/schedules.md),
// and what the schedule dialog needs: add one for a process or as a rule,
// edit one, pause, resume, remove, check a timing, and preview what a retention policy
// would keep (after a simulated month or more of runs, and of the target's
// snapshots now). Creating a schedule installs the autostart entry of
// `cryopod --background`.
#pragma once

#include <QAbstractListModel>
#include <QtQmlIntegration>

#include <memory>
#include <vector>

namespace cryopod::store
{
class SnapshotStore;
}
namespace cryopod::schedule
{
struct Schedule;
}

class ScheduleModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT

    // The store's directory; empty: SnapshotStore::defaultLocation().
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY storePathChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

public:
    enum Role {
        ScheduleIdRole = Qt::UserRole + 1,
        NameRole,
        TargetTextRole,
        WhenTextRole,
        RetentionTextRole,
        EnabledRole,
        NextRunTextRole,
        LastRunTextRole, // the last run's outcome, with its reason
        FailuresRole,
    };
    Q_ENUM(Role)

    explicit ScheduleModel(QObject *parent = nullptr);
    ~ScheduleModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString storePath() const;
    void setStorePath(const QString &path);
    int count() const;
    QString errorString() const;

    Q_INVOKABLE bool reload();
    // "" when `when` is a timing ("every 10m", "daily 03:30", ...), else why not.
    Q_INVOKABLE QString checkWhen(const QString &when) const;
    // How a schedule's snapshots are taken (the store's SnapshotMode): the
    // program keeps running (stopped only while its state and a copy of its
    // memory are taken), or stays frozen for the whole capture.
    enum Mode {
        KeepRunning = 0,
        Freeze = 1,
    };
    Q_ENUM(Mode)

    // The new schedule's id, or 0 and errorString. maxGiB 0: no size cap.
    Q_INVOKABLE qint64 addForProcess(int pid, const QString &name, const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly,
                                     double maxGiB, int mode = KeepRunning);
    Q_INVOKABLE qint64 addRule(const QString &executable, const QString &argumentsPattern, const QString &name, const QString &when, int keepLast, int hourly,
                               int daily, int weekly, int monthly, double maxGiB, int mode = KeepRunning);
    // Changes a schedule in place (its target, runs and snapshots stay; a
    // changed timing counts from now). false and errorString when refused.
    Q_INVOKABLE bool update(qint64 scheduleId, const QString &name, const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly,
                            double maxGiB, int mode = KeepRunning);
    // What the dialog shows of a schedule to edit it: { name, target, kind
    // (0 every, 1 hourly, 2 daily, 3 weekly), every, unit (0 minutes, 1
    // hours), minute, time ("HH:MM"), day (0 Monday .. 6 Sunday), keepLast,
    // hourly, daily, weekly, monthly, maxGiB, mode (Mode) }; empty when there is none.
    Q_INVOKABLE QVariantMap scheduleInfo(qint64 scheduleId);
    Q_INVOKABLE bool setEnabled(qint64 scheduleId, bool enabled);
    Q_INVOKABLE bool remove(qint64 scheduleId);
    // What the policy keeps after `days` days of runs at `when` (a simulated
    // timeline): { runs, kept, oldestDays, text }.
    Q_INVOKABLE QVariantMap previewRetention(const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly, int days) const;
    // The policy applied to a target's snapshots now (as if they were the
    // schedule's): one map per snapshot, newest first: { snapshotId,
    // timeText, keep, reasons }.
    Q_INVOKABLE QVariantList previewForTarget(qint64 targetId, int keepLast, int hourly, int daily, int weekly, int monthly, double maxGiB);
    // The executable and (running) pid of a target, for the dialog opened
    // from the timeline: { exe, pid (0 when it no longer runs) }.
    Q_INVOKABLE QVariantMap targetInfo(qint64 targetId);
    // What went wrong in the last runs of the schedules of a target (0: of
    // every schedule): a line per schedule whose last run was skipped or
    // failed, "" when none. For the timeline.
    Q_INVOKABLE QString problemText(qint64 targetId);
    // The executable a running process runs ("" when it cannot be read).
    Q_INVOKABLE QString executableOf(int pid) const;

Q_SIGNALS:
    void storePathChanged();
    void countChanged();
    void errorStringChanged();

private:
    cryopod::store::SnapshotStore *store();
    qint64 add(cryopod::schedule::Schedule &schedule, const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly, double maxGiB);
    void setError(const QString &error);

    std::unique_ptr<cryopod::store::SnapshotStore> m_store;
    std::vector<cryopod::schedule::Schedule> m_rows;
    std::vector<QString> m_lastRuns;
    QString m_storePath;
    QString m_error;
};
