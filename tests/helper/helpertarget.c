// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// helpertarget MIB: a process for the helper's tests to checkpoint. It fills
// MIB MiB of memory with incompressible bytes (so that writing its image
// takes a while and fills any pipe), then sleeps in a loop until killed.
// Single-threaded, no fds but 0-2: what engine v1 checkpoints.
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    const long mib = argc > 1 ? atol(argv[1]) : 1;
    const size_t bytes = (size_t)(mib > 0 ? mib : 1) << 20;
    uint64_t *memory = malloc(bytes);
    if (!memory) {
        return 1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)bytes;
    for (size_t i = 0; i < bytes / sizeof *memory; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memory[i] = x;
    }
    const struct timespec tick = {0, 20 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
    }
}
