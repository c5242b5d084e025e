// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "schedulestore.h"

#include "sqlitedatabase.h"

#include <cerrno>
#include <format>

namespace cryopod::schedule
{

using store::SqliteDatabase;
using store::SqliteStatement;

namespace
{
constexpr const char *kColumns = "id, name, target_kind, pid, start_time, exe, args_regex, uid, timing, interval_s, at_minute, weekday, mode, enabled, "
                                 "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, max_bytes, created_at, next_run_at, last_run_at, failures";

const char *timingName(ScheduleTiming::Kind kind)
{
    switch (kind) {
    case ScheduleTiming::Kind::Interval:
        return "interval";
    case ScheduleTiming::Kind::Hourly:
        return "hourly";
    case ScheduleTiming::Kind::Daily:
        return "daily";
    case ScheduleTiming::Kind::Weekly:
        return "weekly";
    }
    return "interval";
}

ScheduleTiming::Kind timingKind(const std::string &name)
{
    if (name == "hourly") {
        return ScheduleTiming::Kind::Hourly;
    }
    if (name == "daily") {
        return ScheduleTiming::Kind::Daily;
    }
    if (name == "weekly") {
        return ScheduleTiming::Kind::Weekly;
    }
    return ScheduleTiming::Kind::Interval;
}

Schedule scheduleFrom(const SqliteStatement &q)
{
    Schedule s;
    s.id = q.columnInt(0);
    s.name = q.columnText(1);
    s.target.kind = q.columnText(2) == "rule" ? ScheduleTarget::Kind::Rule : ScheduleTarget::Kind::Process;
    s.target.pid = int32_t(q.columnInt(3));
    s.target.startTimeNs = q.columnInt(4);
    s.target.exe = q.columnText(5);
    s.target.argsRegex = q.columnText(6);
    s.target.uid = uint32_t(q.columnInt(7));
    s.timing.kind = timingKind(q.columnText(8));
    s.timing.intervalSeconds = q.columnInt(9);
    s.timing.minute = int(q.columnInt(10));
    s.timing.weekday = int(q.columnInt(11));
    s.mode = q.columnText(12) == "freeze" ? SnapshotMode::Freeze : SnapshotMode::KeepRunning;
    s.enabled = q.columnInt(13) != 0;
    s.retention.keepLast = int(q.columnInt(14));
    s.retention.hourly = int(q.columnInt(15));
    s.retention.daily = int(q.columnInt(16));
    s.retention.weekly = int(q.columnInt(17));
    s.retention.monthly = int(q.columnInt(18));
    s.retention.maxBytes = uint64_t(q.columnInt(19));
    s.createdAtNs = q.columnInt(20);
    s.nextRunNs = q.columnInt(21);
    s.lastRunNs = q.columnInt(22);
    s.failures = int(q.columnInt(23));
    return s;
}

ScheduleRun::Outcome outcomeFrom(const std::string &name)
{
    if (name == "skipped") {
        return ScheduleRun::Outcome::Skipped;
    }
    if (name == "failed") {
        return ScheduleRun::Outcome::Failed;
    }
    return ScheduleRun::Outcome::Taken;
}

template<typename Bind>
Result<void> updateSchedule(SqliteDatabase &db, const std::string &sql, int64_t id, const char *what, Bind bind)
{
    return store::changeOneRow(db, sql, 1, id, std::format("{} schedule {}", what, id), std::format("{} schedule {}: there is no such schedule", what, id),
                               bind);
}
} // namespace

std::string ScheduleTarget::describe() const
{
    if (kind == Kind::Process) {
        return std::format("process {}{}", pid, exe.empty() ? std::string() : " (" + exe + ")");
    }
    return std::format("{}{} of uid {}", exe, argsRegex.empty() ? std::string() : " matching /" + argsRegex + "/", uid);
}

const char *outcomeName(ScheduleRun::Outcome outcome)
{
    switch (outcome) {
    case ScheduleRun::Outcome::Taken:
        return "taken";
    case ScheduleRun::Outcome::Skipped:
        return "skipped";
    case ScheduleRun::Outcome::Failed:
        return "failed";
    }
    return "?";
}

const char *modeName(SnapshotMode mode)
{
    return mode == SnapshotMode::Freeze ? "freeze" : "running";
}

ScheduleStore::ScheduleStore(SqliteDatabase &db)
    : m_db(db)
{
}

Result<void> ScheduleStore::validate(const Schedule &s)
{
    CRYOPOD_PROPAGATE(s.timing.validate());
    if (s.target.kind == ScheduleTarget::Kind::Process && (s.target.pid <= 0 || s.target.startTimeNs <= 0)) {
        return fail("a process target needs a pid and the process's start time", EINVAL);
    }
    if (s.target.kind == ScheduleTarget::Kind::Rule && (s.target.exe.empty() || s.target.exe.front() != '/')) {
        return fail("a rule needs the absolute path of an executable", EINVAL);
    }
    const RetentionPolicy &r = s.retention;
    for (int n : {r.keepLast, r.hourly, r.daily, r.weekly, r.monthly}) {
        if (n < 0 || n > 100000) {
            return fail(std::format("a retention count must be 0 to 100000, not {}", n), EINVAL);
        }
    }
    if (r.maxBytes > uint64_t(INT64_MAX)) {
        return fail("the size cap is too large", EINVAL);
    }
    if (s.nextRunNs <= 0) {
        return fail("a schedule needs its first due time", EINVAL);
    }
    return {};
}

Result<int64_t> ScheduleStore::add(const Schedule &s)
{
    CRYOPOD_PROPAGATE(validate(s));
    auto q =
        m_db.prepare("INSERT INTO schedules (name, target_kind, pid, start_time, exe, args_regex, uid, timing, interval_s, at_minute, weekday, mode, enabled, "
                     "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, max_bytes, created_at, next_run_at, last_run_at, failures) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)");
    if (!q) {
        return std::unexpected(q.error());
    }
    q->bind(1, std::string_view(s.name))
        .bind(2, std::string_view(s.target.kind == ScheduleTarget::Kind::Rule ? "rule" : "process"))
        .bind(3, int64_t(s.target.pid))
        .bind(4, s.target.startTimeNs)
        .bind(5, std::string_view(s.target.exe))
        .bind(6, std::string_view(s.target.argsRegex))
        .bind(7, int64_t(s.target.uid))
        .bind(8, std::string_view(timingName(s.timing.kind)))
        .bind(9, s.timing.intervalSeconds)
        .bind(10, int64_t(s.timing.minute))
        .bind(11, int64_t(s.timing.weekday))
        .bind(12, std::string_view(modeName(s.mode)))
        .bind(13, int64_t(s.enabled))
        .bind(14, int64_t(s.retention.keepLast))
        .bind(15, int64_t(s.retention.hourly))
        .bind(16, int64_t(s.retention.daily))
        .bind(17, int64_t(s.retention.weekly))
        .bind(18, int64_t(s.retention.monthly))
        .bind(19, int64_t(s.retention.maxBytes))
        .bind(20, s.createdAtNs)
        .bind(21, s.nextRunNs)
        .bind(22, s.lastRunNs)
        .bind(23, int64_t(s.failures));
    if (auto ok = q->run(); !ok) {
        return std::unexpected(ok.error().context("add a schedule"));
    }
    return m_db.lastInsertRowid();
}

Result<std::vector<Schedule>> ScheduleStore::list()
{
    std::vector<Schedule> out;
    auto ok = m_db.each(std::format("SELECT {} FROM schedules ORDER BY id", kColumns), [&](const SqliteStatement &q) { out.push_back(scheduleFrom(q)); });
    if (!ok) {
        return std::unexpected(ok.error().context("list schedules"));
    }
    return out;
}

Result<Schedule> ScheduleStore::get(int64_t id)
{
    auto q = m_db.prepare(std::format("SELECT {} FROM schedules WHERE id = ?1", kColumns));
    if (!q) {
        return std::unexpected(q.error());
    }
    q->bind(1, id);
    auto row = q->step();
    if (!row) {
        return std::unexpected(row.error());
    }
    if (!*row) {
        return fail(std::format("there is no schedule {}", id), ENOENT);
    }
    return scheduleFrom(*q);
}

Result<void> ScheduleStore::setEnabled(int64_t id, bool enabled)
{
    return updateSchedule(m_db, "UPDATE schedules SET enabled = ?2 WHERE id = ?1", id, enabled ? "resume" : "pause",
                          [&](SqliteStatement &q) { q.bind(2, int64_t(enabled)); });
}

bool ScheduleEdit::empty() const
{
    return !name && !timing && !mode && !enabled && !keepLast && !hourly && !daily && !weekly && !monthly && !maxBytes;
}

Result<Schedule> ScheduleStore::edit(int64_t id, const ScheduleEdit &change, int64_t nowNs)
{
    auto transaction = store::SqliteTransaction::begin(m_db);
    if (!transaction) {
        return std::unexpected(transaction.error().context(std::format("edit schedule {}", id)));
    }
    auto current = get(id);
    if (!current) {
        return std::unexpected(current.error());
    }
    Schedule s = std::move(*current);
    const bool wasEnabled = s.enabled;
    const ScheduleTiming oldTiming = s.timing;
    s.name = change.name.value_or(s.name);
    s.timing = change.timing.value_or(s.timing);
    s.mode = change.mode.value_or(s.mode);
    s.enabled = change.enabled.value_or(s.enabled);
    s.retention.keepLast = change.keepLast.value_or(s.retention.keepLast);
    s.retention.hourly = change.hourly.value_or(s.retention.hourly);
    s.retention.daily = change.daily.value_or(s.retention.daily);
    s.retention.weekly = change.weekly.value_or(s.retention.weekly);
    s.retention.monthly = change.monthly.value_or(s.retention.monthly);
    s.retention.maxBytes = change.maxBytes.value_or(s.retention.maxBytes);
    // (validated before a new timing is asked for its next time)
    if (auto ok = validate(s); !ok) {
        return std::unexpected(ok.error().context(std::format("edit schedule {}", id)));
    }
    if (s.timing != oldTiming || (s.enabled && !wasEnabled && s.nextRunNs < nowNs)) {
        s.nextRunNs = nextDue(s.timing, nowNs);
    }
    auto ok = updateSchedule(m_db,
                             "UPDATE schedules SET name = ?2, timing = ?3, interval_s = ?4, at_minute = ?5, weekday = ?6, mode = ?7, enabled = ?8, "
                             "keep_last = ?9, keep_hourly = ?10, keep_daily = ?11, keep_weekly = ?12, keep_monthly = ?13, max_bytes = ?14, next_run_at = ?15 "
                             "WHERE id = ?1",
                             id, "edit", [&](SqliteStatement &q) {
                                 q.bind(2, std::string_view(s.name))
                                     .bind(3, std::string_view(timingName(s.timing.kind)))
                                     .bind(4, s.timing.intervalSeconds)
                                     .bind(5, int64_t(s.timing.minute))
                                     .bind(6, int64_t(s.timing.weekday))
                                     .bind(7, std::string_view(modeName(s.mode)))
                                     .bind(8, int64_t(s.enabled))
                                     .bind(9, int64_t(s.retention.keepLast))
                                     .bind(10, int64_t(s.retention.hourly))
                                     .bind(11, int64_t(s.retention.daily))
                                     .bind(12, int64_t(s.retention.weekly))
                                     .bind(13, int64_t(s.retention.monthly))
                                     .bind(14, int64_t(s.retention.maxBytes))
                                     .bind(15, s.nextRunNs);
                             });
    if (!ok) {
        return std::unexpected(ok.error());
    }
    if (auto committed = transaction->commit(); !committed) {
        return std::unexpected(committed.error().context(std::format("edit schedule {}", id)));
    }
    return s;
}

Result<void> ScheduleStore::remove(int64_t id)
{
    return updateSchedule(m_db, "DELETE FROM schedules WHERE id = ?1", id, "remove", [](SqliteStatement &) { });
}

Result<void> ScheduleStore::setRunState(int64_t id, int64_t nextRunNs, int failures, int64_t lastRunNs)
{
    return updateSchedule(m_db, "UPDATE schedules SET next_run_at = ?2, failures = ?3, last_run_at = ?4 WHERE id = ?1", id, "update",
                          [&](SqliteStatement &q) { q.bind(2, nextRunNs).bind(3, int64_t(failures)).bind(4, lastRunNs); });
}

Result<void> ScheduleStore::setNextRun(int64_t id, int64_t nextRunNs)
{
    return updateSchedule(m_db, "UPDATE schedules SET next_run_at = ?2 WHERE id = ?1", id, "update", [&](SqliteStatement &q) { q.bind(2, nextRunNs); });
}

Result<int64_t> ScheduleStore::recordRun(const ScheduleRun &run)
{
    auto q = m_db.prepare(
        "INSERT INTO schedule_runs (schedule_id, at, due_at, outcome, snapshot_id, pid, removed, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!q) {
        return std::unexpected(q.error());
    }
    q->bind(1, run.scheduleId).bind(2, run.atNs).bind(3, run.dueNs).bind(4, std::string_view(outcomeName(run.outcome)));
    if (run.snapshotId) {
        q->bind(5, run.snapshotId);
    } else {
        q->bindNull(5);
    }
    q->bind(6, int64_t(run.pid)).bind(7, run.removed).bind(8, std::string_view(run.message));
    if (auto ok = q->run(); !ok) {
        return std::unexpected(ok.error().context(std::format("record a run of schedule {}", run.scheduleId)));
    }
    return m_db.lastInsertRowid();
}

Result<std::vector<ScheduleRun>> ScheduleStore::runs(int64_t scheduleId, size_t limit)
{
    std::string sql = "SELECT id, schedule_id, at, due_at, outcome, coalesce(snapshot_id, 0), pid, removed, message FROM schedule_runs";
    if (scheduleId) {
        sql += " WHERE schedule_id = ?1";
    }
    sql += " ORDER BY at DESC, id DESC";
    if (limit) {
        sql += " LIMIT ?2";
    }
    auto q = m_db.prepare(sql);
    if (!q) {
        return std::unexpected(q.error());
    }
    if (scheduleId) {
        q->bind(1, scheduleId);
    }
    if (limit) {
        q->bind(2, int64_t(limit));
    }
    std::vector<ScheduleRun> out;
    auto ok = q->each([&](const SqliteStatement &r) {
        ScheduleRun run;
        run.id = r.columnInt(0);
        run.scheduleId = r.columnInt(1);
        run.atNs = r.columnInt(2);
        run.dueNs = r.columnInt(3);
        run.outcome = outcomeFrom(r.columnText(4));
        run.snapshotId = r.columnInt(5);
        run.pid = int32_t(r.columnInt(6));
        run.removed = r.columnInt(7);
        run.message = r.columnText(8);
        out.push_back(std::move(run));
    });
    if (!ok) {
        return std::unexpected(ok.error().context("list schedule runs"));
    }
    return out;
}

} // namespace cryopod::schedule
