// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Sessions and process groups in a tree:
//   S: a child of the root that called setsid() (leader of its own session
//      and group); its child S1 is in S's session and group, its child S2
//      leads a group of its own in S's session, and S2's sibling S3 joined
//      S2's group (setpgid to a group led by a sibling);
//   P: a child of the root that leads its own process group in the root's
//      session; its child P1 is in P's group.
// Each process notes its pid, parent, group and session before ready; after
// go each checks them (and a seeded stack array), parents reap their
// children (which must still be theirs) and take over their verdicts.
// Sabotage: SIGUSR1 makes S3 move to its own process group.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct Ids {
    pid_t pid, ppid, pgid, sid;
};

static struct Ids noteIds(void)
{
    struct Ids ids = {getpid(), getppid(), getpgrp(), getsid(0)};
    return ids;
}

static void checkIds(const char *who, struct Ids was)
{
    const struct Ids now = noteIds();
    wl_check(now.pid == was.pid, "%s: pid %d, was %d", who, (int)now.pid, (int)was.pid);
    wl_check(now.ppid == was.ppid, "%s: parent %d, was %d", who, (int)now.ppid, (int)was.ppid);
    wl_check(now.pgid == was.pgid, "%s: process group %d, was %d", who, (int)now.pgid, (int)was.pgid);
    wl_check(now.sid == was.sid, "%s: session %d, was %d", who, (int)now.sid, (int)was.sid);
}

static void ownGroup(int sig)
{
    (void)sig;
    setpgid(0, 0);
}

// A process that only holds its ids (and a stack array) until go.
static void leaf(const char *who, unsigned tag, const struct Ids *expectPgidFrom)
{
    (void)expectPgidFrom;
    const struct Ids ids = noteIds();
    unsigned char stackArray[8000];
    wl_fill(stackArray, sizeof stackArray, wl_derive(wl_seed(), tag));
    wl_wait_go();
    checkIds(who, ids);
    const size_t bad = wl_mismatch(stackArray, sizeof stackArray, wl_derive(wl_seed(), tag));
    wl_check(bad == sizeof stackArray, "%s: stack array byte %zu differs", who, bad);
    char file[32];
    snprintf(file, sizeof file, "sessions.%s", who);
    _exit(wl_finish_as(file));
}

static pid_t forkOrDie(const char *who)
{
    const pid_t pid = fork();
    if (pid < 0) {
        wl_die("fork %s: %s", who, strerror(errno));
    }
    return pid;
}

// Waits until pid leads or joined group pgid (set up by the child itself).
static void waitGroup(pid_t pid, pid_t pgid)
{
    for (int i = 0; i < 500 && getpgid(pid) != pgid; ++i) {
        wl_sleep_ms(2);
    }
    if (getpgid(pid) != pgid) {
        wl_die("process %d did not get into group %d", (int)pid, (int)pgid);
    }
}

static void sessionLeader(void)
{
    if (setsid() < 0) {
        wl_die("setsid: %s", strerror(errno));
    }
    const struct Ids ids = noteIds();
    const pid_t s1 = forkOrDie("S1");
    if (s1 == 0) {
        leaf("S1", 11, NULL);
    }
    const pid_t s2 = forkOrDie("S2");
    if (s2 == 0) {
        setpgid(0, 0);
        leaf("S2", 12, NULL);
    }
    setpgid(s2, s2); // whichever runs first
    const pid_t s3 = forkOrDie("S3");
    if (s3 == 0) {
        if (setpgid(0, s2) != 0) {
            wl_die("S3: setpgid to S2's group: %s", strerror(errno));
        }
        signal(SIGUSR1, ownGroup);
        leaf("S3", 13, NULL);
    }
    waitGroup(s3, s2);

    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)s3);
    char path[4096];
    wl_path(path, sizeof path, "sessions.s3pid");
    wl_write_file(path, text, strlen(text));
    wl_wait_go();
    checkIds("S", ids);
    wl_collect(s1, "S1", "sessions.S1");
    wl_collect(s2, "S2", "sessions.S2");
    wl_collect(s3, "S3", "sessions.S3");
    _exit(wl_finish_as("sessions.S"));
}

static void groupLeader(void)
{
    if (setpgid(0, 0) != 0) {
        wl_die("setpgid: %s", strerror(errno));
    }
    const struct Ids ids = noteIds();
    const pid_t p1 = forkOrDie("P1");
    if (p1 == 0) {
        leaf("P1", 21, NULL);
    }
    wl_wait_go();
    checkIds("P", ids);
    wl_collect(p1, "P1", "sessions.P1");
    _exit(wl_finish_as("sessions.P"));
}

static void sabotage(void)
{
    char path[4096];
    wl_path(path, sizeof path, "sessions.s3pid");
    char text[32] = {0};
    if (wl_read_file_at(path, text, sizeof text - 1, 0) > 0) {
        const pid_t s3 = (pid_t)atoi(text);
        kill(s3, SIGUSR1);
        // Done once S3's handler has moved it: a go that is there at once
        // would otherwise let S check S3's group before it ran (seen once
        // under load: the sabotaged workload reported ok).
        for (int i = 0; i < 400 && getpgid(s3) != s3; ++i) {
            wl_sleep_ms(5);
        }
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "sessions");
    const struct Ids ids = noteIds();
    const pid_t s = forkOrDie("S");
    if (s == 0) {
        sessionLeader();
    }
    const pid_t p = forkOrDie("P");
    if (p == 0) {
        groupLeader();
    }
    waitGroup(p, p);
    // S is ready once it wrote S3's pid (S3 is in S2's group by then).
    char path[4096];
    wl_path(path, sizeof path, "sessions.s3pid");
    for (int i = 0; i < 500 && access(path, F_OK) != 0; ++i) {
        wl_sleep_ms(5);
    }
    if (access(path, F_OK) != 0) {
        wl_die("S did not set up its session");
    }
    wl_run(NULL, sabotage, 50);
    checkIds("root", ids);
    wl_collect(s, "S", "sessions.S");
    wl_collect(p, "P", "sessions.P");
    return wl_finish();
}
