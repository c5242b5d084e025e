// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "schedulemodel.h"

#include "autostart.h"
#include "schedulematch.h"
#include "schedulestore.h"
#include "snapshotstore.h"

#include <QDateTime>
#include <QLocale>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::schedule;

namespace
{
QString q(const std::string &s)
{
    return QString::fromStdString(s);
}

QString timeText(int64_t ns)
{
    return QLocale().toString(QDateTime::fromMSecsSinceEpoch(ns / 1000000), QLocale::ShortFormat);
}

RetentionPolicy policyOf(int keepLast, int hourly, int daily, int weekly, int monthly, double maxGiB)
{
    RetentionPolicy p;
    p.keepLast = std::max(keepLast, 0);
    p.hourly = std::max(hourly, 0);
    p.daily = std::max(daily, 0);
    p.weekly = std::max(weekly, 0);
    p.monthly = std::max(monthly, 0);
    p.maxBytes = maxGiB > 0 ? uint64_t(maxGiB * 1024.0 * 1024.0 * 1024.0) : 0;
    return p;
}
SnapshotMode snapshotMode(int mode)
{
    return mode == ScheduleModel::Freeze ? SnapshotMode::Freeze : SnapshotMode::KeepRunning;
}
} // namespace

ScheduleModel::ScheduleModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

ScheduleModel::~ScheduleModel() = default;

int ScheduleModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant ScheduleModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size())) {
        return {};
    }
    const Schedule &s = m_rows[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case NameRole:
        return s.name.empty() ? q(s.target.describe()) : q(s.name);
    case ScheduleIdRole:
        return qint64(s.id);
    case TargetTextRole:
        return q(s.target.describe());
    case WhenTextRole:
        return q(s.timing.describe());
    case RetentionTextRole:
        return q(describe(s.retention));
    case EnabledRole:
        return s.enabled;
    case NextRunTextRole:
        return s.enabled ? timeText(s.nextRunNs) : tr("paused");
    case LastRunTextRole:
        return m_lastRuns[size_t(index.row())];
    case FailuresRole:
        return s.failures;
    }
    return {};
}

QHash<int, QByteArray> ScheduleModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractListModel::roleNames();
    names.insert({
        {ScheduleIdRole, "scheduleId"},
        {NameRole, "name"},
        {TargetTextRole, "targetText"},
        {WhenTextRole, "whenText"},
        {RetentionTextRole, "retentionText"},
        {EnabledRole, "active"}, // not "enabled": a delegate's own property
        {NextRunTextRole, "nextRunText"},
        {LastRunTextRole, "lastRunText"},
        {FailuresRole, "failures"},
    });
    return names;
}

QString ScheduleModel::storePath() const
{
    return m_storePath;
}

void ScheduleModel::setStorePath(const QString &path)
{
    if (m_storePath == path) {
        return;
    }
    m_storePath = path;
    m_store.reset();
    Q_EMIT storePathChanged();
    reload();
}

int ScheduleModel::count() const
{
    return int(m_rows.size());
}

QString ScheduleModel::errorString() const
{
    return m_error;
}

void ScheduleModel::setError(const QString &error)
{
    if (m_error != error) {
        m_error = error;
        Q_EMIT errorStringChanged();
    }
}

store::SnapshotStore *ScheduleModel::store()
{
    if (!m_store) {
        auto opened = store::SnapshotStore::open(m_storePath.isEmpty() ? store::SnapshotStore::defaultLocation() : m_storePath.toStdString());
        if (!opened) {
            setError(q(opened.error().describe()));
            return nullptr;
        }
        m_store = std::move(*opened);
    }
    return m_store.get();
}

