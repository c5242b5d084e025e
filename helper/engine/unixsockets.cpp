// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "unixsockets.h"

#include "procfs.h"
#include "uniquefd.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/unix_diag.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace cryopod::engine
{

namespace
{

constexpr uint32_t kTcpEstablished = 1;
constexpr uint32_t kTcpListen = 10;
constexpr size_t kMaxMessage = 4u << 20; // a datagram or packet larger than this is refused

const char *typeName(uint32_t type)
{
    switch (type) {
    case SOCK_STREAM:
        return "stream";
    case SOCK_DGRAM:
        return "datagram";
    case SOCK_SEQPACKET:
        return "seqpacket";
    default:
        return "unknown-type";
    }
}

// The receive queue, peeked message by message from `sock`. A socket shut
// down for receiving answers an empty queue with end of file (0) instead of
// EAGAIN, which an empty datagram or packet also gives: there, a packet
// socket's queue ends once its bytes (SIOCINQ counts them all) are read, a
// datagram socket's at the first 0 (so empty datagrams queued in a shut-down
// datagram socket are not kept).
Result<std::vector<std::vector<uint8_t>>> peekQueue(int sock, uint32_t type, bool receiveShutdown, const std::string &what)
{
    int queuedBytes = 0;
    if (::ioctl(sock, SIOCINQ, &queuedBytes) != 0) {
        return sysError(what + ": SIOCINQ");
    }
    uint64_t peekedBytes = 0;
    int oldOffset = -1;
    socklen_t len = sizeof oldOffset;
    if (::getsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &oldOffset, &len) != 0) {
        return sysError(what + ": SO_PEEK_OFF");
    }
    const int zero = 0;
    if (::setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) != 0) {
        return sysError(what + ": set SO_PEEK_OFF");
    }
    std::vector<std::vector<uint8_t>> messages;
    std::vector<uint8_t> buffer(type == SOCK_STREAM ? 256u << 10 : kMaxMessage);
    Result<void> result;
    for (;;) {
        iovec iov{buffer.data(), buffer.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(ucred))];
        msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(sock, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC | (type == SOCK_STREAM ? 0 : MSG_TRUNC));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        if (n < 0) {
            result = sysError(what + ": peek at the receive queue");
            break;
        }
        bool fdsInFlight = false;
        for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                fdsInFlight = true;
                const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; ++i) {
                    int passed = -1;
                    std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
                    ::close(passed);
                }
            }
        }
        if (fdsInFlight || (msg.msg_flags & MSG_CTRUNC)) {
            result = fail(what + ": file descriptors are in flight in its receive queue (SCM_RIGHTS): not supported", ENOTSUP);
            break;
        }
        if (size_t(n) > buffer.size()) {
            result = fail(what + ": a queued " + typeName(type) + " message of " + std::to_string(n) + " bytes is larger than cryopod saves", EMSGSIZE);
            break;
        }
        if (n == 0 && type == SOCK_STREAM) {
            break; // the peer shut down its sending side: nothing more
        }
        if (n == 0 && receiveShutdown && (type == SOCK_DGRAM || peekedBytes >= uint64_t(queuedBytes))) {
            break;
        }
        peekedBytes += uint64_t(n);
        messages.emplace_back(buffer.begin(), buffer.begin() + n);
        if (type != SOCK_STREAM && messages.size() > (1u << 20)) {
            result = fail(what + ": more than a million queued messages", E2BIG);
            break;
        }
    }
    ::setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &oldOffset, sizeof oldOffset);
    if (!result) {
        return std::unexpected(result.error());
    }
    return messages;
}

// Sends `messages` through `sock` (the peer of the socket whose queue they
// refill), never waiting.
Result<void> sendAll(int sock, const std::vector<std::vector<uint8_t>> &messages, uint32_t type, const std::string &what)
{
    for (const std::vector<uint8_t> &m : messages) {
        size_t done = 0;
        do {
            const ssize_t n = ::send(sock, m.data() + done, m.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return sysError(what + ": refill its receive queue (" + std::to_string(m.size()) + " bytes)");
            }
            if (type != SOCK_STREAM && size_t(n) != m.size()) {
                return fail(what + ": a " + typeName(type) + " message was cut", EIO);
            }
            done += size_t(n);
        } while (done < m.size());
    }
    return {};
}

} // namespace

