// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// From a schedule's target to a running process, read from /proc each time
// a schedule is due:
//   a process target is running when its pid runs a process that started
//     at the recorded time (a process that reuses the pid started later: it
//     never matches; a zombie is gone);
//   a rule matches processes of its owner whose executable is the rule's
//     and whose arguments (after argv[0], joined by spaces) contain a match
//     of its regular expression; the oldest such process is taken (the root
//     of the tree, when the program starts children of itself).
#pragma once

#include "result.h"
#include "schedulestore.h"

#include <optional>
#include <sys/types.h>

namespace cryopod::schedule
{

class ScheduleMatch
{
public:
    // The target for a running process (probed now).
    static Result<ScheduleTarget> processTarget(pid_t pid);
    // A rule; the pattern is checked here.
    static Result<ScheduleTarget> ruleTarget(const std::string &exe, const std::string &argsRegex, uint32_t uid);
    // The process the target names now, or nullopt when it is not running.
    static std::optional<pid_t> resolve(const ScheduleTarget &target);
};

} // namespace cryopod::schedule
