// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A SysV semaphore set shared by a parent and its child:
// S: key 0x5e000000 | (root pid & 0xffffff), 5 semaphores, mode 0660, group
// 4242 (IPC_SET). The root sets every value (SETALL: seeded, 0..999, the
// first two 0); child K then adds 7 to semaphore 2 and takes 1 from
// semaphore 3 (semop, no SEM_UNDO): K changed 2 and 3 last, the root the
// others. The listing goes to STATEDIR/sysv.
// After go the root checks the set's id, key, mode, owner and size
// (IPC_STAT), that semget finds it by its key, every value (GETALL) and who
// changed each last (GETPID); K checks the values too. Then the set is a
// lock between them: the root posts semaphore 0, K waits for it (semtimedop,
// 3 s) and posts semaphore 1, the root waits for that. The root removes it.
// Sabotage: the root adds 1 to semaphore 4 after ready.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

enum {
    kSems = 5,
    kGroup = 4242,
};

static int s_s = -1;
static key_t s_key;

// The value semaphore I holds once K has changed it.
static unsigned short valueOf(unsigned i)
{
    unsigned short v = i < 2 ? 0 : (unsigned short)(wl_tag(10 + i) % 1000 + 1);
    if (i == 2) {
        v += 7;
    } else if (i == 3) {
        v -= 1;
    }
    return v;
}

// Semaphores FIRST.. (K checks 2.. only: 0 and 1 are the lock after go).
static void checkValues(const char *who, unsigned first)
{
    unsigned short values[kSems];
    if (semctl(s_s, 0, GETALL, values) != 0) {
        wl_fail("%s: GETALL: %s", who, strerror(errno));
        return;
    }
    for (unsigned i = first; i < kSems; ++i) {
        wl_check(values[i] == valueOf(i), "%s: semaphore %u holds %u, expected %u", who, i, values[i], valueOf(i));
    }
}

// semop of one operation, waiting at most 3 s.
static bool op(unsigned short sem, short delta)
{
    struct sembuf b = {.sem_num = sem, .sem_op = delta, .sem_flg = 0};
    struct timespec limit = {.tv_sec = 3};
    while (semtimedop(s_s, &b, 1, &limit) != 0) {
        if (errno != EINTR) {
            return false;
        }
    }
    return true;
}

static void childK(void)
{
    struct sembuf ops[2] = {{.sem_num = 2, .sem_op = 7}, {.sem_num = 3, .sem_op = -1}};
    if (semop(s_s, ops, 2) != 0) {
        _exit(3);
    }
    wl_wait_go();
    checkValues("K", 2);
    if (!op(0, -1)) {
        wl_fail("K: the root's post of semaphore 0 did not arrive: %s", strerror(errno));
    }
    if (!op(1, 1)) {
        wl_fail("K: post semaphore 1: %s", strerror(errno));
    }
    _exit(wl_finish_as("sysvsem.K"));
}

static void sabotage(void)
{
    struct sembuf b = {.sem_num = 4, .sem_op = 1};
    (void)semop(s_s, &b, 1);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "sysvsem");
    s_key = (key_t)(0x5e000000u | ((unsigned)getpid() & 0xffffffu));
    s_s = semget(s_key, kSems, IPC_CREAT | IPC_EXCL | 0660);
    if (s_s < 0) {
        wl_die("semget: %s", strerror(errno));
    }
    wl_note_sysv("sem", s_s, (int)s_key);
    struct semid_ds ds;
    if (semctl(s_s, 0, IPC_STAT, &ds) != 0) {
        wl_die("IPC_STAT: %s", strerror(errno));
    }
    ds.sem_perm.gid = kGroup;
    if (semctl(s_s, 0, IPC_SET, &ds) != 0) {
        wl_die("IPC_SET: %s", strerror(errno));
    }
    unsigned short initial[kSems];
    for (unsigned i = 0; i < kSems; ++i) {
        initial[i] = i < 2 ? 0 : (unsigned short)(wl_tag(10 + i) % 1000 + 1);
    }
    if (semctl(s_s, 0, SETALL, initial) != 0) {
        wl_die("SETALL: %s", strerror(errno));
    }
    const pid_t k = fork();
    if (k < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (k == 0) {
        childK();
    }
    for (int i = 0;; ++i) {
        if (semctl(s_s, 3, GETPID) == k) {
            break;
        }
        if (i == 300) {
            wl_die("K did not change the set");
        }
        wl_sleep_ms(10);
    }
    wl_run(NULL, sabotage, 50);
    if (semctl(s_s, 0, IPC_STAT, &ds) != 0) {
        wl_fail("root: IPC_STAT of set %d: %s", s_s, strerror(errno));
    } else {
        wl_check(ds.sem_perm.__key == s_key, "root: the set has key %#x, expected %#x", (unsigned)ds.sem_perm.__key, (unsigned)s_key);
        wl_check((ds.sem_perm.mode & 0777) == 0660, "root: the set has mode %o, expected 660", ds.sem_perm.mode & 0777);
        wl_check(ds.sem_perm.uid == getuid() && ds.sem_perm.gid == kGroup, "root: the set belongs to %u:%u, expected %u:%u", (unsigned)ds.sem_perm.uid,
                 (unsigned)ds.sem_perm.gid, (unsigned)getuid(), (unsigned)kGroup);
        wl_check(ds.sem_nsems == kSems, "root: the set has %lu semaphores, expected %u", (unsigned long)ds.sem_nsems, (unsigned)kSems);
    }
    const int found = semget(s_key, 0, 0);
    wl_check(found == s_s, "root: semget of the set's key finds %d, expected %d", found, s_s);
    checkValues("root", 0);
    for (unsigned i = 0; i < kSems; ++i) {
        const int pid = semctl(s_s, (int)i, GETPID);
        const int want = i == 2 || i == 3 ? k : getpid();
        wl_check(pid == want, "root: semaphore %u was changed last by %d, expected %d", i, pid, want);
    }
    if (!op(0, 1)) {
        wl_fail("root: post semaphore 0: %s", strerror(errno));
    }
    if (!op(1, -1)) {
        wl_fail("root: K's post of semaphore 1 did not arrive: %s", strerror(errno));
    }
    wl_collect(k, "K", "sysvsem.K");
    semctl(s_s, 0, IPC_RMID);
    return wl_finish();
}
