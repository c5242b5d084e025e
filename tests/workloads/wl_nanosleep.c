// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Blocked in nanosleep(): the workload sleeps in 200 ms relative chunks, so a
// checkpoint almost always interrupts a sleep (the kernel's restart_block:
// -ERESTART_RESTARTBLOCK). No signal is ever delivered to it, so no sleep may
// end with EINTR (the interrupted sleep must restart, as it does after a
// SIGSTOP/SIGCONT), and none may end early (return 0 before 200 ms passed).
// The workload must still wake up and notice go.

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
    wl_init(argc, argv, "nanosleep");
    unsigned long sleeps = 0, eintr = 0, early = 0;
    long firstRem = -1;
    uint64_t worstEarly = 0;
    if (wl_sabotage_requested()) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = onAlarm;
        sigaction(SIGALRM, &sa, NULL);
        ualarm(50000, 0);
    }
    wl_ready();
    while (!wl_go()) {
        if (wl_expired()) {
            wl_fail("no go within the workload's lifetime");
            break;
        }
        struct timespec req = {0, CHUNK_NS}, rem = {0, 0};
        uint64_t t0 = wl_now_ns();
        int r = nanosleep(&req, &rem);
        uint64_t slept = wl_now_ns() - t0;
        ++sleeps;
        if (r != 0) {
            if (errno == EINTR) {
                if (eintr++ == 0) {
                    firstRem = rem.tv_sec * 1000000000L + rem.tv_nsec;
                }
            } else {
                wl_fail("nanosleep failed: %s", strerror(errno));
                break;
            }
        } else if (slept < (uint64_t)CHUNK_NS) {
            ++early;
            if ((uint64_t)CHUNK_NS - slept > worstEarly) {
                worstEarly = (uint64_t)CHUNK_NS - slept;
            }
        }
    }
    wl_check(eintr == 0, "%lu of %lu nanosleep calls returned EINTR with no signal delivered (interrupted sleep not restarted; first rem %ld ns)", eintr,
             sleeps, firstRem);
    wl_check(early == 0, "%lu of %lu nanosleep calls returned 0 early (up to %llu ns short)", early, sleeps, (unsigned long long)worstEarly);
    return wl_finish();
}
