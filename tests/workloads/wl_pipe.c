// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Pipes with data in them, both ends in the process or only one:
//   fds 3 (read) / 4 (write): pipe A, 256 KiB, 150000 seeded bytes written,
//     the first 1000 read again (a partly consumed buffer); fd 9 is a dup of 3;
//   fds 5 (read, O_NONBLOCK) / 6 (write, O_NONBLOCK, FD_CLOEXEC): pipe B,
//     16 KiB, empty;
//   fd 7: read end of pipe C, whose write end was closed after 5000 bytes;
//   fd 8: write end of pipe D, whose read end was closed (SIGPIPE ignored).
// After go: sizes (F_GETPIPE_SZ), flags, FD_CLOEXEC, A and its dup one open
// file (kcmp); A holds exactly bytes 1000..149999 of the stream and is then
// empty; a byte written to 4 comes out of 3; B reads EAGAIN, then what 6
// wrote; C yields its 5000 bytes, then end of file; D's write fails with EPIPE.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { kBytesA = 150000, kConsumedA = 1000, kBytesC = 5000 };

static void makePipe(int readFd, int writeFd, int flagsRead, int flagsWrite)
{
    int p[2];
    if (pipe(p) != 0) {
        wl_die("pipe: %s", strerror(errno));
    }
    wl_place_pair(p, readFd, writeFd);
    fcntl(readFd, F_SETFL, flagsRead);
    fcntl(writeFd, F_SETFL, flagsWrite);
}

static void writeAllTo(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            wl_die("write to fd %d: %s", fd, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

static size_t readUpTo(int fd, unsigned char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, p + done, n - done);
        if (r <= 0) {
            break;
        }
        done += (size_t)r;
    }
    return done;
}

static void sabotage(void)
{
    unsigned char b;
    if (read(3, &b, 1) != 1) {
        wl_fail("sabotage: read failed");
    }
}

