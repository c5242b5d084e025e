// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// See ptrace_inject.h for the API. Notes on the kernel behaviour this relies on:
//
// - Injection runs one `syscall` instruction with rip pointing at it, stopping
//   at syscall-enter and syscall-exit (PTRACE_SYSCALL, TRACESYSGOOD marks the
//   stops with SIGTRAP|0x80). Hardware breakpoints do not fire on the project's
//   machines, so nothing here uses them. Any occurrence of the bytes 0f 05 is
//   usable, even inside a longer instruction: decoding starts at rip.
// - orig_rax is set to -1 in the injected registers: when the thread leaves a
//   signal/interrupt stop, the kernel's restart logic looks at orig_rax and
//   rax; with orig_rax < 0 it never rewinds rip over our instruction.
// - The saved registers of a thread frozen inside a system call carry rax =
//   -ERESTART* and orig_rax = nr. If we simply put them back at a syscall-exit
//   stop and detached, the restart logic would not run (it runs only on the
//   signal path) and user space would see -ERESTART*. finish() therefore
//   re-enters an interrupt stop (PTRACE_INTERRUPT + PTRACE_CONT) after putting
//   the registers back: the thread then leaves through the signal path at
//   detach and the kernel restarts the call with its own restart block.
// - All signals are blocked while injecting (PTRACE_SETSIGMASK), so that no
//   handler runs on our registers. SIGKILL and SIGSTOP cannot be blocked: a
//   SIGSTOP seen as a signal-delivery-stop is suppressed and sent again at
//   finish().
#include "ptrace_inject.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <elf.h>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <sstream>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cryopod::engine
{

// ---- helpers ------------------------------------------------------------------

std::string errnoName(int code)
{
    if (const char *name = strerrorname_np(code)) {
        return name;
    }
    return "errno " + std::to_string(code);
}

std::string describeWaitStatus(int status)
{
    char buf[96];
    if (WIFEXITED(status)) {
        std::snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        const char *name = sigabbrev_np(WTERMSIG(status));
        std::snprintf(buf, sizeof buf, "killed by SIG%s%s", name ? name : "?", WCOREDUMP(status) ? " (core dumped)" : "");
    } else if (WIFSTOPPED(status)) {
        const int sig = WSTOPSIG(status);
        const int event = status >> 16;
        const char *name = sigabbrev_np(sig & 0x7f);
        std::snprintf(buf, sizeof buf, "stopped by SIG%s%s event %d", name ? name : "?", (sig & 0x80) ? "|0x80" : "", event);
    } else {
        std::snprintf(buf, sizeof buf, "wait status 0x%x", status);
    }
    return buf;
}

namespace
{
std::string hex(uint64_t v)
{
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

uint64_t nowMs()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

bool isSyscallStop(int status)
{
    return WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80);
}

bool isEventStop(int status)
{
    return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP;
}

// A plain signal-delivery-stop (not a syscall stop, not a ptrace event).
bool isSignalDeliveryStop(int status)
{
    return WIFSTOPPED(status) && (status >> 16) == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80);
}
} // namespace

// ---- Tracee -------------------------------------------------------------------

Tracee::~Tracee()
{
    if (attached()) {
        (void)detach(0);
    }
}

Tracee::Tracee(Tracee &&other) noexcept
    : m_tid(other.release())
    , m_waiter(other.m_waiter)
{
}

Tracee &Tracee::operator=(Tracee &&other) noexcept
{
    if (this != &other) {
        if (attached()) {
            (void)detach(0);
        }
        m_tid = other.release();
        m_waiter = other.m_waiter;
    }
    return *this;
}

Result<Tracee> Tracee::seize(pid_t tid, unsigned options, int timeoutMs)
{
    auto tracee = seizeInterrupt(tid, options);
    if (!tracee) {
        return std::unexpected(tracee.error());
    }
    CRYOPOD_PROPAGATE(tracee->waitInterruptStop(timeoutMs));
    return std::move(*tracee);
}

Result<Tracee> Tracee::seizeInterrupt(pid_t tid, unsigned options)
{
    if (::ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void *>(static_cast<uintptr_t>(options))) != 0) {
        return sysError("ptrace seize " + std::to_string(tid));
    }
    Tracee tracee(tid);
    if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
        return sysError("ptrace interrupt " + std::to_string(tid));
    }
    return tracee;
}

Result<void> Tracee::waitInterruptStop(int timeoutMs)
{
    const pid_t tid = m_tid;
    // Wait for the interrupt (or a group) stop. A signal that arrives first
    // shows up as a signal-delivery-stop: deliver it as the kernel would have;
    // the pending interrupt then stops the thread right after.
    const uint64_t deadline = timeoutMs < 0 ? 0 : nowMs() + uint64_t(timeoutMs);
    for (;;) {
        const int left = timeoutMs < 0 ? -1 : int(std::max<int64_t>(0, int64_t(deadline) - int64_t(nowMs())));
        auto status = waitStop(left);
        if (!status) {
            // Not stopped (or gone): PTRACE_DETACH would fail. A thread that
            // never stopped stays attached to us until our thread exits.
            release();
            return std::unexpected(status.error().context("seize " + std::to_string(tid)));
        }
        if (isEventStop(*status)) {
            return {};
        }
        const int sig = isSignalDeliveryStop(*status) ? WSTOPSIG(*status) : 0;
        if (::ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void *>(static_cast<uintptr_t>(sig))) != 0) {
            return sysError("seize " + std::to_string(tid) + ": ptrace cont");
        }
    }
}

