// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TCP and UDP sockets, IPv4 and IPv6, on loopback, none of them a connection:
// fd 3 TCP listening on 127.0.0.1 (port from the kernel) with a seeded
// backlog of 2..9, SO_REUSEADDR, TCP_NODELAY, O_NONBLOCK; fd 4 TCPv6
// listening on ::1 with IPV6_V6ONLY, SO_REUSEPORT, SO_RCVBUF 96 KiB; fd 5 TCP
// bound to 127.0.0.1, not listening, SO_KEEPALIVE, FD_CLOEXEC; fd 6 TCPv6
// never bound, SO_SNDBUF 48 KiB; fd 7 UDP bound to 127.0.0.1, SO_BROADCAST;
// fd 8 UDPv6 bound to ::1 and connected to fd 9, UDPv6 bound to ::1.
// After go: every address, port, family, type, protocol and option against
// what was set (ports: the kernel's answer before the checkpoint); fd 3
// queues exactly backlog + 1 connections (the kernel's rule) and hands them
// over with their bytes; a connection to fd 4 over ::1; fd 5 can listen on
// its port; fd 6 is unbound; a datagram to fd 7's port arrives; a datagram
// sent on fd 8 arrives at fd 9 from fd 8's address.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_storage s_name[10];
static int s_backlog;

static int opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) != 0) {
        return -1;
    }
    return v;
}

static void setopt(int fd, int level, int name, int value)
{
    if (setsockopt(fd, level, name, &value, sizeof value) != 0) {
        wl_die("setsockopt %d/%d on fd %d: %s", level, name, fd, strerror(errno));
    }
}

static void make(int want, int family, int type)
{
    const int fd = socket(family, type, 0);
    if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd) != 0))) {
        wl_die("socket for fd %d: %s", want, strerror(errno));
    }
}

static void bindLoopback(int fd, int family)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        wl_die("bind fd %d: %s", fd, strerror(errno));
    }
}

static socklen_t nameLen(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static unsigned portOf(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port) : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool sameName(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return a->ss_family == b->ss_family && memcmp(a, b, nameLen(a)) == 0;
}

static void checkName(int fd)
{
    struct sockaddr_storage now;
    memset(&now, 0, sizeof now);
    socklen_t len = sizeof now;
    wl_check(getsockname(fd, (struct sockaddr *)&now, &len) == 0 && sameName(&now, &s_name[fd]),
             "fd %d: bound to port %u, expected port %u (or another address)", fd, portOf(&now), portOf(&s_name[fd]));
}

static void checkKind(int fd, int family, int type, int protocol)
{
    wl_check(opt(fd, SOL_SOCKET, SO_DOMAIN) == family && opt(fd, SOL_SOCKET, SO_TYPE) == type && opt(fd, SOL_SOCKET, SO_PROTOCOL) == protocol,
             "fd %d: domain %d type %d protocol %d, expected %d %d %d", fd, opt(fd, SOL_SOCKET, SO_DOMAIN), opt(fd, SOL_SOCKET, SO_TYPE),
             opt(fd, SOL_SOCKET, SO_PROTOCOL), family, type, protocol);
}

// A client connecting to NAME without waiting; true once connected within MS.
static int connectTo(const struct sockaddr_storage *name, unsigned ms, bool *connected)
{
    const int c = socket(name->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c < 0) {
        return -1;
    }
    if (connect(c, (const struct sockaddr *)name, nameLen(name)) != 0 && errno != EINPROGRESS) {
        *connected = false;
        return c;
    }
    struct pollfd p = {c, POLLOUT, 0};
    *connected = poll(&p, 1, (int)ms) == 1 && opt(c, SOL_SOCKET, SO_ERROR) == 0;
    return c;
}

// Waits up to MS for a connection on listener FD and accepts it.
static int acceptOne(int fd, unsigned ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)ms) != 1) {
        return -1;
    }
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

