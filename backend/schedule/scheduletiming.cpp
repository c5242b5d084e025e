// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "scheduletiming.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <format>
#include <sstream>
#include <vector>

namespace cryopod::schedule
{

namespace
{
constexpr int64_t kSecondNs = 1000000000;
constexpr std::array<const char *, 7> kWeekdays {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --q;
    }
    return q;
}

std::string lower(std::string s)
{
    for (char &c : s) {
        c = char(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

std::optional<int64_t> number(std::string_view text)
{
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

// "HH:MM" to minutes of the day
std::optional<int> clockTime(const std::string &text)
{
    const size_t colon = text.find(':');
    if (colon == std::string::npos) {
        return std::nullopt;
    }
    const auto h = number(std::string_view(text).substr(0, colon));
    const auto m = number(std::string_view(text).substr(colon + 1));
    if (!h || !m || colon == 0 || text.size() - colon - 1 != 2 || *h < 0 || *h > 23 || *m < 0 || *m > 59) {
        return std::nullopt;
    }
    return int(*h * 60 + *m);
}

// Seconds since the epoch of a local civil time (the minute of the day
// `minute`, `days` days after the date of localSeconds); fixed offset or
// mktime (which moves a time skipped by daylight saving forward).
int64_t civilToUnix(int64_t localDay, int minute, const ScheduleZone &zone)
{
    if (zone.fixedOffsetSeconds) {
        return localDay * 86400 + int64_t(minute) * 60 - *zone.fixedOffsetSeconds;
    }
    // the civil date of localDay
    const time_t noon = time_t(localDay * 86400 + 43200);
    tm date {};
    gmtime_r(&noon, &date);
    date.tm_hour = minute / 60;
    date.tm_min = minute % 60;
    date.tm_sec = 0;
    date.tm_isdst = -1;
    return int64_t(mktime(&date));
}

// The local civil day (days since 1970-01-01), seconds into it, and weekday (1 Monday .. 7 Sunday).
struct Civil {
    int64_t day = 0;
    int64_t secondOfDay = 0;
    int weekday = 1;
};

Civil civilOf(int64_t unixSeconds, const ScheduleZone &zone)
{
    Civil c;
    int64_t local = unixSeconds;
    if (zone.fixedOffsetSeconds) {
        local += *zone.fixedOffsetSeconds;
    } else {
        const time_t t = time_t(unixSeconds);
        tm tmLocal {};
        localtime_r(&t, &tmLocal);
        local += tmLocal.tm_gmtoff;
    }
    c.day = floorDiv(local, 86400);
    c.secondOfDay = local - c.day * 86400;
    c.weekday = int(((c.day + 3) % 7 + 7) % 7) + 1; // 1970-01-01 was a Thursday
    return c;
}
} // namespace

std::string ScheduleTiming::describe() const
{
    switch (kind) {
    case Kind::Interval:
        if (intervalSeconds % 3600 == 0) {
            return std::format("every {}h", intervalSeconds / 3600);
        }
        if (intervalSeconds % 60 == 0) {
            return std::format("every {}m", intervalSeconds / 60);
        }
        return std::format("every {}s", intervalSeconds);
    case Kind::Hourly:
        return std::format("hourly at :{:02}", minute);
    case Kind::Daily:
        return std::format("daily at {:02}:{:02}", minute / 60, minute % 60);
    case Kind::Weekly:
        return std::format("weekly on {} at {:02}:{:02}", weekday >= 1 && weekday <= 7 ? kWeekdays[size_t(weekday - 1)] : "?", minute / 60, minute % 60);
    }
    return "?";
}

Result<void> ScheduleTiming::validate() const
{
    switch (kind) {
    case Kind::Interval:
        if (intervalSeconds < 1 || intervalSeconds > 366 * 86400) {
            return fail(std::format("an interval must be between 1 second and a year, not {} s", intervalSeconds), EINVAL);
        }
        return {};
    case Kind::Hourly:
        if (minute < 0 || minute > 59) {
            return fail(std::format("an hourly schedule runs at a minute 0 to 59, not {}", minute), EINVAL);
        }
        return {};
    case Kind::Weekly:
        if (weekday < 1 || weekday > 7) {
            return fail(std::format("a weekday is 1 (Monday) to 7 (Sunday), not {}", weekday), EINVAL);
        }
        [[fallthrough]];
    case Kind::Daily:
        if (minute < 0 || minute >= 24 * 60) {
            return fail(std::format("a time of day is 00:00 to 23:59, not minute {}", minute), EINVAL);
        }
        return {};
    }
    return fail("unknown kind of schedule", EINVAL);
}

Result<ScheduleTiming> ScheduleTiming::parse(const std::string &text)
{
    std::istringstream in(lower(text));
    std::vector<std::string> words;
    for (std::string w; in >> w;) {
        if (w != "at" && w != "on") {
            words.push_back(w);
        }
    }
    const std::string expected = "expected 'every N[s|m|h]', 'hourly [:MM]', 'daily HH:MM' or 'weekly DAY HH:MM'";
    if (words.empty()) {
        return fail("no schedule given; " + expected, EINVAL);
    }
    ScheduleTiming t;
    if (words[0] == "every" && words.size() == 2) {
        std::string n = words[1];
        int64_t unit = 60; // minutes by default
        if (!n.empty() && std::isalpha(static_cast<unsigned char>(n.back()))) {
            const char u = n.back();
            n.pop_back();
            if (n.ends_with("mi")) { // "min"
                n.resize(n.size() - 2);
            }
            unit = u == 's' ? 1 : u == 'm' || u == 'n' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : 0;
            if (unit == 0) {
                return fail(std::format("'{}': the unit of an interval is s, m, h or d", words[1]), EINVAL);
            }
        }
        const auto v = number(n);
        if (!v || *v <= 0) {
            return fail(std::format("'{}' is not a positive interval", words[1]), EINVAL);
        }
        t.kind = Kind::Interval;
        t.intervalSeconds = *v * unit;
    } else if (words[0] == "hourly" && words.size() <= 2) {
        t.kind = Kind::Hourly;
        if (words.size() == 2) {
            std::string m = words[1];
            if (m.starts_with(':')) {
                m.erase(0, 1);
            }
            const auto v = number(m);
            if (!v) {
                return fail(std::format("'{}' is not a minute of the hour", words[1]), EINVAL);
            }
            t.minute = int(*v);
        }
    } else if (words[0] == "daily" && words.size() == 2) {
        const auto m = clockTime(words[1]);
        if (!m) {
            return fail(std::format("'{}' is not a time of day HH:MM", words[1]), EINVAL);
        }
        t.kind = Kind::Daily;
        t.minute = *m;
    } else if (words[0] == "weekly" && words.size() == 3) {
        t.kind = Kind::Weekly;
        for (size_t i = 0; i < kWeekdays.size(); ++i) {
            if (words[1].starts_with(lower(kWeekdays[i])) && words[1].size() >= 3) {
                t.weekday = int(i + 1);
            }
        }
        if (t.weekday == 0) {
            return fail(std::format("'{}' is not a day of the week (mon, tue, ...)", words[1]), EINVAL);
        }
        const auto m = clockTime(words[2]);
        if (!m) {
            return fail(std::format("'{}' is not a time of day HH:MM", words[2]), EINVAL);
        }
        t.minute = *m;
    } else {
        return fail(std::format("'{}' is not a schedule; {}", text, expected), EINVAL);
    }
    CRYOPOD_PROPAGATE(t.validate());
    return t;
}

int64_t nextDue(const ScheduleTiming &timing, int64_t afterNs, const ScheduleZone &zone)
{
    if (timing.kind == ScheduleTiming::Kind::Interval) {
        return afterNs + std::max<int64_t>(timing.intervalSeconds, 1) * kSecondNs;
    }
    const int64_t afterSeconds = floorDiv(afterNs, kSecondNs);
    const Civil now = civilOf(afterSeconds, zone);
    auto strictlyAfter = [&](int64_t unixSeconds) { return unixSeconds * kSecondNs > afterNs; };
    if (timing.kind == ScheduleTiming::Kind::Hourly) {
        const int hour = int(now.secondOfDay / 3600);
        for (int h = hour; h < hour + 26; ++h) {
            const int64_t day = now.day + h / 24;
            const int64_t at = civilToUnix(day, (h % 24) * 60 + timing.minute, zone);
            if (strictlyAfter(at)) {
                return at * kSecondNs;
            }
        }
    } else {
        for (int d = 0; d <= 8; ++d) {
            const int weekday = (now.weekday - 1 + d) % 7 + 1;
            if (timing.kind == ScheduleTiming::Kind::Weekly && weekday != timing.weekday) {
                continue;
            }
            const int64_t at = civilToUnix(now.day + d, timing.minute, zone);
            if (strictlyAfter(at)) {
                return at * kSecondNs;
            }
        }
    }
    // unreachable for a valid timing; never a time in the past
    return afterNs + 3600 * kSecondNs;
}

int64_t realTimeNs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * kSecondNs + ts.tv_nsec;
}

} // namespace cryopod::schedule
