// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Eight processes of two threads each (issue 5's stress shape: 16 threads in
// 8 processes), with pipes between parents and children:
//   P0 (the root) has children P1 and P2, P1 has P3 and P4, P2 has P5 and
//   P6, P3 has P7. Every process holds a 256 KiB block with a pattern of its
//   own seed and a worker thread (named "wl-pt-work") besides its main one.
//   Each parent has a pipe down to each child (the child's fd 10, the
//   parent's fds 20 and 21). The worker extends a seeded chain (each step
//   checked against a recomputation after go), writes the next piece of a
//   seeded byte stream into each child's pipe without blocking (so the
//   pipes are mostly full: there are always bytes in flight), and reads what
//   its parent sent, checking every byte. The main thread sleeps in 50 ms
//   nanosleeps until go.
// After go in every process: the main thread stops and joins the worker,
// which checks its tid as noted before ready; the main thread checks the
// block, its pid, parent, process group and session, writes the stream
// count of each child pipe into STATEDIR/proctree.N.count and closes it,
// reads its own pipe to end of file (every byte checked) and compares the
// total with its parent's count; then it reaps its children (wl_collect:
// they must still be its children) and writes its verdict.
// Sabotage: SIGUSR1 to P7, whose handler flips a byte of its block.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kProcesses = 8, kBlock = 256 * 1024, kChunk = 4096, kParentFd = 10, kChildFd0 = 20 };

static int s_index; // N of PN
static unsigned char *s_block;
static pid_t s_pid, s_ppid, s_pgid, s_sid;
static pid_t s_children[2];
static int s_childIndex[2];
static int s_childCount;
static uint64_t s_written[2]; // stream bytes written into each child's pipe
static uint64_t s_read; // stream bytes read from the parent's pipe
static uint64_t s_chainStart, s_chain, s_steps;
static pid_t s_workerTid;
static pthread_t s_worker;
static atomic_bool s_stop;

static uint64_t streamSeed(int child)
{
    return wl_derive(wl_seed(), 1000 + (uint64_t)child);
}

static uint64_t blockSeed(int index)
{
    return wl_derive(wl_seed(), 2000 + (uint64_t)index);
}

static void onUsr1(int sig)
{
    (void)sig;
    s_block[kBlock / 3] ^= 0x5a;
}

static void writeChildren(void)
{
    static unsigned char buf[kChunk];
    for (int k = 0; k < s_childCount; ++k) {
        const uint64_t seed = streamSeed(s_childIndex[k]);
        for (size_t i = 0; i < sizeof buf; ++i) {
            buf[i] = wl_byte_at(seed, s_written[k] + i);
        }
        const ssize_t n = write(kChildFd0 + k, buf, sizeof buf);
        if (n > 0) {
            s_written[k] += (uint64_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR && !atomic_load(&s_stop)) {
            wl_fail("P%d: write to P%d's pipe: %s", s_index, s_childIndex[k], strerror(errno));
        }
    }
}

// Reads what is there (or, with `toEnd`, up to end of file), checking every byte.
static void readParent(bool toEnd)
{
    static unsigned char buf[kChunk];
    const uint64_t seed = streamSeed(s_index);
    for (;;) {
        const ssize_t n = read(kParentFd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN && !toEnd) {
            return;
        }
        if (n < 0) {
            wl_fail("P%d: read from the parent's pipe: %s", s_index, strerror(errno));
            return;
        }
        if (n == 0) {
            return;
        }
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] != wl_byte_at(seed, s_read + (uint64_t)i)) {
                wl_fail("P%d: stream byte %llu is %#x, expected %#x", s_index, (unsigned long long)(s_read + (uint64_t)i), buf[i],
                        wl_byte_at(seed, s_read + (uint64_t)i));
                s_read += (uint64_t)n;
                return;
            }
        }
        s_read += (uint64_t)n;
        if (!toEnd) {
            return;
        }
    }
}