static void sabotage(void)
{
    setopt(3, IPPROTO_TCP, TCP_NODELAY, 0);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "inet");
    uint64_t state = wl_derive(wl_seed(), 1);
    s_backlog = 2 + (int)(wl_next(&state) % 8);

    make(3, AF_INET, SOCK_STREAM);
    setopt(3, SOL_SOCKET, SO_REUSEADDR, 1);
    setopt(3, IPPROTO_TCP, TCP_NODELAY, 1);
    bindLoopback(3, AF_INET);
    if (listen(3, s_backlog) != 0 || fcntl(3, F_SETFL, O_NONBLOCK) != 0) {
        wl_die("listen fd 3: %s", strerror(errno));
    }
    make(4, AF_INET6, SOCK_STREAM);
    setopt(4, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    setopt(4, SOL_SOCKET, SO_REUSEPORT, 1);
    setopt(4, SOL_SOCKET, SO_RCVBUF, 96 << 10);
    bindLoopback(4, AF_INET6);
    if (listen(4, 3) != 0) {
        wl_die("listen fd 4: %s", strerror(errno));
    }
    make(5, AF_INET, SOCK_STREAM);
    setopt(5, SOL_SOCKET, SO_KEEPALIVE, 1);
    bindLoopback(5, AF_INET);
    fcntl(5, F_SETFD, FD_CLOEXEC);
    make(6, AF_INET6, SOCK_STREAM);
    setopt(6, SOL_SOCKET, SO_SNDBUF, 48 << 10);
    make(7, AF_INET, SOCK_DGRAM);
    setopt(7, SOL_SOCKET, SO_BROADCAST, 1);
    bindLoopback(7, AF_INET);
    make(8, AF_INET6, SOCK_DGRAM);
    bindLoopback(8, AF_INET6);
    make(9, AF_INET6, SOCK_DGRAM);
    bindLoopback(9, AF_INET6);
    for (int fd = 3; fd <= 9; ++fd) {
        socklen_t len = sizeof s_name[fd];
        if (getsockname(fd, (struct sockaddr *)&s_name[fd], &len) != 0) {
            wl_die("getsockname %d: %s", fd, strerror(errno));
        }
    }
    if (connect(8, (struct sockaddr *)&s_name[9], nameLen(&s_name[9])) != 0) {
        wl_die("connect fd 8: %s", strerror(errno));
    }
    const int rcvbuf4 = opt(4, SOL_SOCKET, SO_RCVBUF);
    const int sndbuf6 = opt(6, SOL_SOCKET, SO_SNDBUF);

    wl_run(NULL, sabotage, 50);

    checkKind(3, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    checkKind(4, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    checkKind(5, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    checkKind(6, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    checkKind(7, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    checkKind(8, AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    checkKind(9, AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    for (int fd = 3; fd <= 9; ++fd) {
        if (fd != 6) {
            checkName(fd);
        }
    }
    struct sockaddr_storage none;
    memset(&none, 0, sizeof none);
    socklen_t len = sizeof none;
    wl_check(getsockname(6, (struct sockaddr *)&none, &len) == 0 && portOf(&none) == 0, "fd 6: bound to port %u, expected unbound", portOf(&none));
    wl_check(opt(3, SOL_SOCKET, SO_ACCEPTCONN) == 1 && opt(4, SOL_SOCKET, SO_ACCEPTCONN) == 1, "fd 3 or 4 no longer listening");
    wl_check(opt(5, SOL_SOCKET, SO_ACCEPTCONN) == 0, "fd 5 listening");
    wl_check(opt(3, SOL_SOCKET, SO_REUSEADDR) == 1 && opt(4, SOL_SOCKET, SO_REUSEADDR) == 0, "SO_REUSEADDR differs");
    wl_check(opt(4, SOL_SOCKET, SO_REUSEPORT) == 1 && opt(3, SOL_SOCKET, SO_REUSEPORT) == 0, "SO_REUSEPORT differs");
    wl_check(opt(3, IPPROTO_TCP, TCP_NODELAY) == 1 && opt(5, IPPROTO_TCP, TCP_NODELAY) == 0, "TCP_NODELAY differs (fd 3 %d, fd 5 %d)",
             opt(3, IPPROTO_TCP, TCP_NODELAY), opt(5, IPPROTO_TCP, TCP_NODELAY));
    wl_check(opt(4, IPPROTO_IPV6, IPV6_V6ONLY) == 1 && opt(6, IPPROTO_IPV6, IPV6_V6ONLY) == 0, "IPV6_V6ONLY differs");
    wl_check(opt(5, SOL_SOCKET, SO_KEEPALIVE) == 1 && opt(3, SOL_SOCKET, SO_KEEPALIVE) == 0, "SO_KEEPALIVE differs");
    wl_check(opt(7, SOL_SOCKET, SO_BROADCAST) == 1 && opt(9, SOL_SOCKET, SO_BROADCAST) == 0, "SO_BROADCAST differs");
    wl_check(opt(4, SOL_SOCKET, SO_RCVBUF) == rcvbuf4, "fd 4: SO_RCVBUF %d, expected %d", opt(4, SOL_SOCKET, SO_RCVBUF), rcvbuf4);
    wl_check(opt(6, SOL_SOCKET, SO_SNDBUF) == sndbuf6, "fd 6: SO_SNDBUF %d, expected %d", opt(6, SOL_SOCKET, SO_SNDBUF), sndbuf6);
    wl_check((fcntl(3, F_GETFL) & O_NONBLOCK) && !(fcntl(4, F_GETFL) & O_NONBLOCK), "O_NONBLOCK differs");
    wl_check((fcntl(5, F_GETFD) & FD_CLOEXEC) && !(fcntl(3, F_GETFD) & FD_CLOEXEC), "FD_CLOEXEC differs");

    // fd 3 queues backlog + 1 connections, no more.
    int clients[16];
    int queued = 0;
    for (int i = 0; i < 12; ++i) {
        bool connected = false;
        clients[i] = connectTo(&s_name[3], i <= s_backlog ? 2000 : 300, &connected);
        if (!connected) {
            close(clients[i]);
            break;
        }
        ++queued;
    }
    wl_check(queued == s_backlog + 1, "fd 3 queued %d connections, expected backlog %d + 1", queued, s_backlog);
    int accepted = 0;
    for (int i = 0; i < queued; ++i) {
        const int a = acceptOne(3, 1000);
        char byte = 0;
        if (a >= 0 && write(clients[i], "x", 1) == 1) {
            struct pollfd p = {a, POLLIN, 0};
            if (poll(&p, 1, 1000) == 1 && read(a, &byte, 1) == 1 && byte == 'x') {
                ++accepted;
            }
        }
        if (a >= 0) {
            close(a);
        }
        close(clients[i]);
    }
    wl_check(accepted == queued, "fd 3: %d of %d queued connections accepted with their byte", accepted, queued);
    // fd 4 over ::1.
    bool connected = false;
    int c = connectTo(&s_name[4], 2000, &connected);
    int a = connected ? acceptOne(4, 1000) : -1;
    wl_check(a >= 0, "no connection to fd 4 over ::1");
    if (a >= 0) {
        close(a);
    }
    close(c);
    // fd 5 can listen on its port.
    wl_check(listen(5, 1) == 0, "fd 5 cannot listen: %s", strerror(errno));
    checkName(5);
    // A datagram to fd 7.
    const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char buf[64] = {0};
    wl_check(sendto(u, "to seven", 8, 0, (struct sockaddr *)&s_name[7], nameLen(&s_name[7])) == 8, "send to fd 7's port: %s", strerror(errno));
    struct pollfd p7 = {7, POLLIN, 0};
    wl_check(poll(&p7, 1, 1000) == 1 && recv(7, buf, sizeof buf, 0) == 8 && memcmp(buf, "to seven", 8) == 0, "fd 7 did not receive the datagram");
    close(u);
    // fd 8 -> fd 9.
    struct sockaddr_storage peer, from;
    memset(&peer, 0, sizeof peer);
    memset(&from, 0, sizeof from);
    len = sizeof peer;
    wl_check(getpeername(8, (struct sockaddr *)&peer, &len) == 0 && sameName(&peer, &s_name[9]), "fd 8 not connected to fd 9's address");
    wl_check(send(8, "eight", 5, 0) == 5, "send on fd 8: %s", strerror(errno));
    struct pollfd p9 = {9, POLLIN, 0};
    len = sizeof from;
    memset(buf, 0, sizeof buf);
    wl_check(poll(&p9, 1, 1000) == 1 && recvfrom(9, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) == 5 && memcmp(buf, "eight", 5) == 0 &&
                 sameName(&from, &s_name[8]),
             "fd 9 did not receive fd 8's datagram from fd 8's address");
    return wl_finish();
}
