// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "inetsockets.h"

#include "procfs.h"
#include "uniquefd.h"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr uint32_t kTcpListen = 10;

struct Protocol {
    bool tcp = false;
    bool v6 = false;
};

// sockfs names the protocol of every socket: "TCP", "TCPv6", "UDP", "UDPv6", "UNIX", ...
std::optional<Protocol> protocolOf(pid_t pid, int fd)
{
    char name[32] = {};
    const std::string link = procfs::path(pid, "fd/" + std::to_string(fd));
    const ssize_t n = ::getxattr(link.c_str(), "system.sockprotoname", name, sizeof name - 1);
    if (n <= 0) {
        return std::nullopt;
    }
    const std::string_view s(name, size_t(n) - (name[n - 1] == '\0' ? 1 : 0));
    if (s == "TCP" || s == "TCPv6") {
        return Protocol {true, s.ends_with("v6")};
    }
    if (s == "UDP" || s == "UDPv6") {
        return Protocol {false, s.ends_with("v6")};
    }
    return std::nullopt;
}

// "0100007F:1F90" (an address as the kernel's words in host order, a port) -> "127.0.0.1:8080".
std::string procAddress(std::string_view hex, bool v6)
{
    const size_t colon = hex.find(':');
    if (colon == std::string_view::npos) {
        return std::string(hex);
    }
    unsigned port = 0;
    std::from_chars(hex.data() + colon + 1, hex.data() + hex.size(), port, 16);
    const std::string_view addr = hex.substr(0, colon);
    std::array<uint8_t, 16> raw {};
    const size_t words = v6 ? 4 : 1;
    if (addr.size() != 8 * words) {
        return std::string(hex);
    }
    for (size_t i = 0; i < words; ++i) {
        uint32_t word = 0;
        std::from_chars(addr.data() + 8 * i, addr.data() + 8 * i + 8, word, 16);
        std::memcpy(raw.data() + 4 * i, &word, 4);
    }
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(v6 ? AF_INET6 : AF_INET, raw.data(), text, sizeof text);
    return v6 ? "[" + std::string(text) + "]:" + std::to_string(port) : std::string(text) + ":" + std::to_string(port);
}

std::string addressText(const std::vector<uint8_t> &address, uint32_t port)
{
    char text[INET6_ADDRSTRLEN] = {};
    const bool v6 = address.size() == 16;
    ::inet_ntop(v6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
    return v6 ? "[" + std::string(text) + "]:" + std::to_string(port) : std::string(text) + ":" + std::to_string(port);
}

// rx_queue of a /proc/net/{tcp,udp}* line ("tx:rx" in hex, column 4).
uint64_t receiveQueue(const std::vector<std::string> &w)
{
    uint64_t rx = 0;
    if (w.size() > 4) {
        const std::string_view q = w[4];
        const size_t colon = q.find(':');
        if (colon != std::string_view::npos) {
            std::from_chars(q.data() + colon + 1, q.data() + q.size(), rx, 16);
        }
    }
    return rx;
}

// The backlog a listening TCP socket keeps (sk_max_ack_backlog, from inet_diag).
Result<uint32_t> listenBacklog(uint32_t family, uint64_t inode, const std::string &what)
{
    UniqueFd sock(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!sock) {
        return sysError(what + ": sock_diag socket");
    }
    struct {
        nlmsghdr nlh;
        inet_diag_req_v2 req;
    } request {};
    request.nlh.nlmsg_len = sizeof request;
    request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.req.sdiag_family = uint8_t(family);
    request.req.sdiag_protocol = IPPROTO_TCP;
    request.req.idiag_states = 1u << kTcpListen;
    if (::send(sock.get(), &request, sizeof request, 0) != ssize_t(sizeof request)) {
        return sysError(what + ": sock_diag request");
    }
    std::optional<uint32_t> backlog;
    alignas(nlmsghdr) char buf[32768];
    for (;;) {
        ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return sysError(what + ": sock_diag answer");
        }
        for (auto *nlh = reinterpret_cast<nlmsghdr *>(buf); NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
            if (nlh->nlmsg_type == NLMSG_DONE) {
                if (!backlog) {
                    return fail(what + ": sock_diag does not list it among the listening sockets", ENOENT);
                }
                return *backlog;
            }
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                return fail(what + ": sock_diag answered with an error", EIO);
            }
            const auto *msg = static_cast<const inet_diag_msg *>(NLMSG_DATA(nlh));
            if (msg->idiag_inode == inode) {
                backlog = msg->idiag_wqueue;
            }
        }
    }
}

