// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "pstree.h"

#include "procfs.h"

#include <algorithm>
#include <linux/kcmp.h>
#include <optional>
#include <csignal>
#include <ctime>
#include <sys/wait.h>
#include <unistd.h>
// restore side:
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <utility>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <cstddef>
#include <span>
#include <sys/resource.h>

// clone3 that runs fn(arg) in the child on the stack given in the clone args
// and never returns there; the parent gets the child's pid or -errno. (A
// plain syscall() would return into our frame on the child's new stack.)
extern "C" long cryopod_clone3_run(void *args, size_t size, void (*fn)(void *), void *arg);
asm(R"(
        .text
        .p2align 4
        .type   cryopod_clone3_run, @function
cryopod_clone3_run:
        movq    %rdx, %r8
        movq    %rcx, %r9
        movl    $435, %eax
        syscall
        testq   %rax, %rax
        jnz     1f
        xorl    %ebp, %ebp
        movq    %r9, %rdi
        call    *%r8
        movl    $60, %eax
        movl    $127, %edi
        syscall
        hlt
1:      ret
        .size   cryopod_clone3_run, . - cryopod_clone3_run
)");

namespace cryopod::engine
{

// ---- dump

uint64_t monotonicNs()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

FrozenProcess::~FrozenProcess()
{
    // ~Tracee detaches each thread; followers first, the leader last.
    while (!m_threads.empty()) {
        m_threads.pop_back();
    }
}

namespace
{
// "state D (uninterruptible sleep) in /proc/PID/stat, waiting in
// do_wait_for_vfork_done" (wchan when the kernel shows it).
std::string describeThreadState(pid_t pid, pid_t tid)
{
    const std::string file = tid == pid ? procfs::path(pid, "stat") : procfs::path(pid, "task/" + std::to_string(tid) + "/stat");
    auto stat = procfs::readStat(pid, tid == pid ? 0 : tid);
    if (!stat) {
        return "its state is unknown (" + stat.error().describe() + ")";
    }
    const char state = stat->state();
    const char *name = state == 'D' ? "uninterruptible sleep"
        : state == 'R'              ? "running"
        : state == 'S'              ? "sleeping"
        : state == 'T'              ? "stopped"
        : state == 't'              ? "stopped by a tracer"
        : state == 'Z'              ? "zombie"
        : state == 'X'              ? "dead"
                                    : "?";
    std::string text = std::string("state ") + state + " (" + name + ") in " + file;
    if (auto wchan = procfs::readFile(procfs::path(pid, "task/" + std::to_string(tid) + "/wchan")); wchan && !wchan->empty() && *wchan != "0") {
        text += ", waiting in " + *wchan;
    }
    return text;
}
} // namespace

namespace
{
// Waits until tid (a tracee of ours) has died.
void reapTracee(pid_t tid)
{
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(tid, &status, __WALL);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
            break;
        }
    }
}
} // namespace

Result<FrozenProcess> FrozenProcess::freeze(pid_t pid, int timeoutMs)
{
    FrozenProcess process;
    process.m_pid = pid;
    // A thread created while we seize the others shows up in the next scan;
    // once every listed thread is stopped none can create another.
    for (int round = 0;; ++round) {
        auto tids = procfs::listThreads(pid);
        if (!tids) {
            if (tids.error().code == ENOENT) {
                return fail("freeze " + std::to_string(pid) + ": no such process", ESRCH);
            }
            return std::unexpected(tids.error().context("freeze " + std::to_string(pid)));
        }
        bool added = false;
        for (const pid_t tid : *tids) {
            const bool known = std::any_of(process.m_threads.begin(), process.m_threads.end(), [tid](const Tracee &t) {
                return t.tid() == tid;
            });
            if (known) {
                continue;
            }
            auto tracee = Tracee::seize(tid, 0x1 /* PTRACE_O_TRACESYSGOOD */, timeoutMs);
            if (!tracee) {
                if (tracee.error().code == ESRCH && tid != pid) {
                    continue; // the thread exited meanwhile
                }
                if (tracee.error().code == ETIMEDOUT) {
                    const std::string thread = tid == pid ? std::string() : " (thread " + std::to_string(tid) + ")";
                    return fail("freeze " + std::to_string(pid) + ": process " + std::to_string(pid) + thread + " did not stop within "
                                    + std::to_string(timeoutMs) + " ms: " + describeThreadState(pid, tid)
                                    + "; nothing was captured, try again when it has left that state",
                                ETIMEDOUT);
                }
                return std::unexpected(tracee.error().context("freeze " + std::to_string(pid) + ": thread " + std::to_string(tid)));
            }
            process.m_threads.push_back(std::move(*tracee));
            added = true;
        }
        if (!added) {
            break;
        }
        if (round > 1000) {
            return fail("freeze " + std::to_string(pid) + ": threads keep appearing");
        }
    }
    // The leader first.
    std::stable_partition(process.m_threads.begin(), process.m_threads.end(), [pid](const Tracee &t) {
        return t.tid() == pid;
    });
    if (process.m_threads.empty() || process.m_threads.front().tid() != pid) {
        return fail("freeze " + std::to_string(pid) + ": the thread-group leader is gone (the process is exiting)", ESRCH);
    }
    process.m_frozenAtNs = monotonicNs();
    return process;
}

