// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SysV shared memory segments shared by a parent and its child:
// - A: key 0x5c000000 | (root pid & 0xffffff), 1 MiB + 100 bytes, mode
//   0640, group 4242 (IPC_SET), attached read-write by the root (inherited
//   by child K across fork) and a second time read-only (SHM_RDONLY) by K
//   at another address. Pages 0..63 hold the root's pattern, 64..127 K's
//   (written by K), 128..191 a versions array the root rewrites pass after
//   pass until go (wl_versions_pass: a snapshot must hold one instant of
//   it), 192..199 untouched, 200/201 a token and its answer, the 100 bytes
//   after 1 MiB a pattern.
// - B: IPC_PRIVATE, 64 KiB, mode 0600, pattern written by the root, then
//   removed (IPC_RMID) while the root and K have it attached: it lives on
//   until the last detach.
// Their ids and keys go to STATEDIR/sysv (cr_cycles removes what the
// original leaves behind before it restores a copy).
// After go both check every pattern, the zero pages, each attach's address,
// perms and name in maps, that a write to K's read-only attach faults; the
// root checks each segment's id, key, size, mode, owner, attach count and
// SHM_DEST (IPC_STAT), that shmget finds A by its key, then that A is one
// memory between them (a token from the root in page 200, K's answer in
// page 201). At the end the root removes A.
// Sabotage: the root flips a byte of A's page 5.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

enum {
    kAPages = 256,
    kATail = 100,
    kBPages = 16,
    kVersionsFirst = 128,
    kVersionsPages = 64,
    kTokenPage = 200,
    kAnswerPage = 201,
    kGroup = 4242,
};

static int s_aid = -1, s_bid = -1;
static key_t s_akey;
static unsigned char *s_a, *s_aRdonly, *s_b;
static uintptr_t s_aAt, s_aRdonlyAt, s_bAt; // where they were attached
static struct wl_versions s_versions = {.elements = kVersionsPages * WL_PAGE / 8, .what = "A's versions"};

static void step(void)
{
    wl_versions_pass(&s_versions);
}

static void checkZero(const char *who, const char *what, const unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; ++k) {
        if (p[k] != 0) {
            wl_fail("%s: %s: byte %zu is %u, expected 0", who, what, k, p[k]);
            return;
        }
    }
}

// The attach at ADDR: where it was, perms, "/SYSVkkkkkkkk (deleted)", inode (= the id), whole.
static void checkAttach(const char *who, const char *what, const void *addr, uintptr_t at, const char *perms, key_t key, int id, size_t pages)
{
    wl_check((uintptr_t)addr == at, "%s: %s is at %#lx, was attached at %#lx", who, what, (unsigned long)(uintptr_t)addr, (unsigned long)at);
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s: %s is not mapped", who, what);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/SYSV%08x (deleted)", (unsigned)key);
    wl_check(strcmp(m.perms, perms) == 0, "%s: %s has perms %s, expected %s", who, what, m.perms, perms);
    wl_check(strcmp(m.path, path) == 0, "%s: %s is \"%s\", expected \"%s\"", who, what, m.path, path);
    wl_check(m.inode == (unsigned long)id, "%s: %s is segment %lu, expected %d", who, what, m.inode, id);
    wl_check(m.start == (uintptr_t)addr && m.end - m.start == pages * WL_PAGE, "%s: %s maps %#lx-%#lx, expected %zu pages from %#lx", who, what,
             (unsigned long)m.start, (unsigned long)m.end, pages, (unsigned long)(uintptr_t)addr);
}

// State both processes check.
static void checkShared(const char *who)
{
    wl_check_pattern(who, "A pages 0..63", s_a, 64 * (size_t)WL_PAGE, wl_tag(1));
    wl_check_pattern(who, "A pages 64..127", wl_page(s_a, 64), 64 * (size_t)WL_PAGE, wl_tag(2));
    checkZero(who, "A pages 192..199", wl_page(s_a, 192), 8 * (size_t)WL_PAGE);
    wl_check_pattern(who, "A's 100 bytes after 1 MiB", wl_page(s_a, kAPages), kATail, wl_tag(3));
    wl_check_pattern(who, "B", s_b, kBPages * (size_t)WL_PAGE, wl_tag(4));
    checkAttach(who, "A", s_a, s_aAt, "rw-s", s_akey, s_aid, kAPages + 1);
    checkAttach(who, "B", s_b, s_bAt, "rw-s", IPC_PRIVATE, s_bid, kBPages);
}

static void childK(void)
{
    wl_fill(wl_page(s_a, 64), 64 * (size_t)WL_PAGE, wl_tag(2));
    s_aRdonly = shmat(s_aid, NULL, SHM_RDONLY);
    if (s_aRdonly == (void *)-1) {
        _exit(3);
    }
    s_aRdonlyAt = (uintptr_t)s_aRdonly;
    __atomic_store_n((uint64_t *)wl_page(s_a, kAnswerPage), 1, __ATOMIC_SEQ_CST); // set up
    wl_wait_go();
    checkShared("K");
    checkAttach("K", "A's read-only attach", s_aRdonly, s_aRdonlyAt, "r--s", s_akey, s_aid, kAPages + 1);
    wl_check_pattern("K", "A pages 0..63 through the read-only attach", s_aRdonly, 64 * (size_t)WL_PAGE, wl_tag(1));
    wl_check(wl_write_faults(wl_page(s_aRdonly, 3)), "K: a write to A's read-only attach does not fault");
    if (!wl_await_token((volatile uint64_t *)wl_page(s_a, kTokenPage), wl_tag(6))) {
        wl_fail("K: the root's token did not arrive in A: A is not shared any more");
    }
    wl_check(*(volatile uint64_t *)wl_page(s_aRdonly, kTokenPage) == wl_tag(6), "K: the token is not seen through the read-only attach of A");
    __atomic_store_n((uint64_t *)wl_page(s_a, kAnswerPage), wl_tag(7), __ATOMIC_SEQ_CST);
    _exit(wl_finish_as("sysvshm.K"));
}

