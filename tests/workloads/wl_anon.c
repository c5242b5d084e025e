// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Anonymous mappings: a 64 MiB sparse private region where some pages hold
// seeded patterns, some were only read (zero page), some were written with
// zeros, the rest never touched; a read-only region and a PROT_NONE region
// that both hold data; a region with an unmapped hole in the middle; an
// executable page with generated code. After go: every byte is what the seed
// says (zero where nothing was written), /proc/self/maps shows the same
// protections, reads/writes fault where they must, and the code still runs.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <string.h>
#include <sys/mman.h>

#define BIG_PAGES (64u * 256u) // 64 MiB
#define RO_PAGES 16u
#define NONE_PAGES 8u
#define HOLE_PAGES 12u // pages 4..7 unmapped

enum PageKind { Untouched, Pattern, ReadOnly, Zeroed };

static unsigned char *s_big, *s_ro, *s_none, *s_hole, *s_code;
static volatile uint64_t s_sink;

static enum PageKind kindOf(unsigned page)
{
    switch (wl_derive(wl_seed(), 7000000 + page) % 7) {
    case 0:
        return Pattern;
    case 1:
        return ReadOnly;
    case 2:
        return Zeroed;
    default:
        return Untouched;
    }
}

static uint64_t pageSeed(unsigned tag, unsigned page)
{
    return wl_derive(wl_seed(), tag * 1000000ull + page);
}

static unsigned char *map(size_t pages, int prot)
{
    void *p = mmap(NULL, pages * WL_PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        wl_die("mmap %zu pages failed", pages);
    }
    return p;
}

static int codeValue(void)
{
    return (int)(wl_seed() & 0x7fffffff);
}

static void step(void)
{
    // Keep reading the pattern pages (never the untouched ones).
    static unsigned page;
    for (int k = 0; k < 64; ++k) {
        page = (page + 1) % BIG_PAGES;
        if (kindOf(page) == Pattern) {
            s_sink += s_big[(size_t)page * WL_PAGE + 100];
        }
    }
}

static void sabotage(void)
{
    for (unsigned page = 0; page < BIG_PAGES; ++page) {
        if (kindOf(page) == Pattern) {
            s_big[(size_t)page * WL_PAGE + 123] ^= 1;
            return;
        }
    }
}

static bool allZero(const unsigned char *p, size_t n)
{
    static const unsigned char zero[WL_PAGE];
    for (size_t i = 0; i < n; i += WL_PAGE) {
        if (memcmp(p + i, zero, n - i < WL_PAGE ? n - i : WL_PAGE) != 0) {
            return false;
        }
    }
    return true;
}

