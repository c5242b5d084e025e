// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Unix sockets that are no pair: fd 3 a stream socket listening on
// STATEDIR/sock with a seeded backlog of 1..6 (O_NONBLOCK); fd 4 a datagram
// socket bound to STATEDIR/dgram, not connected, SO_PASSCRED; fd 5 a stream
// socket never bound or connected (FD_CLOEXEC); fd 6 a seqpacket socket
// listening on an abstract name made from the pid and the seed; fd 7 a
// client connected to STATEDIR/sock and fd 8 its connection, accepted from
// fd 3, with 3000 seeded bytes waiting at 7 and 17 at 8 (restored as a
// pair: the names are not kept, a caveat).
// After go: names, types, listening state and flags; fd 3 queues exactly
// backlog + 1 connections (the kernel's rule), accepts them and gets their
// bytes; fd 5 connects to STATEDIR/sock; a datagram sent to STATEDIR/dgram
// arrives at fd 4 with the sender's credentials; a connection to the
// abstract name is accepted by fd 6 with its packet; the bytes waiting at 7
// and 8 arrive, and more go both ways.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int s_backlog;
static struct sockaddr_un s_sock, s_dgram, s_abstract;
static socklen_t s_abstractLen;

static int opt(int fd, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, name, &v, &len) == 0 ? v : -1;
}

static socklen_t pathAddress(struct sockaddr_un *sun, const char *rel)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    wl_path(sun->sun_path, sizeof sun->sun_path, rel);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
}

static void make(int want, int type, const struct sockaddr_un *name, socklen_t len)
{
    const int fd = socket(AF_UNIX, type, 0);
    if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd) != 0))) {
        wl_die("socket for fd %d: %s", want, strerror(errno));
    }
    if (name && bind(want, (const struct sockaddr *)name, len) != 0) {
        wl_die("bind fd %d: %s", want, strerror(errno));
    }
}

static bool named(int fd, const struct sockaddr_un *want, socklen_t wantLen)
{
    struct sockaddr_un got;
    memset(&got, 0, sizeof got);
    socklen_t len = sizeof got;
    return getsockname(fd, (struct sockaddr *)&got, &len) == 0 && len == wantLen && memcmp(&got, want, wantLen) == 0;
}

