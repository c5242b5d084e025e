// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

// 90 s, or WL_LIFETIME seconds (the stress tests run longer than 90 s).
#define WL_LIFETIME_NS (90ull * 1000000000ull)
static uint64_t s_lifetimeNs = WL_LIFETIME_NS;

static const char *s_name = "wl";
static char s_statedir[PATH_MAX];
static char s_goPath[PATH_MAX + 8];
static uint64_t s_seed;
static bool s_sabotage;
static uint64_t s_startNs;
static char s_failures[4096];
static size_t s_failuresLen;
static int s_failureCount;

uint64_t wl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void writeAll(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

// Writes STATEDIR/NAME atomically (NAME.tmp, then rename).
static bool writeStateFile(const char *name, const char *text)
{
    char tmp[PATH_MAX + 64], final[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", s_statedir, name);
    snprintf(final, sizeof final, "%s/%s", s_statedir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return false;
    }
    writeAll(fd, text, strlen(text));
    close(fd);
    return rename(tmp, final) == 0;
}

void wl_die(const char *fmt, ...)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "FAIL: %s: setup: ", s_name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(msg);
    if (len + 2 < sizeof msg) {
        msg[len] = '\n';
        msg[len + 1] = 0;
    }
    writeStateFile("result", msg);
    _exit(1);
}

void wl_init(int argc, char **argv, const char *name)
{
    s_name = name;
    s_startNs = wl_now_ns();
    if (argc < 2) {
        dprintf(2, "usage: %s STATEDIR\n", argv[0]);
        _exit(2);
    }
    if (!realpath(argv[1], s_statedir)) {
        dprintf(2, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
        _exit(2);
    }
    snprintf(s_goPath, sizeof s_goPath, "%s/go", s_statedir);

    // The default seed depends on the name only: runs are reproducible.
    uint64_t h = 1469598103934665603ull;
    for (const char *c = name; *c; ++c) {
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    }
    s_seed = h;
    const char *seed = getenv("WL_SEED");
    if (seed && *seed) {
        s_seed = strtoull(seed, NULL, 0);
    }
    const char *lifetime = getenv("WL_LIFETIME");
    if (lifetime && strtoull(lifetime, NULL, 10) > 0) {
        s_lifetimeNs = strtoull(lifetime, NULL, 10) * 1000000000ull;
    }
    const char *sab = getenv("WL_SABOTAGE");
    s_sabotage = sab && *sab && strcmp(sab, "0") != 0;
}

const char *wl_name(void)
{
    return s_name;
}

const char *wl_statedir(void)
{
    return s_statedir;
}

uint64_t wl_seed(void)
{
    return s_seed;
}

bool wl_sabotage_requested(void)
{
    return s_sabotage;
}

void wl_path(char *buf, size_t size, const char *rel)
{
    int n = snprintf(buf, size, "%s/%s", s_statedir, rel);
    if (n < 0 || (size_t)n >= size) {
        wl_die("path too long: %s/%s", s_statedir, rel);
    }
}

uint64_t wl_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t wl_derive(uint64_t seed, uint64_t tag)
{
    uint64_t s = seed ^ (tag * 0xd6e8feb86659fd93ull);
    return wl_next(&s);
}

void wl_fill(void *p, size_t n, uint64_t seed)
{
    uint8_t *b = p;
    uint64_t s = seed;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = wl_next(&s);
        memcpy(b + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = wl_next(&s);
        memcpy(b + i, &v, n - i);
    }
}

size_t wl_mismatch(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = wl_next(&s);
        size_t len = n - i < 8 ? n - i : 8;
        if (memcmp(b + i, &v, len) != 0) {
            const uint8_t *e = (const uint8_t *)&v;
            for (size_t k = 0; k < len; ++k) {
                if (b[i + k] != e[k]) {
                    return i + k;
                }
            }
        }
    }
    return n;
}

uint8_t wl_byte_at(uint64_t seed, size_t off)
{
    // splitmix64 can jump: the state after k steps is seed + k * golden.
    uint64_t s = seed + (uint64_t)(off / 8) * 0x9e3779b97f4a7c15ull;
    uint64_t v = wl_next(&s);
    return (uint8_t)(v >> (8 * (off % 8)));
}

// Threads of a workload may record failures at the same time.
static pthread_mutex_t s_failuresLock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 0))) static void appendFailureLocked(const char *fmt, va_list ap)
{
    ++s_failureCount;
    if (s_failuresLen + 4 >= sizeof s_failures) {
        return;
    }
    if (s_failuresLen > 0) {
        s_failuresLen += (size_t)snprintf(s_failures + s_failuresLen, sizeof s_failures - s_failuresLen, "; ");
    }
    int n = vsnprintf(s_failures + s_failuresLen, sizeof s_failures - s_failuresLen, fmt, ap);
    if (n > 0) {
        s_failuresLen += (size_t)n;
    }
    if (s_failuresLen >= sizeof s_failures) {
        s_failuresLen = sizeof s_failures - 1;
    }
}

