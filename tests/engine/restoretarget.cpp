// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The process the restore round-trip test checkpoints and restores. Plain
// C++, no Qt, started with fds 0-2 on /dev/null. It builds state of every kind
// engine v1 restores, then loops: every tick it verifies all of it and appends
// "tick N ok" to its log (an O_APPEND fd, part of its state), or "CORRUPT
// <what>" and exits 3. SIGUSR1 makes it log "usr1"; SIGUSR2 runs a handler on
// its sigaltstack, which logs "usr2 onstack" when it really ran there.
//
// usage: cryopod-restore-target LOG [--uid UID] [--caps] [--fifo]
// (--fifo: also holds the FIFO "fifo" beside LOG open read-write, with 100
// bytes queued in it)
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <grp.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace
{
int g_log = -1;
volatile sig_atomic_t g_usr1 = 0;
volatile sig_atomic_t g_usr2 = 0;
volatile sig_atomic_t g_usr2OnStack = 0;
char *g_altstack = nullptr;
int g_securebits = 0; // what PR_GET_SECUREBITS must say
constexpr size_t kAltstackSize = 64 * 1024;

uint64_t next(uint64_t &state)
{
    // xorshift64*: incompressible enough for the image, same sequence each time
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}

void fill(void *area, size_t bytes, uint64_t seed)
{
    auto *words = static_cast<uint64_t *>(area);
    for (size_t i = 0; i < bytes / 8; ++i) {
        words[i] = next(seed);
    }
}

bool check(const void *area, size_t bytes, uint64_t seed)
{
    const auto *words = static_cast<const uint64_t *>(area);
    for (size_t i = 0; i < bytes / 8; ++i) {
        if (words[i] != next(seed)) {
            return false;
        }
    }
    return true;
}

[[noreturn]] void corrupt(const char *what)
{
    dprintf(g_log, "CORRUPT %s (errno %d)\n", what, errno);
    _exit(3);
}

void onUsr1(int)
{
    g_usr1 = 1;
}

void onUsr2(int)
{
    char local = 0;
    g_usr2OnStack = (&local >= g_altstack && &local < g_altstack + kAltstackSize) ? 1 : 0;
    g_usr2 = 1;
}
} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        return 2;
    }
    syscall(SYS_close_range, 3, ~0u, 0);
    const std::string logPath = argv[1];
    const std::string dir = logPath.substr(0, logPath.rfind('/'));
    g_log = open(logPath.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (g_log < 0 || chdir(dir.c_str()) != 0) {
        return 2;
    }
    umask(027);
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = 200;
    setrlimit(RLIMIT_NOFILE, &nofile);

    // A regular file, read-write at an offset.
    const int data = open("data.bin", O_RDWR | O_CREAT | O_TRUNC, 0640);
    static uint8_t dataBytes[3 * 4096];
    fill(dataBytes, sizeof dataBytes, 11);
    if (data < 0 || write(data, dataBytes, sizeof dataBytes) != ssize_t(sizeof dataBytes) || lseek(data, 1234, SEEK_SET) != 1234) {
        corrupt("setup data.bin");
    }
    // A file unlinked while open, with contents only the image keeps.
    const int gone = open("gone.bin", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    static uint8_t goneBytes[50000];
    fill(goneBytes, sizeof goneBytes, 22);
    if (gone < 0 || write(gone, goneBytes, sizeof goneBytes) != ssize_t(sizeof goneBytes) || unlink("gone.bin") != 0 || lseek(gone, 777, SEEK_SET) != 777) {
        corrupt("setup gone.bin");
    }
    // A directory fd and /dev/zero.
    const int dirFd = open(".", O_RDONLY | O_DIRECTORY);
    const int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

    // Memory: heap, anonymous mapping with a read-only part and a guard page,
    // a private file mapping with one copy-on-write page, the stack.
    const size_t heapBytes = 24u << 20;
    auto *heap = static_cast<uint8_t *>(malloc(heapBytes));
    fill(heap, heapBytes, 33);
    const size_t anonBytes = 4u << 20;
    auto *anon = static_cast<uint8_t *>(mmap(nullptr, anonBytes + 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (anon == MAP_FAILED) {
        corrupt("setup mmap");
    }
    fill(anon, anonBytes + 4096, 44);
    mprotect(anon + anonBytes, 4096, PROT_READ); // read-only page with data
    mprotect(anon + anonBytes + 4096, 4096, PROT_NONE); // guard page
    auto *fileMap = static_cast<uint8_t *>(mmap(nullptr, sizeof dataBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, data, 0));
    if (fileMap == MAP_FAILED) {
        corrupt("setup file mmap");
    }
    fileMap[100] = uint8_t(fileMap[100] ^ 0xff); // copy-on-write page 0
    uint64_t stackArea[4096];
    fill(stackArea, sizeof stackArea, 55);

    // Signals: handlers, an alternate stack, a blocked signal, an ignored one.
    g_altstack = static_cast<char *>(malloc(kAltstackSize));
    stack_t ss{};
    ss.ss_sp = g_altstack;
    ss.ss_size = kAltstackSize;
    sigaltstack(&ss, nullptr);
    struct sigaction sa{};
    sa.sa_handler = onUsr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_handler = onUsr2;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigaction(SIGUSR2, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGWINCH);
    sigprocmask(SIG_BLOCK, &block, nullptr);

    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--caps") == 0) {
            // Still uid/gid 0, but: other groups, fewer capabilities, one
            // ambient, a smaller bounding set, securebits, no_new_privs.
            const gid_t groups[] = {4, 24, 27};
            constexpr int netBind = 10, sysBoot = 22, sysAdmin = 21, netRaw = 13;
            struct {
                uint32_t version;
                int pid;
            } header{0x20080522, 0};
            struct {
                uint32_t effective, permitted, inheritable;
            } caps[2]{};
            if (syscall(SYS_capget, &header, caps) != 0) {
                corrupt("setup capget");
            }
            const uint32_t drop = (1u << sysAdmin) | (1u << netRaw);
            caps[0].permitted &= ~drop;
            caps[0].effective &= ~drop;
            caps[0].inheritable = 1u << netBind;
            if (setgroups(3, groups) != 0 || prctl(PR_CAPBSET_DROP, sysBoot, 0, 0, 0) != 0 || syscall(SYS_capset, &header, caps) != 0
                || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, netBind, 0, 0) != 0 || prctl(PR_SET_SECUREBITS, 1 << 4 /* SECBIT_KEEP_CAPS */, 0, 0, 0) != 0
                || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
                corrupt("setup caps");
            }
            g_securebits = 1 << 4;
        }
        if (std::strcmp(argv[i], "--fifo") == 0) {
            static uint8_t queued[100];
            fill(queued, sizeof queued, 66);
            unlink("fifo");
            const int fifo = mkfifo("fifo", 0600) == 0 ? open("fifo", O_RDWR | O_NONBLOCK) : -1;
            if (fifo < 0 || write(fifo, queued, sizeof queued) != ssize_t(sizeof queued)) {
                corrupt("setup fifo");
            }
        }
        if (i + 1 < argc && std::strcmp(argv[i], "--uid") == 0) {
            const uid_t uid = uid_t(std::atoi(argv[i + 1]));
            const gid_t gids[] = {gid_t(uid)};
            if (setgroups(1, gids) != 0 || setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) {
                corrupt("setup uid");
            }
        }
    }

    dprintf(g_log, "ready %d\n", getpid());
    for (unsigned long tick = 1;; ++tick) {
        if (!check(heap, heapBytes, 33)) {
            corrupt("heap");
        }
        if (!check(anon, anonBytes + 4096, 44)) {
            corrupt("anonymous mapping");
        }
        if (!check(stackArea, sizeof stackArea, 55)) {
            corrupt("stack");
        }
        if (fileMap[100] != uint8_t(dataBytes[100] ^ 0xff) || std::memcmp(fileMap + 4096, dataBytes + 4096, sizeof dataBytes - 4096) != 0) {
            corrupt("file mapping");
        }
        if (lseek(data, 0, SEEK_CUR) != 1234 || lseek(gone, 0, SEEK_CUR) != 777) {
            corrupt("file offsets");
        }
        uint8_t back[sizeof goneBytes];
        if (pread(gone, back, sizeof back, 0) != ssize_t(sizeof back) || std::memcmp(back, goneBytes, sizeof back) != 0) {
            corrupt("unlinked file contents");
        }
        if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != g_securebits) {
            corrupt("securebits");
        }
        uint8_t z = 1;
        if (read(zero, &z, 1) != 1 || z != 0 || fcntl(dirFd, F_GETFD) != 0) {
            corrupt("/dev/zero or directory fd");
        }
        if (g_usr1) {
            g_usr1 = 0;
            dprintf(g_log, "usr1\n");
        }
        if (g_usr2) {
            g_usr2 = 0;
            dprintf(g_log, "usr2 %s\n", g_usr2OnStack ? "onstack" : "offstack");
        }
        dprintf(g_log, "tick %lu ok\n", tick);
        timespec ts{0, 100 * 1000 * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}
