// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "inetsockets.h"

#include "procfs.h"
#include "pstree.h"
#include "uniquefd.h"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <span>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr uint32_t kTcpEstablished = 1;
constexpr uint32_t kTcpListen = 10;

const char *tcpStateName(unsigned state)
{
    static constexpr const char *kNames[] = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
                                             "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"};
    return state < std::size(kNames) ? kNames[state] : "?";
}

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

// ---- TCP_REPAIR (established connections)

Result<void> setRepair(int sock, int mode, const std::string &what)
{
    if (::setsockopt(sock, IPPROTO_TCP, TCP_REPAIR, &mode, sizeof mode) == 0) {
        return {};
    }
    if (errno == EPERM) {
        return fail(what + ": TCP_REPAIR needs CAP_NET_ADMIN in the socket's network namespace, which this process lacks", EPERM);
    }
    return sysError(what + ": TCP_REPAIR " + std::to_string(mode));
}

Result<void> setRepairQueue(int sock, int queue, const std::string &what)
{
    if (::setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) != 0) {
        return sysError(what + ": TCP_REPAIR_QUEUE " + std::to_string(queue));
    }
    return {};
}

// One queue of a socket in repair mode: its sequence number (TCP_QUEUE_SEQ)
// and its bytes, peeked (MSG_PEEK: nothing is taken out of it). The kernel
// still takes ACKs and segments for the socket meanwhile: read again until
// the size before and after agrees with what was peeked.
Result<uint32_t> peekQueue(int sock, int queue, unsigned long sizeRequest, std::vector<uint8_t> &bytes, const std::string &what)
{
    const std::string name = what + (queue == TCP_SEND_QUEUE ? ": send queue" : ": receive queue");
    CRYOPOD_PROPAGATE(setRepairQueue(sock, queue, what));
    auto sizeNow = [&]() -> Result<size_t> {
        int size = 0;
        if (::ioctl(sock, sizeRequest, &size) != 0) {
            return sysError(name + ": its size");
        }
        if (size < 0 || uint64_t(size) > image::kMaxPipeDataBytes) {
            return fail(name + ": " + std::to_string(size) + " bytes, more than an image keeps", EFBIG);
        }
        return size_t(size);
    };
    for (int attempt = 0; attempt < 8; ++attempt) {
        auto before = sizeNow();
        if (!before) {
            return std::unexpected(before.error());
        }
        // Room for whole segments (the send queue is copied segment by segment).
        bytes.resize(*before + (64u << 10));
        ssize_t n = 0;
        if (*before > 0) {
            n = ::recv(sock, bytes.data(), bytes.size(), MSG_PEEK | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN) {
                return sysError(name + ": peek");
            }
            n = std::max<ssize_t>(n, 0);
        }
        uint32_t seq = 0;
        socklen_t len = sizeof seq;
        if (::getsockopt(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &len) != 0) {
            return sysError(name + ": TCP_QUEUE_SEQ");
        }
        auto after = sizeNow();
        if (!after) {
            return std::unexpected(after.error());
        }
        if (*before == size_t(n) && *after == size_t(n)) {
            bytes.resize(size_t(n));
            return seq;
        }
    }
    return fail(name + ": it kept changing while it was read (the peer is still sending?)", EAGAIN);
}

// Out of repair mode without a window probe (nothing is sent): the
// connection goes on as before. Repair mode cleared SO_REUSEADDR (sk_reuse):
// the program keeps its option.
Result<void> leaveRepairQuietly(int sock, bool reuseAddr, const std::string &what)
{
    CRYOPOD_PROPAGATE(setRepair(sock, TCP_REPAIR_OFF_NO_WP, what));
    const int on = 1;
    if (reuseAddr && ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
        return sysError(what + ": setsockopt SO_REUSEADDR after repair mode");
    }
    return {};
}

