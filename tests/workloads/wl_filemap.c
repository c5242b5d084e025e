// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Private file mappings: STATEDIR/mapped.dat (64 pages of a seeded pattern)
// is mapped MAP_PRIVATE read-write (fd closed afterwards) and some of its
// pages are modified (copy-on-write); pages 16-31 are mapped a second time
// read-only through an fd that stays open. After go: the file is unchanged,
// the modified pages show the modifications, the others show the file, both
// mappings are still backed by the file (maps: path, offset, perms), and a
// clean page still follows the file when the file changes (a restore that
// turned clean pages into private copies fails here).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES 64u
#define RO_FIRST 16u
#define RO_PAGES 16u

static unsigned char *s_rw, *s_ro;
static int s_fd = -1;
static char s_path[4200];
static volatile uint64_t s_sink;

static uint64_t fileSeed(void)
{
    return wl_derive(wl_seed(), 1);
}

static uint64_t cowSeed(unsigned page)
{
    return wl_derive(wl_seed(), 100 + page);
}

static bool modified(unsigned page)
{
    return page % 4 == 1;
}

static void step(void)
{
    static unsigned page;
    page = (page + 1) % PAGES;
    s_sink += s_rw[(size_t)page * WL_PAGE + 3];
    s_sink += s_ro[(size_t)(page % RO_PAGES) * WL_PAGE + 5];
}

static void sabotage(void)
{
    s_rw[0] ^= 0xff; // page 0 was clean
}

// OFFSET: the file offset that ADDR must map.
static void checkMapping(const char *what, const void *addr, const char *perms, unsigned long long offset)
{
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s at %p: not mapped", what, addr);
        return;
    }
    wl_check(strcmp(m.perms, perms) == 0, "%s: perms %s, expected %s", what, m.perms, perms);
    wl_check(strcmp(m.path, s_path) == 0, "%s: backed by '%s', expected %s", what, m.path, s_path);
    unsigned long long got = m.offset + ((uintptr_t)addr - m.start);
    wl_check(got == offset, "%s: maps to file offset %#llx, expected %#llx", what, got, offset);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "filemap");
    wl_path(s_path, sizeof s_path, "mapped.dat");
    static unsigned char file[PAGES * WL_PAGE];
    wl_fill(file, sizeof file, fileSeed());
    wl_write_file(s_path, file, sizeof file);

    int fd = open(s_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        wl_die("open %s: %s", s_path, strerror(errno));
    }
    s_rw = mmap(NULL, PAGES * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (s_rw == MAP_FAILED) {
        wl_die("mmap private rw: %s", strerror(errno));
    }
    for (unsigned page = 0; page < PAGES; ++page) {
        if (modified(page)) {
            wl_fill(s_rw + (size_t)page * WL_PAGE, WL_PAGE, cowSeed(page));
        } else {
            s_sink += s_rw[(size_t)page * WL_PAGE]; // present, still the file's page
        }
    }

    s_fd = open(s_path, O_RDONLY | O_CLOEXEC);
    if (s_fd < 0) {
        wl_die("open %s: %s", s_path, strerror(errno));
    }
    s_ro = mmap(NULL, RO_PAGES * WL_PAGE, PROT_READ, MAP_PRIVATE, s_fd, RO_FIRST * WL_PAGE);
    if (s_ro == MAP_FAILED) {
        wl_die("mmap private ro: %s", strerror(errno));
    }

    wl_run(step, sabotage, 10);

    // The file itself must be untouched by the copy-on-write pages.
    static unsigned char now[PAGES * WL_PAGE];
    long n = wl_read_file_at(s_path, now, sizeof now, 0);
    wl_check(n == (long)sizeof now, "%s: read %ld bytes, expected %zu", s_path, n, sizeof now);
    size_t off = wl_mismatch(now, sizeof now, fileSeed());
    wl_check(off == sizeof now, "%s changed at byte %zu (private modifications leaked into the file?)", s_path, off);

    unsigned bad = 0;
    for (unsigned page = 0; page < PAGES; ++page) {
        const unsigned char *p = s_rw + (size_t)page * WL_PAGE;
        bool ok = modified(page) ? wl_mismatch(p, WL_PAGE, cowSeed(page)) == WL_PAGE : memcmp(p, file + (size_t)page * WL_PAGE, WL_PAGE) == 0;
        if (!ok && bad++ < 5) {
            wl_fail("rw mapping page %u (%s): content differs", page, modified(page) ? "modified" : "clean");
        }
    }
    wl_check(memcmp(s_ro, file + RO_FIRST * WL_PAGE, RO_PAGES * WL_PAGE) == 0, "ro mapping: content differs from the file");

    checkMapping("rw mapping", s_rw, "rw-p", 0);
    checkMapping("rw mapping, last page", s_rw + (PAGES - 1) * WL_PAGE, "rw-p", (PAGES - 1) * WL_PAGE);
    checkMapping("ro mapping", s_ro, "r--p", RO_FIRST * WL_PAGE);
    struct stat fdSt, pathSt;
    if (fstat(s_fd, &fdSt) == 0 && stat(s_path, &pathSt) == 0) {
        wl_check(fdSt.st_ino == pathSt.st_ino && fdSt.st_dev == pathSt.st_dev, "fd %d is not %s any more", s_fd, s_path);
    } else {
        wl_fail("fstat fd %d / stat %s failed", s_fd, s_path);
    }

    // Clean pages are the file's page cache: a change to the file shows.
    // Modified pages are private: they do not.
    unsigned char marker[16];
    wl_fill(marker, sizeof marker, wl_derive(wl_seed(), 999));
    int wfd = open(s_path, O_WRONLY | O_CLOEXEC);
    if (wfd >= 0) {
        const unsigned cleanPage = 2, cowPage = 5, roPage = RO_FIRST + 2;
        bool written = pwrite(wfd, marker, sizeof marker, cleanPage * WL_PAGE) == (ssize_t)sizeof marker
            && pwrite(wfd, marker, sizeof marker, cowPage * WL_PAGE) == (ssize_t)sizeof marker
            && pwrite(wfd, marker, sizeof marker, roPage * WL_PAGE) == (ssize_t)sizeof marker;
        close(wfd);
        if (written) {
            wl_check(memcmp(s_rw + cleanPage * WL_PAGE, marker, sizeof marker) == 0,
                     "clean page %u of the rw mapping does not follow the file any more (restored as a private copy?)", cleanPage);
            wl_check(memcmp(s_ro + (roPage - RO_FIRST) * WL_PAGE, marker, sizeof marker) == 0,
                     "page %u of the ro mapping does not follow the file any more (restored as a private copy?)", roPage);
            wl_check(wl_mismatch(s_rw + cowPage * WL_PAGE, WL_PAGE, cowSeed(cowPage)) == WL_PAGE,
                     "modified page %u of the rw mapping changed with the file (not a private copy any more)", cowPage);
        } else {
            wl_fail("pwrite to %s failed", s_path);
        }
    } else {
        wl_fail("open %s for writing: %s", s_path, strerror(errno));
    }
    return wl_finish();
}
