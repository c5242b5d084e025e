// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "regs.h"

#include <cstring>
#include <ctime>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <vector>

namespace cryopod::engine
{

static_assert(sizeof(user_regs_struct) == sizeof(image::X86Regs::gpr), "user_regs_struct is 27 registers");
static_assert(sizeof(user_fpregs_struct) == 512, "FXSAVE area");

image::X86Regs toImageRegs(const user_regs_struct &regs)
{
    image::X86Regs out;
    std::memcpy(out.gpr.data(), &regs, sizeof regs);
    return out;
}

user_regs_struct fromImageRegs(const image::X86Regs &regs)
{
    user_regs_struct out{};
    std::memcpy(&out, regs.gpr.data(), sizeof out);
    return out;
}

// ---- dump

namespace
{
constexpr int64_t kErestartRestartblock = -516;
constexpr uint64_t kMaxClockId = 11; // CLOCK_TAI, the last of the kernel's clocks

// A timespec that clock_nanosleep would accept, readable at addr.
bool validTimespecAt(pid_t tid, uint64_t addr)
{
    timespec ts{};
    const iovec local{&ts, sizeof ts};
    const iovec remote{reinterpret_cast<void *>(addr), sizeof ts};
    auto n = vmRead(tid, {&local, 1}, {&remote, 1});
    return n && *n == sizeof ts && ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L;
}

bool readableAt(pid_t tid, uint64_t addr, size_t bytes)
{
    if (addr < 4096) {
        return false;
    }
    std::vector<uint8_t> buf(bytes);
    const iovec local {buf.data(), bytes};
    const iovec remote {reinterpret_cast<void *>(addr), bytes};
    auto n = vmRead(tid, {&local, 1}, {&remote, 1});
    return n && *n == bytes;
}

uint32_t u32At(pid_t tid, uint64_t addr)
{
    uint32_t v = 0;
    const iovec local {&v, sizeof v};
    const iovec remote {reinterpret_cast<void *>(addr), sizeof v};
    (void)vmRead(tid, {&local, 1}, {&remote, 1});
    return v;
}

constexpr uint64_t kFutexCmdMask = ~uint64_t(128 | 256); // FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
constexpr uint64_t kFutexWait = 0, kFutexWaitBitset = 9;
constexpr uint64_t kMaxPollFds = 1u << 20; // the kernel's nr_open ceiling

// The calls that return -ERESTART_RESTARTBLOCK when interrupted, told
// apart by their arguments (a, b, c, d: rdi, rsi, rdx, r10).
bool looksLikeClockNanosleep(pid_t tid, const user_regs_struct &r)
{
    return r.rdi <= kMaxClockId && r.rsi == 0 && validTimespecAt(tid, r.rdx);
}
// futex(uaddr, FUTEX_WAIT or FUTEX_WAIT_BITSET [| PRIVATE | CLOCK_REALTIME], val, timeout, ...).
// Plain FUTEX_WAIT (op 0) also fits nanosleep(req, NULL): it counts as a
// futex wait only when the word still holds the value waited for.
bool looksLikeFutexWait(pid_t tid, const user_regs_struct &r)
{
    const uint64_t cmd = r.rsi & kFutexCmdMask;
    if ((cmd != kFutexWait && cmd != kFutexWaitBitset) || (r.rdi & 3) != 0 || !readableAt(tid, r.rdi, 4) || !validTimespecAt(tid, r.r10)) {
        return false;
    }
    return r.rsi != 0 || u32At(tid, r.rdi) == uint32_t(r.rdx);
}
// nanosleep(req, rem): rem is NULL or an address, never a small count.
bool looksLikeNanosleep(pid_t tid, const user_regs_struct &r)
{
    return (r.rsi == 0 || r.rsi >= 4096) && validTimespecAt(tid, r.rdi);
}
// poll(fds, nfds, timeout >= 0): a timeout < 0 never uses the restart block.
bool looksLikePoll(pid_t tid, const user_regs_struct &r)
{
    return r.rsi <= kMaxPollFds && int32_t(r.rdx) >= 0 && (r.rsi == 0 || readableAt(tid, r.rdi, size_t(r.rsi) * 8));
}

// A thread whose interrupted call the kernel had already restarted once
// (after any stop: SIGSTOP/SIGCONT, a debugger, an earlier checkpoint that
// let it run on) sits in restart_syscall: orig_rax is SYS_restart_syscall and
// what to do lives in the kernel's restart block, which the restored thread
// does not have (its restart_syscall returns EINTR). The argument registers
// still hold the original call's, and only four calls use a restart block
// on x86-64 (nanosleep, clock_nanosleep relative, poll with a timeout, futex
// waits with a timeout): which one it was is told from those arguments, in
// this order: a relative clock_nanosleep (a clock id, flags 0, a readable
// timespec: glibc's nanosleep, usleep and sleep), a futex wait, a raw
// nanosleep, a poll. Returns its number, or -1 when none fits (left as it
// is, the call sees EINTR after a restore).
int64_t callBehindRestartSyscall(pid_t tid, const user_regs_struct &regs)
{
    if (looksLikeClockNanosleep(tid, regs)) {
        return SYS_clock_nanosleep;
    }
    if (looksLikeFutexWait(tid, regs)) {
        return SYS_futex;
    }
    if (looksLikeNanosleep(tid, regs)) {
        return SYS_nanosleep;
    }
    if (looksLikePoll(tid, regs)) {
        return SYS_poll;
    }
    return -1;
}
} // namespace

Result<void> dumpRegs(const Tracee &tracee, image::ThreadRecord &thread)
{
    const std::string what = "registers of thread " + std::to_string(tracee.tid());
    auto regs = tracee.getRegs();
    if (!regs) {
        return std::unexpected(regs.error().context(what));
    }
    // The image gets the call itself, restarted as such by restartedRegs();
    // the thread's own registers stay as they are.
    user_regs_struct saved = *regs;
    if (static_cast<int64_t>(saved.orig_rax) == SYS_restart_syscall && static_cast<int64_t>(saved.rax) == kErestartRestartblock) {
        if (const int64_t call = callBehindRestartSyscall(tracee.tid(), saved); call >= 0) {
            saved.orig_rax = static_cast<uint64_t>(call);
        }
    }
    thread.regs = toImageRegs(saved);
    auto fp = tracee.getFpRegs();
    if (!fp) {
        return std::unexpected(fp.error().context(what));
    }
    thread.fpregs.resize(sizeof(user_fpregs_struct));
    std::memcpy(thread.fpregs.data(), &*fp, sizeof(user_fpregs_struct));
    auto xstate = tracee.getXState();
    if (!xstate) {
        // A CPU without XSAVE has no such regset: FXSAVE is all there is.
        if (xstate.error().code != ENODEV && xstate.error().code != EINVAL) {
            return std::unexpected(xstate.error().context(what));
        }
        thread.xstate.clear();
    } else {
        thread.xstate = std::move(*xstate);
    }
    return {};
}

// ---- restore

user_regs_struct restartedRegs(const user_regs_struct &regs)
{
    user_regs_struct out = regs;
    const auto origRax = static_cast<int64_t>(regs.orig_rax);
    const auto rax = static_cast<int64_t>(regs.rax);
    if (origRax >= 0 && (rax == -512 || rax == -513 || rax == -514 || rax == -516)) {
        out.rax = regs.orig_rax;
        out.rip = regs.rip - 2;
    }
    return out;
}

Result<void> restoreRegs(const Tracee &tracee, const image::ThreadRecord &thread)
{
    const std::string what = "restore registers of thread " + std::to_string(thread.tid);
    bool xstateDone = false;
    if (!thread.xstate.empty()) {
        auto current = tracee.getXState();
        if (!current) {
            return std::unexpected(current.error().context(what));
        }
        if (current->size() != thread.xstate.size()) {
            return fail(what + ": the image's FPU/AVX state is " + std::to_string(thread.xstate.size()) + " bytes, this CPU's " + std::to_string(current->size())
                            + ": the image comes from a different CPU",
                        ENOTSUP);
        }
        auto r = tracee.setXState(thread.xstate);
        if (!r) {
            return std::unexpected(r.error().context(what));
        }
        xstateDone = true;
    }
    if (!xstateDone) {
        if (thread.fpregs.size() != sizeof(user_fpregs_struct)) {
            return fail(what + ": the image has no FPU state", EINVAL);
        }
        user_fpregs_struct fp{};
        std::memcpy(&fp, thread.fpregs.data(), sizeof fp);
        auto r = tracee.setFpRegs(fp);
        if (!r) {
            return std::unexpected(r.error().context(what));
        }
    }
    const user_regs_struct regs = restartedRegs(fromImageRegs(thread.regs));
    // Refuse registers the kernel would reject or that cannot be user mode.
    if (regs.cs != 0x33 || regs.ss != 0x2b) {
        return fail(what + ": not a 64-bit user-mode register set (cs " + std::to_string(regs.cs) + ")", ENOTSUP);
    }
    auto r = tracee.setRegs(regs);
    if (!r) {
        return std::unexpected(r.error().context(what));
    }
    return {};
}

} // namespace cryopod::engine
