// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A target that sleeps and counts what its sleeps return, for checkpoints
// taken while it runs on: sleeptarget MODE DIR. Every sleeper sleeps in
// 100 ms chunks until DIR/go exists, then DIR/result says "ok" or what went
// wrong (a sleep that returned EINTR, returned early or failed). Nothing in
// it takes a signal, so a checkpoint is the only thing that could interrupt
// a sleep, and it must not be seen.
//
// MODE: rel      one thread, nanosleep() with a remainder
//       abs      one thread, clock_nanosleep(TIMER_ABSTIME)
//       threads  a main thread waiting for go and one thread of each kind
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_NS 100000000L

static const char *s_dir;
static atomic_bool s_go;
static int s_single; // one thread: the sleeper looks for go itself
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_failures[1024];

static void failure(const char *fmt, unsigned long a, unsigned long b)
{
    char line[160];
    snprintf(line, sizeof line, fmt, a, b);
    pthread_mutex_lock(&s_lock);
    if (strlen(s_failures) + strlen(line) + 3 < sizeof s_failures) {
        strcat(s_failures, line);
        strcat(s_failures, "; ");
    }
    pthread_mutex_unlock(&s_lock);
}

static unsigned long long nowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int goThere(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/go", s_dir);
    return access(path, F_OK) == 0;
}

static int stopSleeping(void)
{
    return s_single ? goThere() : atomic_load(&s_go);
}

static void *relativeSleeper(void *arg)
{
    (void)arg;
    unsigned long sleeps = 0, eintr = 0, early = 0, other = 0;
    while (!stopSleeping()) {
        struct timespec req = {0, CHUNK_NS}, rem = {0, 0};
        const unsigned long long t0 = nowNs();
        const int r = nanosleep(&req, &rem);
        ++sleeps;
        if (r != 0 && errno == EINTR) {
            ++eintr;
        } else if (r != 0) {
            ++other;
        } else if (nowNs() - t0 < (unsigned long long)CHUNK_NS) {
            ++early;
        }
    }
    if (eintr != 0) {
        failure("nanosleep: %lu of %lu returned EINTR", eintr, sleeps);
    }
    if (early + other != 0) {
        failure("nanosleep: %lu early, %lu failed", early, other);
    }
    return NULL;
}

static void *absoluteSleeper(void *arg)
{
    (void)arg;
    unsigned long sleeps = 0, eintr = 0, early = 0, other = 0;
    while (!stopSleeping()) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += CHUNK_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_nsec -= 1000000000L;
            ++until.tv_sec;
        }
        const unsigned long long end = (unsigned long long)until.tv_sec * 1000000000ull + (unsigned long long)until.tv_nsec;
        const int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
        ++sleeps;
        if (r == EINTR) {
            ++eintr;
        } else if (r != 0) {
            ++other;
        } else if (nowNs() < end) {
            ++early;
        }
    }
    if (eintr != 0) {
        failure("clock_nanosleep(TIMER_ABSTIME): %lu of %lu returned EINTR", eintr, sleeps);
    }
    if (early + other != 0) {
        failure("clock_nanosleep(TIMER_ABSTIME): %lu early, %lu failed", early, other);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sleeptarget rel|abs|threads DIR\n");
        return 2;
    }
    s_dir = argv[2];
    const char *mode = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/ready", s_dir);
    if (strcmp(mode, "threads") == 0) {
        pthread_t rel, abs;
        if (pthread_create(&rel, NULL, relativeSleeper, NULL) != 0 || pthread_create(&abs, NULL, absoluteSleeper, NULL) != 0) {
            return 3;
        }
        close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        while (!goThere()) {
            struct timespec ts = {0, 20000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
        }
        atomic_store(&s_go, 1);
        pthread_join(rel, NULL);
        pthread_join(abs, NULL);
    } else {
        s_single = 1;
        close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        (strcmp(mode, "abs") == 0 ? absoluteSleeper : relativeSleeper)(NULL);
    }
    snprintf(path, sizeof path, "%s/result", s_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        return 4;
    }
    fprintf(f, "%s\n", s_failures[0] ? s_failures : "ok");
    fclose(f);
    return s_failures[0] ? 1 : 0;
}