Result<FrozenProcess> FrozenProcess::seizeHeld(pid_t pid)
{
    FrozenProcess process;
    process.m_pid = pid;
    auto tids = procfs::listThreads(pid);
    if (!tids) {
        if (tids.error().code == ENOENT) {
            return fail("freeze " + std::to_string(pid) + ": no such process", ESRCH);
        }
        return std::unexpected(tids.error().context("freeze " + std::to_string(pid)));
    }
    for (const pid_t tid : *tids) {
        auto tracee = Tracee::seizeInterrupt(tid);
        if (!tracee) {
            if (tracee.error().code == ESRCH && tid != pid) {
                continue; // a thread that had exited already
            }
            return std::unexpected(tracee.error().context("freeze " + std::to_string(pid) + ": thread " + std::to_string(tid)));
        }
        process.m_threads.push_back(std::move(*tracee));
    }
    std::stable_partition(process.m_threads.begin(), process.m_threads.end(), [pid](const Tracee &t) {
        return t.tid() == pid;
    });
    if (process.m_threads.empty() || process.m_threads.front().tid() != pid) {
        return fail("freeze " + std::to_string(pid) + ": the thread-group leader is gone (the process is exiting)", ESRCH);
    }
    return process;
}

Result<void> FrozenProcess::waitStopped(int timeoutMs)
{
    for (Tracee &thread : m_threads) {
        const pid_t tid = thread.tid();
        if (auto r = thread.waitInterruptStop(timeoutMs); !r) {
            if (r.error().code == ETIMEDOUT) {
                const std::string which = tid == m_pid ? std::string() : " (thread " + std::to_string(tid) + ")";
                return fail("freeze " + std::to_string(m_pid) + ": process " + std::to_string(m_pid) + which + " did not stop within "
                                + std::to_string(timeoutMs) + " ms of the thaw of its freezer: " + describeThreadState(m_pid, tid),
                            ETIMEDOUT);
            }
            return std::unexpected(r.error().context("freeze " + std::to_string(m_pid)));
        }
    }
    // Nothing ran in user space, but a thread may have ended in the kernel.
    auto tids = procfs::listThreads(m_pid);
    if (!tids) {
        return std::unexpected(tids.error().context("freeze " + std::to_string(m_pid)));
    }
    if (tids->size() != m_threads.size()) {
        return fail("freeze " + std::to_string(m_pid) + ": its threads changed while it was being frozen", EAGAIN);
    }
    m_frozenAtNs = monotonicNs();
    return {};
}

Result<void> FrozenProcess::thaw()
{
    std::optional<Error> first;
    while (!m_threads.empty()) {
        auto r = m_threads.back().detach();
        if (!r && !first) {
            first = r.error().context("thaw " + std::to_string(m_pid));
        }
        m_threads.pop_back();
    }
    if (first) {
        return std::unexpected(*first);
    }
    return {};
}

Result<void> FrozenProcess::kill()
{
    if (m_threads.empty()) {
        return fail("kill " + std::to_string(m_pid) + ": not frozen");
    }
    auto stat = procfs::readStat(m_pid);
    const bool ourChild = stat && pid_t(stat->number(4)) == ::getpid();
    if (::kill(m_pid, SIGKILL) != 0) {
        return sysError("kill " + std::to_string(m_pid));
    }
    std::vector<pid_t> others;
    for (Tracee &t : m_threads) {
        const pid_t tid = t.release();
        if (tid != m_pid) {
            others.push_back(tid);
        }
    }
    m_threads.clear();
    // A traced thread stays a zombie until its tracer (we) waits for it, and
    // the leader's death is not reported to anyone before its threads are
    // gone: reap them first.
    for (const pid_t tid : others) {
        reapTracee(tid);
    }
    if (ourChild) {
        return {}; // the caller reaps its child
    }
    // As its tracer we are told of its death first; after that the kernel
    // hands it to its parent.
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(m_pid, &status, __WALL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ECHILD) {
                return {};
            }
            return sysError("kill " + std::to_string(m_pid) + ": wait");
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            return {};
        }
    }
}

