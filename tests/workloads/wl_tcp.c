// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// An established TCP connection on loopback with both ends in the tree and
// data in flight both ways (checkpointed with --tcp-established):
//   the root listens on 127.0.0.1 (fd 3, kept listening: the connection it
//   accepts shares its port), forks a child C that connects (C's fd 3,
//   TCP_NODELAY) and accepts it (the root's fd 4, O_NONBLOCK).
// Until go each end writes its own seeded byte stream as fast as the
// connection takes it and reads the other's slowly (1 KiB per step), so at
// any checkpoint both receive queues are full and both send queues hold
// bytes never sent.
// After go, each end: its addresses (own and peer's) as before, TCP_NODELAY
// on C's end, the listener still listening with nothing waiting; then it
// reads eagerly, checks every byte against the peer's stream at its position
// (nothing lost, repeated or changed), writes 256 KiB more of its own, shuts
// its sending side down and reads to end-of-file: the peer's stream must
// have gone on by at least 128 KiB after go.
// Sabotage: the root drops one byte of C's stream without counting it.
//
// With WL_TCP_PEER=PORT the root alone, its fd 3 connected to
// 127.0.0.1:PORT (TCP_NODELAY, O_NONBLOCK): the peer outside the tree (the
// harness, cr_cycles --tcp-peer, tests cr_tcp_peer*) plays C's part with
// C's stream, and after go writes 256 KiB more and shuts its sending side
// down as C would.

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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kMore = 256 << 10, kAtLeast = 128 << 10, kSlowRead = 1024, kChunk = 16 << 10 };

struct End {
    const char *who;
    int fd;
    uint64_t mySeed, peerSeed;
    uint64_t sent, received;
    bool mismatch; // reported once
    bool eof;
    struct sockaddr_in local, peer; // at setup
};

static struct End s_end;

static void sendSome(struct End *e)
{
    unsigned char buf[kChunk];
    for (size_t i = 0; i < sizeof buf; ++i) {
        buf[i] = wl_byte_at(e->mySeed, e->sent + i);
    }
    const ssize_t n = send(e->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
        e->sent += (uint64_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        wl_fail("%s: send after %llu bytes: %s", e->who, (unsigned long long)e->sent, strerror(errno));
        e->eof = true;
    }
}

// Reads up to MAX bytes and checks them against the peer's stream.
static void receiveSome(struct End *e, size_t max)
{
    unsigned char buf[64 << 10];
    if (max > sizeof buf) {
        max = sizeof buf;
    }
    const ssize_t n = recv(e->fd, buf, max, MSG_DONTWAIT);
    if (n == 0) {
        e->eof = true;
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            wl_fail("%s: recv after %llu bytes: %s", e->who, (unsigned long long)e->received, strerror(errno));
            e->eof = true;
        }
        return;
    }
    for (ssize_t i = 0; i < n && !e->mismatch; ++i) {
        if (buf[i] != wl_byte_at(e->peerSeed, e->received + (uint64_t)i)) {
            wl_fail("%s: byte %llu of the peer's stream differs (0x%02x, expected 0x%02x)", e->who, (unsigned long long)(e->received + (uint64_t)i), buf[i],
                    wl_byte_at(e->peerSeed, e->received + (uint64_t)i));
            e->mismatch = true;
        }
    }
    e->received += (uint64_t)n;
}

static void step(void)
{
    sendSome(&s_end);
    receiveSome(&s_end, kSlowRead);
    wl_check(!s_end.eof, "%s: the connection ended before go", s_end.who);
}