bool ScheduleModel::reload()
{
    store::SnapshotStore *s = store();
    if (!s) {
        return false;
    }
    ScheduleStore schedules(s->database());
    auto all = schedules.list();
    if (!all) {
        setError(q(all.error().describe()));
        return false;
    }
    std::vector<QString> last;
    for (const Schedule &sched : *all) {
        auto runs = schedules.runs(sched.id, 1);
        QString text;
        if (runs && !runs->empty()) {
            const ScheduleRun &r = runs->front();
            text = timeText(r.atNs) + QStringLiteral(": ");
            switch (r.outcome) {
            case ScheduleRun::Outcome::Taken:
                text += tr("snapshot taken");
                break;
            case ScheduleRun::Outcome::Skipped:
                text += tr("skipped, %1").arg(q(r.message));
                break;
            case ScheduleRun::Outcome::Failed:
                text += tr("failed, %1").arg(q(r.message));
                break;
            }
        }
        last.push_back(text);
    }
    const int before = count();
    beginResetModel();
    m_rows = std::move(*all);
    m_lastRuns = std::move(last);
    endResetModel();
    if (before != count()) {
        Q_EMIT countChanged();
    }
    setError(QString());
    return true;
}

QString ScheduleModel::checkWhen(const QString &when) const
{
    auto t = ScheduleTiming::parse(when.toStdString());
    return t ? QString() : q(t.error().message);
}

qint64 ScheduleModel::add(Schedule &s, const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly, double maxGiB)
{
    auto timing = ScheduleTiming::parse(when.toStdString());
    if (!timing) {
        setError(q(timing.error().message));
        return 0;
    }
    store::SnapshotStore *st = store();
    if (!st) {
        return 0;
    }
    s.timing = *timing;
    s.retention = policyOf(keepLast, hourly, daily, weekly, monthly, maxGiB);
    s.createdAtNs = realTimeNs();
    s.nextRunNs = nextDue(s.timing, s.createdAtNs);
    auto id = ScheduleStore(st->database()).add(s);
    if (!id) {
        setError(q(id.error().describe()));
        return 0;
    }
    if (auto autostart = Autostart::install(); !autostart) {
        setError(tr("The schedule was added, but it will not run at login: %1").arg(q(autostart.error().describe())));
        reload();
        return *id;
    }
    reload();
    return *id;
}

qint64 ScheduleModel::addForProcess(int pid, const QString &name, const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly,
                                    double maxGiB, int mode)
{
    auto target = ScheduleMatch::processTarget(pid);
    if (!target) {
        setError(q(target.error().describe()));
        return 0;
    }
    Schedule s;
    s.name = name.toStdString();
    s.target = *target;
    s.mode = snapshotMode(mode);
    return add(s, when, keepLast, hourly, daily, weekly, monthly, maxGiB);
}

qint64 ScheduleModel::addRule(const QString &executable, const QString &argumentsPattern, const QString &name, const QString &when, int keepLast, int hourly,
                              int daily, int weekly, int monthly, double maxGiB, int mode)
{
    auto target = ScheduleMatch::ruleTarget(executable.toStdString(), argumentsPattern.toStdString(), uint32_t(::getuid()));
    if (!target) {
        setError(q(target.error().message));
        return 0;
    }
    Schedule s;
    s.name = name.toStdString();
    s.target = *target;
    s.mode = snapshotMode(mode);
    return add(s, when, keepLast, hourly, daily, weekly, monthly, maxGiB);
}

bool ScheduleModel::update(qint64 scheduleId, const QString &name, const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly,
                           double maxGiB, int mode)
{
    auto timing = ScheduleTiming::parse(when.toStdString());
    if (!timing) {
        setError(q(timing.error().message));
        return false;
    }
    store::SnapshotStore *st = store();
    if (!st) {
        return false;
    }
    const RetentionPolicy policy = policyOf(keepLast, hourly, daily, weekly, monthly, maxGiB);
    ScheduleEdit edit;
    edit.name = name.toStdString();
    edit.timing = *timing;
    edit.keepLast = policy.keepLast;
    edit.hourly = policy.hourly;
    edit.daily = policy.daily;
    edit.weekly = policy.weekly;
    edit.monthly = policy.monthly;
    edit.maxBytes = policy.maxBytes;
    edit.mode = snapshotMode(mode);
    if (auto ok = ScheduleStore(st->database()).edit(scheduleId, edit, realTimeNs()); !ok) {
        setError(q(ok.error().describe()));
        return false;
    }
    return reload();
}

