// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// epoll sets, and a process blocked in epoll_wait on one:
//   fd 3: epoll set watching fd 4 (eventfd, EPOLLIN|EPOLLET, data
//     0xdead0004), fd 5 (read end of pipe 5/6, EPOLLIN, data 0xbeef0005) and
//     fd 7 (timerfd firing every 150 ms, EPOLLIN, data 7);
//   fd 8: epoll set (O_CLOEXEC) watching fd 6 with EPOLLOUT|EPOLLONESHOT,
//     data 8, fired once before ready (disarmed since).
// The main loop is epoll_wait(3, 200 ms) (reading the timer when it fires),
// so the checkpoint finds it blocked there.
// After go: epoll_wait never failed (no EINTR); the timer kept firing
// through fd 3 after the restore; a byte in the pipe shows as 0xbeef0005, an
// eventfd write as 0xdead0004 once (edge-triggered); fd 8 stays quiet until
// re-armed with EPOLL_CTL_MOD, then reports data 8; the registrations of
// fd 3 in fdinfo (fd, events, data).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int s_waitFailures;

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        wl_die("epoll_ctl add %d: %s", fd, strerror(errno));
    }
}

// Waits on fd 3 for up to ms; returns the data of the first event that is not
// the timer's (reading the timer), or 0.
static uint64_t waitOnce(int ms, int *timerEvents)
{
    struct epoll_event ev[4];
    int n = epoll_wait(3, ev, 4, ms);
    if (n < 0) {
        if (s_waitFailures++ < 3) {
            wl_fail("epoll_wait failed: %s", strerror(errno));
        }
        return 0;
    }
    uint64_t other = 0;
    for (int i = 0; i < n; ++i) {
        if (ev[i].data.u64 == 7) {
            uint64_t ticks;
            if (read(7, &ticks, sizeof ticks) == sizeof ticks && timerEvents) {
                ++*timerEvents;
            }
        } else if (!other) {
            other = ev[i].data.u64;
        }
    }
    return other;
}

static void sabotage(void)
{
    epoll_ctl(3, EPOLL_CTL_DEL, 5, NULL);
}

// One round of the main loop: blocked in epoll_wait for up to 200 ms.
static void waitStep(void)
{
    uint64_t data = waitOnce(200, NULL);
    if (data) {
        wl_fail("epoll_wait reported data %#llx while nothing was sent", (unsigned long long)data);
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "epoll");
    int p[2];
    if (epoll_create1(0) != 3 || eventfd(0, EFD_NONBLOCK) != 4 || pipe(p) != 0 || p[0] != 5 || p[1] != 6 ||
        timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK) != 7 || epoll_create1(EPOLL_CLOEXEC) != 8) {
        wl_die("setup of fds 3-8 failed: %s", strerror(errno));
    }
    const struct itimerspec every = {.it_interval = {0, 150000000}, .it_value = {0, 150000000}};
    timerfd_settime(7, 0, &every, NULL);
    add(3, 4, EPOLLIN | EPOLLET, 0xdead0004);
    add(3, 5, EPOLLIN, 0xbeef0005);
    add(3, 7, EPOLLIN, 7);
    add(8, 6, EPOLLOUT | EPOLLONESHOT, 8);
    struct epoll_event ev;
    if (epoll_wait(8, &ev, 1, 0) != 1 || ev.data.u64 != 8) {
        wl_die("the one-shot registration did not fire");
    }

    wl_run(waitStep, sabotage, 0);

    int timerEvents = 0;
    for (int i = 0; i < 3; ++i) {
        waitOnce(200, &timerEvents);
    }
    wl_check(timerEvents >= 1, "the timer did not fire through fd 3 after go");
    char line[256], path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/3");
    FILE *f = fopen(path, "re");
    int seen = 0;
    while (f && fgets(line, sizeof line, f)) {
        int tfd;
        unsigned events;
        unsigned long long data;
        if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3) {
            const bool ok = (tfd == 4 && (events & (EPOLLIN | EPOLLET)) == (EPOLLIN | EPOLLET) && data == 0xdead0004) ||
                (tfd == 5 && (events & EPOLLIN) && !(events & EPOLLET) && data == 0xbeef0005) || (tfd == 7 && (events & EPOLLIN) && data == 7);
            wl_check(ok, "fd 3: unexpected registration: %s", line);
            seen += ok;
        }
    }
    if (f) {
        fclose(f);
    }
    wl_check(seen == 3, "fd 3 has %d of its 3 registrations", seen);
    const char b = 'b';
    wl_check(write(6, &b, 1) == 1 && waitOnce(0, NULL) == 0xbeef0005, "a byte in the pipe was not reported with 0xbeef0005");
    char got;
    wl_check(read(5, &got, 1) == 1 && got == 'b', "the pipe did not deliver the byte");
    wl_check(eventfd_write(4, 1) == 0 && waitOnce(0, NULL) == 0xdead0004, "an eventfd write was not reported with 0xdead0004");
    wl_check(waitOnce(0, NULL) == 0, "the edge-triggered eventfd was reported twice");
    wl_check(epoll_wait(8, &ev, 1, 0) == 0, "the fired one-shot registration of fd 8 was armed again");
    struct epoll_event rearm = {.events = EPOLLOUT | EPOLLONESHOT, .data.u64 = 8};
    wl_check(epoll_ctl(8, EPOLL_CTL_MOD, 6, &rearm) == 0 && epoll_wait(8, &ev, 1, 0) == 1 && ev.data.u64 == 8, "fd 8: re-armed registration did not fire");
    wl_check((fcntl(8, F_GETFD) & FD_CLOEXEC) && !(fcntl(3, F_GETFD) & FD_CLOEXEC), "FD_CLOEXEC of the epoll fds differs");
    return wl_finish();
}