std::optional<UnixSocketInfo> unixSocketInfo(uint32_t inode)
{
    UniqueFd sock(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!sock) {
        return std::nullopt;
    }
    struct {
        nlmsghdr nlh;
        unix_diag_req req;
    } request {};
    request.nlh.nlmsg_len = sizeof request;
    request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.nlh.nlmsg_flags = NLM_F_REQUEST;
    request.req.sdiag_family = AF_UNIX;
    request.req.udiag_states = ~0u;
    request.req.udiag_ino = inode;
    request.req.udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN;
    request.req.udiag_cookie[0] = request.req.udiag_cookie[1] = ~0u;
    if (::send(sock.get(), &request, sizeof request, 0) != ssize_t(sizeof request)) {
        return std::nullopt;
    }
    alignas(nlmsghdr) char buf[8192];
    const ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n <= 0) {
        return std::nullopt;
    }
    auto *nlh = reinterpret_cast<nlmsghdr *>(buf);
    if (!NLMSG_OK(nlh, size_t(n)) || nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
        return std::nullopt;
    }
    auto *msg = static_cast<unix_diag_msg *>(NLMSG_DATA(nlh));
    UnixSocketInfo info;
    info.type = msg->udiag_type;
    info.state = msg->udiag_state;
    int len = int(nlh->nlmsg_len) - int(NLMSG_LENGTH(sizeof *msg));
    auto *attr = reinterpret_cast<nlattr *>(msg + 1);
    while (len >= int(sizeof(nlattr)) && attr->nla_len >= sizeof(nlattr) && int(attr->nla_len) <= len) {
        const char *payload = reinterpret_cast<char *>(attr) + NLA_HDRLEN;
        const size_t payloadLen = attr->nla_len - NLA_HDRLEN;
        switch (attr->nla_type & NLA_TYPE_MASK) {
        case UNIX_DIAG_PEER:
            if (payloadLen >= sizeof(uint32_t)) {
                std::memcpy(&info.peer, payload, sizeof info.peer);
            }
            break;
        case UNIX_DIAG_NAME:
            info.name.assign(payload, payloadLen);
            if (!info.name.empty() && info.name[0] == '\0') {
                info.name[0] = '@';
            } else if (const size_t nul = info.name.find('\0'); nul != std::string::npos) {
                info.name.resize(nul); // a path: up to its terminating NUL
            }
            break;
        case UNIX_DIAG_RQLEN:
            if (payloadLen >= sizeof(unix_diag_rqlen)) {
                unix_diag_rqlen rq {};
                std::memcpy(&rq, payload, sizeof rq);
                info.rqueue = rq.udiag_rqueue;
                info.wqueue = rq.udiag_wqueue;
            }
            break;
        case UNIX_DIAG_SHUTDOWN:
            if (payloadLen >= 1) {
                info.shutdown = uint8_t(payload[0]);
            }
            break;
        default:
            break;
        }
        const int step = NLA_ALIGN(attr->nla_len);
        len -= step;
        attr = reinterpret_cast<nlattr *>(reinterpret_cast<char *>(attr) + step);
    }
    return info;
}

// ---- dump

std::string unixSocketRefusal(const std::string &fdName, uint64_t inode, const std::set<uint64_t> &processSockets)
{
    const auto info = unixSocketInfo(uint32_t(inode));
    if (!info) {
        return fdName + " is a unix socket (socket:[" + std::to_string(inode) + "]) sock_diag knows nothing about";
    }
    const std::string what = fdName + " is a unix " + typeName(info->type) + " socket (socket:[" + std::to_string(inode) + "])";
    if (info->type != SOCK_STREAM && info->type != SOCK_DGRAM && info->type != SOCK_SEQPACKET) {
        return what + ": only stream, datagram and seqpacket sockets are supported";
    }
    const bool relative = !info->name.empty() && info->name[0] != '/' && info->name[0] != '@';
    if (info->name.find('\0') != std::string::npos) {
        return what + " bound to an abstract name with a NUL byte inside: not supported";
    }
    if (info->state == kTcpListen) {
        if (info->name.empty() || relative) {
            return what + " listening on " + (info->name.empty() ? std::string("no name") : "the relative path " + info->name) +
                ": only listening sockets with an absolute path or an abstract name are supported";
        }
        if (info->rqueue != 0) {
            return what + " listening on " + info->name + " with " + std::to_string(info->rqueue) +
                " connection(s) waiting to be accepted: they cannot be restored; try again once the program has accepted them";
        }
        return {};
    }
    if (info->state != kTcpEstablished) {
        if (relative) {
            return what + " bound to the relative path " + info->name + ": not supported";
        }
        if (info->rqueue != 0) {
            return what + (info->name.empty() ? std::string() : " bound to " + info->name) + " that is not connected, with " + std::to_string(info->rqueue) +
                " bytes waiting: they cannot be restored with their senders";
        }
        return {};
    }
    if (info->peer == 0 && info->type != SOCK_DGRAM && info->shutdown != 3) {
        // A closed peer shuts this one down both ways; a peer with no inode
        // is a connection still waiting in a listening socket's queue.
        return what + " connected to a listening socket that has not accepted the connection yet: it cannot be restored; try again once it has";
    }
    if (info->peer != 0 && !processSockets.contains(info->peer)) {
        return what + " connected to socket:[" + std::to_string(info->peer) + "] outside the checkpoint: a connection leaving the checkpoint cannot be restored";
    }
    return {};
}

