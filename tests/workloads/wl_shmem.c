// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Shared anonymous memory between a parent and its child (one object, shared
// across fork) and MAP_SHARED of /dev/zero:
// - A: 1 MiB MAP_SHARED|MAP_ANONYMOUS made by the root before the fork.
//   Pages 0..63 hold the root's pattern, 64..127 child K's (written by K,
//   seen by the root before ready), 128..191 only read, 192..255 untouched.
//   Pages 100..101 are unmapped in both: A is two VMAs of one object (the
//   second at offset 102 pages).
// - B: 64 KiB MAP_SHARED of /dev/zero (fd closed): pages 0..7 pattern, pages
//   8..15 pattern and then PROT_READ.
// - C: 32 KiB MAP_SHARED|MAP_ANONYMOUS that only K has (made after the fork).
// After go both check every pattern, the zero pages, the protections, that
// A's two VMAs show one inode, then that A is still one memory between them:
// the root writes a token into page 200, K waits for it and answers in page
// 201, the root waits for the answer (3 s each).
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
#include <sys/mman.h>
#include <unistd.h>

enum {
    kAPages = 256,
    kBPages = 16,
    kCPages = 8,
    kHoleFirst = 100,
    kHolePages = 2,
    kTokenPage = 200,
    kAnswerPage = 201,
};

static unsigned char *s_a, *s_b, *s_c;

static void checkPattern(const char *who, const char *what, unsigned char *base, unsigned first, unsigned count, uint64_t seed)
{
    const size_t n = (size_t)count * WL_PAGE;
    const size_t bad = wl_mismatch(wl_page(base, first), n, seed);
    wl_check(bad == n, "%s: %s pages %u..%u: byte %zu differs", who, what, first, first + count - 1, bad);
}

static void checkZero(const char *who, const char *what, unsigned char *base, unsigned first, unsigned count)
{
    for (unsigned i = first; i < first + count; ++i) {
        const unsigned char *p = wl_page(base, i);
        for (size_t k = 0; k < WL_PAGE; ++k) {
            if (p[k] != 0) {
                wl_fail("%s: %s page %u byte %zu is %u, expected 0", who, what, i, k, p[k]);
                return;
            }
        }
    }
}

static void checkMapping(const char *who, const char *what, void *addr, const char *perms, unsigned long *inode)
{
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s: %s is not mapped", who, what);
        return;
    }
    wl_check(strcmp(m.perms, perms) == 0, "%s: %s has perms %s, expected %s", who, what, m.perms, perms);
    wl_check(strcmp(m.path, "/dev/zero (deleted)") == 0, "%s: %s is \"%s\", expected shared anonymous memory (/dev/zero (deleted))", who, what, m.path);
    if (inode) {
        *inode = m.inode;
    }
}

// State both processes check (A and B are shared by them).
static void checkShared(const char *who)
{
    checkPattern(who, "A", s_a, 0, 64, wl_tag(1));
    checkPattern(who, "A", s_a, 64, 36, wl_tag(2));
    checkPattern(who, "A", s_a, kHoleFirst + kHolePages, 128 - kHoleFirst - kHolePages, wl_derive(wl_tag(2), 102));
    checkZero(who, "A", s_a, 128, kTokenPage - 128);
    checkZero(who, "A", s_a, kAnswerPage + 1, kAPages - kAnswerPage - 1);
    unsigned long first = 0, second = 1;
    checkMapping(who, "A's first part", s_a, "rw-s", &first);
    checkMapping(who, "A's second part", wl_page(s_a, kHoleFirst + kHolePages), "rw-s", &second);
    wl_check(first == second, "%s: A's two parts are different objects (inodes %lu, %lu)", who, first, second);
    struct wl_mapping hole;
    wl_check(!wl_find_mapping((uintptr_t)wl_page(s_a, kHoleFirst), &hole), "%s: A's hole is mapped", who);
    checkPattern(who, "B", s_b, 0, 8, wl_tag(3));
    checkPattern(who, "B", s_b, 8, 8, wl_tag(4));
    checkMapping(who, "B", s_b, "rw-s", NULL);
    checkMapping(who, "B's read-only part", wl_page(s_b, 8), "r--s", NULL);
    wl_check(wl_write_faults(wl_page(s_b, 9)), "%s: a write to B's read-only part does not fault", who);
}

static void childK(void)
{
    // A's pages 64..127 (the hole's two pages are in the object too).
    wl_fill(wl_page(s_a, 64), 36 * (size_t)WL_PAGE, wl_tag(2));
    wl_fill(wl_page(s_a, kHoleFirst + kHolePages), (128 - kHoleFirst - kHolePages) * (size_t)WL_PAGE, wl_derive(wl_tag(2), 102));
    s_c = mmap(NULL, kCPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s_c == MAP_FAILED) {
        _exit(3);
    }
    wl_fill(s_c, kCPages * (size_t)WL_PAGE, wl_tag(5));
    __atomic_store_n((uint64_t *)wl_page(s_a, kAnswerPage), 1, __ATOMIC_SEQ_CST); // set up
    wl_wait_go();
    checkShared("K");
    checkPattern("K", "C", s_c, 0, kCPages, wl_tag(5));
    checkMapping("K", "C", s_c, "rw-s", NULL);
    if (!wl_await_token((volatile uint64_t *)wl_page(s_a, kTokenPage), wl_tag(6))) {
        wl_fail("K: the root's token did not arrive in A: A is not shared any more");
    }
    __atomic_store_n((uint64_t *)wl_page(s_a, kAnswerPage), wl_tag(7), __ATOMIC_SEQ_CST);
    _exit(wl_finish_as("shmem.K"));
}

static void sabotage(void)
{
    s_a[5 * WL_PAGE + 17] ^= 0x5a;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "shmem");
    s_a = mmap(NULL, kAPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const int zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
    if (s_a == MAP_FAILED || zero < 0) {
        wl_die("mmap A / open /dev/zero: %s", strerror(errno));
    }
    s_b = mmap(NULL, kBPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, zero, 0);
    close(zero);
    if (s_b == MAP_FAILED) {
        wl_die("mmap B: %s", strerror(errno));
    }
    wl_fill(s_a, 64 * (size_t)WL_PAGE, wl_tag(1));
    volatile unsigned char sink = 0;
    for (unsigned i = 128; i < 192; ++i) {
        sink ^= *wl_page(s_a, i);
    }
    (void)sink;
    if (munmap(wl_page(s_a, kHoleFirst), kHolePages * WL_PAGE) != 0) {
        wl_die("munmap A's hole: %s", strerror(errno));
    }
    wl_fill(s_b, 8 * (size_t)WL_PAGE, wl_tag(3));
    wl_fill(wl_page(s_b, 8), 8 * (size_t)WL_PAGE, wl_tag(4));
    if (mprotect(wl_page(s_b, 8), 8 * WL_PAGE, PROT_READ) != 0) {
        wl_die("mprotect B: %s", strerror(errno));
    }
    const pid_t k = wl_fork_sharing(childK, (volatile uint64_t *)wl_page(s_a, kAnswerPage), 1, "K");
    wl_run(NULL, sabotage, 50);
    checkShared("root");
    __atomic_store_n((uint64_t *)wl_page(s_a, kTokenPage), wl_tag(6), __ATOMIC_SEQ_CST);
    if (!wl_await_token((volatile uint64_t *)wl_page(s_a, kAnswerPage), wl_tag(7))) {
        wl_fail("root: K's answer did not arrive in A: A is not shared any more");
    }
    wl_collect(k, "K", "shmem.K");
    return wl_finish();
}