__attribute__((format(printf, 1, 0))) static void appendFailure(const char *fmt, va_list ap)
{
    pthread_mutex_lock(&s_failuresLock);
    appendFailureLocked(fmt, ap);
    pthread_mutex_unlock(&s_failuresLock);
}

void wl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    appendFailure(fmt, ap);
    va_end(ap);
}

bool wl_check(bool cond, const char *fmt, ...)
{
    if (!cond) {
        va_list ap;
        va_start(ap, fmt);
        appendFailure(fmt, ap);
        va_end(ap);
    }
    return cond;
}

int wl_failures(void)
{
    return s_failureCount;
}

void wl_ready(void)
{
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)getpid());
    if (!writeStateFile("ready", text)) {
        wl_die("cannot write %s/ready: %s", s_statedir, strerror(errno));
    }
}

bool wl_go(void)
{
    return access(s_goPath, F_OK) == 0;
}

bool wl_expired(void)
{
    return wl_now_ns() - s_startNs > s_lifetimeNs;
}

void wl_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void wl_run(void (*step)(void), void (*sabotage)(void), unsigned sleep_ms)
{
    wl_ready();
    bool sabotaged = false;
    // One step (and the sabotage) always runs, even when go is there at once:
    // under load a harness that goes at once after ready must still see the
    // sabotage fail the workload.
    for (;;) {
        if (wl_expired()) {
            wl_fail("no go within the workload's lifetime");
            break;
        }
        if (step) {
            step();
        }
        if (s_sabotage && !sabotaged && sabotage) {
            sabotage();
            sabotaged = true;
        }
        if (wl_go()) {
            break;
        }
        wl_sleep_ms(sleep_ms);
    }
}

void wl_wait_go(void)
{
    while (!wl_go()) {
        if (wl_expired()) {
            wl_fail("no go within the workload's lifetime");
            break;
        }
        wl_sleep_ms(20);
    }
}

int wl_finish_as(const char *file)
{
    static char text[sizeof s_failures + 64];
    if (s_failureCount == 0) {
        snprintf(text, sizeof text, "ok\n");
    } else {
        snprintf(text, sizeof text, "FAIL: %s\n", s_failures);
    }
    if (!writeStateFile(file, text)) {
        return 1;
    }
    return s_failureCount == 0 ? 0 : 1;
}

void wl_collect(pid_t pid, const char *who, const char *file)
{
    int status = 0;
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid) {
        wl_fail("%s (pid %d): waitpid: %s (no longer our child?)", who, (int)pid, strerror(errno));
        return;
    }
    char path[PATH_MAX];
    wl_path(path, sizeof path, file);
    char text[2048] = {0};
    const long n = wl_read_file_at(path, text, sizeof text - 1, 0);
    while (n > 0 && strlen(text) > 0 && text[strlen(text) - 1] == '\n') {
        text[strlen(text) - 1] = 0;
    }
    if (n <= 0) {
        wl_fail("%s (pid %d): no verdict in %s (%s)", who, (int)pid, file, WIFEXITED(status) ? "exited" : "killed");
    } else if (strncmp(text, "ok", 2) != 0) {
        wl_fail("%s: %s", who, text);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != (strncmp(text, "ok", 2) == 0 ? 0 : 1)) {
        wl_fail("%s (pid %d): wait status %#x", who, (int)pid, status);
    }
}

int wl_finish(void)
{
    static char text[sizeof s_failures + 64];
    if (s_failureCount == 0) {
        snprintf(text, sizeof text, "ok\n");
    } else {
        snprintf(text, sizeof text, "FAIL: %s\n", s_failures);
    }
    if (!writeStateFile("result", text)) {
        return 1;
    }
    return s_failureCount == 0 ? 0 : 1;
}

