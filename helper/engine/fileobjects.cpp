// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "fileobjects.h"

#include "anonfiles.h"
#include "epoll.h"
#include "inetsockets.h"
#include "inotify.h"
#include "pipes.h"
#include "procfs.h"
#include "unixsockets.h"

#include <algorithm>
#include <climits>
#include <fcntl.h>
#include <set>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

bool isPipeKind(image::FdKind kind)
{
    return kind == image::FdKind::Pipe || kind == image::FdKind::Fifo;
}

bool isObjectKind(image::FdKind kind)
{
    switch (kind) {
    case image::FdKind::Pipe:
    case image::FdKind::Fifo:
    case image::FdKind::EventFd:
    case image::FdKind::TimerFd:
    case image::FdKind::SignalFd:
    case image::FdKind::Epoll:
    case image::FdKind::UnixSocket:
    case image::FdKind::InetSocket:
    case image::FdKind::Inotify:
        return true;
    default:
        return false;
    }
}

// The image fds that own an open file description of `object` (dupOf == -1).
std::vector<const image::FdRecord *> ownersOf(const image::FilesRecord &files, uint64_t object)
{
    std::vector<const image::FdRecord *> out;
    for (const image::FdRecord &fd : files.fds) {
        if (fd.object == object && fd.dupOf == -1) {
            out.push_back(&fd);
        }
    }
    return out;
}

} // namespace

// ---- dump

Result<void> dumpFileObjects(pid_t pid, image::FilesRecord &files, std::vector<image::FileObjectRecord> &objects, const std::set<uint64_t> *treeSockets)
{
    const std::string what = "files of " + std::to_string(pid);
    uint64_t nextId = 1;
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> pipes; // (dev, ino) -> id
    std::map<int32_t, uint64_t> byOwner; // owner fd -> id (the kinds with one object per description)
    // A socket names its peer's object: all socket ids first (one socket, one
    // open file: its owner fd).
    std::map<uint64_t, uint64_t> socketIds; // inode -> id
    for (const image::FdRecord &fd : files.fds) {
        if (fd.kind == image::FdKind::UnixSocket && fd.dupOf == -1) {
            socketIds.emplace(fd.ino, nextId++);
        }
    }
    for (image::FdRecord &fd : files.fds) {
        if (fd.kind == image::FdKind::UnixSocket) {
            const std::string fdWhat = what + ": fd " + std::to_string(fd.fd);
            fd.object = socketIds.at(fd.ino);
            if (fd.dupOf != -1) {
                continue;
            }
            const auto info = unixSocketInfo(uint32_t(fd.ino));
            const auto peer = info ? socketIds.find(info->peer) : socketIds.end();
            const bool peerInTree = info && info->peer != 0 && peer == socketIds.end() && treeSockets && treeSockets->contains(info->peer);
            if (!info || (info->peer != 0 && peer == socketIds.end() && !peerInTree)) {
                return fail(fdWhat + ": its peer socket is not open in the process", ENOTCONN);
            }
            // 0: its peer was closed (or is in another process of the tree, connected later)
            auto object = dumpUnixSocket(pid, fd, fd.object, info->peer == 0 || peerInTree ? 0 : peer->second);
            if (!object) {
                return std::unexpected(object.error().context(fdWhat));
            }
            objects.push_back(std::move(*object));
        }
    }
    for (image::FdRecord &fd : files.fds) {
        if (fd.kind == image::FdKind::UnixSocket) {
            continue;
        }
        if (!isObjectKind(fd.kind)) {
            continue;
        }
        const std::string fdWhat = what + ": fd " + std::to_string(fd.fd);
        if (isPipeKind(fd.kind)) {
            const std::pair<uint64_t, uint64_t> key{fd.dev, fd.ino};
            if (const auto it = pipes.find(key); it != pipes.end()) {
                fd.object = it->second;
                continue;
            }
            // Read what is queued only when the process can read it.
            const auto reader = std::find_if(files.fds.begin(), files.fds.end(), [&](const image::FdRecord &o) {
                return o.dev == fd.dev && o.ino == fd.ino && isPipeKind(o.kind) && (o.openFlags & O_ACCMODE) != O_WRONLY;
            });
            auto object = dumpPipe(pid, fd, reader == files.fds.end() ? -1 : reader->fd, nextId);
            if (!object) {
                return std::unexpected(object.error().context(fdWhat));
            }
            pipes.emplace(key, nextId);
            fd.object = nextId++;
            objects.push_back(std::move(*object));
            continue;
        }
        if (fd.dupOf != -1) {
            const auto owner = byOwner.find(fd.dupOf);
            if (owner == byOwner.end()) {
                return fail(fdWhat + ": shares the description of fd " + std::to_string(fd.dupOf) + ", which has no object", EINVAL);
            }
            fd.object = owner->second;
            continue;
        }
        if (fd.kind == image::FdKind::InetSocket) {
            auto object = dumpInetSocket(pid, fd, nextId);
            if (!object) {
                return std::unexpected(object.error().context(fdWhat));
            }
            byOwner.emplace(fd.fd, nextId);
            fd.object = nextId++;
            objects.push_back(std::move(*object));
            continue;
        }
        auto info = procfs::readFdInfo(pid, fd.fd);
        if (!info) {
            return std::unexpected(info.error().context(fdWhat));
        }
        auto object = fd.kind == image::FdKind::Epoll ? dumpEpoll(pid, fd, *info, nextId)
            : fd.kind == image::FdKind::Inotify       ? dumpInotify(pid, fd, *info, nextId)
                                                      : dumpAnonFile(pid, fd, *info, nextId);
        if (!object) {
            return std::unexpected(object.error().context(fdWhat));
        }
        byOwner.emplace(fd.fd, nextId);
        fd.object = nextId++;
        objects.push_back(std::move(*object));
    }
    return {};
}

