// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Heap pattern: malloc'd blocks of many sizes (small ones in [heap], large
// ones in malloc's own mmaps) filled with seeded patterns, every third block
// freed to leave holes. After go: every live block still holds its pattern
// (sizes re-derived from the seed), the kernel's brk is unchanged, and the
// allocator still works (free everything, allocate and use again).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BLOCKS 300

static unsigned char *s_blocks[BLOCKS];
static unsigned long s_brk;
static unsigned s_cursor;

static size_t blockSize(unsigned i)
{
    uint64_t r = wl_derive(wl_seed(), 1000 + i);
    switch (r % 10) {
    case 0:
        return 128 * 1024 + r % (512 * 1024); // beyond the mmap threshold
    case 1:
    case 2:
        return 4096 + r % (60 * 1024);
    default:
        return 1 + r % 2048;
    }
}

static bool isHole(unsigned i)
{
    return i % 3 == 2;
}

static uint64_t blockSeed(unsigned i)
{
    return wl_derive(wl_seed(), i);
}

static volatile uint64_t s_sink;

static void step(void)
{
    // Keep reading the heap: sum a few blocks per round.
    for (int k = 0; k < 8; ++k) {
        unsigned i = s_cursor++ % BLOCKS;
        if (isHole(i)) {
            continue;
        }
        uint64_t sum = 0;
        for (size_t b = 0; b < blockSize(i); b += 64) {
            sum += s_blocks[i][b];
        }
        s_sink += sum;
    }
}

static void sabotage(void)
{
    s_blocks[4][blockSize(4) / 2] ^= 0x5a;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "heap");
    for (unsigned i = 0; i < BLOCKS; ++i) {
        s_blocks[i] = malloc(blockSize(i));
        if (!s_blocks[i]) {
            wl_die("malloc(%zu) failed", blockSize(i));
        }
        wl_fill(s_blocks[i], blockSize(i), blockSeed(i));
    }
    for (unsigned i = 0; i < BLOCKS; ++i) {
        if (isHole(i)) {
            free(s_blocks[i]);
            s_blocks[i] = NULL;
        }
    }
    s_brk = (unsigned long)syscall(SYS_brk, 0);

    wl_run(step, sabotage, 10);

    unsigned bad = 0;
    for (unsigned i = 0; i < BLOCKS; ++i) {
        if (isHole(i)) {
            continue;
        }
        size_t n = blockSize(i);
        size_t off = wl_mismatch(s_blocks[i], n, blockSeed(i));
        if (off != n && bad++ < 5) {
            wl_fail("block %u (%zu bytes at %p): pattern differs at offset %zu", i, n, (void *)s_blocks[i], off);
        }
        if (malloc_usable_size(s_blocks[i]) < n && bad++ < 5) {
            wl_fail("block %u: malloc_usable_size %zu < %zu (allocator metadata lost)", i, malloc_usable_size(s_blocks[i]), n);
        }
    }
    if (bad > 5) {
        wl_fail("%u more heap differences", bad - 5);
    }
    unsigned long brkNow = (unsigned long)syscall(SYS_brk, 0);
    wl_check(brkNow == s_brk, "kernel brk is %#lx, was %#lx", brkNow, s_brk);

    // The allocator must still work: release everything, allocate again
    // (grows the heap through brk and mmap), fill and check.
    for (unsigned i = 0; i < BLOCKS; ++i) {
        free(s_blocks[i]);
        s_blocks[i] = NULL;
    }
    for (unsigned i = 0; i < BLOCKS; ++i) {
        size_t n = blockSize(i) * 2;
        s_blocks[i] = malloc(n);
        if (!wl_check(s_blocks[i] != NULL, "malloc(%zu) failed after restore", n)) {
            break;
        }
        wl_fill(s_blocks[i], n, blockSeed(i) + 1);
    }
    for (unsigned i = 0; i < BLOCKS && s_blocks[i]; ++i) {
        size_t n = blockSize(i) * 2;
        size_t off = wl_mismatch(s_blocks[i], n, blockSeed(i) + 1);
        if (off != n) {
            wl_fail("new block %u: pattern differs at %zu (heap reuse broken)", i, off);
            break;
        }
    }
    void *big = sbrk(1 << 20);
    wl_check(big != (void *)-1, "sbrk(1 MiB) failed after restore (brk area not growable)");
    return wl_finish();
}
