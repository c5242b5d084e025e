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
// With "tree FANOUT" it is a process tree instead (bench/cr_tree): the root
// has FANOUT children, each with FANOUT children of its own, and SIZE MiB are
// shared out among all of them (each its own pages, half random, half text,
// from its own seed). Every parent holds a pipe down to each child and one
// up from it; the children wait in read() on the pipe down. "ready" comes
// once the whole tree is set up; on SIGUSR1 the root sends "v" down, every
// process checks its memory and its children's answers and answers up, and
// the root prints "verified ok" only if all of the tree is intact.
// With "tree FANOUT THREADS" every process of the tree also runs THREADS - 1
// more threads that keep working (every 20 ms each counts a pass and rewrites
// a small block of its own); at "v" every process checks that each of its
// threads' blocks holds its last pass and that every thread still makes
// progress.
// With "tree FANOUT THREADS LEVELS" the tree has LEVELS levels below the root
// (default 2; 1 is a root with FANOUT children and no grandchildren).
//
// usage: cr_bigmem [SIZE_MIB [SEED [write | tree FANOUT [THREADS [LEVELS]]]]]

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>
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
// ---- tree mode ---------------------------------------------------------------

struct Memory {
    uint8_t *mem = nullptr;
    size_t size = 0;
    uint64_t hash = 0;
};

Memory makeMemory(size_t size, uint64_t seed)
{
    Memory m;
    m.size = size;
    m.mem = static_cast<uint8_t *>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (m.mem == MAP_FAILED) {
        std::perror("cr_bigmem: mmap");
        _exit(1);
    }
    madvise(m.mem, size, MADV_NOHUGEPAGE);
    fillRandom(m.mem, size / 2, seed);
    fillText(m.mem + size / 2, size - size / 2, seed + 1);
    m.hash = XXH3_64bits(m.mem, size);
    return m;
}

