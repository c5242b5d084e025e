// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Processes that share the root's address space (ProcessEntry::vmOf) the
// way wl_clonevm's do not: with an exit signal other than SIGCHLD, and with
// a thread of their own.
// - X: clone(CLONE_VM) with exit signal 0. X starts thread T
//   (CLONE_THREAD, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID on a word of
//   the shared memory). T fills a pattern there and counts until the root
//   says stop, then ends; X waits for T's clear_child_tid futex wake, checks
//   T's pattern and exits.
// - Y: clone(CLONE_VM) with exit signal SIGUSR2, which the root counts in a
//   handler. Y counts until its own stop (after X was reaped) and exits.
// After go, the root checks:
// - kcmp(KCMP_VM): X and Y share its address space;
// - X has two threads and T is the tid X's clone reported; T's, X's and Y's
//   counters move;
// - a plain waitpid(WNOHANG) does not see X or Y (ECHILD: their exit signal
//   is not SIGCHLD), one with __WALL reaps each with status 0;
// - Y's exit brought exactly one SIGUSR2, X's none.
// X and Y note failures in the shared memory (not wl_fail: its list is not
// safe to use from several processes); the root reports them.
// Raw clone() children share the root's C library state: they use no
// malloc and no stdio.
// Sabotage: the root flips a byte of T's pattern.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kPattern = 64 * 1024, kStack = 256 * 1024 };

// What X (and T) or Y report; written by them, read by the root once it
// reaped the writer.
struct SharerReport {
    volatile uint64_t ready; // the setup token once set up
    volatile uint64_t counter; // incremented until stop
    char failures[512];
};

static struct {
    volatile uint64_t stop; // for X and T
    volatile uint64_t stopY;
    volatile uint64_t usr2; // SIGUSR2 taken by the root's handler
    volatile uint64_t tReady;
    volatile uint64_t tCounter;
    volatile pid_t tTid; // CLONE_PARENT_SETTID
    volatile pid_t tTidWord; // CLONE_CHILD_CLEARTID: 0 once T is gone
    struct SharerReport x, y;
    unsigned char *tPattern; // T's pattern (tag 1)
} *s;

// A system call that leaves errno alone: the raw children share the
// root's, and the root reads it while they run.
static long quietSyscall(long nr, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}

static void napMs(long ms)
{
    const struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    quietSyscall(SYS_nanosleep, (long)&ts, 0, 0, 0);
}

_Noreturn static void exitGroup(int status)
{
    for (;;) {
        quietSyscall(SYS_exit_group, status, 0, 0, 0);
    }
}

static void countUntilStop(volatile uint64_t *counter, volatile uint64_t *stop)
{
    while (!__atomic_load_n(stop, __ATOMIC_SEQ_CST) && !wl_expired()) {
        __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
        napMs(1);
    }
}

static void onUsr2(int sig)
{
    (void)sig;
    __atomic_add_fetch(&s->usr2, 1, __ATOMIC_SEQ_CST);
}

static int threadT(void *arg)
{
    (void)arg;
    wl_fill(s->tPattern, kPattern, wl_tag(1));
    __atomic_store_n(&s->tReady, wl_tag(2), __ATOMIC_SEQ_CST);
    countUntilStop(&s->tCounter, &s->stop);
    return 0; // the clone wrapper ends the thread with exit(), not exit_group()
}

static int childX(void *arg)
{
    char text[160];
    char *stack = arg;
    const int flags =
        CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    if (clone(threadT, stack + kStack, flags, NULL, &s->tTid, NULL, &s->tTidWord) < 0) {
        wl_note(s->x.failures, sizeof s->x.failures, "X: clone thread T");
        exitGroup(1);
    }
    for (int i = 0; i < 3000 && __atomic_load_n(&s->tReady, __ATOMIC_SEQ_CST) != wl_tag(2); ++i) {
        napMs(1);
    }
    __atomic_store_n(&s->x.ready, wl_tag(3), __ATOMIC_SEQ_CST);
    countUntilStop(&s->x.counter, &s->stop);
    // T ends after stop; the kernel clears the word and wakes us.
    for (int i = 0; i < 300; ++i) {
        const pid_t word = __atomic_load_n(&s->tTidWord, __ATOMIC_SEQ_CST);
        if (word == 0) {
            break;
        }
        const struct timespec ts = {0, 10 * 1000000L};
        quietSyscall(SYS_futex, (long)&s->tTidWord, FUTEX_WAIT, word, (long)&ts);
    }
    if (__atomic_load_n(&s->tTidWord, __ATOMIC_SEQ_CST) != 0) {
        snprintf(text, sizeof text, "X: T (tid %d) did not clear its clear_child_tid word within 3 s", (int)s->tTid);
        wl_note(s->x.failures, sizeof s->x.failures, text);
    }
    const size_t bad = wl_mismatch(s->tPattern, kPattern, wl_tag(1));
    if (bad != kPattern) {
        snprintf(text, sizeof text, "X: T's pattern differs at byte %zu", bad);
        wl_note(s->x.failures, sizeof s->x.failures, text);
    }
    exitGroup(s->x.failures[0] ? 1 : 0);
}