static void *work(void *arg)
{
    (void)arg;
    s_workerTid = (pid_t)syscall(SYS_gettid);
    prctl(PR_SET_NAME, "wl-pt-work");
    while (!atomic_load(&s_stop)) {
        s_chain = wl_next(&s_chain) ^ s_steps;
        ++s_steps;
        writeChildren();
        if (s_index != 0) {
            readParent(false);
        }
        wl_sleep_ms(2);
    }
    const pid_t tid = (pid_t)syscall(SYS_gettid);
    wl_check(tid == s_workerTid, "P%d: the worker's tid is %d, was %d", s_index, tid, s_workerTid);
    char name[16] = {0};
    prctl(PR_GET_NAME, name);
    wl_check(strcmp(name, "wl-pt-work") == 0, "P%d: the worker's name is \"%s\"", s_index, name);
    return NULL;
}

static void markReady(void)
{
    char rel[64], path[PATH_MAX];
    snprintf(rel, sizeof rel, "proctree.%d.ready", s_index);
    wl_path(path, sizeof path, rel);
    wl_write_file(path, "1\n", 2);
}

static bool allReady(void)
{
    for (int i = 1; i < kProcesses; ++i) {
        char rel[64], path[PATH_MAX];
        snprintf(rel, sizeof rel, "proctree.%d.ready", i);
        wl_path(path, sizeof path, rel);
        if (access(path, F_OK) != 0) {
            return false;
        }
    }
    return true;
}

static void becomeProcess(int index); // returns only in P0

// Forks PN's children, each with the read end of a pipe at fd 10 and nothing
// of its parent's but fds 0-2.
static void forkChildren(void)
{
    for (int c = 2 * s_index + 1; c <= 2 * s_index + 2 && c < kProcesses; ++c) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            wl_die("P%d: pipe: %s", s_index, strerror(errno));
        }
        const pid_t pid = fork();
        if (pid < 0) {
            wl_die("P%d: fork: %s", s_index, strerror(errno));
        }
        if (pid == 0) {
            if (dup2(fds[0], 9) != 9) {
                _exit(3);
            }
            close(fds[0]);
            close(fds[1]);
            close_range(10, ~0u, 0);
            if (dup2(9, kParentFd) != kParentFd) {
                _exit(3);
            }
            close(9);
            fcntl(kParentFd, F_SETFL, O_NONBLOCK);
            free(s_block); // the parent's
            s_childCount = 0;
            becomeProcess(c); // does not return
        }
        close(fds[0]);
        const int k = s_childCount++;
        if (dup2(fds[1], kChildFd0 + k) != kChildFd0 + k) {
            wl_die("P%d: dup2: %s", s_index, strerror(errno));
        }
        close(fds[1]);
        fcntl(kChildFd0 + k, F_SETFL, O_NONBLOCK);
        s_children[k] = pid;
        s_childIndex[k] = c;
    }
}

