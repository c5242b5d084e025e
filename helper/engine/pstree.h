// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The process tree: finding the processes to capture (a root and all its
// descendants), freezing them, recording pid/ppid/pgid/sid per process; on
// restore, creating them with their pids, each by its restored parent, and
// putting them into their sessions and process groups.
#pragma once

#include "engine.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"
#include "steptrace.h"

#include <cstdint>
#include <deque>
#include <map>
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
    // For a process frozen by an outside freezer: seizes and interrupts every
    // thread without waiting (none can start or end meanwhile); once the
    // freezer is thawed waitStopped() waits for each thread's stop.
    static Result<FrozenProcess> seizeHeld(pid_t pid);
    Result<void> waitStopped(int timeoutMs);

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

// While it lives, an outside freezer that FrozenTree thawed: destroying it
// (every failure path) freezes the tree again before the tree's processes
// are detached.
class OutsideHold
{
public:
    OutsideHold() = default;
    explicit OutsideHold(OutsideFreezer freezer)
        : m_freezer(std::move(freezer))
    {
    }
    OutsideHold(OutsideHold &&other) noexcept;
    OutsideHold &operator=(OutsideHold &&other) noexcept;
    OutsideHold(const OutsideHold &) = delete;
    OutsideHold &operator=(const OutsideHold &) = delete;
    ~OutsideHold();

    bool thawed() const
    {
        return m_thawed;
    }
    Result<void> thaw();
    // Freezes again (no-op unless thawed).
    Result<void> refreeze();

private:
    OutsideFreezer m_freezer;
    bool m_thawed = false;
};

// A root and every descendant, held frozen. Children are found through
// /proc/PID/task/*/children of each frozen process (a frozen process forks
// no more), re-scanned until no new one appears, so that a child forked
// while the tree was being frozen is caught. A child that has exited but is
// not reaped (a zombie) is not frozen but recorded with its exit status.
// Destroying the tree detaches every process: all run on unchanged.
struct FrozenTree {
    std::vector<FrozenProcess> processes; // the live ones: the root first, parents before children
    std::vector<pid_t> order; // every pid of the tree (zombies too), parents before children
    std::map<pid_t, pid_t> parents; // pid -> its parent (the root's: its parent outside)
    std::map<pid_t, int32_t> zombies; // pid -> wait status it exited with
    // Declared after `processes`: destroyed first, so that the outside
    // freezer holds the tree again before its threads are detached.
    OutsideHold outside;

    // With `outside` (the tree is frozen by it): every thread of the tree is
    // seized and interrupted while frozen, then the freezer thawed and each
    // thread's stop awaited; the tree is walked while frozen.
    // `trace`: the time of each process's freeze ($CRYOPOD_DUMP_TRACE).
    static Result<FrozenTree> freeze(pid_t root, int timeoutMs = -1, OutsideFreezer outside = {}, StepTrace *trace = nullptr);
    FrozenProcess *find(pid_t pid);
    // Detaches every process (children first); with an outside freezer, it
    // freezes the tree again first.
    Result<void> thaw();
    // SIGKILLs every process while frozen and waits for each death; then
    // the outside freezer, if any, is frozen again (so its state is as found).
    Result<void> kill();
};

// The tree record: every process of `tree` in its order, with pgid, sid and
// the threads held frozen (the leader first); zombies with their status.
Result<image::ProcessTreeRecord> dumpProcessTree(FrozenTree &tree);

// ---- restore

// struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1), spelled out
// here because <linux/sched.h> collides with glibc's <sched.h>.
struct CloneArgs {
    uint64_t flags = 0;
    uint64_t pidfd = 0;
    uint64_t childTid = 0;
    uint64_t parentTid = 0;
    uint64_t exitSignal = 0;
    uint64_t stack = 0;
    uint64_t stackSize = 0;
    uint64_t tls = 0;
    uint64_t setTid = 0;
    uint64_t setTidSize = 0;
};
static_assert(sizeof(CloneArgs) == 80);

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
    // A child of `parent` (a restored process that is still the bare stub)
    // with pid `pid`: a clone3 set_tid = {pid} injected into the parent, so
    // that the kernel records it as the parent's child. It is a copy of the
    // stub, traced by us (PTRACE_O_TRACEFORK) from its first stop on, and
    // exits with `exitSignal` to its parent. `cloneFlags`: CLONE_FILES for a
    // process sharing its parent's fd table. EEXIST names the pid's holder.
    // Its tracee waits through the parent's StopWaiter, if any.
    static Result<RestoredProcess> forkFrom(RestoredProcess &parent, pid_t pid, int exitSignal, uint64_t cloneFlags = 0);

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

    // From now on threads created in the process (injected clone) are
    // attached automatically (PTRACE_O_TRACECLONE) and stop before their
    // first instruction.
    Result<void> traceClones();
    // Takes thread tid, which an injected clone just created in the process,
    // into the object's care: from this call on kill() reaps it too, even
    // when waiting for its first stop fails. Waits for that stop (through
    // the leader's StopWaiter, which the thread's tracee gets too).
    Result<Tracee *> adoptThread(pid_t tid);
    // The threads adopted so far, in creation order (the leader is tracee()).
    std::deque<Tracee> &threads()
    {
        return m_threads;
    }

    // The restore succeeded: stop owning the process (detach it first).
    void release();
    // A zombie's placeholder: ends now with wait status `status` (exit
    // code, or the signal that killed it, without a core dump), leaving a
    // zombie for its parent to reap; the object owns nothing afterwards.
    Result<void> exitAs(int32_t status);
    // SIGKILL and reap now: the other threads first (as their tracer we
    // must), then the leader.
    void kill();

private:
    pid_t m_pid = 0;
    Tracee m_tracee;
    uint64_t m_entry = 0;
    std::deque<Tracee> m_threads; // stable addresses: injectors point at them
    std::vector<pid_t> m_threadTids; // every thread created, adopted or not
};

// "pid 1234 is in use by process 1234 (sleep)", "... by thread 1234 of
// process 1200 (firefox)", or "pid 1234 is in use" when /proc says no more.
std::string describePidHolder(pid_t pid);

// Right after the process is created, before its children are: makes it
// leader of its own session and/or process group when the image says it was
// (setsid / setpgid by injection); its children then inherit them.
Result<void> restoreProcessGroup(RestoredProcess &process, const image::ProcessEntry &entry);

// Once every process of the tree exists: a process whose group is led by
// another process of the tree joins it (setpgid); one whose group or session
// was outside the tree stays in the one it inherited (the restorer's for the
// root). Checks that every process ended in the session the image says,
// where that session's leader is in the tree.
Result<void> joinProcessGroup(RestoredProcess &process, const image::ProcessEntry &entry, const image::ProcessTreeRecord &tree);

} // namespace cryopod::engine