// The kernel's default buffer size of a new socket of the protocol (what
// getsockopt reports when the program set none): tcp_[rw]mem's middle
// value, net.core.[rw]mem_default for UDP.
uint32_t defaultBuffer(bool tcp, bool send)
{
    const char *file = tcp ? (send ? "/proc/sys/net/ipv4/tcp_wmem" : "/proc/sys/net/ipv4/tcp_rmem")
                           : (send ? "/proc/sys/net/core/wmem_default" : "/proc/sys/net/core/rmem_default");
    auto text = procfs::readFile(file);
    if (!text) {
        return 0;
    }
    const auto w = procfs::words(*text);
    const size_t column = tcp ? 1 : 0;
    uint32_t value = 0;
    if (w.size() > column) {
        std::string_view s = w[column];
        while (!s.empty() && s.back() == '\n') {
            s.remove_suffix(1);
        }
        std::from_chars(s.data(), s.data() + s.size(), value);
    }
    return value;
}

Result<int> intOption(int sock, int level, int option, const char *name, const std::string &what)
{
    int value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(sock, level, option, &value, &len) != 0) {
        return sysError(what + ": getsockopt " + name);
    }
    return value;
}

struct Address {
    std::vector<uint8_t> bytes;
    uint32_t port = 0;
};

// sockaddr_in/_in6 -> address bytes and port; fails on a scoped IPv6 address.
Result<Address> addressOf(const sockaddr_storage &ss, const std::string &what)
{
    Address out;
    if (ss.ss_family == AF_INET) {
        const auto &in = reinterpret_cast<const sockaddr_in &>(ss);
        const auto *p = reinterpret_cast<const uint8_t *>(&in.sin_addr);
        out.bytes.assign(p, p + 4);
        out.port = ntohs(in.sin_port);
        return out;
    }
    if (ss.ss_family == AF_INET6) {
        const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(ss);
        if (in6.sin6_scope_id != 0) {
            return fail(what + ": an IPv6 address with a scope (link-local) is not supported", ENOTSUP);
        }
        const auto *p = reinterpret_cast<const uint8_t *>(&in6.sin6_addr);
        out.bytes.assign(p, p + 16);
        out.port = ntohs(in6.sin6_port);
        return out;
    }
    return fail(what + ": not an IPv4 or IPv6 address", EAFNOSUPPORT);
}

std::vector<uint8_t> sockaddrBytes(uint32_t family, const std::vector<uint8_t> &address, uint32_t port)
{
    if (family == AF_INET) {
        sockaddr_in in {};
        in.sin_family = AF_INET;
        in.sin_port = htons(uint16_t(port));
        std::memcpy(&in.sin_addr, address.data(), 4);
        const auto *p = reinterpret_cast<const uint8_t *>(&in);
        return {p, p + sizeof in};
    }
    sockaddr_in6 in6 {};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(uint16_t(port));
    std::memcpy(&in6.sin6_addr, address.data(), 16);
    const auto *p = reinterpret_cast<const uint8_t *>(&in6);
    return {p, p + sizeof in6};
}

struct OptionBit {
    uint32_t bit;
    int level;
    int option;
    const char *name;
};
constexpr OptionBit kOptions[] = {
    {image::kSockReuseAddr, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"}, {image::kSockReusePort, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"},
    {image::kSockV6Only, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"},    {image::kSockNoDelay, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"},
    {image::kSockKeepAlive, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"}, {image::kSockBroadcast, SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"},
};

bool optionApplies(const OptionBit &o, uint32_t family, bool tcp)
{
    return (o.bit != image::kSockV6Only || family == AF_INET6) && (o.bit != image::kSockNoDelay || tcp);
}

} // namespace

// ---- dump