static void sabotage(void)
{
    listen(3, 7);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "unixlisten");
    uint64_t state = wl_derive(wl_seed(), 1);
    s_backlog = 1 + (int)(wl_next(&state) % 6);
    const socklen_t sockLen = pathAddress(&s_sock, "sock");
    const socklen_t dgramLen = pathAddress(&s_dgram, "dgram");
    memset(&s_abstract, 0, sizeof s_abstract);
    s_abstract.sun_family = AF_UNIX;
    const int n = snprintf(s_abstract.sun_path + 1, sizeof s_abstract.sun_path - 1, "cryopod-wl-%d-%llx", (int)getpid(), (unsigned long long)wl_seed());
    s_abstractLen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);

    make(3, SOCK_STREAM, &s_sock, sockLen);
    if (listen(3, s_backlog) != 0 || fcntl(3, F_SETFL, O_NONBLOCK) != 0) {
        wl_die("listen fd 3: %s", strerror(errno));
    }
    make(4, SOCK_DGRAM, &s_dgram, dgramLen);
    const int one = 1;
    setsockopt(4, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    make(5, SOCK_STREAM, NULL, 0);
    fcntl(5, F_SETFD, FD_CLOEXEC);
    make(6, SOCK_SEQPACKET, &s_abstract, s_abstractLen);
    if (listen(6, 2) != 0) {
        wl_die("listen fd 6: %s", strerror(errno));
    }
    const int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (client != 7 || connect(7, (struct sockaddr *)&s_sock, sockLen) != 0 || accept(3, NULL, NULL) != 8) {
        wl_die("connection 7/8: %s", strerror(errno));
    }
    uint8_t bytes[3000];
    wl_fill(bytes, sizeof bytes, wl_derive(wl_seed(), 2));
    if (write(8, bytes, sizeof bytes) != (ssize_t)sizeof bytes || write(7, "hello from fd 7!!", 17) != 17) {
        wl_die("queue on 7/8: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 50);

    wl_check(opt(3, SO_TYPE) == SOCK_STREAM && opt(4, SO_TYPE) == SOCK_DGRAM && opt(5, SO_TYPE) == SOCK_STREAM && opt(6, SO_TYPE) == SOCK_SEQPACKET,
             "socket types differ");
    wl_check(opt(3, SO_ACCEPTCONN) == 1 && opt(6, SO_ACCEPTCONN) == 1 && opt(4, SO_ACCEPTCONN) == 0 && opt(5, SO_ACCEPTCONN) == 0, "listening state differs");
    wl_check(named(3, &s_sock, sockLen), "fd 3 not bound to STATEDIR/sock");
    wl_check(named(4, &s_dgram, dgramLen), "fd 4 not bound to STATEDIR/dgram");
    wl_check(named(6, &s_abstract, s_abstractLen), "fd 6 not bound to its abstract name");
    struct sockaddr_un none;
    socklen_t noneLen = sizeof none;
    wl_check(getsockname(5, (struct sockaddr *)&none, &noneLen) == 0 && noneLen == sizeof(sa_family_t), "fd 5 bound");
    wl_check(opt(4, SO_PASSCRED) == 1 && opt(3, SO_PASSCRED) == 0, "SO_PASSCRED differs");
    wl_check((fcntl(3, F_GETFL) & O_NONBLOCK) && !(fcntl(4, F_GETFL) & O_NONBLOCK), "O_NONBLOCK differs");
    wl_check((fcntl(5, F_GETFD) & FD_CLOEXEC) && !(fcntl(3, F_GETFD) & FD_CLOEXEC), "FD_CLOEXEC differs");

    // Exactly backlog + 1 connections wait at fd 3.
    int clients[16];
    int queued = 0;
    for (int i = 0; i < 12; ++i) {
        clients[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(clients[i], (struct sockaddr *)&s_sock, sockLen) != 0) {
            close(clients[i]);
            break;
        }
        ++queued;
    }
    wl_check(queued == s_backlog + 1, "fd 3 queued %d connections, expected backlog %d + 1", queued, s_backlog);
    int accepted = 0;
    for (int i = 0; i < queued; ++i) {
        const int a = accept4(3, NULL, NULL, SOCK_CLOEXEC);
        char byte = 0;
        if (a >= 0 && write(clients[i], "u", 1) == 1 && read(a, &byte, 1) == 1 && byte == 'u') {
            ++accepted;
        }
        if (a >= 0) {
            close(a);
        }
        close(clients[i]);
    }
    wl_check(accepted == queued, "fd 3: %d of %d connections accepted with their byte", accepted, queued);
    wl_check(connect(5, (struct sockaddr *)&s_sock, sockLen) == 0, "fd 5 cannot connect to STATEDIR/sock: %s", strerror(errno));
    const int a5 = accept4(3, NULL, NULL, SOCK_CLOEXEC);
    wl_check(a5 >= 0, "fd 5's connection not accepted");
    if (a5 >= 0) {
        close(a5);
    }
    // A datagram to STATEDIR/dgram, with credentials.
    const int d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    wl_check(sendto(d, "dg", 2, 0, (struct sockaddr *)&s_dgram, dgramLen) == 2, "send to STATEDIR/dgram: %s", strerror(errno));
    char buf[64] = {0};
    char control[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct pollfd p4 = {4, POLLIN, 0};
    const bool got = poll(&p4, 1, 1000) == 1 && recvmsg(4, &msg, 0) == 2 && memcmp(buf, "dg", 2) == 0;
    const struct cmsghdr *c = got ? CMSG_FIRSTHDR(&msg) : NULL;
    struct ucred cred = {0, 0, 0};
    if (c && c->cmsg_type == SCM_CREDENTIALS) {
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
    }
    wl_check(got && cred.pid == getpid(), "fd 4 did not receive the datagram with the sender's credentials");
    close(d);
    // The abstract name.
    const int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    wl_check(connect(s, (struct sockaddr *)&s_abstract, s_abstractLen) == 0 && send(s, "pkt", 3, 0) == 3, "connect to the abstract name: %s", strerror(errno));
    const int a6 = accept4(6, NULL, NULL, SOCK_CLOEXEC);
    memset(buf, 0, sizeof buf);
    wl_check(a6 >= 0 && recv(a6, buf, sizeof buf, 0) == 3 && memcmp(buf, "pkt", 3) == 0, "fd 6 did not accept the packet's connection");
    // The connection 7/8 with its bytes.
    uint8_t got7[3000];
    size_t have = 0;
    while (have < sizeof got7) {
        const ssize_t r = recv(7, got7 + have, sizeof got7 - have, MSG_DONTWAIT);
        if (r <= 0) {
            break;
        }
        have += (size_t)r;
    }
    wl_check(have == sizeof got7 && wl_mismatch(got7, sizeof got7, wl_derive(wl_seed(), 2)) == sizeof got7, "fd 7: %zu of 3000 seeded bytes waiting", have);
    memset(buf, 0, sizeof buf);
    wl_check(recv(8, buf, sizeof buf, MSG_DONTWAIT) == 17 && memcmp(buf, "hello from fd 7!!", 17) == 0, "fd 8: the 17 bytes from fd 7 not waiting");
    memset(buf, 0, sizeof buf);
    wl_check(write(7, "ping", 4) == 4 && recv(8, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0, "fd 7 -> fd 8 after go");
    memset(buf, 0, sizeof buf);
    wl_check(write(8, "pong", 4) == 4 && recv(7, buf, sizeof buf, 0) == 4 && memcmp(buf, "pong", 4) == 0, "fd 8 -> fd 7 after go");
    return wl_finish();
}