static void checkPerms(const char *what, const void *addr, const char *perms)
{
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s at %p: not mapped", what, addr);
        return;
    }
    wl_check(strcmp(m.perms, perms) == 0, "%s at %p: perms %s, expected %s", what, addr, m.perms, perms);
    wl_check(m.path[0] == 0, "%s at %p: now backed by '%s', expected anonymous", what, addr, m.path);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "anon");

    s_big = map(BIG_PAGES, PROT_READ | PROT_WRITE);
    madvise(s_big, (size_t)BIG_PAGES * WL_PAGE, MADV_NOHUGEPAGE);
    for (unsigned page = 0; page < BIG_PAGES; ++page) {
        unsigned char *p = s_big + (size_t)page * WL_PAGE;
        switch (kindOf(page)) {
        case Pattern:
            wl_fill(p, WL_PAGE, pageSeed(1, page));
            break;
        case ReadOnly:
            s_sink += p[17];
            break;
        case Zeroed:
            memset(p, 0, WL_PAGE);
            break;
        case Untouched:
            break;
        }
    }

    s_ro = map(RO_PAGES, PROT_READ | PROT_WRITE);
    wl_fill(s_ro, RO_PAGES * WL_PAGE, pageSeed(2, 0));
    mprotect(s_ro, RO_PAGES * WL_PAGE, PROT_READ);

    s_none = map(NONE_PAGES, PROT_READ | PROT_WRITE);
    wl_fill(s_none, NONE_PAGES * WL_PAGE, pageSeed(3, 0));
    mprotect(s_none, NONE_PAGES * WL_PAGE, PROT_NONE);

    // mov eax, imm32; ret
    s_code = map(1, PROT_READ | PROT_WRITE);
    int value = codeValue();
    s_code[0] = 0xb8;
    memcpy(s_code + 1, &value, 4);
    s_code[5] = 0xc3;
    mprotect(s_code, WL_PAGE, PROT_READ | PROT_EXEC);

    // Last, so that no later mapping lands in the hole.
    s_hole = map(HOLE_PAGES, PROT_READ | PROT_WRITE);
    wl_fill(s_hole, HOLE_PAGES * WL_PAGE, pageSeed(4, 0));
    munmap(s_hole + 4 * WL_PAGE, 4 * WL_PAGE);

    wl_run(step, sabotage, 10);

    unsigned bad = 0;
    for (unsigned page = 0; page < BIG_PAGES; ++page) {
        const unsigned char *p = s_big + (size_t)page * WL_PAGE;
        if (kindOf(page) == Pattern) {
            size_t off = wl_mismatch(p, WL_PAGE, pageSeed(1, page));
            if (off != WL_PAGE && bad++ < 5) {
                wl_fail("sparse region page %u (%p): pattern differs at byte %zu", page, (const void *)p, off);
            }
        } else if (!allZero(p, WL_PAGE) && bad++ < 5) {
            wl_fail("sparse region page %u (%p, %s): not all zero", page, (const void *)p,
                    kindOf(page) == Zeroed ? "written with zeros" : kindOf(page) == ReadOnly ? "only read" : "never touched");
        }
    }
    if (bad > 5) {
        wl_fail("%u more pages of the sparse region differ", bad - 5);
    }
    checkPerms("sparse region", s_big, "rw-p");

    size_t off = wl_mismatch(s_ro, RO_PAGES * WL_PAGE, pageSeed(2, 0));
    wl_check(off == RO_PAGES * WL_PAGE, "read-only region: pattern differs at byte %zu", off);
    checkPerms("read-only region", s_ro, "r--p");
    wl_check(wl_write_faults(s_ro + 5), "read-only region: a write did not fault");

    checkPerms("PROT_NONE region", s_none, "---p");
    wl_check(wl_read_faults(s_none + 7), "PROT_NONE region: a read did not fault");
    if (mprotect(s_none, NONE_PAGES * WL_PAGE, PROT_READ) == 0) {
        off = wl_mismatch(s_none, NONE_PAGES * WL_PAGE, pageSeed(3, 0));
        wl_check(off == NONE_PAGES * WL_PAGE, "PROT_NONE region: data differs at byte %zu once readable", off);
    } else {
        wl_fail("PROT_NONE region: mprotect(PROT_READ) failed");
    }

    struct wl_mapping m = {0};
    wl_check(!wl_find_mapping((uintptr_t)(s_hole + 5 * WL_PAGE), &m), "the hole at %p is mapped (%s) after restore", (void *)(s_hole + 5 * WL_PAGE),
             m.perms);
    off = wl_mismatch(s_hole, 4 * WL_PAGE, pageSeed(4, 0));
    wl_check(off == 4 * WL_PAGE, "region before the hole: pattern differs at byte %zu", off);
    static unsigned char whole[HOLE_PAGES * WL_PAGE];
    wl_fill(whole, sizeof whole, pageSeed(4, 0));
    wl_check(memcmp(whole + 8 * WL_PAGE, s_hole + 8 * WL_PAGE, 4 * WL_PAGE) == 0, "region after the hole: pattern differs");

    checkPerms("code page", s_code, "r-xp");
    int (*fn)(void) = (int (*)(void))(void *)s_code;
    int got = fn();
    wl_check(got == codeValue(), "generated code returned %d, expected %d", got, codeValue());
    return wl_finish();
}
