// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl schedule add|edit|list|pause|resume|remove|runs|preview: recurring
// snapshots (backend/schedule). Wiring only.

#include "cliargs.h"
#include "commands.h"

#include "autostart.h"
#include "schedulematch.h"
#include "schedulestore.h"
#include "snapshotstore.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <ctime>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::schedule;
using namespace Cryopodctl;

namespace
{
const char scheduleUsage[] = "usage: cryopodctl schedule COMMAND [ARGS...] [--store DIR]\n"
                             "\n"
                             "Recurring snapshots, run by `cryopod --background` (or `cryopodctl schedule run`).\n"
                             "\n"
                             "commands:\n"
                             "  add PID WHEN [options]               snapshot this process (this very process:\n"
                             "                                       a later process with its pid is not it)\n"
                             "  add --exe PATH [--args REGEX] WHEN [options]\n"
                             "                                       snapshot whichever of your processes runs\n"
                             "                                       PATH with arguments matching REGEX\n"
                             "  edit ID [WHEN] [options]             change a schedule's timing, mode, retention or\n"
                             "                                       name (its target and runs stay; a new WHEN\n"
                             "                                       counts from now)\n"
                             "  list [--json]                        the schedules, their next run and last outcome\n"
                             "  pause ID | resume ID | remove ID     (remove keeps the snapshots it took)\n"
                             "  runs [ID] [--limit N] [--json]       what the runs did: taken, skipped, failed\n"
                             "  preview ID                           which of its snapshots the retention keeps now\n"
                             "  run [--for SECONDS] [--direct]      run the due schedules (once, or for a while)\n"
                             "\n"
                             "WHEN: --every N[s|m|h|d] | --hourly [MM] | --daily HH:MM | --weekly DAY HH:MM\n"
                             "options of add and edit:\n"
                             "  --name TEXT        a name\n"
                             "  --mode running|freeze  stop the tree only while its state and a copy of its\n"
                             "                     memory are taken (default), or for the whole capture\n"
                             "  --keep-last N  --keep-hourly N  --keep-daily N  --keep-weekly N  --keep-monthly N\n"
                             "                     retention: the N newest, and the newest of each of the N\n"
                             "                     newest hours, days, weeks, months (none: keep all; edit\n"
                             "                     changes only the counts given)\n"
                             "  --max-size SIZE    at most SIZE (e.g. 500M, 2G) for the target's snapshots\n"
                             "  --paused           add it paused (add only)\n"
                             "  --store DIR        the store (default: $CRYOPOD_STORE, else $XDG_DATA_HOME/cryopod)\n";

int usage(const QString &message)
{
    return usageError("schedule", message, "(cryopodctl schedule --help says more)\n");
}

QString timeText(int64_t ns)
{
    return ns ? QString::fromStdString(store::formatTime(ns)) : QStringLiteral("never");
}

std::optional<int64_t> positiveId(const QString &text)
{
    bool ok = false;
    const qlonglong id = text.toLongLong(&ok);
    return ok && id > 0 ? std::optional<int64_t>(id) : std::nullopt;
}

// "1048576", "500K", "500M", "2G", "1T" (powers of 1024)
std::optional<uint64_t> parseSize(const QString &text)
{
    QString number = text.trimmed();
    uint64_t unit = 1;
    if (!number.isEmpty() && number.back().isLetter()) {
        const QChar u = number.back().toUpper();
        number.chop(1);
        if (number.endsWith(QLatin1String("i"), Qt::CaseInsensitive)) {
            number.chop(1);
        }
        unit = u == QLatin1Char('K') ? 1ull << 10
            : u == QLatin1Char('M')  ? 1ull << 20
            : u == QLatin1Char('G')  ? 1ull << 30
            : u == QLatin1Char('T')  ? 1ull << 40
                                     : 0;
    } else if (number.endsWith(QLatin1String("B"), Qt::CaseInsensitive)) {
        number.chop(1);
    }
    bool ok = false;
    const double value = number.toDouble(&ok);
    if (!ok || unit == 0 || value <= 0 || value * double(unit) > 9e18) {
        return std::nullopt;
    }
    return uint64_t(value * double(unit));
}

Result<std::unique_ptr<store::SnapshotStore>> openStore(const Args &args)
{
    const auto dir = args.value("--store");
    return store::SnapshotStore::open(dir ? dir->toStdString() : store::SnapshotStore::defaultLocation());
}

QString lastOutcome(ScheduleStore &schedules, int64_t id)
{
    auto runs = schedules.runs(id, 1);
    if (!runs || runs->empty()) {
        return QStringLiteral("-");
    }
    const ScheduleRun &r = runs->front();
    QString text = QString::fromLatin1(outcomeName(r.outcome));
    if (r.outcome == ScheduleRun::Outcome::Taken) {
        text += QStringLiteral(" #%1").arg(r.snapshotId);
    } else if (!r.message.empty()) {
        text += QStringLiteral(": ") + QString::fromStdString(r.message);
    }
    return text;
}

// The options add and edit share (--name, --mode, WHEN, retention) into
// `edit`. --hourly's minute and --weekly's day and time are the positionals
// at `at` (taken out). 0, or the exit status of a usage error.
int parseScheduleOptions(const Args &args, QStringList &positional, qsizetype at, bool needWhen, ScheduleEdit &edit)
{
    QString when;
    int whenCount = 0;
    if (const auto v = args.value("--every")) {
        when = QStringLiteral("every ") + *v;
        ++whenCount;
    }
    if (const auto v = args.value("--daily")) {
        when = QStringLiteral("daily ") + *v;
        ++whenCount;
    }
    if (args.has("--hourly")) {
        // an optional minute
        when = QStringLiteral("hourly");
        if (positional.size() > at) {
            when += QLatin1Char(' ') + positional.takeAt(at);
        }
        ++whenCount;
    }
    if (args.has("--weekly")) {
        if (positional.size() < at + 2) {
            return usage(QStringLiteral("--weekly needs a day and a time: --weekly mon 09:00"));
        }
        when = QStringLiteral("weekly %1 %2").arg(positional[at], positional[at + 1]);
        positional.remove(at, 2);
        ++whenCount;
    }
    if (whenCount > 1 || (needWhen && whenCount == 0)) {
        return usage(whenCount == 0 ? QStringLiteral("say when: --every, --hourly, --daily or --weekly")
                                    : QStringLiteral("give only one of --every, --hourly, --daily, --weekly"));
    }
    if (whenCount == 1) {
        auto timing = ScheduleTiming::parse(when.toStdString());
        if (!timing) {
            return usage(QString::fromStdString(timing.error().message));
        }
        edit.timing = *timing;
    }
    if (const auto v = args.value("--name")) {
        edit.name = v->toStdString();
    }
    if (const auto m = args.value("--mode")) {
        if (*m == QLatin1String("freeze")) {
            edit.mode = SnapshotMode::Freeze;
        } else if (*m == QLatin1String("running")) {
            edit.mode = SnapshotMode::KeepRunning;
        } else {
            return usage(QStringLiteral("--mode is 'running' or 'freeze', not '%1'").arg(*m));
        }
    }
    const std::pair<const char *, std::optional<int> *> counts[] = {{"--keep-last", &edit.keepLast},
                                                                    {"--keep-hourly", &edit.hourly},
                                                                    {"--keep-daily", &edit.daily},
                                                                    {"--keep-weekly", &edit.weekly},
                                                                    {"--keep-monthly", &edit.monthly}};
    for (const auto &[option, out] : counts) {
        if (const auto v = args.value(option)) {
            bool ok = false;
            const int n = v->toInt(&ok);
            if (!ok || n < 0 || n > 100000) {
                return usage(QStringLiteral("%1 needs a count, 0 to 100000, not '%2'").arg(QLatin1String(option), *v));
            }
            *out = n;
        }
    }
    if (const auto v = args.value("--max-size")) {
        const auto size = parseSize(*v);
        if (!size) {
            return usage(QStringLiteral("--max-size needs a size such as 500M or 2G, not '%1'").arg(*v));
        }
        edit.maxBytes = *size;
    }
    return 0;
}

QStringList scheduleValueOptions()
{
    return {QStringLiteral("--store"),       QStringLiteral("--every"),        QStringLiteral("--daily"),       QStringLiteral("--name"),
            QStringLiteral("--mode"),        QStringLiteral("--keep-last"),    QStringLiteral("--keep-hourly"), QStringLiteral("--keep-daily"),
            QStringLiteral("--keep-weekly"), QStringLiteral("--keep-monthly"), QStringLiteral("--max-size")};
}

void printSchedule(const Schedule &s)
{
    print(QStringLiteral("schedule %1: %2, %3, retention: %4; next run %5%6\n")
              .arg(s.id)
              .arg(QString::fromStdString(s.target.describe()), QString::fromStdString(s.timing.describe()), QString::fromStdString(describe(s.retention)))
              .arg(timeText(s.nextRunNs), s.enabled ? QString() : QStringLiteral(" (paused)")));
}

int runAdd(const QStringList &list)
{
    const Args args(list, scheduleValueOptions() + QStringList {QStringLiteral("--exe"), QStringLiteral("--args")},
                    {QStringLiteral("--hourly"), QStringLiteral("--weekly"), QStringLiteral("--paused")});
    if (!args.error.isEmpty()) {
        return usage(args.error);
    }
    QStringList positional = args.positional;
    ScheduleEdit options;
    if (const int status = parseScheduleOptions(args, positional, args.value("--exe") ? 0 : 1, true, options)) {
        return status;
    }
    Schedule s;
    s.timing = *options.timing;
    s.name = options.name.value_or(std::string());
    s.enabled = !args.has("--paused");
    s.retention.keepLast = options.keepLast.value_or(0);
    s.retention.hourly = options.hourly.value_or(0);
    s.retention.daily = options.daily.value_or(0);
    s.retention.weekly = options.weekly.value_or(0);
    s.retention.monthly = options.monthly.value_or(0);
    s.retention.maxBytes = options.maxBytes.value_or(0);
    // the target
    if (const auto exe = args.value("--exe")) {
        if (!positional.isEmpty()) {
            return usage(QStringLiteral("a rule (--exe) takes no PID; unexpected '%1'").arg(positional.first()));
        }
        auto t = ScheduleMatch::ruleTarget(exe->toStdString(), args.value("--args").value_or(QString()).toStdString(), uint32_t(::getuid()));
        if (!t) {
            return usage(QString::fromStdString(t.error().message));
        }
        s.target = *t;
    } else {
        if (args.value("--args")) {
            return usage(QStringLiteral("--args belongs to a rule: give --exe PATH too"));
        }
        if (positional.size() != 1) {
            return usage(positional.isEmpty() ? QStringLiteral("give a PID, or a rule with --exe")
                                              : QStringLiteral("unexpected '%1'").arg(positional.value(1)));
        }
        bool ok = false;
        const int pid = positional[0].toInt(&ok);
        if (!ok || pid <= 0) {
            return usage(QStringLiteral("'%1' is not a PID").arg(positional[0]));
        }
        auto t = ScheduleMatch::processTarget(pid);
        if (!t) {
            return failure("schedule add", t.error().describe());
        }
        s.target = *t;
    }
    auto store = openStore(args);
    if (!store) {
        return failure("schedule add", store.error().describe());
    }
    s.createdAtNs = realTimeNs();
    s.nextRunNs = nextDue(s.timing, s.createdAtNs);
    ScheduleStore schedules((*store)->database());
    auto id = schedules.add(s);
    if (!id) {
        return failure("schedule add", id.error().describe());
    }
    s.id = *id;
    printSchedule(s);
    // the runner starts at login from now on
    auto autostart = Autostart::install();
    if (!autostart) {
        print(QStringLiteral("cryopodctl: schedule add: the schedule will not run at login: %1\n").arg(QString::fromStdString(autostart.error().describe())),
              stderr);
    } else if (*autostart) {
        print(QStringLiteral("`cryopod --background` now starts at login (%1) and runs the schedules\n").arg(QString::fromStdString(Autostart::path())));
    }
    return 0;
}

int runEditSchedule(const QStringList &list)
{
    const Args args(list, scheduleValueOptions(), {QStringLiteral("--hourly"), QStringLiteral("--weekly")});
    if (!args.error.isEmpty()) {
        return usage(args.error);
    }
    QStringList positional = args.positional;
    if (positional.isEmpty() || !positiveId(positional[0])) {
        return usage(QStringLiteral("edit needs one schedule id"));
    }
    const int64_t id = *positiveId(positional[0]);
    ScheduleEdit edit;
    if (const int status = parseScheduleOptions(args, positional, 1, false, edit)) {
        return status;
    }
    if (positional.size() > 1) {
        return usage(QStringLiteral("unexpected '%1'").arg(positional[1]));
    }
    if (edit.empty()) {
        return usage(QStringLiteral("say what to change: WHEN, --mode, --keep-*, --max-size or --name"));
    }
    auto store = openStore(args);
    if (!store) {
        return failure("schedule edit", store.error().describe());
    }
    auto s = ScheduleStore((*store)->database()).edit(id, edit, realTimeNs());
    if (!s) {
        return failure("schedule edit", s.error().describe());
    }
    printSchedule(*s);
    return 0;
}

QJsonObject scheduleJson(const Schedule &s, ScheduleStore &schedules)
{
    return QJsonObject {
        {QStringLiteral("id"), qint64(s.id)},
        {QStringLiteral("name"), QString::fromStdString(s.name)},
        {QStringLiteral("target"), QString::fromStdString(s.target.describe())},
        {QStringLiteral("targetKind"), s.target.kind == ScheduleTarget::Kind::Rule ? QStringLiteral("rule") : QStringLiteral("process")},
        {QStringLiteral("pid"), s.target.pid},
        {QStringLiteral("exe"), QString::fromStdString(s.target.exe)},
        {QStringLiteral("args"), QString::fromStdString(s.target.argsRegex)},
        {QStringLiteral("uid"), qint64(s.target.uid)},
        {QStringLiteral("when"), QString::fromStdString(s.timing.describe())},
        {QStringLiteral("mode"), QString::fromLatin1(modeName(s.mode))},
        {QStringLiteral("enabled"), s.enabled},
        {QStringLiteral("retention"), QString::fromStdString(describe(s.retention))},
        {QStringLiteral("nextRun"), QDateTime::fromMSecsSinceEpoch(s.nextRunNs / 1000000).toString(Qt::ISODateWithMs)},
        {QStringLiteral("lastRun"), s.lastRunNs ? QJsonValue(QDateTime::fromMSecsSinceEpoch(s.lastRunNs / 1000000).toString(Qt::ISODateWithMs)) : QJsonValue()},
        {QStringLiteral("failures"), s.failures},
        {QStringLiteral("last"), lastOutcome(schedules, s.id)},
    };
}

int runListSchedules(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {QStringLiteral("--json")});
    if (!args.error.isEmpty() || !args.positional.isEmpty()) {
        return usage(args.error.isEmpty() ? QStringLiteral("unexpected '%1'").arg(args.positional.value(0)) : args.error);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("schedule list", store.error().describe());
    }
    ScheduleStore schedules((*store)->database());
    auto all = schedules.list();
    if (!all) {
        return failure("schedule list", all.error().describe());
    }
    if (args.has("--json")) {
        QJsonArray array;
        for (const Schedule &s : *all) {
            array.append(scheduleJson(s, schedules));
        }
        print(QString::fromUtf8(QJsonDocument(array).toJson()));
        return 0;
    }
    if (all->empty()) {
        print(QStringLiteral("no schedules (add one with `cryopodctl schedule add`)\n"));
        return 0;
    }
    for (const Schedule &s : *all) {
        print(QStringLiteral("%1  %2%3  %4  %5  retention: %6\n      next %7  last %8%9\n")
                  .arg(s.id)
                  .arg(s.enabled ? QStringLiteral("active") : QStringLiteral("paused"))
                  .arg(s.name.empty() ? QString() : QStringLiteral("  \"%1\"").arg(QString::fromStdString(s.name)))
                  .arg(QString::fromStdString(s.target.describe()), QString::fromStdString(s.timing.describe()), QString::fromStdString(describe(s.retention)))
                  .arg(s.enabled ? timeText(s.nextRunNs) : QStringLiteral("-"), lastOutcome(schedules, s.id))
                  .arg(s.failures ? QStringLiteral("  (%1 failed in a row)").arg(s.failures) : QString()));
    }
    return 0;
}