Tracee Tracee::adopt(pid_t tid)
{
    return Tracee(tid);
}

Result<user_regs_struct> Tracee::getRegs() const
{
    user_regs_struct regs{};
    if (::ptrace(PTRACE_GETREGS, m_tid, nullptr, &regs) != 0) {
        return sysError("ptrace getregs " + std::to_string(m_tid));
    }
    return regs;
}

Result<void> Tracee::setRegs(const user_regs_struct &regs) const
{
    if (::ptrace(PTRACE_SETREGS, m_tid, nullptr, &regs) != 0) {
        return sysError("ptrace setregs " + std::to_string(m_tid));
    }
    return {};
}

Result<user_fpregs_struct> Tracee::getFpRegs() const
{
    user_fpregs_struct regs{};
    if (::ptrace(PTRACE_GETFPREGS, m_tid, nullptr, &regs) != 0) {
        return sysError("ptrace getfpregs " + std::to_string(m_tid));
    }
    return regs;
}

Result<void> Tracee::setFpRegs(const user_fpregs_struct &regs) const
{
    if (::ptrace(PTRACE_SETFPREGS, m_tid, nullptr, &regs) != 0) {
        return sysError("ptrace setfpregs " + std::to_string(m_tid));
    }
    return {};
}

Result<std::vector<uint8_t>> Tracee::getXState() const
{
    // The XSAVE area is at most a few KiB today (AMX makes it ~11 KiB); the
    // kernel shortens iov_len to what it wrote. The 64 KiB it may take are
    // not zeroed first: that cost ~170 us a thread here (docs/performance.md).
    constexpr size_t kMaxBytes = 64 * 1024;
    const std::unique_ptr<uint8_t[]> buf(new uint8_t[kMaxBytes]);
    iovec iov{buf.get(), kMaxBytes};
    if (::ptrace(PTRACE_GETREGSET, m_tid, reinterpret_cast<void *>(NT_X86_XSTATE), &iov) != 0) {
        return sysError("ptrace getregset xstate " + std::to_string(m_tid));
    }
    return std::vector<uint8_t>(buf.get(), buf.get() + iov.iov_len);
}

Result<void> Tracee::setXState(std::span<const uint8_t> xstate) const
{
    std::vector<uint8_t> copy(xstate.begin(), xstate.end());
    iovec iov{copy.data(), copy.size()};
    if (::ptrace(PTRACE_SETREGSET, m_tid, reinterpret_cast<void *>(NT_X86_XSTATE), &iov) != 0) {
        return sysError("ptrace setregset xstate " + std::to_string(m_tid));
    }
    return {};
}

Result<uint64_t> Tracee::getSigmask() const
{
    uint64_t mask = 0;
    if (::ptrace(PTRACE_GETSIGMASK, m_tid, reinterpret_cast<void *>(sizeof mask), &mask) != 0) {
        return sysError("ptrace getsigmask " + std::to_string(m_tid));
    }
    return mask;
}

Result<void> Tracee::setSigmask(uint64_t mask) const
{
    if (::ptrace(PTRACE_SETSIGMASK, m_tid, reinterpret_cast<void *>(sizeof mask), &mask) != 0) {
        return sysError("ptrace setsigmask " + std::to_string(m_tid));
    }
    return {};
}

Result<std::vector<Tracee::Siginfo>> Tracee::peekSiginfo(bool shared) const
{
    std::vector<Siginfo> out;
    constexpr int kBatch = 32;
    Siginfo batch[kBatch];
    for (;;) {
        __ptrace_peeksiginfo_args args{};
        args.off = out.size();
        args.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0;
        args.nr = kBatch;
        const long n = ::ptrace(PTRACE_PEEKSIGINFO, m_tid, &args, batch);
        if (n < 0) {
            return sysError(std::string("ptrace peeksiginfo") + (shared ? " (shared)" : "") + " " + std::to_string(m_tid));
        }
        if (n == 0) {
            return out;
        }
        out.insert(out.end(), batch, batch + n);
    }
}

Result<Tracee::RseqConfiguration> Tracee::getRseqConfiguration() const
{
    // struct ptrace_rseq_configuration
    struct {
        uint64_t rseqAbiPointer;
        uint32_t rseqAbiSize;
        uint32_t signature;
        uint32_t flags;
        uint32_t pad;
    } conf{};
    static_assert(sizeof conf == 24);
    const long n = ::ptrace(PTRACE_GET_RSEQ_CONFIGURATION, m_tid, reinterpret_cast<void *>(sizeof conf), &conf);
    if (n < 0) {
        return sysError("ptrace get rseq configuration " + std::to_string(m_tid));
    }
    RseqConfiguration r;
    r.addr = conf.rseqAbiPointer;
    r.size = conf.rseqAbiSize;
    r.signature = conf.signature;
    r.flags = conf.flags;
    return r;
}

Result<int> Tracee::waitStop(int timeoutMs) const
{
    if (timeoutMs < 0) {
        return waitStop();
    }
    // No wait-with-timeout for ptrace stops: poll, sleeping a little longer
    // each time (a stop normally comes within microseconds).
    const uint64_t deadline = nowMs() + uint64_t(timeoutMs);
    long sleepNs = 10000;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(m_tid, &status, __WALL | WNOHANG);
        if (r == m_tid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            return sysError("waitpid " + std::to_string(m_tid));
        }
        if (r == 0) {
            if (nowMs() >= deadline) {
                return fail("thread " + std::to_string(m_tid) + " did not stop within " + std::to_string(timeoutMs) + " ms", ETIMEDOUT);
            }
            const timespec pause{0, sleepNs};
            ::nanosleep(&pause, nullptr);
            sleepNs = std::min<long>(sleepNs * 2, 10000000);
        }
    }
    if (!WIFSTOPPED(status)) {
        return fail("process " + std::to_string(m_tid) + " " + describeWaitStatus(status), ESRCH);
    }
    return status;
}

