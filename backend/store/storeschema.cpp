// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "storeschema.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <format>
#include <sys/random.h>
#include <time.h>

namespace cryopod::store
{

namespace
{
uint64_t randomU64()
{
    uint64_t value = 0;
    while (getrandom(&value, sizeof value, 0) != sizeof value) { }
    return value;
}

int64_t nowNs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Version 1: the store itself. Chunks are content-addressed pieces of image
// bytes inside blobs of pack files; a snapshot's manifest lists, section by
// section, the chunks its image is rebuilt from.
Result<void> migrateTo1(SqliteDatabase &db)
{
    CRYOPOD_PROPAGATE(db.exec(R"sql(
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE targets (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    uid INTEGER NOT NULL,
    user TEXT NOT NULL,
    exe TEXT NOT NULL,
    cmdline TEXT NOT NULL,
    pid INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    kernel TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (host, uid, exe, cmdline, pid, start_time)
);

CREATE TABLE packs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    bytes INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    pack_id INTEGER NOT NULL REFERENCES packs(id),
    blob_offset INTEGER NOT NULL,
    blob_bytes INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL
);
CREATE INDEX chunks_by_hash ON chunks(hash);
CREATE INDEX chunks_by_pack ON chunks(pack_id);

CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    target_id INTEGER NOT NULL REFERENCES targets(id),
    created_at INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    pinned INTEGER NOT NULL DEFAULT 0,
    parent_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL,
    origin TEXT NOT NULL,
    root_pid INTEGER NOT NULL,
    comm TEXT NOT NULL,
    image_bytes INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    sections INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    pause_ns INTEGER NOT NULL,
    engine_version TEXT NOT NULL,
    format_version INTEGER NOT NULL,
    codec TEXT NOT NULL,
    image_hash BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'complete'
);

CREATE TABLE manifest (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    section_type INTEGER NOT NULL,
    frame BLOB,
    level INTEGER,
    threaded INTEGER,
    field_chunk INTEGER,
    chunk_size INTEGER,
    data_bytes INTEGER NOT NULL,
    chunks BLOB NOT NULL,
    PRIMARY KEY (snapshot_id, seq)
) WITHOUT ROWID;
)sql"));
    auto insert = db.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)");
    if (!insert) {
        return std::unexpected(insert.error());
    }
    // The seed of the chunk hashes: a store's hashes cannot be predicted from outside it.
    const std::string seed = std::format("{:016x}", randomU64());
    const std::string storeId = std::format("{:016x}{:016x}", randomU64(), randomU64());
    const std::string created = std::to_string(nowNs());
    const std::array<std::pair<const char *, const std::string *>, 3> rows {{{"hash_seed", &seed}, {"store_id", &storeId}, {"created_at", &created}}};
    for (const auto &[key, value] : rows) {
        insert->bind(1, std::string_view(key)).bind(2, std::string_view(*value));
        CRYOPOD_PROPAGATE(insert->run());
        insert->reset();
    }
    return {};
}

// Version 2: the timeline's queries (a target's snapshots by time, all
// snapshots by time) use indexes instead of scanning the table.
Result<void> migrateTo2(SqliteDatabase &db)
{
    return db.exec(R"sql(
CREATE INDEX snapshots_by_time ON snapshots(created_at, id);
CREATE INDEX snapshots_by_target ON snapshots(target_id, created_at, id);
CREATE INDEX snapshots_by_parent ON snapshots(parent_id);
)sql");
}

