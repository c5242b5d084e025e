// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A tree that never holds still: the root forks a child every 2 ms (up to 8
// alive at once); child i computes a seeded chain of 200 + i % 3000 steps
// and exits with a status derived from the result. The root reaps whatever
// has finished (waitpid(-1, WNOHANG)) and checks each status against its own
// recomputation. A checkpoint lands while children are being forked, are
// computing, or have exited unreaped (zombies): each must be caught by the
// freeze and come back as it was.
// After go: the root reaps the rest (blocking) and checks that every child
// it forked was reaped exactly once with the right status.
// Sabotage: the root forgets one running child.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kMaxChildren = 4096, kAlive = 8 };

static pid_t s_pids[kMaxChildren];
static bool s_reaped[kMaxChildren];
static unsigned s_forked, s_reapedCount, s_alive;

static int expectedStatus(unsigned i)
{
    uint64_t v = wl_derive(wl_seed(), i);
    for (unsigned step = 0; step < 200 + i % 3000; ++step) {
        v = v * 6364136223846793005ull + 1442695040888963407ull;
    }
    return (int)(v >> 57); // 0..127
}

static void takeStatus(pid_t pid, int status)
{
    for (unsigned i = 0; i < s_forked; ++i) {
        if (s_pids[i] != pid || s_reaped[i]) {
            continue;
        }
        s_reaped[i] = true;
        ++s_reapedCount;
        --s_alive;
        wl_check(WIFEXITED(status) && WEXITSTATUS(status) == expectedStatus(i), "child %u (pid %d): wait status %#x, expected exit %d", i, (int)pid, status,
                 expectedStatus(i));
        return;
    }
    wl_fail("reaped pid %d, which is no child forked and not yet reaped", (int)pid);
}

static void step(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        takeStatus(pid, status);
    }
    if (s_alive < kAlive && s_forked < kMaxChildren) {
        const unsigned i = s_forked;
        const pid_t child = fork();
        if (child < 0) {
            wl_fail("fork: %s", strerror(errno));
            return;
        }
        if (child == 0) {
            _exit(expectedStatus(i));
        }
        s_pids[i] = child;
        ++s_forked;
        ++s_alive;
    }
}

static void sabotage(void)
{
    for (unsigned i = 0; i < s_forked; ++i) {
        if (!s_reaped[i]) {
            s_pids[i] = -1;
            return;
        }
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "forker");
    for (int i = 0; i < 20; ++i) {
        step();
    }
    wl_run(step, sabotage, 2);
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, 0)) > 0) {
        takeStatus(pid, status);
    }
    wl_check(errno == ECHILD, "waitpid: %s", strerror(errno));
    wl_check(s_reapedCount == s_forked, "forked %u children, reaped %u", s_forked, s_reapedCount);
    wl_check(s_forked >= kAlive, "only %u children forked", s_forked);
    return wl_finish();
}