int runOnOne(const QStringList &list, const char *command)
{
    const Args args(list, {QStringLiteral("--store")}, {});
    if (!args.error.isEmpty()) {
        return usage(args.error);
    }
    if (args.positional.size() != 1 || !positiveId(args.positional[0])) {
        return usage(QStringLiteral("%1 needs one schedule id").arg(QLatin1String(command)));
    }
    const int64_t id = *positiveId(args.positional[0]);
    auto store = openStore(args);
    if (!store) {
        return failure("schedule", store.error().describe());
    }
    ScheduleStore schedules((*store)->database());
    const std::string what = std::string("schedule ") + command;
    Result<void> ok;
    if (std::string_view(command) == "remove") {
        ok = schedules.remove(id);
    } else {
        const bool resume = std::string_view(command) == "resume";
        ok = schedules.setEnabled(id, resume);
        if (ok && resume) {
            // due from now on, not at a time that passed while it was paused
            if (auto s = schedules.get(id); s && s->nextRunNs < realTimeNs()) {
                ok = schedules.setNextRun(id, nextDue(s->timing, realTimeNs()));
            }
        }
    }
    if (!ok) {
        return failure(what.c_str(), ok.error().describe());
    }
    print(QStringLiteral("schedule %1 %2\n")
              .arg(id)
              .arg(QLatin1String(std::string_view(command) == "remove"      ? "removed"
                                     : command == std::string_view("pause") ? "paused"
                                                                            : "resumed")));
    return 0;
}