// ---- restore

int32_t ObjectFds::freeNumber(int32_t fd, int32_t alsoOpen, const std::set<int> *inProcess) const
{
    int32_t target = 0;
    while (imageFds.contains(target) || open.contains(target) || target == fd || target == alsoOpen || (inProcess && inProcess->contains(target))) {
        ++target;
    }
    return target;
}

Result<int32_t> ObjectFds::adopt(Injector &injector, int32_t fd, const std::string &what, int32_t alsoOpen)
{
    // A number the image does not use can stay where it is.
    if (!imageFds.contains(fd)) {
        open.insert(fd);
        temporaries.push_back(fd);
        return fd;
    }
    const int32_t target = freeNumber(fd, alsoOpen);
    auto moved = injector.call(what + ": move fd " + std::to_string(fd) + " to " + std::to_string(target), SYS_dup3, uint64_t(fd), uint64_t(target), O_CLOEXEC);
    auto closed = injector.call(what + ": close fd " + std::to_string(fd), SYS_close, uint64_t(fd));
    if (!moved) {
        return std::unexpected(moved.error());
    }
    if (!closed) {
        return std::unexpected(closed.error());
    }
    open.insert(target);
    temporaries.push_back(target);
    return target;
}

int32_t ObjectFds::adoptInBatch(InjectBatch &batch, std::set<int> &inProcess, int32_t fd, const std::string &what)
{
    if (!imageFds.contains(fd)) {
        open.insert(fd);
        temporaries.push_back(fd);
        return fd;
    }
    const int32_t target = freeNumber(fd, -1, &inProcess);
    batch.add(what + ": move fd " + std::to_string(fd) + " to " + std::to_string(target), SYS_dup3, uint64_t(fd), uint64_t(target), O_CLOEXEC);
    batch.add(what + ": close fd " + std::to_string(fd), SYS_close, uint64_t(fd));
    inProcess.insert(target);
    inProcess.erase(fd);
    open.insert(target);
    temporaries.push_back(target);
    return target;
}

Result<std::array<int32_t, 2>> ObjectFds::adoptPair(Injector &injector, RemoteScratch &scratch,
                                                     const std::function<Result<uint64_t>(uint64_t pairAddress)> &call, const std::string &what)
{
    const size_t mark = scratch.used();
    auto pair = scratch.reserve(2 * sizeof(int32_t));
    if (!pair) {
        return std::unexpected(pair.error().context(what));
    }
    auto made = call(*pair);
    int32_t ends[2] = {-1, -1};
    auto read = made ? scratch.read(*pair, std::span(reinterpret_cast<uint8_t *>(ends), sizeof ends)) : Result<void>{};
    scratch.reset(mark);
    if (!made) {
        return std::unexpected(made.error());
    }
    if (!read) {
        return std::unexpected(read.error().context(what));
    }
    std::array<int32_t, 2> out{};
    for (size_t i = 0; i < 2; ++i) {
        auto fd = adopt(injector, ends[i], what, i == 0 ? ends[1] : -1);
        if (!fd) {
            return std::unexpected(fd.error());
        }
        out[i] = *fd;
    }
    return out;
}

