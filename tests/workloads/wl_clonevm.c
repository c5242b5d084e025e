// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// One address space shared by three processes (format 9, ProcessEntry::vmOf):
// the root made child V with clone(CLONE_VM | SIGCHLD) and child W with
// clone(CLONE_VM | CLONE_FILES | SIGCHLD), each on a stack the root
// allocated, and an ordinary child N with fork() (a copy of the memory).
// - fd 3 is STATEDIR/shared, opened by the root before the clones, at
//   offset 100 (V's table is a copy: the same open file; W's is the root's).
// - V opens STATEDIR/vown (fd 4, offset 50) in its own table, installs a
//   SIGUSR1 handler (its own dispositions: no CLONE_SIGHAND) and fills a
//   region of the shared heap with its pattern; V and W each keep
//   incrementing a counter of their own in the shared memory until the root
//   says stop.
// After go:
// - the root: kcmp(KCMP_VM) is "same" with V and W and "different" with N;
//   fd 4 is not open in it (V's) nor is SIGUSR1 handled; both counters still
//   move (V and W run on in its memory); it writes a token V and W wait for
//   and answer (one memory both ways); it sends V SIGUSR1, which V's handler
//   counts in the shared memory; it opens STATEDIR/late and names the fd in
//   the shared memory, which W must find in its table (one fd table with the
//   root) and V must not; it reaps V and W with waitpid(..., 0) (their exit
//   signal is SIGCHLD still).
// - V and W check their part and note failures in the shared memory (no
//   wl_fail: its list is in the shared memory too and is not safe to use
//   from three processes); the root reports them.
// - N checks its copy: its counters stand still, its heap pattern is there.
// Sabotage: the root flips a byte of V's pattern in the shared heap.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kSharedBytes = 100, kOwnBytes = 50, kHeap = 256 * 1024, kStack = 256 * 1024, kOwnFd = 4 };

// The part of the shared memory V and W report in; written by one of them
// only, read by the root once it reaped the writer.
struct ChildReport {
    volatile uint64_t ready; // the setup token once set up
    volatile uint64_t counter; // incremented until stop
    volatile uint64_t answer; // the root's token, answered
    char failures[512];
};

static struct {
    pid_t root;
    volatile uint64_t stop;
    volatile uint64_t token; // written by the root after go
    volatile int lateFd; // the fd the root opened after go (-1: not yet)
    volatile uint64_t usr1; // SIGUSR1 taken by V's handler
    struct ChildReport v, w;
    unsigned char *vHeap; // V's pattern (tag 1)
} *s;

static bool sameFile(int fd, const char *rel)
{
    char path[4096];
    wl_path(path, sizeof path, rel);
    struct stat a, b;
    return fcntl(fd, F_GETFD) >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static bool sameObject(pid_t a, pid_t b, int type)
{
    return syscall(SYS_kcmp, a, b, type, 0, 0) == 0;
}

static void onUsr1(int sig)
{
    (void)sig;
    __atomic_add_fetch(&s->usr1, 1, __ATOMIC_SEQ_CST);
}

// Counts until go, waits for the root's token and answers it, then counts
// on until the root says stop.
static void countAndAnswer(struct ChildReport *r, const char *who)
{
    while (!wl_go() && !wl_expired()) {
        for (int i = 0; i < 20; ++i) {
            __atomic_add_fetch(&r->counter, 1, __ATOMIC_SEQ_CST);
            wl_sleep_ms(1);
        }
    }
    uint64_t token = 0;
    for (int i = 0; i < 3000 && token == 0; ++i) {
        token = __atomic_load_n(&s->token, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&r->counter, 1, __ATOMIC_SEQ_CST);
        wl_sleep_ms(1);
    }
    if (token == 0) {
        char text[96];
        snprintf(text, sizeof text, "%s: the root's token did not come through the shared memory", who);
        wl_note(r->failures, sizeof r->failures, text);
    }
    __atomic_store_n(&r->answer, token, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST) && !wl_expired()) {
        __atomic_add_fetch(&r->counter, 1, __ATOMIC_SEQ_CST);
        wl_sleep_ms(1);
    }
}

static int lateFd(void)
{
    for (int i = 0; i < 300; ++i) {
        const int fd = __atomic_load_n(&s->lateFd, __ATOMIC_SEQ_CST);
        if (fd >= 0) {
            return fd;
        }
        wl_sleep_ms(10);
    }
    return -1;
}