Result<int> Tracee::waitStop() const
{
    int status = 0;
    if (m_waiter) {
        auto waited = m_waiter->waitStatus(m_tid);
        if (!waited) {
            return std::unexpected(waited.error());
        }
        status = *waited;
    }
    while (!m_waiter) {
        const pid_t r = ::waitpid(m_tid, &status, __WALL);
        if (r == m_tid) {
            break;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return sysError("waitpid " + std::to_string(m_tid));
    }
    if (!WIFSTOPPED(status)) {
        return fail("process " + std::to_string(m_tid) + " " + describeWaitStatus(status), ESRCH);
    }
    return status;
}

Result<void> Tracee::reinterrupt() const
{
    if (::ptrace(PTRACE_INTERRUPT, m_tid, nullptr, nullptr) != 0) {
        return sysError("ptrace interrupt " + std::to_string(m_tid));
    }
    int sig = 0;
    for (;;) {
        if (::ptrace(PTRACE_CONT, m_tid, nullptr, reinterpret_cast<void *>(static_cast<uintptr_t>(sig))) != 0) {
            return sysError("ptrace cont " + std::to_string(m_tid));
        }
        auto status = waitStop();
        if (!status) {
            return std::unexpected(status.error());
        }
        if (isEventStop(*status)) {
            return {};
        }
        sig = isSignalDeliveryStop(*status) ? WSTOPSIG(*status) : 0;
    }
}

Result<void> Tracee::detach(int sig)
{
    const pid_t tid = release();
    if (tid <= 0) {
        return {};
    }
    if (::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void *>(static_cast<uintptr_t>(sig))) != 0) {
        return sysError("ptrace detach " + std::to_string(tid));
    }
    return {};
}

pid_t Tracee::release()
{
    const pid_t tid = m_tid;
    m_tid = -1;
    return tid;
}

// ---- remote memory ------------------------------------------------------------

Result<RemoteMemory> RemoteMemory::open(pid_t pid)
{
    const std::string path = "/proc/" + std::to_string(pid) + "/mem";
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return sysError("open " + path);
    }
    RemoteMemory memory;
    memory.m_fd.reset(fd);
    return memory;
}

