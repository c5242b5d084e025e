// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The system calls whose interruption the kernel restarts through its
// restart block (-ERESTART_RESTARTBLOCK, then restart_syscall), each in a
// thread of its own, issued raw (syscall(), no libc retry loop), in 1 s
// timeouts until go (long enough that a checkpoint right after another finds
// them inside restart_syscall, with the first one's restart pending):
//   - nanosleep(1 s) (SYS_nanosleep, not clock_nanosleep);
//   - poll() of the read end of an empty pipe with a 1 s timeout: 0;
//   - futex(FUTEX_WAIT) with a 1 s relative timeout on a word nobody
//     changes: ETIMEDOUT.
// A checkpoint interrupts them; nothing else does (no signal is ever sent),
// so none may see EINTR (or EAGAIN, or poll an event) and none may end
// before its 1 s. Sabotage: SIGALRM with a handler (no SA_RESTART) every
// 50 ms: each call sees EINTR.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_NS 1000000000L

static atomic_int g_started;
static atomic_bool g_stop;
static int g_pipe[2];
static uint32_t g_word = 7;

static void onAlarm(int sig)
{
    (void)sig;
}

struct Counts {
    const char *name;
    unsigned long calls, eintr, early, wrong;
    long firstWrong;
};

static void record(struct Counts *c, long r, int err, uint64_t took, long expected, int expectedErrno)
{
    ++c->calls;
    if (r == -1 && err == EINTR) {
        ++c->eintr;
    } else if (r != expected || (expected == -1 && err != expectedErrno)) {
        if (c->wrong++ == 0) {
            c->firstWrong = r == -1 ? -err : r;
        }
    } else if (took < (uint64_t)CHUNK_NS) {
        ++c->early;
    }
}

static void report(const struct Counts *c)
{
    wl_check(c->eintr == 0, "%s: %lu of %lu calls returned EINTR with no signal delivered (the interrupted call was not restarted)", c->name, c->eintr,
             c->calls);
    wl_check(c->wrong == 0, "%s: %lu of %lu calls returned something else (first: %ld)", c->name, c->wrong, c->calls, c->firstWrong);
    wl_check(c->early == 0, "%s: %lu of %lu calls returned before their 1 s", c->name, c->early, c->calls);
}

static void *sleeper(void *arg)
{
    struct Counts *c = arg;
    atomic_fetch_add(&g_started, 1);
    while (!atomic_load(&g_stop)) {
        const struct timespec req = {CHUNK_NS / 1000000000L, CHUNK_NS % 1000000000L};
        const uint64_t t0 = wl_now_ns();
        const long r = syscall(SYS_nanosleep, &req, NULL);
        record(c, r, errno, wl_now_ns() - t0, 0, 0);
    }
    return NULL;
}

static void *poller(void *arg)
{
    struct Counts *c = arg;
    atomic_fetch_add(&g_started, 1);
    while (!atomic_load(&g_stop)) {
        struct pollfd fd = {g_pipe[0], POLLIN, 0};
        const uint64_t t0 = wl_now_ns();
        const long r = syscall(SYS_poll, &fd, 1, (int)(CHUNK_NS / 1000000));
        record(c, r, errno, wl_now_ns() - t0, 0, 0);
    }
    return NULL;
}

static void *waiter(void *arg)
{
    struct Counts *c = arg;
    atomic_fetch_add(&g_started, 1);
    while (!atomic_load(&g_stop)) {
        const struct timespec timeout = {CHUNK_NS / 1000000000L, CHUNK_NS % 1000000000L};
        const uint64_t t0 = wl_now_ns();
        const long r = syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 7, &timeout, NULL, 0);
        record(c, r, errno, wl_now_ns() - t0, -1, ETIMEDOUT);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "restartcalls");
    if (pipe(g_pipe) != 0) {
        wl_die("pipe: %s", strerror(errno));
    }
    if (wl_sabotage_requested()) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = onAlarm; // no SA_RESTART
        sigaction(SIGALRM, &sa, NULL);
    }
    struct Counts counts[3] = {{"nanosleep", 0, 0, 0, 0, 0}, {"poll", 0, 0, 0, 0, 0}, {"futex wait", 0, 0, 0, 0, 0}};
    void *(*bodies[3])(void *) = {sleeper, poller, waiter};
    pthread_t threads[3];
    for (int i = 0; i < 3; ++i) {
        if (pthread_create(&threads[i], NULL, bodies[i], &counts[i]) != 0) {
            wl_die("pthread_create");
        }
    }
    while (atomic_load(&g_started) < 3) {
        wl_sleep_ms(1);
    }
    if (wl_sabotage_requested()) {
        // Blocked in main (after the threads inherited an empty mask): the
        // signal goes to one of the callers.
        sigset_t alarm;
        sigemptyset(&alarm);
        sigaddset(&alarm, SIGALRM);
        pthread_sigmask(SIG_BLOCK, &alarm, NULL);
        const struct itimerval every = {{0, 50000}, {0, 50000}};
        setitimer(ITIMER_REAL, &every, NULL);
    }
    wl_run(NULL, NULL, 100);
    atomic_store(&g_stop, true);
    for (int i = 0; i < 3; ++i) {
        pthread_join(threads[i], NULL);
    }
    for (int i = 0; i < 3; ++i) {
        report(&counts[i]);
        wl_check(counts[i].calls > 0, "%s: never called", counts[i].name);
    }
    return wl_finish();
}
