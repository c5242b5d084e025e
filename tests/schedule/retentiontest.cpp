// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Retention on synthetic timelines: every rule alone, the edges of hours,
// days, ISO weeks and months (at an offset from UTC too), pinned
// snapshots, the size cap, empty input, ties; and long timelines checked
// against the definition (each rule's picks are the newest of their
// periods, as many periods as asked, nothing else kept).

#include "retention.h"
#include "scheduletestsupport.h"

#include <QTest>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

using namespace cryopod::schedule;
using namespace ScheduleTestSupport;

namespace
{
std::vector<RetentionItem> timeline(const std::vector<int64_t> &times)
{
    std::vector<RetentionItem> items;
    int64_t id = 1;
    for (int64_t t : times) {
        items.push_back({id++, t, 100, false});
    }
    return items;
}

std::set<int64_t> keptIds(const RetentionResult &r)
{
    const auto v = r.kept();
    return {v.begin(), v.end()};
}

std::set<int64_t> ids(std::initializer_list<int64_t> list)
{
    return list;
}

const RetentionVerdict &verdictOf(const RetentionResult &r, int64_t id)
{
    static const RetentionVerdict none;
    for (const auto &v : r.verdicts) {
        if (v.id == id) {
            return v;
        }
    }
    return none;
}

// The definition, checked on any result: a rule's picks are each the newest
// of their period, in distinct periods, min(count, periods present) of
// them, and the newest periods; keep-last picks the newest N; nothing is
// kept without a reason.
void checkAgainstDefinition(const std::vector<RetentionItem> &items, const RetentionPolicy &policy, const PeriodsOf &periodsOf, const RetentionResult &r)
{
    QCOMPARE(r.verdicts.size(), items.size());
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return items[a].createdAtNs != items[b].createdAtNs ? items[a].createdAtNs > items[b].createdAtNs : items[a].id > items[b].id;
    });
    for (size_t rank = 0; rank < order.size(); ++rank) {
        const bool last = (r.verdicts[order[rank]].reasons & KeptLast) != 0;
        QCOMPARE(last, !policy.keepsAll() && int(rank) < policy.keepLast);
    }
    const struct {
        int count;
        int64_t Periods::*field;
        RetentionReason reason;
    } rules[] = {{policy.hourly, &Periods::hour, KeptHourly},
                 {policy.daily, &Periods::day, KeptDaily},
                 {policy.weekly, &Periods::week, KeptWeekly},
                 {policy.monthly, &Periods::month, KeptMonthly}};
    for (const auto &rule : rules) {
        std::map<int64_t, size_t> newestOf; // period -> index of its newest item
        for (size_t i : order) {
            newestOf.try_emplace(periodsOf(items[i].createdAtNs).*rule.field, i);
        }
        std::set<int64_t> picked;
        for (size_t i = 0; i < items.size(); ++i) {
            if (r.verdicts[i].reasons & rule.reason) {
                const int64_t period = periodsOf(items[i].createdAtNs).*rule.field;
                QCOMPARE(newestOf.at(period), i);
                QVERIFY(picked.insert(period).second);
            }
        }
        const size_t expected = policy.keepsAll() ? 0 : std::min(size_t(std::max(rule.count, 0)), newestOf.size());
        QCOMPARE(picked.size(), expected);
        // the newest periods: every period newer than the oldest pick is picked
        if (!picked.empty()) {
            for (const auto &[period, index] : newestOf) {
                if (period > *picked.begin()) {
                    QVERIFY(picked.contains(period));
                }
            }
        }
    }
    uint64_t keptBytes = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const RetentionVerdict &v = r.verdicts[i];
        QCOMPARE(v.id, items[i].id);
        if (items[i].pinned) {
            QVERIFY(v.keep);
            QVERIFY(v.reasons & KeptPinned);
        }
        if (v.keep) {
            QVERIFY(v.reasons & ~unsigned(DroppedForSize));
            QVERIFY(!(v.reasons & DroppedForSize));
            keptBytes += items[i].bytes;
        } else {
            QVERIFY(v.reasons == 0 || v.reasons & DroppedForSize);
        }
    }
    QCOMPARE(r.keptBytes, keptBytes);
}
} // namespace

class RetentionTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void empty()
    {
        const std::vector<RetentionItem> none;
        RetentionPolicy policy;
        policy.keepLast = 3;
        policy.daily = 2;
        policy.maxBytes = 10;
        const auto r = applyRetention(none, policy, fixedOffsetPeriods());
        QVERIFY(r.verdicts.empty());
        QCOMPARE(r.keptBytes, uint64_t(0));
        QVERIFY(!r.overCap);
        QVERIFY(r.removed().empty());
    }

    void noCountsKeepsEverything()
    {
        const auto items = timeline({utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3)});
        const auto r = applyRetention(items, RetentionPolicy {}, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({1, 2, 3}));
        for (const auto &v : r.verdicts) {
            QCOMPARE(v.reasons, unsigned(KeptAll));
        }
        QCOMPARE(r.keptBytes, uint64_t(300));
        QCOMPARE(describe(RetentionPolicy {}), std::string("keep all"));
    }

    void keepLast()
    {
        std::vector<int64_t> times;
        for (int i = 0; i < 10; ++i) {
            times.push_back(utc(2026, 5, 1, 12) + i * kMinute);
        }
        const auto items = timeline(times);
        RetentionPolicy policy;
        policy.keepLast = 3;
        auto r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({8, 9, 10}));
        QCOMPARE(r.removed(), (std::vector<int64_t> {1, 2, 3, 4, 5, 6, 7}));
        QCOMPARE(verdictOf(r, 10).reasons, unsigned(KeptLast));
        policy.keepLast = 1;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({10}));
        policy.keepLast = 50; // more than there are
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())).size(), size_t(10));
    }

    void hourlyEdges()
    {
        // 10:59:59.999999999 and 11:00:00 are two hours; 11:00 and 11:59:59 one
        const int64_t eleven = utc(2026, 7, 14, 11);
        const auto items = timeline({eleven - 1, eleven, eleven + 59 * kMinute + 59 * kSecond, eleven + kHour});
        RetentionPolicy policy;
        policy.hourly = 3;
        auto r = applyRetention(items, policy, fixedOffsetPeriods());
        // hour 12: id 4; hour 11: its newest, id 3 (not 2); hour 10: id 1
        QCOMPARE(keptIds(r), ids({1, 3, 4}));
        QCOMPARE(verdictOf(r, 1).reasons, unsigned(KeptHourly));
        policy.hourly = 2;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({3, 4}));
        checkAgainstDefinition(items, policy, fixedOffsetPeriods(), applyRetention(items, policy, fixedOffsetPeriods()));
    }

    void hourlyCountsHoursWithSnapshots()
    {
        // a gap of five hours does not use up the count
        const int64_t base = utc(2026, 7, 14, 8, 30);
        const auto items = timeline({base, base + kHour, base + 7 * kHour, base + 8 * kHour});
        RetentionPolicy policy;
        policy.hourly = 3;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({2, 3, 4}));
    }

    void dailyEdgesAtAnOffset()
    {
        // at UTC+2, local midnight is 22:00 UTC
        const int64_t midnight = utc(2026, 3, 10, 22);
        const auto items = timeline({midnight - kSecond, midnight, midnight + 23 * kHour, midnight + 24 * kHour});
        RetentionPolicy policy;
        policy.daily = 10;
        // local days: 3-10 (id 1), 3-11 (ids 2, 3: newest 3), 3-12 (id 4)
        auto r = applyRetention(items, policy, fixedOffsetPeriods(2 * 3600));
        QCOMPARE(keptIds(r), ids({1, 3, 4}));
        // in UTC the same instants fall into 3-10 (ids 1, 2: newest 2), 3-11 (3, 4: newest 4)
        r = applyRetention(items, policy, fixedOffsetPeriods(0));
        QCOMPARE(keptIds(r), ids({2, 4}));
        // a negative offset (UTC-5): local midnight of 3-11 is 05:00 UTC
        const int64_t m5 = utc(2026, 3, 11, 5);
        const auto west = timeline({m5 - 1, m5});
        QCOMPARE(keptIds(applyRetention(west, policy, fixedOffsetPeriods(-5 * 3600))), ids({1, 2}));
    }

    void weeklyEdges()
    {
        // 2026-12-06 is a Sunday, 2026-12-07 a Monday
        const int64_t monday = utc(2026, 12, 7);
        const auto items = timeline({utc(2026, 11, 30, 9), monday - kSecond, monday, utc(2026, 12, 13, 23, 59, 59)});
        RetentionPolicy policy;
        policy.weekly = 5;
        // week of 11-30: ids 1, 2 (Sunday 12-06 23:59:59 is its last second): 2; week of 12-07: 3, 4: 4
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({2, 4}));
        // ISO weeks cross the new year: Thursday 2026-12-31 and Sunday 2027-01-03 share one
        const auto newYear = timeline({utc(2026, 12, 31, 12), utc(2027, 1, 3, 12), utc(2027, 1, 4, 0)});
        QCOMPARE(keptIds(applyRetention(newYear, policy, fixedOffsetPeriods())), ids({2, 3}));
        const auto p = fixedOffsetPeriods()(utc(2027, 1, 3, 12));
        QCOMPARE(p.week, fixedOffsetPeriods()(utc(2026, 12, 28)).day);
    }

    void monthlyEdges()
    {
        const auto items = timeline({utc(2028, 1, 31, 23, 59, 59), utc(2028, 2, 1), utc(2028, 2, 29, 23), utc(2028, 3, 1), utc(2028, 12, 31), utc(2029, 1, 1)});
        RetentionPolicy policy;
        policy.monthly = 12;
        // months: 2028-01 (1), 2028-02 (2, 3 leap day: 3), 2028-03 (4), 2028-12 (5), 2029-01 (6)
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({1, 3, 4, 5, 6}));
        policy.monthly = 2;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({5, 6}));
    }

    void rulesAddUp()
    {
        // every 15 minutes for 3 days: last 2 + 3 hourly + 2 daily
        std::vector<int64_t> times;
        const int64_t start = utc(2026, 6, 1);
        for (int i = 0; i < 3 * 24 * 4; ++i) {
            times.push_back(start + i * 15 * kMinute);
        }
        const auto items = timeline(times);
        RetentionPolicy policy;
        policy.keepLast = 2;
        policy.hourly = 3;
        policy.daily = 2;
        const auto r = applyRetention(items, policy, fixedOffsetPeriods());
        const int64_t n = int64_t(items.size()); // the newest is 23:45 of day 3
        // last: n, n-1; hourly: 23:45, 22:45, 21:45 (n, n-4, n-8); daily: n and day 2's 23:45 (n-96)
        QCOMPARE(keptIds(r), ids({n, n - 1, n - 4, n - 8, n - 96}));
        QCOMPARE(verdictOf(r, n).reasons, unsigned(KeptLast | KeptHourly | KeptDaily));
        QCOMPARE(verdictOf(r, n - 96).reasons, unsigned(KeptDaily));
        QCOMPARE(describe(policy), std::string("2 last, 3 hourly, 2 daily"));
        QCOMPARE(describeReasons(verdictOf(r, n).reasons), std::string("last, hourly, daily"));
        checkAgainstDefinition(items, policy, fixedOffsetPeriods(), r);
    }

    void pinnedAreNeverRemoved()
    {
        auto items = timeline({utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 4)});
        items[0].pinned = true;
        items[2].pinned = true;
        RetentionPolicy policy;
        policy.keepLast = 1;
        const auto r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({1, 3, 4}));
        QCOMPARE(verdictOf(r, 1).reasons, unsigned(KeptPinned));
        QCOMPARE(r.removed(), std::vector<int64_t> {2});
        // a pinned snapshot still counts as the newest of its day
        policy.keepLast = 0;
        policy.daily = 2;
        const auto d = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(verdictOf(d, 3).reasons, unsigned(KeptDaily | KeptPinned));
        QCOMPARE(keptIds(d), ids({1, 3, 4}));
    }

    void sizeCap()
    {
        auto items = timeline({utc(2026, 2, 1), utc(2026, 2, 2), utc(2026, 2, 3), utc(2026, 2, 4), utc(2026, 2, 5)});
        for (size_t i = 0; i < items.size(); ++i) {
            items[i].bytes = 100 * (i + 1); // 100 .. 500
        }
        RetentionPolicy policy;
        policy.keepLast = 5;
        policy.maxBytes = 1000;
        // 1500 kept: drop the oldest (100, 200, 300) until 900 <= 1000
        auto r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({4, 5}));
        QCOMPARE(r.keptBytes, uint64_t(900));
        QVERIFY(!r.overCap);
        QCOMPARE(verdictOf(r, 1).reasons, unsigned(KeptLast | DroppedForSize));
        // exactly at the cap is within it
        policy.maxBytes = 1200;
        r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({3, 4, 5}));
        QCOMPARE(r.keptBytes, uint64_t(1200));
        // bytes of the target outside the schedule count toward the cap
        r = applyRetention(items, policy, fixedOffsetPeriods(), 400);
        QCOMPARE(keptIds(r), ids({5}));
        QVERIFY(!r.overCap);
        // pinned ones stay, the next oldest goes instead
        items[0].pinned = true;
        r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({1, 4, 5}));
        QCOMPARE(r.keptBytes, uint64_t(1000));
        // a cap below the newest alone: the newest stays, overCap says so
        items[0].pinned = false;
        policy.maxBytes = 10;
        r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({5}));
        QVERIFY(r.overCap);
        // the cap with retention off
        policy = RetentionPolicy {};
        policy.maxBytes = 700;
        r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({5}));
        QCOMPARE(verdictOf(r, 4).reasons, unsigned(KeptAll | DroppedForSize));
        QCOMPARE(describe(policy), std::string("keep all, at most 700 B"));
        // snapshots no rule keeps are not counted against the cap
        policy.keepLast = 1;
        policy.maxBytes = 500;
        r = applyRetention(items, policy, fixedOffsetPeriods());
        QCOMPARE(keptIds(r), ids({5}));
        QVERIFY(!r.overCap);
        for (const auto &v : r.verdicts) {
            QVERIFY(!(v.reasons & DroppedForSize));
        }
    }

    void ties()
    {
        // three taken in the same nanosecond: the higher id is the newer
        const int64_t t = utc(2026, 9, 9, 9);
        std::vector<RetentionItem> items = {{7, t, 1, false}, {9, t, 1, false}, {8, t, 1, false}, {3, t - kHour, 1, false}};
        RetentionPolicy policy;
        policy.keepLast = 1;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({9}));
        policy.keepLast = 2;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({8, 9}));
        policy.keepLast = 0;
        policy.hourly = 5;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({3, 9}));
        // the cap drops the older of a tie first
        policy.hourly = 0;
        policy.keepLast = 3;
        policy.maxBytes = 2;
        QCOMPARE(keptIds(applyRetention(items, policy, fixedOffsetPeriods())), ids({8, 9}));
    }

    void orderOfInputDoesNotMatter()
    {
        std::mt19937_64 random {42};
        std::vector<RetentionItem> items;
        const int64_t start = utc(2025, 10, 1);
        int64_t t = start;
        for (int64_t id = 1; id <= 400; ++id) {
            t += int64_t(random() % (6 * uint64_t(kHour)));
            items.push_back({id, t, 1000 + random() % 1000, random() % 29 == 0});
        }
        RetentionPolicy policy {3, 12, 7, 4, 6, 150000};
        const auto sorted = applyRetention(items, policy, fixedOffsetPeriods(3600));
        auto shuffled = items;
        std::shuffle(shuffled.begin(), shuffled.end(), random);
        const auto r = applyRetention(shuffled, policy, fixedOffsetPeriods(3600));
        QCOMPARE(keptIds(r), keptIds(sorted));
        for (const auto &v : r.verdicts) {
            QCOMPARE(v.reasons, verdictOf(sorted, v.id).reasons);
        }
    }

    void longTimelinesMatchTheDefinition_data()
    {
        QTest::addColumn<int>("seed");
        QTest::addColumn<int>("offset");
        for (int seed = 1; seed <= 12; ++seed) {
            QTest::addRow("seed %d", seed) << seed << (seed % 3 - 1) * 5 * 3600;
        }
    }

    void longTimelinesMatchTheDefinition()
    {
        QFETCH(int, seed);
        QFETCH(int, offset);
        std::mt19937_64 random {uint64_t(seed)};
        std::vector<RetentionItem> items;
        int64_t t = utc(2024, 12, 20);
        // a year and a half, bursts and gaps: a minute to three days apart
        for (int64_t id = 1; id <= 1500; ++id) {
            const bool gap = random() % 50 == 0;
            t += gap ? int64_t(random() % uint64_t(3 * kDay)) : int64_t(kMinute + random() % uint64_t(2 * kHour));
            items.push_back({id, t, 1 + random() % 100, random() % 97 == 0});
        }
        const RetentionPolicy policy {int(random() % 6), int(random() % 30), int(random() % 10), int(random() % 6), int(random() % 14), 0};
        const auto periods = fixedOffsetPeriods(offset);
        const auto r = applyRetention(items, policy, periods);
        checkAgainstDefinition(items, policy, periods, r);
        // and with a cap: the rules' choices stay, only DroppedForSize is added, oldest first
        RetentionPolicy capped = policy;
        capped.maxBytes = r.keptBytes / 2 + 1;
        const auto c = applyRetention(items, capped, periods);
        QVERIFY(c.keptBytes <= capped.maxBytes || c.overCap);
        int64_t newestDropped = 0;
        int64_t oldestKeptUnpinned = INT64_MAX;
        for (size_t i = 0; i < items.size(); ++i) {
            QCOMPARE(c.verdicts[i].reasons & ~unsigned(DroppedForSize), r.verdicts[i].reasons);
            if (c.verdicts[i].reasons & DroppedForSize) {
                newestDropped = std::max(newestDropped, items[i].createdAtNs);
            } else if (c.verdicts[i].keep && !items[i].pinned) {
                oldestKeptUnpinned = std::min(oldestKeptUnpinned, items[i].createdAtNs);
            }
        }
        QVERIFY(newestDropped <= oldestKeptUnpinned);
    }

    void localPeriodsFollowTheTimeZone()
    {
        // TZ=UTC: the local periods are the fixed-offset-0 ones
        qputenv("TZ", "UTC");
        tzset();
        const auto local = localPeriods();
        const auto fixed = fixedOffsetPeriods(0);
        for (int64_t t : {utc(2026, 1, 1), utc(2026, 3, 29, 1, 30), utc(2028, 2, 29, 23, 59, 59), utc(1999, 12, 31, 23)}) {
            QCOMPARE(local(t).hour, fixed(t).hour);
            QCOMPARE(local(t).day, fixed(t).day);
            QCOMPARE(local(t).week, fixed(t).week);
            QCOMPARE(local(t).month, fixed(t).month);
        }
        // a POSIX zone rule without tzdata: UTC-3 all year
        qputenv("TZ", "XYZ3");
        tzset();
        const auto west = localPeriods();
        const int64_t t = utc(2026, 5, 1, 2);
        QCOMPARE(west(t).day, fixedOffsetPeriods(-3 * 3600)(t).day);
        QCOMPARE(west(t).hour, fixedOffsetPeriods(-3 * 3600)(t).hour);
        qunsetenv("TZ");
        tzset();
    }
};

QTEST_GUILESS_MAIN(RetentionTest)
#include "retentiontest.moc"