Result<void> RemoteMemory::read(uint64_t addr, std::span<uint8_t> out) const
{
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(m_fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(addr + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return sysError("read remote memory " + hex(addr + done) + "+" + std::to_string(out.size() - done));
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<void> RemoteMemory::write(uint64_t addr, std::span<const uint8_t> in) const
{
    size_t done = 0;
    while (done < in.size()) {
        const ssize_t n = ::pwrite(m_fd.get(), in.data() + done, in.size() - done, static_cast<off_t>(addr + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return sysError("write remote memory " + hex(addr + done) + "+" + std::to_string(in.size() - done));
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

namespace
{
// Shared loop of vmRead/vmWrite: walks both iovec lists in step, calls the
// syscall with at most IOV_MAX entries each, and continues after partial
// transfers (which the kernel reports when a remote iovec faults).
template<typename Fn>
Result<size_t> vmTransfer(pid_t pid, std::span<const iovec> local, std::span<const iovec> remote, Fn fn, const char *what)
{
    size_t total = 0;
    for (const iovec &v : remote) {
        total += v.iov_len;
    }
    size_t localTotal = 0;
    for (const iovec &v : local) {
        localTotal += v.iov_len;
    }
    if (localTotal != total) {
        return fail(std::string(what) + ": local and remote sizes differ", EINVAL);
    }
    std::vector<iovec> l(local.begin(), local.end());
    std::vector<iovec> r(remote.begin(), remote.end());
    size_t li = 0, ri = 0, done = 0;
    while (done < total) {
        while (li < l.size() && l[li].iov_len == 0) {
            ++li;
        }
        while (ri < r.size() && r[ri].iov_len == 0) {
            ++ri;
        }
        const size_t lc = std::min<size_t>(IOV_MAX, l.size() - li);
        const size_t rc = std::min<size_t>(IOV_MAX, r.size() - ri);
        const ssize_t n = fn(pid, &l[li], lc, &r[ri], rc, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EFAULT;
            }
            return sysError(std::string(what) + " " + std::to_string(pid) + " at " + hex(reinterpret_cast<uint64_t>(r[ri].iov_base)));
        }
        done += static_cast<size_t>(n);
        // Advance both lists by n bytes.
        for (size_t left = static_cast<size_t>(n); left > 0;) {
            const size_t step = std::min(left, l[li].iov_len);
            l[li].iov_base = static_cast<uint8_t *>(l[li].iov_base) + step;
            l[li].iov_len -= step;
            left -= step;
            if (l[li].iov_len == 0) {
                ++li;
            }
        }
        for (size_t left = static_cast<size_t>(n); left > 0;) {
            const size_t step = std::min(left, r[ri].iov_len);
            r[ri].iov_base = static_cast<uint8_t *>(r[ri].iov_base) + step;
            r[ri].iov_len -= step;
            left -= step;
            if (r[ri].iov_len == 0) {
                ++ri;
            }
        }
    }
    return done;
}
} // namespace

Result<size_t> vmRead(pid_t pid, std::span<const iovec> local, std::span<const iovec> remote)
{
    return vmTransfer(pid, local, remote, ::process_vm_readv, "process_vm_readv");
}

Result<size_t> vmWrite(pid_t pid, std::span<const iovec> local, std::span<const iovec> remote)
{
    return vmTransfer(pid, local, remote, ::process_vm_writev, "process_vm_writev");
}

Result<uint64_t> findSyscallInstruction(pid_t pid, const RemoteMemory &memory)
{
    struct Range {
        uint64_t start, end;
        bool vdso;
    };
    std::vector<Range> ranges;
    {
        std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
        if (!maps) {
            return sysError("open /proc/" + std::to_string(pid) + "/maps");
        }
        std::string line;
        while (std::getline(maps, line)) {
            unsigned long long start = 0, end = 0;
            char perms[8] = {};
            if (std::sscanf(line.c_str(), "%llx-%llx %7s", &start, &end, perms) != 3 || perms[2] != 'x' || perms[0] != 'r') {
                continue;
            }
            const bool vdso = line.ends_with("[vdso]");
            if (line.ends_with("[vsyscall]")) {
                continue; // emulated or execute-only: never usable
            }
            ranges.push_back({start, end, vdso});
        }
    }
    std::stable_partition(ranges.begin(), ranges.end(), [](const Range &r) {
        return r.vdso;
    });
    // Not zeroed: the vdso, searched first, is two pages, and zeroing 64 KiB
    // for it cost more than reading it (see Tracee::getXState).
    constexpr size_t kBufBytes = 64 * 1024;
    const std::unique_ptr<uint8_t[]> buf(new uint8_t[kBufBytes]);
    for (const Range &range : ranges) {
        for (uint64_t at = range.start; at < range.end; at += kBufBytes - 1) {
            const size_t len = std::min<uint64_t>(kBufBytes, range.end - at);
            if (!memory.read(at, std::span(buf.get(), len))) {
                break; // unreadable mapping: try the next one
            }
            for (size_t i = 0; i + 1 < len; ++i) {
                if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
                    return at + i;
                }
            }
            if (len < kBufBytes) {
                break;
            }
        }
    }
    return fail("no syscall instruction found in process " + std::to_string(pid), ENOENT);
}

// ---- Injector -----------------------------------------------------------------

Injector::~Injector()
{
    if (m_active) {
        (void)finish();
    }
}

Injector::Injector(Injector &&other) noexcept
    : m_tracee(other.m_tracee)
    , m_memory(std::move(other.m_memory))
    , m_savedRegs(other.m_savedRegs)
    , m_savedMask(other.m_savedMask)
    , m_syscallInsn(other.m_syscallInsn)
    , m_count(other.m_count)
    , m_roundTrips(other.m_roundTrips)
    , m_runner(other.m_runner)
    , m_active(other.m_active)
    , m_trapStops(other.m_trapStops)
    , m_suppressedSignals(std::move(other.m_suppressedSignals))
    , m_guard(std::move(other.m_guard))
{
    other.m_active = false;
    other.m_tracee = nullptr;
}

Result<Injector> Injector::create(Tracee &tracee)
{
    auto memory = RemoteMemory::open(tracee.tid());
    if (!memory) {
        return std::unexpected(memory.error());
    }
    auto insn = findSyscallInstruction(tracee.tid(), *memory);
    if (!insn) {
        return std::unexpected(insn.error());
    }
    Injector injector;
    injector.m_tracee = &tracee;
    injector.m_memory = std::move(*memory);
    CRYOPOD_PROPAGATE(injector.init(*insn));
    return injector;
}

Result<Injector> Injector::create(Tracee &tracee, uint64_t syscallInsn)
{
    auto memory = RemoteMemory::open(tracee.tid());
    if (!memory) {
        return std::unexpected(memory.error());
    }
    Injector injector;
    injector.m_tracee = &tracee;
    injector.m_memory = std::move(*memory);
    CRYOPOD_PROPAGATE(injector.init(syscallInsn));
    return injector;
}

Result<void> Injector::init(uint64_t syscallInsn)
{
    CRYOPOD_PROPAGATE(setSyscallAddress(syscallInsn));
    auto regs = m_tracee->getRegs();
    if (!regs) {
        return std::unexpected(regs.error());
    }
    auto mask = m_tracee->getSigmask();
    if (!mask) {
        return std::unexpected(mask.error());
    }
    m_savedRegs = *regs;
    m_savedMask = *mask;
    CRYOPOD_PROPAGATE(m_tracee->setSigmask(~uint64_t(0)));
    m_active = true;
    return {};
}

Result<void> Injector::setSyscallAddress(uint64_t syscallInsn)
{
    CRYOPOD_PROPAGATE(disableTrapStops()); // enableTrapStops() again for the new one
    uint8_t insn[2] = {};
    if (auto r = m_memory.read(syscallInsn, insn); !r) {
        return std::unexpected(r.error().context("syscall instruction"));
    }
    if (insn[0] != 0x0f || insn[1] != 0x05) {
        return fail("no syscall instruction at " + hex(syscallInsn), EINVAL);
    }
    m_syscallInsn = syscallInsn;
    return {};
}

// A task attached automatically (a thread or child of a tracee, with
// PTRACE_O_TRACECLONE / TRACEFORK) starts in a PTRACE_EVENT_STOP, before its
// first instruction; anything else first (a stray signal) is let through.
Result<void> waitForFirstStop(pid_t tid, const std::string &what, StopWaiter *waiter)
{
    for (;;) {
        int status = 0;
        if (waiter) {
            auto waited = waiter->waitStatus(tid);
            if (!waited) {
                return std::unexpected(waited.error().context(what));
            }
            status = *waited;
        }
        const pid_t r = waiter ? tid : ::waitpid(tid, &status, __WALL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sysError(what + ": waitpid");
        }
        if (!WIFSTOPPED(status)) {
            return fail(what + ": " + describeWaitStatus(status), ECHILD);
        }
        if ((status >> 16) == PTRACE_EVENT_STOP) {
            return {};
        }
        if (::ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
            return sysError(what + ": ptrace cont");
        }
    }
}

Result<int64_t> Injector::syscall(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    if (!m_active) {
        return fail("inject syscall " + std::to_string(nr) + ": injector finished", EINVAL);
    }
    const pid_t tid = m_tracee->tid();
    if (StopWaiter *waiter = m_tracee->waiter()) {
        CRYOPOD_PROPAGATE(waiter->mayStart(tid));
    }
    if (m_guard) {
        // The kernel reports the address after the 2-byte `syscall` instruction.
        CRYOPOD_PROPAGATE(m_guard(nr, {a0, a1, a2, a3, a4, a5}, m_syscallInsn + 2));
    }
    user_regs_struct regs = m_savedRegs;
    regs.rip = m_syscallInsn;
    regs.rax = static_cast<uint64_t>(nr);
    regs.orig_rax = ~0ull; // no restart logic on our way out of the current stop
    regs.rdi = a0;
    regs.rsi = a1;
    regs.rdx = a2;
    regs.r10 = a3;
    regs.r8 = a4;
    regs.r9 = a5;
    CRYOPOD_PROPAGATE(m_tracee->setRegs(regs));

    if (m_trapStops) {
        return trapStopSyscall(nr);
    }
    m_roundTrips += 2;
    // Two syscall stops: enter, then exit. A group stop (SIGSTOP from outside)
    // or a signal-delivery-stop of an unblockable signal can come in between;
    // resume through them (remembering the signal, see finish()).
    for (int stage = 0; stage < 2;) {
        if (::ptrace(PTRACE_SYSCALL, tid, nullptr, nullptr) != 0) {
            return sysError("inject syscall " + std::to_string(nr) + ": ptrace syscall");
        }
        auto status = m_tracee->waitStop();
        if (!status) {
            m_active = false;
            return std::unexpected(status.error().context("inject syscall " + std::to_string(nr)));
        }
        if (isSyscallStop(*status)) {
            ++stage;
            continue;
        }
        if (isSignalDeliveryStop(*status)) {
            m_suppressedSignals.push_back(WSTOPSIG(*status));
        }
    }
    auto after = m_tracee->getRegs();
    if (!after) {
        return std::unexpected(after.error());
    }
    if (after->rip != m_syscallInsn + 2) {
        return fail("inject syscall " + std::to_string(nr) + ": thread stopped at " + hex(after->rip) + ", expected " + hex(m_syscallInsn + 2), EFAULT);
    }
    ++m_count;
    return static_cast<int64_t>(after->rax);
}

Result<int64_t> Injector::trapStopSyscall(long nr)
{
    // Runs to the int3 right after the instruction: a SIGTRAP
    // signal-delivery-stop at m_syscallInsn + 3, suppressed by the next
    // resume. Any other signal-delivery-stop (SIGSTOP, a SIGTRAP sent from
    // outside, seen before the int3) is remembered as in syscall().
    auto after = runToTrap(m_syscallInsn + 3, "inject syscall " + std::to_string(nr), m_syscallInsn + 2);
    if (!after) {
        return std::unexpected(after.error());
    }
    ++m_count;
    return static_cast<int64_t>(after->rax);
}

Result<void> Injector::enableTrapStops()
{
    uint8_t next = 0;
    if (auto r = m_memory.read(m_syscallInsn + 2, std::span(&next, 1)); !r) {
        return std::unexpected(r.error().context("trap stops"));
    }
    if (next != 0xcc) {
        return fail("trap stops: no int3 after the syscall instruction at " + hex(m_syscallInsn), EINVAL);
    }
    CRYOPOD_PROPAGATE(m_tracee->setSigmask(~(uint64_t(1) << (SIGTRAP - 1))));
    m_trapStops = true;
    return {};
}

Result<void> Injector::disableTrapStops()
{
    if (!m_trapStops) {
        return {};
    }
    m_trapStops = false;
    return m_tracee->setSigmask(~uint64_t(0));
}

// ---- batches --------------------------------------------------------------------

size_t InjectBatch::add(std::string what, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    Entry e;
    e.nr = nr;
    e.args = {a0, a1, a2, a3, a4, a5};
    e.what = std::move(what);
    m_entries.push_back(std::move(e));
    return m_entries.size() - 1;
}

void InjectBatch::useResult(size_t index, int arg, size_t from)
{
    Entry &e = m_entries.at(index);
    if (arg < 0 || arg > 5 || from >= index) {
        // A programming error, not a runtime condition: the call fails when run.
        e.linkArg = 6;
        return;
    }
    e.linkArg = arg;
    e.linkFrom = from;
}

namespace
{
// The batch runner. On entry rbx points at the first entry of a table in
// the tracee's memory and r12 at its end; each entry is 10 quadwords:
//   nr, a0..a5, result, link (address of an earlier entry's result, or 0),
//   link offset (byte offset in this entry of the argument it replaces).
// It makes the calls in order, stores each result, and runs into the int3
// at the first result in [-4095, -1] (rbx then points at that entry) or at
// the end (rbx == r12). Only rax, rcx, r11 (the kernel's), rdi, rsi, rdx,
// r8-r10 and rbx change; no stack is used.
//
//   0: cmp %r12,%rbx           ; 19: mov (%rbx),%rax      ; 36: mov %rax,0x38(%rbx)
//      jae 48                  ;     mov 0x8(%rbx),%rdi   ;     cmp $-4095,%rax
//      mov 0x40(%rbx),%rax     ;     mov 0x10(%rbx),%rsi  ;     jae 48
//      test %rax,%rax          ;     mov 0x18(%rbx),%rdx  ;     add $0x50,%rbx
//      je 19                   ;     mov 0x20(%rbx),%r10  ;     jmp 0
//      mov (%rax),%rax         ;     mov 0x28(%rbx),%r8   ; 48: int3
//      mov 0x48(%rbx),%rcx     ;     mov 0x30(%rbx),%r9
//      mov %rax,(%rbx,%rcx,1)  ; 34: syscall
constexpr uint8_t kBatchRunner[] = {
    0x4c, 0x39, 0xe3, 0x73, 0x43, 0x48, 0x8b, 0x43, 0x40, 0x48, 0x85, 0xc0, 0x74, 0x0b, 0x48, 0x8b, 0x00, 0x48, 0x8b,
    0x4b, 0x48, 0x48, 0x89, 0x04, 0x0b, 0x48, 0x8b, 0x03, 0x48, 0x8b, 0x7b, 0x08, 0x48, 0x8b, 0x73, 0x10, 0x48, 0x8b,
    0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20, 0x4c, 0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30, 0x0f, 0x05, 0x48, 0x89, 0x43,
    0x38, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x06, 0x48, 0x83, 0xc3, 0x50, 0xeb, 0xb8, 0xcc,
};
constexpr size_t kRunnerSyscall = 0x34; // offset of its `syscall`
constexpr size_t kRunnerTrap = 0x48; // offset of its int3
constexpr size_t kEntryWords = 10;
static_assert(sizeof kBatchRunner == kRunnerTrap + 1);

bool isError(int64_t result)
{
    return result < 0 && result >= -4095;
}
} // namespace

std::span<const uint8_t> batchRunnerCode()
{
    return kBatchRunner;
}

Result<void> Injector::enableBatches(uint64_t runnerAddr)
{
    uint8_t code[sizeof kBatchRunner] = {};
    if (auto r = m_memory.read(runnerAddr, code); !r) {
        return std::unexpected(r.error().context("batch runner"));
    }
    if (std::memcmp(code, kBatchRunner, sizeof code) != 0) {
        return fail("batch runner: not at " + hex(runnerAddr), EINVAL);
    }
    m_runner = runnerAddr;
    return {};
}

Result<void> Injector::runOneByOne(InjectBatch &batch)
{
    for (size_t i = 0; i < batch.m_entries.size(); ++i) {
        InjectBatch::Entry &e = batch.m_entries[i];
        if (e.linkArg > 5) {
            batch.m_failed = i;
            return fail(e.what + ": bad argument link", EINVAL);
        }
        if (e.linkArg >= 0) {
            e.args[size_t(e.linkArg)] = uint64_t(batch.m_results.at(e.linkFrom));
        }
        auto r = syscall(e.nr, e.args[0], e.args[1], e.args[2], e.args[3], e.args[4], e.args[5]);
        if (!r) {
            batch.m_failed = i;
            return std::unexpected(r.error().context(e.what));
        }
        batch.m_results.push_back(*r);
        if (isError(*r)) {
            batch.m_failed = i;
            return fail(e.what, int(-*r));
        }
    }
    return {};
}

Result<void> Injector::run(InjectBatch &batch, RemoteScratch &scratch)
{
    batch.m_results.clear();
    batch.m_failed.reset();
    if (batch.m_entries.empty()) {
        return {};
    }
    if (!m_active) {
        return fail("inject batch: injector finished", EINVAL);
    }
    if (StopWaiter *waiter = m_tracee->waiter()) {
        CRYOPOD_PROPAGATE(waiter->mayStart(m_tracee->tid()));
    }
    bool linked = false;
    for (const InjectBatch::Entry &e : batch.m_entries) {
        linked = linked || e.linkArg >= 0;
    }
    // A guard must see the arguments a call really gets: with links, it sees
    // each call just before it runs.
    if (m_runner == 0 || !m_trapStops || (m_guard && linked) || batch.m_entries.size() == 1) {
        return runOneByOne(batch);
    }
    if (m_guard) {
        for (size_t i = 0; i < batch.m_entries.size(); ++i) {
            const InjectBatch::Entry &e = batch.m_entries[i];
            if (auto g = m_guard(e.nr, e.args, m_runner + kRunnerSyscall + 2); !g) {
                batch.m_failed = i;
                return std::unexpected(g.error().context(e.what));
            }
        }
    }
    // The table goes where the scratch space is free; a batch larger than
    // that runs in parts (a link into an earlier part takes its value).
    const size_t n = batch.m_entries.size();
    const size_t mark = scratch.used();
    const size_t entryBytes = kEntryWords * 8;
    auto probe = scratch.reserve(0);
    scratch.reset(mark);
    if (!probe) {
        return std::unexpected(probe.error().context("inject batch"));
    }
    const uint64_t table = *probe;
    const size_t room = size_t(scratch.base() + scratch.size() - table) / entryBytes;
    if (room == 0) {
        return fail("inject batch of " + std::to_string(n) + " calls: no scratch space for its table", ENOSPC);
    }
    std::vector<uint64_t> words;
    for (size_t start = 0; start < n;) {
        const size_t count = std::min(room, n - start);
        words.assign(count * kEntryWords, 0);
        for (size_t i = 0; i < count; ++i) {
            const InjectBatch::Entry &e = batch.m_entries[start + i];
            uint64_t *w = &words[i * kEntryWords];
            w[0] = uint64_t(e.nr);
            std::copy(e.args.begin(), e.args.end(), w + 1);
            if (e.linkArg > 5) {
                batch.m_failed = start + i;
                return fail(e.what + ": bad argument link", EINVAL);
            }
            if (e.linkArg >= 0 && e.linkFrom < start) {
                w[1 + e.linkArg] = uint64_t(batch.m_results.at(e.linkFrom));
            } else if (e.linkArg >= 0) {
                w[8] = table + ((e.linkFrom - start) * kEntryWords + 7) * 8;
                w[9] = uint64_t(1 + e.linkArg) * 8;
            }
        }
        CRYOPOD_PROPAGATE(m_memory.write(table, {reinterpret_cast<const uint8_t *>(words.data()), words.size() * 8}));
        user_regs_struct regs = m_savedRegs;
        regs.rip = m_runner;
        regs.orig_rax = ~0ull; // no restart logic on our way out of the current stop
        regs.rbx = table;
        regs.r12 = table + count * entryBytes;
        CRYOPOD_PROPAGATE(m_tracee->setRegs(regs));
        const std::string what = "inject batch of " + std::to_string(count) + " calls (" + batch.m_entries[start].what + ", ...)";
        auto after = runToTrap(m_runner + kRunnerTrap + 1, what);
        if (!after) {
            return std::unexpected(after.error());
        }
        if (after->rbx < table || after->rbx > regs.r12 || (after->rbx - table) % entryBytes != 0) {
            return fail(what + ": the runner stopped with rbx " + hex(after->rbx) + ", outside its table", EFAULT);
        }
        const size_t done = size_t((after->rbx - table) / entryBytes); // calls that succeeded
        const size_t ran = std::min(count, done + 1);
        CRYOPOD_PROPAGATE(m_memory.read(table, {reinterpret_cast<uint8_t *>(words.data()), ran * entryBytes}));
        m_count += ran;
        for (size_t i = 0; i < ran; ++i) {
            batch.m_results.push_back(int64_t(words[i * kEntryWords + 7]));
        }
        if (done < count) {
            const int64_t r = batch.m_results.back();
            const size_t failed = start + done;
            batch.m_failed = failed;
            if (!isError(r)) {
                return fail(batch.m_entries[failed].what + ": the runner stopped at a result that is no error (" + hex(uint64_t(r)) + ")", EFAULT);
            }
            return fail(batch.m_entries[failed].what, int(-r));
        }
        start += count;
    }
    return {};
}

Result<user_regs_struct> Injector::runToTrap(uint64_t stopIp, const std::string &what, std::optional<uint64_t> outsideIp)
{
    // PTRACE_CONT to the int3; a SIGTRAP elsewhere was sent from outside
    // and is remembered like any other signal (only at `outsideIp` when
    // given: a SIGTRAP anywhere else is an error).
    const pid_t tid = m_tracee->tid();
    ++m_roundTrips;
    for (;;) {
        if (::ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
            return sysError(what + ": ptrace cont");
        }
        auto status = m_tracee->waitStop();
        if (!status) {
            m_active = false;
            return std::unexpected(status.error().context(what));
        }
        if (!isSignalDeliveryStop(*status)) {
            continue; // a ptrace event (fork, clone) or group stop
        }
        const int sig = WSTOPSIG(*status);
        if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) {
            m_active = false;
            return fail(what + ": the thread faulted (signal " + std::to_string(sig) + ") instead of reaching the int3", EFAULT);
        }
        if (sig == SIGTRAP) {
            auto after = m_tracee->getRegs();
            if (!after) {
                return std::unexpected(after.error());
            }
            if (after->rip == stopIp) {
                return *after;
            }
            if (outsideIp && after->rip != *outsideIp) {
                return fail(what + ": thread stopped at " + hex(after->rip) + ", expected " + hex(stopIp), EFAULT);
            }
        }
        m_suppressedSignals.push_back(sig);
    }
}

Result<uint64_t> Injector::call(std::string_view what, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    auto r = syscall(nr, a0, a1, a2, a3, a4, a5);
    if (!r) {
        return std::unexpected(r.error().context(std::string(what)));
    }
    if (*r < 0 && *r >= -4095) {
        return fail(std::string(what), static_cast<int>(-*r));
    }
    return static_cast<uint64_t>(*r);
}

Result<void> Injector::finish()
{
    if (!m_active) {
        return {};
    }
    m_active = false;
    CRYOPOD_PROPAGATE(m_tracee->setRegs(m_savedRegs));
    CRYOPOD_PROPAGATE(m_tracee->reinterrupt());
    CRYOPOD_PROPAGATE(m_tracee->setSigmask(m_savedMask));
    for (int sig : m_suppressedSignals) {
        ::syscall(SYS_tkill, m_tracee->tid(), sig);
    }
    m_suppressedSignals.clear();
    return {};
}

void Injector::dismiss()
{
    m_active = false;
    m_suppressedSignals.clear();
}

// ---- RemoteScratch --------------------------------------------------------------

RemoteScratch::~RemoteScratch()
{
    (void)unmap();
}

RemoteScratch::RemoteScratch(RemoteScratch &&other) noexcept
    : m_injector(other.m_injector)
    , m_base(other.m_base)
    , m_size(other.m_size)
    , m_start(other.m_start)
    , m_used(other.m_used)
    , m_ownInsn(other.m_ownInsn)
{
    other.release();
}

RemoteScratch &RemoteScratch::operator=(RemoteScratch &&other) noexcept
{
    if (this != &other) {
        (void)unmap();
        m_injector = other.m_injector;
        m_base = other.m_base;
        m_size = other.m_size;
        m_start = other.m_start;
        m_used = other.m_used;
        m_ownInsn = other.m_ownInsn;
        other.release();
    }
    return *this;
}

Result<RemoteScratch> RemoteScratch::map(Injector &injector, size_t size, uint64_t hint, int prot)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (hint != 0) {
        flags |= MAP_FIXED_NOREPLACE;
    }
    auto addr = injector.call("mmap scratch", SYS_mmap, hint, size, static_cast<uint64_t>(prot), static_cast<uint64_t>(flags), ~0ull, 0);
    if (!addr) {
        return std::unexpected(addr.error());
    }
    if (hint != 0 && *addr != hint) {
        // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat it as a hint.
        (void)injector.syscall(SYS_munmap, *addr, size);
        return fail("mmap scratch at " + hex(hint) + ": got " + hex(*addr), EEXIST);
    }
    return adopt(injector, *addr, size);
}

namespace
{
// An area with a runner: `syscall; int3` at its start, the batch runner at
// kAreaRunner, the scratch space from kAreaScratch.
constexpr size_t kAreaRunner = 16;
constexpr size_t kAreaScratch = 128;
static_assert(kAreaScratch >= kAreaRunner + sizeof kBatchRunner);
} // namespace

Result<RemoteScratch> RemoteScratch::mapWithRunner(Injector &injector, size_t size, bool trapStops)
{
    const uint64_t own = injector.syscallAddress();
    auto area = map(injector, size, 0, PROT_READ | PROT_WRITE | PROT_EXEC);
    if (!area) {
        if (area.error().code == ESRCH) {
            return area; // the process is gone
        }
        return map(injector, size);
    }
    const uint8_t code[] = {0x0f, 0x05, 0xcc};
    CRYOPOD_PROPAGATE(injector.memory().write(area->m_base, code));
    CRYOPOD_PROPAGATE(injector.memory().write(area->m_base + kAreaRunner, batchRunnerCode()));
    area->m_ownInsn = own;
    area->m_start = kAreaScratch;
    area->m_used = kAreaScratch;
    CRYOPOD_PROPAGATE(area->enableRunner(injector, trapStops));
    return area;
}

Result<void> RemoteScratch::enableRunner(Injector &injector, bool trapStops) const
{
    if (!hasRunner()) {
        return {};
    }
    if (injector.syscallAddress() != m_base) {
        CRYOPOD_PROPAGATE(injector.setSyscallAddress(m_base));
    }
    CRYOPOD_PROPAGATE(injector.enableBatches(m_base + kAreaRunner));
    if (trapStops) {
        CRYOPOD_PROPAGATE(injector.enableTrapStops());
    }
    return {};
}

RemoteScratch RemoteScratch::borrowFor(Injector &injector) const
{
    RemoteScratch scratch = adopt(injector, m_base, m_size);
    scratch.m_start = m_start;
    scratch.m_used = m_start;
    return scratch;
}

RemoteScratch RemoteScratch::adopt(Injector &injector, uint64_t base, size_t size)
{
    RemoteScratch scratch;
    scratch.m_injector = &injector;
    scratch.m_base = base;
    scratch.m_size = size;
    return scratch;
}

Result<uint64_t> RemoteScratch::reserve(size_t bytes)
{
    const size_t start = (m_used + 15) & ~size_t(15);
    if (start > m_size || bytes > m_size - start) {
        return fail("scratch area full (" + std::to_string(bytes) + " bytes asked, " + std::to_string(m_size - std::min(start, m_size)) + " left)", ENOSPC);
    }
    m_used = start + bytes;
    return m_base + start;
}

Result<uint64_t> RemoteScratch::put(std::span<const uint8_t> bytes)
{
    auto addr = reserve(bytes.size());
    if (!addr) {
        return addr;
    }
    CRYOPOD_PROPAGATE(m_injector->memory().write(*addr, bytes));
    return addr;
}

Result<uint64_t> RemoteScratch::putString(std::string_view text)
{
    std::vector<uint8_t> bytes(text.begin(), text.end());
    bytes.push_back(0);
    return put(bytes);
}

Result<void> RemoteScratch::read(uint64_t addr, std::span<uint8_t> out) const
{
    return m_injector->memory().read(addr, out);
}

Result<void> RemoteScratch::unmap()
{
    if (m_injector == nullptr || m_size == 0) {
        return {};
    }
    Injector *injector = m_injector;
    const uint64_t base = m_base;
    const size_t size = m_size;
    if (hasRunner() && injector->syscallAddress() >= base && injector->syscallAddress() < base + size) {
        CRYOPOD_PROPAGATE(injector->setSyscallAddress(m_ownInsn)); // trap stops off too
    }
    release();
    auto r = injector->call("munmap scratch", SYS_munmap, base, size);
    if (!r) {
        return std::unexpected(r.error());
    }
    return {};
}

} // namespace cryopod::engine
