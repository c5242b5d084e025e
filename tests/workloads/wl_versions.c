// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Versions: a 32 MiB array rewritten at full speed, pass after pass, every
// element set to the pass number. Before an element is overwritten in pass
// v it must hold v - 1: a memory image that mixes instants (pages saved
// before and after the program moved on, as a keep-running snapshot that
// copied memory while the program ran would) shows up as an element one or
// more passes ahead or behind. The check runs on every element of every
// pass, so it covers the restored copy from its first instruction on. After
// go: every element holds the last finished pass, and at least two passes
// were checked since the last restore-visible pause (the loop ran).
// wl_shmversions: the same with the array in MAP_SHARED anonymous memory
// (the pass counter stays private): a keep-running snapshot must capture the
// shared memory during the pause too, not from the running program.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <stdlib.h>
#include <sys/mman.h>

#define ELEMENTS (4u << 20) // 32 MiB of uint64_t

static uint64_t *s_array;
static struct wl_versions s_versions = {.elements = ELEMENTS, .what = "the array's"};

// One whole pass: every element must still hold the previous pass.
static void step(void)
{
    wl_versions_pass(&s_versions);
}

static void sabotage(void)
{
    s_array[ELEMENTS / 3] += 2;
}

int main(int argc, char **argv)
{
#ifdef WL_VERSIONS_SHARED
    wl_init(argc, argv, "shmversions");
    const int share = MAP_SHARED;
#else
    wl_init(argc, argv, "versions");
    const int share = MAP_PRIVATE;
#endif
    s_array = mmap(NULL, ELEMENTS * sizeof(uint64_t), PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
    if (s_array == MAP_FAILED) {
        wl_die("mmap of %zu bytes failed", (size_t)ELEMENTS * sizeof(uint64_t));
    }
    s_versions.array = s_array;
    // Pass 0 is the kernel's zero pages; pass 1 makes them all present.
    step();
    wl_run(step, sabotage, 0);
    wl_versions_check(&s_versions, "versions");
    wl_check(s_versions.pass >= 2, "only %llu passes ran", (unsigned long long)s_versions.pass);
    return wl_finish();
}