// What TCP_REPAIR tells of an established connection `sock` (the process
// frozen): sequence numbers, both queues, negotiated options, timestamp
// clock and window. The socket leaves repair mode before this returns,
// without a window probe (nothing is sent): a process left running goes on
// with the connection as it was.
Result<void> dumpTcpConnection(int sock, image::FileObjectRecord &record, const std::string &what)
{
    tcp_info info {};
    socklen_t len = sizeof info;
    if (::getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
        return sysError(what + ": TCP_INFO");
    }
    if (info.tcpi_state != kTcpEstablished) {
        return fail(what + ": a TCP connection in state " + tcpStateName(info.tcpi_state) + ": only established connections can be restored", ENOTSUP);
    }
    CRYOPOD_PROPAGATE(setRepair(sock, TCP_REPAIR_ON, what));
    auto capture = [&]() -> Result<void> {
        auto sendSeq = peekQueue(sock, TCP_SEND_QUEUE, SIOCOUTQ, record.tcpSendQueue, what);
        if (!sendSeq) {
            return std::unexpected(sendSeq.error());
        }
        int unsent = 0;
        if (::ioctl(sock, SIOCOUTQNSD, &unsent) != 0) {
            return sysError(what + ": send queue: its unsent part");
        }
        if (unsent < 0 || size_t(unsent) > record.tcpSendQueue.size()) {
            return fail(what + ": send queue: " + std::to_string(unsent) + " unsent bytes of " + std::to_string(record.tcpSendQueue.size()), EIO);
        }
        auto recvSeq = peekQueue(sock, TCP_RECV_QUEUE, SIOCINQ, record.tcpRecvQueue, what);
        if (!recvSeq) {
            return std::unexpected(recvSeq.error());
        }
        CRYOPOD_PROPAGATE(setRepairQueue(sock, TCP_NO_QUEUE, what));
        record.tcpSendSeq = *sendSeq;
        record.tcpUnsent = uint32_t(unsent);
        record.tcpRecvSeq = *recvSeq;
        auto mss = intOption(sock, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", what); // the peer's MSS (mss_clamp) in repair mode
        if (!mss) {
            return std::unexpected(mss.error());
        }
        record.tcpMss = uint32_t(*mss);
        record.tcpOptions = ((info.tcpi_options & TCPI_OPT_SACK) ? image::kTcpOptSack : 0u) |
            ((info.tcpi_options & TCPI_OPT_TIMESTAMPS) ? image::kTcpOptTimestamps : 0u) | ((info.tcpi_options & TCPI_OPT_WSCALE) ? image::kTcpOptWscale : 0u);
        if (info.tcpi_options & TCPI_OPT_WSCALE) {
            record.tcpSndWscale = info.tcpi_snd_wscale;
            record.tcpRcvWscale = info.tcpi_rcv_wscale;
        }
        if (info.tcpi_options & TCPI_OPT_TIMESTAMPS) {
            uint32_t ts = 0;
            socklen_t tsLen = sizeof ts;
            if (::getsockopt(sock, IPPROTO_TCP, TCP_TIMESTAMP, &ts, &tsLen) != 0) {
                return sysError(what + ": TCP_TIMESTAMP");
            }
            record.tcpTimestamp = ts;
        }
        tcp_repair_window window {};
        socklen_t windowLen = sizeof window;
        if (::getsockopt(sock, IPPROTO_TCP, TCP_REPAIR_WINDOW, &window, &windowLen) != 0) {
            return sysError(what + ": TCP_REPAIR_WINDOW");
        }
        record.tcpSndWl1 = window.snd_wl1;
        record.tcpSndWnd = window.snd_wnd;
        record.tcpMaxWindow = window.max_window;
        record.tcpRcvWnd = window.rcv_wnd;
        record.tcpRcvWup = window.rcv_wup;
        return {};
    };
    auto r = capture();
    auto off = leaveRepairQuietly(sock, (record.socketOptions & image::kSockReuseAddr) != 0, what);
    if (!r) {
        return r;
    }
    return off;
}

Result<void> setQueueSeq(int sock, int queue, uint32_t seq, const std::string &what)
{
    CRYOPOD_PROPAGATE(setRepairQueue(sock, queue, what));
    if (::setsockopt(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof seq) != 0) {
        return sysError(what + ": TCP_QUEUE_SEQ of the " + (queue == TCP_SEND_QUEUE ? "send" : "receive") + " queue");
    }
    return {};
}

// A connection's buffer while its queue is put back: what getsockopt
// `reported` at dump (the queue fitted in it), and never less than twice
// the queue (the kernel doubles the value set and charges segments with
// their overhead; segments are cut differently than the original's were).
// Once the queue is in, setReportedBuffer() gives it the reported size
// again: a size kept at twice a full queue doubled at every cycle.
Result<void> forceSocketBuffer(int sock, int option, uint32_t reported, size_t queued, const std::string &what)
{
    const uint64_t wanted = std::max<uint64_t>((uint64_t(reported) + 1) / 2, uint64_t(queued));
    const int value = int(std::min<uint64_t>(wanted, INT32_MAX / 2));
    if (::setsockopt(sock, SOL_SOCKET, option, &value, sizeof value) != 0) {
        return sysError(what + ": set its buffer size to " + std::to_string(value));
    }
    return {};
}

Result<void> setReportedBuffer(int sock, int option, uint32_t reported, const std::string &what)
{
    if (reported == 0) {
        return {}; // not recorded: the size the queue needed stays
    }
    return forceSocketBuffer(sock, option, reported, 0, what);
}

// Sends `bytes` on `sock` without blocking (a repaired socket's queues).
Result<void> sendAll(int sock, std::span<const uint8_t> bytes, const std::string &what)
{
    while (!bytes.empty()) {
        const ssize_t n = ::send(sock, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return sysError(what + ": " + std::to_string(bytes.size()) + " bytes left");
        }
        bytes = bytes.subspan(size_t(n));
    }
    return {};
}

// connect() in repair mode computes the segment size the connection sends
// (mss_cache) from the route's MTU, clamped by TCP_MAXSEG or else by the
// default of 536: TCP_REPAIR_OPTIONS later sets the peer's MSS (mss_clamp)
// but not what is derived from it. So the restore clamps with TCP_MAXSEG
// before connect(), which takes at most 32767 (MAX_TCP_WINDOW): loopback's
// 65483 becomes 32767 (minus the options), an Ethernet MSS stays as it was.
uint32_t repairSegmentSize(uint32_t mss)
{
    constexpr uint32_t kMinMss = 88, kMaxUserMss = 32767; // TCP_MIN_MSS, MAX_TCP_WINDOW
    return mss < kMinMss ? 0 : std::min(mss, kMaxUserMss);
}

Result<void> setUserMss(int sock, uint32_t mss, const std::string &what)
{
    const int value = int(mss);
    if (::setsockopt(sock, IPPROTO_TCP, TCP_MAXSEG, &value, sizeof value) != 0) {
        return sysError(what + ": TCP_MAXSEG " + std::to_string(value));
    }
    return {};
}

// A socket in repair mode, connected (established, nothing sent): its
// options, timestamp clock, receive queue, the sent part of its send queue
// (as sent and not acknowledged: retransmitted if the peer did not get it)
// and its window, in the order the kernel accepts them.
Result<void> repairConnection(int sock, const image::FileObjectRecord &object, const std::string &what)
{
    std::vector<tcp_repair_opt> options {{TCPOPT_MAXSEG, object.tcpMss}};
    if (object.tcpOptions & image::kTcpOptWscale) {
        options.push_back({TCPOPT_WINDOW, object.tcpSndWscale | (object.tcpRcvWscale << 16)});
    }
    if (object.tcpOptions & image::kTcpOptSack) {
        options.push_back({TCPOPT_SACK_PERMITTED, 0});
    }
    if (object.tcpOptions & image::kTcpOptTimestamps) {
        options.push_back({TCPOPT_TIMESTAMP, 0});
    }
    if (::setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_OPTIONS, options.data(), socklen_t(options.size() * sizeof options[0])) != 0) {
        return sysError(what + ": TCP_REPAIR_OPTIONS");
    }
    if (object.tcpOptions & image::kTcpOptTimestamps) {
        const uint32_t ts = object.tcpTimestamp;
        if (::setsockopt(sock, IPPROTO_TCP, TCP_TIMESTAMP, &ts, sizeof ts) != 0) {
            return sysError(what + ": TCP_TIMESTAMP");
        }
    }
    CRYOPOD_PROPAGATE(setRepairQueue(sock, TCP_RECV_QUEUE, what));
    CRYOPOD_PROPAGATE(sendAll(sock, object.tcpRecvQueue, what + ": refill the receive queue"));
    CRYOPOD_PROPAGATE(setRepairQueue(sock, TCP_SEND_QUEUE, what));
    const size_t sent = object.tcpSendQueue.size() - object.tcpUnsent;
    CRYOPOD_PROPAGATE(sendAll(sock, std::span(object.tcpSendQueue).first(sent), what + ": refill the send queue"));
    CRYOPOD_PROPAGATE(setRepairQueue(sock, TCP_NO_QUEUE, what));
    tcp_repair_window window {};
    window.snd_wl1 = object.tcpSndWl1;
    window.snd_wnd = object.tcpSndWnd;
    window.max_window = object.tcpMaxWindow;
    window.rcv_wnd = object.tcpRcvWnd;
    window.rcv_wup = object.tcpRcvWup;
    if (::setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_WINDOW, &window, sizeof window) != 0) {
        return sysError(what + ": TCP_REPAIR_WINDOW");
    }
    return {};
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