namespace
{
// The wait status a zombie exited with (proc(5) field 52, exit_code), when
// the process is one: a zombie thread-group leader with no thread left.
std::optional<int32_t> zombieStatus(pid_t pid)
{
    auto stat = procfs::readStat(pid);
    if (!stat || stat->state() != 'Z') {
        return std::nullopt;
    }
    auto threads = procfs::listThreads(pid);
    if (threads && threads->size() > 1) {
        return std::nullopt; // the leader exited, its threads run on: not a zombie process
    }
    return int32_t(stat->number(52));
}
} // namespace

OutsideHold::OutsideHold(OutsideHold &&other) noexcept
    : m_freezer(std::move(other.m_freezer))
    , m_thawed(std::exchange(other.m_thawed, false))
{
}

OutsideHold &OutsideHold::operator=(OutsideHold &&other) noexcept
{
    if (this != &other) {
        (void)refreeze();
        m_freezer = std::move(other.m_freezer);
        m_thawed = std::exchange(other.m_thawed, false);
    }
    return *this;
}

OutsideHold::~OutsideHold()
{
    (void)refreeze();
}

Result<void> OutsideHold::thaw()
{
    if (auto r = m_freezer(false); !r) {
        return std::unexpected(r.error().context("thaw the freezer holding the tree"));
    }
    m_thawed = true;
    return {};
}

Result<void> OutsideHold::refreeze()
{
    if (!m_thawed) {
        return {};
    }
    m_thawed = false;
    if (auto r = m_freezer(true); !r) {
        return std::unexpected(r.error().context("freeze the tree again"));
    }
    return {};
}

namespace
{
// The tree of `root`, frozen by `outside`: walked while nothing in it can
// fork, exit or start a thread; every thread seized and interrupted, then
// the freezer thawed and every stop awaited.
Result<FrozenTree> freezeHeld(pid_t root, pid_t rootParent, int timeoutMs, OutsideFreezer outside)
{
    FrozenTree tree;
    tree.order.push_back(root);
    tree.parents[root] = rootParent;
    for (size_t i = 0; i < tree.order.size(); ++i) {
        const pid_t pid = tree.order[i];
        if (tree.zombies.contains(pid)) {
            continue;
        }
        auto process = FrozenProcess::seizeHeld(pid);
        if (!process) {
            return std::unexpected(process.error());
        }
        tree.processes.push_back(std::move(*process));
        auto children = procfs::listChildren(pid);
        if (!children) {
            return std::unexpected(children.error().context("freeze the children of " + std::to_string(pid)));
        }
        for (const pid_t child : *children) {
            if (auto status = zombieStatus(child)) {
                tree.zombies[child] = *status;
            }
            tree.parents[child] = pid;
            tree.order.push_back(child);
        }
    }
    tree.outside = OutsideHold(std::move(outside));
    CRYOPOD_PROPAGATE(tree.outside.thaw());
    for (FrozenProcess &process : tree.processes) {
        CRYOPOD_PROPAGATE(process.waitStopped(timeoutMs));
        auto children = procfs::listChildren(process.pid());
        if (!children) {
            return std::unexpected(children.error().context("freeze the children of " + std::to_string(process.pid())));
        }
        for (const pid_t child : *children) {
            if (!tree.parents.contains(child)) {
                return fail("freeze " + std::to_string(root) + ": process " + std::to_string(child) + " appeared while the tree was being frozen", EAGAIN);
            }
        }
    }
    return tree;
}
} // namespace

Result<FrozenTree> FrozenTree::freeze(pid_t root, int timeoutMs, OutsideFreezer outside, StepTrace *trace)
{
    StepTrace none;
    StepTrace &steps = trace ? *trace : none;
    FrozenTree tree;
    auto rootStat = procfs::readStat(root);
    if (!rootStat) {
        if (rootStat.error().code == ENOENT) {
            return fail("freeze " + std::to_string(root) + ": no such process", ESRCH);
        }
        return std::unexpected(rootStat.error().context("freeze " + std::to_string(root)));
    }
    if (outside) {
        return freezeHeld(root, pid_t(rootStat->number(4)), timeoutMs, std::move(outside));
    }
    auto rootStep = steps.scope("freeze: seize process", root);
    auto frozenRoot = FrozenProcess::freeze(root, timeoutMs);
    rootStep.end();
    if (!frozenRoot) {
        return std::unexpected(frozenRoot.error());
    }
    tree.processes.push_back(std::move(*frozenRoot));
    tree.order.push_back(root);
    tree.parents[root] = pid_t(rootStat->number(4));
    // A frozen process forks no more, but a child not yet frozen may: scan
    // the children of every frozen process until a whole pass finds none new.
    for (int round = 0;; ++round) {
        bool added = false;
        for (size_t i = 0; i < tree.processes.size(); ++i) {
            const pid_t parent = tree.processes[i].pid();
            auto listStep = steps.scope("freeze: list children", parent);
            auto children = procfs::listChildren(parent);
            listStep.end();
            if (!children) {
                return std::unexpected(children.error().context("freeze the children of " + std::to_string(parent)));
            }
            for (const pid_t child : *children) {
                if (tree.parents.contains(child)) {
                    continue;
                }
                if (auto status = zombieStatus(child)) {
                    tree.zombies[child] = *status;
                } else {
                    auto seizeStep = steps.scope("freeze: seize process", child);
                    auto frozen = FrozenProcess::freeze(child, timeoutMs);
                    seizeStep.end();
                    if (!frozen) {
                        if (auto late = zombieStatus(child)) {
                            tree.zombies[child] = *late; // exited meanwhile
                        } else if (frozen.error().code == ESRCH && ::kill(child, 0) != 0) {
                            continue; // gone (reaped by the kernel: its parent ignores SIGCHLD)
                        } else {
                            return std::unexpected(frozen.error().context("freeze child " + std::to_string(child) + " of " + std::to_string(parent)));
                        }
                    } else {
                        tree.processes.push_back(std::move(*frozen));
                    }
                }
                tree.parents[child] = parent;
                tree.order.push_back(child);
                added = true;
            }
        }
        if (!added) {
            break;
        }
        if (round > 1000) {
            return fail("freeze " + std::to_string(root) + ": child processes keep appearing");
        }
    }
    return tree;
}

