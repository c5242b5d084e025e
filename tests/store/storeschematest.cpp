// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The index against real SQLite files: a new store gets the current schema
// in WAL mode; an index of version 1 is migrated with its rows kept; a
// migration that fails leaves the old version (one transaction each); an
// index newer than the code is refused untouched. Plus the manifest's chunk
// list encoding.
#include "chunklist.h"
#include "manifest.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "storeschema.h"
#include "storetestsupport.h"

#include <QTemporaryDir>
#include <QTest>

#include <random>
#include <sys/stat.h>

using namespace cryopod;
using namespace cryopod::store;

namespace
{
int64_t queryInt(SqliteDatabase &db, const std::string &sql)
{
    auto v = db.queryInt(sql);
    return v && *v ? **v : -1;
}

std::string queryText(SqliteDatabase &db, const std::string &sql)
{
    auto q = db.prepare(sql);
    if (!q) {
        return {};
    }
    auto row = q->step();
    return row && *row ? q->columnText(0) : std::string();
}
} // namespace

class StoreSchemaTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void newStoreHasCurrentSchema()
    {
        QTemporaryDir dir;
        auto store = SnapshotStore::open(dir.path().toStdString() + "/store");
        QVERIFY2(store, store ? "" : store.error().describe().c_str());
        SqliteDatabase &db = (*store)->database();
        QCOMPARE(queryInt(db, "PRAGMA user_version"), int64_t(StoreSchema::kVersion));
        QCOMPARE(queryText(db, "PRAGMA journal_mode"), std::string("wal"));
        QCOMPARE(queryInt(db, "PRAGMA foreign_keys"), int64_t(1));
        for (const char *table : {"meta", "targets", "snapshots", "packs", "chunks", "manifest"}) {
            QVERIFY2(queryInt(db, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") + table + "'") == 1, table);
        }
        for (const char *index : {"chunks_by_hash", "chunks_by_pack", "snapshots_by_time", "snapshots_by_target"}) {
            QVERIFY2(queryInt(db, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '") + index + "'") == 1, index);
        }
        QCOMPARE(queryText(db, "SELECT value FROM meta WHERE key = 'hash_seed'").size(), size_t(16));
        QVERIFY((*store)->hashSeed() != 0);
        // a second store has its own seed
        auto other = SnapshotStore::open(dir.path().toStdString() + "/other");
        QVERIFY(other);
        QVERIFY((*other)->hashSeed() != (*store)->hashSeed());
        // opening again changes nothing
        const uint64_t seed = (*store)->hashSeed();
        store->reset();
        auto again = SnapshotStore::open(dir.path().toStdString() + "/store");
        QVERIFY(again);
        QCOMPARE((*again)->hashSeed(), seed);
    }

    void migratesVersion1KeepingRows()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/store";
        QVERIFY(::mkdir(path.c_str(), 0700) == 0);
        std::string seed;
        {
            auto db = SqliteDatabase::open(path + "/index.sqlite");
            QVERIFY(db);
            QVERIFY(StoreSchema::configure(**db));
            auto ok = StoreSchema::migrate(**db, 1);
            QVERIFY2(ok, ok ? "" : ok.error().describe().c_str());
            QCOMPARE(queryInt(**db, "PRAGMA user_version"), int64_t(1));
            QCOMPARE(queryInt(**db, "SELECT count(*) FROM sqlite_master WHERE name = 'snapshots_by_time'"), int64_t(0));
            QVERIFY((*db)->exec("INSERT INTO targets (host, uid, user, exe, cmdline, pid, start_time, kernel, label, created_at) "
                                "VALUES ('h', 1000, 'u', '/bin/x', 'x -y', 42, 7, 'k', 'kept', 1)"));
            seed = queryText(**db, "SELECT value FROM meta WHERE key = 'hash_seed'");
        }
        auto store = SnapshotStore::open(path);
        QVERIFY2(store, store ? "" : store.error().describe().c_str());
        SqliteDatabase &db = (*store)->database();
        QCOMPARE(queryInt(db, "PRAGMA user_version"), int64_t(StoreSchema::kVersion));
        QCOMPARE(queryInt(db, "SELECT count(*) FROM sqlite_master WHERE name = 'snapshots_by_time'"), int64_t(1));
        QCOMPARE(queryText(db, "SELECT label FROM targets WHERE pid = 42"), std::string("kept"));
        QCOMPARE(queryText(db, "SELECT value FROM meta WHERE key = 'hash_seed'"), seed);
        auto targets = (*store)->targets();
        QVERIFY(targets);
        QCOMPARE(targets->size(), size_t(1));
        QCOMPARE(targets->front().info.cmdline, std::string("x -y"));
    }

    void migratesVersion2ToSchedules()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/store";
        QVERIFY(::mkdir(path.c_str(), 0700) == 0);
        {
            auto db = SqliteDatabase::open(path + "/index.sqlite");
            QVERIFY(db);
            QVERIFY(StoreSchema::configure(**db));
            QVERIFY(StoreSchema::migrate(**db, 2));
            QVERIFY((*db)->exec("INSERT INTO targets (host, uid, user, exe, cmdline, pid, start_time, kernel, label, created_at) "
                                "VALUES ('h', 1000, 'u', '/bin/x', 'x', 42, 7, 'k', '', 1)"));
            QVERIFY((*db)->exec("INSERT INTO snapshots (target_id, created_at, stored_at, origin, root_pid, comm, image_bytes, raw_bytes, pages, sections, "
                                "stored_bytes, duration_ns, pause_ns, engine_version, format_version, codec, image_hash) "
                                "VALUES (1, 5, 6, 'snapshot', 42, 'x', 1, 1, 0, 1, 1, 1, 1, 'e', 1, 'c', x'00')"));
        }
        auto store = SnapshotStore::open(path);
        QVERIFY2(store, store ? "" : store.error().describe().c_str());
        SqliteDatabase &db = (*store)->database();
        QCOMPARE(queryInt(db, "PRAGMA user_version"), int64_t(StoreSchema::kVersion));
        for (const char *name : {"schedules", "schedule_runs", "snapshots_by_schedule", "schedule_runs_by_schedule"}) {
            QVERIFY2(queryInt(db, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + name + "'") == 1, name);
        }
        // the old snapshot is a manual one
        auto list = (*store)->list();
        QVERIFY(list);
        QCOMPARE(list->size(), size_t(1));
        QCOMPARE(list->front().scheduleId, int64_t(0));
        QCOMPARE(list->front().origin, std::string("snapshot"));
        // a schedule's snapshot loses the link (not the snapshot, not its origin) with the schedule
        QVERIFY(db.exec("INSERT INTO schedules (target_kind, pid, start_time, uid, timing, interval_s, created_at, next_run_at) "
                        "VALUES ('process', 42, 7, 1000, 'interval', 60, 1, 2)"));
        QVERIFY(db.exec("UPDATE snapshots SET schedule_id = 1, origin = 'schedule'"));
        SnapshotFilter filter;
        filter.scheduleId = 1;
        QCOMPARE((*store)->list(filter)->size(), size_t(1));
        filter.scheduleId = 2;
        QCOMPARE((*store)->list(filter)->size(), size_t(0));
        QVERIFY(db.exec("DELETE FROM schedules WHERE id = 1"));
        list = (*store)->list();
        QCOMPARE(list->size(), size_t(1));
        QCOMPARE(list->front().scheduleId, int64_t(0));
        QCOMPARE(list->front().origin, std::string("schedule"));
        // the checks hold: a bad timing or outcome is refused by the index itself
        QVERIFY(!db.exec("INSERT INTO schedules (target_kind, uid, timing, created_at, next_run_at) VALUES ('process', 1, 'sometimes', 1, 2)"));
    }

    void failedMigrationLeavesOldVersion()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/store";
        QVERIFY(::mkdir(path.c_str(), 0700) == 0);
        {
            auto db = SqliteDatabase::open(path + "/index.sqlite");
            QVERIFY(db);
            QVERIFY(StoreSchema::migrate(**db, 1));
            // an object in the way of migration 2
            QVERIFY((*db)->exec("CREATE TABLE snapshots_by_parent (x)"));
        }
        auto store = SnapshotStore::open(path);
        QVERIFY(!store);
        QVERIFY2(store.error().message.find("migrate the index from version 1 to 2") != std::string::npos, store.error().describe().c_str());
        auto db = SqliteDatabase::open(path + "/index.sqlite");
        QVERIFY(db);
        QCOMPARE(queryInt(**db, "PRAGMA user_version"), int64_t(1));
        // nothing of migration 2 was left behind
        QCOMPARE(queryInt(**db, "SELECT count(*) FROM sqlite_master WHERE name = 'snapshots_by_time'"), int64_t(0));
    }

    void refusesNewerIndexUntouched()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/store";
        {
            auto store = SnapshotStore::open(path);
            QVERIFY(store);
            QVERIFY((*store)->database().exec("PRAGMA user_version = 99"));
            QVERIFY((*store)->database().exec("PRAGMA wal_checkpoint(TRUNCATE)"));
        }
        const std::string before = StoreTestSupport::readFile(path + "/index.sqlite");
        auto store = SnapshotStore::open(path);
        QVERIFY(!store);
        const std::string message = store.error().describe();
        QVERIFY2(message.find("schema version 99") != std::string::npos, message.c_str());
        QVERIFY2(message.find("newer than this Cryopod understands (version " + std::to_string(StoreSchema::kVersion) + ")") != std::string::npos, message.c_str());
        QCOMPARE(store.error().code, EPROTONOSUPPORT);
        QVERIFY(StoreTestSupport::readFile(path + "/index.sqlite") == before);
        // the migration function refuses it as well
        auto db = SqliteDatabase::open(path + "/index.sqlite");
        QVERIFY(db);
        QVERIFY(!StoreSchema::migrate(**db));
        QCOMPARE(queryInt(**db, "PRAGMA user_version"), int64_t(99));
    }

    void chunkListRoundTrip()
    {
        std::mt19937_64 rng(5);
        std::vector<std::vector<int64_t>> lists = {
            {},
            {0},
            {1, 2, 3, 4, 5},
            {-1, -2, -3, 7, 0, 0, 8, 9, -4},
            {INT64_MAX, 1, INT64_MIN + 1, 0},
        };
        std::vector<int64_t> sequential;
        for (int64_t i = 1000; i < 1000 + 2048; ++i) {
            sequential.push_back(i);
        }
        sequential[100] = 77777; // one changed page
        lists.push_back(sequential);
        std::vector<int64_t> random;
        for (int i = 0; i < 5000; ++i) {
            random.push_back(int64_t(rng() >> 20));
        }
        lists.push_back(random);
        for (const auto &ids : lists) {
            const std::vector<uint8_t> bytes = ChunkList::encode(ids);
            auto back = ChunkList::decode(bytes);
            QVERIFY2(back, back ? "" : back.error().describe().c_str());
            QCOMPARE(*back, ids);
        }
        // an unchanged page run costs next to nothing
        QVERIFY2(ChunkList::encode(sequential).size() < 64, std::to_string(ChunkList::encode(sequential).size()).c_str());
    }

    void chunkListRejectsDamage()
    {
        std::vector<int64_t> ids;
        for (int64_t i = 1; i < 500; i += 3) {
            ids.push_back(i * 7919);
        }
        const std::vector<uint8_t> good = ChunkList::encode(ids);
        QVERIFY(!ChunkList::decode({}));
        for (size_t cut = 1; cut < good.size(); cut += 7) {
            std::vector<uint8_t> truncated(good.begin(), good.begin() + long(cut));
            QVERIFY(!ChunkList::decode(truncated));
        }
        std::vector<uint8_t> unknown = good;
        unknown[0] = 9;
        QVERIFY(!ChunkList::decode(unknown));
        // a count that claims more than the limit
        QVERIFY(!ChunkList::decode(good, 10));
        std::vector<uint8_t> trailing = ChunkList::encode(std::vector<int64_t> {1, 2, 3});
        trailing.push_back(0);
        QVERIFY(!ChunkList::decode(trailing));
    }

    void manifestShapeIsValidated()
    {
        ManifestEntry e;
        e.seq = 3;
        e.kind = ManifestKind::Bulk;
        e.chunkSize = 4096;
        e.dataBytes = 3 * 4096 + 10;
        e.fieldChunk = 5;
        e.chunks = {1, 0, 2, 3};
        QVERIFY(Manifest::validate(e));
        e.chunks.pop_back();
        QVERIFY(!Manifest::validate(e));
        e.chunks = {1, 0, 2, -3};
        QVERIFY(!Manifest::validate(e));
        e.chunks = {1, 0, 2, 3};
        e.fieldChunk = 0;
        QVERIFY(!Manifest::validate(e));
        int refs = 0;
        e.fieldChunk = 9;
        Manifest::forEachRef(e, [&](int64_t id) {
            QVERIFY(id != 0);
            ++refs;
        });
        QCOMPARE(refs, 4); // field chunk + three non-zero data chunks
    }
};

QTEST_GUILESS_MAIN(StoreSchemaTest)
#include "storeschematest.moc"
