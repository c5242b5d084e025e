// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// When a schedule is due: every N seconds, hourly at minute M, daily at
// HH:MM, weekly on a weekday at HH:MM (local time, or a fixed offset from
// UTC for tests). Pure functions: the runner passes its (injected) clock's
// time in.
#pragma once

#include "result.h"

#include <cstdint>
#include <optional>
#include <string>

namespace cryopod::schedule
{

struct ScheduleTiming {
    enum class Kind {
        Interval, // every intervalSeconds, counted from the last run
        Hourly, // at minute `minute` of every hour
        Daily, // at minute `minute` of the day (HH * 60 + MM)
        Weekly, // on `weekday` (1 Monday .. 7 Sunday) at minute `minute` of the day
    };
    Kind kind = Kind::Interval;
    int64_t intervalSeconds = 0;
    int minute = 0;
    int weekday = 0;

    bool operator==(const ScheduleTiming &) const = default;

    // "every 5m", "hourly at :15", "daily at 03:30", "weekly on Mon at 09:00"
    std::string describe() const;
    // The inverse of describe(), also "every 90s", "every 2h", "daily 03:30",
    // "weekly mon 09:00". Errors say what is wrong.
    static Result<ScheduleTiming> parse(const std::string &text);
    Result<void> validate() const;
};

// The time zone the calendar kinds are computed in: the local one (with
// daylight saving) unless a fixed offset from UTC is given.
struct ScheduleZone {
    std::optional<int64_t> fixedOffsetSeconds;
};

// The first time the schedule is due strictly after afterNs. An interval
// counts from afterNs (the last run or the schedule's creation).
int64_t nextDue(const ScheduleTiming &timing, int64_t afterNs, const ScheduleZone &zone = {});

// The real clock (CLOCK_REALTIME, ns since the epoch): the runner's clock
// outside tests.
int64_t realTimeNs();

} // namespace cryopod::schedule