// Version 3: recurring snapshots (backend/schedule). A schedule names its
// target (a process by pid and start time, or a rule: executable, argument
// pattern, owner), when it runs, how (mode), and its retention; every run
// is recorded (taken, skipped because the target was gone, failed), and a
// snapshot a schedule took names it (origin 'schedule'; the link is cleared
// when the schedule is removed, the origin stays).
Result<void> migrateTo3(SqliteDatabase &db)
{
    return db.exec(R"sql(
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    target_kind TEXT NOT NULL CHECK (target_kind IN ('process', 'rule')),
    pid INTEGER NOT NULL DEFAULT 0,
    start_time INTEGER NOT NULL DEFAULT 0,
    exe TEXT NOT NULL DEFAULT '',
    args_regex TEXT NOT NULL DEFAULT '',
    uid INTEGER NOT NULL,
    timing TEXT NOT NULL CHECK (timing IN ('interval', 'hourly', 'daily', 'weekly')),
    interval_s INTEGER NOT NULL DEFAULT 0,
    at_minute INTEGER NOT NULL DEFAULT 0,
    weekday INTEGER NOT NULL DEFAULT 0,
    mode TEXT NOT NULL DEFAULT 'running' CHECK (mode IN ('running', 'freeze')),
    enabled INTEGER NOT NULL DEFAULT 1,
    keep_last INTEGER NOT NULL DEFAULT 0,
    keep_hourly INTEGER NOT NULL DEFAULT 0,
    keep_daily INTEGER NOT NULL DEFAULT 0,
    keep_weekly INTEGER NOT NULL DEFAULT 0,
    keep_monthly INTEGER NOT NULL DEFAULT 0,
    max_bytes INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    next_run_at INTEGER NOT NULL,
    last_run_at INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE schedule_runs (
    id INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('taken', 'skipped', 'failed')),
    snapshot_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL,
    pid INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX schedule_runs_by_schedule ON schedule_runs(schedule_id, at);

ALTER TABLE snapshots ADD COLUMN schedule_id INTEGER REFERENCES schedules(id) ON DELETE SET NULL;
CREATE INDEX snapshots_by_schedule ON snapshots(schedule_id, created_at);
)sql");
}

using Migration = Result<void> (*)(SqliteDatabase &);
// kMigrations[n] takes the database from version n to n + 1.
constexpr std::array<Migration, StoreSchema::kVersion> kMigrations {migrateTo1, migrateTo2, migrateTo3};
} // namespace

Result<int> StoreSchema::version(SqliteDatabase &db)
{
    auto v = db.queryInt("PRAGMA user_version");
    if (!v) {
        return std::unexpected(v.error().context("read the index's schema version"));
    }
    return int(v->value_or(0));
}

Result<void> StoreSchema::configure(SqliteDatabase &db)
{
    auto mode = db.prepare("PRAGMA journal_mode=WAL");
    if (!mode) {
        return std::unexpected(mode.error());
    }
    auto row = mode->step();
    if (!row) {
        return std::unexpected(row.error().context("switch the index to WAL"));
    }
    if (!*row || mode->columnText(0) != "wal") {
        return fail("switch the index to WAL: SQLite kept journal mode " + (*row ? mode->columnText(0) : std::string("?")));
    }
    // FULL: a committed snapshot survives a power cut, not only a crash.
    // journal_size_limit: the WAL is cut back to 4 MiB after a checkpoint
    // instead of keeping the size of the largest transaction on disk.
    return db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=60000; PRAGMA temp_store=FILE; PRAGMA journal_size_limit=4194304;");
}

Result<void> StoreSchema::migrate(SqliteDatabase &db, int target)
{
    auto current = version(db);
    if (!current) {
        return std::unexpected(current.error());
    }
    if (*current > kVersion) {
        return fail(std::format("the store index {} has schema version {}, newer than this Cryopod understands (version {}); "
                                "it was written by a newer Cryopod, which is needed to open it",
                                db.path(),
                                *current,
                                kVersion),
                    EPROTONOSUPPORT);
    }
    if (*current < 0) {
        return fail(std::format("the store index {} has an invalid schema version {}", db.path(), *current), EBADMSG);
    }
    for (int from = *current; from < target && from < kVersion; ++from) {
        auto tx = SqliteTransaction::begin(db);
        if (!tx) {
            return std::unexpected(tx.error().context(std::format("migrate the index to version {}", from + 1)));
        }
        // Another process may have migrated while we waited for the lock.
        auto now = version(db);
        if (!now) {
            return std::unexpected(now.error());
        }
        if (*now != from) {
            if (*now > kVersion) {
                return fail(std::format("the store index {} was migrated to schema version {} by a newer Cryopod (this one knows {})", db.path(), *now, kVersion),
                            EPROTONOSUPPORT);
            }
            from = *now - 1;
            continue;
        }
        if (auto ok = kMigrations[size_t(from)](db); !ok) {
            return std::unexpected(ok.error().context(std::format("migrate the index from version {} to {}", from, from + 1)));
        }
        CRYOPOD_PROPAGATE(db.exec(std::format("PRAGMA user_version = {}", from + 1)));
        if (auto ok = tx->commit(); !ok) {
            return std::unexpected(ok.error().context(std::format("migrate the index to version {}", from + 1)));
        }
    }
    return {};
}

} // namespace cryopod::store