std::string unixSocketCaveat(const std::string &fdName, uint64_t inode)
{
    const auto info = unixSocketInfo(uint32_t(inode));
    if (!info || info->state != kTcpEstablished) {
        return {};
    }
    const auto peer = info->peer != 0 ? unixSocketInfo(info->peer) : std::nullopt;
    const std::string name = !info->name.empty() ? info->name : peer ? peer->name : std::string();
    if (name.empty()) {
        return {};
    }
    return fdName + " is a unix " + typeName(info->type) + " socket connected through the name " + name +
        ": restored connected, as a pair without names (getsockname and getpeername no longer show " + name + ")";
}

Result<image::FileObjectRecord> dumpUnixSocket(pid_t pid, const image::FdRecord &fd, uint64_t id, uint64_t peerId)
{
    const std::string what = "unix socket at fd " + std::to_string(fd.fd) + " (socket:[" + std::to_string(fd.ino) + "])";
    const auto info = unixSocketInfo(uint32_t(fd.ino));
    if (!info) {
        return fail(what + ": sock_diag has no answer", ENOENT);
    }
    image::FileObjectRecord record;
    record.id = id;
    record.kind = image::FileObjectKind::UnixSocket;
    record.ownerPid = pid;
    record.socketType = info->type;
    const bool pair = info->state == kTcpEstablished;
    if (!pair) {
        record.unixState = info->state == kTcpListen ? 2 : 1;
        record.unixName = info->name;
        record.backlog = info->state == kTcpListen ? info->wqueue : 0;
    } else {
        record.peer = peerId;
        record.shutdown = info->shutdown & 3u;
    }
    auto sock = takeTheirFd(pid, fd.fd, what);
    if (!sock) {
        return std::unexpected(sock.error());
    }
    int value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(sock->get(), SOL_SOCKET, SO_SNDBUF, &value, &len) != 0) {
        return sysError(what + ": SO_SNDBUF");
    }
    record.sndbuf = uint32_t(value);
    len = sizeof value;
    if (::getsockopt(sock->get(), SOL_SOCKET, SO_RCVBUF, &value, &len) != 0) {
        return sysError(what + ": SO_RCVBUF");
    }
    record.rcvbuf = uint32_t(value);
    len = sizeof value;
    if (::getsockopt(sock->get(), SOL_SOCKET, SO_PASSCRED, &value, &len) != 0) {
        return sysError(what + ": SO_PASSCRED");
    }
    record.passcred = value != 0;
    if (!pair) {
        return record;
    }
    auto messages = peekQueue(sock->get(), info->type, info->shutdown & 1, what);
    if (!messages) {
        return std::unexpected(messages.error());
    }
    record.messages = std::move(*messages);
    return record;
}

// ---- restore

Result<void> restoreUnixSocketPair(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &a, const image::FileObjectRecord *peer,
                                   const image::FdRecord &ownerA, const image::FdRecord *ownerB, ObjectFds &fds)
{
    // A socket whose peer was closed: made with a peer all the same (its
    // queue is sent from there), which goes with the temporary fds; its
    // closing leaves the socket as the original's (a stream socket shut down
    // both ways, a datagram socket connected to a dead peer).
    image::FileObjectRecord closed;
    closed.socketType = a.socketType;
    closed.sndbuf = std::max(a.sndbuf, a.rcvbuf);
    closed.rcvbuf = a.rcvbuf;
    const image::FileObjectRecord &b = peer ? *peer : closed;
    const pid_t pid = injector.tracee().tid();
    const std::string what = "restore unix " + std::string(typeName(a.socketType)) + " socket at fd " + std::to_string(ownerA.fd) +
        (ownerB ? " and its peer at fd " + std::to_string(ownerB->fd) : std::string(" (its peer closed)"));
    auto ends = fds.adoptPair(
        injector, scratch, [&](uint64_t pair) { return injector.call(what + ": socketpair", SYS_socketpair, AF_UNIX, a.socketType | SOCK_CLOEXEC, 0, pair); },
        what);
    if (!ends) {
        return std::unexpected(ends.error());
    }
    const int32_t fdA = (*ends)[0];
    const int32_t fdB = (*ends)[1];
    auto sockA = takeTheirFd(pid, fdA, what);
    if (!sockA) {
        return std::unexpected(sockA.error());
    }
    auto sockB = takeTheirFd(pid, fdB, what);
    if (!sockB) {
        return std::unexpected(sockB.error());
    }
    // Buffers first (the queues must fit), then the queues: A's from B, B's
    // from A; then SO_PASSCRED and the shutdown state, which would stop the
    // refill.
    for (const auto &[sock, object] : {std::pair{sockA->get(), &a}, std::pair{sockB->get(), &b}}) {
        CRYOPOD_PROPAGATE(setSocketBuffer(sock, SO_SNDBUF, object->sndbuf, what));
        CRYOPOD_PROPAGATE(setSocketBuffer(sock, SO_RCVBUF, object->rcvbuf, what));
    }
    CRYOPOD_PROPAGATE(sendAll(sockB->get(), a.messages, a.socketType, what + " (queue of fd " + std::to_string(ownerA.fd) + ")"));
    CRYOPOD_PROPAGATE(sendAll(sockA->get(), b.messages, b.socketType, what + " (queue of its peer)"));
    for (const auto &[sock, object] : {std::pair{sockA->get(), &a}, std::pair{sockB->get(), &b}}) {
        const int passcred = object->passcred ? 1 : 0;
        if (::setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &passcred, sizeof passcred) != 0) {
            return sysError(what + ": SO_PASSCRED");
        }
        if (object->shutdown != 0) {
            const int how = object->shutdown == 3 ? SHUT_RDWR : object->shutdown == 1 ? SHUT_RD : SHUT_WR;
            if (::shutdown(sock, how) != 0) {
                return sysError(what + ": shutdown");
            }
        }
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, fdA, ownerA.openFlags, what));
    fds.byFd[ownerA.fd] = fdA;
    if (ownerB) {
        CRYOPOD_PROPAGATE(setStatusFlags(injector, fdB, ownerB->openFlags, what));
        fds.byFd[ownerB->fd] = fdB;
    }
    return {};
}

