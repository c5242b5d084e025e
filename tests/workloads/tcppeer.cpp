// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "tcppeer.h"

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

extern "C" {
#include "wl.h"
}

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <format>
#include <fstream>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace
{

using Clock = std::chrono::steady_clock;

constexpr uint64_t kOut = 16 << 10; // ours per exchange: the root reads 1 KiB every 5 ms
constexpr uint64_t kIn = 64 << 10; // the root's per exchange, at least
constexpr uint64_t kMore = 256 << 10; // after go, each way (wl_tcp's kMore)
constexpr int kRcvBuf = 64 << 10; // ours (the kernel doubles it): the root's stream stalls soon
constexpr auto kStalled = std::chrono::milliseconds(300); // nothing arrived for this long

Clock::time_point after(double seconds)
{
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

int queueSize(int fd, unsigned long request)
{
    int n = -1;
    return ::ioctl(fd, request, &n) == 0 ? n : -1;
}

// pidfd_getfd: the process's own socket, not a new one.
int theirFd(pid_t pid, int fd)
{
    const int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        return -1;
    }
    const int copy = int(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
    const int err = errno;
    ::close(pidfd);
    errno = err;
    return copy;
}

// The fds of `pid` that are TCP sockets, each as our own copy (the caller closes them).
std::map<int, int> tcpSocketsOf(pid_t pid)
{
    std::map<int, int> out;
    const std::string dir = std::format("/proc/{}/fd", pid);
    DIR *d = ::opendir(dir.c_str());
    if (!d) {
        return out;
    }
    while (const dirent *e = ::readdir(d)) {
        char target[64] = {};
        const std::string link = dir + "/" + e->d_name;
        if (e->d_name[0] == '.' || ::readlink(link.c_str(), target, sizeof target - 1) <= 0 || std::strncmp(target, "socket:[", 8) != 0) {
            continue;
        }
        const int fd = std::atoi(e->d_name);
        const int copy = theirFd(pid, fd);
        int protocol = 0;
        socklen_t len = sizeof protocol;
        if (copy >= 0 && ::getsockopt(copy, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 && protocol == IPPROTO_TCP) {
            out[fd] = copy;
        } else if (copy >= 0) {
            ::close(copy);
        }
    }
    ::closedir(d);
    return out;
}

} // namespace

TcpPeer::~TcpPeer()
{
    if (m_conn >= 0) {
        ::close(m_conn);
    }
    if (m_listen >= 0) {
        ::close(m_listen);
    }
}

bool TcpPeer::listen(uint64_t seed, std::string *error)
{
    m_mySeed = wl_derive(seed, 2); // wl_tcp's child C
    m_theirSeed = wl_derive(seed, 1); // its root
    m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    // The accepted connection inherits the buffer size (autotuning off).
    if (m_listen < 0 || ::setsockopt(m_listen, SOL_SOCKET, SO_RCVBUF, &kRcvBuf, sizeof kRcvBuf) != 0 ||
        ::bind(m_listen, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(m_listen, 1) != 0 ||
        ::getsockname(m_listen, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        *error = std::format("tcp peer: listen on 127.0.0.1: {}", std::strerror(errno));
        return false;
    }
    m_port = ntohs(addr.sin_port);
    return true;
}

bool TcpPeer::accept(double seconds, std::string *error)
{
    pollfd p {m_listen, POLLIN, 0};
    if (::poll(&p, 1, int(seconds * 1000)) != 1) {
        *error = std::format("tcp peer: no connection to port {} within {:.0f} s", m_port, seconds);
        return false;
    }
    m_conn = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (m_conn < 0) {
        *error = std::format("tcp peer: accept: {}", std::strerror(errno));
        return false;
    }
    ::close(m_listen);
    m_listen = -1;
    return true;
}

bool TcpPeer::receiveSome(std::string *error)
{
    uint8_t buf[64 << 10];
    const ssize_t n = ::recv(m_conn, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
        m_eof = true;
        return true;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            return true;
        }
        m_reset = m_reset || errno == ECONNRESET;
        *error = std::format("tcp peer: recv after {} bytes of the workload's stream: {}", m_received, std::strerror(errno));
        return false;
    }
    for (ssize_t i = 0; i < n; ++i) {
        const uint8_t expected = wl_byte_at(m_theirSeed, m_received + uint64_t(i));
        if (buf[i] != expected) {
            *error = std::format("tcp peer: byte {} of the workload's stream is 0x{:02x}, expected 0x{:02x}", m_received + uint64_t(i), buf[i], expected);
            return false;
        }
    }
    m_received += uint64_t(n);
    return true;
}

bool TcpPeer::sendSome(uint64_t limit, std::string *error)
{
    uint8_t buf[16 << 10];
    const size_t n = size_t(std::min<uint64_t>(sizeof buf, limit - m_sent));
    for (size_t i = 0; i < n; ++i) {
        buf[i] = wl_byte_at(m_mySeed, m_sent + i);
    }
    const ssize_t sent = ::send(m_conn, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) {
        m_sent += uint64_t(sent);
        return true;
    }
    if (sent < 0 && errno != EAGAIN && errno != EINTR) {
        m_reset = m_reset || errno == ECONNRESET;
        *error = std::format("tcp peer: send after {} bytes of our stream: {}", m_sent, std::strerror(errno));
        return false;
    }
    return true;
}

bool TcpPeer::exchange(double seconds, std::string *what, std::string *error)
{
    const auto deadline = after(seconds);
    const uint64_t sentBefore = m_sent, receivedBefore = m_received;
    while (m_sent < sentBefore + kOut || m_received < receivedBefore + kIn) {
        if (Clock::now() >= deadline) {
            *error = std::format("tcp peer: within {:.0f} s sent {} of {} bytes, received {} of at least {}", seconds, m_sent - sentBefore, kOut,
                                 m_received - receivedBefore, kIn);
            return false;
        }
        pollfd p {m_conn, short(POLLIN | (m_sent < sentBefore + kOut ? POLLOUT : 0)), 0};
        ::poll(&p, 1, 50);
        if (!receiveSome(error) || (m_sent < sentBefore + kOut && !sendSome(sentBefore + kOut, error))) {
            return false;
        }
        if (m_eof) {
            *error = std::format("tcp peer: the workload's end closed the connection after {} bytes", m_received);
            return false;
        }
    }
    // Silent from here on: all we sent acknowledged, nothing read, until the
    // root's stream has stopped arriving.
    int inq = -1;
    auto changed = Clock::now();
    for (;;) {
        const int outq = queueSize(m_conn, SIOCOUTQ);
        const int now = queueSize(m_conn, SIOCINQ);
        if (outq < 0 || now < 0) {
            *error = std::format("tcp peer: the sizes of our queues: {}", std::strerror(errno));
            return false;
        }
        if (now != inq) {
            inq = now;
            changed = Clock::now();
        }
        if (outq == 0 && Clock::now() - changed >= kStalled) {
            break;
        }
        if (Clock::now() >= deadline) {
            *error = std::format("tcp peer: not silent within {:.0f} s: {} bytes of ours unacknowledged, the root's stream still arriving ({} bytes here)",
                                 seconds, outq, now);
            return false;
        }
        ::usleep(10000);
    }
    *what = std::format("peer sent {} bytes, received {} (checked), then silent with {} bytes unread", m_sent - sentBefore, m_received - receivedBefore, inq);
    return true;
}

bool TcpPeer::sendIntoGap(double seconds, std::string *error)
{
    const uint64_t before = m_sent;
    std::string sendError;
    if (!sendSome(m_sent + 1000, &sendError) || m_sent == before) {
        *error = std::format("tcp peer: could not send into the gap: {}", sendError.empty() ? "nothing went" : sendError);
        return false;
    }
    const auto deadline = after(seconds);
    while (Clock::now() < deadline) {
        pollfd p {m_conn, POLLIN, 0};
        ::poll(&p, 1, 50);
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(m_conn, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
            m_reset = err == ECONNRESET;
            if (m_reset) { // SO_ERROR took it: later calls see a closed connection (EPIPE, end-of-file)
                return true;
            }
            *error = std::format("tcp peer: after sending into the gap: {}", std::strerror(err));
            return false;
        }
    }
    *error = std::format("tcp peer: sent {} bytes into the gap and no reset came back within {:.0f} s", m_sent - before, seconds);
    return false;
}

bool TcpPeer::converse(double seconds, std::string *error)
{
    const auto deadline = after(seconds);
    const uint64_t sentAtGo = m_sent, receivedAtGo = m_received;
    bool writing = true;
    while (writing || !m_eof) {
        if (Clock::now() >= deadline) {
            *error = std::format("tcp peer: the conversation after go did not end within {:.0f} s (sent {} of {} more, received {}, end-of-file {})", seconds,
                                 m_sent - sentAtGo, kMore, m_received - receivedAtGo, m_eof ? "seen" : "not seen");
            return false;
        }
        pollfd p {m_conn, short(POLLIN | (writing ? POLLOUT : 0)), 0};
        ::poll(&p, 1, 100);
        if (!m_eof && !receiveSome(error)) {
            return false;
        }
        if (writing) {
            if (!sendSome(sentAtGo + kMore, error)) {
                return false;
            }
            if (m_sent >= sentAtGo + kMore) {
                if (::shutdown(m_conn, SHUT_WR) != 0) {
                    *error = std::format("tcp peer: shutdown: {}", std::strerror(errno));
                    return false;
                }
                writing = false;
            }
        }
    }
    if (m_received < receivedAtGo + kMore) {
        *error = std::format("tcp peer: the workload's stream went on by {} bytes after go, expected at least {}", m_received - receivedAtGo, kMore);
        return false;
    }
    return true;
}

bool quietTcpConnections(pid_t pid, std::string *error)
{
    ::kill(pid, SIGSTOP);
    const auto until = after(2);
    for (;;) {
        std::ifstream in(std::format("/proc/{}/stat", pid));
        std::string line;
        std::getline(in, line);
        const size_t paren = line.rfind(')');
        if (paren != std::string::npos && paren + 2 < line.size() && (line[paren + 2] == 'T' || line[paren + 2] == 't')) {
            break;
        }
        if (Clock::now() >= until) {
            *error = std::format("pid {} did not stop within 2 s of SIGSTOP", pid);
            return false;
        }
        ::usleep(2000);
    }
    bool ok = true;
    for (const auto &[fd, sock] : tcpSocketsOf(pid)) {
        sockaddr_storage peer {};
        socklen_t len = sizeof peer;
        const int on = 1;
        sockaddr unspec {};
        unspec.sa_family = AF_UNSPEC;
        // Disconnected at once in repair mode (nothing sent, timers stopped),
        // as checkpoint --kill does, not when the process dies.
        if (ok && ::getpeername(sock, reinterpret_cast<sockaddr *>(&peer), &len) == 0 &&
            (::setsockopt(sock, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0 || ::connect(sock, &unspec, sizeof unspec) != 0)) {
            *error = std::format("TCP_REPAIR and disconnect of fd {} of {}: {}", fd, pid, std::strerror(errno));
            ok = false;
        }
        ::close(sock);
    }
    return ok;
}

bool tcpBuffersOf(pid_t pid, std::map<std::pair<pid_t, int>, TcpBuffers> *out, std::string *error)
{
    bool ok = true;
    for (const auto &[fd, sock] : tcpSocketsOf(pid)) {
        TcpBuffers b;
        socklen_t len = sizeof b.rcvbuf;
        if (::getsockopt(sock, SOL_SOCKET, SO_RCVBUF, &b.rcvbuf, &len) != 0 ||
            (len = sizeof b.sndbuf, ::getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &b.sndbuf, &len)) != 0) {
            *error = std::format("SO_RCVBUF/SO_SNDBUF of fd {} of {}: {}", fd, pid, std::strerror(errno));
            ok = false;
        }
        (*out)[{pid, fd}] = b;
        ::close(sock);
    }
    return ok;
}
