// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// POSIX timers, with a hole in their ids:
//   timer 0: CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+1 with value 0x5eed0000
//     plus a seeded low half, every 50 ms; the SA_SIGINFO handler checks
//     si_code SI_TIMER, the timer id and the value of each signal;
//   timer 1: CLOCK_REALTIME, SIGEV_NONE, 100 s then every 9 s;
//   timer 2: deleted again (its id stays free);
//   timer 3: CLOCK_BOOTTIME, SIGEV_THREAD_ID (this thread) SIGUSR2, disarmed.
// After go: the same ids (timer 2 unknown to timer_gettime), intervals, time
// left within what has passed, timer 0 still firing with the right siginfo,
// no signal with a wrong one; a new timer_create gets id 4.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_ticks, s_wrong;
static uint64_t s_value;

static void onTimer(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    if (si->si_code != SI_TIMER || si->si_timerid != 0 || (uint64_t)(uintptr_t)si->si_value.sival_ptr != s_value) {
        s_wrong = 1;
    }
    ++s_ticks;
}

static int64_t ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void sabotage(void)
{
    timer_t t = (timer_t)1;
    struct itimerspec its = {.it_interval = {8, 0}, .it_value = {100, 0}};
    timer_settime(t, 0, &its, NULL);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "posixtimer");
    uint64_t state = wl_derive(wl_seed(), 1);
    s_value = 0x5eed0000ull | (wl_next(&state) & 0xffff);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onTimer;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGRTMIN + 1, &sa, NULL);
    const int64_t start = (int64_t)wl_now_ns();

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    timer_t t[4];
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 1;
    sev.sigev_value.sival_ptr = (void *)(uintptr_t)s_value;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t[0]) != 0) {
        wl_die("timer_create 0: %s", strerror(errno));
    }
    sev.sigev_notify = SIGEV_NONE;
    if (timer_create(CLOCK_REALTIME, &sev, &t[1]) != 0 || timer_create(CLOCK_REALTIME, &sev, &t[2]) != 0) {
        wl_die("timer_create 1/2: %s", strerror(errno));
    }
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR2;
    sev._sigev_un._tid = gettid();
    if (timer_create(CLOCK_BOOTTIME, &sev, &t[3]) != 0) {
        wl_die("timer_create 3: %s", strerror(errno));
    }
    if ((intptr_t)t[0] != 0 || (intptr_t)t[1] != 1 || (intptr_t)t[3] != 3 || timer_delete(t[2]) != 0) {
        wl_die("unexpected timer ids %ld %ld %ld", (long)(intptr_t)t[0], (long)(intptr_t)t[1], (long)(intptr_t)t[3]);
    }
    const struct itimerspec every = {.it_interval = {0, 50000000}, .it_value = {0, 50000000}};
    const struct itimerspec slow = {.it_interval = {9, 0}, .it_value = {100, 0}};
    if (timer_settime(t[0], 0, &every, NULL) != 0 || timer_settime(t[1], 0, &slow, NULL) != 0) {
        wl_die("timer_settime: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 10);

    const int64_t age = (int64_t)wl_now_ns() - start;
    struct itimerspec cur;
    wl_check(timer_gettime(t[0], &cur) == 0 && ns(cur.it_interval) == 50000000, "timer 0: interval %lld ns", (long long)ns(cur.it_interval));
    wl_check(timer_gettime(t[1], &cur) == 0 && cur.it_interval.tv_sec == 9 && cur.it_interval.tv_nsec == 0, "timer 1: interval %lld ns",
             (long long)ns(cur.it_interval));
    wl_check(ns(cur.it_value) <= 100000000000ll && ns(cur.it_value) > 100000000000ll - age - 1000000000ll, "timer 1: %lld ms left after %lld ms",
             (long long)(ns(cur.it_value) / 1000000), (long long)(age / 1000000));
    errno = 0;
    wl_check(timer_gettime(t[2], &cur) == -1 && errno == EINVAL, "timer 2 exists again");
    wl_check(timer_gettime(t[3], &cur) == 0 && ns(cur.it_value) == 0 && ns(cur.it_interval) == 0, "timer 3 is missing or armed");
    const int ticks = s_ticks;
    wl_sleep_ms(200);
    wl_check(s_ticks > ticks, "timer 0 stopped firing (%d signals, none in 200 ms)", ticks);
    wl_check(!s_wrong, "timer 0 delivered a signal with the wrong siginfo");
    timer_t fresh;
    sev.sigev_notify = SIGEV_NONE;
    wl_check(timer_create(CLOCK_MONOTONIC, &sev, &fresh) == 0 && (intptr_t)fresh == 4, "a new timer got id %ld, expected 4", (long)(intptr_t)fresh);
    return wl_finish();
}
