// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ptrace attachment, remote memory and remote system calls.
//
// API in short (dump and restore both use it; everything is RAII, every call
// returns Result<T>, all calls on one tracee must come from the thread that
// attached it, as ptrace requires):
//
//   (UniqueFd comes from backend/image/uniquefd.h.)
//
//   Tracee t = Tracee::seize(pid)   PTRACE_SEIZE (TRACESYSGOOD by default) +
//                            PTRACE_INTERRUPT, waits until the thread is in a
//                            ptrace stop. A signal arriving in between is passed
//                            through (delivered as the kernel would have).
//                            With a timeout, a thread that does not stop in
//                            time (uninterruptible sleep) fails with ETIMEDOUT;
//                            it stays attached to the calling thread (ptrace
//                            cannot detach a running tracee) until that thread
//                            exits, when the kernel detaches it.
//   Tracee::adopt(tid)       takes over a thread already seized and stopped.
//   ~Tracee                  PTRACE_DETACH unless detach()/release() was called.
//   t.getRegs()/setRegs()    user_regs_struct; getFpRegs()/setFpRegs() FXSAVE;
//   t.getXState()/setXState() NT_X86_XSTATE regset (XSAVE layout);
//   t.getSigmask()/setSigmask() blocked mask, bit (n-1) for signal n.
//   t.peekSiginfo(shared)    PTRACE_PEEKSIGINFO: the pending queue of the thread
//                            (or of its process), whole siginfos in queue order.
//   t.getRseqConfiguration() PTRACE_GET_RSEQ_CONFIGURATION.
//   t.detach(sig)            PTRACE_DETACH; t.release() forgets the thread.
//
//   RemoteMemory mem = RemoteMemory::open(pid)   /proc/PID/mem, read()/write()
//                            (write works on read-only mappings: FOLL_FORCE).
//   vmRead(pid, local, remote) / vmWrite(...)    process_vm_readv/writev over
//                            any number of iovecs (split by IOV_MAX, partial
//                            transfers continued, failures name the address).
//
//   Injector inj = Injector::create(t)  finds a `syscall` instruction (0f 05)
//                            in the tracee ([vdso] first, then its executable
//                            mappings), saves the registers and the signal mask
//                            and blocks all signals. Injector::create(t, addr)
//                            uses a known instruction (the restore stub's).
//   inj.syscall(nr, a...)    runs one system call in the tracee: PTRACE_SYSCALL
//                            to syscall-enter, PTRACE_SYSCALL to syscall-exit;
//                            returns the kernel's raw result (-errno on failure).
//   inj.call("what", nr, a...) same, but a result in [-4095, -1] becomes an
//                            Error{errno, "what"}.
//   inj.finish()             puts back the saved registers and signal mask and
//                            re-enters a ptrace interrupt stop, so that an
//                            interrupted system call of the target is restarted
//                            by the kernel exactly as if nothing had happened.
//                            The destructor does it too (best effort).
//   inj.dismiss()            forget the saved state (restore sets its own).
//   inj.enableTrapStops()    when the instruction is followed by int3 (0f 05 cc,
//                            the restore's injection area): one stop per system
//                            call instead of two (PTRACE_CONT to the int3's
//                            SIGTRAP instead of syscall-enter and -exit stops).
//                            SIGTRAP is then left unblocked while injecting: a
//                            forced SIGTRAP that is blocked or ignored would
//                            reset its disposition. Not for a process whose
//                            SIGTRAP is ignored or pending (disableTrapStops()).
//   inj.setGuard(g)          every later syscall() first asks g (nr, args,
//                            the address after the instruction); an error
//                            is returned without running the call (a
//                            seccomp filter that would kill or fail it).
//   inj.enableBatches(addr)  the batch runner (batchRunnerCode(), copied by
//                            the caller into RWX memory of the tracee at
//                            addr: the restore's injection area) runs whole
//                            lists of calls with one resume and one stop.
//   inj.run(batch, scratch)  runs an InjectBatch: its table goes into the
//                            scratch area, the runner makes the calls in
//                            order and stops at the first error (then
//                            Error{errno, that call's "what"}, batch.failed()
//                            names its index, nothing after it ran) or at the
//                            end. Every result comes back. Without the runner,
//                            without trap stops, or with a guard and calls
//                            that take an earlier call's result: one call at
//                            a time, with the same results and errors. A
//                            guard sees every call before any of them runs.
//
//   RemoteScratch s = RemoteScratch::map(inj)   injected mmap of anonymous RW
//                            memory (one page by default) for syscall arguments;
//                            s.put(bytes)/s.putString(str) copy data in and
//                            return the remote address; s.read(addr, out);
//                            s.reset() rewinds; s.unmap() (or the destructor,
//                            while the injector lives) removes it. NOTE for the
//                            dump side: the scratch mapping shows up in
//                            /proc/PID/maps while it exists: read maps before
//                            mapping it, or skip s.range().
//
// Example (dump side: read a disposition):
//   auto t = Tracee::seize(pid);  auto inj = Injector::create(*t);
//   auto s = RemoteScratch::map(*inj);
//   auto old = s->reserve(sizeof(KernelSigaction));
//   inj->call("rt_sigaction", SYS_rt_sigaction, sig, 0, *old, 8);
//   KernelSigaction ka; s->read(*old, {(uint8_t *)&ka, sizeof ka});
//   s->unmap(); inj->finish();  // ~Tracee detaches
#pragma once

