// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Signal dispositions and pending signals of a process (SignalsRecord). The
// per-thread parts (mask, sigaltstack, the thread's own pending signals) are
// in threads.h; the pending-queue helpers here serve both.
#pragma once

#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <sys/types.h>

namespace cryopod::engine
{

// The kernel's struct sigaction on x86-64 (rt_sigaction with sigsetsize 8).
struct KernelSigaction {
    uint64_t handler = 0;
    uint64_t flags = 0;
    uint64_t restorer = 0;
    uint64_t mask = 0;
};
static_assert(sizeof(KernelSigaction) == 32);

// ---- dump

// Reads, by injected rt_sigaction(sig, NULL, &old, 8), the disposition of
// every signal that /proc/PID/status shows as caught (SigCgt) or ignored
// (SigIgn); the others are at SIG_DFL and are not recorded. The signals
// pending for the whole process come from the injector's (stopped) thread by
// PTRACE_PEEKSIGINFO with PTRACE_PEEKSIGINFO_SHARED.
Result<image::SignalsRecord> dumpSignals(pid_t pid, const procfs::Status &status, Injector &injector, RemoteScratch &scratch);

// One pending queue of a stopped thread (shared: its process's), whole
// siginfos in queue order.
Result<std::vector<image::PendingSignal>> dumpPendingSignals(const Tracee &tracee, bool shared);

// ---- restore

// (restore engineer's part) rt_sigaction for every recorded disposition (the
// stub starts with all at SIG_DFL). SIGKILL/SIGSTOP and numbers outside 1..64
// in the image are refused.
Result<void> restoreSignals(Injector &injector, RemoteScratch &scratch, const image::SignalsRecord &record);

// Takes the SIGCHLD the placeholders of zombie children queued when they
// exited (blocked) out of the process's queue again (rt_sigtimedwait with no
// wait), before its pending signals of the image are queued.
Result<void> takeBackSigchld(Injector &injector, RemoteScratch &scratch);

// Queues `pending` again in the injector's thread, in order, each with its
// original siginfo: rt_sigqueueinfo(pid) for the process queue (shared),
// rt_tgsigqueueinfo(pid, tid) for the thread's own. A process may queue any
// siginfo to itself, so code, sender and payload come back as they were.
// Call it after the dispositions (setting SIG_IGN discards pending
// instances) and while the injector blocks every signal, i.e. before the
// thread's own mask is put back: nothing is delivered while the process is
// rebuilt, and what the image's mask blocks stays pending after detach.
Result<void> restorePendingSignals(Injector &injector, RemoteScratch &scratch, pid_t pid, pid_t tid, const std::vector<image::PendingSignal> &pending,
                                   bool shared);

} // namespace cryopod::engine
