// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Blocked in clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): deadlines every
// 200 ms, so a checkpoint almost always interrupts a sleep (-ERESTARTNOHAND:
// restarted by re-executing the syscall with the same absolute deadline). No
// signal is ever delivered, so no call may return EINTR, and none may return
// before its deadline. The workload must still wake up and notice go.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_NS 200000000L

static void onAlarm(int sig)
{
    (void)sig; // sabotage: an interruption the workload did not ask for
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "abssleep");
    unsigned long sleeps = 0, eintr = 0, early = 0;
    if (wl_sabotage_requested()) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = onAlarm;
        sigaction(SIGALRM, &sa, NULL);
        ualarm(50000, 0);
    }
    wl_ready();
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    while (!wl_go()) {
        if (wl_expired()) {
            wl_fail("no go within the workload's lifetime");
            break;
        }
        deadline.tv_nsec += CHUNK_NS;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_nsec -= 1000000000L;
            ++deadline.tv_sec;
        }
        int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
        ++sleeps;
        if (r == EINTR) {
            ++eintr;
        } else if (r != 0) {
            wl_fail("clock_nanosleep failed: %s", strerror(r));
            break;
        } else {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec < deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec)) {
                ++early;
            }
        }
    }
    wl_check(eintr == 0, "%lu of %lu clock_nanosleep(TIMER_ABSTIME) calls returned EINTR with no signal delivered (not restarted)", eintr, sleeps);
    wl_check(early == 0, "%lu of %lu clock_nanosleep(TIMER_ABSTIME) calls returned before their deadline", early, sleeps);
    return wl_finish();
}
