// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "files.h"

#include "anonfiles.h"
#include "epoll.h"
#include "filelocks.h"
#include "fileobjects.h"
#include "inetsockets.h"
#include "inotify.h"
#include "pipes.h"
#include "procfiles.h"
#include "procfs.h"
#include "shmem.h"
#include "tty.h"
#include "uniquefd.h"
#include "unixsockets.h"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <linux/kcmp.h>
#include <map>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <set>
#include <string_view>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <vector>

namespace cryopod::engine
{

// ---- dump

namespace
{

constexpr std::string_view kDeletedSuffix = " (deleted)";

struct FdFacts {
    int fd = -1;
    std::string link; // readlink /proc/PID/fd/N
    struct stat st{};
    procfs::FdInfo info;
};

// ENOENT when the fd was closed meanwhile.
Result<FdFacts> inspectFd(pid_t pid, int fd)
{
    FdFacts facts;
    facts.fd = fd;
    const std::string link = procfs::path(pid, "fd/" + std::to_string(fd));
    auto target = procfs::readLink(link);
    if (!target) {
        return std::unexpected(target.error());
    }
    facts.link = std::move(*target);
    if (::stat(link.c_str(), &facts.st) != 0) {
        return sysError("stat " + link);
    }
    auto info = procfs::readFdInfo(pid, fd);
    if (!info) {
        return std::unexpected(info.error());
    }
    facts.info = std::move(*info);
    return facts;
}

std::string withoutDeleted(const std::string &path)
{
    return path.ends_with(kDeletedSuffix) ? path.substr(0, path.size() - kDeletedSuffix.size()) : path;
}

bool isUnlinked(const FdFacts &f)
{
    return f.st.st_nlink == 0 || f.link.ends_with(kDeletedSuffix);
}

// "7F000001:1F90" style (IPv4 as a host-order word, IPv6 as four) -> "127.0.0.1:8080".
std::string inetAddress(std::string_view hex, bool v6)
{
    const size_t colon = hex.find(':');
    if (colon == std::string_view::npos) {
        return std::string(hex);
    }
    unsigned port = 0;
    std::from_chars(hex.data() + colon + 1, hex.data() + hex.size(), port, 16);
    const std::string_view addr = hex.substr(0, colon);
    char text[INET6_ADDRSTRLEN] = {};
    if (!v6 && addr.size() == 8) {
        uint32_t a = 0;
        std::from_chars(addr.data(), addr.data() + 8, a, 16);
        in_addr in{a}; // the kernel printed the raw word in host order
        ::inet_ntop(AF_INET, &in, text, sizeof text);
        return std::string(text) + ":" + std::to_string(port);
    }
    if (v6 && addr.size() == 32) {
        in6_addr in6{};
        for (int i = 0; i < 4; ++i) {
            uint32_t word = 0;
            std::from_chars(addr.data() + 8 * i, addr.data() + 8 * i + 8, word, 16);
            std::memcpy(reinterpret_cast<uint8_t *>(&in6) + 4 * i, &word, 4);
        }
        ::inet_ntop(AF_INET6, &in6, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(port);
    }
    return std::string(hex);
}

// Plain words for a socket: "unix stream socket connected to /run/x.sock",
// "TCP socket connected to 127.0.0.1:80", ...
std::string describeSocket(pid_t pid, uint64_t inode)
{
    if (auto u = procfs::findSocketLine(pid, "unix", 6, inode)) {
        const auto &w = *u;
        const std::string type = w.size() > 4 ? (w[4] == "0001" ? "stream" : w[4] == "0002" ? "datagram" : w[4] == "0005" ? "seqpacket" : "") : "";
        const std::string path = w.size() > 7 ? w[7] : "";
        const bool listening = w.size() > 3 && w[3] == "00010000";
        const bool connected = w.size() > 5 && w[5] == "03";
        std::string s = "unix " + (type.empty() ? std::string() : type + " ") + "socket";
        if (listening) {
            return s + " listening on " + (path.empty() ? "an unnamed address" : path);
        }
        if (connected) {
            if (const auto info = unixSocketInfo(uint32_t(inode)); info && info->peer != 0) {
                if (auto p = procfs::findSocketLine(pid, "unix", 6, info->peer); p && p->size() > 7) {
                    return s + " connected to " + (*p)[7];
                }
                return s + " connected to an unnamed peer (socket:[" + std::to_string(info->peer) + "])";
            }
            return s + " (connected)";
        }
        return s + (path.empty() ? std::string() : " bound to " + path);
    }
    const std::pair<const char *, const char *> inetTables[] = {{"tcp", "TCP"}, {"tcp6", "TCP"}, {"udp", "UDP"}, {"udp6", "UDP"}, {"raw", "raw IP"}, {"raw6", "raw IP"}};
    for (const auto &[table, name] : inetTables) {
        if (auto t = procfs::findSocketLine(pid, table, 9, inode)) {
            const auto &w = *t;
            const bool v6 = std::string_view(table).ends_with("6");
            const std::string local = w.size() > 1 ? inetAddress(w[1], v6) : "?";
            const std::string remote = w.size() > 2 ? inetAddress(w[2], v6) : "?";
            const std::string state = w.size() > 3 ? w[3] : "";
            const std::string s = std::string(name) + " socket";
            if (std::string_view(name) == "TCP" && state == "0A") {
                return s + " listening on " + local;
            }
            if (!remote.ends_with(":0")) {
                return s + " connected to " + remote + " (from " + local + ")";
            }
            return s + " bound to " + local;
        }
    }
    if (procfs::findSocketLine(pid, "netlink", 9, inode)) {
        return "netlink socket";
    }
    if (procfs::findSocketLine(pid, "packet", 8, inode)) {
        return "packet socket";
    }
    return "socket";
}

// "an eventfd", "an inotify instance", ... for "anon_inode:[eventfd]" and the like.
std::string describeAnonInode(std::string_view link)
{
    std::string_view name = link;
    if (name.starts_with("anon_inode:")) {
        name.remove_prefix(11);
    }
    if (name.starts_with("[") && name.ends_with("]")) {
        name = name.substr(1, name.size() - 2);
    }
    if (name == "eventfd") {
        return "an eventfd";
    }
    if (name == "inotify") {
        return "an inotify instance";
    }
    if (name == "fanotify") {
        return "a fanotify instance";
    }
    if (name == "eventpoll") {
        return "an epoll instance";
    }
    if (name == "signalfd") {
        return "a signalfd";
    }
    if (name == "timerfd") {
        return "a timerfd";
    }
    if (name == "pidfd" || link.starts_with("pidfd:")) {
        return "a pidfd";
    }
    if (name == "io_uring") {
        return "an io_uring instance";
    }
    if (name == "userfaultfd") {
        return "a userfaultfd";
    }
    if (name == "perf_event") {
        return "a perf event";
    }
    if (name.starts_with("bpf")) {
        return "a BPF object";
    }
    return "a kernel object";
}

// Character devices v1 reopens by path: /dev/null, zero, full, random, urandom.
bool isSimpleCharDevice(dev_t rdev)
{
    if (major(rdev) != 1) {
        return false;
    }
    switch (minor(rdev)) {
    case 3: // null
    case 5: // zero
    case 7: // full
    case 8: // random
    case 9: // urandom
        return true;
    default:
        return false;
    }
}

bool isTerminal(dev_t rdev)
{
    const unsigned maj = major(rdev);
    return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

// Pseudo file systems whose files v1 does not reopen.
std::optional<std::string> pseudoFilesystem(pid_t pid, int fd)
{
    struct statfs fs{};
    const std::string link = procfs::path(pid, "fd/" + std::to_string(fd));
    if (::statfs(link.c_str(), &fs) != 0) {
        return std::nullopt;
    }
    switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x9fa0: // PROC_SUPER_MAGIC
        return "procfs";
    case 0x62656572: // SYSFS_MAGIC
        return "sysfs";
    case 0x64626720: // DEBUGFS_MAGIC
        return "debugfs";
    case 0x27e0eb: // CGROUP_SUPER_MAGIC
    case 0x63677270: // CGROUP2_SUPER_MAGIC
        return "cgroupfs";
    default:
        return std::nullopt;
    }
}

// The pipes, FIFOs and sockets (dev, ino) among `facts`: what another
// process may share.
std::vector<std::pair<uint64_t, uint64_t>> pipesOf(const std::vector<FdFacts> &facts)
{
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const FdFacts &f : facts) {
        if (S_ISFIFO(f.st.st_mode) || S_ISSOCK(f.st.st_mode)) {
            out.emplace_back(uint64_t(f.st.st_dev), uint64_t(f.st.st_ino));
        }
    }
    return out;
}

// What classify() needs to know about the process's other fds.
struct FdContext {
    PipeHolders holders; // processes outside that have a pipe, FIFO or socket of the process open
    std::set<uint64_t> sockets; // the socket inodes the process (and the rest of its tree) has open
    const TreeScope *scope = nullptr;
};

FdContext contextOf(pid_t pid, const std::vector<FdFacts> &facts, const TreeScope *scope)
{
    FdContext context;
    context.holders = scope ? scope->holders : pipeHoldersOutside(pid, pipesOf(facts));
    for (const FdFacts &f : facts) {
        if (S_ISSOCK(f.st.st_mode)) {
            context.sockets.insert(uint64_t(f.st.st_ino));
        }
    }
    if (scope) {
        context.sockets.insert(scope->sockets.begin(), scope->sockets.end());
    }
    context.scope = scope;
    return context;
}

// Ok, or why not, for one fd.
FdReport classify(pid_t pid, const FdFacts &f, const FdContext &context)
{
    const PipeHolders &holders = context.holders;
    FdReport report;
    report.fd = f.fd;
    report.target = f.link;
    const std::string fdName = "fd " + std::to_string(f.fd);
    auto refuse = [&](const std::string &why) {
        report.verdict = Verdict::Refused;
        report.reason = why;
        return report;
    };
    const mode_t type = f.st.st_mode & S_IFMT;

    if (context.scope && context.scope->detached.contains({pid, f.fd})) {
        report.verdict = Verdict::Caveat;
        report.reason = fdName + " (" + f.link + ") is detached: the restored process finds the read end of a pipe whose writer is gone there";
        return report;
    }
    if (type == S_IFSOCK && unixSocketInfo(uint32_t(f.st.st_ino))) {
        if (const auto outside = holders.find({uint64_t(f.st.st_dev), uint64_t(f.st.st_ino)}); outside != holders.end()) {
            return refuse(pipeRefusal(fdName, f.link, false, 0, outside->second));
        }
        if (const std::string why = unixSocketRefusal(fdName, uint64_t(f.st.st_ino), context.sockets); !why.empty()) {
            return refuse(why);
        }
        if (std::string caveat = unixSocketCaveat(fdName, uint64_t(f.st.st_ino)); !caveat.empty()) {
            report.verdict = Verdict::Caveat;
            report.reason = std::move(caveat);
        }
        return report;
    }
    if (type == S_IFSOCK) {
        if (const auto inet = checkInetSocket(pid, f.fd, uint64_t(f.st.st_ino), fdName, context.scope && context.scope->tcpEstablished)) {
            if (const auto outside = holders.find({uint64_t(f.st.st_dev), uint64_t(f.st.st_ino)}); outside != holders.end()) {
                return refuse(pipeRefusal(fdName, f.link, false, 0, outside->second));
            }
            report.verdict = inet->verdict;
            report.reason = inet->reason;
            return report;
        }
    }
    if (type == S_IFSOCK || f.link.starts_with("socket:")) {
        return refuse(fdName + " is a " + describeSocket(pid, f.st.st_ino) + " (" + f.link +
                      "): not supported (the engine restores TCP and UDP sockets that are not TCP connections, and unix socket pairs inside the checkpoint)");
    }
    if (type == S_IFIFO) {
        const bool fifo = !f.link.starts_with("pipe:");
        const auto outside = holders.find({uint64_t(f.st.st_dev), uint64_t(f.st.st_ino)});
        const std::string why = pipeRefusal(fdName, f.link, fifo, f.info.flags, outside == holders.end() ? std::vector<pid_t>{} : outside->second);
        if (!why.empty()) {
            return refuse(why);
        }
        if (!fifo) {
            return report;
        }
        if (isUnlinked(f)) {
            return refuse(fdName + " is a named pipe that was removed (" + f.link + "): it cannot be opened again");
        }
    }
    if (!f.link.starts_with("/")) {
        switch (anonFileKind(f.link)) {
        case image::FdKind::EventFd:
        case image::FdKind::TimerFd:
        case image::FdKind::SignalFd:
            return report;
        case image::FdKind::Epoll:
            if (const std::string why = epollRefusal(pid, f.fd, f.info); !why.empty()) {
                return refuse(why);
            }
            return report;
        case image::FdKind::Inotify: {
            std::string caveat;
            if (const std::string why = inotifyRefusal(pid, f.fd, f.info, fdName, &caveat); !why.empty()) {
                return refuse(why);
            }
            if (!caveat.empty()) {
                report.verdict = Verdict::Caveat;
                report.reason = caveat;
            }
            return report;
        }
        default:
            if (describeAnonInode(f.link) == "an io_uring instance") {
                // What users meet first: Node.js (libuv >= 1.49 batches epoll_ctl through a ring per event loop).
                return refuse(fdName + " is an io_uring instance (" + f.link
                              + "): not supported: its submission and completion rings are kernel state the engine cannot recreate. "
                                "Node.js and other libuv programs make one per event loop, even with UV_USE_IO_URING=0 (which only turns off "
                                "io_uring for file operations); start them where io_uring_setup fails (sysctl kernel.io_uring_disabled=2, or a "
                                "preload making it fail with ENOSYS) and libuv uses plain epoll, which can be checkpointed");
            }
            return refuse(fdName + " is " + describeAnonInode(f.link) + " (" + f.link + "): not supported by engine v2");
        }
    }
    if (context.scope) {
        if (const auto shared = context.scope->sharedOutside.find({pid, f.fd}); shared != context.scope->sharedOutside.end()) {
            auto comm = procfs::readFile(procfs::path(shared->second.first, "comm"));
            std::string name = comm ? *comm : std::string("?");
            while (!name.empty() && name.back() == '\n') {
                name.pop_back();
            }
            return refuse(fdName + " (" + f.link + ") is one open file with fd " + std::to_string(shared->second.second) + " of process "
                          + std::to_string(shared->second.first) + " (" + name
                          + ") outside the checkpoint (one file offset): restored apart they would no longer share it; checkpoint a tree that holds both");
        }
    }
    if (const std::string why = fileLockRefusal(fdName + " (" + f.link + ")", f.info.extraLines); !why.empty()) {
        return refuse(why);
    }
    if (type == S_IFCHR) {
        if (isTerminal(f.st.st_rdev)) {
            if (const std::string why = terminalFdRefusal(fdName, f.link, f.st.st_rdev); !why.empty()) {
                return refuse(why);
            }
            if (std::string caveat = terminalFdCaveat(pid, f.fd, fdName, f.link); !caveat.empty()) {
                report.verdict = Verdict::Caveat;
                report.reason = std::move(caveat);
            }
            return report;
        }
        if (!isSimpleCharDevice(f.st.st_rdev)) {
            return refuse(fdName + " is the character device " + f.link + " (" + std::to_string(major(f.st.st_rdev)) + ":"
                          + std::to_string(minor(f.st.st_rdev)) + "): only /dev/null, zero, full, random and urandom are supported by engine v1");
        }
        return report;
    }
    if (type == S_IFBLK) {
        return refuse(fdName + " is the block device " + f.link + ": block devices are not supported by engine v1");
    }
    if (type != S_IFREG && type != S_IFDIR && type != S_IFIFO) {
        return refuse(fdName + " (" + f.link + ") is a kind of file engine v1 does not support");
    }
    if (isMemfd(withoutDeleted(f.link), uint64_t(f.st.st_nlink))) {
        // Its name, size, mode, seals and contents are saved once per memfd
        // (shmem.h); held outside the checkpoint too, it is refused there.
        return report;
    }
    if (auto fs = pseudoFilesystem(pid, f.fd)) {
        if (*fs == "procfs") {
            // Reopened by path (procfiles.h), or refused with the reason.
            return checkProcFile(pid, f.fd, f.link, type, f.info.flags, f.info.pos, context.scope ? context.scope->pids : std::set<pid_t>{pid});
        }
        return refuse(fdName + " is a file on " + *fs + " (" + f.link + "): files of pseudo file systems are not supported by engine v1");
    }
    if (isUnlinked(f)) {
        if (type != S_IFREG) {
            return refuse(fdName + " is a directory that was removed (" + f.link + "): engine v1 cannot open it again");
        }
        if (uint64_t(f.st.st_size) > kMaxUnlinkedFileBytes) {
            return refuse(fdName + " is an unlinked file of " + std::to_string(uint64_t(f.st.st_size) >> 20)
                          + " MiB (" + f.link + "): engine v1 saves unlinked files up to " + std::to_string(kMaxUnlinkedFileBytes >> 20) + " MiB");
        }
        return report; // its contents go into the image
    }
    // Restore opens it again by path: the path must still lead to this file.
    struct stat byPath{};
    const std::string viaRoot = procfs::path(pid, "root") + f.link;
    if (::stat(viaRoot.c_str(), &byPath) != 0) {
        return refuse(fdName + " (" + f.link + "): the file is no longer at that path (" + std::strerror(errno) + ")");
    }
    if (byPath.st_dev != f.st.st_dev || byPath.st_ino != f.st.st_ino) {
        return refuse(fdName + " (" + f.link + "): another file is at that path now (renamed or replaced since it was opened)");
    }
    return report;
}

Result<std::vector<uint8_t>> readUnlinkedFile(pid_t pid, const FdFacts &f)
{
    const std::string link = procfs::path(pid, "fd/" + std::to_string(f.fd));
    // Opening the magic link opens the file itself, whatever the fd's mode.
    UniqueFd file(::open(link.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) {
        return sysError("open " + link);
    }
    struct stat st{};
    if (::fstat(file.get(), &st) != 0) {
        return sysError("stat " + link);
    }
    if (uint64_t(st.st_size) > kMaxUnlinkedFileBytes) {
        return fail("unlinked file " + f.link + " grew to " + std::to_string(uint64_t(st.st_size)) + " bytes", EFBIG);
    }
    std::vector<uint8_t> data(size_t(st.st_size));
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pread(file.get(), data.data() + done, data.size() - done, off_t(done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return sysError("read " + link);
        }
        if (n == 0) {
            break; // shrank meanwhile (only another process can do that now)
        }
        done += size_t(n);
    }
    data.resize(done);
    return data;
}

// Marks fds that share one open file description (dup, F_DUPFD, inherited):
// every fd but the lowest of a group names that lowest one in dupOf, and the
// group's unlinked file is saved once. Only fds of the same file can share a
// description, so kcmp(KCMP_FILE) compares just those.
Result<void> findSharedOpenFiles(pid_t pid, FilesDump &dump)
{
    std::map<std::pair<uint64_t, uint64_t>, std::vector<size_t>> byFile; // (dev, ino) -> owners so far (indices)
    std::vector<int32_t> dropData;
    for (size_t i = 0; i < dump.files.fds.size(); ++i) {
        image::FdRecord &fd = dump.files.fds[i];
        std::vector<size_t> &owners = byFile[{fd.dev, fd.ino}];
        for (const size_t o : owners) {
            const image::FdRecord &owner = dump.files.fds[o];
            const long same = ::syscall(SYS_kcmp, pid, pid, KCMP_FILE, owner.fd, fd.fd);
            if (same < 0) {
                return sysError("files of " + std::to_string(pid) + ": kcmp fd " + std::to_string(owner.fd) + " and " + std::to_string(fd.fd));
            }
            if (same == 0) {
                fd.dupOf = owner.fd;
                // One description, one offset and status flags; both come
                // from the owner (fdinfo showed the same, barring a race).
                fd.pos = owner.pos;
                fd.openFlags = owner.openFlags;
                fd.size = owner.size;
                if (fd.unlinked) {
                    dropData.push_back(fd.fd);
                }
                break;
            }
        }
        if (fd.dupOf == -1) {
            owners.push_back(i);
        }
    }
    std::erase_if(dump.data, [&](const image::FileDataRecord &d) {
        return std::find(dropData.begin(), dropData.end(), d.fd) != dropData.end();
    });
    return {};
}

// Detached fds (TreeScope::detached): a pipe object each, with its read end
// only and nothing queued, after the objects of the other fds; the fd table
// stays sorted by fd.
void appendDetached(FilesDump &dump, std::vector<image::FdRecord> detached)
{
    if (detached.empty()) {
        return;
    }
    uint64_t nextId = 1;
    for (const image::FileObjectRecord &o : dump.objects) {
        nextId = std::max(nextId, o.id + 1);
    }
    for (image::FdRecord &fd : detached) {
        image::FileObjectRecord pipe;
        pipe.id = nextId++;
        pipe.kind = image::FileObjectKind::Pipe;
        pipe.ownerPid = dump.files.pid;
        pipe.ino = fd.ino;
        pipe.pipeSize = 65536; // the kernel's default
        fd.object = pipe.id;
        dump.objects.push_back(std::move(pipe));
        dump.files.fds.push_back(std::move(fd));
    }
    std::sort(dump.files.fds.begin(), dump.files.fds.end(), [](const image::FdRecord &a, const image::FdRecord &b) {
        return a.fd < b.fd;
    });
}

} // namespace

TreeScope TreeScope::scan(std::set<pid_t> pids)
{
    TreeScope scope;
    std::vector<std::pair<uint64_t, uint64_t>> shareable;
    FileHolders regular; // the tree's regular files -> fds outside on them
    std::map<std::pair<uint64_t, uint64_t>, std::vector<std::pair<pid_t, int>>> ours;
    for (const pid_t pid : pids) {
        auto fds = procfs::listFds(pid);
        if (!fds) {
            continue; // a zombie has none
        }
        for (const int fd : *fds) {
            struct stat st{};
            if (::stat(procfs::path(pid, "fd/" + std::to_string(fd)).c_str(), &st) != 0) {
                continue;
            }
            if (S_ISSOCK(st.st_mode)) {
                scope.sockets.insert(uint64_t(st.st_ino));
            }
            if (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)) {
                shareable.emplace_back(uint64_t(st.st_dev), uint64_t(st.st_ino));
            }
            if (S_ISREG(st.st_mode)) {
                regular[{uint64_t(st.st_dev), uint64_t(st.st_ino)}];
                ours[{uint64_t(st.st_dev), uint64_t(st.st_ino)}].emplace_back(pid, fd);
            }
        }
    }
    scope.holders = pipeHoldersOutside(0, shareable, &pids, &regular);
    // The same file open outside: the same open file description?
    for (const auto &[key, outside] : regular) {
        for (const auto &[pid, fd] : ours[key]) {
            for (const auto &[other, otherFd] : outside) {
                if (::syscall(SYS_kcmp, pid, other, KCMP_FILE, fd, otherFd) == 0) {
                    scope.sharedOutside.emplace(std::pair(pid, fd), std::pair(other, otherFd));
                    break;
                }
            }
        }
    }
    scope.pids = std::move(pids);
    return scope;
}

Result<void> TreeScope::detach(pid_t root, const std::set<int> &fds)
{
    for (const int fd : fds) {
        struct stat st{};
        if (fd < 0 || ::stat(procfs::path(root, "fd/" + std::to_string(fd)).c_str(), &st) != 0) {
            return fail("fd " + std::to_string(fd) + " to detach is not open in process " + std::to_string(root), EBADF);
        }
        detached.emplace(root, fd);
    }
    return {};
}

Result<std::vector<FdReport>> checkFds(pid_t pid, const TreeScope *scope)
{
    auto fds = procfs::listFds(pid);
    if (!fds) {
        return std::unexpected(fds.error());
    }
    std::vector<FdReport> out;
    std::vector<FdFacts> all;
    for (const int fd : *fds) {
        auto facts = inspectFd(pid, fd);
        if (!facts) {
            if (facts.error().code == ENOENT) {
                continue; // closed while we looked
            }
            FdReport report;
            report.fd = fd;
            report.verdict = Verdict::Refused;
            report.reason = "fd " + std::to_string(fd) + ": cannot be inspected: " + facts.error().describe();
            out.push_back(std::move(report));
            continue;
        }
        all.push_back(std::move(*facts));
    }
    const FdContext context = contextOf(pid, all, scope);
    for (const FdFacts &facts : all) {
        out.push_back(classify(pid, facts, context));
    }
    std::sort(out.begin(), out.end(), [](const FdReport &a, const FdReport &b) {
        return a.fd < b.fd;
    });
    return out;
}

Result<FilesDump> dumpFiles(pid_t pid, const TreeScope *scope)
{
    const std::string what = "files of " + std::to_string(pid);
    auto fds = procfs::listFds(pid);
    if (!fds) {
        return std::unexpected(fds.error().context(what));
    }
    FilesDump dump;
    dump.files.pid = pid;
    std::vector<FdFacts> all;
    for (const int fd : *fds) {
        auto facts = inspectFd(pid, fd);
        if (!facts) {
            return std::unexpected(facts.error().context(what + ": fd " + std::to_string(fd)));
        }
        all.push_back(std::move(*facts));
    }
    const FdContext context = contextOf(pid, all, scope);
    std::vector<image::FdRecord> detached; // kept apart until the others have their objects
    for (FdFacts &f : all) {
        const int fd = f.fd;
        if (scope && scope->detached.contains({pid, fd})) {
            image::FdRecord record;
            record.fd = fd;
            record.kind = image::FdKind::Pipe;
            record.path = "pipe:[" + std::to_string(f.st.st_ino) + "]";
            record.cloexec = f.info.flags & O_CLOEXEC;
            record.openFlags = O_RDONLY | (f.info.flags & O_NONBLOCK);
            record.mode = S_IFIFO | 0600;
            record.dev = 0; // no pipe of the tree is on device 0: never merged with one
            record.ino = f.st.st_ino;
            detached.push_back(std::move(record));
            continue;
        }
        const std::string fdName = "fd " + std::to_string(fd);
        auto *facts = &f;
        const FdReport check = classify(pid, *facts, context);
        if (check.verdict == Verdict::Refused) {
            return fail(what + ": " + check.reason);
        }
        image::FdRecord record;
        record.fd = fd;
        const mode_t type = facts->st.st_mode & S_IFMT;
        record.kind = type == S_IFDIR ? image::FdKind::Directory : type == S_IFCHR ? image::FdKind::CharDevice : image::FdKind::Regular;
        if (type == S_IFIFO) {
            record.kind = facts->link.starts_with("pipe:") ? image::FdKind::Pipe : image::FdKind::Fifo;
        } else if (type == S_IFSOCK) {
            // classify() let only those through
            record.kind = checkInetSocket(pid, fd, uint64_t(facts->st.st_ino), fdName, true) ? image::FdKind::InetSocket : image::FdKind::UnixSocket;
        } else if (!facts->link.starts_with("/")) {
            record.kind = anonFileKind(facts->link);
        } else if (type == S_IFCHR && isPtySlave(facts->st.st_rdev)) {
            record.kind = image::FdKind::Terminal; // its TerminalRecord comes from dumpTerminals()
        } else if (type == S_IFREG && isMemfd(withoutDeleted(facts->link), uint64_t(facts->st.st_nlink))) {
            record.kind = image::FdKind::Memfd; // its object comes from linkSharedMemory()
        } else if ((type == S_IFREG || type == S_IFDIR) && isOnProcfs(pid, fd)) {
            record.kind = image::FdKind::ProcFile; // reopened by path, positioned last (procfiles.h)
        }
        record.path = withoutDeleted(facts->link);
        record.cloexec = facts->info.flags & O_CLOEXEC;
        record.openFlags = facts->info.flags & ~uint32_t(O_CLOEXEC);
        record.pos = facts->info.pos;
        record.mode = facts->st.st_mode;
        record.dev = facts->st.st_dev;
        record.ino = facts->st.st_ino;
        record.rdev = facts->st.st_rdev;
        record.size = uint64_t(facts->st.st_size);
        record.unlinked = record.kind == image::FdKind::Regular && isUnlinked(*facts);
        if (record.unlinked) {
            auto data = readUnlinkedFile(pid, *facts);
            if (!data) {
                return std::unexpected(data.error().context(what + ": " + fdName));
            }
            record.size = data->size();
            image::FileDataRecord fileData;
            fileData.pid = pid;
            fileData.fd = fd;
            fileData.data = std::move(*data);
            dump.data.push_back(std::move(fileData));
        }
        if (record.kind == image::FdKind::Regular || record.kind == image::FdKind::Directory) {
            auto locks = dumpFileLocks(fd, facts->info.extraLines);
            if (!locks) {
                return std::unexpected(locks.error().context(what));
            }
            dump.files.locks.insert(dump.files.locks.end(), locks->begin(), locks->end());
        }
        dump.files.fds.push_back(std::move(record));
    }
    CRYOPOD_PROPAGATE(findSharedOpenFiles(pid, dump));
    CRYOPOD_PROPAGATE(dumpFileObjects(pid, dump.files, dump.objects, scope ? &context.sockets : nullptr));
    appendDetached(dump, std::move(detached));
    return dump;
}

// ---- restore

Result<void> validateFilesForRestore(const image::FilesRecord &files)
{
    int32_t previous = -1;
    for (const image::FdRecord &fd : files.fds) {
        const std::string what = "image fd " + std::to_string(fd.fd);
        if (fd.fd <= previous) {
            return fail(what + ": fds not unique and in order", EINVAL);
        }
        previous = fd.fd;
        if (uint32_t(fd.kind) > uint32_t(image::FdKind::ProcFile)) {
            return fail(what + ": unknown fd kind " + std::to_string(uint32_t(fd.kind)), EINVAL);
        }
        const bool byPath = fd.kind == image::FdKind::Regular || fd.kind == image::FdKind::Directory || fd.kind == image::FdKind::CharDevice
            || fd.kind == image::FdKind::Fifo || fd.kind == image::FdKind::Terminal || fd.kind == image::FdKind::ProcFile;
        if (fd.kind != image::FdKind::Regular && fd.kind != image::FdKind::Directory && fd.kind != image::FdKind::CharDevice
            && fd.kind != image::FdKind::Terminal && fd.kind != image::FdKind::ProcFile && fd.object == 0) {
            return fail(what + ": a kernel file object without its object", EINVAL);
        }
        if (byPath && !fd.path.starts_with("/")) {
            return fail(what + ": path '" + fd.path + "' is not absolute", EINVAL);
        }
        if (fd.unlinked && fd.kind != image::FdKind::Regular) {
            return fail(what + ": only regular files can be restored from saved contents", EINVAL);
        }
        if (fd.dupOf != -1) {
            const auto owner = std::lower_bound(files.fds.begin(), files.fds.end(), fd.dupOf, [](const image::FdRecord &o, int32_t number) {
                return o.fd < number;
            });
            if (fd.dupOf < 0 || fd.dupOf >= fd.fd || owner == files.fds.end() || owner->fd != fd.dupOf || owner->dupOf != -1 || owner->kind != fd.kind) {
                return fail(what + ": shares the open file of fd " + std::to_string(fd.dupOf) + ", which is not a lower fd owning its open file", EINVAL);
            }
        }
    }
    return {};
}

Result<std::string> createUnlinkedFileCopy(const image::FdRecord &fd, const image::FileDataRecord &data)
{
    const std::string what = "restore fd " + std::to_string(fd.fd) + ": recreate unlinked " + fd.path;
    const mode_t mode = mode_t(fd.mode & 07777);
    std::string path = fd.path;
    int file = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (file < 0) {
        // The name is taken (or the directory is gone): a temporary name in
        // the same directory, else in /tmp.
        const size_t slash = fd.path.rfind('/');
        const std::string dir = slash == 0 ? "/" : fd.path.substr(0, slash);
        for (const std::string &base : {dir, std::string("/tmp")}) {
            std::string templ = base + (base.ends_with("/") ? "" : "/") + ".cryopod-restore-XXXXXX";
            std::vector<char> buf(templ.begin(), templ.end());
            buf.push_back('\0');
            file = ::mkostemp(buf.data(), O_CLOEXEC);
            if (file >= 0) {
                path = buf.data();
                break;
            }
        }
        if (file < 0) {
            return sysError(what + ": create");
        }
    }
    UniqueFd owner(file);
    auto removeAndFail = [&](const std::string &step) {
        const int err = errno;
        ::unlink(path.c_str());
        errno = err;
        return sysError(what + ": " + step + " " + path);
    };
    if (::fchmod(file, mode) != 0) {
        return removeAndFail("chmod");
    }
    size_t done = 0;
    while (done < data.data.size()) {
        const ssize_t n = ::write(file, data.data.data() + done, data.data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return removeAndFail("write");
        }
        done += size_t(n);
    }
    return path;
}

Result<std::set<int>> openFdNumbers(pid_t pid, const std::string &what)
{
    auto listed = procfs::listFds(pid);
    if (!listed) {
        return std::unexpected(listed.error().context(what));
    }
    return std::set<int>(listed->begin(), listed->end());
}

int takeLowestFree(std::set<int> &open)
{
    int n = 0;
    while (open.contains(n)) {
        ++n;
    }
    open.insert(n);
    return n;
}

Result<void> restoreFiles(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files, const std::map<int32_t, std::string> &unlinkedCopies,
                          const std::map<int32_t, int32_t> &objectFds, const std::set<int32_t> &skip)
{
    const pid_t pid = injector.tracee().tid();
    const size_t mark = scratch.used();
    // The calls go in batches (Injector::run). An open returns the lowest
    // free fd; which one that is follows from the fds open now and the
    // calls before it, so the dup3 to the wanted number and the close of
    // the one it got are in the same batch (checked once it ran). The checks
    // of what was opened come after the batch.
    auto listed = openFdNumbers(pid, "restore the fd table of " + std::to_string(pid));
    if (!listed) {
        return std::unexpected(listed.error());
    }
    std::set<int> &open = *listed;
    struct Opened {
        const image::FdRecord *fd;
        std::string what;
        size_t openEntry;
        int expected; // the fd the open returns
        size_t lseekEntry = SIZE_MAX;
    };
    std::vector<Opened> opened;
    InjectBatch batch;
    constexpr size_t kEntryBytes = 80; // the runner's table entry (ptrace_inject.cpp)
    auto flush = [&]() -> Result<void> {
        CRYOPOD_PROPAGATE(injector.run(batch, scratch));
        for (const Opened &o : opened) {
            const image::FdRecord &fd = *o.fd;
            const std::string &what = o.what;
            if (batch.result(o.openEntry) != uint64_t(o.expected)) {
                return fail(what + ": open returned fd " + std::to_string(int64_t(batch.result(o.openEntry))) + ", not the lowest free one ("
                                + std::to_string(o.expected) + ")",
                            EBADF);
            }
            struct stat st{};
            const std::string link = procfs::path(pid, "fd/" + std::to_string(fd.fd));
            if (::stat(link.c_str(), &st) != 0) {
                return sysError(what + ": stat " + link);
            }
            if (fd.kind == image::FdKind::CharDevice || fd.kind == image::FdKind::Terminal) {
                if (!S_ISCHR(st.st_mode) || uint64_t(st.st_rdev) != fd.rdev) {
                    return fail(what + ": not the same character device any more (" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev))
                                    + ")",
                                ESTALE);
                }
                continue; // no offset to speak of
            }
            if (fd.kind == image::FdKind::ProcFile) {
                CRYOPOD_PROPAGATE(checkReopenedProcFile(fd, link, what));
                continue; // positioned once the tree is complete (positionProcFiles)
            }
            if (!fd.unlinked && (uint64_t(st.st_dev) != fd.dev || uint64_t(st.st_ino) != fd.ino)) {
                return fail(what + ": another file is at that path now (device/inode differ from the checkpoint)", ESTALE);
            }
            if (fd.kind == image::FdKind::Directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
                return fail(what + ": no longer a " + (fd.kind == image::FdKind::Directory ? "directory" : "regular file"), ESTALE);
            }
            if (o.lseekEntry != SIZE_MAX && batch.result(o.lseekEntry) != fd.pos) {
                return fail(what + ": lseek to " + std::to_string(fd.pos) + " ended at " + std::to_string(batch.result(o.lseekEntry)), EIO);
            }
        }
        opened.clear();
        batch.clear();
        scratch.reset(mark);
        return {};
    };
    // In ascending order: the fd openat returns is the lowest free one, at
    // most the one wanted, and never one a later record needs (all lower
    // wanted fds are already in place).
    for (const image::FdRecord &fd : files.fds) {
        if (skip.contains(fd.fd)) {
            continue;
        }
        const std::string what = "restore fd " + std::to_string(fd.fd) + " (" + fd.path + ")";
        if (fd.dupOf != -1) {
            // The owner (a lower fd) is open already: one description, shared.
            const auto owner = std::find_if(files.fds.begin(), files.fds.end(), [&](const image::FdRecord &o) {
                return o.fd == fd.dupOf;
            });
            if (owner == files.fds.end() || owner->fd >= fd.fd || owner->dupOf != -1) {
                return fail(what + ": shares the open file of fd " + std::to_string(fd.dupOf) + ", which the image does not open", EINVAL);
            }
            batch.add(what + ": dup3 of fd " + std::to_string(fd.dupOf), SYS_dup3, uint64_t(fd.dupOf), uint64_t(fd.fd), fd.cloexec ? O_CLOEXEC : 0);
            open.insert(fd.fd);
            continue;
        }
        if (fd.object != 0 || fd.sharedPid != 0) {
            // Created already (createFileObjects) or taken over from another
            // process of the tree (sharing.h) at a temporary fd.
            const auto temporary = objectFds.find(fd.fd);
            if (temporary == objectFds.end()) {
                return fail(what + ": its file object was not created", EINVAL);
            }
            batch.add(what + ": dup3 from fd " + std::to_string(temporary->second), SYS_dup3, uint64_t(temporary->second), uint64_t(fd.fd),
                      fd.cloexec ? O_CLOEXEC : 0);
            open.insert(fd.fd);
            continue;
        }
        std::string path = fd.path;
        if (fd.unlinked) {
            const auto it = unlinkedCopies.find(fd.fd);
            if (it == unlinkedCopies.end()) {
                return fail(what + ": the image has no contents for this unlinked file", EINVAL);
            }
            path = it->second;
        }
        if (scratch.used() + path.size() + 16 + (batch.size() + 8) * kEntryBytes + 16 > scratch.size()) {
            CRYOPOD_PROPAGATE(flush());
        }
        auto pathAddr = scratch.putString(path);
        if (!pathAddr) {
            return std::unexpected(pathAddr.error().context(what));
        }
        // A terminal never becomes a controlling terminal by being opened
        // (restoreControllingTerminal() makes it one where it was).
        const uint32_t flags = (fd.openFlags & ~uint32_t(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)) | (fd.cloexec ? O_CLOEXEC : 0)
            | (fd.kind == image::FdKind::Terminal ? O_NOCTTY : 0);
        Opened o{&fd, what, batch.add(what + ": open", SYS_openat, uint64_t(int64_t(AT_FDCWD)), *pathAddr, flags, 0), takeLowestFree(open)};
        if (o.expected != fd.fd) {
            batch.add(what + ": dup3", SYS_dup3, uint64_t(o.expected), uint64_t(fd.fd), fd.cloexec ? O_CLOEXEC : 0);
            batch.add(what + ": close", SYS_close, uint64_t(o.expected));
            open.erase(o.expected);
            open.insert(fd.fd);
        }
        const bool positioned = fd.kind != image::FdKind::CharDevice && fd.kind != image::FdKind::Terminal && fd.kind != image::FdKind::ProcFile;
        if (positioned && fd.pos != 0) {
            o.lseekEntry = batch.add(what + ": lseek", SYS_lseek, uint64_t(fd.fd), fd.pos, SEEK_SET);
        }
        opened.push_back(std::move(o));
    }
    return flush();
}

} // namespace cryopod::engine