Result<UniqueFd> takeTheirFd(pid_t pid, int32_t fd, const std::string &what)
{
    UniqueFd pidfd(int(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        return sysError(what + ": pidfd_open " + std::to_string(pid));
    }
    UniqueFd theirs(int(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    if (!theirs) {
        return sysError(what + ": pidfd_getfd of fd " + std::to_string(fd));
    }
    return theirs;
}

Result<MadeSocket> makeSocketIn(Injector &injector, ObjectFds &fds, int family, int type, int protocol, const std::string &what)
{
    auto made = injector.call(what + ": socket", SYS_socket, family, type | SOCK_CLOEXEC, protocol);
    if (!made) {
        return std::unexpected(made.error());
    }
    auto fd = fds.adopt(injector, int32_t(*made), what);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    auto sock = takeTheirFd(injector.tracee().tid(), *fd, what);
    if (!sock) {
        return std::unexpected(sock.error());
    }
    return MadeSocket {*fd, std::move(*sock)};
}

Result<void> setSocketBuffer(int sock, int option, uint32_t reported, const std::string &what)
{
    const int value = int(std::min<uint32_t>(reported / 2, INT32_MAX));
    if (::setsockopt(sock, SOL_SOCKET, option, &value, sizeof value) != 0) {
        return sysError(what + ": set its buffer size");
    }
    return {};
}

Result<void> setStatusFlags(Injector &injector, int32_t fd, uint32_t openFlags, const std::string &what)
{
    constexpr uint32_t kSettable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    auto set = injector.call(what + ": F_SETFL", SYS_fcntl, uint64_t(fd), F_SETFL, openFlags & kSettable);
    if (!set) {
        return std::unexpected(set.error());
    }
    return {};
}

Result<int32_t> reopenTemporary(Injector &injector, RemoteScratch &scratch, ObjectFds &fds, int32_t fd, uint32_t openFlags, const std::string &what)
{
    const size_t mark = scratch.used();
    auto path = scratch.putString("/proc/self/fd/" + std::to_string(fd));
    if (!path) {
        return std::unexpected(path.error().context(what));
    }
    auto opened = injector.call(what + ": reopen through /proc/self/fd", SYS_openat, uint64_t(int64_t(AT_FDCWD)), *path,
                                (openFlags & O_ACCMODE) | O_CLOEXEC | O_NONBLOCK, 0);
    scratch.reset(mark);
    if (!opened) {
        return std::unexpected(opened.error());
    }
    return fds.adopt(injector, int32_t(*opened), what);
}

Result<void> validateFileObjectsForRestore(const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects)
{
    std::set<int32_t> fdNumbers;
    for (const image::FdRecord &fd : files.fds) {
        fdNumbers.insert(fd.fd);
    }
    for (const image::FileObjectRecord &object : objects) {
        const std::string what = "image file object " + std::to_string(object.id);
        if (ownersOf(files, object.id).empty()) {
            return fail(what + ": no fd of the process has it open", EINVAL);
        }
        if (object.ownerPid != files.pid) {
            return fail(what + ": belongs to pid " + std::to_string(object.ownerPid) + ", not " + std::to_string(files.pid), EINVAL);
        }
        for (const image::EpollTarget &t : object.targets) {
            if (!fdNumbers.contains(t.fd)) {
                return fail(what + ": the epoll set watches fd " + std::to_string(t.fd) + ", which the image does not open", EINVAL);
            }
        }
        if (object.kind == image::FileObjectKind::UnixSocket && object.peer != 0) {
            const auto peer = std::find_if(objects.begin(), objects.end(), [&](const image::FileObjectRecord &o) {
                return o.id == object.peer;
            });
            if (peer == objects.end() || peer->kind != image::FileObjectKind::UnixSocket || peer->peer != object.id
                || peer->socketType != object.socketType) {
                return fail(what + ": its peer socket " + std::to_string(object.peer) + " is not a socket of the same type naming it back", EINVAL);
            }
        }
    }
    for (const image::FdRecord &fd : files.fds) {
        if (fd.object != 0 && std::none_of(objects.begin(), objects.end(), [&](const image::FileObjectRecord &o) { return o.id == fd.object; })) {
            return fail("image fd " + std::to_string(fd.fd) + ": names file object " + std::to_string(fd.object) + ", which the image does not hold", EINVAL);
        }
    }
    return {};
}

Result<ObjectFds> createFileObjects(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files,
                                    const std::vector<image::FileObjectRecord> &objects)
{
    ObjectFds fds;
    for (const image::FdRecord &fd : files.fds) {
        fds.imageFds.insert(fd.fd);
    }
    // Whatever the process has open already (nothing, normally) stays.
    auto open = procfs::listFds(injector.tracee().tid());
    if (!open) {
        return std::unexpected(open.error().context("restore file objects"));
    }
    fds.open.insert(open->begin(), open->end());
    std::set<uint64_t> done; // sockets made with their peer
    // TCP connections last: one accepted from a listener of the process
    // shares its port, which the listener must bind first.
    std::vector<const image::FileObjectRecord *> order;
    for (const image::FileObjectRecord &o : objects) {
        order.push_back(&o);
    }
    std::stable_partition(order.begin(), order.end(), [](const image::FileObjectRecord *o) {
        return o->inetState != image::InetState::Established;
    });
    for (const image::FileObjectRecord *next : order) {
        const image::FileObjectRecord &object = *next;
        const auto owners = ownersOf(files, object.id);
        if (owners.empty()) {
            return fail("restore file object " + std::to_string(object.id) + ": no fd of the image has it open", EINVAL);
        }
        if (done.contains(object.id)) {
            continue;
        }
        switch (object.kind) {
        case image::FileObjectKind::UnixSocket: {
            if (object.unixState != 0) { // listening or not connected
                CRYOPOD_PROPAGATE(restoreUnixSocketAlone(injector, scratch, object, *owners.front(), fds));
                break;
            }
            if (object.peer == 0) { // its peer was closed
                CRYOPOD_PROPAGATE(restoreUnixSocketPair(injector, scratch, object, nullptr, *owners.front(), nullptr, fds));
                break;
            }
            const auto peer = std::find_if(objects.begin(), objects.end(), [&](const image::FileObjectRecord &o) {
                return o.id == object.peer;
            });
            const auto peerOwners = peer == objects.end() ? std::vector<const image::FdRecord *>{} : ownersOf(files, peer->id);
            if (peerOwners.empty()) {
                return fail("restore file object " + std::to_string(object.id) + ": its peer socket is not in the image", EINVAL);
            }
            CRYOPOD_PROPAGATE(restoreUnixSocketPair(injector, scratch, object, &*peer, *owners.front(), peerOwners.front(), fds));
            done.insert(peer->id);
            break;
        }
        case image::FileObjectKind::Pipe:
        case image::FileObjectKind::Fifo:
            CRYOPOD_PROPAGATE(restorePipe(injector, scratch, object, owners, fds));
            break;
        case image::FileObjectKind::Epoll:
            CRYOPOD_PROPAGATE(restoreEpoll(injector, object, *owners.front(), fds));
            break;
        case image::FileObjectKind::InetSocket:
            CRYOPOD_PROPAGATE(restoreInetSocket(injector, scratch, object, *owners.front(), fds));
            break;
        case image::FileObjectKind::Inotify:
            CRYOPOD_PROPAGATE(restoreInotify(injector, scratch, object, *owners.front(), fds));
            break;
        default:
            CRYOPOD_PROPAGATE(restoreAnonFile(injector, scratch, object, *owners.front(), fds));
            break;
        }
    }
    return fds;
}

Result<void> finishFileObjects(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects,
                               ObjectFds &fds)
{
    for (const image::FileObjectRecord &object : objects) {
        if (object.kind != image::FileObjectKind::Epoll) {
            continue;
        }
        CRYOPOD_PROPAGATE(restoreEpollTargets(injector, scratch, object, ownersOf(files, object.id).front()->fd));
    }
    CRYOPOD_PROPAGATE(leaveTcpRepair(fds.tcpRepairs));
    InjectBatch closes;
    for (const int32_t fd : fds.temporaries) {
        closes.add("restore: close temporary fd " + std::to_string(fd), SYS_close, uint64_t(fd));
    }
    fds.temporaries.clear();
    return injector.run(closes, scratch);
}

} // namespace cryopod::engine