static void verifyAndFinish(void)
{
    atomic_store(&s_stop, true);
    pthread_join(s_worker, NULL);
    const size_t bad = wl_mismatch(s_block, kBlock, blockSeed(s_index));
    wl_check(bad == kBlock, "P%d: block differs at byte %zu", s_index, bad);
    wl_check(getpid() == s_pid, "P%d: pid %d, was %d", s_index, getpid(), s_pid);
    wl_check(getppid() == s_ppid, "P%d: parent %d, was %d", s_index, getppid(), s_ppid);
    wl_check(getpgrp() == s_pgid && getsid(0) == s_sid, "P%d: group %d session %d, were %d %d", s_index, getpgrp(), getsid(0), s_pgid, s_sid);
    uint64_t chain = s_chainStart;
    for (uint64_t i = 0; i < s_steps; ++i) {
        chain = wl_next(&chain) ^ i;
    }
    wl_check(chain == s_chain, "P%d: chain after %llu steps differs", s_index, (unsigned long long)s_steps);
    for (int k = 0; k < s_childCount; ++k) {
        char rel[64], path[PATH_MAX], text[32];
        snprintf(rel, sizeof rel, "proctree.%d.count", s_childIndex[k]);
        wl_path(path, sizeof path, rel);
        const int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)s_written[k]);
        wl_write_file(path, text, (size_t)n);
        close(kChildFd0 + k);
    }
    if (s_index != 0) {
        fcntl(kParentFd, F_SETFL, 0);
        readParent(true);
        close(kParentFd);
        char rel[64], path[PATH_MAX], text[32] = {0};
        snprintf(rel, sizeof rel, "proctree.%d.count", s_index);
        wl_path(path, sizeof path, rel);
        // The parent wrote the count before it closed the pipe: it is there.
        const long n = wl_read_file_at(path, text, sizeof text - 1, 0);
        wl_check(n > 0 && strtoull(text, NULL, 10) == s_read, "P%d: read %llu stream bytes, the parent wrote %s", s_index,
                 (unsigned long long)s_read, n > 0 ? text : "(no count)");
        wl_check(s_read > 0, "P%d: no stream byte arrived", s_index);
    }
    for (int k = 0; k < s_childCount; ++k) {
        char who[16], file[64];
        snprintf(who, sizeof who, "P%d", s_childIndex[k]);
        snprintf(file, sizeof file, "proctree.%d", s_childIndex[k]);
        wl_collect(s_children[k], who, file);
    }
}

static void becomeProcess(int index)
{
    s_index = index;
    s_block = malloc(kBlock);
    if (!s_block) {
        wl_die("P%d: malloc", index);
    }
    wl_fill(s_block, kBlock, blockSeed(index));
    s_chainStart = s_chain = wl_derive(wl_seed(), 3000 + (uint64_t)index);
    forkChildren();
    s_pid = getpid();
    s_ppid = getppid();
    s_pgid = getpgrp();
    s_sid = getsid(0);
    if (index == 7) {
        signal(SIGUSR1, onUsr1);
    }
    if (pthread_create(&s_worker, NULL, work, NULL) != 0) {
        wl_die("P%d: pthread_create", index);
    }
    while (s_workerTid == 0) {
        wl_sleep_ms(1);
    }
    if (index == 0) {
        return;
    }
    markReady();
    wl_wait_go();
    verifyAndFinish();
    char file[64];
    snprintf(file, sizeof file, "proctree.%d", index);
    _exit(wl_finish_as(file));
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "proctree");
    // When the harness kills the tree one process at a time, a parent may
    // write to a pipe whose child is already gone: EPIPE, not death by SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    becomeProcess(0);
    const uint64_t deadline = wl_now_ns() + 20ull * 1000000000ull;
    while (!allReady()) {
        if (wl_now_ns() > deadline) {
            wl_die("the other processes were not ready within 20 s");
        }
        wl_sleep_ms(5);
    }
    if (wl_sabotage_requested()) {
        // P7 is P3's child, P3 is P1's: find it through the children files.
        char path[64], text[256] = {0};
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)s_children[0], (int)s_children[0]);
        pid_t p3 = 0, p7 = 0;
        if (wl_read_file_at(path, text, sizeof text - 1, 0) > 0) {
            p3 = (pid_t)strtol(text, NULL, 10); // P1's first child
        }
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)p3, (int)p3);
        memset(text, 0, sizeof text);
        if (p3 > 0 && wl_read_file_at(path, text, sizeof text - 1, 0) > 0) {
            p7 = (pid_t)strtol(text, NULL, 10);
        }
        if (p7 <= 0 || kill(p7, SIGUSR1) != 0) {
            wl_die("sabotage: P7 not found");
        }
    }
    wl_ready();
    wl_wait_go();
    verifyAndFinish();
    return wl_finish();
}
