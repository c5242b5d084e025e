// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Seccomp filters (format 6): with no_new_privs, three filters installed one
// after the other, the second with SECCOMP_FILTER_FLAG_LOG:
//   1. getppid() fails with EPERM (SECCOMP_RET_ERRNO);
//   2. getpgid(424242) fails with ENOTTY (an argument is checked: getpgid(0)
//      still works);
//   3. acct() kills the process (SECCOMP_RET_KILL_PROCESS).
// After go it checks each of them again: a child it forks (which inherits
// the filters) must die of SIGSYS on acct(); /proc/self/status must show
// filter mode, 3 filters and no_new_privs.
// Sabotage: a fourth filter (getppid fails with EACCES; of two ERRNO
// results the newest filter's wins), so getppid's errno and the filter count
// differ.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOT_A_PGID 424242

static const char *statusLine(const char *key)
{
    static char value[128];
    value[0] = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        return value;
    }
    char line[256];
    const size_t len = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ' || *v == '\t') {
                ++v;
            }
            snprintf(value, sizeof value, "%s", v);
            value[strcspn(value, "\n")] = 0;
            break;
        }
    }
    fclose(f);
    return value;
}

static void sabotage(void)
{
    wl_seccomp_rule(SYS_getppid, -1, SECCOMP_RET_ERRNO | EACCES, 0);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "seccomp");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        wl_die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    }
    if (wl_seccomp_rule(SYS_getppid, -1, SECCOMP_RET_ERRNO | EPERM, 0) != 0 ||
        wl_seccomp_rule(SYS_getpgid, NOT_A_PGID, SECCOMP_RET_ERRNO | ENOTTY, SECCOMP_FILTER_FLAG_LOG) != 0 ||
        wl_seccomp_rule(SYS_acct, -1, SECCOMP_RET_KILL_PROCESS, 0) != 0) {
        wl_die("seccomp: %s", strerror(errno));
    }
    if (syscall(SYS_getppid) != -1 || errno != EPERM) {
        wl_die("getppid is not refused by the filter");
    }
    wl_run(NULL, sabotage, 100);

    errno = 0;
    long r = syscall(SYS_getppid);
    wl_check(r == -1 && errno == EPERM, "getppid returned %ld (%s), not EPERM from filter 1", r, strerror(errno));
    errno = 0;
    r = syscall(SYS_getpgid, NOT_A_PGID);
    wl_check(r == -1 && errno == ENOTTY, "getpgid(%d) returned %ld (%s), not ENOTTY from filter 2", NOT_A_PGID, r, strerror(errno));
    r = syscall(SYS_getpgid, 0);
    wl_check(r == getpgrp(), "getpgid(0) returned %ld (%s), not the process group %d: filter 2 is no longer checking its argument", r, strerror(errno),
             (int)getpgrp());
    wl_check(strcmp(statusLine("Seccomp"), "2") == 0, "Seccomp: %s in status, not 2 (filter mode)", statusLine("Seccomp"));
    wl_check(strcmp(statusLine("Seccomp_filters"), "3") == 0, "Seccomp_filters: %s in status, not 3", statusLine("Seccomp_filters"));
    wl_check(strcmp(statusLine("NoNewPrivs"), "1") == 0, "NoNewPrivs: %s in status, not 1", statusLine("NoNewPrivs"));
    pid_t child = fork();
    if (child == 0) {
        const struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        syscall(SYS_acct, NULL);
        _exit(0); // filter 3 did not kill it
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child) {
        wl_fail("fork/waitpid of the acct() child: %s", strerror(errno));
    } else {
        wl_check(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "a child calling acct() %s, not killed by SIGSYS (filter 3)",
                 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
    }
    return wl_finish();
}
