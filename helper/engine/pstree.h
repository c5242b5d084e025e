// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The process tree: finding the processes to capture and freezing them.
// Engine v1 captures one single-threaded process; the types already hold a
// tree so that v2 can grow into them.
#pragma once

#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <cstdint>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// ---- dump

// A process held in ptrace stops: every thread seized (PTRACE_SEIZE) and
// interrupted (PTRACE_INTERRUPT). While this object lives the process does not
// run. Destroying it detaches every thread, so the process continues exactly
// where it was (an interrupted system call restarts by itself); that holds on
// every error path. kill() ends it instead, without letting it run again.
class FrozenProcess
{
public:
    FrozenProcess() = default;
    FrozenProcess(FrozenProcess &&) noexcept = default;
    FrozenProcess &operator=(FrozenProcess &&) noexcept = default;
    FrozenProcess(const FrozenProcess &) = delete;
    FrozenProcess &operator=(const FrozenProcess &) = delete;
    ~FrozenProcess();

    // Seizes every thread of pid, re-reading /proc/PID/task until no new
    // thread appears. Fails (and lets go of what it seized) if the process
    // exits or cannot be traced, or (ETIMEDOUT) when a thread does not reach
    // its ptrace stop within timeoutMs (< 0: no limit), e.g. because it is in
    // uninterruptible sleep (D); the error names the thread and its state.
    // Such a thread cannot be detached while it runs: it stays attached to
    // the calling thread until that thread exits (checkpoint() runs on a
    // thread of its own for this reason).
    static Result<FrozenProcess> freeze(pid_t pid, int timeoutMs = -1);

    pid_t pid() const
    {
        return m_pid;
    }
    bool frozen() const
    {
        return !m_threads.empty();
    }
    std::vector<Tracee> &threads()
    {
        return m_threads;
    }
    Tracee &leader()
    {
        return m_threads.front();
    }
    // CLOCK_MONOTONIC ns when the last thread stopped.
    uint64_t frozenAtNs() const
    {
        return m_frozenAtNs;
    }

    // Detaches every thread: the process runs on.
    Result<void> thaw();
    // SIGKILL while stopped. When the process is not our child, waits until
    // the kernel reports its death to us as its tracer (its parent reaps it);
    // our own child is left for the caller to reap.
    Result<void> kill();

private:
    pid_t m_pid = 0;
    std::vector<Tracee> m_threads;
    uint64_t m_frozenAtNs = 0;
};

// CLOCK_MONOTONIC in ns.
uint64_t monotonicNs();

// The tree record of one process (v1: the root alone) with its threads.
Result<image::ProcessTreeRecord> dumpProcessTree(pid_t pid);

// ---- restore

// A process created by restore (restore engineer's part): our child, made with
// clone3 set_tid = {pid}, which exec'd the restore stub under ptrace
// (PTRACE_O_TRACEEXEC | TRACESYSGOOD | EXITKILL) and sits in the exec stop,
// not having run a single instruction of the stub. Until release() the object
// owns the process: destroying it (every failure path) SIGKILLs and reaps it.
class RestoredProcess
{
public:
    RestoredProcess() = default;
    RestoredProcess(RestoredProcess &&other) noexcept;
    RestoredProcess &operator=(RestoredProcess &&other) noexcept; // kills what it held
    RestoredProcess(const RestoredProcess &) = delete;
    RestoredProcess &operator=(const RestoredProcess &) = delete;
    ~RestoredProcess();

    // Fails with EEXIST and a message naming the holder when pid is in use.
    // The child starts with no fds, default signal dispositions and an empty
    // signal mask; everything else (cwd, rlimits, creds, ...) is inherited from
    // the caller until restore sets it.
    static Result<RestoredProcess> spawn(pid_t pid, const std::string &stubPath);

    pid_t pid() const
    {
        return m_pid;
    }
    Tracee &tracee()
    {
        return m_tracee;
    }
    // rip at the exec stop: the stub's entry point.
    uint64_t entry() const
    {
        return m_entry;
    }
    // The restore succeeded: stop owning the process (detach it first).
    void release();
    // SIGKILL and reap now.
    void kill();

private:
    pid_t m_pid = 0;
    Tracee m_tracee;
    uint64_t m_entry = 0;
};

// "pid 1234 is in use by process 1234 (sleep)", "... by thread 1234 of
// process 1200 (firefox)", or "pid 1234 is in use" when /proc says no more.
std::string describePidHolder(pid_t pid);

// Makes the process leader of its own session and/or process group when the
// image says it was (setsid / setpgid by injection). Otherwise it stays in the
// restorer's group and session (v1).
Result<void> restoreProcessGroup(Injector &injector, const image::ProcessEntry &entry);

} // namespace cryopod::engine
