// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The schedule runner with an injected clock (time is moved, nobody
// sleeps) against a real store and a real process (store_churn)
// checkpointed by the real engine in-process (DirectEngine: root): due and
// not due, a missed run caught up once, retention after each success
// (manual and pinned snapshots untouched), the target gone (a skipped run,
// recorded once), a failing snapshot (the target is already traced by
// someone else) recorded with a growing back-off and no retry before it,
// then recovery; the target is never left stopped.

#include "schedulerunner.h"
#include "directengine.h"
#include "schedulematch.h"
#include "schedulestore.h"
#include "scheduletestsupport.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "storetestsupport.h"
#include "targetprobe.h"

#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <fstream>
#include <sys/ptrace.h>
#include <sys/wait.h>

using namespace cryopod;
using namespace cryopod::schedule;
using namespace ScheduleTestSupport;

namespace
{

char stateOf(pid_t pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    return close == std::string::npos ? 0 : stat[close + 2];
}
} // namespace

class ScheduleRunnerTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<store::SnapshotStore> m_store;
    std::unique_ptr<StoreTestSupport::Churn> m_churnPtr;
    int64_t m_now = 0;
    std::unique_ptr<ProducerTaker> m_taker;
    std::unique_ptr<ScheduleRunner> m_runner;

    StoreTestSupport::Churn &m_churn()
    {
        return *m_churnPtr;
    }

    RunnerOptions options() const
    {
        RunnerOptions o;
        o.zone = ScheduleZone {0};
        o.periods = fixedOffsetPeriods(0);
        o.backoffBaseNs = kMinute;
        o.backoffMaxNs = 8 * kMinute;
        return o;
    }

    Schedule everyMinute(int keepLast = 0)
    {
        auto target = ScheduleMatch::processTarget(m_churn().pid());
        Schedule s;
        s.target = *target;
        s.timing.kind = ScheduleTiming::Kind::Interval;
        s.timing.intervalSeconds = 60;
        s.retention.keepLast = keepLast;
        s.createdAtNs = m_now;
        s.nextRunNs = nextDue(s.timing, m_now);
        return s;
    }

    int64_t add(const Schedule &s)
    {
        ScheduleStore schedules(m_store->database());
        auto id = schedules.add(s);
        return id ? *id : 0;
    }

    Schedule get(int64_t id)
    {
        return *ScheduleStore(m_store->database()).get(id);
    }

    std::vector<store::SnapshotInfo> snapshotsOf(int64_t scheduleId)
    {
        store::SnapshotFilter filter;
        filter.scheduleId = scheduleId;
        return *m_store->list(filter);
    }

    std::vector<ScheduleRun> runDue()
    {
        auto runs = m_runner->runDue();
        if (!runs) {
            qWarning("runDue: %s", runs.error().describe().c_str());
            return {};
        }
        return *runs;
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (!store::DirectEngine::available()) {
            QSKIP(store::DirectEngine::unavailableReason());
        }
        StoreTestSupport::becomeSubreaper();
        ::signal(SIGPIPE, SIG_IGN);
    }

    void init()
    {
        auto store = store::SnapshotStore::open(m_dir.path().toStdString() + "/store-" + QTest::currentTestFunction());
        QVERIFY2(store, store ? "" : store.error().describe().c_str());
        m_store = std::move(*store);
        m_churnPtr = std::make_unique<StoreTestSupport::Churn>();
        QVERIFY(m_churn().start(m_dir.path().toStdString(), 4, 2.0, 7));
        m_now = 1000 * 86400 * kSecond; // the injected clock: any day will do
        m_taker = std::make_unique<ProducerTaker>([](const Schedule &) { return std::make_unique<store::DirectEngine::Producer>(); });
        m_runner = std::make_unique<ScheduleRunner>(*m_store, *m_taker, [this] { return m_now; }, options());
    }

    void cleanup()
    {
        m_runner.reset();
        m_taker.reset();
        m_churnPtr.reset();
        m_store.reset();
    }

    void runsWhenDueOnly()
    {
        const int64_t id = add(everyMinute());
        QVERIFY(id);
        const int64_t created = m_now;
        QCOMPARE(runDue().size(), size_t(0));
        QCOMPARE(*m_runner->nextRun(), std::optional<int64_t>(created + kMinute));
        m_now = created + kMinute - 1;
        QCOMPARE(runDue().size(), size_t(0));
        m_now = created + kMinute;
        auto runs = runDue();
        QCOMPARE(runs.size(), size_t(1));
        QVERIFY2(runs[0].outcome == ScheduleRun::Outcome::Taken, runs[0].message.c_str());
        QCOMPARE(runs[0].pid, int32_t(m_churn().pid()));
        QCOMPARE(runs[0].dueNs, created + kMinute);
        auto snaps = snapshotsOf(id);
        QCOMPARE(snaps.size(), size_t(1));
        QCOMPARE(snaps[0].id, runs[0].snapshotId);
        QCOMPARE(snaps[0].origin, std::string("schedule"));
        QCOMPARE(snaps[0].scheduleId, id);
        QCOMPARE(snaps[0].rootPid, int32_t(m_churn().pid()));
        const Schedule after = get(id);
        QCOMPARE(after.nextRunNs, m_now + kMinute);
        QCOMPARE(after.lastRunNs, m_now);
        QCOMPARE(after.failures, 0);
        // the process runs on
        QVERIFY(m_churn().change());
        // not again until the next minute
        m_now += 59 * kSecond;
        QCOMPARE(runDue().size(), size_t(0));
        m_now += kSecond;
        QCOMPARE(runDue().size(), size_t(1));
        QCOMPARE(snapshotsOf(id).size(), size_t(2));
        // a paused schedule does not run, a resumed one catches up once
        QVERIFY(ScheduleStore(m_store->database()).setEnabled(id, false));
        m_now += 10 * kMinute;
        QCOMPARE(runDue().size(), size_t(0));
        QCOMPARE(*m_runner->nextRun(), std::nullopt);
        QVERIFY(ScheduleStore(m_store->database()).setEnabled(id, true));
        QCOMPARE(runDue().size(), size_t(1));
        QCOMPARE(runDue().size(), size_t(0));
        QCOMPARE(snapshotsOf(id).size(), size_t(3));
        QCOMPARE(ScheduleStore(m_store->database()).runs(id)->size(), size_t(3));
    }

    void serviceOnATimer()
    {
        // the service the background runner uses: poll() runs what is due, the pause switch stops it
        const int64_t id = add(everyMinute());
        ScheduleService service(*m_store, *m_taker, [this] { return m_now; }, options());
        int ran = 0;
        int nextChanges = 0;
        connect(&service, &ScheduleService::ran, this, [&ran] { ++ran; });
        connect(&service, &ScheduleService::nextRunChanged, this, [&nextChanges] { ++nextChanges; });
        service.start();
        QCOMPARE(ran, 0);
        QCOMPARE(service.nextRun(), std::optional<int64_t>(m_now + kMinute));
        QCOMPARE(nextChanges, 1);
        service.setPaused(true);
        m_now += 5 * kMinute;
        service.poll();
        QCOMPARE(ran, 0);
        QCOMPARE(snapshotsOf(id).size(), size_t(0));
        // resuming catches up once
        service.setPaused(false);
        QCOMPARE(ran, 1);
        QCOMPARE(snapshotsOf(id).size(), size_t(1));
        QCOMPARE(service.nextRun(), std::optional<int64_t>(m_now + kMinute));
        QCOMPARE(nextChanges, 2);
    }

    void missedRunsCatchUpOnce()
    {
        Schedule interval = everyMinute();
        const int64_t intervalId = add(interval);
        Schedule daily = everyMinute();
        daily.timing = *ScheduleTiming::parse("daily 03:00");
        daily.nextRunNs = nextDue(daily.timing, m_now, ScheduleZone {0});
        const int64_t dailyId = add(daily);
        const int64_t dailyDue = daily.nextRunNs;
        // asleep for three days and a bit (a suspended laptop)
        m_now += 3 * 24 * kHour + 5 * kHour;
        auto runs = runDue();
        QCOMPARE(runs.size(), size_t(2));
        for (const ScheduleRun &r : runs) {
            QVERIFY2(r.outcome == ScheduleRun::Outcome::Taken, r.message.c_str());
            QVERIFY(r.dueNs < r.atNs - kHour); // recorded as missed
        }
        QCOMPARE(runs[1].dueNs, dailyDue);
        QCOMPARE(snapshotsOf(intervalId).size(), size_t(1));
        QCOMPARE(snapshotsOf(dailyId).size(), size_t(1));
        // planned from now, not from the missed times
        QCOMPARE(get(intervalId).nextRunNs, m_now + kMinute);
        QCOMPARE(get(dailyId).nextRunNs, nextDue(daily.timing, m_now, ScheduleZone {0}));
        QVERIFY(get(dailyId).nextRunNs > m_now);
        QCOMPARE(runDue().size(), size_t(0));
    }

    void retentionAfterEachSuccess()
    {
        const int64_t id = add(everyMinute(2));
        // a manual snapshot of the same process, and one of the schedule's pinned later
        store::DirectEngine::Producer manualProducer;
        store::IngestOptions manual;
        manual.target = *store::TargetProbe::probe(m_churn().pid());
        auto manualTaken = store::SnapshotJob::take(*m_store, manualProducer, m_churn().pid(), manual);
        QVERIFY2(manualTaken, manualTaken ? "" : manualTaken.error().describe().c_str());
        std::vector<int64_t> taken;
        for (int i = 0; i < 5; ++i) {
            m_now += kMinute;
            auto runs = runDue();
            QCOMPARE(runs.size(), size_t(1));
            QVERIFY2(runs[0].outcome == ScheduleRun::Outcome::Taken, runs[0].message.c_str());
            taken.push_back(runs[0].snapshotId);
            QCOMPARE(runs[0].removed, int64_t(i >= 3 ? 1 : 0)); // the first is pinned below, the last two are kept
            QVERIFY(m_churn().change());
            if (i == 0) {
                QVERIFY(m_store->setPinned(taken[0], true));
            }
        }
        // kept: the pinned first one and the two newest
        std::vector<int64_t> kept;
        for (const auto &s : snapshotsOf(id)) {
            kept.push_back(s.id);
        }
        QCOMPARE(kept, (std::vector<int64_t> {taken[0], taken[3], taken[4]}));
        QVERIFY(m_store->snapshot(manualTaken->id)); // never the schedule's to remove
        QCOMPARE(m_store->list()->size(), size_t(4));
        // what was removed left a store that checks clean and rebuilds
        auto check = m_store->check({});
        QVERIFY(check);
        QVERIFY(check->ok());
    }

    void sizeCapCountsTheTarget()
    {
        Schedule s = everyMinute(10);
        s.retention.maxBytes = 1; // smaller than any snapshot: only the newest stays
        const int64_t id = add(s);
        for (int i = 0; i < 3; ++i) {
            m_now += kMinute;
            auto runs = runDue();
            QCOMPARE(runs.size(), size_t(1));
            QVERIFY2(runs[0].outcome == ScheduleRun::Outcome::Taken, runs[0].message.c_str());
            QCOMPARE(snapshotsOf(id).size(), size_t(1));
            QCOMPARE(snapshotsOf(id).front().id, runs[0].snapshotId);
            QVERIFY(m_churn().change());
        }
        // gc gave the space back: only the live snapshot's chunks are left
        auto stats = m_store->stats();
        QVERIFY(stats);
        QCOMPARE(stats->chunks, stats->liveChunks);
    }

    void targetGoneIsSkipped()
    {
        const int64_t id = add(everyMinute());
        const pid_t pid = m_churn().pid();
        m_churn().kill();
        QVERIFY(stateOf(pid) == 0);
        m_now += kMinute;
        auto runs = runDue();
        QCOMPARE(runs.size(), size_t(1));
        QVERIFY(runs[0].outcome == ScheduleRun::Outcome::Skipped);
        QVERIFY2(runs[0].message.find("target gone: process " + std::to_string(pid)) == 0, runs[0].message.c_str());
        QCOMPARE(snapshotsOf(id).size(), size_t(0));
        QCOMPARE(get(id).failures, 0); // not a failure
        QCOMPARE(get(id).nextRunNs, m_now + kMinute);
        // a series of skips is one record; the schedule keeps its rhythm
        m_now += kMinute;
        QCOMPARE(runDue().size(), size_t(1));
        m_now += kMinute;
        QCOMPARE(runDue().size(), size_t(1));
        auto recorded = ScheduleStore(m_store->database()).runs(id);
        QCOMPARE(recorded->size(), size_t(1));
        QVERIFY(recorded->front().outcome == ScheduleRun::Outcome::Skipped);
        QCOMPARE(get(id).lastRunNs, m_now);
    }

    void failureBacksOff()
    {
        Schedule s = everyMinute();
        s.timing.intervalSeconds = 10; // shorter than the back-off
        s.nextRunNs = m_now + 10 * kSecond;
        const int64_t id = add(s);
        // someone else traces the process: the engine cannot seize it
        const pid_t pid = m_churn().pid();
        QCOMPARE(::ptrace(PTRACE_SEIZE, pid, nullptr, nullptr), 0L);
        m_now += 10 * kSecond;
        auto runs = runDue();
        QCOMPARE(runs.size(), size_t(1));
        QVERIFY(runs[0].outcome == ScheduleRun::Outcome::Failed);
        QVERIFY(!runs[0].message.empty());
        QCOMPARE(get(id).failures, 1);
        QCOMPARE(get(id).nextRunNs, m_now + kMinute); // base back-off, not the 10 s interval
        QVERIFY(stateOf(pid) != 't' && stateOf(pid) != 'T');
        // no retry before the back-off has passed
        for (int i = 0; i < 5; ++i) {
            m_now += 10 * kSecond;
            QCOMPARE(runDue().size(), size_t(0));
        }
        m_now += 10 * kSecond;
        runs = runDue();
        QCOMPARE(runs.size(), size_t(1));
        QVERIFY(runs[0].outcome == ScheduleRun::Outcome::Failed);
        QCOMPARE(get(id).failures, 2);
        QCOMPARE(get(id).nextRunNs, m_now + 2 * kMinute); // doubled
        QCOMPARE(m_runner->backoffNs(3), 4 * kMinute);
        QCOMPARE(m_runner->backoffNs(4), 8 * kMinute);
        QCOMPARE(m_runner->backoffNs(30), 8 * kMinute); // at most the maximum
        // the failures are on record
        auto recorded = ScheduleStore(m_store->database()).runs(id);
        QCOMPARE(recorded->size(), size_t(2));
        QVERIFY(recorded->front().outcome == ScheduleRun::Outcome::Failed);
        QCOMPARE(recorded->front().message, runs[0].message);
        // the tracer goes: the next attempt succeeds and the rhythm is back
        // (a seized tracee is detached from a ptrace stop)
        QCOMPARE(::ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr), 0L);
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, __WALL), pid);
        QCOMPARE(::ptrace(PTRACE_DETACH, pid, nullptr, nullptr), 0L);
        m_now += 2 * kMinute;
        runs = runDue();
        QCOMPARE(runs.size(), size_t(1));
        QVERIFY2(runs[0].outcome == ScheduleRun::Outcome::Taken, runs[0].message.c_str());
        QCOMPARE(get(id).failures, 0);
        QCOMPARE(get(id).nextRunNs, m_now + 10 * kSecond);
        QVERIFY(m_churn().change()); // alive and well
    }
};

QTEST_GUILESS_MAIN(ScheduleRunnerTest)
#include "schedulerunnertest.moc"