FrozenProcess *FrozenTree::find(pid_t pid)
{
    for (FrozenProcess &p : processes) {
        if (p.pid() == pid) {
            return &p;
        }
    }
    return nullptr;
}

namespace
{
// Lets go of every process, children first (a killed one dies while its
// parent is still there to be told); the first failure is returned, the
// others are let go all the same.
Result<void> releaseAll(std::vector<FrozenProcess> &processes, Result<void> (FrozenProcess::*release)())
{
    std::optional<Error> first;
    while (!processes.empty()) {
        auto r = (processes.back().*release)();
        if (!r && !first) {
            first = r.error();
        }
        processes.pop_back();
    }
    if (first) {
        return std::unexpected(*first);
    }
    return {};
}
} // namespace

Result<void> FrozenTree::thaw()
{
    CRYOPOD_PROPAGATE(outside.refreeze());
    return releaseAll(processes, &FrozenProcess::thaw);
}

Result<void> FrozenTree::kill()
{
    // Killed in their ptrace stops: a task held by a cgroup v1 freezer would
    // not die before a thaw.
    auto killed = releaseAll(processes, &FrozenProcess::kill);
    auto frozen = outside.refreeze();
    if (!killed) {
        return killed;
    }
    return frozen;
}

namespace
{
// The first process of `record` whose object of kcmp `type` `entry` shares
// (0: none), as `field` names it: that process itself, or the one it
// shares the object with in turn. ENOTSUP unless the parent of `entry`
// has that object too.
Result<int32_t> sharedWithEarlier(const image::ProcessTreeRecord &record, const image::ProcessEntry &entry, int type, int32_t image::ProcessEntry::*field,
                                  const char *what)
{
    auto firstOf = [field](const image::ProcessEntry &e) { return e.*field != 0 ? e.*field : e.pid; };
    for (const image::ProcessEntry &earlier : record.processes) {
        if (earlier.zombie || entry.zombie || ::syscall(SYS_kcmp, earlier.pid, entry.pid, type, 0, 0) != 0) {
            continue;
        }
        const int32_t first = firstOf(earlier);
        const auto parent = std::find_if(record.processes.begin(), record.processes.end(), [&](const image::ProcessEntry &e) { return e.pid == entry.ppid; });
        if (parent == record.processes.end() || firstOf(*parent) != first) {
            return fail("process " + std::to_string(entry.pid) + " shares the " + what + " of process " + std::to_string(earlier.pid) +
                            ", which is not its parent's: not supported",
                        ENOTSUP);
        }
        return first;
    }
    return 0;
}

Result<void> store(int32_t &target, Result<int32_t> value)
{
    if (!value) {
        return std::unexpected(value.error());
    }
    target = *value;
    return {};
}
} // namespace