std::optional<InetSocketCheck> checkInetSocket(pid_t pid, int fd, uint64_t inode, const std::string &fdName, bool tcpEstablished)
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
        const std::string connection = fdName + " is a TCP connection from " + local + " to " + remote;
        if (state != kTcpEstablished) {
            check.verdict = Verdict::Refused;
            check.reason = connection + " in state " + tcpStateName(state) +
                ": only established TCP connections can be restored (with TCP_REPAIR); try again once it is established or closed";
        } else if (!tcpEstablished) {
            check.verdict = Verdict::Refused;
            check.reason = connection +
                ": established TCP connections cannot be restored (that needs TCP_REPAIR, which cryopod uses only when asked: cryopodctl checkpoint "
                "--tcp-established, the helper's tcp-established option)";
        } else {
            check.verdict = Verdict::Caveat;
            check.reason = connection +
                ": restored with TCP_REPAIR (sequence numbers, queued data, options and window carried); the peer must still hold its end when the "
                "copy runs, and the original must be stopped before the restore (one connection cannot exist twice)";
        }
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
    // The options before a connection's repair mode, which clears SO_REUSEADDR.
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
    sockaddr_storage peer {};
    len = sizeof peer;
    const bool connected = ::getpeername(s, reinterpret_cast<sockaddr *>(&peer), &len) == 0;
    if (!connected && errno != ENOTCONN) {
        return sysError(what + ": getpeername");
    }
    if (connected && tcp) {
        record.inetState = image::InetState::Established;
        auto remote = addressOf(peer, what);
        if (!remote) {
            return std::unexpected(remote.error());
        }
        record.peerAddress = std::move(remote->bytes);
        record.peerPort = remote->port;
        CRYOPOD_PROPAGATE(dumpTcpConnection(s, record, what));
    } else if (*listening) {
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
    auto sndbuf = intOption(s, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", what);
    auto rcvbuf = sndbuf ? intOption(s, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", what) : Result<int>(std::unexpected(sndbuf.error()));
    if (!rcvbuf) {
        return std::unexpected(rcvbuf.error());
    }
    if (record.inetState == image::InetState::Established) {
        // As they are now (TCP may have tuned them): the queues fit in them.
        record.sndbuf = uint32_t(*sndbuf);
        record.rcvbuf = uint32_t(*rcvbuf);
        return record;
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
    const bool established = object.inetState == image::InetState::Established;
    if (established) {
        // In repair mode bind() may share the port with the restored
        // listener it was accepted from, and connect() sends nothing.
        CRYOPOD_PROPAGATE(setRepair(sock.get(), TCP_REPAIR_ON, what));
        CRYOPOD_PROPAGATE(setQueueSeq(sock.get(), TCP_SEND_QUEUE, object.tcpSendSeq - uint32_t(object.tcpSendQueue.size()), what));
        CRYOPOD_PROPAGATE(setQueueSeq(sock.get(), TCP_RECV_QUEUE, object.tcpRecvSeq - uint32_t(object.tcpRecvQueue.size()), what));
        CRYOPOD_PROPAGATE(setUserMss(sock.get(), repairSegmentSize(object.tcpMss), what));
    }
    if (established) {
        // Big enough for both queues, beyond net.core.[wr]mem_max if need be
        // (an image with a connection is restored with CAP_NET_ADMIN only,
        // imagecheck.cpp): a queue that does not fit cannot be put back.
        CRYOPOD_PROPAGATE(forceSocketBuffer(sock.get(), SO_SNDBUFFORCE, object.sndbuf, object.tcpSendQueue.size(), what));
        CRYOPOD_PROPAGATE(forceSocketBuffer(sock.get(), SO_RCVBUFFORCE, object.rcvbuf, object.tcpRecvQueue.size(), what));
    } else if (object.sndbuf != 0) {
        CRYOPOD_PROPAGATE(setSocketBuffer(sock.get(), SO_SNDBUF, object.sndbuf, what));
    }
    if (!established && object.rcvbuf != 0) {
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
        if (!r && established && (r.error().code == EADDRINUSE || r.error().code == EADDRNOTAVAIL)) {
            return fail(what + ": " + step + " " + addressText(address, port) + ": the connection from " + addressText(object.localAddress, object.localPort) +
                            " to " + addressText(object.peerAddress, object.peerPort) +
                            " exists already: the checkpointed program (or another one) still holds it; stop the original before restoring (a "
                            "--leave-running checkpoint leaves it running)",
                        r.error().code);
        }
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
    if (object.inetState == image::InetState::Connected || established) {
        CRYOPOD_PROPAGATE(withAddress("connect", SYS_connect, object.peerAddress, object.peerPort));
    }
    if (established) {
        CRYOPOD_PROPAGATE(setUserMss(sock.get(), 0, what)); // the segment size is set: the program had no TCP_MAXSEG
        CRYOPOD_PROPAGATE(repairConnection(sock.get(), object, what));
        // The receive queue is in: the buffer the program had (leaveTcpRepair
        // does the same for the send buffer once the unsent part is in).
        CRYOPOD_PROPAGATE(setReportedBuffer(sock.get(), SO_RCVBUFFORCE, object.rcvbuf, what));
        // Still in repair mode: it leaves it once every socket of the tree
        // exists (leaveTcpRepair), so that nothing it sends meets a port
        // whose socket is not there yet (which would reset the connection).
        const size_t sent = object.tcpSendQueue.size() - object.tcpUnsent;
        fds.tcpRepairs.push_back(RepairedTcp {std::move(made->sock),
                                              std::vector<uint8_t>(object.tcpSendQueue.begin() + ptrdiff_t(sent), object.tcpSendQueue.end()),
                                              (object.socketOptions & image::kSockReuseAddr) != 0, object.sndbuf, what});
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, fd, owner.openFlags, what));
    fds.byFd[owner.fd] = fd;
    return {};
}

Result<void> leaveTcpRepair(std::vector<RepairedTcp> &repairs)
{
    for (RepairedTcp &r : repairs) {
        // TCP_REPAIR_OFF sends a window probe: the peer answers with its window.
        CRYOPOD_PROPAGATE(setRepair(r.sock.get(), TCP_REPAIR_OFF, r.what));
        if (r.reuseAddr) { // leaving repair mode clears it
            const int on = 1;
            if (::setsockopt(r.sock.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
                return sysError(r.what + ": setsockopt SO_REUSEADDR");
            }
        }
        // What was never sent goes out now, as the program's own write would have.
        CRYOPOD_PROPAGATE(sendAll(r.sock.get(), r.unsent, r.what + ": send what was not sent yet"));
        CRYOPOD_PROPAGATE(setReportedBuffer(r.sock.get(), SO_SNDBUFFORCE, r.sndbuf, r.what));
    }
    repairs.clear();
    return {};
}

namespace
{
// The established connections among `objects` each owned by an fd of `files` (not a dup, not another process's).
template<typename Objects, typename Fn>
void forEachOwnedConnection(const image::FilesRecord &files, Objects &objects, Fn &&fn)
{
    for (const image::FdRecord &fd : files.fds) {
        if (fd.kind != image::FdKind::InetSocket || fd.dupOf != -1 || fd.sharedPid != 0) {
            continue;
        }
        const auto object = std::find_if(objects.begin(), objects.end(), [&](const image::FileObjectRecord &o) {
            return o.id == fd.object;
        });
        if (object != objects.end() && object->inetState == image::InetState::Established) {
            fn(fd, *object);
        }
    }
}

bool seqBefore(uint32_t a, uint32_t b)
{
    return int32_t(a - b) < 0;
}
} // namespace

std::vector<CapturedTcp> capturedTcpConnections(pid_t pid, const image::FilesRecord &files, std::vector<image::FileObjectRecord> &objects)
{
    std::vector<CapturedTcp> out;
    forEachOwnedConnection(files, objects,
                           [&](const image::FdRecord &fd, image::FileObjectRecord &object) { out.push_back(CapturedTcp {pid, fd.fd, &object}); });
    return out;
}

Result<void> settleTcpConnections(std::vector<CapturedTcp> &connections)
{
    std::vector<UniqueFd> socks;
    for (const CapturedTcp &c : connections) {
        auto sock = takeTheirFd(c.pid, c.fd, "TCP connection at fd " + std::to_string(c.fd) + " of " + std::to_string(c.pid));
        if (!sock) {
            return std::unexpected(sock.error());
        }
        socks.push_back(std::move(*sock));
    }
    // A frozen tree's connections come to rest within a few delayed ACKs
    // (once the windows are full or the queues empty).
    constexpr uint64_t kSettleNs = 3'000'000'000;
    const uint64_t deadline = monotonicNs() + kSettleNs;
    for (int pass = 1;; ++pass) {
        bool moved = false;
        for (size_t i = 0; i < connections.size(); ++i) {
            const CapturedTcp &c = connections[i];
            const int sock = socks[i].get();
            const std::string what = "TCP connection at fd " + std::to_string(c.fd) + " of " + std::to_string(c.pid);
            // rcv_nxt, snd_una and snd_nxt against the frozen copied_seq and write_seq.
            int inq = 0, outq = 0, unsent = 0;
            if (::ioctl(sock, SIOCINQ, &inq) != 0 || ::ioctl(sock, SIOCOUTQ, &outq) != 0 || ::ioctl(sock, SIOCOUTQNSD, &unsent) != 0) {
                return sysError(what + ": the sizes of its queues");
            }
            image::FileObjectRecord &r = *c.record;
            if (size_t(inq) == r.tcpRecvQueue.size() && size_t(outq) == r.tcpSendQueue.size() && uint32_t(unsent) == r.tcpUnsent) {
                continue;
            }
            moved = true;
            CRYOPOD_PROPAGATE(dumpTcpConnection(sock, r, what + " (read again: it moved since)"));
        }
        if (!moved) {
            return {};
        }
        if (monotonicNs() > deadline) {
            return fail("the tree's TCP connections kept moving data while it was frozen (" + std::to_string(pass) + " passes in " +
                            std::to_string(kSettleNs / 1'000'000'000) + " s)",
                        EAGAIN);
        }
        ::usleep(1000);
    }
}

Result<void> matchTcpPeers(const std::vector<image::FileObjectRecord *> &connections)
{
    auto text = [](const image::FileObjectRecord &o) { return addressText(o.localAddress, o.localPort) + " to " + addressText(o.peerAddress, o.peerPort); };
    for (image::FileObjectRecord *a : connections) {
        if (a->kind != image::FileObjectKind::InetSocket || a->inetState != image::InetState::Established) {
            continue;
        }
        for (const image::FileObjectRecord *b : connections) {
            if (b == a || b->kind != image::FileObjectKind::InetSocket || b->inetState != image::InetState::Established || b->family != a->family ||
                b->localAddress != a->peerAddress || b->localPort != a->peerPort || b->peerAddress != a->localAddress || b->peerPort != a->localPort) {
                continue;
            }
            // a's send queue runs from snd_una to write_seq; b received up to its rcv_nxt.
            const uint32_t writeSeq = a->tcpSendSeq;
            const uint32_t una = writeSeq - uint32_t(a->tcpSendQueue.size());
            const uint32_t received = b->tcpRecvSeq;
            if (seqBefore(received, una) || seqBefore(writeSeq, received)) {
                return fail("restore TCP connection from " + text(*a) + ": its peer in the image received up to sequence number " + std::to_string(received) +
                                ", outside what it had queued to send (" + std::to_string(una) + " to " + std::to_string(writeSeq) +
                                "): the two ends were not captured at one instant",
                            EINVAL);
            }
            const uint32_t sentEnd = writeSeq - a->tcpUnsent;
            if (seqBefore(sentEnd, received)) {
                a->tcpUnsent = writeSeq - received;
            }
        }
    }
    return {};
}

Result<void> QuietTcpConnections::add(pid_t pid, const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects)
{
    Result<void> result;
    forEachOwnedConnection(files, objects, [&](const image::FdRecord &fd, const image::FileObjectRecord &object) {
        if (!result) {
            return;
        }
        const std::string what = "keep the TCP connection at fd " + std::to_string(fd.fd) + " of " + std::to_string(pid) + " from " +
            addressText(object.localAddress, object.localPort) + " to " + addressText(object.peerAddress, object.peerPort) + " quiet while the tree is killed";
        auto sock = takeTheirFd(pid, fd.fd, what);
        if (!sock) {
            result = std::unexpected(sock.error());
            return;
        }
        auto on = setRepair(sock->get(), TCP_REPAIR_ON, what);
        if (!on) {
            result = std::unexpected(on.error());
            return;
        }
        m_sockets.push_back(Quieted {std::move(*sock), (object.socketOptions & image::kSockReuseAddr) != 0, what});
    });
    return result;
}

Result<void> QuietTcpConnections::disconnect()
{
    for (Quieted &q : m_sockets) {
        sockaddr unspec {};
        unspec.sa_family = AF_UNSPEC;
        if (::connect(q.sock.get(), &unspec, sizeof unspec) != 0) {
            return sysError(q.what + ": disconnect in repair mode");
        }
    }
    return {};
}

void QuietTcpConnections::commit()
{
    m_sockets.clear(); // the sockets were dropped without a word (disconnect()), or close with the tree in repair mode
}

QuietTcpConnections::~QuietTcpConnections()
{
    // Not committed: the checkpoint failed and the tree runs on (or dies as
    // the failure left it). Each socket as it was, without a window probe.
    // A failure here cannot be reported any more: the error that brought
    // us here is.
    for (Quieted &q : m_sockets) {
        (void)leaveRepairQuietly(q.sock.get(), q.reuseAddr, q.what);
    }
}

} // namespace cryopod::engine
