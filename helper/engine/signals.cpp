// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "signals.h"

#include <csignal>
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
    scratch.reset();
    auto addr = scratch.reserve(sizeof(KernelSigaction));
    if (!addr) {
        return std::unexpected(addr.error().context(what));
    }
    for (uint32_t sig = 1; sig <= 64; ++sig) {
        if (!(nonDefault & (uint64_t(1) << (sig - 1))) || sig == SIGKILL || sig == SIGSTOP) {
            continue;
        }
        CRYOPOD_PROPAGATE(injector.call(what + ": rt_sigaction(" + std::to_string(sig) + ")", SYS_rt_sigaction, sig, 0, *addr, sizeof(uint64_t)));
        KernelSigaction ka;
        CRYOPOD_PROPAGATE(scratch.read(*addr, {reinterpret_cast<uint8_t *>(&ka), sizeof ka}));
        if (ka.handler == 0 /* SIG_DFL */ && ka.flags == 0 && ka.mask == 0) {
            continue;
        }
        image::SigactionEntry entry;
        entry.signo = sig;
        entry.handler = ka.handler;
        entry.flags = ka.flags;
        entry.restorer = ka.restorer;
        entry.mask = ka.mask;
        record.actions.push_back(entry);
    }
    return record;
}

// ---- restore

Result<void> restoreSignals(Injector &injector, RemoteScratch &scratch, const image::SignalsRecord &record)
{
    const std::string what = "restore signals of " + std::to_string(record.pid);
    const size_t mark = scratch.used();
    auto buf = scratch.reserve(sizeof(KernelSigaction));
    if (!buf) {
        return std::unexpected(buf.error().context(what));
    }
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
        CRYOPOD_PROPAGATE(injector.memory().write(*buf, {reinterpret_cast<const uint8_t *>(&ka), sizeof ka}));
        auto r = injector.call(what + ": rt_sigaction " + sig, SYS_rt_sigaction, entry.signo, *buf, 0, 8);
        if (!r) {
            scratch.reset(mark);
            return std::unexpected(r.error());
        }
    }
    scratch.reset(mark);
    return {};
}

} // namespace cryopod::engine
