// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "anonfiles.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

namespace cryopod::engine
{

namespace
{

constexpr uint32_t kEfdSemaphore = 1; // EFD_SEMAPHORE
constexpr uint32_t kTfdTimerAbstime = 1; // TFD_TIMER_ABSTIME
constexpr uint32_t kTfdTimerCancelOnSet = 2; // TFD_TIMER_CANCEL_ON_SET
constexpr unsigned long kTfdIocSetTicks = _IOW('T', 0, uint64_t); // TFD_IOC_SET_TICKS

// The value after "key" in the fdinfo lines, as text (without blanks).
std::optional<std::string_view> field(const procfs::FdInfo &info, std::string_view key)
{
    for (const std::string &line : info.extraLines) {
        std::string_view l = line;
        if (!l.starts_with(key)) {
            continue;
        }
        l.remove_prefix(key.size());
        while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) {
            l.remove_prefix(1);
        }
        while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) {
            l.remove_suffix(1);
        }
        return l;
    }
    return std::nullopt;
}

template<typename T>
Result<T> number(const procfs::FdInfo &info, std::string_view key, int base, const std::string &what)
{
    const auto text = field(info, key);
    if (!text) {
        return fail(what + ": fdinfo has no '" + std::string(key) + "' line", EPROTO);
    }
    T value {};
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value, base);
    if (ec != std::errc() || end != text->data() + text->size()) {
        return fail(what + ": fdinfo '" + std::string(key) + "' is not a number: " + std::string(*text), EPROTO);
    }
    return value;
}

// "(sec, nsec)" -> nanoseconds.
Result<uint64_t> timespecField(const procfs::FdInfo &info, std::string_view key, const std::string &what)
{
    const auto text = field(info, key);
    uint64_t sec = 0, nsec = 0;
    if (!text || std::sscanf(std::string(*text).c_str(), "(%lu, %lu)", &sec, &nsec) != 2 || nsec >= 1000000000ull) {
        return fail(what + ": fdinfo '" + std::string(key) + "' is missing or unreadable", EPROTO);
    }
    return sec * 1000000000ull + nsec;
}

int64_t clockNow(int32_t clockId)
{
    timespec now {};
    ::clock_gettime(clockId, &now);
    return int64_t(now.tv_sec) * 1000000000ll + now.tv_nsec;
}

struct KernelItimerspec {
    int64_t intervalSec, intervalNsec, valueSec, valueNsec;
};

KernelItimerspec itimerspec(uint64_t valueNs, uint64_t intervalNs)
{
    return {int64_t(intervalNs / 1000000000ull), int64_t(intervalNs % 1000000000ull), int64_t(valueNs / 1000000000ull), int64_t(valueNs % 1000000000ull)};
}

bool isRealtime(int32_t clockId)
{
    return clockId == CLOCK_REALTIME || clockId == CLOCK_REALTIME_ALARM;
}

} // namespace

image::FdKind anonFileKind(const std::string &link)
{
    if (link == "anon_inode:[eventfd]") {
        return image::FdKind::EventFd;
    }
    if (link == "anon_inode:[timerfd]") {
        return image::FdKind::TimerFd;
    }
    if (link == "anon_inode:[signalfd]") {
        return image::FdKind::SignalFd;
    }
    if (link == "anon_inode:[eventpoll]") {
        return image::FdKind::Epoll;
    }
    if (link == "anon_inode:inotify") {
        return image::FdKind::Inotify;
    }
    return image::FdKind::Regular;
}

// ---- dump

Result<image::FileObjectRecord> dumpAnonFile(pid_t pid, const image::FdRecord &fd, const procfs::FdInfo &info, uint64_t id)
{
    const std::string what = "fd " + std::to_string(fd.fd) + " of " + std::to_string(pid) + " (" + fd.path + ")";
    image::FileObjectRecord record;
    record.id = id;
    record.ownerPid = pid;
    switch (fd.kind) {
    case image::FdKind::EventFd: {
        record.kind = image::FileObjectKind::EventFd;
        auto count = number<uint64_t>(info, "eventfd-count:", 16, what);
        if (!count) {
            return std::unexpected(count.error());
        }
        record.count = *count;
        // Older kernels do not show it (their eventfds then restore as
        // counters: named in the report by checkFds).
        if (field(info, "eventfd-semaphore:")) {
            auto semaphore = number<uint32_t>(info, "eventfd-semaphore:", 10, what);
            if (!semaphore) {
                return std::unexpected(semaphore.error());
            }
            record.semaphore = *semaphore != 0;
        }
        return record;
    }
    case image::FdKind::TimerFd: {
        record.kind = image::FileObjectKind::TimerFd;
        auto clock = number<int32_t>(info, "clockid:", 10, what);
        auto ticks = number<uint64_t>(info, "ticks:", 10, what);
        auto flags = number<uint32_t>(info, "settime flags:", 8, what);
        auto value = timespecField(info, "it_value:", what);
        auto interval = timespecField(info, "it_interval:", what);
        for (const Error *e : {clock ? nullptr : &clock.error(), ticks ? nullptr : &ticks.error(), flags ? nullptr : &flags.error(),
                               value ? nullptr : &value.error(), interval ? nullptr : &interval.error()}) {
            if (e) {
                return std::unexpected(*e);
            }
        }
        record.clockId = *clock;
        record.ticks = *ticks;
        record.settimeFlags = *flags & (kTfdTimerAbstime | kTfdTimerCancelOnSet);
        record.valueNs = *value;
        record.intervalNs = *interval;
        if (record.valueNs == 0 && record.intervalNs != 0) {
            // A periodic timer that expired and was not read since: the
            // kernel moves it on only when it is read, and fdinfo shows no
            // time left. Its next expiration: one interval from now.
            record.valueNs = record.intervalNs;
        }
        record.deadlineNs = record.valueNs ? clockNow(record.clockId) + int64_t(record.valueNs) : 0;
        if (record.valueNs && record.deadlineNs == 0) {
            record.deadlineNs = 1;
        }
        return record;
    }
    case image::FdKind::SignalFd: {
        record.kind = image::FileObjectKind::SignalFd;
        auto mask = number<uint64_t>(info, "sigmask:", 16, what);
        if (!mask) {
            return std::unexpected(mask.error());
        }
        record.sigmask = *mask;
        return record;
    }
    default:
        return fail(what + ": not an eventfd, timerfd or signalfd", EINVAL);
    }
}

