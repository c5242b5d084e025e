// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A copy-on-write copy of a frozen process's address space, held by a stopped
// process of our own, so that a keep-running checkpoint can let the target
// run on after a short pause and still save its memory as it was at the
// pause (low-pause snapshots, docs/low-pause.md).
//
// How: with the target frozen, clone(CLONE_VM) is injected into one of its
// threads (exit signal 0: the target gets no SIGCHLD for it); the new process
// (C1, stopped by ptrace before its first instruction, sharing the target's
// address space) is made to clone() without CLONE_VM: C2, whose address
// space is a copy-on-write copy of the target's (the page tables are copied
// once, about 7 ms per GiB here). C1 is killed and reaped inside the target by an
// injected wait4(__WALL), still during the pause, so the target ends the
// pause with no child it did not have. C2, orphaned, belongs to init (or the
// nearest child subreaper), which reaps it when we kill it; it leaves the
// target's session and process group (setsid) and closes every fd it
// inherited (close_range), so it holds no pipe end, lock or socket of the
// target's. It never runs a single instruction of the program: it stays in a
// ptrace stop until release() kills it, and PTRACE_O_EXITKILL kills it if
// the tracer dies.
//
// Not copied by clone(): MADV_DONTFORK memory (absent in the copy) and
// MADV_WIPEONFORK memory (zero in the copy; glibc's getrandom() keeps its
// state in such a page in every program that calls it). take() carries their
// pages over during the pause: it maps a DONTFORK range in the copy again and
// writes the present pages of both kinds into it through /proc/PID/mem, so
// the copy holds the whole address space as it was. memoryCopyObstacle()
// refuses more than kMaxCarriedOver bytes of it. A process under seccomp is
// not copied (the injected clone() is subject to its filter, which may kill
// it).
#pragma once

#include "procfs.h"
#include "ptrace_inject.h"
#include "result.h"

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cryopod::engine
{

// MADV_DONTFORK and MADV_WIPEONFORK memory that take() carries over, at most.
inline constexpr uint64_t kMaxCarriedOver = 256ull << 20;

// Why no copy should be taken of pid (its smaps `mappings`, read while it was
// frozen), in plain words; empty when one can.
std::string memoryCopyObstacle(pid_t pid, const std::vector<procfs::Mapping> &mappings);

// Low pause reads only /proc/PID/maps during the pause and takes the VmFlags
// from smaps read before it. The copy, which never runs, keeps the flags of
// the instant it was made: checks `mappings` (the target's layout at the
// pause, with those flags) against the copy's smaps, read after the thaw,
// and takes the copy's resident counters. Empty when they agree, else what
// differs (then the copy must not be used).
std::string adoptCopyLayout(std::vector<procfs::Mapping> &mappings, const std::vector<procfs::Mapping> &copySmaps);

// While the copies are taken no process of the tree may be a child
// subreaper: a copy, orphaned when its intermediate process dies, would
// become the child of the nearest subreaper among the target and its
// ancestors, and that process's wait() could reap it. begin() clears the
// flag in each given frozen process, end() (or the destructor) sets it again.
class SubreaperPause
{
public:
    SubreaperPause() = default;
    SubreaperPause(SubreaperPause &&other) noexcept
        : m_cleared(std::exchange(other.m_cleared, {}))
    {
    }
    SubreaperPause &operator=(SubreaperPause &&) = delete;
    SubreaperPause(const SubreaperPause &) = delete;
    SubreaperPause &operator=(const SubreaperPause &) = delete;
    ~SubreaperPause()
    {
        (void)end();
    }

    static Result<SubreaperPause> begin(const std::vector<Tracee *> &subreapers);
    Result<void> end(); // idempotent

private:
    std::vector<Tracee *> m_cleared;
};

class MemoryCopy
{
public:
    MemoryCopy() = default;
    MemoryCopy(MemoryCopy &&) noexcept = default;
    MemoryCopy &operator=(MemoryCopy &&other) noexcept;
    MemoryCopy(const MemoryCopy &) = delete;
    MemoryCopy &operator=(const MemoryCopy &) = delete;
    ~MemoryCopy();

    // Takes the copy through `injector` (on a frozen thread of the target;
    // it stays usable and its saved state untouched); `mappings` are the
    // target's smaps (read while frozen), for the memory to carry over. On
    // failure nothing is left: no copy, no child of the target.
    static Result<MemoryCopy> take(Injector &injector, const std::vector<procfs::Mapping> &mappings);

    // The process holding the copy (read its memory with vmRead, its
    // /proc/PID/pagemap, ...); 0 when there is none.
    pid_t pid() const
    {
        return m_tracee.attached() ? m_tracee.tid() : 0;
    }

    // Kills the copy and waits until it is gone; idempotent.
    Result<void> release();

private:
    Tracee m_tracee;
};

} // namespace cryopod::engine