int runRuns(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store"), QStringLiteral("--limit")}, {QStringLiteral("--json")});
    if (!args.error.isEmpty() || args.positional.size() > 1) {
        return usage(args.error.isEmpty() ? QStringLiteral("runs takes at most one schedule id") : args.error);
    }
    int64_t id = 0;
    if (!args.positional.isEmpty()) {
        const auto v = positiveId(args.positional[0]);
        if (!v) {
            return usage(QStringLiteral("'%1' is not a schedule id").arg(args.positional[0]));
        }
        id = *v;
    }
    size_t limit = 50;
    if (const auto l = args.value("--limit")) {
        const auto v = positiveId(*l);
        if (!v) {
            return usage(QStringLiteral("--limit needs a positive number"));
        }
        limit = size_t(*v);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("schedule runs", store.error().describe());
    }
    ScheduleStore schedules((*store)->database());
    auto runs = schedules.runs(id, limit);
    if (!runs) {
        return failure("schedule runs", runs.error().describe());
    }
    if (args.has("--json")) {
        QJsonArray array;
        for (const ScheduleRun &r : *runs) {
            array.append(QJsonObject {
                {QStringLiteral("id"), qint64(r.id)},
                {QStringLiteral("schedule"), qint64(r.scheduleId)},
                {QStringLiteral("at"), QDateTime::fromMSecsSinceEpoch(r.atNs / 1000000).toString(Qt::ISODateWithMs)},
                {QStringLiteral("due"), QDateTime::fromMSecsSinceEpoch(r.dueNs / 1000000).toString(Qt::ISODateWithMs)},
                {QStringLiteral("outcome"), QString::fromLatin1(outcomeName(r.outcome))},
                {QStringLiteral("snapshot"), r.snapshotId ? QJsonValue(qint64(r.snapshotId)) : QJsonValue()},
                {QStringLiteral("pid"), r.pid},
                {QStringLiteral("removed"), qint64(r.removed)},
                {QStringLiteral("message"), QString::fromStdString(r.message)},
            });
        }
        print(QString::fromUtf8(QJsonDocument(array).toJson()));
        return 0;
    }
    for (const ScheduleRun &r : *runs) {
        QString detail;
        if (r.outcome == ScheduleRun::Outcome::Taken) {
            detail = (r.snapshotId ? QStringLiteral("snapshot %1").arg(r.snapshotId) : QStringLiteral("a snapshot since deleted")) +
                QStringLiteral(" of pid %1").arg(r.pid);
            if (r.removed) {
                detail += QStringLiteral(", retention removed %1").arg(r.removed);
            }
        }
        if (!r.message.empty()) {
            detail += (detail.isEmpty() ? QString() : QStringLiteral("; ")) + QString::fromStdString(r.message);
        }
        print(QStringLiteral("%1  schedule %2  %3  %4%5\n")
                  .arg(timeText(r.atNs))
                  .arg(r.scheduleId)
                  .arg(QString::fromLatin1(outcomeName(r.outcome)), -7)
                  .arg(detail, r.dueNs + 60000000000LL < r.atNs ? QStringLiteral(" (missed run, due %1)").arg(timeText(r.dueNs)) : QString()));
    }
    return 0;
}

