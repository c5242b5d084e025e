// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Unix socket pairs inside the process, with data queued in them:
//   fds 3/4: SOCK_STREAM; 100000 seeded bytes sent from 3 wait at 4 (the
//     first 700 read again), 5000 sent from 4 wait at 3; 4 is O_NONBLOCK and
//     has SO_PASSCRED; fd 9 is a dup of 3;
//   fds 5/6: SOCK_DGRAM; 7 datagrams of seeded sizes (one empty) wait at 6;
//     5 has SO_SNDBUF 64 KiB (reported 128 KiB);
//   fds 7/8: SOCK_SEQPACKET; 3 packets wait at 8, then 7 was shut down for
//     writing;
//   fd 10: SOCK_STREAM whose peer sent 3000 bytes and was closed;
//   fd 11: SOCK_DGRAM whose peer sent 2 datagrams and was closed.
// After go: types (SO_TYPE), the pairs connected to each other (a byte each
// way), every queued byte and every message boundary, then nothing more
// (EAGAIN; end of file at 8 after its packets, EPIPE when 7 writes; 10 reads
// its bytes, then end of file, and cannot send; 11 reads its datagrams, then
// EAGAIN, and its send is refused);
// O_NONBLOCK, SO_PASSCRED, SO_SNDBUF; 3 and 9 one open file.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { kStream = 100000, kStreamRead = 700, kBack = 5000, kDatagrams = 7, kPackets = 3 };

static unsigned char s_stream[kStream], s_back[kBack];
static unsigned char s_datagram[kDatagrams][3000];
static size_t s_datagramSize[kDatagrams];
static unsigned char s_packet[kPackets][500];

static void makePair(int type, int a, int b)
{
    int sv[2];
    if (socketpair(AF_UNIX, type, 0, sv) != 0) {
        wl_die("socketpair: %s", strerror(errno));
    }
    wl_place_pair(sv, a, b);
}

static void sendAll(int fd, const void *p, size_t n)
{
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0) {
            wl_die("send on fd %d: %s", fd, strerror(errno));
        }
        c += w;
        n -= (size_t)w;
    }
}

static void sabotage(void)
{
    unsigned char b;
    if (recv(6, &b, 1, MSG_DONTWAIT) < 0) {
        wl_fail("sabotage: recv failed");
    }
}

static int intOption(int fd, int option)
{
    int v = -1;
    socklen_t len = sizeof v;
    getsockopt(fd, SOL_SOCKET, option, &v, &len);
    return v;
}

