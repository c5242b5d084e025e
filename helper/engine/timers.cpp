// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "timers.h"

#include <cstring>
#include <sys/syscall.h>

namespace cryopod::engine
{

namespace
{

// struct itimerval of x86-64: interval, then value, each (tv_sec, tv_usec).
struct KernelItimerval {
    int64_t intervalSec, intervalUsec, valueSec, valueUsec;
};

constexpr const char *kNames[] = {"ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"};

KernelItimerval toKernel(uint64_t valueNs, uint64_t intervalNs)
{
    KernelItimerval value{int64_t(intervalNs / 1000000000ull), int64_t(intervalNs % 1000000000ull / 1000ull), int64_t(valueNs / 1000000000ull),
                           int64_t(valueNs % 1000000000ull / 1000ull)};
    if (value.valueSec == 0 && value.valueUsec == 0) {
        value.valueUsec = 1; // less than a microsecond left: still armed
    }
    return value;
}

uint64_t valueNs(const KernelItimerval &v)
{
    return uint64_t(v.valueSec) * 1000000000ull + uint64_t(v.valueUsec) * 1000ull;
}

Result<KernelItimerval> setitimer(Injector &injector, RemoteScratch &scratch, int which, const KernelItimerval &value, const std::string &what)
{
    const size_t mark = scratch.used();
    auto in = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&value), sizeof value));
    auto out = scratch.reserve(sizeof value);
    if (!in || !out) {
        scratch.reset(mark);
        return fail(what + ": no scratch space", ENOMEM);
    }
    auto set = injector.call(what, SYS_setitimer, uint64_t(which), *in, 0);
    auto got = set ? injector.call(what + ": getitimer", SYS_getitimer, uint64_t(which), *out) : set;
    KernelItimerval now {};
    auto read = got ? scratch.read(*out, std::span(reinterpret_cast<uint8_t *>(&now), sizeof now)) : Result<void> {};
    scratch.reset(mark);
    if (!set) {
        return std::unexpected(set.error());
    }
    if (!got) {
        return std::unexpected(got.error());
    }
    if (!read) {
        return std::unexpected(read.error().context(what));
    }
    return now;
}

} // namespace

Result<image::TimersRecord> dumpTimers(pid_t pid, Injector &injector, RemoteScratch &scratch)
{
    image::TimersRecord record;
    record.pid = pid;
    const size_t mark = scratch.used();
    auto addr = scratch.reserve(sizeof(KernelItimerval));
    if (!addr) {
        return std::unexpected(addr.error().context("timers of " + std::to_string(pid)));
    }
    for (int which = 0; which < 3; ++which) {
        const std::string what = "timers of " + std::to_string(pid) + ": getitimer " + kNames[which];
        auto got = injector.call(what, SYS_getitimer, uint64_t(which), *addr);
        if (!got) {
            scratch.reset(mark);
            return std::unexpected(got.error());
        }
        KernelItimerval value{};
        auto read = scratch.read(*addr, std::span(reinterpret_cast<uint8_t *>(&value), sizeof value));
        if (!read) {
            scratch.reset(mark);
            return std::unexpected(read.error().context(what));
        }
        record.itimers[size_t(which)].valueNs = uint64_t(value.valueSec) * 1000000000ull + uint64_t(value.valueUsec) * 1000ull;
        record.itimers[size_t(which)].intervalNs = uint64_t(value.intervalSec) * 1000000000ull + uint64_t(value.intervalUsec) * 1000ull;
        if (record.itimers[size_t(which)].valueNs == 0 && record.itimers[size_t(which)].intervalNs != 0) {
            // ITIMER_REAL between an expiry and the dequeue of its SIGALRM
            // (the kernel re-arms it only then): it shows no time left, but
            // runs on. The restored one fires one interval after the restore
            // (the pending SIGALRM itself is restored with the signals).
            record.itimers[size_t(which)].valueNs = record.itimers[size_t(which)].intervalNs;
        }
    }
    scratch.reset(mark);
    return record;
}

Result<void> restoreTimers(Injector &injector, RemoteScratch &scratch, const image::TimersRecord &timers)
{
    const size_t mark = scratch.used();
    for (int which = 0; which < 3; ++which) {
        const image::Itimer &t = timers.itimers[size_t(which)];
        if (t.valueNs == 0) {
            continue; // disarmed, as a new process's are
        }
        const std::string what = std::string("restore ") + kNames[which];
        auto now = setitimer(injector, scratch, which, toKernel(t.valueNs, t.intervalNs), what);
        if (!now) {
            return std::unexpected(now.error());
        }
        // The CPU-time timers run one tick longer than they are set (the
        // kernel adds a tick so that they never fire early; getitimer shows
        // it): left alone, every checkpoint/restore cycle would add one. The
        // process is stopped, so what getitimer shows beyond the value set is
        // that tick; set it again that much shorter.
        const uint64_t shown = valueNs(*now);
        const uint64_t wanted = valueNs(toKernel(t.valueNs, t.intervalNs));
        if (which != 0 && shown > wanted && shown - wanted < wanted) {
            auto again = setitimer(injector, scratch, which, toKernel(wanted - (shown - wanted), t.intervalNs), what + " (less its tick)");
            if (!again) {
                return std::unexpected(again.error());
            }
        }
    }
    scratch.reset(mark);
    return {};
}

} // namespace cryopod::engine