int runPreview(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {});
    if (!args.error.isEmpty() || args.positional.size() != 1 || !positiveId(args.positional[0])) {
        return usage(args.error.isEmpty() ? QStringLiteral("preview needs one schedule id") : args.error);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("schedule preview", store.error().describe());
    }
    ScheduleStore schedules((*store)->database());
    auto s = schedules.get(*positiveId(args.positional[0]));
    if (!s) {
        return failure("schedule preview", s.error().describe());
    }
    store::SnapshotFilter filter;
    filter.scheduleId = s->id;
    auto snapshots = (*store)->list(filter);
    if (!snapshots) {
        return failure("schedule preview", snapshots.error().describe());
    }
    std::vector<RetentionItem> items;
    for (const auto &snap : *snapshots) {
        items.push_back({snap.id, snap.createdAtNs, snap.storedBytes, snap.pinned});
    }
    const RetentionResult r = applyRetention(items, s->retention, localPeriods());
    for (size_t i = 0; i < items.size(); ++i) {
        print(QStringLiteral("%1  %2  %3  %4\n")
                  .arg(items[i].id, 6)
                  .arg(timeText(items[i].createdAtNs), r.verdicts[i].keep ? QStringLiteral("keep  ") : QStringLiteral("remove"))
                  .arg(QString::fromStdString(describeReasons(r.verdicts[i].reasons))));
    }
    print(QStringLiteral("%1 of %2 kept (%3)%4\n")
              .arg(r.kept().size())
              .arg(items.size())
              .arg(QString::fromStdString(describe(s->retention)), r.overCap ? QStringLiteral("; still over the size cap") : QString()));
    return 0;
}
} // namespace

