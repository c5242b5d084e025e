// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "memcopy.h"
#include "mem.h"

#include <cerrno>
#include <algorithm>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <optional>
#include <sys/mman.h>
#include <vector>
#include <csignal>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace cryopod::engine
{
namespace
{
constexpr unsigned long kDumpOptions = PTRACE_O_TRACESYSGOOD;
// While the copies are made: they are attached automatically (TRACECLONE) and
// die with the tracer (EXITKILL), so they never run the program's code.
constexpr unsigned long kCloneOptions = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL;

Result<void> setOptions(pid_t tid, unsigned long options, const std::string &what)
{
    if (::ptrace(PTRACE_SETOPTIONS, tid, nullptr, reinterpret_cast<void *>(options)) != 0) {
        return sysError(what + ": ptrace setoptions");
    }
    return {};
}

// A process our clone() made: attached automatically, stopped before its
// first instruction.
Result<Tracee> adoptClone(pid_t pid, const std::string &what)
{
    CRYOPOD_PROPAGATE(waitForFirstStop(pid, what));
    return Tracee::adopt(pid);
}

// SIGKILL to a tracee of ours and wait until the kernel reports it dead.
Result<void> killTracee(Tracee &tracee, const std::string &what)
{
    const pid_t pid = tracee.tid();
    if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
        return sysError(what + ": kill");
    }
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, __WALL);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            tracee.release();
            return errno == ECHILD ? Result<void>() : sysError(what + ": waitpid");
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            tracee.release();
            return {};
        }
        // A stop reported before the kill took effect: let the kill through.
        (void)::ptrace(PTRACE_CONT, pid, nullptr, nullptr);
    }
}

// C1 is dead and reported to us; it is now a zombie child of the target that
// only a wait with __WALL sees (exit signal 0). The target reaps it.
Result<void> reapInTarget(Injector &injector, pid_t child)
{
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto r = injector.syscall(SYS_wait4, uint64_t(child), 0, uint64_t(__WALL | WNOHANG), 0);
        if (!r) {
            return std::unexpected(r.error().context("memory copy: reap the intermediate process"));
        }
        if (*r == child) {
            return {};
        }
        if (*r < 0 && *r != -EINTR) {
            return fail("memory copy: reap the intermediate process " + std::to_string(child), int(-*r));
        }
        ::usleep(1000);
    }
    return fail("memory copy: the intermediate process " + std::to_string(child) + " did not become reapable", ETIMEDOUT);
}

// Memory a clone() leaves out of the copy (DONTFORK) or empty (WIPEONFORK).
// Whatever smaps said of its size before the pause, the pages present now
// are looked up (PAGEMAP_SCAN walks only the populated page tables).
bool carriedOver(const procfs::Mapping &m)
{
    return m.hasVmFlag("dc") || m.hasVmFlag("wf");
}

// The present (or swapped) pages of [m.start, m.end) in the target, written
// at the same addresses into the copy; a DONTFORK range is mapped there
// first (anonymous, writable: the copy is only ever read). `carried` counts
// the bytes, at most kMaxCarriedOver over all calls (EFBIG beyond).
Result<void> carryOver(pid_t target, Injector &copyInjector, const procfs::Mapping &m, const std::string &what, uint64_t &carried)
{
    const pid_t copy = copyInjector.tracee().tid();
    const uint64_t length = m.end - m.start;
    if (m.hasVmFlag("dc")) {
        auto mapped = copyInjector.call(what + ": map " + std::to_string(length) + " bytes of MADV_DONTFORK memory in the copy",
                                        SYS_mmap,
                                        m.start,
                                        length,
                                        PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                                        uint64_t(-1),
                                        0);
        if (!mapped) {
            return std::unexpected(mapped.error());
        }
        if (*mapped != m.start) {
            return fail(what + ": the copy's mapping of MADV_DONTFORK memory landed elsewhere", EEXIST);
        }
    }
    auto from = RemoteMemory::open(target);
    auto to = RemoteMemory::open(copy);
    if (!from || !to) {
        return std::unexpected((from ? to.error() : from.error()).context(what));
    }
    UniqueFd pagemap(::open(procfs::path(target, "pagemap").c_str(), O_RDONLY | O_CLOEXEC));
    if (!pagemap) {
        return sysError(what + ": open the target's pagemap");
    }
    std::vector<page_region> regions(64);
    std::vector<uint8_t> buffer;
    pm_scan_arg scan{};
    scan.size = sizeof(scan);
    scan.start = m.start;
    scan.end = m.end;
    scan.vec = uint64_t(uintptr_t(regions.data()));
    scan.vec_len = regions.size();
    scan.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
    scan.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
    while (scan.start < scan.end) {
        const int found = ::ioctl(pagemap.get(), PAGEMAP_SCAN, &scan);
        if (found < 0) {
            return sysError(what + ": scan the target's pagemap (PAGEMAP_SCAN)");
        }
        for (int i = 0; i < found; ++i) {
            constexpr uint64_t kChunk = 1ull << 20;
            for (uint64_t addr = regions[size_t(i)].start; addr < regions[size_t(i)].end; addr += kChunk) {
                const uint64_t n = std::min<uint64_t>(kChunk, regions[size_t(i)].end - addr);
                carried += n;
                if (carried > kMaxCarriedOver) {
                    return fail(what + ": more than " + std::to_string(kMaxCarriedOver >> 20)
                                    + " MiB of MADV_DONTFORK or MADV_WIPEONFORK memory to carry over into the copy",
                                EFBIG);
                }
                buffer.resize(size_t(n));
                CRYOPOD_PROPAGATE(from->read(addr, buffer));
                CRYOPOD_PROPAGATE(to->write(addr, buffer));
            }
        }
        if (scan.walk_end <= scan.start) {
            return fail(what + ": PAGEMAP_SCAN made no progress", EIO);
        }
        scan.start = scan.walk_end;
    }
    return {};
}
} // namespace