QVariantMap ScheduleModel::scheduleInfo(qint64 scheduleId)
{
    store::SnapshotStore *st = store();
    if (!st) {
        return {};
    }
    auto s = ScheduleStore(st->database()).get(scheduleId);
    if (!s) {
        setError(q(s.error().describe()));
        return {};
    }
    const ScheduleTiming &t = s->timing;
    const bool hours = t.kind == ScheduleTiming::Kind::Interval && t.intervalSeconds % 3600 == 0;
    return QVariantMap {
        {QStringLiteral("name"), q(s->name)},
        {QStringLiteral("target"), q(s->target.describe())},
        {QStringLiteral("kind"), int(t.kind)},
        {QStringLiteral("every"), qint64(hours ? t.intervalSeconds / 3600 : std::max<int64_t>(t.intervalSeconds / 60, 1))},
        {QStringLiteral("unit"), hours ? 1 : 0},
        {QStringLiteral("minute"), t.kind == ScheduleTiming::Kind::Hourly ? t.minute : 0},
        {QStringLiteral("time"), QStringLiteral("%1:%2").arg(t.minute / 60, 2, 10, QLatin1Char('0')).arg(t.minute % 60, 2, 10, QLatin1Char('0'))},
        {QStringLiteral("day"), std::clamp(t.weekday - 1, 0, 6)},
        {QStringLiteral("keepLast"), s->retention.keepLast},
        {QStringLiteral("hourly"), s->retention.hourly},
        {QStringLiteral("daily"), s->retention.daily},
        {QStringLiteral("weekly"), s->retention.weekly},
        {QStringLiteral("monthly"), s->retention.monthly},
        {QStringLiteral("maxGiB"), double(s->retention.maxBytes) / (1024.0 * 1024.0 * 1024.0)},
        {QStringLiteral("mode"), s->mode == SnapshotMode::Freeze ? int(Freeze) : int(KeepRunning)},
    };
}

bool ScheduleModel::setEnabled(qint64 scheduleId, bool enabled)
{
    store::SnapshotStore *st = store();
    if (!st) {
        return false;
    }
    ScheduleStore schedules(st->database());
    auto ok = schedules.setEnabled(scheduleId, enabled);
    if (ok && enabled) {
        if (auto s = schedules.get(scheduleId); s && s->nextRunNs < realTimeNs()) {
            ok = schedules.setNextRun(scheduleId, nextDue(s->timing, realTimeNs()));
        }
    }
    if (!ok) {
        setError(q(ok.error().describe()));
        return false;
    }
    return reload();
}

bool ScheduleModel::remove(qint64 scheduleId)
{
    store::SnapshotStore *st = store();
    if (!st) {
        return false;
    }
    if (auto ok = ScheduleStore(st->database()).remove(scheduleId); !ok) {
        setError(q(ok.error().describe()));
        return false;
    }
    return reload();
}

QVariantMap ScheduleModel::previewRetention(const QString &when, int keepLast, int hourly, int daily, int weekly, int monthly, int days) const
{
    QVariantMap out;
    auto timing = ScheduleTiming::parse(when.toStdString());
    if (!timing) {
        out.insert(QStringLiteral("text"), q(timing.error().message));
        return out;
    }
    const RetentionPolicy policy = policyOf(keepLast, hourly, daily, weekly, monthly, 0);
    // the runs of `days` days from now, at most 100000
    const int64_t start = realTimeNs();
    const int64_t end = start + int64_t(std::max(days, 1)) * 86400 * 1000000000LL;
    std::vector<RetentionItem> items;
    for (int64_t t = nextDue(*timing, start); t <= end && items.size() < 100000; t = nextDue(*timing, t)) {
        items.push_back({int64_t(items.size() + 1), t, 0, false});
    }
    const RetentionResult r = applyRetention(items, policy, localPeriods());
    int64_t oldest = end;
    for (size_t i = 0; i < items.size(); ++i) {
        if (r.verdicts[i].keep) {
            oldest = std::min(oldest, items[i].createdAtNs);
        }
    }
    const qsizetype kept = qsizetype(r.kept().size());
    const double oldestDays = items.empty() ? 0.0 : double(end - oldest) / (86400.0 * 1e9);
    out.insert(QStringLiteral("runs"), qsizetype(items.size()));
    out.insert(QStringLiteral("kept"), kept);
    out.insert(QStringLiteral("oldestDays"), oldestDays);
    out.insert(QStringLiteral("text"),
               tr("After %1 days of runs: %2 of %3 snapshots kept, the oldest %4 days old")
                   .arg(days)
                   .arg(kept)
                   .arg(items.size())
                   .arg(QLocale().toString(oldestDays, 'f', 1)));
    return out;
}