static void checkFlags(int fd, int expected, bool cloexec, const char *name)
{
    int fl = fcntl(fd, F_GETFL);
    wl_check((fl & (O_ACCMODE | O_NONBLOCK)) == expected, "fd %d (%s): flags %#o, expected %#o", fd, name, fl & (O_ACCMODE | O_NONBLOCK), expected);
    wl_check(!!(fcntl(fd, F_GETFD) & FD_CLOEXEC) == cloexec, "fd %d (%s): FD_CLOEXEC %s", fd, name, cloexec ? "lost" : "appeared");
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "pipe");
    signal(SIGPIPE, SIG_IGN);
    static unsigned char stream[kBytesA];
    wl_fill(stream, sizeof stream, wl_derive(wl_seed(), 1));
    static unsigned char streamC[kBytesC];
    wl_fill(streamC, sizeof streamC, wl_derive(wl_seed(), 2));

    makePipe(3, 4, O_RDONLY, O_WRONLY);
    if (fcntl(4, F_SETPIPE_SZ, 256 * 1024) < 256 * 1024) {
        wl_die("F_SETPIPE_SZ 256 KiB: %s", strerror(errno));
    }
    writeAllTo(4, stream, kBytesA);
    unsigned char consumed[kConsumedA];
    if (readUpTo(3, consumed, kConsumedA) != kConsumedA) {
        wl_die("reading the first bytes of pipe A failed");
    }
    if (dup2(3, 9) != 9) {
        wl_die("dup2 3 9: %s", strerror(errno));
    }
    makePipe(5, 6, O_RDONLY | O_NONBLOCK, O_WRONLY | O_NONBLOCK);
    fcntl(6, F_SETFD, FD_CLOEXEC);
    if (fcntl(5, F_SETPIPE_SZ, 16 * 1024) != 16 * 1024) {
        wl_die("F_SETPIPE_SZ 16 KiB: %s", strerror(errno));
    }
    makePipe(7, 10, O_RDONLY, O_WRONLY);
    writeAllTo(10, streamC, kBytesC);
    close(10);
    makePipe(8, 10, O_RDONLY, O_WRONLY);
    if (dup2(8, 11) != 11 || dup2(10, 8) != 8) {
        wl_die("dup2: %s", strerror(errno));
    }
    close(10);
    close(11); // the read end of D: gone

    wl_run(NULL, sabotage, 10);

    checkFlags(3, O_RDONLY, false, "A read");
    checkFlags(4, O_WRONLY, false, "A write");
    checkFlags(5, O_RDONLY | O_NONBLOCK, false, "B read");
    checkFlags(6, O_WRONLY | O_NONBLOCK, true, "B write");
    checkFlags(7, O_RDONLY, false, "C read");
    checkFlags(8, O_WRONLY, false, "D write");
    wl_check(fcntl(3, F_GETPIPE_SZ) == 256 * 1024, "pipe A size %d, expected 256 KiB", fcntl(3, F_GETPIPE_SZ));
    wl_check(fcntl(5, F_GETPIPE_SZ) == 16 * 1024, "pipe B size %d, expected 16 KiB", fcntl(5, F_GETPIPE_SZ));
    wl_check(fcntl(7, F_GETPIPE_SZ) == 64 * 1024, "pipe C size %d, expected 64 KiB", fcntl(7, F_GETPIPE_SZ));
    const pid_t self = getpid();
    wl_check(syscall(SYS_kcmp, self, self, KCMP_FILE, 3, 9) == 0, "fds 3 and 9 are no longer one open file");
    wl_check(syscall(SYS_kcmp, self, self, KCMP_FILE, 3, 4) != 0, "fds 3 and 4 became one open file");
    struct stat a3, a4, b5, c7;
    fstat(3, &a3);
    fstat(4, &a4);
    fstat(5, &b5);
    fstat(7, &c7);
    wl_check(S_ISFIFO(a3.st_mode) && a3.st_ino == a4.st_ino, "fds 3 and 4 are not the two ends of one pipe");
    wl_check(a3.st_ino != b5.st_ino && a3.st_ino != c7.st_ino && b5.st_ino != c7.st_ino, "pipes A, B, C are not separate pipes");

    // A: the bytes still queued, in order, and nothing more.
    wl_check(wl_queued(3) == kBytesA - kConsumedA, "pipe A holds %d bytes, expected %d", wl_queued(3), kBytesA - kConsumedA);
    static unsigned char got[kBytesA];
    size_t n = wl_queued(3) == kBytesA - kConsumedA ? readUpTo(3, got, kBytesA - kConsumedA) : 0;
    if (n == kBytesA - kConsumedA) {
        for (size_t i = 0; i < n; ++i) {
            if (got[i] != stream[kConsumedA + i]) {
                wl_fail("pipe A: byte %zu is %#x, expected %#x", kConsumedA + i, got[i], stream[kConsumedA + i]);
                break;
            }
        }
    }
    wl_check(wl_queued(3) == 0, "pipe A holds %d more bytes", wl_queued(3));
    unsigned char x = 0x5a, y = 0;
    wl_check(write(4, &x, 1) == 1 && read(9, &y, 1) == 1 && y == 0x5a, "pipe A: a byte written to fd 4 does not come out of fd 9");

    // B: empty and non-blocking.
    errno = 0;
    wl_check(read(5, &y, 1) == -1 && errno == EAGAIN, "pipe B: read of the empty pipe did not fail with EAGAIN (%s)", strerror(errno));
    x = 0xa5;
    wl_check(write(6, &x, 1) == 1 && read(5, &y, 1) == 1 && y == 0xa5, "pipe B: a byte written to fd 6 does not come out of fd 5");

    // C: the queued bytes, then end of file (no writer).
    static unsigned char gotC[kBytesC + 1];
    n = readUpTo(7, gotC, kBytesC + 1);
    wl_check(n == kBytesC && memcmp(gotC, streamC, kBytesC) == 0, "pipe C: read %zu bytes, expected its %d bytes then end of file", n, kBytesC);

    // D: nobody reads.
    errno = 0;
    wl_check(write(8, &x, 1) == -1 && errno == EPIPE, "pipe D: write did not fail with EPIPE (%s)", strerror(errno));
    return wl_finish();
}
