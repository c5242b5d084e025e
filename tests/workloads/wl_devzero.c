// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Private mappings of /dev/zero, which the kernel makes anonymous memory
// (maps still names /dev/zero): a 32-page read-write one where every third
// page holds a seeded pattern, some were only read and the rest never
// touched, and an 8-page one made read-only after a pattern went in. The fd
// is closed; only the mappings remain. After go: every byte is what the seed
// says (zero elsewhere), the protections are the same, a write to the
// read-only one faults, the writable one still takes writes (private: a
// fork's writes do not show), and it is no shared mapping.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define RW_PAGES 32u
#define RO_PAGES 8u

static unsigned char *s_rw, *s_ro;
static volatile uint64_t s_sink;

static uint64_t pageSeed(unsigned tag, unsigned page)
{
    return wl_derive(wl_seed(), tag * 1000000ull + page);
}

static bool isPattern(unsigned page)
{
    return page % 3 == 0;
}

static void step(void)
{
    s_sink += s_rw[100] + s_ro[200];
}

static void sabotage(void)
{
    s_rw[3 * WL_PAGE + 77] ^= 0x10;
}

static bool allZero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

static void checkMapping(const char *what, const void *addr, const char *perms)
{
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s at %p: not mapped", what, addr);
        return;
    }
    wl_check(strcmp(m.perms, perms) == 0, "%s at %p: perms %s, expected %s", what, addr, m.perms, perms);
    // Anonymous memory either way: maps names /dev/zero in the original and
    // nothing in a restored copy, never another file.
    wl_check(m.path[0] == 0 || strcmp(m.path, "/dev/zero") == 0, "%s at %p: backed by '%s'", what, addr, m.path);
}

static unsigned char *mapZero(int fd, unsigned pages)
{
    void *p = mmap(NULL, (size_t)pages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        wl_die("mmap /dev/zero (%u pages) failed", pages);
    }
    return p;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "devzero");
    int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        wl_die("open /dev/zero failed");
    }
    s_rw = mapZero(fd, RW_PAGES);
    s_ro = mapZero(fd, RO_PAGES);
    close(fd);
    for (unsigned page = 0; page < RW_PAGES; ++page) {
        unsigned char *p = s_rw + (size_t)page * WL_PAGE;
        if (isPattern(page)) {
            wl_fill(p, WL_PAGE, pageSeed(1, page));
        } else if (page % 3 == 1) {
            s_sink += p[17]; // read only: the zero page
        }
    }
    wl_fill(s_ro, RO_PAGES * WL_PAGE, pageSeed(2, 0));
    mprotect(s_ro, RO_PAGES * WL_PAGE, PROT_READ);
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)s_rw, &m) || strcmp(m.path, "/dev/zero") != 0) {
        wl_die("the mapping does not show as /dev/zero in maps");
    }

    wl_run(step, sabotage, 50);

    for (unsigned page = 0; page < RW_PAGES; ++page) {
        unsigned char *p = s_rw + (size_t)page * WL_PAGE;
        if (isPattern(page)) {
            size_t bad = wl_mismatch(p, WL_PAGE, pageSeed(1, page));
            wl_check(bad == WL_PAGE, "read-write page %u differs at byte %zu", page, bad);
        } else {
            wl_check(allZero(p, WL_PAGE), "read-write page %u (never written) is not zero", page);
        }
    }
    size_t bad = wl_mismatch(s_ro, RO_PAGES * WL_PAGE, pageSeed(2, 0));
    wl_check(bad == RO_PAGES * WL_PAGE, "read-only mapping differs at byte %zu", bad);
    checkMapping("read-write /dev/zero mapping", s_rw, "rw-p");
    checkMapping("read-only /dev/zero mapping", s_ro, "r--p");
    wl_check(wl_write_faults(s_ro + 5), "a write to the read-only /dev/zero mapping did not fault");
    wl_check(!wl_write_faults(s_rw + WL_PAGE + 9), "a write to the read-write /dev/zero mapping faulted");

    // Private: what a child writes stays in the child.
    s_rw[2 * WL_PAGE] = 0;
    pid_t child = fork();
    if (child == 0) {
        s_rw[2 * WL_PAGE] = 0x5a;
        _exit(s_rw[2 * WL_PAGE] == 0x5a ? 0 : 1);
    }
    int status = 0;
    if (wl_check(child > 0 && waitpid(child, &status, 0) == child, "fork failed")) {
        wl_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child could not write its copy");
        wl_check(s_rw[2 * WL_PAGE] == 0, "the child's write showed in the parent: the mapping is shared");
    }
    return wl_finish();
}
