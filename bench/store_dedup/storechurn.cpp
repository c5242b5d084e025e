// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// store_churn: the workload of bench/store_dedup and tests/store. Holds SIZE
// MiB of anonymous memory, all of it resident and non-zero: the first half
// pseudo-random (incompressible), the second half text-like. Then it waits,
// and on
//   SIGUSR1  rewrites PERCENT % of its pages, picked at random (new random
//            bytes or new text, as the half they are in), then writes
//            "changed GEN PAGES" to stdout;
//   SIGUSR2  writes "hash GEN HASH", the XXH3-64 of all of its memory (a
//            restored copy proves its memory survived).
// It starts by writing "ready PID PAGES". Single-threaded, fds 0-2 only
// (start it with stdout on a regular file opened O_APPEND), as the engine
// wants.
//
// usage: store_churn SIZE_MIB [PERCENT [SEED]]

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

namespace
{
constexpr size_t kPage = 4096;
volatile sig_atomic_t g_change = 0;
volatile sig_atomic_t g_hash = 0;

void onUsr1(int)
{
    g_change = 1;
}

void onUsr2(int)
{
    g_hash = 1;
}

struct Rng {
    uint64_t s;
    uint64_t next()
    {
        // splitmix64
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

void randomPage(uint8_t *p, Rng &rng)
{
    for (size_t i = 0; i < kPage; i += 8) {
        const uint64_t v = rng.next();
        std::memcpy(p + i, &v, 8);
    }
}

// Sentences of a small vocabulary: zstd -1 keeps about a third of it.
void textPage(uint8_t *p, Rng &rng)
{
    static const char *const words[] = {"store ", "chunk ", "page ",  "pack ",   "index ", "snapshot ", "timeline ", "restore ", "the ",  "a ",
                                        "of ",    "and ",   "with ",  "every ",  "once ",  "memory ",   "process ",  "image ",   "zstd ", "hash ",
                                        "kept ",  "is ",    "to ",    "in ",     "on ",    "again ",    "changed ",  "same ",    "new ",  "old "};
    constexpr size_t kWords = sizeof words / sizeof words[0];
    size_t i = 0;
    while (i < kPage) {
        const uint64_t r = rng.next();
        const char *w = words[r % kWords];
        size_t len = std::strlen(w);
        if (len > kPage - i) {
            len = kPage - i;
        }
        std::memcpy(p + i, w, len);
        i += len;
        if (i < kPage && (r >> 16) % 9 == 0) {
            const int n = std::snprintf(reinterpret_cast<char *>(p + i), kPage - i, "%u. ", unsigned((r >> 24) % 100000));
            i += n > 0 ? size_t(n) : 0;
            if (i > kPage) {
                i = kPage;
            }
        }
    }
}

void fill(uint8_t *mem, size_t pages, size_t index, Rng &rng)
{
    if (index < pages / 2) {
        randomPage(mem + index * kPage, rng);
    } else {
        textPage(mem + index * kPage, rng);
    }
    mem[index * kPage] |= 1; // never an all-zero page
}

void say(const char *line)
{
    const size_t n = std::strlen(line);
    size_t done = 0;
    while (done < n) {
        const ssize_t w = ::write(STDOUT_FILENO, line + done, n - done);
        if (w <= 0) {
            return;
        }
        done += size_t(w);
    }
}
} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: store_churn SIZE_MIB [PERCENT [SEED]]\n");
        return 2;
    }
    const size_t mib = std::strtoull(argv[1], nullptr, 10);
    const double percent = argc > 2 ? std::strtod(argv[2], nullptr) : 2.0;
    Rng rng {argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1};
    const size_t pages = mib * (1u << 20) / kPage;
    auto *mem = static_cast<uint8_t *>(::mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    for (size_t i = 0; i < pages; ++i) {
        fill(mem, pages, i, rng);
    }
    struct sigaction sa {};
    sa.sa_handler = onUsr1;
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_handler = onUsr2;
    sigaction(SIGUSR2, &sa, nullptr);

    char line[128];
    std::snprintf(line, sizeof line, "ready %d %zu\n", int(::getpid()), pages);
    say(line);
    unsigned generation = 0;
    const size_t perRound = size_t(double(pages) * percent / 100.0 + 0.5);
    for (;;) {
        if (!g_change && !g_hash) {
            // sleeps in the kernel; a checkpoint catches it here
            struct timespec ts {0, 50 * 1000 * 1000};
            nanosleep(&ts, nullptr);
            continue;
        }
        if (g_change) {
            g_change = 0;
            ++generation;
            for (size_t k = 0; k < perRound; ++k) {
                fill(mem, pages, size_t(rng.next() % pages), rng);
            }
            std::snprintf(line, sizeof line, "changed %u %zu\n", generation, perRound);
            say(line);
        }
        if (g_hash) {
            g_hash = 0;
            std::snprintf(line, sizeof line, "hash %u %016llx\n", generation, static_cast<unsigned long long>(XXH3_64bits(mem, pages * kPage)));
            say(line);
        }
    }
}
