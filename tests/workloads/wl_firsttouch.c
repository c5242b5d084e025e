// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Mappings that get their first page while a snapshot is being taken: 128
// small anonymous mappings (4 pages each, kept apart by PROT_NONE gaps), all
// emptied with MADV_DONTNEED at the start of a round and then written one
// after another without a pause, the progress (round, next) noted after each. A mapping
// that was empty when the checkpoint looked at the process before freezing
// it (the precheck) and was written before the freeze must still be saved:
// counts of resident pages from before the freeze cannot say a mapping is
// empty (the low-pause dump reads smaps early, engine-lowpause runs this).
// Checked at the start of every round (before the mappings are emptied
// again) and after go: every mapping below `next` holds its pattern of this
// round, every one from `next` on is all zeros.
// Sabotage: a byte of the first mapping written is flipped.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { kMappings = 128, kPagesEach = 4 };

static unsigned char *s_region; // mapping i at s_region + 2 * i * s_bytes
static size_t s_bytes; // of one mapping
static uint64_t s_round;
static unsigned s_next; // mappings [0, s_next) are written in s_round

static unsigned char *mappingAt(unsigned i)
{
    return s_region + (size_t)2 * i * s_bytes;
}

static uint64_t seedOf(uint64_t round, unsigned i)
{
    return wl_derive(wl_seed(), round * kMappings + i + 1);
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

static void checkProgress(const char *when)
{
    for (unsigned i = 0; i < kMappings; ++i) {
        const unsigned char *m = mappingAt(i);
        if (i < s_next) {
            const size_t bad = wl_mismatch(m, s_bytes, seedOf(s_round, i));
            if (!wl_check(bad == s_bytes, "%s: mapping %u of round %llu (written, next %u) differs at byte %zu%s", when, i, (unsigned long long)s_round, s_next,
                          bad, allZero(m, s_bytes) ? ": all zeros, its pages were lost" : "")) {
                return;
            }
        } else if (!wl_check(allZero(m, s_bytes), "%s: mapping %u of round %llu (not written yet, next %u) is not all zeros", when, i,
                             (unsigned long long)s_round, s_next)) {
            return;
        }
    }
}

static void step(void)
{
    if (s_next == kMappings) {
        checkProgress("end of a round");
        for (unsigned i = 0; i < kMappings; ++i) {
            if (madvise(mappingAt(i), s_bytes, MADV_DONTNEED) != 0) {
                wl_die("madvise DONTNEED mapping %u", i);
            }
        }
        ++s_round;
        s_next = 0;
    }
    wl_fill(mappingAt(s_next), s_bytes, seedOf(s_round, s_next));
    ++s_next;
}

// wl_run calls it after a step: mapping 0 is written.
static void sabotage(void)
{
    mappingAt(0)[100] ^= 0xff;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "firsttouch");
    s_bytes = (size_t)kPagesEach * (size_t)sysconf(_SC_PAGESIZE);
    const size_t total = (size_t)2 * kMappings * s_bytes;
    s_region = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s_region == MAP_FAILED) {
        wl_die("mmap");
    }
    for (unsigned i = 0; i < kMappings; ++i) {
        if (mprotect(mappingAt(i), s_bytes, PROT_READ | PROT_WRITE) != 0) {
            wl_die("mprotect mapping %u", i);
        }
    }
    wl_run(step, sabotage, 0);
    checkProgress("after go");
    wl_check(s_round > 0 || s_next > 0, "nothing was written");
    return wl_finish();
}
