// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// One thread: its name, registers, signal mask, its own pending signals,
// alternate signal stack, clear_child_tid address and rseq registration
// (ThreadRecord).
#pragma once

#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// What a stopped thread shows without running anything in it: name,
// registers (regs.h), FPU/XSAVE state, blocked-signal mask, the signals
// pending for it alone (PTRACE_PEEKSIGINFO) and its rseq registration
// (PTRACE_GET_RSEQ_CONFIGURATION). Call it before an Injector is created on
// the thread (the injector changes registers and mask).
Result<image::ThreadRecord> dumpThread(pid_t pid, const Tracee &tracee);

// What only the thread itself can tell, read by injected system calls:
// sigaltstack(NULL, &old) and prctl(PR_GET_TID_ADDRESS).
Result<void> dumpThreadInjected(Injector &injector, RemoteScratch &scratch, image::ThreadRecord &thread);

// ---- restore

// (restore engineer's part) By injection in the restored thread: its name
// (PR_SET_NAME), sigaltstack, clear_child_tid (set_tid_address) and rseq
// registration (rseq(), after its memory is back). Its pending signals are
// queued by restorePendingSignals (signals.h).
Result<void> restoreThreadInjected(Injector &injector, RemoteScratch &scratch, const image::ThreadRecord &thread);
// From outside, the very last step before detaching: registers and FPU state
// (regs.h) and the blocked-signal mask.
Result<void> restoreThreadState(const Tracee &tracee, const image::ThreadRecord &thread);

} // namespace cryopod::engine
