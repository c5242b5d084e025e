// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Named pipes with data in them, reopened by path on restore:
//   STATEDIR/fifo: fd 3 reads (O_NONBLOCK), fd 4 writes; 20000 seeded bytes
//     written, the first 100 read again; size 128 KiB;
//   STATEDIR/fifo2: fd 5 open read-write, 3000 seeded bytes queued.
// After go: fds are FIFOs at their paths (same inode), access modes and
// O_NONBLOCK, the size; each holds exactly its remaining bytes in order; a
// byte written through the path comes out of fd 3; fd 3 then reads EAGAIN.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { kBytes = 20000, kConsumed = 100, kBytes2 = 3000 };

static char s_fifo[4200], s_fifo2[4200];

static void sabotage(void)
{
    unsigned char b;
    if (read(3, &b, 1) != 1) {
        wl_fail("sabotage: read failed");
    }
}

static void checkQueued(int fd, const unsigned char *expected, int n, const char *name)
{
    if (!wl_check(wl_queued(fd) == n, "%s holds %d bytes, expected %d", name, wl_queued(fd), n)) {
        return;
    }
    static unsigned char got[kBytes];
    int done = 0;
    while (done < n) {
        ssize_t r = read(fd, got + done, (size_t)(n - done));
        if (r <= 0) {
            break;
        }
        done += (int)r;
    }
    wl_check(done == n && memcmp(got, expected, (size_t)n) == 0, "%s: the queued bytes differ (%d read)", name, done);
}

static void checkFifo(int fd, const char *path, int accmode, int nonblock)
{
    struct stat byFd, byPath;
    wl_check(fstat(fd, &byFd) == 0 && stat(path, &byPath) == 0 && S_ISFIFO(byFd.st_mode) && byFd.st_ino == byPath.st_ino && byFd.st_dev == byPath.st_dev,
             "fd %d is not the FIFO at %s", fd, path);
    int fl = fcntl(fd, F_GETFL);
    wl_check((fl & O_ACCMODE) == accmode && (fl & O_NONBLOCK) == nonblock, "fd %d: flags %#o", fd, fl);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "fifo");
    wl_path(s_fifo, sizeof s_fifo, "fifo");
    wl_path(s_fifo2, sizeof s_fifo2, "fifo2");
    static unsigned char stream[kBytes], stream2[kBytes2];
    wl_fill(stream, sizeof stream, wl_derive(wl_seed(), 1));
    wl_fill(stream2, sizeof stream2, wl_derive(wl_seed(), 2));
    if (mkfifo(s_fifo, 0600) != 0 || mkfifo(s_fifo2, 0640) != 0) {
        wl_die("mkfifo: %s", strerror(errno));
    }
    if (open(s_fifo, O_RDONLY | O_NONBLOCK) != 3 || open(s_fifo, O_WRONLY) != 4 || open(s_fifo2, O_RDWR) != 5) {
        wl_die("open the FIFOs: %s", strerror(errno));
    }
    if (fcntl(4, F_SETPIPE_SZ, 128 * 1024) < 128 * 1024) {
        wl_die("F_SETPIPE_SZ: %s", strerror(errno));
    }
    if (write(4, stream, kBytes) != kBytes || write(5, stream2, kBytes2) != kBytes2) {
        wl_die("write: %s", strerror(errno));
    }
    unsigned char first[kConsumed];
    if (read(3, first, kConsumed) != kConsumed) {
        wl_die("read: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 10);

    checkFifo(3, s_fifo, O_RDONLY, O_NONBLOCK);
    checkFifo(4, s_fifo, O_WRONLY, 0);
    checkFifo(5, s_fifo2, O_RDWR, 0);
    wl_check(fcntl(3, F_GETPIPE_SZ) == 128 * 1024, "fifo size %d, expected 128 KiB", fcntl(3, F_GETPIPE_SZ));
    checkQueued(3, stream + kConsumed, kBytes - kConsumed, "fifo");
    checkQueued(5, stream2, kBytes2, "fifo2");
    int w = open(s_fifo, O_WRONLY | O_NONBLOCK);
    unsigned char x = 0x3c, y = 0;
    wl_check(w >= 0 && write(w, &x, 1) == 1 && read(3, &y, 1) == 1 && y == 0x3c, "a byte written through the path does not come out of fd 3");
    if (w >= 0) {
        close(w);
    }
    errno = 0;
    wl_check(read(3, &y, 1) == -1 && errno == EAGAIN, "fd 3: empty FIFO did not read EAGAIN (%s)", strerror(errno));
    return wl_finish();
}