Result<image::ProcessTreeRecord> dumpProcessTree(FrozenTree &tree)
{
    image::ProcessTreeRecord record;
    record.rootPid = tree.order.front();
    for (const pid_t pid : tree.order) {
        auto stat = procfs::readStat(pid);
        if (!stat) {
            return std::unexpected(stat.error().context("process tree"));
        }
        image::ProcessEntry entry;
        entry.pid = pid;
        entry.ppid = int32_t(stat->number(4));
        entry.pgid = int32_t(stat->number(5));
        entry.sid = int32_t(stat->number(6));
        if (const auto zombie = tree.zombies.find(pid); zombie != tree.zombies.end()) {
            entry.zombie = true;
            entry.exitStatus = zombie->second;
            entry.tids = {pid};
        } else {
            FrozenProcess *process = tree.find(pid);
            if (!process) {
                return fail("process tree: " + std::to_string(pid) + " is not frozen", EINVAL);
            }
            for (const Tracee &thread : process->threads()) {
                entry.tids.push_back(thread.tid());
            }
        }
        if (pid != record.rootPid && entry.ppid != tree.parents.at(pid)) {
            return fail("process tree: the parent of " + std::to_string(pid) + " changed while frozen", EAGAIN);
        }
        // An fd table (clone(CLONE_FILES)) or an address space (clone(CLONE_VM)
        // without CLONE_THREAD) shared with an earlier process: restore
        // shares it again by creating the process with that flag from its
        // parent, so the parent must have that very table or address space.
        CRYOPOD_PROPAGATE(store(entry.filesOf, sharedWithEarlier(record, entry, KCMP_FILES, &image::ProcessEntry::filesOf, "fd table")));
        CRYOPOD_PROPAGATE(store(entry.vmOf, sharedWithEarlier(record, entry, KCMP_VM, &image::ProcessEntry::vmOf, "address space")));
        record.processes.push_back(std::move(entry));
    }
    return record;
}

// ---- restore

namespace
{
// A system call that leaves errno alone: the child below shares our memory
// (CLONE_VM), errno included, so it must not write it.
long rawSyscall(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0)
{
    long ret;
    register long r10 asm("r10") = a3;
    asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}

struct StubChildArgs {
    int syncFd;
    const char *stubPath;
};

// The child between clone3 and execve. It runs on its own small stack in our
// address space (CLONE_VM, as posix_spawn does: no page tables are copied and
// our other threads take no copy-on-write faults), with all signals blocked:
// raw system calls only, no locks, no allocation, no errno.
[[noreturn]] void stubChild(void *opaque)
{
    const auto *a = static_cast<const StubChildArgs *>(opaque);
    char go = 0;
    while (rawSyscall(SYS_read, a->syncFd, reinterpret_cast<long>(&go), 1) == -EINTR) {
    }
    if (go != 'g') {
        rawSyscall(SYS_exit, 126);
    }
    // Default dispositions (exec keeps SIG_IGN), then an empty mask; the
    // image's dispositions and mask are set later.
    struct {
        uint64_t handler, flags, restorer, mask;
    } dfl{}; // kernel struct sigaction, SIG_DFL
    for (long sig = 1; sig <= 64; ++sig) {
        rawSyscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
    }
    uint64_t none = 0;
    rawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, 8);
    // No fds at all: restore recreates the fd table exactly.
    rawSyscall(SYS_close_range, 0, ~0u, 0);
    char *const argv[] = {const_cast<char *>(a->stubPath), nullptr};
    char *const envp[] = {nullptr};
    rawSyscall(SYS_execve, reinterpret_cast<long>(a->stubPath), reinterpret_cast<long>(argv), reinterpret_cast<long>(envp));
    rawSyscall(SYS_exit, 127);
    __builtin_unreachable();
}
} // namespace

std::string describePidHolder(pid_t pid)
{
    const std::string base = "pid " + std::to_string(pid) + " is in use";
    auto status = procfs::readStatus(pid);
    if (!status) {
        return base;
    }
    const auto name = status->find("Name");
    const auto tgid = status->find("Tgid");
    const std::string comm = name != status->end() ? name->second : "?";
    if (tgid != status->end() && tgid->second != std::to_string(pid)) {
        auto owner = procfs::readFile(procfs::path(std::stoi(tgid->second), "comm"));
        std::string ownerComm = owner ? *owner : comm;
        while (!ownerComm.empty() && ownerComm.back() == '\n') {
            ownerComm.pop_back();
        }
        return base + " by thread " + std::to_string(pid) + " of process " + tgid->second + " (" + ownerComm + ")";
    }
    return base + " by process " + std::to_string(pid) + " (" + comm + ")";
}

RestoredProcess::RestoredProcess(RestoredProcess &&other) noexcept
    : m_pid(std::exchange(other.m_pid, 0))
    , m_tracee(std::move(other.m_tracee))
    , m_entry(other.m_entry)
    , m_threads(std::move(other.m_threads))
    , m_threadTids(std::move(other.m_threadTids))
{
    other.m_threads.clear();
    other.m_threadTids.clear();
}

RestoredProcess &RestoredProcess::operator=(RestoredProcess &&other) noexcept
{
    if (this != &other) {
        kill();
        m_pid = std::exchange(other.m_pid, 0);
        m_tracee = std::move(other.m_tracee);
        m_entry = other.m_entry;
        m_threads = std::move(other.m_threads);
        m_threadTids = std::move(other.m_threadTids);
        other.m_threads.clear();
        other.m_threadTids.clear();
    }
    return *this;
}

