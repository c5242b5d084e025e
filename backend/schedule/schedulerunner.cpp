// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "schedulerunner.h"

#include "bulkcodec.h"
#include "imagewriter.h"
#include "schedulematch.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "targetprobe.h"

#include <QLoggingCategory>

#include <algorithm>
#include <format>

Q_LOGGING_CATEGORY(lcSchedule, "cryopod.backend.schedule")

namespace cryopod::schedule
{

namespace
{
std::string goneMessage(const ScheduleTarget &t)
{
    if (t.kind == ScheduleTarget::Kind::Process) {
        return std::format("target gone: process {} (started {}) is not running", t.pid, store::formatTime(t.startTimeNs));
    }
    return std::format("target gone: no process of uid {} runs {}{}", t.uid, t.exe,
                       t.argsRegex.empty() ? std::string() : " with arguments matching /" + t.argsRegex + "/");
}
} // namespace

ProducerTaker::ProducerTaker(Factory factory)
    : m_factory(std::move(factory))
{
}

Result<int64_t> ProducerTaker::take(store::SnapshotStore &store, const Schedule &schedule, pid_t pid)
{
    auto target = store::TargetProbe::probe(pid);
    if (!target) {
        return std::unexpected(target.error());
    }
    store::IngestOptions options;
    options.target = *target;
    options.origin = "schedule";
    options.scheduleId = schedule.id;
    options.label = schedule.name;
    options.encodingHint = image::bulkEncodingOf(image::WriterOptions {});
    auto producer = m_factory(schedule);
    if (!producer) {
        return fail(std::string("snapshot mode '") + modeName(schedule.mode) + "' is not supported", ENOTSUP);
    }
    auto taken = store::SnapshotJob::take(store, *producer, pid, options);
    if (!taken) {
        return std::unexpected(taken.error());
    }
    return taken->id;
}

ScheduleRunner::ScheduleRunner(store::SnapshotStore &store, SnapshotTaker &taker, Clock clock, RunnerOptions options, Resolver resolver)
    : m_store(store)
    , m_taker(taker)
    , m_clock(std::move(clock))
    , m_options(std::move(options))
    , m_resolver(resolver ? std::move(resolver) : Resolver(&ScheduleMatch::resolve))
{
}

int64_t ScheduleRunner::backoffNs(int failures) const
{
    if (failures <= 0) {
        return 0;
    }
    int64_t delay = m_options.backoffBaseNs;
    for (int i = 1; i < failures && delay < m_options.backoffMaxNs; ++i) {
        delay *= 2;
    }
    return std::min(delay, m_options.backoffMaxNs);
}

Result<std::optional<int64_t>> ScheduleRunner::nextRun()
{
    ScheduleStore schedules(m_store.database());
    auto all = schedules.list();
    if (!all) {
        return std::unexpected(all.error());
    }
    std::optional<int64_t> next;
    for (const Schedule &s : *all) {
        if (s.enabled && (!next || s.nextRunNs < *next)) {
            next = s.nextRunNs;
        }
    }
    return next;
}

Result<std::vector<ScheduleRun>> ScheduleRunner::runDue()
{
    ScheduleStore schedules(m_store.database());
    auto all = schedules.list();
    if (!all) {
        return std::unexpected(all.error());
    }
    std::vector<ScheduleRun> out;
    for (const Schedule &listed : *all) {
        const int64_t now = m_clock();
        if (!listed.enabled || listed.nextRunNs > now) {
            continue;
        }
        // as it is now: another program may have paused or removed it while an earlier one ran
        auto current = schedules.get(listed.id);
        if (!current && current.error().code == ENOENT) {
            continue;
        }
        if (!current) {
            return std::unexpected(current.error());
        }
        const Schedule &s = *current;
        if (!s.enabled || s.nextRunNs > now) {
            continue;
        }
        auto run = runOne(s, now);
        if (!run) {
            return std::unexpected(run.error().context(std::format("run schedule {}", s.id)));
        }
        out.push_back(*run);
    }
    return out;
}

Result<ScheduleRun> ScheduleRunner::runOne(const Schedule &s, int64_t now)
{
    ScheduleStore schedules(m_store.database());
    ScheduleRun run;
    run.scheduleId = s.id;
    run.atNs = now;
    run.dueNs = s.nextRunNs;
    // a missed run (or several) is caught up once: the next time counts from now
    int64_t next = nextDue(s.timing, now, m_options.zone);
    int failures = s.failures;
    const std::optional<pid_t> pid = m_resolver(s.target);
    bool record = true;
    if (!pid) {
        run.outcome = ScheduleRun::Outcome::Skipped;
        run.message = goneMessage(s.target);
        // a series of skips is recorded once
        auto last = schedules.runs(s.id, 1);
        if (last && !last->empty() && last->front().outcome == ScheduleRun::Outcome::Skipped && last->front().message == run.message) {
            record = false;
        }
        qCDebug(lcSchedule) << "schedule" << s.id << "skipped:" << run.message.c_str();
    } else {
        run.pid = int32_t(*pid);
        auto taken = m_taker.take(m_store, s, *pid);
        if (taken) {
            run.outcome = ScheduleRun::Outcome::Taken;
            run.snapshotId = *taken;
            failures = 0;
            auto removed = applyRetention(s);
            if (removed) {
                run.removed = *removed;
            } else {
                run.message = "retention failed: " + removed.error().describe();
            }
        } else {
            run.outcome = ScheduleRun::Outcome::Failed;
            run.message = taken.error().describe();
            ++failures;
            next = std::max(next, now + backoffNs(failures));
            qCWarning(lcSchedule) << "schedule" << s.id << "failed" << failures << "times in a row:" << run.message.c_str();
        }
    }
    // The run and the schedule's next time together: a reader never sees
    // the run recorded with the schedule still due.
    auto transaction = store::SqliteTransaction::begin(m_store.database());
    if (!transaction) {
        return std::unexpected(transaction.error().context(std::format("record a run of schedule {}", s.id)));
    }
    if (record) {
        auto id = schedules.recordRun(run);
        if (!id) {
            return std::unexpected(id.error());
        }
        run.id = *id;
    }
    CRYOPOD_PROPAGATE(schedules.setRunState(s.id, next, failures, now));
    CRYOPOD_PROPAGATE(transaction->commit());
    return run;
}

Result<int64_t> ScheduleRunner::applyRetention(const Schedule &s)
{
    store::SnapshotFilter filter;
    filter.scheduleId = s.id;
    auto mine = m_store.list(filter);
    if (!mine) {
        return std::unexpected(mine.error());
    }
    if (mine->empty()) {
        return 0;
    }
    std::vector<RetentionItem> items;
    items.reserve(mine->size());
    for (const store::SnapshotInfo &snap : *mine) {
        items.push_back({snap.id, snap.createdAtNs, snap.storedBytes, snap.pinned});
    }
    // the size cap counts the target's other snapshots too (the newest snapshot's target)
    uint64_t otherBytes = 0;
    if (s.retention.maxBytes > 0) {
        store::SnapshotFilter targetFilter;
        targetFilter.targetId = mine->back().targetId;
        auto all = m_store.list(targetFilter);
        if (!all) {
            return std::unexpected(all.error());
        }
        for (const store::SnapshotInfo &snap : *all) {
            if (snap.scheduleId != s.id) {
                otherBytes += snap.storedBytes;
            }
        }
    }
    const RetentionResult result = cryopod::schedule::applyRetention(items, s.retention, m_options.periods, otherBytes);
    int64_t removed = 0;
    for (int64_t id : result.removed()) {
        if (auto ok = m_store.remove(id); !ok) {
            return std::unexpected(ok.error().context(std::format("retention of schedule {}", s.id)));
        }
        ++removed;
    }
    if (removed > 0 && s.retention.maxBytes > 0) {
        // the cap is about disk space: give it back now (a store busy with another snapshot waits for the next run)
        if (auto gc = m_store.gc(); !gc) {
            qCDebug(lcSchedule) << "gc after retention:" << gc.error().describe().c_str();
        }
    }
    return removed;
}

Result<std::unique_ptr<QLockFile>> lockRunner(const store::SnapshotStore &store)
{
    auto lock = std::make_unique<QLockFile>(QString::fromStdString(store.directory()) + QStringLiteral("/schedules.lock"));
    lock->setStaleLockTime(0); // a lock whose process died is stale whatever its age
    if (!lock->tryLock(0)) {
        qint64 pid = 0;
        QString host;
        QString app;
        lock->getLockInfo(&pid, &host, &app);
        return fail(std::format("the schedules of {} are already run by process {} ({})", store.directory(), pid, app.toStdString()), EBUSY);
    }
    return lock;
}

ScheduleService::ScheduleService(store::SnapshotStore &store, SnapshotTaker &taker, ScheduleRunner::Clock clock, RunnerOptions options, QObject *parent)
    : QObject(parent)
    , m_runner(store, taker, std::move(clock), std::move(options))
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &ScheduleService::poll);
}

