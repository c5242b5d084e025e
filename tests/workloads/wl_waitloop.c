// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A process manager's loop: the root is a child subreaper
// (PR_SET_CHILD_SUBREAPER, as tini, dumb-init or a job runner) and reaps
// everything with waitid(P_ALL, WEXITED | WNOHANG | __WALL), clone children
// included. It keeps up to 6 units going: unit i is a child that forks a
// grandchild and exits at once (status 100 + i % 50) after telling the root
// the grandchild's pid through a pipe; the grandchild, orphaned and so
// reparented to the root, computes a seeded chain and exits with a status
// derived from it. Every pid the root reaps must be one it made: a process
// Cryopod makes for its own use (the copy of a low-pause snapshot) must never
// reach this wait(), even from a subreaper.
// After go: no more units; the rest are reaped (blocking) and every unit
// must have been reaped twice (child and grandchild) with the right
// statuses; the subreaper flag must have survived.
// Sabotage: the root forgets one grandchild's pid.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kMaxUnits = 4096, kAlive = 6 };

struct Unit {
    pid_t child, grandchild;
    bool childReaped, grandchildReaped;
};

struct Note {
    uint32_t unit;
    int32_t grandchild;
};

static struct Unit s_units[kMaxUnits];
static unsigned s_started, s_alive;
static int s_notes[2]; // grandchild pids, from each unit's child to the root

static int grandchildStatus(unsigned i)
{
    uint64_t v = wl_derive(wl_seed(), i);
    for (unsigned step = 0; step < 20000 + (i % 7) * 30000; ++step) {
        v = v * 6364136223846793005ull + 1442695040888963407ull;
    }
    return (int)(v >> 57); // 0..127
}

static void readNotes(void)
{
    struct Note note;
    ssize_t n;
    while ((n = read(s_notes[0], &note, sizeof note)) == (ssize_t)sizeof note) {
        if (wl_check(note.unit < s_started, "a note for unit %u, which was never started", note.unit)) {
            s_units[note.unit].grandchild = note.grandchild;
        }
    }
    if (n > 0) {
        wl_fail("a short note on the pipe (%zd bytes)", n);
    }
}

static void takeStatus(const siginfo_t *info)
{
    const pid_t pid = info->si_pid;
    const int code = info->si_code == CLD_EXITED ? info->si_status : -1;
    for (unsigned i = 0; i < s_started; ++i) {
        struct Unit *u = &s_units[i];
        if (u->child == pid && !u->childReaped) {
            u->childReaped = true;
            wl_check(code == 100 + (int)(i % 50), "unit %u's child %d: exit %d (si_code %d), expected %u", i, (int)pid, code, info->si_code, 100 + i % 50);
            return;
        }
        if (u->grandchild == pid && !u->grandchildReaped) {
            u->grandchildReaped = true;
            --s_alive;
            wl_check(code == grandchildStatus(i), "unit %u's grandchild %d: exit %d (si_code %d), expected %d", i, (int)pid, code, info->si_code,
                     grandchildStatus(i));
            return;
        }
    }
    wl_fail("wait() returned pid %d (si_code %d, status %d), which this process did not make", (int)pid, info->si_code, info->si_status);
}

// Reaps what has ended; false when nothing is left to reap (ECHILD) or
// nothing has ended yet.
static bool reapOne(int flags)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | __WALL | flags) != 0) {
        wl_check(errno == ECHILD, "waitid: %s", strerror(errno));
        return false;
    }
    if (info.si_pid == 0) {
        return false; // WNOHANG, nothing yet
    }
    readNotes(); // a grandchild's note is written before its parent exits
    takeStatus(&info);
    return true;
}

static void startUnit(void)
{
    const unsigned i = s_started;
    const pid_t child = fork();
    if (child < 0) {
        wl_fail("fork: %s", strerror(errno));
        return;
    }
    if (child == 0) {
        const pid_t grandchild = fork();
        if (grandchild == 0) {
            _exit(grandchildStatus(i));
        }
        const struct Note note = {i, grandchild};
        if (grandchild < 0 || write(s_notes[1], &note, sizeof note) != (ssize_t)sizeof note) {
            _exit(1);
        }
        _exit(100 + (int)(i % 50));
    }
    s_units[i].child = child;
    s_units[i].grandchild = -1;
    ++s_started;
    ++s_alive;
}

static void step(void)
{
    while (reapOne(WNOHANG)) {
    }
    if (s_alive < kAlive && s_started < kMaxUnits) {
        startUnit();
    }
}

static void sabotage(void)
{
    readNotes();
    for (unsigned i = 0; i < s_started; ++i) {
        if (!s_units[i].grandchildReaped && s_units[i].grandchild > 0) {
            s_units[i].grandchild = -2;
            return;
        }
    }
    wl_fail("sabotage: no grandchild to forget");
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "waitloop");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 || pipe2(s_notes, O_NONBLOCK) != 0) {
        wl_die("setup: %s", strerror(errno));
    }
    for (int i = 0; i < kAlive; ++i) {
        step();
    }
    wl_run(step, sabotage, 3);
    while (reapOne(0)) {
    }
    readNotes();
    unsigned complete = 0;
    for (unsigned i = 0; i < s_started; ++i) {
        complete += s_units[i].childReaped && s_units[i].grandchildReaped;
    }
    wl_check(complete == s_started, "%u units started, %u reaped completely", s_started, complete);
    wl_check(s_started >= kAlive, "only %u units started", s_started);
    int subreaper = 0;
    wl_check(prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper == 1, "no longer a child subreaper (%d)", subreaper);
    return wl_finish();
}
