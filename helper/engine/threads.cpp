// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "threads.h"

#include "procfs.h"
#include "pstree.h"
#include "regs.h"
#include "seccomp.h"
#include "signals.h"

#include <cstddef>
#include <cstring>
#include <ctime>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cryopod::engine
{

// ---- dump

Result<image::ThreadRecord> dumpThread(pid_t pid, const Tracee &tracee, const procfs::Status &status)
{
    const pid_t tid = tracee.tid();
    const std::string what = "thread " + std::to_string(tid);
    image::ThreadRecord thread;
    thread.pid = pid;
    thread.tid = tid;
    auto name = procfs::readFile(procfs::path(pid, "task/" + std::to_string(tid) + "/comm"));
    if (!name) {
        return std::unexpected(name.error().context(what));
    }
    if (!name->empty() && name->back() == '\n') {
        name->pop_back();
    }
    thread.name = std::move(*name);
    CRYOPOD_PROPAGATE(dumpRegs(tracee, thread));
    auto mask = tracee.getSigmask();
    if (!mask) {
        return std::unexpected(mask.error().context(what + ": signal mask"));
    }
    thread.sigmask = *mask;
    thread.altstackFlags = SS_DISABLE;
    auto pending = dumpPendingSignals(tracee, false);
    if (!pending) {
        return std::unexpected(pending.error().context(what));
    }
    thread.pending = std::move(*pending);
    auto rseq = tracee.getRseqConfiguration();
    if (!rseq) {
        if (rseq.error().code != EIO) { // EIO: a kernel without the request (before 5.13) has no rseq to speak of
            return std::unexpected(rseq.error().context(what + ": rseq"));
        }
    } else if (rseq->size != 0) {
        thread.rseqAddr = rseq->addr;
        thread.rseqSize = rseq->size;
        thread.rseqFlags = rseq->flags;
        thread.rseqSignature = rseq->signature;
    }
    // get_robust_list works from outside for a thread we may ptrace.
    uint64_t head = 0;
    size_t len = 0;
    if (::syscall(SYS_get_robust_list, tid, &head, &len) != 0) {
        return sysError(what + ": get_robust_list");
    }
    if (head != 0) {
        thread.robustListHead = head;
        thread.robustListLen = len;
    }
    CRYOPOD_PROPAGATE(dumpSeccomp(status, tracee, thread));
    return thread;
}

Result<void> dumpThreadInjected(Injector &injector, RemoteScratch &scratch, image::ThreadRecord &thread)
{
    const std::string what = "thread " + std::to_string(thread.tid);
    scratch.reset();

    // The kernel's stack_t on x86-64: ss_sp, ss_flags (+ padding), ss_size.
    struct KernelStack {
        uint64_t sp;
        int32_t flags;
        int32_t pad;
        uint64_t size;
    };
    static_assert(sizeof(KernelStack) == 24);
    // Both answers in one block, read at once; both calls in one batch (one
    // stop with the scratch's runner).
    struct Answers {
        KernelStack stack;
        uint64_t clearChildTid;
    };
    auto addr = scratch.reserve(sizeof(Answers));
    if (!addr) {
        return std::unexpected(addr.error().context(what));
    }
    InjectBatch batch;
    batch.add(what + ": sigaltstack", SYS_sigaltstack, 0, *addr + offsetof(Answers, stack));
    batch.add(what + ": prctl(PR_GET_TID_ADDRESS)", SYS_prctl, PR_GET_TID_ADDRESS, *addr + offsetof(Answers, clearChildTid));
    CRYOPOD_PROPAGATE(injector.run(batch, scratch));
    Answers answers{};
    CRYOPOD_PROPAGATE(scratch.read(*addr, {reinterpret_cast<uint8_t *>(&answers), sizeof answers}));
    thread.altstackSp = answers.stack.sp;
    thread.altstackSize = answers.stack.size;
    thread.altstackFlags = uint32_t(answers.stack.flags);
    thread.clearChildTid = answers.clearChildTid;
    return {};
}

Result<void> dumpOtherThreadInjected(Tracee &tracee, Injector &leader, RemoteScratch &leaderScratch, bool trapStops, image::ThreadRecord &thread)
{
    auto injector = Injector::create(tracee, leader.syscallAddress());
    if (!injector) {
        return std::unexpected(injector.error().context("inject into thread " + std::to_string(tracee.tid())));
    }
    injector->setGuard(seccompGuard(thread.tid, thread.seccompMode, thread.seccompFilters));
    CRYOPOD_PROPAGATE(leaderScratch.enableRunner(*injector, trapStops));
    RemoteScratch scratch = leaderScratch.borrowFor(*injector);
    auto r = dumpThreadInjected(*injector, scratch, thread);
    scratch.release(); // the leader's: it unmaps it
    CRYOPOD_PROPAGATE(r);
    return injector->finish();
}

// ---- restore

Result<pid_t> cloneThread(Injector &leader, RemoteScratch &scratch, const image::ThreadRecord &thread)
{
    const std::string what = "restore thread " + std::to_string(thread.tid) + ": clone3";
    const size_t mark = scratch.used();
    const int32_t setTid = thread.tid;
    auto tidAddr = scratch.put({reinterpret_cast<const uint8_t *>(&setTid), sizeof setTid});
    if (!tidAddr) {
        return std::unexpected(tidAddr.error().context(what));
    }
    CloneArgs args;
    // What pthread_create asks for; the thread's own fs base also comes back
    // with its registers, CLONE_SETTLS sets it from the start. No stack: the
    // thread runs nothing before its registers are set.
    args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS;
    args.tls = fromImageRegs(thread.regs).fs_base;
    args.setTid = *tidAddr;
    args.setTidSize = 1;
    auto argsAddr = scratch.put({reinterpret_cast<const uint8_t *>(&args), sizeof args});
    if (!argsAddr) {
        scratch.reset(mark);
        return std::unexpected(argsAddr.error().context(what));
    }
    // The kernel frees a dead thread's tid only after it has told the
    // parent that the process died (free_pids() at the end of
    // release_task()): right after the original was reaped its tids may
    // still be taken for a moment, by no task /proc shows. Try again then.
    Result<int64_t> tid = 0;
    for (int attempt = 0;; ++attempt) {
        tid = leader.syscall(SYS_clone3, *argsAddr, sizeof args);
        if (!tid || *tid != -EEXIST || attempt == 100 || ::access(procfs::path(thread.tid).c_str(), F_OK) == 0) {
            break;
        }
        const timespec pause{0, 10 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
    scratch.reset(mark);
    if (!tid) {
        return std::unexpected(tid.error().context(what));
    }
    if (*tid == -EEXIST) {
        return fail(what + ": " + describePidHolder(thread.tid), EEXIST);
    }
    if (*tid < 0) {
        return fail(what + " set_tid", int(-*tid));
    }
    if (*tid != thread.tid) {
        return fail(what + ": created thread " + std::to_string(*tid) + " instead", EINVAL);
    }
    return pid_t(*tid);
}

Result<void> restoreThreadInjected(Injector &injector, RemoteScratch &scratch, const image::ThreadRecord &thread)
{
    // One batch of injected calls.
    const std::string what = "restore thread " + std::to_string(thread.tid);
    const size_t mark = scratch.used();
    InjectBatch batch;
    if (!thread.name.empty()) {
        auto name = scratch.putString(thread.name.substr(0, 15));
        if (!name) {
            return std::unexpected(name.error().context(what));
        }
        batch.add(what + ": name (PR_SET_NAME)", SYS_prctl, PR_SET_NAME, *name);
    }
    if (!(thread.altstackFlags & SS_DISABLE)) {
        // SS_ONSTACK only reports that the thread ran on the stack; the
        // kernel accepts 0 or SS_AUTODISARM when setting.
        stack_t ss{};
        ss.ss_sp = reinterpret_cast<void *>(thread.altstackSp);
        ss.ss_size = thread.altstackSize;
        constexpr uint32_t kSsAutodisarm = 1u << 31; // SS_AUTODISARM (linux/signal.h)
        ss.ss_flags = int(thread.altstackFlags & kSsAutodisarm);
        auto addr = scratch.put({reinterpret_cast<const uint8_t *>(&ss), sizeof ss});
        if (!addr) {
            scratch.reset(mark);
            return std::unexpected(addr.error().context(what));
        }
        batch.add(what + ": sigaltstack", SYS_sigaltstack, *addr, 0);
    }
    if (thread.clearChildTid != 0) {
        batch.add(what + ": set_tid_address", SYS_set_tid_address, thread.clearChildTid);
    }
    if (thread.robustListHead != 0) {
        batch.add(what + ": set_robust_list", SYS_set_robust_list, thread.robustListHead, thread.robustListLen);
    }
    if (thread.rseqSize != 0) {
        // The same area, length, flags and signature as glibc (or whoever)
        // registered: the kernel fills in cpu_id and friends again on the
        // way back to user space, and aborts critical sections to the same
        // signature-checked handlers.
        batch.add(what + ": rseq", SYS_rseq, thread.rseqAddr, thread.rseqSize, thread.rseqFlags, thread.rseqSignature);
    }
    auto r = injector.run(batch, scratch);
    scratch.reset(mark);
    return r;
}

Result<void> restoreThreadState(const Tracee &tracee, const image::ThreadRecord &thread)
{
    CRYOPOD_PROPAGATE(restoreRegs(tracee, thread));
    auto r = tracee.setSigmask(thread.sigmask);
    if (!r) {
        return std::unexpected(r.error().context("restore thread " + std::to_string(thread.tid) + ": signal mask"));
    }
    return {};
}

} // namespace cryopod::engine