QVariantList ScheduleModel::previewForTarget(qint64 targetId, int keepLast, int hourly, int daily, int weekly, int monthly, double maxGiB)
{
    QVariantList out;
    store::SnapshotStore *st = store();
    if (!st || targetId <= 0) {
        return out;
    }
    store::SnapshotFilter filter;
    filter.targetId = targetId;
    filter.newestFirst = true;
    auto snaps = st->list(filter);
    if (!snaps) {
        setError(q(snaps.error().describe()));
        return out;
    }
    std::vector<RetentionItem> items;
    for (const auto &s : *snaps) {
        items.push_back({s.id, s.createdAtNs, s.storedBytes, s.pinned});
    }
    const RetentionResult r = applyRetention(items, policyOf(keepLast, hourly, daily, weekly, monthly, maxGiB), localPeriods());
    for (size_t i = 0; i < items.size(); ++i) {
        out.append(QVariantMap {
            {QStringLiteral("snapshotId"), qint64(items[i].id)},
            {QStringLiteral("timeText"), timeText(items[i].createdAtNs)},
            {QStringLiteral("keep"), r.verdicts[i].keep},
            {QStringLiteral("reasons"), q(describeReasons(r.verdicts[i].reasons))},
        });
    }
    return out;
}

QVariantMap ScheduleModel::targetInfo(qint64 targetId)
{
    QVariantMap out;
    store::SnapshotStore *st = store();
    if (!st) {
        return out;
    }
    auto targets = st->targets();
    if (!targets) {
        return out;
    }
    for (const store::Target &t : *targets) {
        if (t.id != targetId) {
            continue;
        }
        out.insert(QStringLiteral("exe"), q(t.info.exe));
        ScheduleTarget probe;
        probe.pid = t.info.pid;
        probe.startTimeNs = t.info.startTimeNs;
        const auto running = probe.startTimeNs > 0 ? ScheduleMatch::resolve(probe) : std::nullopt;
        out.insert(QStringLiteral("pid"), running ? int(*running) : 0);
    }
    return out;
}

QString ScheduleModel::executableOf(int pid) const
{
    auto target = ScheduleMatch::processTarget(pid);
    return target ? q(target->exe) : QString();
}

QString ScheduleModel::problemText(qint64 targetId)
{
    store::SnapshotStore *st = store();
    if (!st) {
        return {};
    }
    std::optional<store::Target> target;
    if (targetId > 0) {
        auto targets = st->targets();
        if (!targets) {
            return {};
        }
        for (const store::Target &t : *targets) {
            if (t.id == targetId) {
                target = t;
            }
        }
        if (!target) {
            return {};
        }
    }
    ScheduleStore schedules(st->database());
    auto all = schedules.list();
    if (!all) {
        return {};
    }
    QStringList lines;
    for (const Schedule &s : *all) {
        if (target) {
            const bool same = s.target.kind == ScheduleTarget::Kind::Process
                ? s.target.pid == target->info.pid && std::llabs(s.target.startTimeNs - target->info.startTimeNs) <= 1000000000
                : s.target.exe == target->info.exe;
            if (!same) {
                continue;
            }
        }
        auto runs = schedules.runs(s.id, 1);
        if (!runs || runs->empty() || runs->front().outcome == ScheduleRun::Outcome::Taken) {
            continue;
        }
        const ScheduleRun &r = runs->front();
        const QString name = q(s.name.empty() ? s.timing.describe() : s.name);
        lines.append(r.outcome == ScheduleRun::Outcome::Skipped
                         ? tr("Schedule “%1” skipped its snapshot at %2: %3").arg(name, timeText(r.atNs), q(r.message))
                         : tr("Schedule “%1” failed at %2 (%3 times in a row): %4").arg(name, timeText(r.atNs)).arg(s.failures).arg(q(r.message)));
    }
    return lines.join(QLatin1Char('\n'));
}