ScheduleService::~ScheduleService() = default;

void ScheduleService::start()
{
    poll();
}

void ScheduleService::setPaused(bool paused)
{
    if (m_paused == paused) {
        return;
    }
    m_paused = paused;
    poll();
}

void ScheduleService::poll()
{
    if (!m_paused) {
        auto runs = m_runner.runDue();
        if (!runs) {
            Q_EMIT error(QString::fromStdString(runs.error().describe()));
        } else {
            for (const ScheduleRun &run : *runs) {
                Q_EMIT ran(run);
                if (run.outcome == ScheduleRun::Outcome::Failed) {
                    Q_EMIT runFailed(run.scheduleId, QString::fromStdString(run.message));
                }
            }
        }
    }
    arm();
}

void ScheduleService::arm()
{
    auto next = m_runner.nextRun();
    const std::optional<int64_t> before = m_next;
    m_next = next ? *next : std::nullopt;
    if (m_next != before) {
        Q_EMIT nextRunChanged();
    }
    constexpr int64_t kMaxSleepMs = 60000;
    int64_t delayMs = kMaxSleepMs;
    if (m_next && !m_paused) {
        delayMs = std::clamp<int64_t>((*m_next - m_runner.now()) / 1000000 + 1, 0, kMaxSleepMs);
    }
    m_timer.start(int(delayMs));
}

} // namespace cryopod::schedule
