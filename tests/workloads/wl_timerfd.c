// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// timerfds:
//   fd 3: CLOCK_MONOTONIC, relative, 100 s then every 3 s;
//   fd 4: CLOCK_REALTIME, TFD_TIMER_ABSTIME, deadline now + 200 s (wall clock);
//   fd 5: CLOCK_BOOTTIME, O_NONBLOCK, 1 ms one-shot that expired before ready
//     (one unread expiration);
//   fd 6: CLOCK_MONOTONIC, never armed, O_NONBLOCK|FD_CLOEXEC;
//   fd 7: CLOCK_MONOTONIC, 50 ms interval, read (all expirations taken) before
//     ready and from then on left to count.
// After go: clocks (fdinfo clockid), intervals, time left within what has
// passed since setup (fd 3: <= 100 s, > 100 s - age - 1; fd 4: its deadline
// unchanged, TFD_TIMER_ABSTIME in fdinfo); fd 5 reads 1 expiration then
// EAGAIN; fd 6 disarmed and EAGAIN; fd 7 still counts expirations.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void sabotage(void)
{
    struct itimerspec its = {.it_interval = {4, 0}, .it_value = {100, 0}};
    timerfd_settime(3, 0, &its, NULL);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "timerfd");
    const int64_t start = (int64_t)wl_now_ns();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    const int64_t deadline = ns(wall) + 200000000000ll;
    if (timerfd_create(CLOCK_MONOTONIC, 0) != 3 || timerfd_create(CLOCK_REALTIME, 0) != 4 || timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK) != 5 ||
        timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) != 6 || timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK) != 7) {
        wl_die("timerfd_create: %s", strerror(errno));
    }
    struct itimerspec t3 = {.it_interval = {3, 0}, .it_value = {100, 0}};
    struct itimerspec t4 = {.it_interval = {0, 0}, .it_value = {deadline / 1000000000ll, deadline % 1000000000ll}};
    struct itimerspec t5 = {.it_interval = {0, 0}, .it_value = {0, 1000000}};
    struct itimerspec t7 = {.it_interval = {0, 50000000}, .it_value = {0, 50000000}};
    if (timerfd_settime(3, 0, &t3, NULL) != 0 || timerfd_settime(4, TFD_TIMER_ABSTIME, &t4, NULL) != 0 || timerfd_settime(5, 0, &t5, NULL) != 0 ||
        timerfd_settime(7, 0, &t7, NULL) != 0) {
        wl_die("timerfd_settime: %s", strerror(errno));
    }
    wl_sleep_ms(120);
    uint64_t n = 0;
    if (read(7, &n, sizeof n) != sizeof n || n == 0) {
        wl_die("fd 7 did not expire");
    }

    wl_run(NULL, sabotage, 10);

    const int64_t age = (int64_t)wl_now_ns() - start;
    wl_check(strcmp(wl_fdinfo(3, "clockid:"), "1") == 0 && strcmp(wl_fdinfo(4, "clockid:"), "0") == 0 && strcmp(wl_fdinfo(5, "clockid:"), "7") == 0,
             "clocks differ (fdinfo clockid %s, %s, %s)", wl_fdinfo(3, "clockid:"), wl_fdinfo(4, "clockid:"), wl_fdinfo(5, "clockid:"));
    struct itimerspec cur;
    timerfd_gettime(3, &cur);
    const int64_t left3 = ns(cur.it_value);
    wl_check(cur.it_interval.tv_sec == 3 && cur.it_interval.tv_nsec == 0, "fd 3: interval %ld.%09ld s, expected 3 s", (long)cur.it_interval.tv_sec,
             cur.it_interval.tv_nsec);
    wl_check(left3 <= 100000000000ll && left3 > 100000000000ll - age - 1000000000ll, "fd 3: %lld ms left, expected at most 100 s and more than %lld ms",
             (long long)(left3 / 1000000), (long long)((100000000000ll - age - 1000000000ll) / 1000000));
    timerfd_gettime(4, &cur);
    clock_gettime(CLOCK_REALTIME, &wall);
    const int64_t left4 = ns(cur.it_value);
    const int64_t drift = ns(wall) + left4 - deadline;
    wl_check(left4 > 0 && drift > -50000000ll && drift < 50000000ll, "fd 4: the wall-clock deadline moved by %lld ms", (long long)(drift / 1000000));
    wl_check(strcmp(wl_fdinfo(4, "settime flags:"), "01") == 0, "fd 4: settime flags %s, expected 01 (TFD_TIMER_ABSTIME)", wl_fdinfo(4, "settime flags:"));
    n = 0;
    wl_check(read(5, &n, sizeof n) == sizeof n && n == 1, "fd 5: read %llu expirations, expected 1", (unsigned long long)n);
    errno = 0;
    wl_check(read(5, &n, sizeof n) == -1 && errno == EAGAIN, "fd 5: a second read did not fail with EAGAIN");
    timerfd_gettime(6, &cur);
    wl_check(ns(cur.it_value) == 0 && ns(cur.it_interval) == 0, "fd 6 is armed");
    errno = 0;
    wl_check(read(6, &n, sizeof n) == -1 && errno == EAGAIN, "fd 6: read did not fail with EAGAIN");
    wl_check((fcntl(6, F_GETFD) & FD_CLOEXEC) && !(fcntl(3, F_GETFD) & FD_CLOEXEC) && (fcntl(6, F_GETFL) & O_NONBLOCK) && !(fcntl(3, F_GETFL) & O_NONBLOCK),
             "flags differ");
    timerfd_gettime(7, &cur);
    wl_check(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 50000000, "fd 7: interval changed");
    struct pollfd pfd = {.fd = 7, .events = POLLIN};
    n = 0;
    wl_check(poll(&pfd, 1, 200) == 1 && read(7, &n, sizeof n) == sizeof n && n >= 1, "fd 7 counted no expirations within 200 ms");
    return wl_finish();
}
