// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "retention.h"

#include "snapshotstore.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <format>
#include <numeric>
#include <set>

namespace cryopod::schedule
{

namespace
{
int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --q;
    }
    return q;
}

// Periods of a civil date and hour, day counted from 1970-01-01.
Periods periodsOfCivil(int64_t day, int hourOfDay)
{
    using namespace std::chrono;
    const year_month_day ymd {sys_days {days {day}}};
    Periods p;
    p.day = day;
    p.hour = day * 24 + hourOfDay;
    // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
    const int64_t sinceMonday = ((day + 3) % 7 + 7) % 7;
    p.week = day - sinceMonday;
    p.month = int64_t(int(ymd.year())) * 12 + int64_t(unsigned(ymd.month())) - 1;
    return p;
}

} // namespace

PeriodsOf fixedOffsetPeriods(int64_t utcOffsetSeconds)
{
    return [utcOffsetSeconds](int64_t unixNs) {
        const int64_t local = floorDiv(unixNs, 1000000000) + utcOffsetSeconds;
        const int64_t day = floorDiv(local, 86400);
        return periodsOfCivil(day, int((local - day * 86400) / 3600));
    };
}

PeriodsOf localPeriods()
{
    return [](int64_t unixNs) {
        const time_t t = time_t(floorDiv(unixNs, 1000000000));
        tm local {};
        localtime_r(&t, &local);
        using namespace std::chrono;
        const sys_days date {year {local.tm_year + 1900} / month {unsigned(local.tm_mon + 1)} / day {unsigned(local.tm_mday)}};
        return periodsOfCivil(date.time_since_epoch().count(), local.tm_hour);
    };
}

std::vector<int64_t> RetentionResult::removed() const
{
    std::vector<int64_t> out;
    for (const RetentionVerdict &v : verdicts) {
        if (!v.keep) {
            out.push_back(v.id);
        }
    }
    return out;
}

std::vector<int64_t> RetentionResult::kept() const
{
    std::vector<int64_t> out;
    for (const RetentionVerdict &v : verdicts) {
        if (v.keep) {
            out.push_back(v.id);
        }
    }
    return out;
}

RetentionResult applyRetention(std::span<const RetentionItem> items, const RetentionPolicy &policy, const PeriodsOf &periodsOf, uint64_t fixedBytes)
{
    RetentionResult result;
    result.verdicts.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        result.verdicts[i].id = items[i].id;
    }
    // newest first; the higher id is the newer of two taken at the same time
    std::vector<size_t> order(items.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (items[a].createdAtNs != items[b].createdAtNs) {
            return items[a].createdAtNs > items[b].createdAtNs;
        }
        return items[a].id > items[b].id;
    });

    if (policy.keepsAll()) {
        for (RetentionVerdict &v : result.verdicts) {
            v.reasons |= KeptAll;
        }
    } else {
        for (int n = 0; n < policy.keepLast && size_t(n) < order.size(); ++n) {
            result.verdicts[order[size_t(n)]].reasons |= KeptLast;
        }
        std::vector<Periods> periods(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
            periods[i] = periodsOf(items[i].createdAtNs);
        }
        const struct {
            int count;
            int64_t Periods::*field;
            RetentionReason reason;
        } rules[] = {
            {policy.hourly, &Periods::hour, KeptHourly},
            {policy.daily, &Periods::day, KeptDaily},
            {policy.weekly, &Periods::week, KeptWeekly},
            {policy.monthly, &Periods::month, KeptMonthly},
        };
        for (const auto &rule : rules) {
            std::set<int64_t> seen;
            for (size_t i : order) {
                if (int(seen.size()) >= rule.count) {
                    break;
                }
                // the first of a period met, newest first, is its newest
                if (seen.insert(periods[i].*rule.field).second) {
                    result.verdicts[i].reasons |= rule.reason;
                }
            }
        }
    }
    for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].pinned) {
            result.verdicts[i].reasons |= KeptPinned;
        }
        result.verdicts[i].keep = result.verdicts[i].reasons != 0;
        if (result.verdicts[i].keep) {
            result.keptBytes += items[i].bytes;
        }
    }

    if (policy.maxBytes > 0) {
        // oldest first; never the newest, never a pinned one
        for (auto it = order.rbegin(); it != order.rend() && fixedBytes + result.keptBytes > policy.maxBytes; ++it) {
            const size_t i = *it;
            RetentionVerdict &v = result.verdicts[i];
            if (!v.keep || items[i].pinned || i == order.front()) {
                continue;
            }
            v.keep = false;
            v.reasons |= DroppedForSize;
            result.keptBytes -= items[i].bytes;
        }
        result.overCap = fixedBytes + result.keptBytes > policy.maxBytes;
    }
    return result;
}

std::string describe(const RetentionPolicy &policy)
{
    std::string out;
    auto add = [&](int n, const char *what) {
        if (n > 0) {
            out += (out.empty() ? "" : ", ") + std::format("{} {}", n, what);
        }
    };
    if (policy.keepsAll()) {
        out = "keep all";
    } else {
        add(policy.keepLast, "last");
        add(policy.hourly, "hourly");
        add(policy.daily, "daily");
        add(policy.weekly, "weekly");
        add(policy.monthly, "monthly");
    }
    if (policy.maxBytes > 0) {
        out += ", at most " + store::formatBytes(policy.maxBytes);
    }
    return out;
}

std::string describeReasons(unsigned reasons)
{
    static const std::pair<RetentionReason, const char *> names[] = {
        {KeptAll, "all"},       {KeptLast, "last"},       {KeptHourly, "hourly"}, {KeptDaily, "daily"},
        {KeptWeekly, "weekly"}, {KeptMonthly, "monthly"}, {KeptPinned, "pinned"}, {DroppedForSize, "over the size cap"},
    };
    std::string out;
    for (const auto &[bit, name] : names) {
        if (reasons & bit) {
            out += (out.empty() ? "" : ", ") + std::string(name);
        }
    }
    return out;
}

} // namespace cryopod::schedule
