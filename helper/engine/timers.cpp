// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "timers.h"

#include "procfs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string_view>
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
constexpr int kPrTimerCreateRestoreIds = 77; // PR_TIMER_CREATE_RESTORE_IDS (Linux 6.16)
constexpr int kSigevSignal = 0, kSigevNone = 1, kSigevThreadId = 4;

struct KernelItimerspec {
    int64_t intervalSec, intervalNsec, valueSec, valueNsec;
};

// x86-64 struct sigevent: value, signo, notify, then the union (the thread
// id first), 64 bytes in all.
struct KernelSigevent {
    uint64_t value;
    int32_t signo;
    int32_t notify;
    int32_t tid;
    int32_t pad[11];
};
static_assert(sizeof(KernelSigevent) == 64);

struct ProcTimer {
    image::PosixTimer timer;
    std::string notifyText; // "signal/pid", ...; for reasons
    bool supported = true;
    std::string why;
};

// /proc/PID/timers: blocks of "ID:", "signal: SIGNO/VALUE", "notify:
// WHAT/pid.N" (or tid.N), "ClockID:".
Result<std::vector<ProcTimer>> readProcTimers(pid_t pid)
{
    auto text = procfs::readFile(procfs::path(pid, "timers"));
    if (!text) {
        return std::unexpected(text.error());
    }
    std::vector<ProcTimer> out;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
        int id = 0, clock = 0;
        unsigned signo = 0;
        unsigned long long value = 0;
        char what[16] = {}, scope[8] = {};
        int target = 0;
        if (std::sscanf(line.c_str(), "ID: %d", &id) == 1) {
            out.emplace_back();
            out.back().timer.id = id;
        } else if (out.empty()) {
            continue;
        } else if (std::sscanf(line.c_str(), "signal: %u/%llx", &signo, &value) == 2) {
            out.back().timer.signo = signo;
            out.back().timer.sigval = value;
        } else if (std::sscanf(line.c_str(), "notify: %15[a-z]/%7[a-z].%d", what, scope, &target) == 3) {
            ProcTimer &t = out.back();
            t.notifyText = std::string(what) + "/" + scope;
            t.timer.tid = target;
            const bool thread = std::string_view(scope) == "tid";
            if (std::string_view(what) == "signal") {
                t.timer.notify = thread ? kSigevThreadId : kSigevSignal;
            } else if (std::string_view(what) == "none" && !thread) {
                t.timer.notify = kSigevNone;
            } else {
                t.supported = false;
                t.why = "notification " + t.notifyText + (std::string_view(what) == "thread" ? " (SIGEV_THREAD)" : "") + " is not supported";
            }
        } else if (std::sscanf(line.c_str(), "ClockID: %d", &clock) == 1) {
            out.back().timer.clockId = clock;
            constexpr int kClocks[] = {0, 1, 2, 3, 7, 8, 9, 11};
            if (std::find(std::begin(kClocks), std::end(kClocks), clock) == std::end(kClocks)) {
                out.back().supported = false;
                out.back().why = "clock " + std::to_string(clock) + (clock < 0 ? " (the CPU clock of another process or thread)" : "") + " is not supported";
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const ProcTimer &a, const ProcTimer &b) {
        return a.timer.id < b.timer.id;
    });
    return out;
}

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

std::vector<std::string> posixTimerRefusals(pid_t pid)
{
    std::vector<std::string> out;
    auto timers = readProcTimers(pid);
    if (!timers) {
        if (timers.error().code != ENOENT) {
            out.push_back("its POSIX timers cannot be read: " + timers.error().describe());
        }
        return out;
    }
    for (const ProcTimer &t : *timers) {
        if (!t.supported) {
            out.push_back("POSIX timer " + std::to_string(t.timer.id) + ": " + t.why);
        }
    }
    return out;
}

