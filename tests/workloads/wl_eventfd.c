// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// eventfds: fd 3 a counter holding a seeded value above 2^32; fd 4 an
// EFD_SEMAPHORE|EFD_NONBLOCK one holding 5; fd 5 an empty non-blocking
// counter with FD_CLOEXEC, fd 6 its dup.
// After go: fdinfo shows the counts and the semaphore flag; fd 3 reads its
// value at once and then is 0 (a non-blocking read fails with EAGAIN); fd 4
// reads 1 five times, then EAGAIN; fd 5 reads EAGAIN, and a write through
// fd 6 is read from fd 5 (one eventfd); flags and FD_CLOEXEC.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t s_value;

static void sabotage(void)
{
    eventfd_write(3, 1);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "eventfd");
    uint64_t state = wl_derive(wl_seed(), 1);
    s_value = (wl_next(&state) % 0xfffffff0000ull) + 0x100000000ull;
    if (eventfd(0, 0) != 3 || eventfd(5, EFD_SEMAPHORE | EFD_NONBLOCK) != 4 || eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) != 5 || dup(5) != 6) {
        wl_die("eventfd: %s", strerror(errno));
    }
    if (eventfd_write(3, s_value) != 0) {
        wl_die("eventfd_write: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 10);

    char expected[32];
    snprintf(expected, sizeof expected, "%llx", (unsigned long long)s_value);
    wl_check(strcmp(wl_fdinfo(3, "eventfd-count:"), expected) == 0, "fd 3: eventfd-count %s, expected %s", wl_fdinfo(3, "eventfd-count:"), expected);
    wl_check(strcmp(wl_fdinfo(4, "eventfd-semaphore:"), "1") == 0 && strcmp(wl_fdinfo(3, "eventfd-semaphore:"), "0") == 0, "EFD_SEMAPHORE: fd 3 %s, fd 4 %s",
             wl_fdinfo(3, "eventfd-semaphore:"), wl_fdinfo(4, "eventfd-semaphore:"));
    wl_check((fcntl(3, F_GETFL) & O_NONBLOCK) == 0 && (fcntl(4, F_GETFL) & O_NONBLOCK) && (fcntl(5, F_GETFL) & O_NONBLOCK), "O_NONBLOCK differs");
    wl_check(!(fcntl(3, F_GETFD) & FD_CLOEXEC) && (fcntl(5, F_GETFD) & FD_CLOEXEC) && !(fcntl(6, F_GETFD) & FD_CLOEXEC), "FD_CLOEXEC differs");
    eventfd_t v = 0;
    wl_check(eventfd_read(3, &v) == 0 && v == s_value, "fd 3 read %llu, expected %llu", (unsigned long long)v, (unsigned long long)s_value);
    fcntl(3, F_SETFL, O_NONBLOCK);
    errno = 0;
    wl_check(eventfd_read(3, &v) == -1 && errno == EAGAIN, "fd 3 is not empty after its read");
    int ones = 0;
    while (eventfd_read(4, &v) == 0 && v == 1 && ones < 10) {
        ++ones;
    }
    wl_check(ones == 5 && errno == EAGAIN, "fd 4 (semaphore) gave %d ones, expected 5 then EAGAIN", ones);
    errno = 0;
    wl_check(eventfd_read(5, &v) == -1 && errno == EAGAIN, "fd 5 is not empty");
    wl_check(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 5, 6) == 0, "fds 5 and 6 are no longer one open file");
    wl_check(eventfd_write(6, 77) == 0 && eventfd_read(5, &v) == 0 && v == 77, "a write through fd 6 is not read from fd 5");
    return wl_finish();
}
