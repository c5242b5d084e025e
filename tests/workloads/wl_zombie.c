// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Zombies in a tree: the root's children Z1 (exited with status 7) and Z2
// (killed by SIGTERM) are zombies the root does not reap before go; its
// child L lives on, with a zombie child of its own, Z3 (exited with 3).
// Nobody catches SIGCHLD (default disposition: no handler runs, nothing is
// reaped by the kernel).
// After go: the root reaps Z1 and Z2 by pid (waitpid, not WNOHANG: they must
// be its children and zombies already, with their statuses), L reaps Z3 the
// same way and checks nothing else is waitable; the root reaps L.
// Sabotage: the root reaps Z1 early.

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

static pid_t s_z1;

static pid_t forkOrDie(const char *who)
{
    const pid_t pid = fork();
    if (pid < 0) {
        wl_die("fork %s: %s", who, strerror(errno));
    }
    return pid;
}

// Waits until pid is a zombie (without reaping it).
static void waitZombie(pid_t pid)
{
    for (int i = 0; i < 1000; ++i) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
            return;
        }
        wl_sleep_ms(2);
    }
    wl_die("child %d did not exit", (int)pid);
}

// The child is a zombie now: reap it and check how it ended.
static void reap(const char *who, pid_t pid, bool signaled, int code)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid) {
        wl_fail("%s (pid %d) is not a zombie child any more: %s", who, (int)pid, errno ? strerror(errno) : "not waitable");
        return;
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        wl_fail("%s: waitpid: %s", who, strerror(errno));
        return;
    }
    if (signaled) {
        wl_check(WIFSIGNALED(status) && WTERMSIG(status) == code, "%s: wait status %#x, expected death by signal %d", who, status, code);
    } else {
        wl_check(WIFEXITED(status) && WEXITSTATUS(status) == code, "%s: wait status %#x, expected exit %d", who, status, code);
    }
}

static void sabotage(void)
{
    waitpid(s_z1, NULL, 0);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "zombie");
    s_z1 = forkOrDie("Z1");
    if (s_z1 == 0) {
        _exit(7);
    }
    const pid_t z2 = forkOrDie("Z2");
    if (z2 == 0) {
        raise(SIGTERM);
        _exit(99);
    }
    const pid_t l = forkOrDie("L");
    if (l == 0) {
        const pid_t z3 = forkOrDie("Z3");
        if (z3 == 0) {
            _exit(3);
        }
        waitZombie(z3);
        char path[4096];
        wl_path(path, sizeof path, "zombie.l-ready");
        wl_write_file(path, "", 0);
        wl_wait_go();
        reap("Z3", z3, false, 3);
        errno = 0;
        wl_check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "L: another child is waitable after Z3");
        _exit(wl_finish_as("zombie.L"));
    }
    waitZombie(s_z1);
    waitZombie(z2);
    char path[4096];
    wl_path(path, sizeof path, "zombie.l-ready");
    for (int i = 0; i < 1000 && access(path, F_OK) != 0; ++i) {
        wl_sleep_ms(2);
    }
    wl_run(NULL, sabotage, 50);
    reap("Z1", s_z1, false, 7);
    reap("Z2", z2, true, SIGTERM);
    wl_collect(l, "L", "zombie.L");
    errno = 0;
    wl_check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "root: another child is waitable");
    return wl_finish();
}