Result<image::TimersRecord> dumpTimers(pid_t pid, Injector &injector, RemoteScratch &scratch)
{
    image::TimersRecord record;
    record.pid = pid;
    // The three getitimer calls in one batch (one stop with a runner), each
    // into a slot of its own, read at once.
    const size_t mark = scratch.used();
    auto addr = scratch.reserve(3 * sizeof(KernelItimerval));
    if (!addr) {
        return std::unexpected(addr.error().context("timers of " + std::to_string(pid)));
    }
    InjectBatch batch;
    for (int which = 0; which < 3; ++which) {
        batch.add("timers of " + std::to_string(pid) + ": getitimer " + kNames[which], SYS_getitimer, uint64_t(which), *addr + which * sizeof(KernelItimerval));
    }
    if (auto got = injector.run(batch, scratch); !got) {
        scratch.reset(mark);
        return std::unexpected(got.error());
    }
    KernelItimerval values[3]{};
    auto read = scratch.read(*addr, std::span(reinterpret_cast<uint8_t *>(values), sizeof values));
    scratch.reset(mark);
    if (!read) {
        return std::unexpected(read.error().context("timers of " + std::to_string(pid)));
    }
    for (int which = 0; which < 3; ++which) {
        const KernelItimerval &value = values[which];
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

    auto posix = readProcTimers(pid);
    if (!posix) {
        return std::unexpected(posix.error().context("timers of " + std::to_string(pid)));
    }
    auto spec = scratch.reserve(sizeof(KernelItimerspec));
    if (!spec) {
        return std::unexpected(spec.error().context("timers of " + std::to_string(pid)));
    }
    for (ProcTimer &t : *posix) {
        const std::string what = "timers of " + std::to_string(pid) + ": POSIX timer " + std::to_string(t.timer.id);
        if (!t.supported) {
            scratch.reset(mark);
            return fail(what + ": " + t.why, ENOTSUP);
        }
        auto got = injector.call(what + ": timer_gettime", SYS_timer_gettime, uint64_t(t.timer.id), *spec);
        KernelItimerspec now{};
        auto read = got ? scratch.read(*spec, std::span(reinterpret_cast<uint8_t *>(&now), sizeof now)) : Result<void>{};
        if (!got || !read) {
            scratch.reset(mark);
            return std::unexpected(!got ? got.error() : read.error().context(what));
        }
        t.timer.valueNs = uint64_t(now.valueSec) * 1000000000ull + uint64_t(now.valueNsec);
        t.timer.intervalNs = uint64_t(now.intervalSec) * 1000000000ull + uint64_t(now.intervalNsec);
        if (t.timer.valueNs == 0 && t.timer.intervalNs != 0) {
            // Expired, its signal still queued: the kernel re-arms it when
            // the signal is taken. The restored one: one interval from now.
            t.timer.valueNs = t.timer.intervalNs;
        }
        record.posix.push_back(t.timer);
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
    if (timers.posix.empty()) {
        return {};
    }
    // timer_create takes the id the process knew the timer by (the value
    // passed in *timerid) while PR_TIMER_CREATE_RESTORE_IDS is on.
    auto on = injector.call("restore POSIX timers: PR_TIMER_CREATE_RESTORE_IDS", SYS_prctl, kPrTimerCreateRestoreIds, 1, 0, 0, 0);
    if (!on) {
        return std::unexpected(on.error());
    }
    Result<void> result;
    for (const image::PosixTimer &t : timers.posix) {
        const std::string what = "restore POSIX timer " + std::to_string(t.id);
        scratch.reset(mark);
        KernelSigevent event{};
        event.value = t.sigval;
        event.signo = int32_t(t.signo);
        event.notify = int32_t(t.notify);
        event.tid = t.notify == uint32_t(kSigevThreadId) ? t.tid : 0;
        auto eventAddr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&event), sizeof event));
        auto idAddr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&t.id), sizeof t.id));
        if (!eventAddr || !idAddr) {
            result = fail(what + ": no scratch space", ENOMEM);
            break;
        }
        auto created = injector.call(what + ": timer_create", SYS_timer_create, uint64_t(t.clockId), *eventAddr, *idAddr);
        if (!created) {
            result = std::unexpected(created.error());
            break;
        }
        int32_t id = -1;
        auto read = scratch.read(*idAddr, std::span(reinterpret_cast<uint8_t *>(&id), sizeof id));
        if (!read || id != t.id) {
            result = fail(what + ": timer_create gave id " + std::to_string(id), EIO);
            break;
        }
        if (t.valueNs == 0) {
            continue;
        }
        const KernelItimerspec spec{int64_t(t.intervalNs / 1000000000ull), int64_t(t.intervalNs % 1000000000ull), int64_t(t.valueNs / 1000000000ull),
                                    int64_t(t.valueNs % 1000000000ull)};
        auto specAddr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&spec), sizeof spec));
        if (!specAddr) {
            result = fail(what + ": no scratch space", ENOMEM);
            break;
        }
        auto set = injector.call(what + ": timer_settime", SYS_timer_settime, uint64_t(t.id), 0, *specAddr, 0);
        if (!set) {
            result = std::unexpected(set.error());
            break;
        }
    }
    scratch.reset(mark);
    auto off = injector.call("restore POSIX timers: PR_TIMER_CREATE_RESTORE_IDS off", SYS_prctl, kPrTimerCreateRestoreIds, 0, 0, 0, 0);
    if (!result) {
        return result;
    }
    if (!off) {
        return std::unexpected(off.error());
    }
    return {};
}

} // namespace cryopod::engine