// ---- restore

Result<void> restoreAnonFile(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds)
{
    const std::string what = "restore fd " + std::to_string(owner.fd) + " (" + owner.path + ")";
    const size_t mark = scratch.used();
    auto put = [&](const void *data, size_t size) { return scratch.put(std::span(static_cast<const uint8_t *>(data), size)); };
    Result<uint64_t> created = fail(what + ": unknown kind", EINVAL);
    switch (object.kind) {
    case image::FileObjectKind::EventFd:
        created = injector.call(what + ": eventfd2", SYS_eventfd2, 0, O_CLOEXEC | (object.semaphore ? kEfdSemaphore : 0));
        break;
    case image::FileObjectKind::TimerFd:
        created = injector.call(what + ": timerfd_create", SYS_timerfd_create, uint64_t(object.clockId), O_CLOEXEC);
        break;
    case image::FileObjectKind::SignalFd: {
        auto mask = put(&object.sigmask, sizeof object.sigmask);
        if (!mask) {
            return std::unexpected(mask.error().context(what));
        }
        created = injector.call(what + ": signalfd4", SYS_signalfd4, uint64_t(int64_t(-1)), *mask, sizeof object.sigmask, O_CLOEXEC);
        break;
    }
    default:
        break;
    }
    scratch.reset(mark);
    if (!created) {
        return std::unexpected(created.error());
    }
    auto fd = fds.adopt(injector, int32_t(*created), what);
    if (!fd) {
        return std::unexpected(fd.error());
    }

    if (object.kind == image::FileObjectKind::EventFd && object.count != 0) {
        // eventfd2 takes 32 bits; a write adds all 64 (never blocking: from 0
        // every value below 2^64-1 fits).
        auto value = put(&object.count, sizeof object.count);
        if (!value) {
            return std::unexpected(value.error().context(what));
        }
        auto written = injector.call(what + ": write its count", SYS_write, uint64_t(*fd), *value, sizeof object.count);
        scratch.reset(mark);
        if (!written) {
            return std::unexpected(written.error());
        }
    }
    if (object.kind == image::FileObjectKind::TimerFd && object.valueNs != 0) {
        uint32_t flags = object.settimeFlags;
        uint64_t value = object.valueNs;
        if (flags & kTfdTimerAbstime) {
            // A wall-clock deadline stays where it was (already passed: the
            // timer expires at once); on the other clocks the time left at
            // the checkpoint starts over now, as for relative timers.
            value = isRealtime(object.clockId) ? uint64_t(object.deadlineNs) : uint64_t(clockNow(object.clockId)) + object.valueNs;
        }
        const KernelItimerspec spec = itimerspec(value, object.intervalNs);
        auto specAddr = put(&spec, sizeof spec);
        if (!specAddr) {
            return std::unexpected(specAddr.error().context(what));
        }
        auto set = injector.call(what + ": timerfd_settime", SYS_timerfd_settime, uint64_t(*fd), flags, *specAddr, 0);
        scratch.reset(mark);
        if (!set) {
            return std::unexpected(set.error());
        }
    }
    if (object.kind == image::FileObjectKind::TimerFd && object.ticks != 0) {
        auto ticks = put(&object.ticks, sizeof object.ticks);
        if (!ticks) {
            return std::unexpected(ticks.error().context(what));
        }
        auto set = injector.call(what + ": TFD_IOC_SET_TICKS", SYS_ioctl, uint64_t(*fd), kTfdIocSetTicks, *ticks);
        scratch.reset(mark);
        if (!set) {
            return std::unexpected(set.error());
        }
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, *fd, owner.openFlags, what));
    fds.byFd[owner.fd] = *fd;
    return {};
}

} // namespace cryopod::engine
