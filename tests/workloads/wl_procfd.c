// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Read-only fds on files of /proc (format 8), each read partway:
// - child A holds the root's /proc/ROOT/maps at fd 5, read up to the end
//   of its first line: the root opened it without O_CLOEXEC, forked A and
//   closed its own (what Node.js's V8 leaks into a child forked while a
//   worker starts);
// - child B holds /proc/self/status at fd 4, read up to the "Tgid:" line;
// - the root holds /proc/meminfo at fd 3 (read up to its second line),
//   /proc/B/cmdline at fd 6 (read up to B's second argument; B comes after
//   the root in the tree, so its file must be opened once B exists) and,
//   opened by its thread T, /proc/thread-self/comm at fd 7 (read 3 bytes;
//   a file of a thread other than the main one).
// After go each reads on from where it stood and checks what comes against
// the kernel's answer now: the rest of the root's maps equals a fresh read
// of /proc/ROOT/maps from that offset; B's status goes on with its own
// Tgid, Pid and PPid and "TracerPid: 0" (a restore that left the file's
// buffer from while it held the process would show its own pid there);
// meminfo goes on with "MemFree:", cmdline with STATEDIR, comm with the
// rest of T's name. The root keeps its mappings still while A compares
// (A waits for STATEDIR/procfd.checked, written when the root is done,
// which then waits for A).
// Sabotage: the root puts fd 3 back to offset 0.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

enum { kText = 1 << 16 };

static const char kThreadName[] = "procfd-thread";
static atomic_int s_threadUp;
static atomic_int s_threadMayGo;

// Reads fd to its end (at most kText - 1 bytes) into buf, NUL-terminated;
// returns the count or -1.
static long readRest(int fd, char *buf)
{
    long done = 0;
    for (;;) {
        const ssize_t n = read(fd, buf + done, kText - 1 - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0 || done + n >= kText - 1) {
            done += n;
            break;
        }
        done += n;
    }
    buf[done] = '\0';
    return done;
}

// The whole of a /proc file, read through a new fd.
static long readWhole(const char *path, char *buf)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    const long n = readRest(fd, buf);
    close(fd);
    return n;
}

// Opens path at fd `want` (not O_CLOEXEC) and reads exactly n bytes from it.
static void openAndRead(const char *path, int want, size_t n, char *buf)
{
    const int fd = open(path, O_RDONLY);
    if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd) != 0))) {
        wl_die("open %s at fd %d: %s", path, want, strerror(errno));
    }
    const ssize_t got = read(want, buf, n);
    if (got != (ssize_t)n) {
        wl_die("read %zu bytes of %s: %zd", n, path, got);
    }
    buf[n] = '\0';
}

static void checkLink(const char *who, int fd, const char *expected)
{
    char link[64], target[256] = {0};
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, target, sizeof target - 1);
    wl_check(n > 0 && strcmp(target, expected) == 0, "%s: fd %d is '%s', expected %s", who, fd, n > 0 ? target : strerror(errno), expected);
    const int flags = fcntl(fd, F_GETFL);
    wl_check(flags >= 0 && (flags & O_ACCMODE) == O_RDONLY, "%s: fd %d flags %#x, expected read-only", who, fd, flags);
    wl_check(fcntl(fd, F_GETFD) == 0, "%s: fd %d FD_CLOEXEC set", who, fd);
}

static void checkOffset(const char *who, int fd, long expected)
{
    const off_t at = lseek(fd, 0, SEEK_CUR);
    wl_check(at == expected, "%s: fd %d at offset %lld, expected %ld", who, fd, (long long)at, expected);
}

static void markUp(const char *name)
{
    char path[4096];
    wl_path(path, sizeof path, name);
    wl_write_file(path, "up\n", 3);
}