std::optional<InetSocketCheck> checkInetSocket(pid_t pid, int fd, uint64_t inode, const std::string &fdName)
{
    const auto protocol = protocolOf(pid, fd);
    if (!protocol) {
        return std::nullopt;
    }
    const char *table = protocol->tcp ? (protocol->v6 ? "tcp6" : "tcp") : (protocol->v6 ? "udp6" : "udp");
    const std::string name = std::string(protocol->tcp ? "TCP" : "UDP") + (protocol->v6 ? "v6" : "") + " socket";
    InetSocketCheck check;
    const auto line = procfs::findSocketLine(pid, table, 9, inode);
    if (!line || line->size() < 4) {
        return check; // never bound, or a TCP socket bound but neither listening nor connected
    }
    const auto &w = *line;
    const std::string local = procAddress(w[1], protocol->v6);
    const std::string remote = procAddress(w[2], protocol->v6);
    unsigned state = 0;
    std::from_chars(w[3].data(), w[3].data() + w[3].size(), state, 16);
    const uint64_t queued = receiveQueue(w);
    if (protocol->tcp && state == kTcpListen) {
        if (queued != 0) {
            check.verdict = Verdict::Refused;
            check.reason = fdName + " is a " + name + " listening on " + local + " with " + std::to_string(queued) +
                " connection(s) waiting to be accepted: they cannot be restored (they would be reset); try again once the program has accepted them";
        }
        return check;
    }
    if (protocol->tcp) {
        check.verdict = Verdict::Refused;
        check.reason = fdName + " is a TCP connection from " + local + " to " + remote +
            ": established TCP connections cannot be restored (that needs TCP_REPAIR, which cryopod does not implement yet)";
        return check;
    }
    if (queued != 0) {
        check.verdict = Verdict::Caveat;
        check.reason = fdName + " is a " + name + " at " + local + " with datagrams waiting (a receive queue of " + std::to_string(queued) +
            " bytes): the restored socket starts with an empty queue (they are dropped)";
    }
    return check;
}

