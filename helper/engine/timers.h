// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Interval timers of a process (TimersRecord): ITIMER_REAL, ITIMER_VIRTUAL
// and ITIMER_PROF, read by injected getitimer and set again by injected
// setitimer. The time left at the checkpoint starts over at the restore.
#pragma once

#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

Result<image::TimersRecord> dumpTimers(pid_t pid, Injector &injector, RemoteScratch &scratch);

// ---- restore

// Arms the timers of `timers` that were armed (while the injector blocks
// every signal: an expiry meanwhile stays pending).
Result<void> restoreTimers(Injector &injector, RemoteScratch &scratch, const image::TimersRecord &timers);

} // namespace cryopod::engine