Result<void> restoreUnixSocketAlone(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner,
                                    ObjectFds &fds)
{
    const std::string what = "restore unix " + std::string(typeName(object.socketType)) + " socket at fd " + std::to_string(owner.fd) +
        (object.unixName.empty() ? std::string() : " (" + object.unixName + ")");
    auto made = makeSocketIn(injector, fds, AF_UNIX, object.socketType, 0, what);
    if (!made) {
        return std::unexpected(made.error());
    }
    const int32_t fd = made->fd;
    CRYOPOD_PROPAGATE(setSocketBuffer(made->sock.get(), SO_SNDBUF, object.sndbuf, what));
    CRYOPOD_PROPAGATE(setSocketBuffer(made->sock.get(), SO_RCVBUF, object.rcvbuf, what));
    const int passcred = object.passcred ? 1 : 0;
    if (::setsockopt(made->sock.get(), SOL_SOCKET, SO_PASSCRED, &passcred, sizeof passcred) != 0) {
        return sysError(what + ": SO_PASSCRED");
    }
    if (!object.unixName.empty()) {
        const bool abstract = object.unixName[0] == '@';
        if (!abstract) {
            // The original's socket file stays behind it: gone unless some
            // socket (the original still running?) is bound to it.
            if (procfs::findSocketLineByPath(object.unixName)) {
                return fail(what + ": a socket is bound to " + object.unixName +
                                " already (the original still running? a --leave-running checkpoint leaves it running: stop it before restoring)",
                            EADDRINUSE);
            }
            // Removed by the process itself: with its (the caller's) rights.
            struct stat st {};
            if (::lstat(object.unixName.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
                const size_t mark = scratch.used();
                auto at = scratch.putString(object.unixName);
                if (!at) {
                    return std::unexpected(at.error().context(what));
                }
                auto removed = injector.call(what + ": remove the stale socket file", SYS_unlinkat, uint64_t(int64_t(AT_FDCWD)), *at, 0);
                scratch.reset(mark);
                if (!removed) {
                    return std::unexpected(removed.error());
                }
            }
        }
        sockaddr_un sun {};
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, object.unixName.data(), std::min(object.unixName.size(), sizeof sun.sun_path - 1));
        if (abstract) {
            sun.sun_path[0] = '\0';
        }
        const socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + object.unixName.size() + (abstract ? 0 : 1));
        const size_t mark = scratch.used();
        auto at = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&sun), len));
        if (!at) {
            return std::unexpected(at.error().context(what));
        }
        auto bound = injector.call(what + ": bind", SYS_bind, uint64_t(fd), *at, len);
        scratch.reset(mark);
        if (!bound) {
            return std::unexpected(bound.error());
        }
    }
    if (object.unixState == 2) {
        auto listened = injector.call(what + ": listen", SYS_listen, uint64_t(fd), object.backlog);
        if (!listened) {
            return std::unexpected(listened.error());
        }
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, fd, owner.openFlags, what));
    fds.byFd[owner.fd] = fd;
    return {};
}

} // namespace cryopod::engine
