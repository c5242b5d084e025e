// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "epoll.h"

#include "regs.h"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr int64_t kEintr = -4;
constexpr int64_t kErestartNoHand = -514;

// The "tfd:" lines: (tfd, events, data).
std::vector<image::EpollTarget> parseTargets(const procfs::FdInfo &info, std::string *bad)
{
    std::vector<image::EpollTarget> out;
    for (const std::string &line : info.extraLines) {
        if (!line.starts_with("tfd:")) {
            continue;
        }
        int tfd = -1;
        unsigned events = 0;
        unsigned long long data = 0;
        if (std::sscanf(line.c_str(), "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3 || tfd < 0) {
            if (bad) {
                *bad = line;
            }
            continue;
        }
        out.push_back({tfd, events, uint64_t(data)});
    }
    return out;
}

// Whether the file registered as `tfd` in the set at `epfd` is the one open
// at fd `tfd` now (it may have been closed, or another file opened there).
bool registeredFileStillAt(pid_t pid, int epfd, int tfd)
{
    struct kcmp_epoll_slot slot{
        uint32_t(epfd), uint32_t(tfd), 0
    };
    return ::syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, tfd, &slot) == 0;
}

} // namespace

// ---- dump

std::string epollRefusal(pid_t pid, int fd, const procfs::FdInfo &info)
{
    const std::string fdName = "fd " + std::to_string(fd) + " is an epoll set";
    std::string bad;
    const auto targets = parseTargets(info, &bad);
    if (!bad.empty()) {
        return fdName + " with a registration cryopod cannot read (\"" + bad + "\")";
    }
    for (const image::EpollTarget &t : targets) {
        if (!registeredFileStillAt(pid, fd, t.fd)) {
            return fdName + " watching a file that is no longer open at fd " + std::to_string(t.fd) +
                ", the number it was added with: such a registration cannot be made again";
        }
    }
    return {};
}

Result<image::FileObjectRecord> dumpEpoll(pid_t pid, const image::FdRecord &fd, const procfs::FdInfo &info, uint64_t id)
{
    image::FileObjectRecord record;
    record.id = id;
    record.kind = image::FileObjectKind::Epoll;
    record.ownerPid = pid;
    std::string bad;
    record.targets = parseTargets(info, &bad);
    if (!bad.empty()) {
        return fail("epoll set at fd " + std::to_string(fd.fd) + ": unreadable fdinfo line \"" + bad + "\"", EPROTO);
    }
    return record;
}

Result<void> restartInterruptedEpollWait(const Tracee &tracee, image::ThreadRecord &thread, uint64_t deliverablePending)
{
    const auto &gpr = thread.regs.gpr;
    // user_regs_struct: rax is register 10, orig_rax 15.
    const auto rax = int64_t(gpr[10]);
    const auto nr = int64_t(gpr[15]);
    if (rax != kEintr || (nr != SYS_epoll_wait && nr != SYS_epoll_pwait && nr != SYS_epoll_pwait2) || deliverablePending != 0) {
        return {};
    }
    auto regs = tracee.getRegs();
    if (!regs) {
        return std::unexpected(regs.error().context("restart epoll_wait of thread " + std::to_string(thread.tid)));
    }
    regs->rax = uint64_t(kErestartNoHand);
    auto set = tracee.setRegs(*regs);
    if (!set) {
        return std::unexpected(set.error().context("restart epoll_wait of thread " + std::to_string(thread.tid)));
    }
    thread.regs = toImageRegs(*regs);
    return {};
}

// ---- restore

Result<void> restoreEpoll(Injector &injector, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds)
{
    (void)object;
    const std::string what = "restore fd " + std::to_string(owner.fd) + " (epoll set)";
    auto created = injector.call(what + ": epoll_create1", SYS_epoll_create1, EPOLL_CLOEXEC);
    if (!created) {
        return std::unexpected(created.error());
    }
    auto fd = fds.adopt(injector, int32_t(*created), what);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, *fd, owner.openFlags, what));
    fds.byFd[owner.fd] = *fd;
    return {};
}

Result<void> restoreEpollTargets(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, int32_t epfd)
{
    const size_t mark = scratch.used();
    for (const image::EpollTarget &t : object.targets) {
        const std::string what = "restore epoll set at fd " + std::to_string(epfd) + ": add fd " + std::to_string(t.fd);
        epoll_event event {};
        event.events = t.events;
        event.data.u64 = t.data;
        scratch.reset(mark);
        auto addr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&event), sizeof event));
        if (!addr) {
            return std::unexpected(addr.error().context(what));
        }
        auto added = injector.call(what, SYS_epoll_ctl, uint64_t(epfd), EPOLL_CTL_ADD, uint64_t(t.fd), *addr);
        if (!added) {
            scratch.reset(mark);
            return std::unexpected(added.error());
        }
    }
    scratch.reset(mark);
    return {};
}

} // namespace cryopod::engine
