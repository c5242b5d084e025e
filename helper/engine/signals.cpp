// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "signals.h"

#include <csignal>
#include <cstring>
#include <ctime>
#include <sys/syscall.h>

namespace cryopod::engine
{

// ---- dump

Result<image::SignalsRecord> dumpSignals(pid_t pid, const procfs::Status &status, Injector &injector, RemoteScratch &scratch)
{
    const std::string what = "signals of " + std::to_string(pid);
    auto caught = procfs::statusHex(status, "SigCgt");
    auto ignored = procfs::statusHex(status, "SigIgn");
    if (!caught || !ignored) {
        return std::unexpected((caught ? ignored.error() : caught.error()).context(what));
    }
    // SIGCHLD is always read: SIG_DFL with SA_NOCLDWAIT/SA_NOCLDSTOP matters
    // and shows in neither mask.
    const uint64_t nonDefault = *caught | *ignored | (uint64_t(1) << (SIGCHLD - 1));
    image::SignalsRecord record;
    record.pid = pid;
    // One rt_sigaction per signal that may not be at its default, each into
    // a slot of its own, all in one batch (one stop with a runner); then
    // the slots are read at once.
    std::vector<uint32_t> signals;
    for (uint32_t sig = 1; sig <= 64; ++sig) {
        if ((nonDefault & (uint64_t(1) << (sig - 1))) && sig != SIGKILL && sig != SIGSTOP) {
            signals.push_back(sig);
        }
    }
    scratch.reset();
    auto slots = scratch.reserve(signals.size() * sizeof(KernelSigaction));
    if (!slots) {
        return std::unexpected(slots.error().context(what));
    }
    InjectBatch batch;
    for (size_t i = 0; i < signals.size(); ++i) {
        batch.add(what + ": rt_sigaction(" + std::to_string(signals[i]) + ")", SYS_rt_sigaction, signals[i], 0, *slots + i * sizeof(KernelSigaction),
                  sizeof(uint64_t));
    }
    CRYOPOD_PROPAGATE(injector.run(batch, scratch));
    std::vector<KernelSigaction> actions(signals.size());
    CRYOPOD_PROPAGATE(scratch.read(*slots, {reinterpret_cast<uint8_t *>(actions.data()), actions.size() * sizeof(KernelSigaction)}));
    scratch.reset();
    for (size_t i = 0; i < signals.size(); ++i) {
        const KernelSigaction &ka = actions[i];
        if (ka.handler == 0 /* SIG_DFL */ && ka.flags == 0 && ka.mask == 0) {
            continue;
        }
        image::SigactionEntry entry;
        entry.signo = signals[i];
        entry.handler = ka.handler;
        entry.flags = ka.flags;
        entry.restorer = ka.restorer;
        entry.mask = ka.mask;
        record.actions.push_back(entry);
    }
    auto pending = dumpPendingSignals(injector.tracee(), true);
    if (!pending) {
        return std::unexpected(pending.error().context(what));
    }
    record.pending = std::move(*pending);
    return record;
}

Result<std::vector<image::PendingSignal>> dumpPendingSignals(const Tracee &tracee, bool shared)
{
    auto infos = tracee.peekSiginfo(shared);
    if (!infos) {
        return std::unexpected(infos.error().context(shared ? "pending signals of the process" : "pending signals of the thread"));
    }
    std::vector<image::PendingSignal> out;
    out.reserve(infos->size());
    for (const Tracee::Siginfo &info : *infos) {
        image::PendingSignal p;
        int32_t signo = 0;
        std::memcpy(&signo, info.data(), sizeof signo); // si_signo comes first
        if (signo == SIGKILL || signo == SIGSTOP) {
            // Never left pending in a thread we hold stopped but for a
            // moment: SIGKILL ends it anyway, SIGSTOP is job control that a
            // restored copy does not inherit (as with a stopped process).
            continue;
        }
        p.signo = uint32_t(signo);
        p.siginfo.assign(info.begin(), info.end());
        out.push_back(std::move(p));
    }
    return out;
}

// ---- restore

Result<void> restoreSignals(Injector &injector, RemoteScratch &scratch, const image::SignalsRecord &record)
{
    // One batch of injected calls, each disposition in the scratch space.
    const std::string what = "restore signals of " + std::to_string(record.pid);
    const size_t mark = scratch.used();
    InjectBatch batch;
    for (const image::SigactionEntry &entry : record.actions) {
        const std::string sig = "signal " + std::to_string(entry.signo);
        if (entry.signo < 1 || entry.signo > 64) {
            scratch.reset(mark);
            return fail(what + ": image names " + sig, EINVAL);
        }
        if (entry.signo == SIGKILL || entry.signo == SIGSTOP) {
            if (entry.handler == 0) {
                continue; // SIG_DFL, as it must be
            }
            scratch.reset(mark);
            return fail(what + ": image gives " + sig + " a disposition", EINVAL);
        }
        const KernelSigaction ka{entry.handler, entry.flags, entry.restorer, entry.mask};
        auto buf = scratch.put({reinterpret_cast<const uint8_t *>(&ka), sizeof ka});
        if (!buf) {
            scratch.reset(mark);
            return std::unexpected(buf.error().context(what));
        }
        batch.add(what + ": rt_sigaction " + sig, SYS_rt_sigaction, entry.signo, *buf, 0, 8);
    }
    auto r = injector.run(batch, scratch);
    scratch.reset(mark);
    return r;
}

Result<void> restorePendingSignals(Injector &injector, RemoteScratch &scratch, pid_t pid, pid_t tid, const std::vector<image::PendingSignal> &pending,
                                   bool shared)
{
    const std::string what = std::string("restore pending signals of ") + (shared ? "process " + std::to_string(pid) : "thread " + std::to_string(tid));
    const size_t mark = scratch.used();
    for (size_t i = 0; i < pending.size(); ++i) {
        const image::PendingSignal &p = pending[i];
        const std::string sig = "signal " + std::to_string(p.signo) + " (#" + std::to_string(i) + ")";
        if (p.signo < 1 || p.signo > 64 || p.signo == SIGKILL || p.signo == SIGSTOP || p.siginfo.size() != image::kSiginfoBytes) {
            scratch.reset(mark);
            return fail(what + ": image holds an invalid pending " + sig, EINVAL);
        }
        scratch.reset(mark);
        auto info = scratch.put(p.siginfo);
        if (!info) {
            return std::unexpected(info.error().context(what));
        }
        auto r = shared ? injector.call(what + ": rt_sigqueueinfo " + sig, SYS_rt_sigqueueinfo, uint64_t(pid), p.signo, *info)
                        : injector.call(what + ": rt_tgsigqueueinfo " + sig, SYS_rt_tgsigqueueinfo, uint64_t(pid), uint64_t(tid), p.signo, *info);
        scratch.reset(mark);
        if (!r) {
            return std::unexpected(r.error());
        }
    }
    return {};
}

Result<void> takeBackSigchld(Injector &injector, RemoteScratch &scratch)
{
    const size_t mark = scratch.used();
    const uint64_t set = uint64_t(1) << (SIGCHLD - 1);
    const struct timespec zero{};
    auto setAddr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&set), sizeof set));
    auto zeroAddr = setAddr ? scratch.put(std::span(reinterpret_cast<const uint8_t *>(&zero), sizeof zero)) : setAddr;
    if (!zeroAddr) {
        scratch.reset(mark);
        return std::unexpected(zeroAddr.error().context("take back SIGCHLD"));
    }
    auto r = injector.syscall(SYS_rt_sigtimedwait, *setAddr, 0, *zeroAddr, sizeof set);
    scratch.reset(mark);
    if (!r) {
        return std::unexpected(r.error().context("take back SIGCHLD"));
    }
    if (*r != SIGCHLD && *r != -EAGAIN) {
        return fail("take back SIGCHLD: rt_sigtimedwait", *r < 0 ? int(-*r) : EIO);
    }
    return {};
}

} // namespace cryopod::engine