#include "result.h"
#include "uniquefd.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <vector>

namespace cryopod::engine
{

// ---- helpers ------------------------------------------------------------------

// "EPERM" style name of an errno value, for messages that must be greppable.
std::string errnoName(int code);
// Human-readable description of a wait status ("exited 3", "killed by SIGKILL", ...).
std::string describeWaitStatus(int status);

// ---- the ptrace attachment --------------------------------------------------

// Where a tracee's waits go when it has one (Tracee::setWaiter): a caller
// that drives many tracees at once from one thread (paralleldrive.h) lets
// other work run until the stop comes.
class StopWaiter
{
public:
    virtual ~StopWaiter() = default;
    // The next wait status of tid, as waitpid(tid, __WALL) would give it.
    virtual Result<int> waitStatus(pid_t tid) = 0;
    // Asked before tid is resumed into a new injected call or batch
    // (Injector::syscall(), run()): an error is returned from there and
    // nothing runs. So a caller ends its work between calls, never in the
    // middle of one (whose effect, a new thread, would be lost).
    virtual Result<void> mayStart(pid_t tid)
    {
        (void)tid;
        return {};
    }
};

class Tracee
{
public:
    Tracee() = default;
    ~Tracee();
    Tracee(Tracee &&other) noexcept;
    Tracee &operator=(Tracee &&other) noexcept;
    Tracee(const Tracee &) = delete;
    Tracee &operator=(const Tracee &) = delete;

    // PTRACE_SEIZE with `options` (PTRACE_O_*), then PTRACE_INTERRUPT, and
    // waits for the interrupt (or group) stop: forever when timeoutMs < 0,
    // else at most timeoutMs (then ETIMEDOUT, see the note at the top).
    static Result<Tracee> seize(pid_t tid, unsigned options = 0x1 /* PTRACE_O_TRACESYSGOOD */, int timeoutMs = -1);
    // The first half of seize(): PTRACE_SEIZE + PTRACE_INTERRUPT, no wait (a
    // thread frozen by the cgroup freezer stops only once thawed).
    static Result<Tracee> seizeInterrupt(pid_t tid, unsigned options = 0x1 /* PTRACE_O_TRACESYSGOOD */);
    // The second half: waits for the interrupt (or group) stop, delivering a
    // signal that comes first. On failure the thread is released (see above).
    Result<void> waitInterruptStop(int timeoutMs = -1);
    // Takes over a thread this thread has already seized and that is in a stop.
    static Tracee adopt(pid_t tid);

    pid_t tid() const
    {
        return m_tid;
    }
    bool attached() const
    {
        return m_tid > 0;
    }

    Result<user_regs_struct> getRegs() const;
    Result<void> setRegs(const user_regs_struct &regs) const;
    Result<user_fpregs_struct> getFpRegs() const;
    Result<void> setFpRegs(const user_fpregs_struct &regs) const;
    Result<std::vector<uint8_t>> getXState() const; // NT_X86_XSTATE
    Result<void> setXState(std::span<const uint8_t> xstate) const;
    Result<uint64_t> getSigmask() const;
    Result<void> setSigmask(uint64_t mask) const;

