// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "tty.h"

#include "fileobjects.h"

#include "creds.h"
#include "unixsockets.h"

#include "uniquefd.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

// The kernel's struct termios2 (TCGETS2/TCSETS2; <asm/termbits.h> clashes
// with glibc's <termios.h>, so it is spelled out here).
struct KernelTermios2 {
    uint32_t iflag, oflag, cflag, lflag;
    uint8_t line;
    uint8_t cc[image::kTermiosCcBytes];
    uint32_t ispeed, ospeed;
};
static_assert(sizeof(KernelTermios2) == 44);
constexpr unsigned long kTcGets2 = _IOR('T', 0x2A, KernelTermios2);
constexpr unsigned long kTcSets2 = _IOW('T', 0x2B, KernelTermios2);

constexpr unsigned kPtySlaveMajorFirst = 136;
constexpr unsigned kPtySlaveMajorLast = 143;

std::string deviceText(dev_t rdev)
{
    return std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
}

std::string ptsPath(dev_t rdev)
{
    return "/dev/pts/" + std::to_string((major(rdev) - kPtySlaveMajorFirst) * 256 + minor(rdev));
}

// A signed field of /proc/PID/stat (tpgid is -1 without a terminal).
long long signedField(const procfs::Stat &stat, size_t n)
{
    if (stat.fields.size() < n) {
        return 0;
    }
    char *end = nullptr;
    const long long v = std::strtoll(stat.fields[n - 1].c_str(), &end, 10);
    return end && *end == '\0' ? v : 0;
}

Result<void> readTerminal(int fd, image::TerminalRecord &record, const std::string &what)
{
    KernelTermios2 t {};
    if (::ioctl(fd, kTcGets2, &t) != 0) {
        return sysError(what + ": TCGETS2");
    }
    record.iflag = t.iflag;
    record.oflag = t.oflag;
    record.cflag = t.cflag;
    record.lflag = t.lflag;
    record.line = t.line;
    record.cc.assign(std::begin(t.cc), std::end(t.cc));
    record.ispeed = t.ispeed;
    record.ospeed = t.ospeed;
    winsize ws {};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) {
        return sysError(what + ": TIOCGWINSZ");
    }
    record.rows = ws.ws_row;
    record.cols = ws.ws_col;
    record.xpixel = ws.ws_xpixel;
    record.ypixel = ws.ws_ypixel;
    int queued = 0;
    if (::ioctl(fd, FIONREAD, &queued) != 0) {
        return sysError(what + ": FIONREAD");
    }
    record.inputQueued = uint64_t(std::max(queued, 0));
    return {};
}

Result<void> setTermios(int fd, const image::TerminalRecord &record, const std::string &what)
{
    KernelTermios2 t {};
    t.iflag = record.iflag;
    t.oflag = record.oflag;
    t.cflag = record.cflag;
    t.lflag = record.lflag;
    t.line = uint8_t(record.line);
    std::copy_n(record.cc.begin(), std::min(record.cc.size(), sizeof t.cc), t.cc);
    t.ispeed = record.ispeed;
    t.ospeed = record.ospeed;
    if (::ioctl(fd, kTcSets2, &t) != 0) {
        return sysError(what + ": TCSETS2");
    }
    return {};
}

Result<void> setWindowSize(int fd, const image::TerminalRecord &record, const std::string &what)
{
    winsize ws {};
    ws.ws_row = uint16_t(record.rows);
    ws.ws_col = uint16_t(record.cols);
    ws.ws_xpixel = uint16_t(record.xpixel);
    ws.ws_ypixel = uint16_t(record.ypixel);
    if (::ioctl(fd, TIOCSWINSZ, &ws) != 0) {
        return sysError(what + ": TIOCSWINSZ");
    }
    return {};
}