namespace
{
Result<void> setChildSubreaper(Tracee &tracee, int value)
{
    auto injector = Injector::create(tracee);
    if (!injector) {
        return std::unexpected(injector.error());
    }
    const std::string what = "prctl(PR_SET_CHILD_SUBREAPER, " + std::to_string(value) + ") in " + std::to_string(tracee.tid());
    auto r = injector->call(what, SYS_prctl, PR_SET_CHILD_SUBREAPER, uint64_t(value));
    auto finished = injector->finish();
    if (!r) {
        return std::unexpected(r.error());
    }
    return finished;
}
} // namespace

Result<SubreaperPause> SubreaperPause::begin(const std::vector<Tracee *> &subreapers)
{
    SubreaperPause pause;
    for (Tracee *tracee : subreapers) {
        CRYOPOD_PROPAGATE(setChildSubreaper(*tracee, 0));
        pause.m_cleared.push_back(tracee);
    }
    return pause;
}

Result<void> SubreaperPause::end()
{
    Result<void> result;
    for (Tracee *tracee : std::exchange(m_cleared, {})) {
        if (auto r = setChildSubreaper(*tracee, 1); !r && result) {
            result = std::unexpected(r.error());
        }
    }
    return result;
}

std::string adoptCopyLayout(std::vector<procfs::Mapping> &mappings, const std::vector<procfs::Mapping> &copySmaps)
{
    // The flags clone() hands on unchanged. Not "lo" (mlock is not
    // inherited) nor "uw"/"ui" (nor a userfaultfd registration); a DONTFORK
    // range is in the copy only as the anonymous memory take() mapped.
    static constexpr std::string_view kInherited[] = {"wf", "gd", "ht", "ss", "io", "pf", "sh", "ms"};
    size_t j = 0;
    for (procfs::Mapping &m : mappings) {
        const std::string where = "mapping " + hexRange(m.start, m.end);
        while (j < copySmaps.size() && copySmaps[j].end <= m.start) {
            ++j;
        }
        if (j == copySmaps.size() || copySmaps[j].start > m.start || copySmaps[j].end < m.end) {
            return where + " is not in the copy (MADV_DONTFORK set just before the pause?)";
        }
        const procfs::Mapping &c = copySmaps[j];
        if (!m.hasVmFlag("dc")) {
            for (const std::string_view flag : kInherited) {
                if (m.hasVmFlag(flag) != c.hasVmFlag(flag)) {
                    return where + ": VmFlag \"" + std::string(flag) + "\" " + (c.hasVmFlag(flag) ? "set" : "cleared") + " just before the pause";
                }
            }
        }
        if (c.start == m.start && c.end == m.end) {
            m.rssKiB = c.rssKiB;
            m.anonKiB = c.anonKiB;
            m.swapKiB = c.swapKiB;
        } else {
            // Merged in the copy with memory take() mapped next to it: its
            // own share is unknown, so nothing of it is skipped as empty.
            m.rssKiB = m.anonKiB = (m.end - m.start) >> 10;
            m.swapKiB = 0;
        }
    }
    return {};
}

std::string memoryCopyObstacle(pid_t pid, const std::vector<procfs::Mapping> &mappings)
{
    (void)pid; // seccomp: the injector's guard checks each call of the copy against the filters (take())
    uint64_t carried = 0; // an estimate: take() counts what is present at the pause
    for (const procfs::Mapping &m : mappings) {
        if (carriedOver(m)) {
            carried += (m.rssKiB + m.swapKiB) << 10;
        }
    }
    if (carried > kMaxCarriedOver) {
        return "it has " + std::to_string(carried >> 20) + " MiB of MADV_DONTFORK or MADV_WIPEONFORK memory, more than is carried over into a copy ("
            + std::to_string(kMaxCarriedOver >> 20) + " MiB)";
    }
    return {};
}