    // The kernel's siginfo_t as PTRACE_PEEKSIGINFO copies it out.
    using Siginfo = std::array<uint8_t, 128>;
    // Every signal queued for this thread (shared = false) or for its whole
    // process (shared = true), in queue order.
    Result<std::vector<Siginfo>> peekSiginfo(bool shared) const;

    // The thread's rseq registration; size 0 when it has none.
    struct RseqConfiguration {
        uint64_t addr = 0;
        uint32_t size = 0;
        uint32_t signature = 0;
        uint32_t flags = 0;
    };
    Result<RseqConfiguration> getRseqConfiguration() const;

    // waitpid(tid, __WALL) for the next stop (through the waiter when it
    // has one); an exit or death is an error.
    Result<int> waitStop() const;
    // The same, for at most timeoutMs (ETIMEDOUT after); < 0 waits forever.
    Result<int> waitStop(int timeoutMs) const;
    // PTRACE_INTERRUPT + PTRACE_CONT from any ptrace stop and wait until the
    // thread is back in a PTRACE_EVENT_STOP. Signals arriving meanwhile are
    // delivered. Used after injection so the kernel's restart logic for an
    // interrupted system call runs on the original registers at detach.
    Result<void> reinterrupt() const;

    // PTRACE_DETACH, delivering `sig` if the thread is in a signal or syscall stop.
    Result<void> detach(int sig = 0);
    // Forget the thread without detaching (it died, or someone else takes over).
    pid_t release();

    // Its blocking waits (waitStop() without a timeout, reinterrupt()) go
    // through `waiter` (nullptr: plain waitpid); it outlives the tracee.
    void setWaiter(StopWaiter *waiter)
    {
        m_waiter = waiter;
    }
    StopWaiter *waiter() const
    {
        return m_waiter;
    }

private:
    explicit Tracee(pid_t tid)
        : m_tid(tid)
    {
    }
    pid_t m_tid = -1;
    StopWaiter *m_waiter = nullptr;
};

// A task attached automatically (a thread or child of a tracee, with
// PTRACE_O_TRACECLONE / TRACEFORK) starts in a PTRACE_EVENT_STOP before its
// first instruction; waits for it (through `waiter` when given), letting
// anything else (a stray signal) through.
Result<void> waitForFirstStop(pid_t tid, const std::string &what, StopWaiter *waiter = nullptr);

// ---- remote memory ----------------------------------------------------------

class RemoteMemory
{
public:
    RemoteMemory() = default;
    static Result<RemoteMemory> open(pid_t pid);

    // Whole transfers or an error naming the address ("read 0x7f..+4096: EIO").
    Result<void> read(uint64_t addr, std::span<uint8_t> out) const;
    Result<void> write(uint64_t addr, std::span<const uint8_t> in) const;
    int fd() const
    {
        return m_fd.get();
    }

private:
    UniqueFd m_fd;
};

// process_vm_readv/writev over any number of iovecs; partial transfers are
// continued. Returns the bytes moved; an error names the remote address.
Result<size_t> vmRead(pid_t pid, std::span<const iovec> local, std::span<const iovec> remote);
Result<size_t> vmWrite(pid_t pid, std::span<const iovec> local, std::span<const iovec> remote);

// The address of a `syscall` instruction (0f 05) in the process: [vdso] first,
// then its executable mappings.
Result<uint64_t> findSyscallInstruction(pid_t pid, const RemoteMemory &memory);

// ---- injected system calls --------------------------------------------------

class RemoteScratch;

// A list of system calls for Injector::run(), made in order in the tracee.
class InjectBatch
{
public:
    // Adds a call; returns its index. `what` names it in an error.
    size_t
    add(std::string what, long nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0);
    // Argument `arg` (0-5) of the call `index` is the result of the earlier
    // call `from` (open -> mmap(fd) -> close(fd)); one such argument per call.
    void useResult(size_t index, int arg, size_t from);

    size_t size() const
    {
        return m_entries.size();
    }
    bool empty() const
    {
        return m_entries.empty();
    }
    void clear()
    {
        m_entries.clear();
        m_results.clear();
        m_failed.reset();
    }
    // After Injector::run(): the result of every call that ran (the failed
    // one last, as the kernel's -errno), and the index of the failed call.
    const std::vector<int64_t> &results() const
    {
        return m_results;
    }
    uint64_t result(size_t index) const
    {
        return uint64_t(m_results.at(index));
    }
    std::optional<size_t> failed() const
    {
        return m_failed;
    }