static bool sameAddress(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == b->sin_family && a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static void checkAddresses(const struct End *e)
{
    struct sockaddr_in local, peer;
    socklen_t len = sizeof local;
    memset(&local, 0, sizeof local);
    memset(&peer, 0, sizeof peer);
    wl_check(getsockname(e->fd, (struct sockaddr *)&local, &len) == 0 && sameAddress(&local, &e->local), "%s: local address port %u, expected %u", e->who,
             ntohs(local.sin_port), ntohs(e->local.sin_port));
    len = sizeof peer;
    wl_check(getpeername(e->fd, (struct sockaddr *)&peer, &len) == 0 && sameAddress(&peer, &e->peer), "%s: peer port %u, expected %u (%s)", e->who,
             ntohs(peer.sin_port), ntohs(e->peer.sin_port), strerror(errno));
    // Established, or close-wait when the peer got to go first and has
    // finished its part already (its end-of-file is here).
    struct tcp_info info;
    len = sizeof info;
    memset(&info, 0, sizeof info);
    const int got = getsockopt(e->fd, IPPROTO_TCP, TCP_INFO, &info, &len);
    wl_check(got == 0 && (info.tcpi_state == 1 || info.tcpi_state == 8), "%s: TCP state %u, expected 1 (established) or 8 (close-wait)%s", e->who,
             info.tcpi_state, got == 0 ? "" : ": TCP_INFO failed");
}

// After go: the rest of the conversation, eagerly, to end-of-file both ways.
static void finish(struct End *e)
{
    checkAddresses(e);
    const uint64_t sentAtGo = e->sent, receivedAtGo = e->received;
    bool writing = true;
    const uint64_t deadline = wl_now_ns() + 30ull * 1000000000ull;
    while ((writing || !e->eof) && wl_now_ns() < deadline) {
        struct pollfd p = {e->fd, (short)(POLLIN | (writing ? POLLOUT : 0)), 0};
        poll(&p, 1, 100);
        if (!e->eof) {
            receiveSome(e, 64 << 10);
        }
        if (writing) {
            sendSome(e);
            if (e->sent >= sentAtGo + kMore) {
                wl_check(shutdown(e->fd, SHUT_WR) == 0, "%s: shutdown: %s", e->who, strerror(errno));
                writing = false;
            }
        }
    }
    wl_check(!writing && e->eof, "%s: the conversation did not end within 30 s (sent %llu of %llu more, end-of-file %s)", e->who,
             (unsigned long long)(e->sent - sentAtGo), (unsigned long long)kMore, e->eof ? "seen" : "not seen");
    wl_check(e->received >= receivedAtGo + kAtLeast, "%s: the peer's stream went on by %llu bytes after go, expected at least %u", e->who,
             (unsigned long long)(e->received - receivedAtGo), (unsigned)kAtLeast);
}

static void sabotage(void)
{
    char byte;
    struct pollfd p = {s_end.fd, POLLIN, 0};
    if (poll(&p, 1, 2000) == 1) {
        (void)recv(s_end.fd, &byte, 1, 0); // one byte gone, not counted
    }
}

static struct sockaddr_in nameOf(int fd, bool peer)
{
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    socklen_t len = sizeof in;
    if ((peer ? getpeername(fd, (struct sockaddr *)&in, &len) : getsockname(fd, (struct sockaddr *)&in, &len)) != 0) {
        wl_die("%s of fd %d: %s", peer ? "getpeername" : "getsockname", fd, strerror(errno));
    }
    return in;
}

// WL_TCP_PEER: the root's end of a connection to a peer outside the tree.
static int peerMain(unsigned port, uint64_t rootSeed, uint64_t childSeed)
{
    struct sockaddr_in peer;
    memset(&peer, 0, sizeof peer);
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer.sin_port = htons((uint16_t)port);
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    if (c != 3 || setsockopt(3, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 || connect(3, (const struct sockaddr *)&peer, sizeof peer) != 0 ||
        fcntl(3, F_SETFL, O_NONBLOCK) != 0) {
        wl_die("connect fd 3 (got fd %d) to port %u: %s", c, port, strerror(errno));
    }
    s_end = (struct End) {.who = "root", .fd = 3, .mySeed = rootSeed, .peerSeed = childSeed};
    s_end.local = nameOf(3, false);
    s_end.peer = nameOf(3, true);
    wl_run(step, sabotage, 5);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    wl_check(getsockopt(3, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0 && nodelay == 1, "root: TCP_NODELAY lost");
    wl_check((fcntl(3, F_GETFL) & O_NONBLOCK) != 0, "root: fd 3 lost O_NONBLOCK");
    finish(&s_end);
    return wl_finish();
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "tcp");
    const uint64_t rootSeed = wl_derive(wl_seed(), 1), childSeed = wl_derive(wl_seed(), 2);
    const char *peerPort = getenv("WL_TCP_PEER");
    if (peerPort && *peerPort) {
        return peerMain((unsigned)strtoul(peerPort, NULL, 10), rootSeed, childSeed);
    }

    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener != 3 || bind(3, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(3, 4) != 0) {
        wl_die("listen on fd 3 (got fd %d): %s", listener, strerror(errno));
    }
    const struct sockaddr_in listening = nameOf(3, false);

    const pid_t child = fork();
    if (child < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (child == 0) {
        close(3);
        const int c = socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        if (c != 3 || setsockopt(3, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
            connect(3, (const struct sockaddr *)&listening, sizeof listening) != 0) {
            wl_die("C: connect on fd 3 (got fd %d): %s", c, strerror(errno));
        }
        s_end = (struct End) {.who = "C", .fd = 3, .mySeed = childSeed, .peerSeed = rootSeed};
        s_end.local = nameOf(3, false);
        s_end.peer = nameOf(3, true);
        while (!wl_go()) {
            if (wl_expired()) {
                wl_fail("C: no go within the workload's lifetime");
                _exit(wl_finish_as("tcp.C"));
            }
            step();
            wl_sleep_ms(5);
        }
        int nodelay = 0;
        socklen_t len = sizeof nodelay;
        wl_check(getsockopt(3, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0 && nodelay == 1, "C: TCP_NODELAY lost");
        finish(&s_end);
        _exit(wl_finish_as("tcp.C"));
    }
    const int a = accept4(3, NULL, NULL, SOCK_NONBLOCK);
    if (a != 4) {
        wl_die("accept on fd 4 (got fd %d): %s", a, strerror(errno));
    }
    s_end = (struct End) {.who = "root", .fd = 4, .mySeed = rootSeed, .peerSeed = childSeed};
    s_end.local = nameOf(4, false);
    s_end.peer = nameOf(4, true);

    wl_run(step, sabotage, 5);

    int listens = 0;
    socklen_t len = sizeof listens;
    wl_check(getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listens, &len) == 0 && listens == 1, "root: fd 3 no longer listening");
    const struct sockaddr_in still = nameOf(3, false);
    wl_check(sameAddress(&still, &listening), "root: fd 3 listens on port %u, expected %u", ntohs(still.sin_port), ntohs(listening.sin_port));
    wl_check((fcntl(4, F_GETFL) & O_NONBLOCK) != 0, "root: fd 4 lost O_NONBLOCK");
    finish(&s_end);
    wl_collect(child, "C", "tcp.C");
    return wl_finish();
}