int Cryopodctl::runSchedule(const QStringList &args)
{
    if (args.isEmpty() || args[0] == QLatin1String("-h") || args[0] == QLatin1String("--help")) {
        std::fputs(scheduleUsage, args.isEmpty() ? stderr : stdout);
        return args.isEmpty() ? 2 : 0;
    }
    const QString command = args[0];
    const QStringList rest = args.mid(1);
    if (rest.contains(QLatin1String("--help")) || rest.contains(QLatin1String("-h"))) {
        std::fputs(scheduleUsage, stdout);
        return 0;
    }
    if (command == QLatin1String("add")) {
        return runAdd(rest);
    }
    if (command == QLatin1String("edit")) {
        return runEditSchedule(rest);
    }
    if (command == QLatin1String("list")) {
        return runListSchedules(rest);
    }
    if (command == QLatin1String("pause") || command == QLatin1String("resume") || command == QLatin1String("remove")) {
        return runOnOne(rest, command == QLatin1String("pause") ? "pause" : command == QLatin1String("resume") ? "resume" : "remove");
    }
    if (command == QLatin1String("runs")) {
        return runRuns(rest);
    }
    if (command == QLatin1String("preview")) {
        return runPreview(rest);
    }
    if (command == QLatin1String("run")) {
        return runScheduleRun(rest);
    }
    return usage(QStringLiteral("unknown schedule command '%1'").arg(command));
}