static void sabotage(void)
{
    s_a[5 * WL_PAGE + 17] ^= 0x5a;
}

// IPC_STAT of segment ID against what it was made with.
static void checkSegment(const char *what, int id, key_t key, size_t size, unsigned mode, gid_t gid, unsigned long attaches, bool removed)
{
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) != 0) {
        wl_fail("root: %s: IPC_STAT of id %d: %s", what, id, strerror(errno));
        return;
    }
    wl_check(ds.shm_perm.__key == key, "root: %s has key %#x, expected %#x", what, (unsigned)ds.shm_perm.__key, (unsigned)key);
    wl_check(ds.shm_segsz == size, "root: %s has size %zu, expected %zu", what, (size_t)ds.shm_segsz, size);
    wl_check((ds.shm_perm.mode & 0777) == mode, "root: %s has mode %o, expected %o", what, ds.shm_perm.mode & 0777, mode);
    wl_check(ds.shm_perm.uid == getuid() && ds.shm_perm.gid == gid, "root: %s belongs to %u:%u, expected %u:%u", what, (unsigned)ds.shm_perm.uid,
             (unsigned)ds.shm_perm.gid, (unsigned)getuid(), (unsigned)gid);
    wl_check(ds.shm_nattch == attaches, "root: %s has %lu attaches, expected %lu", what, (unsigned long)ds.shm_nattch, attaches);
    wl_check(((ds.shm_perm.mode & SHM_DEST) != 0) == removed, "root: %s is %s (SHM_DEST)", what, removed ? "not marked removed" : "marked removed");
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "sysvshm");
    s_akey = (key_t)(0x5c000000u | ((unsigned)getpid() & 0xffffffu));
    const size_t aSize = kAPages * (size_t)WL_PAGE + kATail;
    s_aid = shmget(s_akey, aSize, IPC_CREAT | IPC_EXCL | 0640);
    s_bid = shmget(IPC_PRIVATE, kBPages * WL_PAGE, IPC_CREAT | 0600);
    if (s_aid < 0 || s_bid < 0) {
        wl_die("shmget: %s", strerror(errno));
    }
    wl_note_sysv("shm", s_aid, (int)s_akey);
    wl_note_sysv("shm", s_bid, 0);
    struct shmid_ds ds;
    if (shmctl(s_aid, IPC_STAT, &ds) != 0) {
        wl_die("IPC_STAT: %s", strerror(errno));
    }
    ds.shm_perm.gid = kGroup;
    if (shmctl(s_aid, IPC_SET, &ds) != 0) {
        wl_die("IPC_SET: %s", strerror(errno));
    }
    s_a = shmat(s_aid, NULL, 0);
    s_b = shmat(s_bid, NULL, 0);
    if (s_a == (void *)-1 || s_b == (void *)-1) {
        wl_die("shmat: %s", strerror(errno));
    }
    s_aAt = (uintptr_t)s_a;
    s_bAt = (uintptr_t)s_b;
    s_versions.array = (uint64_t *)wl_page(s_a, kVersionsFirst);
    wl_fill(s_a, 64 * (size_t)WL_PAGE, wl_tag(1));
    wl_fill(wl_page(s_a, kAPages), kATail, wl_tag(3));
    wl_fill(s_b, kBPages * (size_t)WL_PAGE, wl_tag(4));
    if (shmctl(s_bid, IPC_RMID, NULL) != 0) {
        wl_die("IPC_RMID of B: %s", strerror(errno));
    }
    step();
    const pid_t k = wl_fork_sharing(childK, (volatile uint64_t *)wl_page(s_a, kAnswerPage), 1, "K");
    wl_run(step, sabotage, 1);
    wl_versions_check(&s_versions, "root");
    checkShared("root");
    checkSegment("A", s_aid, s_akey, aSize, 0640, kGroup, 3, false);
    checkSegment("B", s_bid, IPC_PRIVATE, kBPages * WL_PAGE, 0600, getgid(), 2, true);
    const int found = shmget(s_akey, 0, 0);
    wl_check(found == s_aid, "root: shmget of A's key finds %d, expected %d", found, s_aid);
    __atomic_store_n((uint64_t *)wl_page(s_a, kTokenPage), wl_tag(6), __ATOMIC_SEQ_CST);
    if (!wl_await_token((volatile uint64_t *)wl_page(s_a, kAnswerPage), wl_tag(7))) {
        wl_fail("root: K's answer did not arrive in A: A is not shared any more");
    }
    wl_collect(k, "K", "sysvshm.K");
    shmctl(s_aid, IPC_RMID, NULL);
    return wl_finish();
}
