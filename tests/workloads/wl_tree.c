// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A process tree: the root with children A, B and C, A with a grandchild G.
// Every process holds its own memory (a heap block of a seeded size, 192 KiB
// to 1 MiB, with a pattern of its own seed, plus a stack array) and notes
// its pid, parent, process group and session before ready. B computes on
// (a seeded chain, each step checked against a recomputation); C has two
// more threads extending chains of their own (the tids noted); the others
// sleep in 50 ms nanosleeps.
// After go every process checks its own state: pattern, stack array,
// getpid/getppid/getpgrp/getsid as noted; each parent reaps its children
// (waitpid: they must still be its children) and takes over their verdicts.
// Sabotage: SIGUSR1 to G, whose handler flips a byte of its pattern.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct Role {
    const char *name;
    unsigned tag;
};

static unsigned char *s_block;
static size_t s_size;
static uint64_t s_blockSeed;
static pid_t s_pid, s_ppid, s_pgid, s_sid;
static volatile uint64_t s_chain, s_steps;

static void flip(int sig)
{
    (void)sig;
    s_block[s_size / 2] ^= 0x40;
}

static uint64_t chainStep(uint64_t v)
{
    return v * 6364136223846793005ull + 1442695040888963407ull;
}

// The state of one process, set up right after its fork.
static void setUp(unsigned tag)
{
    const uint64_t seed = wl_derive(wl_seed(), tag);
    s_size = 192 * 1024 + (size_t)(wl_derive(seed, 1) % (832 * 1024));
    s_block = malloc(s_size);
    if (!s_block) {
        wl_die("malloc %zu", s_size);
    }
    s_blockSeed = wl_derive(seed, 2);
    wl_fill(s_block, s_size, s_blockSeed);
    s_pid = getpid();
    s_ppid = getppid();
    s_pgid = getpgrp();
    s_sid = getsid(0);
    s_chain = seed;
}

static void verify(const char *who, unsigned tag, const unsigned char *stackArray, size_t stackSize)
{
    const size_t bad = wl_mismatch(s_block, s_size, s_blockSeed);
    wl_check(bad == s_size, "%s: heap block byte %zu of %zu differs", who, bad, s_size);
    const size_t badStack = wl_mismatch(stackArray, stackSize, wl_derive(wl_seed(), 100 + tag));
    wl_check(badStack == stackSize, "%s: stack array byte %zu differs", who, badStack);
    wl_check(getpid() == s_pid, "%s: pid %d, was %d", who, (int)getpid(), (int)s_pid);
    wl_check(getppid() == s_ppid, "%s: parent %d, was %d", who, (int)getppid(), (int)s_ppid);
    wl_check(getpgrp() == s_pgid, "%s: process group %d, was %d", who, (int)getpgrp(), (int)s_pgid);
    wl_check(getsid(0) == s_sid, "%s: session %d, was %d", who, (int)getsid(0), (int)s_sid);
    if (s_steps > 0) {
        uint64_t v = wl_derive(wl_seed(), tag);
        for (uint64_t i = 0; i < s_steps; ++i) {
            v = chainStep(v);
        }
        wl_check(v == s_chain, "%s: chain after %llu steps differs from its recomputation", who, (unsigned long long)s_steps);
    }
}

// C's threads: each extends its chain until go, then checks it and its tid.
struct Worker {
    pthread_t thread;
    unsigned index;
    pid_t tid;
    volatile uint64_t chain, steps;
};
static struct Worker s_workers[2];

static void *work(void *arg)
{
    struct Worker *w = arg;
    w->tid = (pid_t)syscall(SYS_gettid);
    w->chain = wl_derive(wl_seed(), 50 + w->index);
    while (!wl_go() && !wl_expired()) {
        for (int i = 0; i < 5000; ++i) {
            w->chain = chainStep(w->chain);
            ++w->steps;
        }
        wl_sleep_ms(3);
    }
    uint64_t v = wl_derive(wl_seed(), 50 + w->index);
    for (uint64_t i = 0; i < w->steps; ++i) {
        v = chainStep(v);
    }
    wl_check(v == w->chain, "C thread %u: chain after %llu steps differs", w->index, (unsigned long long)w->steps);
    wl_check((pid_t)syscall(SYS_gettid) == w->tid, "C thread %u: tid %d, was %d", w->index, (int)syscall(SYS_gettid), (int)w->tid);
    return NULL;
}

