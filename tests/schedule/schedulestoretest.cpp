// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Schedules in a real store index: timing (parse, describe, next due time
// at the edges of hours, days, weeks, daylight saving), the schedules and
// runs tables (add, list, pause, resume, edit, remove, validation, runs newest
// first, a removed schedule's snapshots stay), and matching targets to real
// processes (start time, zombies, rules by executable, arguments, owner).

#include "schedulestore.h"
#include "schedulematch.h"
#include "scheduletestsupport.h"
#include "scheduletiming.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::schedule;
using namespace ScheduleTestSupport;

namespace
{
ScheduleTiming parsed(const char *text)
{
    auto t = ScheduleTiming::parse(text);
    if (!t) {
        qWarning("%s: %s", text, t.error().describe().c_str());
        return {};
    }
    return *t;
}

// A /bin/sleep child with fds 0-2 on /dev/null; killed and reaped by the destructor.
struct Sleeper {
    pid_t pid = 0;
    explicit Sleeper(const char *seconds)
    {
        pid = ::fork();
        if (pid == 0) {
            ::execl("/bin/sleep", "sleep", seconds, static_cast<char *>(nullptr));
            ::_exit(127);
        }
        // wait until it runs sleep (its exe is no longer ours)
        for (int i = 0; i < 500; ++i) {
            char exe[256] = {};
            if (::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), exe, sizeof exe - 1) > 0 && std::string(exe).ends_with("/sleep")) {
                break;
            }
            ::usleep(2000);
        }
    }
    void kill(bool reap)
    {
        ::kill(pid, SIGKILL);
        if (reap) {
            ::waitpid(pid, nullptr, 0);
            pid = 0;
        } else {
            // a zombie until reaped
            for (int i = 0; i < 500; ++i) {
                siginfo_t info {};
                if (::waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_pid == pid) {
                    break;
                }
                ::usleep(2000);
            }
        }
    }
    ~Sleeper()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

std::string sleepPath()
{
    char exe[256] = {};
    Sleeper probe("60");
    ::readlink(("/proc/" + std::to_string(probe.pid) + "/exe").c_str(), exe, sizeof exe - 1);
    return exe;
}
} // namespace

class ScheduleStoreTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    }

    void timingParsesAndDescribes_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("described");
        QTest::newRow("seconds") << "every 90s" << "every 90s";
        QTest::newRow("minutes") << "every 5m" << "every 5m";
        QTest::newRow("min") << "every 15min" << "every 15m";
        QTest::newRow("bare minutes") << "every 10" << "every 10m";
        QTest::newRow("hours") << "Every 2h" << "every 2h";
        QTest::newRow("day") << "every 1d" << "every 24h";
        QTest::newRow("hourly") << "hourly" << "hourly at :00";
        QTest::newRow("hourly at") << "hourly at :07" << "hourly at :07";
        QTest::newRow("daily") << "daily 03:30" << "daily at 03:30";
        QTest::newRow("daily at") << "daily at 23:59" << "daily at 23:59";
        QTest::newRow("weekly") << "weekly mon 09:00" << "weekly on Mon at 09:00";
        QTest::newRow("weekly long") << "weekly on Sunday at 00:00" << "weekly on Sun at 00:00";
    }

    void timingParsesAndDescribes()
    {
        QFETCH(QString, text);
        QFETCH(QString, described);
        auto t = ScheduleTiming::parse(text.toStdString());
        QVERIFY2(t, t ? "" : t.error().describe().c_str());
        QCOMPARE(QString::fromStdString(t->describe()), described);
        // describe() parses back to the same timing
        auto again = ScheduleTiming::parse(t->describe());
        QVERIFY(again);
        QVERIFY(*again == *t);
    }

    void timingRefusesNonsense_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("empty") << "" << "no schedule given";
        QTest::newRow("zero") << "every 0m" << "not a positive interval";
        QTest::newRow("negative") << "every -5m" << "not a positive interval";
        QTest::newRow("unit") << "every 5y" << "the unit of an interval";
        QTest::newRow("too long") << "every 400d" << "between 1 second and a year";
        QTest::newRow("hour 24") << "daily 24:00" << "not a time of day";
        QTest::newRow("minute 60") << "daily 10:60" << "not a time of day";
        QTest::newRow("no colon") << "daily 1030" << "not a time of day";
        QTest::newRow("hourly 60") << "hourly 60" << "a minute 0 to 59";
        QTest::newRow("weekday") << "weekly funday 10:00" << "not a day of the week";
        QTest::newRow("weekly no time") << "weekly mon" << "is not a schedule";
        QTest::newRow("words") << "now and then" << "is not a schedule";
    }

    void timingRefusesNonsense()
    {
        QFETCH(QString, text);
        QFETCH(QString, message);
        auto t = ScheduleTiming::parse(text.toStdString());
        QVERIFY(!t);
        QVERIFY2(QString::fromStdString(t.error().message).contains(message), t.error().message.c_str());
        QCOMPARE(t.error().code, EINVAL);
    }

    void nextDueAtEdges()
    {
        const ScheduleZone zone {0};
        // an interval counts from the time given
        QCOMPARE(nextDue(parsed("every 90s"), utc(2026, 1, 1, 10), zone), utc(2026, 1, 1, 10, 1, 30));
        // hourly at :15: strictly after, so a run at :15:00 plans the next hour
        const ScheduleTiming hourly = parsed("hourly 15");
        QCOMPARE(nextDue(hourly, utc(2026, 1, 1, 10, 14, 59), zone), utc(2026, 1, 1, 10, 15));
        QCOMPARE(nextDue(hourly, utc(2026, 1, 1, 10, 15), zone), utc(2026, 1, 1, 11, 15));
        QCOMPARE(nextDue(hourly, utc(2026, 12, 31, 23, 30), zone), utc(2027, 1, 1, 0, 15));
        // daily across midnight and the end of a leap February
        const ScheduleTiming daily = parsed("daily 03:30");
        QCOMPARE(nextDue(daily, utc(2028, 2, 28, 12), zone), utc(2028, 2, 29, 3, 30));
        QCOMPARE(nextDue(daily, utc(2028, 2, 29, 3, 30), zone), utc(2028, 3, 1, 3, 30));
        QCOMPARE(nextDue(daily, utc(2028, 2, 29, 3, 29, 59), zone), utc(2028, 2, 29, 3, 30));
        // at UTC+2, 03:30 local is 01:30 UTC
        QCOMPARE(nextDue(daily, utc(2026, 6, 1, 2), ScheduleZone {7200}), utc(2026, 6, 2, 1, 30));
        // weekly: 2026-12-07 is a Monday
        const ScheduleTiming weekly = parsed("weekly mon 09:00");
        QCOMPARE(nextDue(weekly, utc(2026, 12, 7, 8, 59), zone), utc(2026, 12, 7, 9));
        QCOMPARE(nextDue(weekly, utc(2026, 12, 7, 9), zone), utc(2026, 12, 14, 9));
        QCOMPARE(nextDue(weekly, utc(2026, 12, 9, 12), zone), utc(2026, 12, 14, 9));
        QCOMPARE(nextDue(parsed("weekly sun 23:59"), utc(2026, 12, 7), zone), utc(2026, 12, 13, 23, 59));
        // at UTC-5 Monday 09:00 local is 14:00 UTC
        QCOMPARE(nextDue(weekly, utc(2026, 12, 7, 12), ScheduleZone {-5 * 3600}), utc(2026, 12, 7, 14));
    }

    void nextDueInTheLocalZone()
    {
        // Europe/Berlin as a POSIX rule (no tzdata needed): CET, CEST from the
        // last Sunday of March 02:00 to the last Sunday of October 03:00
        qputenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3");
        tzset();
        const ScheduleTiming daily = parsed("daily 02:30");
        // 2026-03-29: 02:30 does not exist; mktime moves it to 03:30 CEST = 01:30 UTC
        QCOMPARE(nextDue(daily, utc(2026, 3, 28, 12), {}), utc(2026, 3, 29, 1, 30));
        // winter: 02:30 CET = 01:30 UTC; summer: 02:30 CEST = 00:30 UTC
        QCOMPARE(nextDue(daily, utc(2026, 1, 10, 12), {}), utc(2026, 1, 11, 1, 30));
        QCOMPARE(nextDue(daily, utc(2026, 7, 10, 12), {}), utc(2026, 7, 11, 0, 30));
        QCOMPARE(nextDue(parsed("hourly 0"), utc(2026, 7, 10, 12, 0, 1), {}), utc(2026, 7, 10, 13));
        qunsetenv("TZ");
        tzset();
    }

    void schedulesInTheIndex()
    {
        QTemporaryDir dir;
        auto store = store::SnapshotStore::open(dir.path().toStdString());
        QVERIFY(store);
        ScheduleStore schedules((*store)->database());
        QVERIFY(schedules.list()->empty());

        Schedule s;
        s.name = "build";
        s.target.kind = ScheduleTarget::Kind::Process;
        s.target.pid = 4242;
        s.target.startTimeNs = 77;
        s.target.exe = "/usr/bin/make";
        s.target.uid = 1000;
        s.timing = parsed("daily 03:30");
        s.mode = SnapshotMode::Freeze;
        s.retention = RetentionPolicy {3, 24, 7, 4, 12, 1 << 30};
        s.createdAtNs = 100;
        s.nextRunNs = 200;
        auto id = schedules.add(s);
        QVERIFY2(id, id ? "" : id.error().describe().c_str());
        Schedule rule;
        rule.target.kind = ScheduleTarget::Kind::Rule;
        rule.target.exe = "/usr/bin/python3";
        rule.target.argsRegex = "train\\.py";
        rule.target.uid = 1000;
        rule.timing = parsed("every 10m");
        rule.createdAtNs = 100;
        rule.nextRunNs = 300;
        auto ruleId = schedules.add(rule);
        QVERIFY(ruleId);

        auto got = schedules.get(*id);
        QVERIFY(got);
        QCOMPARE(got->name, s.name);
        QCOMPARE(got->target.pid, 4242);
        QCOMPARE(got->target.startTimeNs, int64_t(77));
        QCOMPARE(got->target.exe, s.target.exe);
        QVERIFY(got->timing == s.timing);
        QVERIFY(got->mode == SnapshotMode::Freeze);
        QVERIFY(got->retention == s.retention);
        QVERIFY(got->enabled);
        QCOMPARE(got->nextRunNs, int64_t(200));
        auto r = schedules.get(*ruleId);
        QVERIFY(r->target.kind == ScheduleTarget::Kind::Rule);
        QCOMPARE(r->target.argsRegex, rule.target.argsRegex);
        QCOMPARE(schedules.list()->size(), size_t(2));

        QVERIFY(schedules.setEnabled(*id, false));
        QVERIFY(!schedules.get(*id)->enabled);
        QVERIFY(schedules.setEnabled(*id, true));
        QVERIFY(schedules.setRunState(*id, 900, 3, 800));
        QCOMPARE(schedules.get(*id)->failures, 3);
        QCOMPARE(schedules.get(*id)->lastRunNs, int64_t(800));
        QCOMPARE(schedules.get(*id)->nextRunNs, int64_t(900));
        auto missing = schedules.setEnabled(999, false);
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ENOENT);

        // runs, newest first, per schedule
        for (int i = 0; i < 3; ++i) {
            ScheduleRun run;
            run.scheduleId = *id;
            run.atNs = 1000 + i;
            run.dueNs = 1000;
            run.outcome = i == 1 ? ScheduleRun::Outcome::Skipped : ScheduleRun::Outcome::Failed;
            run.message = "run " + std::to_string(i);
            QVERIFY(schedules.recordRun(run));
        }
        ScheduleRun other;
        other.scheduleId = *ruleId;
        other.atNs = 5000;
        QVERIFY(schedules.recordRun(other));
        auto runs = schedules.runs(*id);
        QCOMPARE(runs->size(), size_t(3));
        QCOMPARE(runs->front().message, std::string("run 2"));
        QVERIFY(runs->at(1).outcome == ScheduleRun::Outcome::Skipped);
        QCOMPARE(schedules.runs(0)->size(), size_t(4));
        QCOMPARE(schedules.runs(0, 1)->front().scheduleId, *ruleId);
        // a run's snapshot must exist
        ScheduleRun dangling = other;
        dangling.snapshotId = 12345;
        QVERIFY(!schedules.recordRun(dangling));

        // removing takes the runs with it
        QVERIFY(schedules.remove(*id));
        QVERIFY(!schedules.get(*id));
        QCOMPARE(schedules.runs(*id)->size(), size_t(0));
        QCOMPARE(schedules.list()->size(), size_t(1));
        QCOMPARE(schedules.remove(*id).error().code, ENOENT);
    }

    void validation()
    {
        QTemporaryDir dir;
        auto store = store::SnapshotStore::open(dir.path().toStdString());
        QVERIFY(store);
        ScheduleStore schedules((*store)->database());
        Schedule good;
        good.target.pid = 1;
        good.target.startTimeNs = 1;
        good.timing = parsed("every 1m");
        good.nextRunNs = 1;
        QVERIFY(schedules.add(good));
        auto refused = [&](auto change, const char *message) {
            Schedule s = good;
            change(s);
            auto r = schedules.add(s);
            QVERIFY(!r);
            QVERIFY2(r.error().message.find(message) != std::string::npos, r.error().message.c_str());
        };
        refused([](Schedule &s) { s.target.startTimeNs = 0; }, "start time");
        refused(
            [](Schedule &s) {
                s.target.kind = ScheduleTarget::Kind::Rule;
                s.target.exe = "sleep";
            },
            "absolute path");
        refused([](Schedule &s) { s.timing.intervalSeconds = 0; }, "between 1 second");
        refused([](Schedule &s) { s.retention.daily = -1; }, "retention count");
        refused([](Schedule &s) { s.nextRunNs = 0; }, "first due time");
        QCOMPARE(schedules.list()->size(), size_t(1));
    }

    // An edit changes what it says and nothing else (the id, target,
    // creation time, runs, failures stay); a bad value changes nothing.
    void editInPlace()
    {
        QTemporaryDir dir;
        auto store = store::SnapshotStore::open(dir.path().toStdString());
        QVERIFY(store);
        ScheduleStore schedules((*store)->database());
        Schedule s;
        s.name = "build";
        s.target.pid = 4242;
        s.target.startTimeNs = 77;
        s.target.exe = "/usr/bin/make";
        s.target.uid = 1000;
        s.timing = parsed("daily 03:30");
        s.retention = RetentionPolicy {3, 24, 7, 4, 12, 1 << 30};
        s.createdAtNs = 100;
        s.nextRunNs = 200;
        auto id = schedules.add(s);
        QVERIFY(id);
        Schedule other = s;
        other.name = "other";
        auto otherId = schedules.add(other);
        QVERIFY(otherId);
        QVERIFY(schedules.setRunState(*id, 200, 2, 150));
        ScheduleRun run;
        run.scheduleId = *id;
        run.atNs = 150;
        run.dueNs = 140;
        run.outcome = ScheduleRun::Outcome::Skipped;
        run.message = "not running";
        QVERIFY(schedules.recordRun(run));
        const Schedule before = *schedules.get(*id);

        auto same = [](const Schedule &a, const Schedule &b) {
            return a.id == b.id && a.name == b.name && a.target.kind == b.target.kind && a.target.pid == b.target.pid &&
                a.target.startTimeNs == b.target.startTimeNs && a.target.exe == b.target.exe && a.target.argsRegex == b.target.argsRegex &&
                a.target.uid == b.target.uid && a.timing == b.timing && a.mode == b.mode && a.enabled == b.enabled && a.retention == b.retention &&
                a.createdAtNs == b.createdAtNs && a.nextRunNs == b.nextRunNs && a.lastRunNs == b.lastRunNs && a.failures == b.failures;
        };

        // the name and one retention count: the next run stays
        ScheduleEdit rename;
        rename.name = "nightly build";
        rename.daily = 30;
        auto edited = schedules.edit(*id, rename, 1000);
        QVERIFY2(edited, edited ? "" : edited.error().describe().c_str());
        Schedule expected = before;
        expected.name = "nightly build";
        expected.retention.daily = 30;
        QVERIFY(same(*edited, expected));
        QVERIFY(same(*schedules.get(*id), expected));

        // a new timing: due at its next time after now
        const int64_t now = utc(2026, 7, 10, 12, 0, 0);
        ScheduleEdit retime;
        retime.timing = parsed("every 10m");
        retime.enabled = false;
        retime.maxBytes = 0;
        edited = schedules.edit(*id, retime, now);
        QVERIFY(edited);
        expected.timing = parsed("every 10m");
        expected.enabled = false;
        expected.retention.maxBytes = 0;
        expected.nextRunNs = nextDue(expected.timing, now);
        QVERIFY(expected.nextRunNs > now);
        QVERIFY(same(*schedules.get(*id), expected));
        // its runs and the other schedule are untouched
        QCOMPARE(schedules.runs(*id)->size(), size_t(1));
        QCOMPARE(schedules.runs(*id)->front().message, std::string("not running"));
        other.id = *otherId;
        QVERIFY(same(*schedules.get(*otherId), other));

        // enabling it again after its next run passed: due from now on
        ScheduleEdit enable;
        enable.enabled = true;
        const int64_t later = now + 3 * kHour;
        QVERIFY(schedules.edit(*id, enable, later));
        expected.enabled = true;
        expected.nextRunNs = nextDue(expected.timing, later);
        QVERIFY(same(*schedules.get(*id), expected));

        // bad values: refused, nothing changed
        auto refused = [&](const ScheduleEdit &e, const char *message) {
            auto r = schedules.edit(*id, e, later);
            QVERIFY(!r);
            QVERIFY2(r.error().message.find(message) != std::string::npos, r.error().message.c_str());
            QVERIFY(same(*schedules.get(*id), expected));
        };
        ScheduleEdit bad;
        bad.name = "never";
        bad.keepLast = 1;
        bad.weekly = -1;
        refused(bad, "retention count");
        bad = {};
        bad.name = "never";
        bad.timing = expected.timing;
        bad.timing->intervalSeconds = 0;
        refused(bad, "between 1 second");
        bad = {};
        bad.maxBytes = uint64_t(INT64_MAX) + 1;
        refused(bad, "size cap");

        auto missing = schedules.edit(999, rename, later);
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ENOENT);
    }

    void processTargets()
    {
        Sleeper sleeper("600");
        auto target = ScheduleMatch::processTarget(sleeper.pid);
        QVERIFY2(target, target ? "" : target.error().describe().c_str());
        QCOMPARE(target->pid, int32_t(sleeper.pid));
        QVERIFY(target->startTimeNs > 0);
        QCOMPARE(target->uid, uint32_t(::getuid()));
        QVERIFY(QString::fromStdString(target->exe).endsWith(QLatin1String("/sleep")));
        QCOMPARE(ScheduleMatch::resolve(*target), std::optional<pid_t>(sleeper.pid));
        // the same pid with another start time is another process
        ScheduleTarget reused = *target;
        reused.startTimeNs += 5 * kSecond;
        QCOMPARE(ScheduleMatch::resolve(reused), std::nullopt);
        reused.startTimeNs -= 10 * kSecond;
        QCOMPARE(ScheduleMatch::resolve(reused), std::nullopt);
        // a zombie is gone
        sleeper.kill(false);
        QCOMPARE(ScheduleMatch::resolve(*target), std::nullopt);
        QVERIFY(!ScheduleMatch::processTarget(sleeper.pid));
        sleeper.kill(true);
        QCOMPARE(ScheduleMatch::resolve(*target), std::nullopt);
        auto none = ScheduleMatch::processTarget(sleeper.pid > 0 ? sleeper.pid : 999999999);
        QVERIFY(!none);
    }

    void ruleTargets()
    {
        const std::string sleep = sleepPath();
        QVERIFY(!sleep.empty());
        auto bad = ScheduleMatch::ruleTarget(sleep, "([", ::getuid());
        QVERIFY(!bad);
        QVERIFY2(bad.error().message.find("not a regular expression") != std::string::npos, bad.error().message.c_str());
        QVERIFY(!ScheduleMatch::ruleTarget("sleep", "", ::getuid()));

        auto rule = ScheduleMatch::ruleTarget(sleep, "^31337[0-9]$", ::getuid());
        QVERIFY(rule);
        QCOMPARE(ScheduleMatch::resolve(*rule), std::nullopt);
        Sleeper older("313371");
        ::usleep(20000); // a later start time (clock ticks are 10 ms)
        Sleeper younger("313372");
        Sleeper unmatched("999999");
        // the oldest match
        QCOMPARE(ScheduleMatch::resolve(*rule), std::optional<pid_t>(older.pid));
        older.kill(true);
        QCOMPARE(ScheduleMatch::resolve(*rule), std::optional<pid_t>(younger.pid));
        // the arguments only: argv[0] does not count
        auto byName = ScheduleMatch::ruleTarget(sleep, "sleep", ::getuid());
        QCOMPARE(ScheduleMatch::resolve(*byName), std::nullopt);
        // another owner's process does not match
        auto otherUser = ScheduleMatch::ruleTarget(sleep, "^313372$", ::getuid() + 1);
        QCOMPARE(ScheduleMatch::resolve(*otherUser), std::nullopt);
        // another executable does not match
        auto otherExe = ScheduleMatch::ruleTarget("/bin/true", "^313372$", ::getuid());
        QCOMPARE(ScheduleMatch::resolve(*otherExe), std::nullopt);
        // an empty pattern matches any arguments
        auto any = ScheduleMatch::ruleTarget(sleep, "", ::getuid());
        QVERIFY(ScheduleMatch::resolve(*any).has_value());
    }
};

QTEST_GUILESS_MAIN(ScheduleStoreTest)
#include "schedulestoretest.moc"