static int childY(void *arg)
{
    (void)arg;
    __atomic_store_n(&s->y.ready, wl_tag(4), __ATOMIC_SEQ_CST);
    countUntilStop(&s->y.counter, &s->stopY);
    exitGroup(s->y.failures[0] ? 1 : 0);
}

static void sabotage(void)
{
    s->tPattern[kPattern / 3] ^= 0xff;
}

static char *stackOf(const char *who)
{
    char *stack = malloc(kStack);
    if (!stack) {
        wl_die("malloc the stack of %s", who);
    }
    return stack;
}

static pid_t cloneSharer(int (*fn)(void *), int exitSignal, void *arg, const char *who)
{
    char *stack = stackOf(who);
    const pid_t pid = clone(fn, stack + kStack, CLONE_VM | exitSignal, arg);
    if (pid < 0) {
        wl_die("clone %s: %s", who, strerror(errno));
    }
    return pid;
}

static bool sharesOurMemory(pid_t pid)
{
    return syscall(SYS_kcmp, getpid(), pid, KCMP_VM, 0, 0) == 0;
}

static int threadsOf(pid_t pid, bool *hasT)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)s->tTid);
    *hasT = access(path, F_OK) == 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    int threads = -1;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "Threads: %d", &threads) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return threads;
}

static bool moves(volatile uint64_t *counter)
{
    const uint64_t before = *counter;
    for (int i = 0; i < 100; ++i) {
        wl_sleep_ms(5);
        if (*counter != before) {
            return true;
        }
    }
    return false;
}

// A plain waitpid must not see a child whose exit signal is not SIGCHLD;
// __WALL reaps it.
static void reap(pid_t pid, const char *who, const struct SharerReport *r)
{
    int status = 0;
    const pid_t plain = waitpid(pid, &status, WNOHANG);
    wl_check(plain < 0 && errno == ECHILD, "%s (pid %d): a plain waitpid sees it (returned %d): its exit signal is SIGCHLD?", who, (int)pid, (int)plain);
    pid_t got;
    do {
        got = waitpid(pid, &status, __WALL);
    } while (got < 0 && errno == EINTR);
    if (got != pid) {
        wl_fail("%s (pid %d): waitpid __WALL: %s", who, (int)pid, strerror(errno));
        return;
    }
    if (r->failures[0]) {
        wl_fail("%s", r->failures);
    }
    wl_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited with status %#x", who, status);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "vmsharers");
    s = calloc(1, sizeof *s);
    if (!s) {
        wl_die("calloc");
    }
    s->tPattern = malloc(kPattern);
    if (!s->tPattern) {
        wl_die("malloc");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onUsr2;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);

    const pid_t x = cloneSharer(childX, 0, stackOf("T"), "X");
    if (!wl_await_token(&s->x.ready, wl_tag(3))) {
        wl_die("X did not set up (T ready: %d)", s->tReady == wl_tag(2));
    }
    const pid_t y = cloneSharer(childY, SIGUSR2, NULL, "Y");
    if (!wl_await_token(&s->y.ready, wl_tag(4))) {
        wl_die("Y did not set up");
    }
    wl_run(NULL, sabotage, 50);

    wl_check(sharesOurMemory(x) && sharesOurMemory(y), "root: X or Y does not share its address space (kcmp)");
    bool hasT = false;
    const int threads = threadsOf(x, &hasT);
    wl_check(threads == 2 && hasT, "root: X has %d threads (expected 2), T (tid %d) %s", threads, (int)s->tTid, hasT ? "among them" : "not among them");
    wl_check(moves(&s->tCounter), "root: T's counter stands still");
    wl_check(moves(&s->x.counter), "root: X's counter stands still");
    wl_check(moves(&s->y.counter), "root: Y's counter stands still");
    wl_check(s->usr2 == 0, "root: %llu SIGUSR2 before any sharer exited", (unsigned long long)s->usr2);
    __atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
    reap(x, "X", &s->x);
    wl_check(s->usr2 == 0, "root: X's exit (exit signal 0) brought %llu SIGUSR2", (unsigned long long)s->usr2);
    __atomic_store_n(&s->stopY, 1, __ATOMIC_SEQ_CST);
    reap(y, "Y", &s->y);
    wl_check(s->usr2 == 1, "root: Y's exit brought %llu SIGUSR2 (expected its exit signal, once)", (unsigned long long)s->usr2);
    return wl_finish();
}