RestoredProcess::~RestoredProcess()
{
    kill();
}


void RestoredProcess::kill()
{
    if (m_pid <= 0) {
        return;
    }
    const pid_t pid = std::exchange(m_pid, 0);
    m_tracee.release(); // a dead tracee needs no detach
    for (Tracee &t : m_threads) {
        t.release();
    }
    m_threads.clear();
    ::kill(pid, SIGKILL);
    // A traced thread stays a zombie until its tracer waits for it, and the
    // leader cannot be reaped before its threads are gone: the threads
    // first, then the leader (we are its parent and tracer). Those /proc
    // lists too (none can be added once SIGKILL is pending): one we never
    // heard of (an injected clone3 whose result was lost) would keep the
    // wait for the leader waiting forever.
    std::vector<pid_t> tids = std::exchange(m_threadTids, {});
    if (auto listed = procfs::listThreads(pid)) {
        for (const pid_t tid : *listed) {
            if (tid != pid && std::find(tids.begin(), tids.end(), tid) == tids.end()) {
                tids.push_back(tid);
            }
        }
    }
    for (const pid_t tid : tids) {
        reapTracee(tid);
    }
    reapTracee(pid);
}

void RestoredProcess::release()
{
    m_tracee.release();
    for (Tracee &t : m_threads) {
        t.release();
    }
    m_threads.clear();
    m_threadTids.clear();
    m_pid = 0;
}

Result<void> RestoredProcess::traceClones()
{
    const unsigned long options = PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE;
    if (::ptrace(PTRACE_SETOPTIONS, m_pid, nullptr, reinterpret_cast<void *>(options)) != 0) {
        return sysError("restore " + std::to_string(m_pid) + ": ptrace setoptions TRACECLONE");
    }
    return {};
}

Result<Tracee *> RestoredProcess::adoptThread(pid_t tid)
{
    const std::string what = "restore thread " + std::to_string(tid) + " of " + std::to_string(m_pid);
    m_threadTids.push_back(tid);
    // Every signal is blocked in it (it inherited the injector's mask), so
    // nothing else can come before its first stop.
    CRYOPOD_PROPAGATE(waitForFirstStop(tid, what, m_tracee.waiter()));
    m_threads.push_back(Tracee::adopt(tid));
    m_threads.back().setWaiter(m_tracee.waiter());
    return &m_threads.back();
}

Result<RestoredProcess> RestoredProcess::spawn(pid_t pid, const std::string &stubPath)
{
    const std::string what = "create process " + std::to_string(pid);
    if (pid <= 1) {
        return fail(what + ": invalid pid", EINVAL);
    }
    if (::access(stubPath.c_str(), X_OK) != 0) {
        return sysError(what + ": restore stub " + stubPath);
    }
    // A quick look first for a clear message; clone3 decides (EEXIST) anyway.
    if (::kill(pid, 0) == 0 || errno != ESRCH) {
        return fail(what + ": " + describePidHolder(pid), EEXIST);
    }
    int sync[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) {
        return sysError(what + ": pipe");
    }
    UniqueFd syncRead(sync[0]);
    UniqueFd syncWrite(sync[1]);

    // The child's stack and arguments live until it has exec'd: declared
    // before `process`, whose destructor (any failure below) kills and reaps
    // the child before they go.
    constexpr size_t kChildStack = 64 * 1024;
    std::unique_ptr<uint8_t[]> childStack(new uint8_t[kChildStack]);
    StubChildArgs childArgs{syncRead.get(), stubPath.c_str()};
    int64_t setTid = pid;
    CloneArgs args;
    args.flags = CLONE_VM;
    args.exitSignal = SIGCHLD;
    args.stack = reinterpret_cast<uint64_t>(childStack.get());
    args.stackSize = kChildStack;
    args.setTid = reinterpret_cast<uint64_t>(&setTid);
    args.setTidSize = 1;
    // No signal handler of ours may run in the child: block everything
    // around the clone; the child unblocks after resetting the dispositions.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const long child = cryopod_clone3_run(&args, sizeof args, stubChild, &childArgs);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (child < 0) {
        if (child == -EEXIST) {
            return fail(what + ": " + describePidHolder(pid), EEXIST);
        }
        return fail(what + ": clone3 set_tid", int(-child));
    }
    RestoredProcess process;
    process.m_pid = static_cast<pid_t>(child);
    syncRead.reset();
    // EXITKILL: should we die half-way, the kernel kills the half-made process.
    const unsigned long options = PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
    if (::ptrace(PTRACE_SEIZE, process.m_pid, nullptr, reinterpret_cast<void *>(options)) != 0) {
        return sysError(what + ": ptrace seize");
    }
    process.m_tracee = Tracee::adopt(process.m_pid);
    if (::write(syncWrite.get(), "g", 1) != 1) {
        return sysError(what + ": start child");
    }
    syncWrite.reset();
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(process.m_pid, &status, __WALL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sysError(what + ": waitpid");
        }
        if (!WIFSTOPPED(status)) {
            process.m_tracee.release();
            process.m_pid = 0;
            const bool execFailed = WIFEXITED(status) && WEXITSTATUS(status) == 127;
            return fail(what + ": " + (execFailed ? "exec " + stubPath + " failed" : "child " + describeWaitStatus(status)), ECHILD);
        }
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
            break;
        }
        // Anything else before the exec (a stray signal): swallow it.
        if (::ptrace(PTRACE_CONT, process.m_pid, nullptr, nullptr) != 0) {
            return sysError(what + ": ptrace cont");
        }
    }
    // The exec event stop comes before execve's own syscall-exit stop: step
    // to that one, so that the next PTRACE_SYSCALL of an injection reaches
    // the syscall-enter stop of the injected call. Still no user instruction ran.
    for (;;) {
        if (::ptrace(PTRACE_SYSCALL, process.m_pid, nullptr, nullptr) != 0) {
            return sysError(what + ": ptrace syscall");
        }
        auto status = process.m_tracee.waitStop();
        if (!status) {
            return std::unexpected(status.error().context(what));
        }
        if (WSTOPSIG(*status) == (SIGTRAP | 0x80)) {
            break;
        }
    }
    auto regs = process.m_tracee.getRegs();
    if (!regs) {
        return std::unexpected(regs.error().context(what));
    }
    process.m_entry = regs->rip;
    return process;
}

