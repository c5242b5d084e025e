// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Kill at every step: cryopodctl runs with CRYOPOD_STORE_FAULT=<step> and
// dies there (_exit, no cleanup, like a SIGKILL). Afterwards the store must
// hold the invariant of docs/store.md: every visible snapshot rebuilds byte
// for byte, `store check` finds no damage, and what the dead process left
// is garbage that `store gc` removes, leaving exactly the packs the index
// names. Every step of StoreFault::steps() is exercised, and each run must
// really have died at its step (exit status 86).
#include "snapshotstore.h"
#include "storefault.h"
#include "storetestsupport.h"

#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <map>
#include <set>
#include <csignal>
#include <sys/stat.h>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::store;
using StoreTestSupport::Churn;
using StoreTestSupport::readFile;

namespace
{
std::string cryopodctl()
{
    return CRYOPODCTL_PATH;
}

int runFaulted(const std::string &step, std::vector<std::string> args, std::string *output = nullptr)
{
    args.insert(args.begin(), cryopodctl());
    std::vector<std::string> env;
    if (!step.empty()) {
        env.push_back("CRYOPOD_STORE_FAULT=" + step);
    }
    return StoreTestSupport::run(args, env, output);
}

std::vector<std::string> sorted(std::vector<std::string> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> indexedPacks(SnapshotStore &store)
{
    std::vector<std::string> names;
    auto q = store.database().prepare("SELECT name FROM packs");
    if (!q) {
        return names;
    }
    for (;;) {
        auto row = q->step();
        if (!row || !*row) {
            break;
        }
        names.push_back(q->columnText(0));
    }
    return sorted(names);
}
} // namespace

class StoreFaultTest : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string m_small; // 8 MiB process
    std::string m_big; // 64 MiB process: more than one pack
    std::string m_busy1, m_busy2; // a process that rewrote most of its memory in between
    std::string m_other;
    std::set<std::string> m_tested;
    int m_stores = 0;

    std::string path(const std::string &name) const
    {
        return m_dir.path().toStdString() + "/" + name;
    }

    std::string newStoreDir()
    {
        return path("store" + std::to_string(++m_stores));
    }

    // The invariant after a crash, then gc. `images` maps snapshot ids that
    // must be visible to the image files they were made from; nothing else may be.
    void verifyStore(const std::string &dir, const std::map<int64_t, std::string> &images, bool expectGarbage)
    {
        auto opened = SnapshotStore::open(dir);
        QVERIFY2(opened, opened ? "" : opened.error().describe().c_str());
        SnapshotStore &store = **opened;
        auto list = store.list();
        QVERIFY(list);
        std::set<int64_t> visible;
        for (const SnapshotInfo &s : *list) {
            visible.insert(s.id);
        }
        std::set<int64_t> expected;
        for (const auto &[id, image] : images) {
            expected.insert(id);
        }
        QCOMPARE(visible, expected);
        for (const auto &[id, image] : images) {
            const std::string out = path("rebuilt.img");
            auto r = store.exportImage(id, out);
            QVERIFY2(r, r ? "" : r.error().describe().c_str());
            QVERIFY2(readFile(out) == readFile(image), ("snapshot " + std::to_string(id) + " differs from " + image).c_str());
        }
        auto report = store.check();
        QVERIFY(report);
        QVERIFY2(report->ok(), report->problems.empty() ? "" : report->problems.front().c_str());
        if (expectGarbage) {
            QVERIFY(!report->garbage.empty());
        }
        auto gc = store.gc();
        QVERIFY2(gc, gc ? "" : gc.error().describe().c_str());
        auto after = store.check({true});
        QVERIFY(after);
        QVERIFY2(after->ok(), after->problems.empty() ? "" : after->problems.front().c_str());
        QVERIFY2(after->garbage.empty(), after->garbage.empty() ? "" : after->garbage.front().c_str());
        QCOMPARE(sorted(StoreTestSupport::listDir(dir + "/packs")), indexedPacks(store));
        for (const auto &[id, image] : images) {
            const std::string out = path("rebuilt.img");
            QVERIFY(store.exportImage(id, out));
            QVERIFY(readFile(out) == readFile(image));
        }
    }

