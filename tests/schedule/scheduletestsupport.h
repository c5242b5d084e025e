// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Shared by the schedule tests: durations in ns and civil UTC times.
#pragma once

#include "schedulematch.h"
#include "schedulestore.h"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <sys/wait.h>
#include <unistd.h>

namespace ScheduleTestSupport
{
constexpr int64_t kSecond = 1000000000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// A UTC civil time as ns since the epoch.
inline int64_t utc(int y, unsigned m, unsigned d, int h = 0, int mi = 0, int s = 0)
{
    using namespace std::chrono;
    const sys_days day {year {y} / month {m} / std::chrono::day {d}};
    return int64_t(day.time_since_epoch().count()) * kDay + h * kHour + mi * kMinute + s * kSecond;
}

// A schedule due now (not yet stored) whose process has gone: a child of
// ours, probed, then killed and reaped.
inline std::optional<cryopod::schedule::Schedule> scheduleOfAGoneProcess(const std::string &name, const std::string &when)
{
    using namespace cryopod::schedule;
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    auto target = ScheduleMatch::processTarget(child);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    auto timing = ScheduleTiming::parse(when);
    if (!target || !timing) {
        return std::nullopt;
    }
    Schedule s;
    s.name = name;
    s.target = *target;
    s.timing = *timing;
    s.createdAtNs = realTimeNs();
    s.nextRunNs = s.createdAtNs - 1;
    return s;
}
} // namespace ScheduleTestSupport
