// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Writable MAP_SHARED mappings of regular files, shared by a parent and its
// child (inherited across fork): the memory is the file.
// - F: STATEDIR/shared, 256 KiB, mapped MAP_SHARED rw (fd closed). Pages
//   0..15 written through the mapping by the root, 16..31 by child K before
//   ready; the rest is the file's own seeded contents (written with write()).
// - R: the same file mapped again, read-only from an O_RDWR fd (VM_MAYWRITE):
//   after go it must be possible to mprotect it writable.
// - P: a POSIX shared memory object (shm_open, /dev/shm on tmpfs), 64 KiB,
//   fd 3 kept open, mapped shared rw, a pattern in it.
// - S: a named POSIX semaphore (sem_open: /dev/shm/sem.NAME mapped shared)
//   with the value 3.
// After go both check F and P against the patterns and against the file read
// with pread (the mapping is the file), the root checks R's protection and
// makes it writable, S's value; then the root writes a token through F, K
// waits for it in its own mapping, takes one count from S (sem_trywait) and
// answers through F; the root must see both (3 s each).
// Sabotage: the root flips a byte of F.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
    kFPages = 64,
    kPPages = 16,
    kControlPage = kFPages - 1, // F's last page: token, answer, set-up flag (not in the patterns)
};

static unsigned char *s_f, *s_r, *s_p;
static sem_t *s_sem;
static char s_shmName[64], s_semName[64];

static void checkRange(const char *who, const char *what, const unsigned char *p, size_t n, uint64_t seed)
{
    const size_t bad = wl_mismatch(p, n, seed);
    wl_check(bad == n, "%s: %s byte %zu differs", who, what, bad);
}

// The mapping holds what the file holds.
static void checkIsFile(const char *who, const char *what, const char *path, const unsigned char *p, size_t n)
{
    static unsigned char buf[kFPages * WL_PAGE];
    const long got = wl_read_file_at(path, buf, n, 0);
    wl_check(got == (long)n && memcmp(buf, p, n) == 0, "%s: %s differs from the file %s", who, what, path);
}

static void checkMapping(const char *who, const char *what, void *addr, const char *perms)
{
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s: %s is not mapped", who, what);
        return;
    }
    wl_check(strcmp(m.perms, perms) == 0, "%s: %s has perms %s, expected %s", who, what, m.perms, perms);
}

static void checkAll(const char *who)
{
    char path[4096];
    wl_path(path, sizeof path, "shared");
    checkRange(who, "F pages 0..15", s_f, 16 * (size_t)WL_PAGE, wl_tag(1));
    checkRange(who, "F pages 16..31", wl_page(s_f, 16), 16 * (size_t)WL_PAGE, wl_tag(2));
    checkRange(who, "F pages 32..62", wl_page(s_f, 32), (kControlPage - 32) * (size_t)WL_PAGE, wl_tag(3));
    checkIsFile(who, "F", path, s_f, kFPages * (size_t)WL_PAGE);
    checkMapping(who, "F", s_f, "rw-s");
    char shm[128];
    snprintf(shm, sizeof shm, "/dev/shm%s", s_shmName);
    checkRange(who, "P", s_p, kPPages * (size_t)WL_PAGE, wl_tag(4));
    checkIsFile(who, "P", shm, s_p, kPPages * (size_t)WL_PAGE);
    checkMapping(who, "P", s_p, "rw-s");
}

static bool await(uint64_t *p, uint64_t token)
{
    for (int i = 0; i < 300; ++i) {
        if (__atomic_load_n(p, __ATOMIC_SEQ_CST) == token) {
            return true;
        }
        wl_sleep_ms(10);
    }
    return false;
}

static void childK(void)
{
    wl_fill(wl_page(s_f, 16), 16 * (size_t)WL_PAGE, wl_tag(2));
    uint64_t *control = (uint64_t *)wl_page(s_f, kControlPage);
    __atomic_store_n(&control[2], 1, __ATOMIC_SEQ_CST); // set up
    wl_wait_go();
    checkAll("K");
    if (!await(&control[0], wl_tag(5))) {
        wl_fail("K: the root's token did not arrive through the file mapping");
    }
    wl_check(sem_trywait(s_sem) == 0, "K: sem_trywait: %s", strerror(errno));
    __atomic_store_n(&control[1], wl_tag(6), __ATOMIC_SEQ_CST);
    _exit(wl_finish_as("shfile.K"));
}

static void sabotage(void)
{
    s_f[3 * WL_PAGE + 5] ^= 0x33;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "shfile");
    char path[4096];
    wl_path(path, sizeof path, "shared");
    static unsigned char contents[kFPages * WL_PAGE];
    wl_fill(wl_page(contents, 32), (kControlPage - 32) * (size_t)WL_PAGE, wl_tag(3));
    wl_write_file(path, contents, sizeof contents);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        wl_die("open %s: %s", path, strerror(errno));
    }
    s_f = mmap(NULL, kFPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    s_r = mmap(NULL, kFPages * WL_PAGE, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (s_f == MAP_FAILED || s_r == MAP_FAILED) {
        wl_die("mmap %s: %s", path, strerror(errno));
    }
    wl_fill(s_f, 16 * (size_t)WL_PAGE, wl_tag(1));

    snprintf(s_shmName, sizeof s_shmName, "/cryopod-wl-shfile-%d", (int)getpid());
    snprintf(s_semName, sizeof s_semName, "/cryopod-wl-shfile-%d", (int)getpid());
    shm_unlink(s_shmName);
    sem_unlink(s_semName);
    const int shm = shm_open(s_shmName, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (shm < 0 || dup2(shm, 3) != 3 || ftruncate(3, kPPages * WL_PAGE) != 0) {
        wl_die("shm_open %s: %s", s_shmName, strerror(errno));
    }
    if (shm != 3) {
        close(shm);
    }
    s_p = mmap(NULL, kPPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    s_sem = sem_open(s_semName, O_CREAT | O_EXCL, 0600, 3);
    if (s_p == MAP_FAILED || s_sem == SEM_FAILED) {
        wl_die("mmap shm / sem_open: %s", strerror(errno));
    }
    wl_fill(s_p, kPPages * (size_t)WL_PAGE, wl_tag(4));

    const pid_t k = fork();
    if (k < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (k == 0) {
        childK();
    }
    uint64_t *control = (uint64_t *)wl_page(s_f, kControlPage);
    if (!await(&control[2], 1)) {
        wl_die("K did not set up");
    }
    wl_run(NULL, sabotage, 50);
    checkAll("root");
    checkMapping("root", "R", s_r, "r--s");
    checkRange("root", "R (the file through the read-only mapping)", s_r, 16 * (size_t)WL_PAGE, wl_tag(1));
    wl_check(mprotect(s_r, WL_PAGE, PROT_READ | PROT_WRITE) == 0, "root: R cannot be made writable (mprotect: %s)", strerror(errno));
    int value = -1;
    wl_check(sem_getvalue(s_sem, &value) == 0 && value == 3, "root: the semaphore's value is %d, expected 3", value);
    __atomic_store_n(&control[0], wl_tag(5), __ATOMIC_SEQ_CST);
    if (!await(&control[1], wl_tag(6))) {
        wl_fail("root: K's answer did not arrive through the file mapping");
    }
    wl_check(sem_getvalue(s_sem, &value) == 0 && value == 2, "root: after K's sem_trywait the value is %d, expected 2", value);
    wl_collect(k, "K", "shfile.K");
    shm_unlink(s_shmName);
    sem_unlink(s_semName);
    return wl_finish();
}