// Runs a child process's part and exits.
static void child(const char *name, unsigned tag, bool computes, pid_t (*spawnMore)(void))
{
    setUp(tag);
    unsigned char stackArray[12000];
    wl_fill(stackArray, sizeof stackArray, wl_derive(wl_seed(), 100 + tag));
    const pid_t grandchild = spawnMore ? spawnMore() : 0;
    if (tag == 4) {
        signal(SIGUSR1, flip);
    }
    if (tag == 3) {
        for (unsigned i = 0; i < 2; ++i) {
            s_workers[i].index = i;
            if (pthread_create(&s_workers[i].thread, NULL, work, &s_workers[i]) != 0) {
                wl_die("C: pthread_create");
            }
        }
    }
    while (!wl_go() && !wl_expired()) {
        if (computes) {
            for (int i = 0; i < 20000; ++i) {
                s_chain = chainStep(s_chain);
                ++s_steps;
            }
            wl_sleep_ms(5);
        } else {
            wl_sleep_ms(50);
        }
    }
    wl_wait_go();
    verify(name, tag, stackArray, sizeof stackArray);
    if (tag == 3) {
        for (unsigned i = 0; i < 2; ++i) {
            pthread_join(s_workers[i].thread, NULL);
        }
    }
    if (grandchild > 0) {
        wl_collect(grandchild, "G", "tree.G");
    }
    char file[32];
    snprintf(file, sizeof file, "tree.%s", name);
    _exit(wl_finish_as(file));
}

static pid_t s_g;

static pid_t spawnGrandchild(void)
{
    const pid_t pid = fork();
    if (pid < 0) {
        wl_die("fork G: %s", strerror(errno));
    }
    if (pid == 0) {
        child("G", 4, false, NULL);
    }
    s_g = pid;
    return pid;
}

static pid_t spawn(const char *name, unsigned tag, bool computes, pid_t (*spawnMore)(void))
{
    const pid_t pid = fork();
    if (pid < 0) {
        wl_die("fork %s: %s", name, strerror(errno));
    }
    if (pid == 0) {
        child(name, tag, computes, spawnMore);
    }
    return pid;
}

static pid_t s_children[3];

// The number of threads /proc/PID/status gives (0 if unreadable).
static int threadsOf(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char text[4096] = {0};
    if (wl_read_file_at(path, text, sizeof text - 1, 0) <= 0) {
        return 0;
    }
    const char *at = strstr(text, "\nThreads:");
    return at ? atoi(at + strlen("\nThreads:")) : 0;
}

static void sabotage(void)
{
    // G's pid: A's only child.
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)s_children[0], (int)s_children[0]);
    char text[64] = {0};
    if (wl_read_file_at(path, text, sizeof text - 1, 0) > 0) {
        kill((pid_t)atoi(text), SIGUSR1);
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "tree");
    setUp(0);
    unsigned char stackArray[12000];
    wl_fill(stackArray, sizeof stackArray, wl_derive(wl_seed(), 100));
    s_children[0] = spawn("A", 1, false, spawnGrandchild);
    s_children[1] = spawn("B", 2, true, NULL);
    s_children[2] = spawn("C", 3, false, NULL);
    // Ready once G and C's two threads exist too (a checkpoint right after
    // ready sees the whole tree, however loaded the machine).
    for (int i = 0; i < 500; ++i) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)s_children[0], (int)s_children[0]);
        char text[64] = {0};
        if (wl_read_file_at(path, text, sizeof text - 1, 0) > 0 && atoi(text) > 0 && threadsOf(s_children[2]) == 3) {
            break;
        }
        wl_sleep_ms(10);
    }
    wl_run(NULL, sabotage, 50);
    verify("root", 0, stackArray, sizeof stackArray);
    const char *names[] = {"A", "B", "C"};
    for (int i = 0; i < 3; ++i) {
        char file[32];
        snprintf(file, sizeof file, "tree.%s", names[i]);
        wl_collect(s_children[i], names[i], file);
    }
    (void)s_g;
    return wl_finish();
}
