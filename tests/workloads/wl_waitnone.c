// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A program that waits for children it does not have: it never forks, keeps
// rewriting 16 MiB of memory (so a low-pause snapshot has a copy to take)
// and, in every step, asks the kernel about children in every way a program
// can: waitpid(-1, WNOHANG) and waitid(P_ALL, WEXITED | WSTOPPED |
// WCONTINUED | __WALL | WNOHANG) must fail with ECHILD, a blocking wait()
// must too (it would block if any child existed), and its SIGCHLD handler
// must never run. A process Cryopod makes for its own use (the copy of a
// low-pause snapshot, or the process between it and the target) must be
// none of these: not a child, not a zombie, no SIGCHLD, no other answer.
// After go: no check ever failed, the SIGCHLD count is 0, its children file
// in /proc is empty, the memory holds the last pass, and a child it forks now
// is reaped and signalled as usual (the checks were not blind).
// Sabotage: it forks one short-lived child.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kMemory = 16 << 20 };

static volatile sig_atomic_t s_sigchld;
static volatile sig_atomic_t s_sigchldPid;
static uint64_t *s_memory;
static uint64_t s_pass;
static unsigned s_steps;
static unsigned s_reported; // failures are reported once per kind, not per step

static void onSigchld(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    ++s_sigchld;
    s_sigchldPid = info->si_pid;
}

static void once(unsigned kind, const char *what, long value, int err)
{
    if (!(s_reported & (1u << kind))) {
        s_reported |= 1u << kind;
        wl_fail("step %u: %s returned %ld (%s), expected -1 ECHILD", s_steps, what, value, err ? strerror(err) : "no error");
    }
}

// Every way of asking for a child; each must say there is none.
static void askForChildren(void)
{
    int status = 0;
    errno = 0;
    pid_t r = waitpid(-1, &status, WNOHANG);
    if (r != -1 || errno != ECHILD) {
        once(0, "waitpid(-1, WNOHANG)", r, r == -1 ? errno : 0);
        return; // a child exists: a blocking wait() would hang
    }
    siginfo_t info;
    memset(&info, 0, sizeof info);
    errno = 0;
    const int w = waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | __WALL | WNOHANG);
    if (w != -1 || errno != ECHILD) {
        once(1, "waitid(P_ALL, __WALL | WNOHANG)", w == 0 ? info.si_pid : w, w == -1 ? errno : 0);
        return;
    }
    errno = 0;
    r = wait(&status);
    if (r != -1 || errno != ECHILD) {
        once(2, "wait()", r, r == -1 ? errno : 0);
    }
}

static void rewrite(void)
{
    ++s_pass;
    const uint64_t value = wl_derive(wl_seed(), s_pass);
    for (size_t i = 0; i < kMemory / sizeof *s_memory; i += WL_PAGE / sizeof *s_memory) {
        s_memory[i] = value ^ i;
    }
}

static void step(void)
{
    ++s_steps;
    rewrite();
    askForChildren();
}

static void sabotage(void)
{
    const pid_t child = fork();
    if (child == 0) {
        _exit(0);
    }
    if (child < 0) {
        wl_fail("sabotage: fork: %s", strerror(errno));
    }
    wl_sleep_ms(50); // it has ended (a zombie) when the next step asks
    ++s_steps;
    askForChildren();
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "waitnone");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onSigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    s_memory = mmap(NULL, kMemory, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigaction(SIGCHLD, &sa, NULL) != 0 || s_memory == MAP_FAILED) {
        wl_die("setup: %s", strerror(errno));
    }
    rewrite();
    askForChildren();
    wl_run(step, sabotage, 2);
    ++s_steps;
    askForChildren();
    // Read once, after go: an fd open on /proc while a snapshot lands is
    // not what this workload tests.
    char path[96], children[256];
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
    const long n = wl_read_file_at(path, children, sizeof children - 1, 0);
    children[n > 0 ? n : 0] = '\0';
    wl_check(n == 0, "%s is \"%s\" (%ld bytes), expected empty", path, children, n);
    wl_check(s_steps >= 2, "no step before go (%u)", s_steps);
    wl_check(s_sigchld == 0, "%d SIGCHLD received (the last from pid %d), expected none", (int)s_sigchld, (int)s_sigchldPid);
    const uint64_t value = wl_derive(wl_seed(), s_pass);
    for (size_t i = 0; i < kMemory / sizeof *s_memory; i += WL_PAGE / sizeof *s_memory) {
        if (s_memory[i] != (value ^ i)) {
            wl_fail("page %zu does not hold pass %llu", i * sizeof *s_memory / WL_PAGE, (unsigned long long)s_pass);
            break;
        }
    }

    // The checks can see a child: one forked now is signalled and reaped.
    const int before = s_sigchld;
    const pid_t child = fork();
    if (child == 0) {
        _exit(42);
    }
    int status = 0;
    const pid_t reaped = waitpid(child, &status, 0);
    wl_check(child > 0 && reaped == child && WIFEXITED(status) && WEXITSTATUS(status) == 42, "a child forked after go: fork %d, waitpid %d, status %#x",
             (int)child, (int)reaped, status);
    for (int i = 0; i < 100 && s_sigchld == before; ++i) {
        wl_sleep_ms(10);
    }
    wl_check(s_sigchld == before + 1 && s_sigchldPid == child, "a child forked after go: %d SIGCHLD (pid %d), expected 1 from %d", (int)(s_sigchld - before),
             (int)s_sigchldPid, (int)child);
    return wl_finish();
}
