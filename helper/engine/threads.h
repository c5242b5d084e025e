// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// One thread: its name, registers, signal mask, its own pending signals,
// alternate signal stack, clear_child_tid address, robust futex list and
// rseq registration (ThreadRecord); on restore, its creation with its tid.
#pragma once

#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// What a stopped thread shows without running anything in it: name,
// registers (regs.h), FPU/XSAVE state, blocked-signal mask, the signals
// pending for it alone (PTRACE_PEEKSIGINFO), its rseq registration
// (PTRACE_GET_RSEQ_CONFIGURATION) and robust futex list (get_robust_list). Call it before an Injector is created on
// the thread (the injector changes registers and mask). `status`: the
// thread's /proc/PID/task/TID/status, read by the caller (seccomp.h).
Result<image::ThreadRecord> dumpThread(pid_t pid, const Tracee &tracee, const procfs::Status &status);

// What only the thread itself can tell, read by injected system calls:
// sigaltstack(NULL, &old) and prctl(PR_GET_TID_ADDRESS).
Result<void> dumpThreadInjected(Injector &injector, RemoteScratch &scratch, image::ThreadRecord &thread);

// The same for a thread other than the leader while the leader's injector
// and scratch page exist: injects through the leader's `syscall`
// instruction and scratch page (one address space), with its runner when
// it has one (RemoteScratch::enableRunner; `trapStops` false where the
// thread's SIGTRAP is pending), then puts the thread back exactly as it
// was (Injector::finish).
Result<void> dumpOtherThreadInjected(Tracee &tracee, Injector &leader, RemoteScratch &leaderScratch, bool trapStops, image::ThreadRecord &thread);

// ---- restore

// Creates thread `thread.tid` in the restored process by an injected clone3
// in its leader (`leader`, whose tracee traces clones: see
// RestoredProcess::traceClones) with set_tid = {tid} and the flags of
// pthread_create (CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS, tls = the
// image's fs base). The new thread inherits the leader's blocked mask (all
// signals, while injecting) and stops before its first instruction; the
// caller adopts it (RestoredProcess::adoptThread). EEXIST names the holder
// of the tid.
Result<pid_t> cloneThread(Injector &leader, RemoteScratch &scratch, const image::ThreadRecord &thread);

// By injection in the restored thread: its name (PR_SET_NAME), sigaltstack,
// clear_child_tid (set_tid_address), robust futex list (set_robust_list) and
// rseq registration (rseq(), after its memory is back). Its pending signals
// are queued by restorePendingSignals (signals.h), by the thread itself.
Result<void> restoreThreadInjected(Injector &injector, RemoteScratch &scratch, const image::ThreadRecord &thread);
// From outside, the very last step before detaching: registers and FPU state
// (regs.h) and the blocked-signal mask.
Result<void> restoreThreadState(const Tracee &tracee, const image::ThreadRecord &thread);

} // namespace cryopod::engine