Result<TerminalSetup> newPty(const image::TerminalRecord &record, const std::optional<FsIdentity> &owner)
{
    const std::string what = "restore terminal " + record.path + ": new pty";
    UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master) {
        return sysError(what + ": posix_openpt");
    }
    if (::unlockpt(master.get()) != 0) {
        return sysError(what + ": unlockpt");
    }
    char name[64];
    if (const int err = ::ptsname_r(master.get(), name, sizeof name); err != 0) {
        errno = err;
        return sysError(what + ": ptsname");
    }
    UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) {
        return sysError(what + ": open " + name);
    }
    struct stat st {};
    if (::fstat(slave.get(), &st) != 0) {
        return sysError(what + ": fstat " + name);
    }
    CRYOPOD_PROPAGATE(setTermios(slave.get(), record, what));
    CRYOPOD_PROPAGATE(setWindowSize(slave.get(), record, what));
    if (owner && ::fchown(slave.get(), owner->uid, gid_t(-1)) != 0) {
        return sysError(what + ": give " + name + " to uid " + std::to_string(owner->uid));
    }
    TerminalSetup setup;
    setup.record = record;
    setup.rdev = uint64_t(st.st_rdev);
    setup.restored.originalPath = record.path;
    setup.restored.path = name;
    setup.restored.master = std::move(master);
    return setup;
}

Result<TerminalSetup> originalPty(const image::TerminalRecord &record, const std::optional<FsIdentity> &owner)
{
    const std::string what = "restore terminal " + record.path + ": the original pty";
    int fd = -1;
    int err = 0;
    auto open = [&] {
        fd = ::open(record.path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        err = errno;
    };
    if (owner) {
        CRYOPOD_PROPAGATE(runWithFsIdentity(*owner, open));
    } else {
        open();
    }
    if (fd < 0) {
        errno = err;
        return sysError(what + ": open (it no longer exists, or may not be opened)");
    }
    UniqueFd slave(fd);
    struct stat st {};
    if (::fstat(slave.get(), &st) != 0) {
        return sysError(what + ": fstat");
    }
    if (!S_ISCHR(st.st_mode) || uint64_t(st.st_rdev) != record.rdev) {
        return fail(what + ": another device is at that path now (" + deviceText(st.st_rdev) + ", was " + deviceText(dev_t(record.rdev)) + ")", ESTALE);
    }
    CRYOPOD_PROPAGATE(setTermios(slave.get(), record, what));
    TerminalSetup setup;
    setup.record = record;
    setup.rdev = record.rdev;
    setup.restored.originalPath = record.path;
    setup.restored.path = record.path;
    return setup;
}

} // namespace

bool isPtySlave(dev_t rdev)
{
    return major(rdev) >= kPtySlaveMajorFirst && major(rdev) <= kPtySlaveMajorLast;
}

dev_t decodeTtyNr(uint64_t ttyNr)
{
    // The kernel's new_encode_dev(): minor bits 0-7 and 20-31, major 8-19.
    return makedev(unsigned((ttyNr >> 8) & 0xfff), unsigned((ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00)));
}

std::string terminalFdRefusal(const std::string &fdName, const std::string &link, dev_t rdev)
{
    if (isPtySlave(rdev)) {
        return {};
    }
    const std::string device = " (" + link + ", " + deviceText(rdev) + ")";
    if (major(rdev) == 5 && minor(rdev) == 0) {
        return fdName + " is /dev/tty, the process's controlling terminal by another name" + device + ": not supported; the terminal itself (/dev/pts/N) is";
    }
    if (major(rdev) == 5 && minor(rdev) == 2) {
        return fdName + " is the master side of a pseudo-terminal" + device +
            ": a terminal emulator inside the tree is not supported (only programs on a pty's slave side are)";
    }
    return fdName + " is a console or hardware terminal" + device + ": only pseudo-terminals (/dev/pts/N) can be restored";
}

std::string terminalFdCaveat(pid_t pid, int fd, const std::string &fdName, const std::string &link)
{
    auto theirs = takeTheirFd(pid, fd, fdName);
    if (!theirs) {
        return {};
    }
    int queued = 0;
    if (::ioctl(theirs->get(), FIONREAD, &queued) != 0 || queued <= 0) {
        return {};
    }
    return fdName + " (" + link + "): " + std::to_string(queued) +
        " bytes typed into the terminal are not read yet: they are not carried into the image (a new pty starts empty; the original one still holds them)";
}

