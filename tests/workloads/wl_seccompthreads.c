// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Seccomp filters per thread (format 6). With no_new_privs:
//   - filter A (getppid fails with EPERM) before any thread exists: every
//     thread inherits it;
//   - three threads are created; then main installs filter B (getpgid(424242)
//     fails with ENOTTY) with SECCOMP_FILTER_FLAG_TSYNC: every thread has A, B;
//   - thread 1 then installs filter C of its own (getuid fails with EXDEV):
//     only it has A, B, C;
//   - thread 2 installs filter D of its own (getgid fails with EXDEV, logged).
// Each thread sleeps in 100 ms nanosleeps until go, then checks in itself
// what its filters do and /proc/thread-self/status (Seccomp 2, its filter
// count). After the checks, main installs one more filter with TSYNC: this
// must fail (threads 1 and 2 have filters main does not), naming a thread.
// Sabotage: thread 2 installs filter C as well, so its getuid fails.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NOT_A_PGID 424242
#define THREADS 3

static atomic_int g_stage; // 1: B is installed; 2: each thread's own filter is in
static atomic_int g_own; // threads that installed their own filter
static atomic_int g_sabotage;
static atomic_int g_verified; // threads done with their checks
static atomic_bool g_release; // main's TSYNC check is done: the threads may end

static void threadStatus(const char *key, char *out, size_t size)
{
    out[0] = 0;
    FILE *f = fopen("/proc/thread-self/status", "r");
    if (!f) {
        return;
    }
    char line[256];
    const size_t len = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ' || *v == '\t') {
                ++v;
            }
            snprintf(out, size, "%s", v);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

// The checks of one thread: `which` 0 is main.
static void verify(int which)
{
    char value[128];
    errno = 0;
    long r = syscall(SYS_getppid);
    wl_check(r == -1 && errno == EPERM, "thread %d: getppid returned %ld (%s), not EPERM from filter A", which, r, strerror(errno));
    errno = 0;
    r = syscall(SYS_getpgid, NOT_A_PGID);
    wl_check(r == -1 && errno == ENOTTY, "thread %d: getpgid(%d) returned %ld (%s), not ENOTTY from filter B (TSYNC)", which, NOT_A_PGID, r, strerror(errno));
    errno = 0;
    r = syscall(SYS_getuid);
    if (which == 1) {
        wl_check(r == -1 && errno == EXDEV, "thread 1: getuid returned %ld (%s), not EXDEV from its filter C", r, strerror(errno));
    } else {
        wl_check(r >= 0, "thread %d: getuid failed (%s): filter C of thread 1 reached it", which, strerror(errno));
    }
    errno = 0;
    r = syscall(SYS_getgid);
    if (which == 2) {
        wl_check(r == -1 && errno == EXDEV, "thread 2: getgid returned %ld (%s), not EXDEV from its filter D", r, strerror(errno));
    } else {
        wl_check(r >= 0, "thread %d: getgid failed (%s): filter D of thread 2 reached it", which, strerror(errno));
    }
    threadStatus("Seccomp", value, sizeof value);
    wl_check(strcmp(value, "2") == 0, "thread %d: Seccomp: %s, not 2", which, value);
    const char *filters = which == 1 || which == 2 ? "3" : "2";
    threadStatus("Seccomp_filters", value, sizeof value);
    wl_check(strcmp(value, filters) == 0, "thread %d: Seccomp_filters: %s, not %s", which, value, filters);
}

static void *threadMain(void *arg)
{
    const int which = (int)(intptr_t)arg;
    while (atomic_load(&g_stage) < 1) {
        wl_sleep_ms(1);
    }
    if (which == 1 && wl_seccomp_rule(SYS_getuid, -1, SECCOMP_RET_ERRNO | EXDEV, 0) != 0) {
        wl_fail("thread 1: filter C: %s", strerror(errno));
    }
    if (which == 2 && wl_seccomp_rule(SYS_getgid, -1, SECCOMP_RET_ERRNO | EXDEV, SECCOMP_FILTER_FLAG_LOG) != 0) {
        wl_fail("thread 2: filter D: %s", strerror(errno));
    }
    atomic_fetch_add(&g_own, 1);
    while (!wl_go()) {
        if (which == 2 && atomic_exchange(&g_sabotage, 0)) {
            wl_seccomp_rule(SYS_getuid, -1, SECCOMP_RET_ERRNO | EXDEV, 0);
        }
        if (wl_expired()) {
            break;
        }
        wl_sleep_ms(100);
    }
    if (which == 2 && atomic_exchange(&g_sabotage, 0)) { // go came first
        wl_seccomp_rule(SYS_getuid, -1, SECCOMP_RET_ERRNO | EXDEV, 0);
    }
    verify(which);
    atomic_fetch_add(&g_verified, 1);
    while (!atomic_load(&g_release) && !wl_expired()) {
        wl_sleep_ms(1);
    }
    return NULL;
}

static void sabotage(void)
{
    atomic_store(&g_sabotage, 1);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "seccompthreads");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        wl_die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    }
    if (wl_seccomp_rule(SYS_getppid, -1, SECCOMP_RET_ERRNO | EPERM, 0) != 0) {
        wl_die("filter A: %s", strerror(errno));
    }
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        if (pthread_create(&threads[i], NULL, threadMain, (void *)(intptr_t)(i + 1)) != 0) {
            wl_die("pthread_create");
        }
    }
    long r = wl_seccomp_rule(SYS_getpgid, NOT_A_PGID, SECCOMP_RET_ERRNO | ENOTTY, SECCOMP_FILTER_FLAG_TSYNC);
    if (r != 0) {
        wl_die("filter B with TSYNC: %ld (%s)", r, strerror(errno));
    }
    atomic_store(&g_stage, 1);
    while (atomic_load(&g_own) < THREADS) {
        wl_sleep_ms(1);
    }
    wl_run(NULL, sabotage, 100);
    verify(0);
    while (atomic_load(&g_verified) < THREADS && !wl_expired()) {
        wl_sleep_ms(1);
    }
    // Threads 1 and 2 (alive until released) hold filters main does not:
    // TSYNC must fail, naming one of them.
    r = wl_seccomp_rule(SYS_getpgid, NOT_A_PGID + 1, SECCOMP_RET_ERRNO | ENOTTY, SECCOMP_FILTER_FLAG_TSYNC);
    wl_check(r > 0, "a TSYNC filter from main returned %ld (%s), not the tid of a thread with filters of its own", r, strerror(errno));
    atomic_store(&g_release, true);
    for (int i = 0; i < THREADS; ++i) {
        pthread_join(threads[i], NULL);
    }
    return wl_finish();
}
