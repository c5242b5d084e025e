// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Character devices: fd 3 /dev/null (write-only), fd 4 /dev/zero, fd 5
// /dev/urandom (O_NONBLOCK). After go: each fd is the same device (rdev 1:3,
// 1:5, 1:9) with its access mode and flags, and behaves like it. (A mapping
// of /dev/zero is a different matter: engine v1 refuses special-file
// mappings, so it is not part of this workload.)

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void sabotage(void)
{
    int fd = open("/dev/zero", O_WRONLY);
    dup2(fd, 3);
    close(fd);
}

static void checkDev(int fd, unsigned minor, int accmode, int flags, const char *name)
{
    struct stat st;
    if (!wl_check(fstat(fd, &st) == 0, "fd %d: fstat: %s", fd, strerror(errno))) {
        return;
    }
    wl_check(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == minor, "fd %d: rdev %u:%u, expected 1:%u (%s)", fd,
             major(st.st_rdev), minor(st.st_rdev), minor, name);
    int fl = fcntl(fd, F_GETFL);
    wl_check((fl & O_ACCMODE) == accmode && (fl & O_NONBLOCK) == flags, "fd %d (%s): flags %#o, expected access %d flags %#o", fd, name, fl, accmode,
             flags);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "devices");
    if (open("/dev/null", O_WRONLY) != 3 || open("/dev/zero", O_RDONLY) != 4 || open("/dev/urandom", O_RDONLY | O_NONBLOCK) != 5) {
        wl_die("opening the devices failed: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 10);

    checkDev(3, 3, O_WRONLY, 0, "/dev/null");
    checkDev(4, 5, O_RDONLY, 0, "/dev/zero");
    checkDev(5, 9, O_RDONLY, O_NONBLOCK, "/dev/urandom");
    wl_check(write(3, "x", 1) == 1, "write to /dev/null failed");
    unsigned char buf[256];
    memset(buf, 0xaa, sizeof buf);
    bool zeros = read(4, buf, sizeof buf) == (ssize_t)sizeof buf;
    for (size_t i = 0; zeros && i < sizeof buf; ++i) {
        zeros = buf[i] == 0;
    }
    wl_check(zeros, "fd 4 does not read zeros");
    memset(buf, 0, sizeof buf);
    ssize_t n = read(5, buf, sizeof buf);
    size_t nonzero = 0;
    for (size_t i = 0; i < sizeof buf; ++i) {
        nonzero += buf[i] != 0;
    }
    wl_check(n == (ssize_t)sizeof buf && nonzero > 128, "fd 5 does not read random bytes (%zd read, %zu nonzero)", n, nonzero);
    return wl_finish();
}
