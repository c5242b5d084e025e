// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cr_bigmem: the benchmark workload. Allocates SIZE MiB of anonymous memory
// and makes all of it resident: the first half incompressible (random), the
// second half text-like (words). Then writes "ready PID BYTES HASH" to stdout
// and waits. On SIGUSR1 it hashes its memory again and writes "verified ok"
// (exit 0) or "verified BAD" (exit 1): a restored copy proves its memory
// survived. Start it with only fds 0, 1, 2 (stdout a regular file).
//
// With "write" it then writes to its memory as fast as it can instead of
// waiting: pass after pass, the first 8 bytes of every page take the pass
// number, and each page must hold the previous pass before it is written (a
// restored image that mixes instants is caught). "ready" then ends with
// "progress=0xADDR": the address of the count of pages written so far, for
// the benchmark to read its progress; on SIGUSR1 it prints "verified ok"
// when every page held the previous pass (the rest of the memory is not
// hashed: its first bytes change).
//
// usage: cr_bigmem [SIZE_MIB [SEED [write]]]

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

namespace
{
volatile sig_atomic_t g_verify = 0;

void onUsr1(int)
{
    g_verify = 1;
}

uint64_t next(uint64_t &x)
{
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

void fillRandom(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    auto *w = reinterpret_cast<uint64_t *>(p);
    for (size_t i = 0; i < n / 8; ++i) {
        w[i] = next(x);
    }
}

// Words of varying frequency with punctuation and numbers: compresses about
// like English prose (zstd -1 keeps roughly a third).
void fillText(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *const words[] = {
        "the ",     "of ",         "and ",     "a ",        "to ",       "in ",      "is ",         "process ",  "memory ",  "page ",
        "kernel ",  "checkpoint ", "restore ", "snapshot ", "image ",    "thread ",  "signal ",     "file ",     "that ",    "with ",
        "for ",     "it ",         "as ",      "was ",      "on ",       "are ",     "by ",         "this ",     "be ",      "from ",
        "at ",      "or ",         "an ",      "which ",    "register ", "mapping ", "descriptor ", "compress ", "stream ",  "buffer ",
        "the ",     "the ",        "of ",      "and ",      "Linux ",    "Cryopod ", "zstd ",       "frozen ",   "resumed ", "written ",
        "quickly ", "carefully ",  "because ", "although ", "whenever ", "every ",   "second ",     "minute ",   "hour ",    "day ",
    };
    constexpr size_t kWords = sizeof words / sizeof words[0];
    uint64_t x = seed | 1;
    size_t i = 0;
    while (i < n) {
        const uint64_t r = next(x);
        const char *w = words[r % kWords];
        const size_t len = std::strlen(w);
        const size_t take = len < n - i ? len : n - i;
        std::memcpy(p + i, w, take);
        i += take;
        if (i < n && (r >> 20) % 13 == 0) {
            i += size_t(std::snprintf(reinterpret_cast<char *>(p + i), n - i > 12 ? 12 : n - i, "%u. ", unsigned((r >> 32) % 100000)));
            if (i > n) {
                i = n;
            }
        } else if (i < n && (r >> 24) % 11 == 0) {
            p[i++] = '\n';
        }
    }
}
volatile uint64_t g_pagesWritten = 0;

int writeForever(uint8_t *mem, size_t size)
{
    const size_t pages = size / 4096;
    for (size_t i = 0; i < pages; ++i) {
        std::memset(mem + i * 4096, 0, 8);
    }
    std::printf("ready %d %zu 0 progress=%p\n", int(getpid()), size, static_cast<void *>(const_cast<uint64_t *>(&g_pagesWritten)));
    std::fflush(stdout);
    uint64_t bad = 0;
    for (uint64_t pass = 1; !g_verify; ++pass) {
        for (size_t i = 0; i < pages && !g_verify; ++i) {
            auto *word = reinterpret_cast<uint64_t *>(mem + i * 4096);
            bad += *word != pass - 1;
            *word = pass;
            g_pagesWritten = g_pagesWritten + 1;
        }
        if (g_verify) {
            break;
        }
    }
    // A pass cut short by the signal leaves pages behind: that is fine; only
    // a page that did not hold the previous pass is wrong.
    std::printf("verified %s %llu\n", bad == 0 ? "ok" : "BAD", static_cast<unsigned long long>(bad));
    std::fflush(stdout);
    return bad == 0 ? 0 : 1;
}
} // namespace

int main(int argc, char **argv)
{
    const uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
    const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 12345;
    const size_t size = size_t(mib) << 20;
    if (size == 0) {
        std::fprintf(stderr, "cr_bigmem: size must be at least 1 MiB\n");
        return 2;
    }
    struct sigaction sa {
    };
    sa.sa_handler = onUsr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);

    auto *mem = static_cast<uint8_t *>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED) {
        std::perror("cr_bigmem: mmap");
        return 1;
    }
    madvise(mem, size, MADV_NOHUGEPAGE); // 4 KiB pages, like most programs' heaps
    const size_t half = size / 2;
    fillRandom(mem, half, seed);
    fillText(mem + half, size - half, seed + 1);
    const bool write = argc > 3 && std::strcmp(argv[3], "write") == 0;
    if (write) {
        return writeForever(mem, size);
    }
    const uint64_t hash = XXH3_64bits(mem, size);

    std::printf("ready %d %zu %016llx\n", int(getpid()), size, static_cast<unsigned long long>(hash));
    std::fflush(stdout);

    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    while (!g_verify) {
        sigsuspend(&old);
    }
    const uint64_t again = XXH3_64bits(mem, size);
    const bool ok = again == hash;
    std::printf("verified %s %016llx\n", ok ? "ok" : "BAD", static_cast<unsigned long long>(again));
    std::fflush(stdout);
    return ok ? 0 : 1;
}