static void checkCommon(struct ChildReport *r, const char *who)
{
    char text[160];
    if (!sameObject(s->root, getpid(), KCMP_VM)) {
        snprintf(text, sizeof text, "%s: its address space is not the root's (kcmp)", who);
        wl_note(r->failures, sizeof r->failures, text);
    }
    const off_t at = lseek(3, 0, SEEK_CUR);
    if (at != kSharedBytes || !sameFile(3, "shared")) {
        snprintf(text, sizeof text, "%s: fd 3 is not STATEDIR/shared at offset %d (offset %lld)", who, kSharedBytes, (long long)at);
        wl_note(r->failures, sizeof r->failures, text);
    }
}

static int childV(void *arg)
{
    (void)arg;
    char text[160];
    const int own = open("vown", O_RDWR | O_CREAT | O_TRUNC, 0644);
    unsigned char bytes[kOwnBytes];
    wl_fill(bytes, sizeof bytes, wl_tag(4));
    if (own != kOwnFd || write(own, bytes, sizeof bytes) != kOwnBytes) {
        wl_note(s->v.failures, sizeof s->v.failures, "V: setup: open vown as fd 4");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onUsr1;
    sigaction(SIGUSR1, &sa, NULL);
    wl_fill(s->vHeap, kHeap, wl_tag(1));
    __atomic_store_n(&s->v.ready, wl_tag(5), __ATOMIC_SEQ_CST);

    countAndAnswer(&s->v, "V");
    checkCommon(&s->v, "V");
    if (sameObject(s->root, getpid(), KCMP_FILES)) {
        wl_note(s->v.failures, sizeof s->v.failures, "V: its fd table is the root's (kcmp)");
    }
    const off_t at = lseek(kOwnFd, 0, SEEK_CUR);
    if (at != kOwnBytes || !sameFile(kOwnFd, "vown")) {
        snprintf(text, sizeof text, "V: fd %d is not STATEDIR/vown at offset %d (offset %lld)", kOwnFd, kOwnBytes, (long long)at);
        wl_note(s->v.failures, sizeof s->v.failures, text);
    }
    const size_t bad = wl_mismatch(s->vHeap, kHeap, wl_tag(1));
    if (bad != kHeap) {
        snprintf(text, sizeof text, "V: its pattern differs at byte %zu", bad);
        wl_note(s->v.failures, sizeof s->v.failures, text);
    }
    const int late = lateFd();
    if (late >= 0 && sameFile(late, "late")) {
        snprintf(text, sizeof text, "V: fd %d the root opened after go is in its table", late);
        wl_note(s->v.failures, sizeof s->v.failures, text);
    }
    _exit(s->v.failures[0] ? 1 : 0);
}

static int childW(void *arg)
{
    (void)arg;
    char text[160];
    __atomic_store_n(&s->w.ready, wl_tag(6), __ATOMIC_SEQ_CST);
    countAndAnswer(&s->w, "W");
    checkCommon(&s->w, "W");
    if (!sameObject(s->root, getpid(), KCMP_FILES)) {
        wl_note(s->w.failures, sizeof s->w.failures, "W: its fd table is not the root's (kcmp)");
    }
    const int late = lateFd();
    if (late < 0 || !sameFile(late, "late")) {
        snprintf(text, sizeof text, "W: fd %d the root opened after go is not in its table", late);
        wl_note(s->w.failures, sizeof s->w.failures, text);
    }
    _exit(s->w.failures[0] ? 1 : 0);
}

static void childN(void)
{
    // A copy: what the others change after the fork is not seen here.
    const uint64_t v = s->v.counter, w = s->w.counter;
    wl_wait_go();
    wl_check(!sameObject(s->root, getpid(), KCMP_VM), "N: its address space is the root's (kcmp)");
    wl_check_pattern("N", "its copy of V's pattern", s->vHeap, kHeap, wl_tag(1));
    wl_sleep_ms(50);
    wl_check(s->v.counter == v && s->w.counter == w, "N: its copies of the counters moved (%llu -> %llu, %llu -> %llu)", (unsigned long long)v,
             (unsigned long long)s->v.counter, (unsigned long long)w, (unsigned long long)s->w.counter);
    wl_check(lseek(3, 0, SEEK_CUR) == kSharedBytes, "N: fd 3 not at offset %d", kSharedBytes);
    _exit(wl_finish_as("clonevm.N"));
}

static void sabotage(void)
{
    s->vHeap[kHeap / 2] ^= 0xff;
}

static pid_t cloneChild(int (*fn)(void *), int flags, const char *who)
{
    char *stack = malloc(kStack);
    if (!stack) {
        wl_die("malloc the stack of %s", who);
    }
    const pid_t pid = clone(fn, stack + kStack, flags, NULL);
    if (pid < 0) {
        wl_die("clone %s: %s", who, strerror(errno));
    }
    return pid;
}

// Reaps a CLONE_VM child (exit signal SIGCHLD: a plain waitpid sees it)
// and reports what it noted.
static void collectSharer(pid_t pid, const char *who, const struct ChildReport *r)
{
    int status = 0;
    pid_t got;
    do {
        got = waitpid(pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    if (got != pid) {
        wl_fail("%s (pid %d): waitpid: %s (not a SIGCHLD child of ours?)", who, (int)pid, strerror(errno));
        return;
    }
    if (r->failures[0]) {
        wl_fail("%s", r->failures);
    }
    wl_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited with status %#x", who, status);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "clonevm");
    s = calloc(1, sizeof *s);
    if (!s) {
        wl_die("calloc");
    }
    s->root = getpid();
    s->lateFd = -1;
    s->vHeap = malloc(kHeap);
    if (!s->vHeap) {
        wl_die("malloc");
    }
    char path[4096];
    wl_path(path, sizeof path, "shared");
    if (open(path, O_RDWR | O_CREAT | O_TRUNC, 0644) != 3) {
        wl_die("open shared: not fd 3");
    }
    static unsigned char bytes[kSharedBytes];
    wl_fill(bytes, sizeof bytes, wl_tag(3));
    if (write(3, bytes, sizeof bytes) != kSharedBytes) {
        wl_die("write shared");
    }
    const pid_t v = cloneChild(childV, CLONE_VM | SIGCHLD, "V");
    if (!wl_await_token(&s->v.ready, wl_tag(5))) {
        wl_die("V did not set up");
    }
    const pid_t w = cloneChild(childW, CLONE_VM | CLONE_FILES | SIGCHLD, "W");
    if (!wl_await_token(&s->w.ready, wl_tag(6))) {
        wl_die("W did not set up");
    }
    const pid_t n = fork();
    if (n < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (n == 0) {
        childN();
    }
    wl_run(NULL, sabotage, 50);

    wl_check(sameObject(s->root, v, KCMP_VM) && sameObject(s->root, w, KCMP_VM), "root: V or W does not share its address space (kcmp)");
    wl_check(!sameObject(s->root, n, KCMP_VM), "root: N shares its address space (kcmp)");
    wl_check(fcntl(kOwnFd, F_GETFD) < 0, "root: fd %d (V's own) is open in its table", kOwnFd);
    struct sigaction old;
    wl_check(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == SIG_DFL, "root: SIGUSR1 is not SIG_DFL (V's handler?)");
    // V and W run on in this memory.
    const uint64_t v0 = s->v.counter, w0 = s->w.counter;
    wl_sleep_ms(100);
    wl_check(s->v.counter > v0 && s->w.counter > w0, "root: the counters of V and W did not move (%llu, %llu)", (unsigned long long)v0, (unsigned long long)w0);
    const uint64_t token = wl_tag(7) | 1;
    __atomic_store_n(&s->token, token, __ATOMIC_SEQ_CST);
    wl_check(wl_await_token(&s->v.answer, token), "root: V did not answer the token through the shared memory");
    wl_check(wl_await_token(&s->w.answer, token), "root: W did not answer the token through the shared memory");
    if (kill(v, SIGUSR1) != 0) {
        wl_fail("root: kill V SIGUSR1: %s", strerror(errno));
    }
    wl_check(wl_await_token(&s->usr1, 1), "root: V's SIGUSR1 handler did not run (%llu)", (unsigned long long)s->usr1);
    wl_path(path, sizeof path, "late");
    const int late = open(path, O_RDWR | O_CREAT, 0644);
    __atomic_store_n(&s->lateFd, late, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
    const off_t at = lseek(3, 0, SEEK_CUR);
    wl_check(at == kSharedBytes, "root: fd 3 at offset %lld, expected %d", (long long)at, kSharedBytes);
    collectSharer(v, "V", &s->v);
    collectSharer(w, "W", &s->w);
    wl_collect(n, "N", "clonevm.N");
    return wl_finish();
}
