// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Stack pattern: a deep recursion (DEPTH frames, each holding a seeded array
// of its own, one of them a 512 KiB buffer that grows [stack]) parks at the
// bottom in the main loop. After go the recursion unwinds: every frame checks
// its own values, and every return value (a hash over the depths) is checked
// against the one computed without recursion, so return addresses and saved
// registers must have survived too.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <string.h>

#define DEPTH 1500
#define BIG_FRAME 700
#define BIG_SIZE (512 * 1024)

static uint64_t *s_frames[DEPTH + 1];
static unsigned s_badFrames;

static uint64_t combine(uint64_t h, unsigned depth)
{
    return (h ^ (depth * 0x9e3779b97f4a7c15ull)) * 0x100000001b3ull + depth;
}

static void sabotage(void)
{
    s_frames[DEPTH / 2][5] ^= 0x10;
}

static void checkFrame(unsigned depth, const void *p, size_t n, uint64_t seed)
{
    size_t off = wl_mismatch(p, n, seed);
    if (off != n && s_badFrames++ < 5) {
        wl_fail("frame %u at %p: value differs at byte %zu of %zu", depth, p, off, n);
    }
}

__attribute__((noinline)) static uint64_t frame(unsigned depth);

__attribute__((noinline)) static uint64_t bigFrame(unsigned depth)
{
    unsigned char big[BIG_SIZE];
    wl_fill(big, sizeof big, wl_derive(wl_seed(), 100000 + depth));
    uint64_t r = frame(depth + 1);
    checkFrame(depth, big, sizeof big, wl_derive(wl_seed(), 100000 + depth));
    __asm__ volatile("" : : "r"(big) : "memory");
    return r;
}

__attribute__((noinline)) static uint64_t frame(unsigned depth)
{
    uint64_t local[16];
    wl_fill(local, sizeof local, wl_derive(wl_seed(), depth));
    s_frames[depth] = local;
    uint64_t r;
    if (depth == DEPTH) {
        wl_run(NULL, sabotage, 10);
        r = 0;
    } else if (depth == BIG_FRAME) {
        r = bigFrame(depth);
    } else {
        r = frame(depth + 1);
    }
    checkFrame(depth, local, sizeof local, wl_derive(wl_seed(), depth));
    __asm__ volatile("" : : "r"(local) : "memory");
    return combine(r, depth);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "stack");
    uint64_t got = frame(0);
    uint64_t want = 0;
    for (int d = DEPTH; d >= 0; --d) {
        want = combine(d == DEPTH ? 0 : want, (unsigned)d);
    }
    wl_check(got == want, "recursion returned %#llx, expected %#llx", (unsigned long long)got, (unsigned long long)want);
    if (s_badFrames > 5) {
        wl_fail("%u more frames differ", s_badFrames - 5);
    }
    return wl_finish();
}