Result<RestoredProcess> RestoredProcess::forkFrom(RestoredProcess &parent, pid_t pid, int exitSignal, uint64_t cloneFlags)
{
    const std::string what = "create process " + std::to_string(pid) + " as a child of " + std::to_string(parent.m_pid);
    if (pid <= 1) {
        return fail(what + ": invalid pid", EINVAL);
    }
    if (::kill(pid, 0) == 0 || errno != ESRCH) {
        return fail(what + ": " + describePidHolder(pid), EEXIST);
    }
    // The child is attached to us from its first instruction on.
    const unsigned long options = PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE;
    if (::ptrace(PTRACE_SETOPTIONS, parent.m_pid, nullptr, reinterpret_cast<void *>(options)) != 0) {
        return sysError(what + ": ptrace setoptions TRACEFORK");
    }
    auto injector = Injector::create(parent.m_tracee, parent.m_entry + 5);
    if (!injector) {
        return std::unexpected(injector.error().context(what));
    }
    // The arguments go on the stub's stack, below its stack pointer.
    const uint64_t argsAddr = (injector->savedRegs().rsp - 1024) & ~uint64_t(15);
    struct {
        CloneArgs args;
        int32_t setTid;
    } block{};
    block.setTid = pid;
    block.args.flags = cloneFlags;
    block.args.exitSignal = uint64_t(exitSignal);
    block.args.setTid = argsAddr + offsetof(decltype(block), setTid);
    block.args.setTidSize = 1;
    CRYOPOD_PROPAGATE(injector->memory().write(argsAddr, std::span(reinterpret_cast<const uint8_t *>(&block), sizeof block)));
    // As for threads (cloneThread): right after the original was reaped its
    // pid may still be taken for a moment.
    Result<int64_t> child = 0;
    for (int attempt = 0;; ++attempt) {
        child = injector->syscall(SYS_clone3, argsAddr, sizeof(CloneArgs));
        if (!child || *child != -EEXIST || attempt == 100 || ::access(procfs::path(pid).c_str(), F_OK) == 0) {
            break;
        }
        const timespec pause{0, 10 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
    injector->dismiss(); // the parent's registers and mask are set by its own restore
    if (!child) {
        return std::unexpected(child.error().context(what));
    }
    if (*child == -EEXIST) {
        return fail(what + ": " + describePidHolder(pid), EEXIST);
    }
    if (*child < 0) {
        return fail(what + ": clone3 set_tid", int(-*child));
    }
    RestoredProcess process;
    process.m_pid = pid_t(*child);
    process.m_entry = parent.m_entry;
    if (process.m_pid != pid) {
        return fail(what + ": created " + std::to_string(*child) + " instead", EINVAL);
    }
    CRYOPOD_PROPAGATE(waitForFirstStop(process.m_pid, what, parent.m_tracee.waiter()));
    process.m_tracee = Tracee::adopt(process.m_pid);
    process.m_tracee.setWaiter(parent.m_tracee.waiter());
    return process;
}

Result<void> RestoredProcess::exitAs(int32_t status)
{
    const std::string what = "restore zombie " + std::to_string(m_pid);
    auto regs = m_tracee.getRegs();
    if (!regs) {
        return std::unexpected(regs.error().context(what));
    }
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (sig != 0) {
        // No core file from a placeholder: RLIMIT_CORE 0 first.
        auto injector = Injector::create(m_tracee, m_entry + 5);
        if (!injector) {
            return std::unexpected(injector.error().context(what));
        }
        const uint64_t limitAddr = (injector->savedRegs().rsp - 256) & ~uint64_t(15);
        const uint64_t zero[2] = {0, 0};
        CRYOPOD_PROPAGATE(injector->memory().write(limitAddr, std::span(reinterpret_cast<const uint8_t *>(zero), sizeof zero)));
        auto limited = injector->call(what + ": RLIMIT_CORE", SYS_setrlimit, RLIMIT_CORE, limitAddr);
        injector->dismiss();
        if (!limited) {
            return std::unexpected(limited.error());
        }
        CRYOPOD_PROPAGATE(m_tracee.setSigmask(0));
    }
    // From its ptrace stop straight into exit_group(code) or kill(self, sig).
    regs->rip = m_entry + 5;
    regs->orig_rax = ~0ull;
    regs->rax = sig != 0 ? SYS_kill : SYS_exit_group;
    regs->rdi = sig != 0 ? uint64_t(m_pid) : uint64_t(WEXITSTATUS(status));
    regs->rsi = uint64_t(sig);
    CRYOPOD_PROPAGATE(m_tracee.setRegs(*regs));
    int deliver = 0;
    for (;;) {
        if (::ptrace(PTRACE_CONT, m_pid, nullptr, reinterpret_cast<void *>(uintptr_t(deliver))) != 0) {
            return sysError(what + ": ptrace cont");
        }
        int wstatus = 0;
        pid_t r;
        do {
            r = ::waitpid(m_pid, &wstatus, __WALL);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            return sysError(what + ": waitpid");
        }
        if (WIFEXITED(wstatus) || WIFSIGNALED(wstatus)) {
            // We, its tracer, were told first; now its parent is.
            m_tracee.release();
            m_pid = 0;
            if ((wstatus & 0xff7f) != (status & 0xff7f)) {
                return fail(what + ": ended with " + describeWaitStatus(wstatus) + ", not " + describeWaitStatus(status), EIO);
            }
            return {};
        }
        // The signal it sent itself: let it take it.
        deliver = WIFSTOPPED(wstatus) && (wstatus >> 16) == 0 ? WSTOPSIG(wstatus) : 0;
    }
}

Result<void> restoreProcessGroup(RestoredProcess &process, const image::ProcessEntry &entry)
{
    const std::string what = "restore process group of " + std::to_string(entry.pid);
    if (entry.sid != entry.pid && entry.pgid != entry.pid) {
        return {};
    }
    auto injector = Injector::create(process.tracee(), process.entry() + 5);
    if (!injector) {
        return std::unexpected(injector.error().context(what));
    }
    auto r = entry.sid == entry.pid ? injector->call(what + ": setsid", SYS_setsid) : injector->call(what + ": setpgid", SYS_setpgid, 0, 0);
    injector->dismiss();
    if (!r) {
        return std::unexpected(r.error());
    }
    return {};
}

Result<void> joinProcessGroup(RestoredProcess &process, const image::ProcessEntry &entry, const image::ProcessTreeRecord &tree)
{
    const std::string what = "restore process group of " + std::to_string(entry.pid);
    auto inTree = [&](int32_t pid) {
        return std::any_of(tree.processes.begin(), tree.processes.end(), [pid](const image::ProcessEntry &e) {
            return e.pid == pid;
        });
    };
    auto stat = procfs::readStat(entry.pid);
    if (!stat) {
        return std::unexpected(stat.error().context(what));
    }
    if (inTree(entry.sid) && int32_t(stat->number(6)) != entry.sid) {
        return fail(what + ": it is in session " + std::to_string(stat->number(6)) + ", not " + std::to_string(entry.sid)
                        + " (its session leader is not among its ancestors in the tree)",
                    ENOTSUP);
    }
    if (entry.pgid == entry.pid || !inTree(entry.pgid) || int32_t(stat->number(5)) == entry.pgid) {
        return {};
    }
    auto injector = Injector::create(process.tracee(), process.entry() + 5);
    if (!injector) {
        return std::unexpected(injector.error().context(what));
    }
    auto r = injector->call(what + ": setpgid to " + std::to_string(entry.pgid), SYS_setpgid, 0, uint64_t(entry.pgid));
    injector->dismiss();
    if (!r) {
        return std::unexpected(r.error());
    }
    return {};
}

} // namespace cryopod::engine