MemoryCopy &MemoryCopy::operator=(MemoryCopy &&other) noexcept
{
    if (this != &other) {
        (void)release();
        m_tracee = std::move(other.m_tracee);
    }
    return *this;
}

MemoryCopy::~MemoryCopy()
{
    (void)release();
}

Result<void> MemoryCopy::release()
{
    if (!m_tracee.attached()) {
        return {};
    }
    return killTracee(m_tracee, "memory copy " + std::to_string(m_tracee.tid()));
}

Result<MemoryCopy> MemoryCopy::take(Injector &injector, const std::vector<procfs::Mapping> &mappings)
{
    const pid_t thread = injector.tracee().tid();
    const std::string what = "memory copy of " + std::to_string(thread);
    CRYOPOD_PROPAGATE(setOptions(thread, kCloneOptions, what));
    // C1: clone(CLONE_VM, exit signal 0) in the target. Sharing the
    // target's address space it costs nothing to make; the clone() without
    // CLONE_VM it makes in turn copies the page tables once.
    auto first = injector.call(what + ": clone", SYS_clone, CLONE_VM, 0, 0, 0, 0);
    auto reset = setOptions(thread, kDumpOptions, what);
    if (!first) {
        return std::unexpected(first.error());
    }
    const pid_t c1 = pid_t(*first);
    auto t1 = adoptClone(c1, what + ": intermediate process " + std::to_string(c1));
    if (!t1) {
        // Not ours to stop: make sure it dies, and leave no zombie.
        ::kill(c1, SIGKILL);
        (void)reapInTarget(injector, c1);
        return std::unexpected(t1.error());
    }
    // From here on, every way out kills C1 and has the target reap it. The
    // injectors into C1 and C2 are dismissed, never finished: neither
    // process runs again.
    std::optional<Injector> i1, i2;
    MemoryCopy copy;
    auto dropFirst = [&](Error error) -> Result<MemoryCopy> {
        if (i1) {
            i1->dismiss();
        }
        if (i2) {
            i2->dismiss();
        }
        (void)copy.release();
        (void)killTracee(*t1, what);
        (void)reapInTarget(injector, c1);
        return std::unexpected(std::move(error));
    };
    if (!reset) {
        return dropFirst(reset.error());
    }
    auto created1 = Injector::create(*t1, injector.syscallAddress());
    if (!created1) {
        return dropFirst(created1.error());
    }
    i1.emplace(std::move(*created1));
    i1->setGuard(injector.guard()); // a clone inherits the filters
    auto second = i1->call(what + ": clone in the intermediate process", SYS_clone, 0, 0, 0, 0, 0);
    if (!second) {
        return dropFirst(second.error());
    }
    i1->dismiss();
    const pid_t c2 = pid_t(*second);
    auto t2 = adoptClone(c2, what + ": copy " + std::to_string(c2));
    if (!t2) {
        ::kill(c2, SIGKILL);
        return dropFirst(t2.error());
    }
    copy.m_tracee = std::move(*t2);
    // The copy leaves the target's session and group (no signal for the
    // group reaches it) and drops every fd it inherited.
    auto created2 = Injector::create(copy.m_tracee, injector.syscallAddress());
    if (!created2) {
        return dropFirst(created2.error());
    }
    i2.emplace(std::move(*created2));
    i2->setGuard(injector.guard());
    if (auto r = i2->call(what + ": setsid in the copy", SYS_setsid); !r) {
        return dropFirst(r.error());
    }
    if (auto r = i2->call(what + ": close_range in the copy", SYS_close_range, 0, ~0u, 0); !r) {
        return dropFirst(r.error());
    }
    uint64_t carried = 0;
    for (const procfs::Mapping &m : mappings) {
        if (carriedOver(m)) {
            if (auto r = carryOver(injector.tracee().tid(), *i2, m, what, carried); !r) {
                return dropFirst(r.error());
            }
        }
    }
    i2->dismiss();
    // C1 goes: C2 is orphaned to init (or the nearest subreaper), which gets
    // its SIGCHLD when release() kills it. The target reaps C1 now.
    if (auto r = killTracee(*t1, what + ": intermediate process"); !r) {
        return dropFirst(r.error());
    }
    if (auto r = reapInTarget(injector, c1); !r) {
        return std::unexpected(r.error());
    }
    return copy;
}

} // namespace cryopod::engine