Result<image::FileObjectRecord> dumpInetSocket(pid_t pid, const image::FdRecord &fd, uint64_t id)
{
    const std::string what = "inet socket at fd " + std::to_string(fd.fd) + " (socket:[" + std::to_string(fd.ino) + "])";
    auto sock = takeTheirFd(pid, fd.fd, what);
    if (!sock) {
        return std::unexpected(sock.error());
    }
    const int s = sock->get();
    image::FileObjectRecord record;
    record.id = id;
    record.kind = image::FileObjectKind::InetSocket;
    record.ownerPid = pid;
    auto domain = intOption(s, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN", what);
    auto type = domain ? intOption(s, SOL_SOCKET, SO_TYPE, "SO_TYPE", what) : Result<int>(std::unexpected(domain.error()));
    auto protocol = type ? intOption(s, SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL", what) : Result<int>(std::unexpected(type.error()));
    auto listening = protocol ? intOption(s, SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN", what) : Result<int>(std::unexpected(protocol.error()));
    if (!listening) {
        return std::unexpected(listening.error());
    }
    record.family = uint32_t(*domain);
    record.socketType = uint32_t(*type);
    record.protocol = uint32_t(*protocol);
    const bool tcp = record.protocol == IPPROTO_TCP;
    if (!(tcp && record.socketType == SOCK_STREAM) && !(record.protocol == IPPROTO_UDP && record.socketType == SOCK_DGRAM)) {
        return fail(what + ": protocol " + std::to_string(record.protocol) + " of type " + std::to_string(record.socketType) + " is not supported", ENOTSUP);
    }
    sockaddr_storage ss {};
    socklen_t len = sizeof ss;
    if (::getsockname(s, reinterpret_cast<sockaddr *>(&ss), &len) != 0) {
        return sysError(what + ": getsockname");
    }
    auto local = addressOf(ss, what);
    if (!local) {
        return std::unexpected(local.error());
    }
    sockaddr_storage peer {};
    len = sizeof peer;
    const bool connected = ::getpeername(s, reinterpret_cast<sockaddr *>(&peer), &len) == 0;
    if (!connected && errno != ENOTCONN) {
        return sysError(what + ": getpeername");
    }
    if (connected && tcp) {
        return fail(what + ": a TCP connection: established TCP connections cannot be restored (TCP_REPAIR is not implemented)", ENOTSUP);
    }
    if (*listening) {
        record.inetState = image::InetState::Listening;
        auto backlog = listenBacklog(record.family, fd.ino, what);
        if (!backlog) {
            return std::unexpected(backlog.error());
        }
        record.backlog = *backlog;
    } else if (connected) {
        record.inetState = image::InetState::Connected;
        auto remote = addressOf(peer, what);
        if (!remote) {
            return std::unexpected(remote.error());
        }
        record.peerAddress = std::move(remote->bytes);
        record.peerPort = remote->port;
    } else if (local->port != 0) {
        record.inetState = image::InetState::Bound;
    }
    if (record.inetState != image::InetState::Unbound) {
        record.localAddress = std::move(local->bytes);
        record.localPort = local->port;
    }
    for (const OptionBit &o : kOptions) {
        if (!optionApplies(o, record.family, tcp)) {
            continue;
        }
        auto value = intOption(s, o.level, o.option, o.name, what);
        if (!value) {
            return std::unexpected(value.error());
        }
        if (*value != 0) {
            record.socketOptions |= o.bit;
        }
    }
    auto sndbuf = intOption(s, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", what);
    auto rcvbuf = sndbuf ? intOption(s, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", what) : Result<int>(std::unexpected(sndbuf.error()));
    if (!rcvbuf) {
        return std::unexpected(rcvbuf.error());
    }
    // A size the program never set stays the kernel's (TCP tunes it then).
    record.sndbuf = uint32_t(*sndbuf) == defaultBuffer(tcp, true) ? 0 : uint32_t(*sndbuf);
    record.rcvbuf = uint32_t(*rcvbuf) == defaultBuffer(tcp, false) ? 0 : uint32_t(*rcvbuf);
    return record;
}

// ---- restore

Result<void> restoreInetSocket(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds)
{
    const bool tcp = object.protocol == IPPROTO_TCP;
    const std::string what =
        "restore " + std::string(tcp ? "TCP" : "UDP") + (object.family == AF_INET6 ? "v6" : "") + " socket at fd " + std::to_string(owner.fd);
    auto made = makeSocketIn(injector, fds, object.family, object.socketType, object.protocol, what);
    if (!made) {
        return std::unexpected(made.error());
    }
    const int32_t fd = made->fd;
    const UniqueFd &sock = made->sock;
    for (const OptionBit &o : kOptions) {
        if (!optionApplies(o, object.family, tcp)) {
            continue;
        }
        const int value = (object.socketOptions & o.bit) ? 1 : 0;
        if (::setsockopt(sock.get(), o.level, o.option, &value, sizeof value) != 0) {
            return sysError(what + ": setsockopt " + o.name);
        }
    }
    if (object.sndbuf != 0) {
        CRYOPOD_PROPAGATE(setSocketBuffer(sock.get(), SO_SNDBUF, object.sndbuf, what));
    }
    if (object.rcvbuf != 0) {
        CRYOPOD_PROPAGATE(setSocketBuffer(sock.get(), SO_RCVBUF, object.rcvbuf, what));
    }
    // The process binds, listens and connects itself: with its own rights.
    auto withAddress = [&](const char *step, long nr, const std::vector<uint8_t> &address, uint32_t port) -> Result<void> {
        const std::vector<uint8_t> sa = sockaddrBytes(object.family, address, port);
        const size_t mark = scratch.used();
        auto at = scratch.put(sa);
        if (!at) {
            return std::unexpected(at.error().context(what));
        }
        auto r = injector.call(what + ": " + step + " " + addressText(address, port), nr, uint64_t(fd), *at, sa.size());
        scratch.reset(mark);
        if (!r && r.error().code == EADDRINUSE) {
            return fail(what + ": " + step + " " + addressText(address, port) +
                            ": the address is in use: the checkpointed program (or another one) still holds it; stop the original before restoring (a "
                            "--leave-running checkpoint leaves it running)",
                        EADDRINUSE);
        }
        if (!r) {
            return std::unexpected(r.error());
        }
        return {};
    };
    if (object.inetState != image::InetState::Unbound) {
        CRYOPOD_PROPAGATE(withAddress("bind", SYS_bind, object.localAddress, object.localPort));
    }
    if (object.inetState == image::InetState::Listening) {
        auto listened = injector.call(what + ": listen", SYS_listen, uint64_t(fd), object.backlog);
        if (!listened) {
            return std::unexpected(listened.error());
        }
    }
    if (object.inetState == image::InetState::Connected) {
        CRYOPOD_PROPAGATE(withAddress("connect", SYS_connect, object.peerAddress, object.peerPort));
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, fd, owner.openFlags, what));
    fds.byFd[owner.fd] = fd;
    return {};
}

} // namespace cryopod::engine