std::vector<std::string> controllingTerminalCaveats(pid_t pid, const procfs::Stat &stat, const std::set<pid_t> *tree)
{
    std::vector<std::string> out;
    const uint64_t ttyNr = stat.number(7);
    if (ttyNr == 0) {
        return out;
    }
    const dev_t rdev = decodeTtyNr(ttyNr);
    const pid_t sid = pid_t(stat.number(6));
    const bool sessionInTree = tree ? tree->contains(sid) : sid == pid;
    if (!isPtySlave(rdev)) {
        if (sid == pid) {
            out.push_back("its controlling terminal (device " + deviceText(rdev) + ") is not a pseudo-terminal: the restored session has none");
        }
        return out;
    }
    if (!sessionInTree) {
        // Only for a process that uses the terminal (a program merely
        // started from a shell keeps it as its controlling terminal without
        // ever looking), and said once, by the process of the tree nearest
        // to the session.
        bool usesIt = false;
        if (auto fds = procfs::listFds(pid)) {
            for (const int fd : *fds) {
                struct stat st {};
                if (::stat(procfs::path(pid, "fd/" + std::to_string(fd)).c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == rdev) {
                    usesIt = true;
                    break;
                }
            }
        }
        if (!usesIt) {
            return out;
        }
        const pid_t parent = pid_t(stat.number(4));
        auto parentStat = tree && tree->contains(parent) ? procfs::readStat(parent) : Result<procfs::Stat>(fail("outside"));
        if (!parentStat || pid_t(parentStat->number(6)) != sid) {
            out.push_back("its controlling terminal " + ptsPath(rdev) + " belongs to session " + std::to_string(sid) +
                          ", whose leader is outside the checkpoint: the restored processes keep the terminal's fds but have no controlling terminal (no job "
                          "control signals from it)");
        }
        return out;
    }
    if (sid != pid) {
        return out;
    }
    const long long foreground = signedField(stat, 8);
    if (foreground <= 0) {
        return out;
    }
    bool found = false;
    for (const pid_t member : tree ? *tree : std::set<pid_t> {pid}) {
        auto s = member == pid ? Result<procfs::Stat>(stat) : procfs::readStat(member);
        if (s && (long long)s->number(5) == foreground && pid_t(s->number(6)) == sid) {
            found = true;
            break;
        }
    }
    if (!found) {
        out.push_back("the foreground process group " + std::to_string(foreground) + " of its terminal " + ptsPath(rdev) +
                      " is outside the checkpoint: after a restore the session leader's group is in the foreground");
    }
    return out;
}

Result<std::vector<image::TerminalRecord>> dumpTerminals(const image::ProcessTreeRecord &tree, const std::vector<const image::FilesRecord *> &files)
{
    std::vector<uint64_t> order;
    std::map<uint64_t, std::pair<pid_t, int32_t>> firstFd; // rdev -> an fd of the tree on it
    std::map<uint64_t, std::string> paths;
    for (const image::FilesRecord *table : files) {
        for (const image::FdRecord &fd : table->fds) {
            if (fd.kind == image::FdKind::Terminal && firstFd.try_emplace(fd.rdev, table->pid, fd.fd).second) {
                order.push_back(fd.rdev);
                paths[fd.rdev] = fd.path;
            }
        }
    }
    struct Session {
        int32_t sid = 0;
        int32_t foreground = 0;
    };
    std::map<uint64_t, Session> sessions; // rdev -> the session of the tree it controls
    for (const image::ProcessEntry &entry : tree.processes) {
        if (entry.zombie || entry.sid != entry.pid) {
            continue;
        }
        auto stat = procfs::readStat(entry.pid);
        if (!stat) {
            return std::unexpected(stat.error().context("terminal of session " + std::to_string(entry.pid)));
        }
        const dev_t rdev = decodeTtyNr(stat->number(7));
        if (stat->number(7) == 0 || !isPtySlave(rdev)) {
            continue;
        }
        Session session {entry.pid, 0};
        const long long foreground = signedField(*stat, 8);
        for (const image::ProcessEntry &member : tree.processes) {
            if (!member.zombie && member.sid == entry.pid && member.pgid == foreground) {
                session.foreground = int32_t(foreground);
                break;
            }
        }
        sessions[uint64_t(rdev)] = session;
        if (!firstFd.contains(uint64_t(rdev)) && std::find(order.begin(), order.end(), uint64_t(rdev)) == order.end()) {
            order.push_back(uint64_t(rdev));
        }
    }
    std::vector<image::TerminalRecord> out;
    for (const uint64_t rdev : order) {
        image::TerminalRecord record;
        record.rdev = rdev;
        record.path = paths.contains(rdev) ? paths[rdev] : ptsPath(dev_t(rdev));
        const std::string what = "terminal " + record.path;
        UniqueFd fd;
        if (const auto it = firstFd.find(rdev); it != firstFd.end()) {
            auto theirs = takeTheirFd(it->second.first, it->second.second, what);
            if (!theirs) {
                return std::unexpected(theirs.error());
            }
            fd = std::move(*theirs);
        } else {
            // A controlling terminal no fd of the tree has open: looked at
            // through a descriptor of our own (never our controlling terminal).
            fd.reset(::open(record.path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
            struct stat st {};
            if (!fd || ::fstat(fd.get(), &st) != 0) {
                return sysError(what + ": open the controlling terminal");
            }
            if (uint64_t(st.st_rdev) != rdev) {
                return fail(what + ": the path names another device (" + deviceText(st.st_rdev) + ") than the controlling terminal (" +
                                deviceText(dev_t(rdev)) + "): a pty of another devpts instance is not supported",
                            ENOTSUP);
            }
        }
        CRYOPOD_PROPAGATE(readTerminal(fd.get(), record, what));
        if (const auto session = sessions.find(rdev); session != sessions.end()) {
            record.sid = session->second.sid;
            record.foregroundPgrp = session->second.foreground;
        }
        out.push_back(std::move(record));
    }
    return out;
}

Result<void> validateTerminalsForRestore(const std::vector<image::TerminalRecord> &terminals, const image::ProcessTreeRecord &tree,
                                         const std::vector<const image::FilesRecord *> &files)
{
    std::set<uint64_t> known;
    for (const image::TerminalRecord &t : terminals) {
        const std::string what = "image terminal " + t.path;
        const bool ptsPath =
            t.path.starts_with("/dev/pts/") && t.path.size() > 9 && t.path.size() < 20 && t.path.find_first_not_of("0123456789", 9) == std::string::npos;
        if (!isPtySlave(dev_t(t.rdev)) || !ptsPath || t.cc.size() != image::kTermiosCcBytes || !known.insert(t.rdev).second) {
            return fail(what + ": not a pty slave at /dev/pts/N, wrong control characters, or twice in the image", EINVAL);
        }
        if (t.sid == 0) {
            continue;
        }
        const auto leader = std::find_if(tree.processes.begin(), tree.processes.end(), [&](const image::ProcessEntry &e) { return e.pid == t.sid; });
        if (leader == tree.processes.end() || leader->zombie || leader->sid != t.sid) {
            return fail(what + ": controls session " + std::to_string(t.sid) + ", which no live session leader of the tree leads", EINVAL);
        }
        if (t.foregroundPgrp != 0 && std::none_of(tree.processes.begin(), tree.processes.end(), [&](const image::ProcessEntry &e) {
                return !e.zombie && e.sid == t.sid && e.pgid == t.foregroundPgrp;
            })) {
            return fail(what + ": its foreground group " + std::to_string(t.foregroundPgrp) + " is no group of session " + std::to_string(t.sid) +
                            " in the tree",
                        EINVAL);
        }
    }
    for (const image::FilesRecord *table : files) {
        for (const image::FdRecord &fd : table->fds) {
            if (fd.kind == image::FdKind::Terminal && !known.contains(fd.rdev)) {
                return fail("image fd " + std::to_string(fd.fd) + " of " + std::to_string(table->pid) + ": a terminal the image does not describe", EINVAL);
            }
        }
    }
    return {};
}

Result<std::vector<TerminalSetup>> openTerminals(const std::vector<image::TerminalRecord> &terminals, PtyMode mode, const std::optional<FsIdentity> &owner)
{
    std::vector<TerminalSetup> out;
    if (mode == PtyMode::Refuse && !terminals.empty()) {
        return fail("the image's processes ran on the terminal " + terminals.front().path +
                        ": restoring them needs a new pty (whose master the caller takes) or the original one",
                    ENOTSUP);
    }
    for (const image::TerminalRecord &record : terminals) {
        auto setup = mode == PtyMode::New ? newPty(record, owner) : originalPty(record, owner);
        if (!setup) {
            return std::unexpected(setup.error());
        }
        out.push_back(std::move(*setup));
    }
    return out;
}

void retargetTerminalFds(image::FilesRecord &files, const std::vector<TerminalSetup> &terminals)
{
    for (image::FdRecord &fd : files.fds) {
        if (fd.kind != image::FdKind::Terminal) {
            continue;
        }
        for (const TerminalSetup &t : terminals) {
            if (t.record.rdev == fd.rdev) {
                fd.path = t.restored.path;
                fd.rdev = t.rdev;
                break;
            }
        }
    }
}

Result<void> takeControllingTerminal(RestoredProcess &process, const TerminalSetup &terminal)
{
    const std::string what = "restore controlling terminal " + terminal.restored.path + " of session " + std::to_string(process.tracee().tid());
    auto injector = Injector::create(process.tracee(), process.entry() + 5);
    if (!injector) {
        return std::unexpected(injector.error().context(what));
    }
    // The stub's stack, well below what it uses, holds the path.
    const uint64_t pathAddr = (injector->savedRegs().rsp - 1024) & ~uint64_t(15);
    const std::string &path = terminal.restored.path;
    auto r = injector->memory().write(pathAddr, std::span(reinterpret_cast<const uint8_t *>(path.c_str()), path.size() + 1));
    Result<uint64_t> opened = r ? injector->call(what + ": open", SYS_openat, uint64_t(int64_t(AT_FDCWD)), pathAddr, O_RDWR | O_NOCTTY | O_CLOEXEC, 0)
                                : Result<uint64_t>(std::unexpected(r.error()));
    Result<uint64_t> set = opened ? injector->call(what + ": TIOCSCTTY", SYS_ioctl, *opened, TIOCSCTTY, 0) : opened;
    if (opened) {
        auto closed = injector->call(what + ": close", SYS_close, *opened);
        if (set && !closed) {
            set = std::unexpected(closed.error());
        }
    }
    injector->dismiss();
    if (!set) {
        return std::unexpected(set.error());
    }
    return {};
}

Result<void> restoreControllingTerminal(Injector &injector, RemoteScratch &scratch, const TerminalSetup &terminal)
{
    const pid_t pid = injector.tracee().tid();
    const std::string what = "restore controlling terminal " + terminal.restored.path + " of session " + std::to_string(pid);
    const size_t mark = scratch.used();
    auto pathAddr = scratch.putString(terminal.restored.path);
    if (!pathAddr) {
        return std::unexpected(pathAddr.error().context(what));
    }
    const int32_t foreground = terminal.record.foregroundPgrp;
    auto pgrpAddr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&foreground), sizeof foreground));
    if (!pgrpAddr) {
        return std::unexpected(pgrpAddr.error().context(what));
    }
    auto opened = injector.call(what + ": open", SYS_openat, uint64_t(int64_t(AT_FDCWD)), *pathAddr, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
    if (!opened) {
        scratch.reset(mark);
        return std::unexpected(opened.error());
    }
    auto set = injector.call(what + ": TIOCSCTTY", SYS_ioctl, *opened, TIOCSCTTY, 0);
    if (set && foreground != 0) {
        // The injector blocks every signal: no SIGTTOU for a background caller.
        auto fg = injector.call(what + ": TIOCSPGRP " + std::to_string(foreground), SYS_ioctl, *opened, TIOCSPGRP, *pgrpAddr);
        if (!fg) {
            set = std::unexpected(fg.error());
        }
    }
    auto closed = injector.call(what + ": close", SYS_close, *opened);
    scratch.reset(mark);
    if (!set) {
        return std::unexpected(set.error());
    }
    if (!closed) {
        return std::unexpected(closed.error());
    }
    auto stat = procfs::readStat(pid);
    if (!stat) {
        return std::unexpected(stat.error().context(what));
    }
    if (uint64_t(decodeTtyNr(stat->number(7))) != terminal.rdev) {
        return fail(what + ": the kernel reports another controlling terminal (" + deviceText(decodeTtyNr(stat->number(7))) + ")", EIO);
    }
    return {};
}

} // namespace cryopod::engine