// Reads exactly n stream bytes from fd (which may be non-blocking: polls).
static size_t readStream(int fd, unsigned char *p, size_t n)
{
    size_t done = 0;
    for (int spins = 0; done < n && spins < 1000; ++spins) {
        ssize_t r = recv(fd, p + done, n - done, MSG_DONTWAIT);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            break;
        }
    }
    return done;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "socketpair");
    signal(SIGPIPE, SIG_IGN);
    wl_fill(s_stream, sizeof s_stream, wl_derive(wl_seed(), 1));
    wl_fill(s_back, sizeof s_back, wl_derive(wl_seed(), 2));
    uint64_t sizes = wl_derive(wl_seed(), 3);
    for (int i = 0; i < kDatagrams; ++i) {
        s_datagramSize[i] = i == 3 ? 0 : 1 + wl_next(&sizes) % sizeof s_datagram[i];
        wl_fill(s_datagram[i], sizeof s_datagram[i], wl_derive(wl_seed(), 10 + (uint64_t)i));
    }
    for (int i = 0; i < kPackets; ++i) {
        wl_fill(s_packet[i], sizeof s_packet[i], wl_derive(wl_seed(), 20 + (uint64_t)i));
    }

    makePair(SOCK_STREAM, 3, 4);
    makePair(SOCK_DGRAM, 5, 6);
    makePair(SOCK_SEQPACKET, 7, 8);
    sendAll(3, s_stream, kStream);
    sendAll(4, s_back, kBack);
    unsigned char first[kStreamRead];
    if (readStream(4, first, kStreamRead) != kStreamRead) {
        wl_die("reading the first stream bytes failed");
    }
    fcntl(4, F_SETFL, O_NONBLOCK);
    const int one = 1, sndbuf = 64 * 1024;
    setsockopt(4, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    setsockopt(5, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (dup2(3, 9) != 9) {
        wl_die("dup2: %s", strerror(errno));
    }
    for (int i = 0; i < kDatagrams; ++i) {
        if (send(5, s_datagram[i], s_datagramSize[i], 0) != (ssize_t)s_datagramSize[i]) {
            wl_die("datagram %d: %s", i, strerror(errno));
        }
    }
    for (int i = 0; i < kPackets; ++i) {
        if (send(7, s_packet[i], 100 + 100 * (size_t)i, 0) != (ssize_t)(100 + 100 * i)) {
            wl_die("packet %d: %s", i, strerror(errno));
        }
    }
    shutdown(7, SHUT_WR);
    makePair(SOCK_STREAM, 10, 12);
    sendAll(12, s_back, 3000);
    close(12);
    makePair(SOCK_DGRAM, 11, 12);
    if (send(12, s_packet[0], 10, 0) != 10 || send(12, s_packet[1], 20, 0) != 20) {
        wl_die("datagrams to fd 11: %s", strerror(errno));
    }
    close(12);

    wl_run(NULL, sabotage, 10);

    wl_check(intOption(3, SO_TYPE) == SOCK_STREAM && intOption(6, SO_TYPE) == SOCK_DGRAM && intOption(8, SO_TYPE) == SOCK_SEQPACKET, "socket types %d, %d, %d",
             intOption(3, SO_TYPE), intOption(6, SO_TYPE), intOption(8, SO_TYPE));
    wl_check((fcntl(4, F_GETFL) & O_NONBLOCK) && !(fcntl(3, F_GETFL) & O_NONBLOCK), "O_NONBLOCK differs");
    wl_check(intOption(4, SO_PASSCRED) == 1 && intOption(3, SO_PASSCRED) == 0, "SO_PASSCRED differs");
    wl_check(intOption(5, SO_SNDBUF) == 2 * sndbuf, "fd 5: SO_SNDBUF %d, expected %d", intOption(5, SO_SNDBUF), 2 * sndbuf);
    wl_check(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 3, 9) == 0, "fds 3 and 9 are no longer one open file");

    // The stream, both ways, then nothing.
    static unsigned char got[kStream];
    size_t n = readStream(4, got, kStream - kStreamRead);
    wl_check(n == kStream - kStreamRead && memcmp(got, s_stream + kStreamRead, n) == 0, "fd 4: %zu of %d queued bytes read back right", n,
             kStream - kStreamRead);
    n = readStream(3, got, kBack);
    wl_check(n == kBack && memcmp(got, s_back, kBack) == 0, "fd 3: %zu of %d queued bytes read back right", n, kBack);
    errno = 0;
    wl_check(recv(4, got, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN, "fd 4: more bytes than were queued");
    unsigned char x = 0x42, y = 0;
    wl_check(send(9, &x, 1, 0) == 1 && recv(4, &y, 1, 0) == 1 && y == 0x42, "fds 9/4 are not connected");

    // Datagrams: each one whole, in order.
    for (int i = 0; i < kDatagrams; ++i) {
        ssize_t r = recv(6, got, sizeof got, MSG_DONTWAIT);
        if (!wl_check(r == (ssize_t)s_datagramSize[i] && memcmp(got, s_datagram[i], s_datagramSize[i]) == 0, "datagram %d: %zd bytes, expected %zu", i, r,
                      s_datagramSize[i])) {
            break;
        }
    }
    errno = 0;
    wl_check(recv(6, got, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN, "fd 6: more datagrams than were queued");
    wl_check(send(6, &x, 1, 0) == 1 && recv(5, &y, 1, 0) == 1, "fds 5/6 are not connected");

    // Packets, then end of file; the writer is shut down.
    for (int i = 0; i < kPackets; ++i) {
        ssize_t r = recv(8, got, sizeof got, MSG_DONTWAIT);
        wl_check(r == 100 + 100 * i && memcmp(got, s_packet[i], (size_t)r > 0 ? (size_t)r : 0) == 0, "packet %d: %zd bytes", i, r);
    }
    wl_check(recv(8, got, 1, MSG_DONTWAIT) == 0, "fd 8: no end of file after the packets");
    errno = 0;
    wl_check(send(7, &x, 1, MSG_NOSIGNAL) == -1 && errno == EPIPE, "fd 7 can still send (%s)", strerror(errno));
    wl_check(send(8, &x, 1, 0) == 1 && recv(7, &y, 1, 0) == 1, "fd 8 cannot send to 7");

    // Peers closed: what they sent, then end of file / nothing; no sending.
    n = readStream(10, got, sizeof got);
    wl_check(n == 3000 && memcmp(got, s_back, 3000) == 0, "fd 10: read %zu bytes, expected 3000 then end of file", n);
    errno = 0;
    wl_check(send(10, &x, 1, MSG_NOSIGNAL) == -1 && errno == EPIPE, "fd 10 can still send (%s)", strerror(errno));
    wl_check(recv(11, got, sizeof got, MSG_DONTWAIT) == 10 && memcmp(got, s_packet[0], 10) == 0, "fd 11: first datagram lost");
    wl_check(recv(11, got, sizeof got, MSG_DONTWAIT) == 20 && memcmp(got, s_packet[1], 20) == 0, "fd 11: second datagram lost");
    errno = 0;
    wl_check(recv(11, got, sizeof got, MSG_DONTWAIT) == -1 && errno == EAGAIN, "fd 11: more than its datagrams");
    errno = 0;
    wl_check(send(11, &x, 1, 0) == -1 && errno == ECONNREFUSED, "fd 11: send to its closed peer did not fail with ECONNREFUSED (%s)", strerror(errno));
    return wl_finish();
}
