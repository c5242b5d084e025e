// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The personality: the workload re-executes itself with ADDR_NO_RANDOMIZE |
// STICKY_TIMEOUTS (a personality only takes full effect at exec). After go:
// personality() returns exactly that, and STICKY_TIMEOUTS still acts: select()
// leaves its timeout untouched.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/select.h>
#include <unistd.h>

#define WANT (ADDR_NO_RANDOMIZE | STICKY_TIMEOUTS)

static void sabotage(void)
{
    personality(ADDR_NO_RANDOMIZE);
}

int main(int argc, char **argv)
{
    int current = personality(0xffffffff);
    if (current != WANT) {
        if (argc > 2) {
            // Already re-executed once: the personality did not stick.
            wl_init(argc, argv, "personality");
            wl_die("personality %#x after re-exec, expected %#x", (unsigned)current, (unsigned)WANT);
        }
        personality(WANT);
        char *args[] = {argv[0], argv[1], (char *)"--reexecuted", NULL};
        execv("/proc/self/exe", args);
        wl_init(argc, argv, "personality");
        wl_die("re-exec failed: %s", strerror(errno));
    }
    wl_init(argc, argv, "personality");

    wl_run(NULL, sabotage, 10);

    int now = personality(0xffffffff);
    wl_check(now == WANT, "personality %#x, expected %#x", (unsigned)now, (unsigned)WANT);
    struct timeval tv = {0, 1000};
    select(0, NULL, NULL, NULL, &tv);
    wl_check(tv.tv_sec == 0 && tv.tv_usec == 1000, "select changed its timeout to %ld.%06ld: STICKY_TIMEOUTS no longer acts", (long)tv.tv_sec,
             (long)tv.tv_usec);
    return wl_finish();
}
