// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Runs the due schedules of a store: finds the target, takes the snapshot
// through an ImageProducer (the helper's, like `cryopodctl snapshot`, or the
// in-process engine's), applies the schedule's retention, and records the
// run. The clock is injected, so tests move time instead of sleeping.
//
//   due        enabled and next_run_at <= now: runs once
//   missed     a schedule due long ago (suspend, logout) runs once, not once
//              per missed time; the run records when it was due
//   gone       the target is not running: a skipped run is recorded (once
//              for a series of skips) and the next time is planned as usual
//   failure    the failed run is recorded; the next attempt waits
//              backoff(failures in a row): base * 2^(n-1), at most max, and
//              never earlier than the schedule's own next time
//   success    retention: the schedule's snapshots the policy does not keep
//              are deleted (pinned ones never; other snapshots never)
//
// ScheduleService wraps it in a QTimer for `cryopod --background` and
// `cryopodctl schedule run --for`.
#pragma once

#include "imagetransport.h"
#include "retention.h"
#include "schedulestore.h"

#include <QLockFile>
#include <QObject>
#include <QTimer>

#include <functional>
#include <memory>
#include <optional>
#include <sys/types.h>
#include <vector>

namespace cryopod::store
{
class SnapshotStore;
}

namespace cryopod::schedule
{

class SnapshotTaker
{
public:
    virtual ~SnapshotTaker() = default;
    // A snapshot of pid for the schedule, stored with origin "schedule" and
    // the schedule's id; returns the snapshot's id.
    virtual Result<int64_t> take(store::SnapshotStore &store, const Schedule &schedule, pid_t pid) = 0;
};

// Through an ImageProducer made per snapshot (SnapshotJob::take).
class ProducerTaker : public SnapshotTaker
{
public:
    using Factory = std::function<std::unique_ptr<store::ImageProducer>(const Schedule &)>;
    explicit ProducerTaker(Factory factory);
    Result<int64_t> take(store::SnapshotStore &store, const Schedule &schedule, pid_t pid) override;

private:
    Factory m_factory;
};

struct RunnerOptions {
    ScheduleZone zone; // for the calendar kinds
    PeriodsOf periods = localPeriods(); // for retention
    int64_t backoffBaseNs = 60LL * 1000000000; // after the first failure
    int64_t backoffMaxNs = 6LL * 3600 * 1000000000;
    int64_t missedAfterNs = 60LL * 1000000000; // later than this past its time: a missed run
};

class ScheduleRunner
{
public:
    using Clock = std::function<int64_t()>; // ns since the epoch
    using Resolver = std::function<std::optional<pid_t>(const ScheduleTarget &)>;

    ScheduleRunner(store::SnapshotStore &store, SnapshotTaker &taker, Clock clock, RunnerOptions options = {}, Resolver resolver = {});

    // Runs every enabled schedule that is due now, once each.
    Result<std::vector<ScheduleRun>> runDue();
    // The earliest next run of an enabled schedule.
    Result<std::optional<int64_t>> nextRun();
    // Deletes the schedule's snapshots its policy does not keep; returns how many.
    Result<int64_t> applyRetention(const Schedule &schedule);
    // The delay before the attempt after `failures` failed runs in a row.
    int64_t backoffNs(int failures) const;

    int64_t now() const
    {
        return m_clock();
    }

private:
    Result<ScheduleRun> runOne(const Schedule &schedule, int64_t now);

    store::SnapshotStore &m_store;
    SnapshotTaker &m_taker;
    Clock m_clock;
    RunnerOptions m_options;
    Resolver m_resolver;
};

// One runner per store at a time (`cryopod --background`, `cryopodctl
// schedule run`): a lock file in the store directory, released when the
// returned lock goes. Fails (EBUSY) naming the process that runs them.
Result<std::unique_ptr<QLockFile>> lockRunner(const store::SnapshotStore &store);

// The runner on a timer: wakes at the next due time (and at least every
// minute, so that schedules added by other programs and a clock that jumped
// after a suspend are noticed), runs what is due, reports.
class ScheduleService : public QObject
{
    Q_OBJECT
public:
    ScheduleService(store::SnapshotStore &store, SnapshotTaker &taker, ScheduleRunner::Clock clock, RunnerOptions options = {}, QObject *parent = nullptr);
    ~ScheduleService() override;

    void start();
    // The pause switch: no schedule runs while paused (they catch up once on resume).
    void setPaused(bool paused);
    bool isPaused() const
    {
        return m_paused;
    }
    std::optional<int64_t> nextRun() const
    {
        return m_next;
    }
    ScheduleRunner &runner()
    {
        return m_runner;
    }
    // Runs what is due now and re-arms the timer.
    void poll();

Q_SIGNALS:
    void ran(const cryopod::schedule::ScheduleRun &run);
    void runFailed(qint64 scheduleId, const QString &message);
    void nextRunChanged();
    void error(const QString &message);

private:
    void arm();

    ScheduleRunner m_runner;
    QTimer m_timer;
    bool m_paused = false;
    std::optional<int64_t> m_next;
};

} // namespace cryopod::schedule
