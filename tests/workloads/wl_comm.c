// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The task name: prctl(PR_SET_NAME) to a 15-byte name derived from the seed.
// After go: PR_GET_NAME, /proc/self/comm and the name in /proc/self/stat all
// give it.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static char s_name[16];

static void sabotage(void)
{
    prctl(PR_SET_NAME, "sabotaged", 0, 0, 0);
}

static void readLine(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "re");
    if (f) {
        if (!fgets(buf, (int)n, f)) {
            buf[0] = 0;
        }
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "comm");
    snprintf(s_name, sizeof s_name, "cryo-%010llu", (unsigned long long)(wl_seed() % 10000000000ull));
    prctl(PR_SET_NAME, s_name, 0, 0, 0);

    wl_run(NULL, sabotage, 10);

    char got[32] = {0};
    prctl(PR_GET_NAME, got, 0, 0, 0);
    wl_check(strcmp(got, s_name) == 0, "PR_GET_NAME is '%s', expected '%s'", got, s_name);
    char line[512];
    readLine("/proc/self/comm", line, sizeof line);
    line[strcspn(line, "\n")] = 0;
    wl_check(strcmp(line, s_name) == 0, "/proc/self/comm is '%s', expected '%s'", line, s_name);
    readLine("/proc/self/stat", line, sizeof line);
    char want[64];
    snprintf(want, sizeof want, "(%s)", s_name);
    wl_check(strstr(line, want) != NULL, "/proc/self/stat does not name '%s'", s_name);
    return wl_finish();
}
