// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The schedules of a snapshot store and the record of their runs, in the
// store's SQLite index (tables `schedules` and `schedule_runs`, schema
// version 3, docs/store.md). Plain C++ over SqliteDatabase, like the store.
#pragma once

#include "result.h"
#include "retention.h"
#include "scheduletiming.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cryopod::store
{
class SqliteDatabase;
class SqliteStatement;
} // namespace cryopod::store

namespace cryopod::schedule
{

struct ScheduleTarget {
    enum class Kind {
        Process, // one running process (and its tree): pid + start time
        Rule, // whichever process runs `exe`, with arguments matching argsRegex, owned by uid
    };
    Kind kind = Kind::Process;
    int32_t pid = 0;
    int64_t startTimeNs = 0; // as TargetProbe reads it: a reused pid has another
    std::string exe; // the rule's executable (for a process: what it ran, for display)
    std::string argsRegex; // matched against the arguments joined by spaces (after argv[0]); "" matches any
    uint32_t uid = 0; // the owner

    std::string describe() const;
};

enum class SnapshotMode {
    // The tree stops only while its state and a copy-on-write copy of its
    // memory are taken (docs/low-pause.md).
    KeepRunning,
    // The tree stays stopped for the whole capture (the engine's freeze, no
    // copy of its memory).
    Freeze,
};

struct Schedule {
    int64_t id = 0;
    std::string name;
    ScheduleTarget target;
    ScheduleTiming timing;
    SnapshotMode mode = SnapshotMode::KeepRunning;
    bool enabled = true;
    RetentionPolicy retention;
    int64_t createdAtNs = 0;
    int64_t nextRunNs = 0; // when it is due next
    int64_t lastRunNs = 0; // its last run (any outcome), 0: never
    int failures = 0; // failed runs in a row (the back-off)
};

struct ScheduleRun {
    enum class Outcome {
        Taken, // a snapshot was taken (snapshotId), retention applied (removed)
        Skipped, // the target was not running
        Failed, // the snapshot failed (message)
    };
    int64_t id = 0;
    int64_t scheduleId = 0;
    int64_t atNs = 0; // when it ran
    int64_t dueNs = 0; // when it was due (earlier than atNs after a missed run)
    Outcome outcome = Outcome::Taken;
    int64_t snapshotId = 0;
    int32_t pid = 0;
    int64_t removed = 0; // snapshots retention removed after it
    std::string message;
};

// An edit of a schedule: what is set replaces the schedule's value, the rest
// stays (each retention count on its own).
struct ScheduleEdit {
    std::optional<std::string> name;
    std::optional<ScheduleTiming> timing;
    std::optional<SnapshotMode> mode;
    std::optional<bool> enabled;
    std::optional<int> keepLast, hourly, daily, weekly, monthly;
    std::optional<uint64_t> maxBytes;

    bool empty() const;
};

const char *outcomeName(ScheduleRun::Outcome outcome);
const char *modeName(SnapshotMode mode);

class ScheduleStore
{
public:
    explicit ScheduleStore(store::SqliteDatabase &db);

    // Validates (timing, retention counts, a rule's pattern is checked by
    // the caller) and inserts; returns the id. nextRunNs must be set.
    Result<int64_t> add(const Schedule &schedule);
    Result<std::vector<Schedule>> list();
    Result<Schedule> get(int64_t id);
    Result<void> setEnabled(int64_t id, bool enabled);
    // Changes a schedule in place, in one transaction: its id, target,
    // creation time, runs and failure count stay. A changed timing makes it due
    // at the timing's next time after nowNs (so does enabling it when its
    // next run passed while it was paused). Validated like add(); on an
    // error nothing changes. Returns the schedule as it is now.
    Result<Schedule> edit(int64_t id, const ScheduleEdit &change, int64_t nowNs);
    // The schedule and its runs; its snapshots stay (origin "schedule").
    Result<void> remove(int64_t id);
    // After a run: the next due time, the failure count, the last run.
    Result<void> setRunState(int64_t id, int64_t nextRunNs, int failures, int64_t lastRunNs);
    Result<void> setNextRun(int64_t id, int64_t nextRunNs);

    Result<int64_t> recordRun(const ScheduleRun &run);
    // A schedule's runs (0: every schedule's), newest first.
    Result<std::vector<ScheduleRun>> runs(int64_t scheduleId = 0, size_t limit = 0);

    static Result<void> validate(const Schedule &schedule);

private:
    store::SqliteDatabase &m_db;
};

} // namespace cryopod::schedule