    int64_t import(const std::string &dir, const std::string &image)
    {
        std::string output;
        if (runFaulted({}, {"import", image, "--store", dir}, &output) != 0) {
            qWarning("import: %s", output.c_str());
            return 0;
        }
        auto store = SnapshotStore::open(dir);
        if (!store) {
            return 0;
        }
        auto list = (*store)->list();
        int64_t id = 0;
        for (const SnapshotInfo &s : *list) {
            id = std::max(id, s.id);
        }
        return id;
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0) {
            QSKIP("the fault tests checkpoint real processes: run as root");
        }
        StoreTestSupport::becomeSubreaper();
        QVERIFY(m_dir.isValid());
        const std::string d = m_dir.path().toStdString();
        Churn small, big, busy, other;
        QVERIFY(small.start(d, 8, 2.0, 51));
        QVERIFY(big.start(d, 64, 2.0, 52));
        QVERIFY(busy.start(d, 8, 150.0, 53));
        QVERIFY(other.start(d, 4, 2.0, 54));
        m_small = path("small.img");
        m_big = path("big.img");
        m_busy1 = path("busy1.img");
        m_busy2 = path("busy2.img");
        m_other = path("other.img");
        QVERIFY(small.checkpointTo(m_small));
        QVERIFY(big.checkpointTo(m_big));
        QVERIFY(busy.checkpointTo(m_busy1));
        QVERIFY(busy.change());
        QVERIFY(busy.checkpointTo(m_busy2));
        QVERIFY(other.checkpointTo(m_other));
    }

    void storingDiesAtEveryStep_data()
    {
        QTest::addColumn<QString>("step");
        QTest::addColumn<bool>("visible"); // the faulted snapshot survives
        QTest::addColumn<bool>("garbage"); // files were left behind
        QTest::newRow("ingest-begin") << QStringLiteral("ingest-begin") << false << false;
        QTest::newRow("pack-written") << QStringLiteral("pack-written") << false << true;
        QTest::newRow("pack-synced") << QStringLiteral("pack-synced") << false << true;
        QTest::newRow("packs-durable") << QStringLiteral("packs-durable") << false << true;
        QTest::newRow("commit-before") << QStringLiteral("commit-before") << false << true;
        QTest::newRow("commit-after") << QStringLiteral("commit-after") << true << false;
    }

    void storingDiesAtEveryStep()
    {
        QFETCH(QString, step);
        QFETCH(bool, visible);
        QFETCH(bool, garbage);
        const std::string dir = newStoreDir();
        const int64_t base = import(dir, m_small);
        QVERIFY(base > 0);
        const auto packsBefore = sorted(StoreTestSupport::listDir(dir + "/packs"));
        std::string output;
        const int status = runFaulted(step.toStdString(), {"import", m_big, "--store", dir}, &output);
        QVERIFY2(status == StoreFault::kExitCode, (std::to_string(status) + ": " + output).c_str());
        m_tested.insert(step.toStdString());
        std::map<int64_t, std::string> images {{base, m_small}};
        if (visible) {
            images[base + 1] = m_big;
        }
        verifyStore(dir, images, garbage);
        if (!visible) {
            // everything the dead import wrote is gone again
            QCOMPARE(sorted(StoreTestSupport::listDir(dir + "/packs")), packsBefore);
        }
        // the store takes the same image afterwards
        QVERIFY(import(dir, m_big) > 0);
    }

    void snapshotOfLiveProcessDies()
    {
        // through the engine: the process must go on unharmed when the store dies mid-stream
        Churn live;
        QVERIFY(live.start(m_dir.path().toStdString(), 16, 2.0, 61));
        const std::string before = live.hash();
        const std::string dir = newStoreDir();
        std::string output;
        const int status = runFaulted("pack-written", {"snapshot", "--direct", std::to_string(live.pid()), "--store", dir}, &output);
        QVERIFY2(status == StoreFault::kExitCode, (std::to_string(status) + ": " + output).c_str());
        QVERIFY(::kill(live.pid(), 0) == 0);
        QCOMPARE(live.hash(), before);
        QVERIFY(live.change());
        verifyStore(dir, {}, true);
        // and it can be snapshotted afterwards
        QCOMPARE(runFaulted({}, {"snapshot", "--direct", std::to_string(live.pid()), "--store", dir}, &output), 0);
    }

    void deletingDiesAtEveryStep_data()
    {
        QTest::addColumn<QString>("step");
        QTest::addColumn<bool>("deleted");
        QTest::newRow("delete-before") << QStringLiteral("delete-before") << false;
        QTest::newRow("delete-after") << QStringLiteral("delete-after") << true;
    }

    void deletingDiesAtEveryStep()
    {
        QFETCH(QString, step);
        QFETCH(bool, deleted);
        const std::string dir = newStoreDir();
        const int64_t a = import(dir, m_busy1);
        const int64_t b = import(dir, m_busy2);
        QVERIFY(a > 0 && b > 0);
        std::string output;
        const int status = runFaulted(step.toStdString(), {"delete", std::to_string(a), "--store", dir}, &output);
        QVERIFY2(status == StoreFault::kExitCode, (std::to_string(status) + ": " + output).c_str());
        m_tested.insert(step.toStdString());
        std::map<int64_t, std::string> images {{b, m_busy2}};
        if (!deleted) {
            images[a] = m_busy1;
        }
        verifyStore(dir, images, deleted);
    }

    void gcDiesAtEveryStep_data()
    {
        QTest::addColumn<QString>("step");
        QTest::newRow("gc-chunks") << QStringLiteral("gc-chunks");
        QTest::newRow("gc-unlinked") << QStringLiteral("gc-unlinked");
        QTest::newRow("gc-repack-written") << QStringLiteral("gc-repack-written");
        QTest::newRow("gc-repack-committed") << QStringLiteral("gc-repack-committed");
    }

    void gcDiesAtEveryStep()
    {
        QFETCH(QString, step);
        // busy1's pack keeps a fifth of its chunks for busy2 (repacked),
        // other's pack is entirely dead (unlinked)
        const std::string dir = newStoreDir();
        const int64_t a = import(dir, m_busy1);
        const int64_t b = import(dir, m_busy2);
        const int64_t c = import(dir, m_other);
        QVERIFY(a > 0 && b > 0 && c > 0);
        std::string output;
        QCOMPARE(runFaulted({}, {"delete", std::to_string(a), std::to_string(c), "--no-gc", "--store", dir}, &output), 0);
        const int status = runFaulted(step.toStdString(), {"store", "gc", "--store", dir}, &output);
        QVERIFY2(status == StoreFault::kExitCode, (std::to_string(status) + ": " + output).c_str());
        m_tested.insert(step.toStdString());
        verifyStore(dir, {{b, m_busy2}}, false);
    }

    void everyStepWasTested()
    {
        for (const char *step : StoreFault::steps()) {
            QVERIFY2(m_tested.contains(step), step);
        }
    }
};

QTEST_GUILESS_MAIN(StoreFaultTest)
#include "storefaulttest.moc"