bool readByte(int fd, char *c)
{
    for (;;) {
        const ssize_t n = read(fd, c, 1);
        if (n == 1) {
            return true;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return false;
    }
}

bool writeByte(int fd, char c)
{
    while (write(fd, &c, 1) != 1) {
        if (errno != EINTR) {
            return false;
        }
    }
    return true;
}

struct Child {
    pid_t pid = -1;
    int down = -1; // we write commands
    int up = -1; // we read answers
};

// The extra threads of a tree process: each wakes every 20 ms, counts a
// pass and rewrites its block with it.
struct Worker {
    std::atomic<uint64_t> passes {0};
    uint64_t block[64] = {};
};

void *workerMain(void *opaque)
{
    auto *w = static_cast<Worker *>(opaque);
    for (uint64_t pass = 1;; ++pass) {
        for (uint64_t i = 0; i < 64; ++i) {
            w->block[i] = pass * 64 + i;
        }
        w->passes.store(pass, std::memory_order_release);
        const timespec pause {0, 20 * 1000 * 1000};
        nanosleep(&pause, nullptr);
    }
    return nullptr;
}

std::vector<Worker> *g_workers = nullptr; // the process's extra threads (tree mode)

void startWorkers(unsigned threads)
{
    if (threads < 2) {
        return;
    }
    g_workers = new std::vector<Worker>(threads - 1);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); // signals go to the main thread
    for (Worker &w : *g_workers) {
        pthread_t t;
        if (pthread_create(&t, nullptr, workerMain, &w) != 0) {
            std::perror("cr_bigmem: pthread_create");
            _exit(1);
        }
        pthread_detach(t);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// Every extra thread's block holds a whole pass, and every thread passes
// again within a second.
bool workersOk()
{
    if (!g_workers) {
        return true;
    }
    std::vector<uint64_t> seen;
    for (Worker &w : *g_workers) {
        seen.push_back(w.passes.load(std::memory_order_acquire));
    }
    for (int waited = 0; waited < 100; ++waited) {
        bool all = true;
        for (size_t i = 0; i < seen.size(); ++i) {
            all = all && (*g_workers)[i].passes.load(std::memory_order_acquire) > seen[i] + 1;
        }
        if (all) {
            break;
        }
        const timespec pause {0, 10 * 1000 * 1000};
        nanosleep(&pause, nullptr);
    }
    for (size_t i = 0; i < seen.size(); ++i) {
        Worker &w = (*g_workers)[i];
        const uint64_t now = w.passes.load(std::memory_order_acquire);
        if (now <= seen[i] + 1) {
            return false; // stuck
        }
        // Every word of the block is from a pass at least as recent as seen[i].
        for (uint64_t j = 0; j < 64; ++j) {
            const uint64_t v = w.block[j];
            if (v % 64 != j || v / 64 < seen[i]) {
                return false;
            }
        }
    }
    return true;
}

[[noreturn]] void treeNode(size_t share, uint64_t seed, unsigned fanout, int levelsBelow, int in, int out, unsigned threads);

// Forks FANOUT children (each running treeNode) before the caller allocates
// its own memory, so that no page is shared copy-on-write.
std::vector<Child> spawnChildren(size_t share, uint64_t seed, unsigned fanout, int levelsBelow, unsigned threads)
{
    std::vector<Child> children;
    for (unsigned i = 0; i < fanout; ++i) {
        int down[2], up[2];
        if (pipe(down) != 0 || pipe(up) != 0) {
            std::perror("cr_bigmem: pipe");
            _exit(1);
        }
        const pid_t pid = fork();
        if (pid == 0) {
            // Only 0-2 and our two ends (as 3 and 4).
            const int in = fcntl(down[0], F_DUPFD, 100);
            const int out = fcntl(up[1], F_DUPFD, 100);
            dup2(in, 3);
            dup2(out, 4);
            close_range(5, ~0u, 0);
            treeNode(share, seed * 31 + i + 1, fanout, levelsBelow - 1, 3, 4, threads);
        }
        close(down[0]);
        close(up[1]);
        children.push_back({pid, down[1], up[0]});
    }
    return children;
}

// Sends "v" to every child and collects the answers: true when all said ok.
bool verifyChildren(std::vector<Child> &children)
{
    bool ok = true;
    for (const Child &c : children) {
        ok = writeByte(c.down, 'v') && ok;
    }
    for (const Child &c : children) {
        char answer = 0;
        ok = readByte(c.up, &answer) && answer == 'o' && ok;
        int status = 0;
        ok = waitpid(c.pid, &status, 0) == c.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
    }
    return ok;
}

bool waitReady(std::vector<Child> &children)
{
    bool ok = true;
    for (const Child &c : children) {
        char r = 0;
        ok = readByte(c.up, &r) && r == 'r' && ok;
    }
    return ok;
}

[[noreturn]] void treeNode(size_t share, uint64_t seed, unsigned fanout, int levelsBelow, int in, int out, unsigned threads)
{
    std::vector<Child> children = levelsBelow > 0 ? spawnChildren(share, seed, fanout, levelsBelow, threads) : std::vector<Child> {};
    const Memory m = makeMemory(share, seed);
    startWorkers(threads);
    if (!waitReady(children) || !writeByte(out, 'r')) {
        _exit(1);
    }
    char command = 0;
    if (!readByte(in, &command) || command != 'v') {
        _exit(1);
    }
    const bool ok = verifyChildren(children) && XXH3_64bits(m.mem, m.size) == m.hash && workersOk();
    writeByte(out, ok ? 'o' : 'b');
    _exit(ok ? 0 : 1);
}

int treeMain(size_t size, uint64_t seed, unsigned fanout, unsigned threads, int levels)
{
    size_t processes = 1;
    for (size_t level = 1, width = 1; int(level) <= levels; ++level) {
        width *= fanout;
        processes += width;
    }
    const size_t share = size / processes / 4096 * 4096;
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old); // inherited: the children ignore a stray SIGUSR1
    std::vector<Child> children = spawnChildren(share, seed, fanout, levels, threads);
    const Memory m = makeMemory(share, seed);
    startWorkers(threads);
    if (!waitReady(children)) {
        std::printf("cr_bigmem: the tree did not come up\n");
        return 1;
    }
    std::printf("ready %d %zu %zu processes %zu bytes each, %u threads each\n", int(getpid()), share * processes, processes, share, std::max(threads, 1u));
    std::fflush(stdout);
    while (!g_verify) {
        sigsuspend(&old);
    }
    const bool ok = verifyChildren(children) && XXH3_64bits(m.mem, m.size) == m.hash && workersOk();
    std::printf("verified %s (tree of %zu processes)\n", ok ? "ok" : "BAD", processes);
    std::fflush(stdout);
    return ok ? 0 : 1;
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
    struct sigaction sa {};
    sa.sa_handler = onUsr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);

    auto *mem = static_cast<uint8_t *>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED) {
        std::perror("cr_bigmem: mmap");
        return 1;
    }
    if (argc > 4 && std::strcmp(argv[3], "tree") == 0) {
        munmap(mem, size);
        const unsigned threads = argc > 5 ? unsigned(std::strtoul(argv[5], nullptr, 10)) : 1;
        const int levels = argc > 6 ? int(std::strtol(argv[6], nullptr, 10)) : 2;
        if (levels < 1 || levels > 4) {
            std::fprintf(stderr, "cr_bigmem: LEVELS must be 1 to 4\n");
            return 2;
        }
        return treeMain(size, seed, unsigned(std::strtoul(argv[4], nullptr, 10)), threads, levels);
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