static bool awaitFile(const char *name, unsigned ms)
{
    char path[4096];
    wl_path(path, sizeof path, name);
    for (unsigned waited = 0; waited < ms; waited += 10) {
        if (access(path, F_OK) == 0) {
            return true;
        }
        wl_sleep_ms(10);
    }
    return false;
}

// A: the root's maps at fd 5, first line read.
static void childA(pid_t root, long firstLine)
{
    static char rest[kText], fresh[kText];
    markUp("procfd.A.up");
    wl_wait_go();
    char expected[64];
    snprintf(expected, sizeof expected, "/proc/%d/maps", (int)root);
    checkLink("A", 5, expected);
    checkOffset("A", 5, firstLine);
    wl_check(awaitFile("procfd.checked", 5000), "A: the root did not finish its checks");
    const long n = readRest(5, rest);
    const long whole = readWhole(expected, fresh);
    if (wl_check(n > 0 && whole > firstLine, "A: the rest of the root's maps: %ld bytes (%ld in all now)", n, whole)) {
        wl_check(n == whole - firstLine && memcmp(rest, fresh + firstLine, (size_t)n) == 0,
                 "A: the rest of the root's maps (%ld bytes) differs from its maps now after the first line (%ld bytes): '%.80s' / '%.80s'", n,
                 whole - firstLine, rest, fresh + firstLine);
    }
    _exit(wl_finish_as("procfd.A"));
}

// B: its own status at fd 4, read up to "Tgid:".
static void childB(void)
{
    static char whole[kText], head[kText], rest[kText];
    if (readWhole("/proc/self/status", whole) <= 0) {
        wl_die("B: read /proc/self/status");
    }
    const char *tgid = strstr(whole, "\nTgid:");
    if (!tgid) {
        wl_die("B: no Tgid line in /proc/self/status");
    }
    const size_t upTo = (size_t)(tgid + 1 - whole);
    openAndRead("/proc/self/status", 4, upTo, head);
    if (strncmp(head, "Name:\t", 6) != 0) {
        wl_die("B: status starts with '%.20s'", head);
    }
    markUp("procfd.B.up");
    wl_wait_go();
    char expected[64];
    snprintf(expected, sizeof expected, "/proc/%d/status", (int)getpid());
    checkLink("B", 4, expected);
    checkOffset("B", 4, (long)upTo);
    const long n = readRest(4, rest);
    char line[96];
    snprintf(line, sizeof line, "Tgid:\t%d\n", (int)getpid());
    wl_check(n > 0 && strncmp(rest, line, strlen(line)) == 0, "B: status goes on with '%.24s', expected '%s'", n > 0 ? rest : "", line);
    snprintf(line, sizeof line, "\nPid:\t%d\n", (int)getpid());
    wl_check(strstr(rest, line) != NULL, "B: the rest of status lacks its Pid line");
    snprintf(line, sizeof line, "\nPPid:\t%d\n", (int)getppid());
    wl_check(strstr(rest, line) != NULL, "B: the rest of status lacks its PPid line");
    const char *tracer = strstr(rest, "\nTracerPid:\t");
    wl_check(tracer && strncmp(tracer, "\nTracerPid:\t0\n", 14) == 0, "B: status says '%.20s' (traced?)", tracer ? tracer + 1 : "no TracerPid");
    wl_check(strstr(rest, "\nThreads:\t1\n") != NULL && n > 0 && rest[n - 1] == '\n', "B: the rest of status is cut short");
    wl_check(awaitFile("procfd.checked", 5000), "B: the root did not finish its checks");
    _exit(wl_finish_as("procfd.B"));
}

// T: opens its own comm through /proc/thread-self at fd 7, reads 3 bytes.
static void *threadMain(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, kThreadName);
    char head[8];
    openAndRead("/proc/thread-self/comm", 7, 3, head);
    if (memcmp(head, kThreadName, 3) != 0) {
        wl_die("T: comm starts with '%s'", head);
    }
    atomic_store(&s_threadUp, (int)gettid());
    while (!atomic_load(&s_threadMayGo) && !wl_expired()) {
        wl_sleep_ms(50);
    }
    return NULL;
}