    struct Entry {
        long nr = 0;
        std::array<uint64_t, 6> args{};
        std::string what;
        int linkArg = -1; // argument taken from the result of call linkFrom
        size_t linkFrom = 0;
    };
    const std::vector<Entry> &entries() const
    {
        return m_entries;
    }

private:
    friend class Injector;
    std::vector<Entry> m_entries;
    std::vector<int64_t> m_results;
    std::optional<size_t> m_failed;
};

// The batch runner, position-independent x86-64 code (see ptrace_inject.cpp),
// to be copied into executable memory of the tracee for enableBatches().
std::span<const uint8_t> batchRunnerCode();

class Injector
{
public:
    ~Injector();
    Injector(Injector &&other) noexcept;
    Injector &operator=(Injector &&) = delete;
    Injector(const Injector &) = delete;
    Injector &operator=(const Injector &) = delete;

    // Finds a syscall instruction itself.
    static Result<Injector> create(Tracee &tracee);
    // Uses the `syscall` instruction at `syscallInsn` (checked to hold 0f 05).
    static Result<Injector> create(Tracee &tracee, uint64_t syscallInsn);

    // The kernel's raw return value (negative errno on failure).
    Result<int64_t>
    syscall(long nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0);
    // As syscall(), but a result in [-4095, -1] is returned as Error{errno, what}.
    Result<uint64_t>
    call(std::string_view what, long nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0);

    // Switches to another syscall instruction (must hold 0f 05).
    Result<void> setSyscallAddress(uint64_t syscallInsn);
    uint64_t syscallAddress() const
    {
        return m_syscallInsn;
    }

    // Puts back the registers and signal mask saved at create() and re-enters
    // an interrupt stop (see Tracee::reinterrupt). Nothing may be injected after.
    Result<void> finish();
    // Forget the saved state: the caller sets the final registers and mask.
    void dismiss();

    // One stop per injected call (see the top of this file); EINVAL when the
    // instruction is not followed by int3.
    Result<void> enableTrapStops();
    // Back to syscall-enter and -exit stops, with every signal blocked.
    Result<void> disableTrapStops();
    bool trapStops() const
    {
        return m_trapStops;
    }

    // The batch runner is at `runnerAddr` (checked: it holds batchRunnerCode()).
    Result<void> enableBatches(uint64_t runnerAddr);
    bool batches() const
    {
        return m_runner != 0;
    }
    // Runs the calls of `batch` (see the top of this file); its table takes
    // scratch space from `scratch`'s current position, which is given back.
    // A batch whose table does not fit runs in parts, one stop each. An
    // empty batch costs nothing.
    Result<void> run(InjectBatch &batch, RemoteScratch &scratch);

    // Asked before each injected system call with its number, arguments and
    // the instruction pointer the kernel reports for it; an error stops the
    // call from running and is returned by syscall()/call().
    using Guard = std::function<Result<void>(long nr, const std::array<uint64_t, 6> &args, uint64_t ip)>;
    void setGuard(Guard guard)
    {
        m_guard = std::move(guard);
    }
    const Guard &guard() const
    {
        return m_guard;
    }