void wl_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        wl_die("create %s: %s", path, strerror(errno));
    }
    writeAll(fd, data, n);
    close(fd);
}

long wl_read_file_at(const char *path, void *buf, size_t n, long off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (long)got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    return (long)got;
}

const char *wl_fdinfo(int fd, const char *key)
{
    // A few calls may share one printf: each returns its own buffer.
    static char line[512], values[4][512];
    static unsigned next;
    char *value = values[next++ % 4];
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "re");
    value[0] = '\0';
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            const char *p = line + strlen(key);
            while (*p == ' ' || *p == '\t') {
                ++p;
            }
            snprintf(value, sizeof values[0], "%s", p);
            value[strcspn(value, "\n")] = '\0';
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return value;
}

int wl_queued(int fd)
{
    int n = -1;
    ioctl(fd, FIONREAD, &n);
    return n;
}

void wl_place_pair(const int made[2], int want0, int want1)
{
    // Out of the way first: one of the new fds may be a number wanted.
    int a = fcntl(made[0], F_DUPFD, 20), b = fcntl(made[1], F_DUPFD, 20);
    close(made[0]);
    close(made[1]);
    if (a < 0 || b < 0 || dup2(a, want0) != want0 || dup2(b, want1) != want1) {
        wl_die("placing fds at %d and %d: %s", want0, want1, strerror(errno));
    }
    close(a);
    close(b);
}

long wl_seccomp_rule(int nr, long arg0, unsigned ret, unsigned flags)
{
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)arg0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, ret),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    if (arg0 < 0) {
        // No argument test: straight to RET.
        insns[5] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 2, 0, 0);
    }
    struct sock_fprog prog = {sizeof insns / sizeof insns[0], insns};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

void wl_versions_pass(struct wl_versions *v)
{
    const uint64_t next = v->pass + 1;
    for (size_t i = 0; i < v->elements; ++i) {
        if (v->array[i] != v->pass && v->mismatches++ < 4) {
            wl_fail("pass %llu: %s element %zu holds %llu, expected %llu (the memory mixes instants)", (unsigned long long)next, v->what, i,
                    (unsigned long long)v->array[i], (unsigned long long)v->pass);
        }
        v->array[i] = next;
    }
    v->pass = next;
}

void wl_versions_check(const struct wl_versions *v, const char *who)
{
    for (size_t i = 0; i < v->elements; ++i) {
        if (v->array[i] != v->pass) {
            wl_fail("%s: after go %s element %zu holds %llu, the last pass was %llu", who, v->what, i, (unsigned long long)v->array[i],
                    (unsigned long long)v->pass);
            break;
        }
    }
}

void wl_note(char *list, size_t size, const char *text)
{
    const size_t used = strlen(list);
    if (used + 3 >= size) {
        return;
    }
    size_t at = used;
    if (used > 0) {
        memcpy(list + at, "; ", 2);
        at += 2;
    }
    size_t n = strlen(text);
    n = n > size - at - 1 ? size - at - 1 : n;
    memcpy(list + at, text, n);
    list[at + n] = '\0';
}

bool wl_await_token(volatile uint64_t *p, uint64_t token)
{
    for (int i = 0; i < 300; ++i) {
        if (*p == token) {
            return true;
        }
        wl_sleep_ms(10);
    }
    return false;
}

pid_t wl_fork_sharing(void (*child)(void), volatile uint64_t *answer, uint64_t token, const char *who)
{
    const pid_t pid = fork();
    if (pid < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        child();
        wl_die("%s returned", who);
    }
    if (!wl_await_token(answer, token)) {
        wl_die("%s did not set up its memory", who);
    }
    __atomic_store_n(answer, 0, __ATOMIC_SEQ_CST);
    return pid;
}

uint64_t wl_tag(uint64_t t)
{
    return wl_derive(wl_seed(), t);
}

void wl_check_pattern(const char *who, const char *what, const void *p, size_t n, uint64_t seed)
{
    const size_t bad = wl_mismatch(p, n, seed);
    wl_check(bad == n, "%s: %s: byte %zu differs", who, what, bad);
}

void wl_note_sysv(const char *kind, int id, int key)
{
    char path[4096];
    wl_path(path, sizeof path, "sysv");
    FILE *f = fopen(path, "a");
    if (!f || fprintf(f, "%s %d %d\n", kind, id, key) < 0 || fclose(f) != 0) {
        wl_die("note %s %d in %s", kind, id, path);
    }
}
