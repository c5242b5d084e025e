// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Threads that come and go around the checkpoint, and a robust mutex whose
// owner dies after the restore:
//   spawner   creates a short-lived thread, joins it (clear_child_tid futex
//             wake) and checks its seeded result, every millisecond
//   churner   creates detached threads that count themselves out on exit
//   owner     holds a robust mutex (PTHREAD_MUTEX_ROBUST) and, after go,
//             exits without unlocking it: the kernel walks its robust futex
//             list and marks the mutex OWNER_DIED
//   waiter    waits for that mutex in pthread_mutex_timedlock (200 ms
//             chunks): after the owner's death it must get EOWNERDEAD (only
//             if the owner's robust list survived), makes it consistent and
//             unlocks it; the main thread then locks it normally
// A checkpoint may land while a thread is being created or is exiting.
// Sabotage: the owner drops its robust list registration.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_bool s_go, s_stopChurn, s_sabotaged;
static atomic_uint_fast64_t s_joined, s_wrong, s_detachedStarted, s_detachedDone;
static pthread_mutex_t s_robust;
static atomic_bool s_ownerHolds;

static void *shortLived(void *arg)
{
    const uint64_t n = (uint64_t)(uintptr_t)arg;
    uint64_t x = wl_derive(wl_seed(), n);
    for (int i = 0; i < 100; ++i) {
        x = wl_derive(x, (uint64_t)i);
    }
    return (void *)(uintptr_t)x;
}

static uint64_t expected(uint64_t n)
{
    uint64_t x = wl_derive(wl_seed(), n);
    for (int i = 0; i < 100; ++i) {
        x = wl_derive(x, (uint64_t)i);
    }
    return x;
}

static void *spawnerMain(void *arg)
{
    (void)arg;
    for (uint64_t n = 1; !atomic_load(&s_stopChurn) && !wl_expired(); ++n) {
        pthread_t t;
        const int r = pthread_create(&t, NULL, shortLived, (void *)(uintptr_t)n);
        if (r != 0) {
            wl_fail("spawner: pthread_create: %s", strerror(r));
            break;
        }
        void *ret = NULL;
        const int j = pthread_join(t, &ret);
        if (j != 0) {
            wl_fail("spawner: pthread_join: %s", strerror(j));
            break;
        }
        if ((uint64_t)(uintptr_t)ret != expected(n)) {
            atomic_fetch_add(&s_wrong, 1);
        }
        atomic_fetch_add(&s_joined, 1);
        wl_sleep_ms(1);
    }
    return NULL;
}

static void *detached(void *arg)
{
    (void)arg;
    wl_sleep_ms(1);
    atomic_fetch_add(&s_detachedDone, 1);
    return NULL;
}

static void *churnerMain(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (!atomic_load(&s_stopChurn) && !wl_expired()) {
        pthread_t t;
        atomic_fetch_add(&s_detachedStarted, 1);
        const int r = pthread_create(&t, &attr, detached, NULL);
        if (r != 0) {
            atomic_fetch_sub(&s_detachedStarted, 1);
            wl_fail("churner: pthread_create: %s", strerror(r));
            break;
        }
        wl_sleep_ms(2);
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

static void *ownerMain(void *arg)
{
    (void)arg;
    const int r = pthread_mutex_lock(&s_robust);
    if (r != 0) {
        wl_fail("owner: pthread_mutex_lock: %s", strerror(r));
        return NULL;
    }
    atomic_store(&s_ownerHolds, true);
    bool dropped = false;
    while (!atomic_load(&s_go) && !wl_expired()) {
        if (atomic_load(&s_sabotaged) && !dropped) {
            // An empty robust list: its death no longer releases the mutex.
            static __thread struct {
                void *next;
                long offset;
                void *pending;
            } empty;
            empty.next = &empty;
            syscall(SYS_set_robust_list, &empty, sizeof empty);
            dropped = true;
        }
        wl_sleep_ms(20);
    }
    return NULL; // exits holding the mutex
}

static void *waiterMain(void *arg)
{
    (void)arg;
    uint64_t goSeenAt = 0;
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 200000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_nsec -= 1000000000L;
            deadline.tv_sec += 1;
        }
        const int r = pthread_mutex_timedlock(&s_robust, &deadline);
        if (r == EOWNERDEAD) {
            wl_check(atomic_load(&s_go), "waiter: EOWNERDEAD before go");
            const int c = pthread_mutex_consistent(&s_robust);
            wl_check(c == 0, "waiter: pthread_mutex_consistent: %s", strerror(c));
            pthread_mutex_unlock(&s_robust);
            return NULL;
        }
        if (r == 0) {
            wl_fail("waiter: got the robust mutex without EOWNERDEAD (its owner %s)", atomic_load(&s_go) ? "died" : "still lives");
            pthread_mutex_unlock(&s_robust);
            return NULL;
        }
        if (r != ETIMEDOUT) {
            wl_fail("waiter: pthread_mutex_timedlock: %s", strerror(r));
            return NULL;
        }
        if (atomic_load(&s_go)) {
            if (goSeenAt == 0) {
                goSeenAt = wl_now_ns();
            } else if (wl_now_ns() - goSeenAt > 3000000000ull) {
                wl_fail("waiter: the owner of the robust mutex died and the mutex was not released within 3 s (robust list lost)");
                return NULL;
            }
        }
        if (wl_expired()) {
            return NULL;
        }
    }
}

static void sabotage(void)
{
    atomic_store(&s_sabotaged, true);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "threadexit");
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s_robust, &attr);
    pthread_mutexattr_destroy(&attr);

    pthread_t owner, waiter, spawner, churner;
    if (pthread_create(&owner, NULL, ownerMain, NULL) != 0) {
        wl_die("pthread_create owner");
    }
    while (!atomic_load(&s_ownerHolds)) {
        wl_sleep_ms(1);
    }
    if (pthread_create(&waiter, NULL, waiterMain, NULL) != 0 || pthread_create(&spawner, NULL, spawnerMain, NULL) != 0 ||
        pthread_create(&churner, NULL, churnerMain, NULL) != 0) {
        wl_die("pthread_create");
    }
    wl_sleep_ms(20);

    wl_run(NULL, sabotage, 50);
    atomic_store(&s_stopChurn, true);
    pthread_join(spawner, NULL);
    pthread_join(churner, NULL);
    atomic_store(&s_go, true);
    pthread_join(owner, NULL);
    pthread_join(waiter, NULL);

    for (int i = 0; i < 200 && atomic_load(&s_detachedDone) < atomic_load(&s_detachedStarted); ++i) {
        wl_sleep_ms(10);
    }
    wl_check(atomic_load(&s_detachedDone) == atomic_load(&s_detachedStarted), "%llu of %llu detached threads finished",
             (unsigned long long)atomic_load(&s_detachedDone), (unsigned long long)atomic_load(&s_detachedStarted));
    wl_check(atomic_load(&s_joined) > 0 && atomic_load(&s_detachedStarted) > 0, "no thread churn (%llu joined, %llu detached)",
             (unsigned long long)atomic_load(&s_joined), (unsigned long long)atomic_load(&s_detachedStarted));
    wl_check(atomic_load(&s_wrong) == 0, "%llu joined threads returned a wrong value", (unsigned long long)atomic_load(&s_wrong));
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    const int r = pthread_mutex_timedlock(&s_robust, &deadline);
    wl_check(r == 0, "main: locking the robust mutex after the waiter made it consistent: %s", strerror(r));
    if (r == 0 || r == EOWNERDEAD) {
        pthread_mutex_unlock(&s_robust);
    }
    return wl_finish();
}