    Tracee &tracee()
    {
        return *m_tracee;
    }
    const RemoteMemory &memory() const
    {
        return m_memory;
    }
    const user_regs_struct &savedRegs() const
    {
        return m_savedRegs;
    }
    uint64_t savedSigmask() const
    {
        return m_savedMask;
    }
    uint64_t injectedCount() const
    {
        return m_count;
    }
    // The ptrace stops injected code took (resumes of the tracee and waits
    // for it): two per call with syscall stops, one with trap stops, one per
    // batch with the runner.
    uint64_t roundTrips() const
    {
        return m_roundTrips;
    }

private:
    Injector() = default;
    Result<void> init(uint64_t syscallInsn);
    Result<int64_t> trapStopSyscall(long nr);
    // PTRACE_CONT until the int3 whose SIGTRAP stops at `stopIp`; `what` for
    // errors. With `outsideIp`, a SIGTRAP from outside can only stop there.
    Result<user_regs_struct> runToTrap(uint64_t stopIp, const std::string &what, std::optional<uint64_t> outsideIp = std::nullopt);
    Result<void> runOneByOne(InjectBatch &batch);
    Tracee *m_tracee = nullptr;
    RemoteMemory m_memory;
    user_regs_struct m_savedRegs{};
    uint64_t m_savedMask = 0;
    uint64_t m_syscallInsn = 0;
    uint64_t m_count = 0;
    uint64_t m_roundTrips = 0;
    uint64_t m_runner = 0; // enableBatches()
    bool m_active = false; // saved state not yet restored
    bool m_trapStops = false; // enableTrapStops()
    std::vector<int> m_suppressedSignals; // signal-delivery-stops seen while injecting: re-sent at finish()
    Guard m_guard;
};

// ---- remote scratch memory --------------------------------------------------

class RemoteScratch
{
public:
    RemoteScratch() = default;
    ~RemoteScratch();
    RemoteScratch(RemoteScratch &&other) noexcept;
    RemoteScratch &operator=(RemoteScratch &&other) noexcept; // unmaps what it held
    RemoteScratch(const RemoteScratch &) = delete;
    RemoteScratch &operator=(const RemoteScratch &) = delete;

    // Injected mmap of `size` bytes of anonymous memory (PROT_READ|PROT_WRITE
    // unless `prot` says otherwise); at `hint` with MAP_FIXED_NOREPLACE when non-zero.
    static Result<RemoteScratch> map(Injector &injector, size_t size = 4096, uint64_t hint = 0, int prot = 3);
    // Uses [base, base+size) of memory the caller mapped; unmap() removes it.
    static RemoteScratch adopt(Injector &injector, uint64_t base, size_t size);
    // The dump side's scratch on the injector's fast path: RWX memory that
    // starts with `syscall; int3` and the batch runner (as the restore's
    // injection area), the scratch space after them, and the injector
    // switched to that instruction and runner (enableRunner()). A process
    // that may not map RWX memory (MDWE, a seccomp filter that refuses it)
    // gets plain RW scratch instead, used through the injector's own
    // instruction (hasRunner() false). unmap() first switches the injector
    // back to its own instruction: nothing may run in the area as it goes.
    static Result<RemoteScratch> mapWithRunner(Injector &injector, size_t size, bool trapStops);
    bool hasRunner() const
    {
        return m_ownInsn != 0;
    }
    // `injector` (the area's, or another thread's of the same address space)
    // makes its calls at the area's instruction, whole batches through its
    // runner, and with `trapStops` one stop per call and per batch
    // (Injector::enableTrapStops: not where the process's SIGTRAP is ignored
    // or pending). Nothing without a runner.
    Result<void> enableRunner(Injector &injector, bool trapStops) const;
    // The same scratch space for another thread's injector (one address
    // space): release() it before this one unmaps.
    RemoteScratch borrowFor(Injector &injector) const;

    uint64_t base() const
    {
        return m_base;
    }
    size_t size() const
    {
        return m_size;
    }
    std::pair<uint64_t, uint64_t> range() const
    {
        return {m_base, m_base + m_size};
    }

    // Bump allocation (16-byte aligned) inside the area; reset() rewinds to
    // `offset` (default: the start of the scratch space, after the code of
    // an area with a runner).
    Result<uint64_t> reserve(size_t bytes);
    Result<uint64_t> put(std::span<const uint8_t> bytes);
    Result<uint64_t> putString(std::string_view text); // NUL-terminated
    Result<void> read(uint64_t addr, std::span<uint8_t> out) const;
    void reset(size_t offset = 0)
    {
        m_used = std::max(offset, m_start);
    }
    size_t used() const
    {
        return m_used;
    }

    // Injected munmap. A no-op when already unmapped.
    Result<void> unmap();
    // Forget the area without unmapping it.
    void release()
    {
        m_injector = nullptr;
        m_base = 0;
        m_size = 0;
        m_start = 0;
        m_used = 0;
        m_ownInsn = 0;
    }

private:
    Injector *m_injector = nullptr;
    uint64_t m_base = 0;
    size_t m_size = 0;
    size_t m_start = 0; // where the scratch space begins (after a runner's code)
    size_t m_used = 0;
    uint64_t m_ownInsn = 0; // with a runner: the injector's own syscall instruction
};

} // namespace cryopod::engine
