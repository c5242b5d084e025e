// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A huge sparse mapping: 1 GiB reserved (MAP_NORESERVE), 64 pages written.
// After go: the written pages hold their patterns, and the pages that were
// never touched are still not present (/proc/self/pagemap) and resident
// memory stayed small: a restore must recreate holes as holes, not write
// 1 GiB of zeros.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define REGION_PAGES (256u * 1024u) // 1 GiB
#define WRITTEN 64u

static unsigned char *s_region;

static unsigned writtenPage(unsigned i)
{
    // Spread over the region, distinct by construction.
    return i * (REGION_PAGES / WRITTEN) + (unsigned)(wl_derive(wl_seed(), i) % (REGION_PAGES / WRITTEN));
}

static uint64_t pageSeed(unsigned i)
{
    return wl_derive(wl_seed(), 5000 + i);
}

// Counts present pages of the region that were never written.
static long presentUntouched(void)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    static uint64_t entries[4096];
    long present = 0;
    unsigned next = 0; // index of the next written page
    for (unsigned base = 0; base < REGION_PAGES; base += 4096) {
        off_t off = (off_t)(((uintptr_t)s_region / WL_PAGE + base) * 8);
        if (pread(fd, entries, sizeof entries, off) != (ssize_t)sizeof entries) {
            close(fd);
            return -1;
        }
        for (unsigned k = 0; k < 4096; ++k) {
            unsigned page = base + k;
            if (next < WRITTEN && page == writtenPage(next)) {
                ++next;
                continue;
            }
            if (entries[k] & (1ull << 63)) {
                ++present;
            }
        }
    }
    close(fd);
    return present;
}

static long rssKiB(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        return -1;
    }
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}

static void sabotage(void)
{
    // Touch pages that were never written: they become present.
    for (unsigned i = 1; i < 200; ++i) {
        s_region[(size_t)(writtenPage(0) + i) * WL_PAGE] = 1;
    }
}

static volatile uint64_t s_sink;

static void step(void)
{
    static unsigned i;
    i = (i + 1) % WRITTEN;
    s_sink += s_region[(size_t)writtenPage(i) * WL_PAGE + 8];
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "sparse");
    s_region = mmap(NULL, (size_t)REGION_PAGES * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s_region == MAP_FAILED) {
        wl_die("mmap 1 GiB failed");
    }
    madvise(s_region, (size_t)REGION_PAGES * WL_PAGE, MADV_NOHUGEPAGE);
    for (unsigned i = 0; i < WRITTEN; ++i) {
        wl_fill(s_region + (size_t)writtenPage(i) * WL_PAGE, WL_PAGE, pageSeed(i));
    }
    long before = presentUntouched();
    if (before != 0) {
        wl_die("%ld untouched pages present before the checkpoint (pagemap unusable)", before);
    }

    wl_run(step, sabotage, 10);

    long present = presentUntouched();
    wl_check(present == 0, "%ld never-touched pages of the 1 GiB region are present after restore (holes filled)", present);
    long rss = rssKiB();
    wl_check(rss >= 0 && rss < 64 * 1024, "VmRSS is %ld KiB, expected well under 64 MiB", rss);
    unsigned bad = 0;
    for (unsigned i = 0; i < WRITTEN; ++i) {
        const unsigned char *p = s_region + (size_t)writtenPage(i) * WL_PAGE;
        size_t off = wl_mismatch(p, WL_PAGE, pageSeed(i));
        if (off != WL_PAGE && bad++ < 5) {
            wl_fail("written page %u (%p): pattern differs at byte %zu", writtenPage(i), (const void *)p, off);
        }
    }
    return wl_finish();
}
