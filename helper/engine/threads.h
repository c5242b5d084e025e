// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// One thread: its name, registers, signal mask, alternate signal stack and
// clear_child_tid address (ThreadRecord).
#pragma once

#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// What a stopped thread shows without running anything in it: name,
// registers (regs.h), FPU/XSAVE state and blocked-signal mask. Call it before
// an Injector is created on the thread (the injector changes both).
Result<image::ThreadRecord> dumpThread(pid_t pid, const Tracee &tracee);

// What only the thread itself can tell, read by injected system calls:
// sigaltstack(NULL, &old) and prctl(PR_GET_TID_ADDRESS).
Result<void> dumpThreadInjected(Injector &injector, RemoteScratch &scratch, image::ThreadRecord &thread);

// ---- restore

// (restore engineer's part) By injection in the restored thread: its name
// (PR_SET_NAME), sigaltstack and clear_child_tid (set_tid_address).
Result<void> restoreThreadInjected(Injector &injector, RemoteScratch &scratch, const image::ThreadRecord &thread);
// From outside, the very last step before detaching: registers and FPU state
// (regs.h) and the blocked-signal mask.
Result<void> restoreThreadState(const Tracee &tracee, const image::ThreadRecord &thread);

} // namespace cryopod::engine
