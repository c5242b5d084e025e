// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Timers of a process (TimersRecord): the interval timers ITIMER_REAL,
// ITIMER_VIRTUAL and ITIMER_PROF (injected getitimer / setitimer) and the
// POSIX timers (/proc/PID/timers and injected timer_gettime; recreated with
// their ids by timer_create under PR_TIMER_CREATE_RESTORE_IDS, then
// timer_settime). The time left at the checkpoint starts over at the
// restore; overrun counts are not kept.
#pragma once

#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// ---- dump

// Why the POSIX timers of pid cannot be checkpointed, one reason per timer
// that cannot (SIGEV_THREAD, a CPU clock of another process, ...).
std::vector<std::string> posixTimerRefusals(pid_t pid);

Result<image::TimersRecord> dumpTimers(pid_t pid, Injector &injector, RemoteScratch &scratch);

// ---- restore

// Arms the timers of `timers` that were armed (while the injector blocks
// every signal: an expiry meanwhile stays pending).
Result<void> restoreTimers(Injector &injector, RemoteScratch &scratch, const image::TimersRecord &timers);

} // namespace cryopod::engine