static void sabotage(void)
{
    if (lseek(3, 0, SEEK_SET) != 0) {
        wl_fail("sabotage: lseek: %s", strerror(errno));
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "procfd");
    static char text[kText];
    const pid_t root = getpid();

    // /proc/meminfo at fd 3, up to its second line.
    if (readWhole("/proc/meminfo", text) <= 0 || !strchr(text, '\n')) {
        wl_die("read /proc/meminfo");
    }
    const size_t memTotal = (size_t)(strchr(text, '\n') + 1 - text);
    openAndRead("/proc/meminfo", 3, memTotal, text);

    // B, whose cmdline the root holds at fd 6.
    const pid_t b = fork();
    if (b < 0) {
        wl_die("fork B: %s", strerror(errno));
    }
    if (b == 0) {
        childB();
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)b);
    const size_t argv0 = strlen(argv[0]) + 1;
    openAndRead(path, 6, argv0, text);

    // A gets the root's maps, read up to the end of its first line.
    if (readWhole("/proc/self/maps", text) <= 0 || !strchr(text, '\n')) {
        wl_die("read /proc/self/maps");
    }
    const long firstLine = (long)(strchr(text, '\n') + 1 - text);
    openAndRead("/proc/self/maps", 5, (size_t)firstLine, text);
    const pid_t a = fork();
    if (a < 0) {
        wl_die("fork A: %s", strerror(errno));
    }
    if (a == 0) {
        childA(root, firstLine);
    }
    close(5);

    pthread_t thread;
    if (pthread_create(&thread, NULL, threadMain, NULL) != 0) {
        wl_die("pthread_create");
    }
    for (int i = 0; i < 300 && !atomic_load(&s_threadUp); ++i) {
        wl_sleep_ms(10);
    }
    const pid_t tid = (pid_t)atomic_load(&s_threadUp);
    if (tid == 0 || !awaitFile("procfd.A.up", 3000) || !awaitFile("procfd.B.up", 3000)) {
        wl_die("the thread or a child did not set up");
    }

    wl_run(NULL, sabotage, 50);

    char expected[64];
    static char rest[kText];
    checkLink("root", 3, "/proc/meminfo");
    checkOffset("root", 3, (long)memTotal);
    long n = readRest(3, rest);
    wl_check(n > 0 && strncmp(rest, "MemFree:", 8) == 0, "root: meminfo goes on with '%.16s', expected MemFree:", n > 0 ? rest : "");

    snprintf(expected, sizeof expected, "/proc/%d/cmdline", (int)b);
    checkLink("root", 6, expected);
    checkOffset("root", 6, (long)argv0);
    n = readRest(6, rest);
    wl_check(n == (long)strlen(argv[1]) + 1 && memcmp(rest, argv[1], (size_t)n) == 0, "root: B's cmdline goes on with '%.80s' (%ld bytes), expected %s",
             n > 0 ? rest : "", n, argv[1]);

    snprintf(expected, sizeof expected, "/proc/%d/task/%d/comm", (int)root, (int)tid);
    checkLink("root", 7, expected);
    checkOffset("root", 7, 3);
    n = readRest(7, rest);
    char commRest[32];
    snprintf(commRest, sizeof commRest, "%s\n", kThreadName + 3);
    wl_check(n > 0 && strcmp(rest, commRest) == 0, "root: T's comm goes on with '%s', expected '%s'", n > 0 ? rest : "", commRest);

    // A compares the root's maps now: nothing maps or unmaps until it is done.
    markUp("procfd.checked");
    wl_collect(a, "A", "procfd.A");
    atomic_store(&s_threadMayGo, 1);
    pthread_join(thread, NULL);
    wl_collect(b, "B", "procfd.B");
    return wl_finish();
}
