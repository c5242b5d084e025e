// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Signal dispositions of a process (SignalsRecord). The per-thread parts (mask,
// sigaltstack) are in threads.h.
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
// (SigIgn); the others are at SIG_DFL and are not recorded.
Result<image::SignalsRecord> dumpSignals(pid_t pid, const procfs::Status &status, Injector &injector, RemoteScratch &scratch);

// ---- restore

// (restore engineer's part) rt_sigaction for every recorded disposition (the
// stub starts with all at SIG_DFL). SIGKILL/SIGSTOP and numbers outside 1..64
// in the image are refused.
Result<void> restoreSignals(Injector &injector, RemoteScratch &scratch, const image::SignalsRecord &record);

} // namespace cryopod::engine
