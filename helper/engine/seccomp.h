// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A thread's seccomp state (ThreadRecord::seccompMode, seccompFilters):
// strict mode or its chain of classic BPF filters, with their LOG flag.
//
// Dump: PTRACE_SECCOMP_GET_FILTER and PTRACE_SECCOMP_GET_METADATA on the
// stopped thread (nothing runs in it). Every system call the engine injects
// into a process under seccomp is first run through its filters here
// (evaluateSeccomp); one they would not allow is not injected, so a filter
// can make a checkpoint fail, never kill the process.
//
// Restore: last, after everything else the restore injects (a filter may
// forbid the restorer's own system calls), per thread, in the order they
// were installed. Filters every thread shares at the bottom of its chain
// are installed once, with SECCOMP_FILTER_FLAG_TSYNC, so that the threads
// share them as before; the rest thread by thread. Two filters count as
// the same when their programs and flags are equal (the kernel does not
// tell whether two threads hold one filter object or two equal ones; both
// behave alike).
#pragma once

#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <array>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// ---- evaluation (pure)

// The kernel's seccomp_data for one x86-64 system call.
struct SeccompCall {
    long nr = 0;
    std::array<uint64_t, 6> args {};
    uint64_t ip = 0;
};
// The action the thread's seccomp state takes for `call`
// (SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | errno, SECCOMP_RET_KILL_PROCESS,
// ...): strict mode's fixed list, or the most severe result of all filters,
// as the kernel decides. A program that cannot be run (a bad instruction,
// a jump out of it) counts as SECCOMP_RET_KILL_PROCESS.
uint32_t evaluateSeccomp(uint32_t mode, const std::vector<image::SeccompFilter> &filters, const SeccompCall &call);
// "allow", "errno EPERM", "kill the process", ...
std::string describeSeccompAction(uint32_t action);
// An Injector guard: fails (EPERM, naming the thread, the call and the
// action) for any call the thread's seccomp state would not simply allow.
// Empty when the thread has no seccomp.
Injector::Guard seccompGuard(pid_t tid, uint32_t mode, std::vector<image::SeccompFilter> filters);

// ---- dump

// Mode (the "Seccomp" line of the thread's `status`) and filters of a
// stopped (traced) thread into `thread`.
Result<void> dumpSeccomp(const procfs::Status &status, const Tracee &tracee, image::ThreadRecord &thread);

// ---- restore

// Installs every thread's seccomp state. `tracees[i]` is the thread of
// `threads[i]` (the leader first), each in a ptrace stop with no injector
// and its final registers not yet set. The programs are copied into the
// process's own memory below the leader's stack pointer (or another private
// writable mapping of `mm`) and that memory is put back afterwards, so no
// scratch mapping has to be removed once a filter is in place.
Result<void> restoreSeccomp(const std::vector<Tracee *> &tracees, const std::vector<image::ThreadRecord> &threads, const image::MmRecord &mm,
                            uint64_t *injected);

} // namespace cryopod::engine
