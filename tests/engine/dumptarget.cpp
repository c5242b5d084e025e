// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A process for the dump-side engine tests to checkpoint. No Qt.
//
//   dumptarget MODE [ARG] [--then pause|spin|tick|vforkMS|clonevm]
//
// It sets up what MODE says, writes one line "ready key=value ..." to stdout
// (the test reads it to know what to expect), then waits in the --then way:
//   pause  blocked in pause(); SIGUSR1 makes it print "usr1" (if MODE installed it)
//   tick   nanosleep 10 ms, then write "." to stdout, forever (progress is visible)
//   vforkMS  vfork a child that sleeps MS milliseconds before it execs
//          /bin/sleep 60 (sharing the address space until then), then tick
//   clonevm  clone(CLONE_VM | SIGCHLD) a child that pauses for ever on a
//          stack of its own in the address space it shares, then tick
//   spin   a register-only loop: r12..r15 hold known values, rbx counts, xmm8
//          holds a known pattern (CPU time grows)
//
// Modes:
//   plain            nothing more
//   memory MIB       MIB MiB anonymous: half pseudo-random, half text-like, one
//                    zero page in every 16; plus a private file mapping of the
//                    file ARG2 with one page written (copy-on-write) and one not,
//                    and ARG2 mapped MAP_SHARED read-only (ready shared=), and a
//                    PROT_NONE page holding 0xa7 bytes (ready protnone=)
//   files DIR        DIR/read.txt open at offset 5 (fd 3), DIR/append.txt
//                    O_APPEND|O_WRONLY (fd 4), DIR/unlinked.txt unlinked while
//                    open O_RDWR at offset 3 (fd 5), DIR opened O_DIRECTORY
//                    (fd 6), /dev/null (fd 7, O_CLOEXEC)
//   signals          SIGUSR1 handler (SA_RESTART|SA_SIGINFO, mask SIGUSR2),
//                    SIGPIPE ignored, SIGHUP blocked, sigaltstack of 64 KiB
//   task DIR         umask 027, chdir DIR, RLIMIT_NOFILE soft 100, comm "dumptask"
//   pipe             a pipe held open (fds 3 and 4)
//   threads          a second thread named "worker" (blocked in pause,
//                    SIGUSR2 blocked in it alone; ready tid=)
//   threads3         three such threads (ready tid=, tid2=, tid3=)
//   leaderexit       a second thread, then the main thread ends with
//                    pthread_exit (the process lives on in the worker)
//   threadcreds      a second thread that switched its own egid to 4242 (raw
//                    setresgid: only that thread)
//   threadfiles      a second thread with a file descriptor table of its own
//                    (unshare(CLONE_FILES))
//   threadns         a second thread in a UTS namespace of its own
//                    (unshare(CLONE_NEWUTS))
//   threadstrict     a second thread in seccomp strict mode, blocked in read
//   shmem            shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS)
//   sysvshm          a SysV shared memory segment (shmget IPC_PRIVATE, attached, removed), half of it unmapped
//   memfd            a memfd "dumptarget" of 64 KiB (fd 3), mapped MAP_SHARED
//   sockets          TCP listener on 127.0.0.1 (fd 3, ready port=), a unix
//                    socketpair (fds 4, 5), an eventfd (fd 6), a TCP connection
//                    to fd 3 (fd 7) that fd 3 has not accepted
//   netcaveats       a UDP socket on 127.0.0.1 with a datagram waiting (fd 3),
//                    an inotify instance watching /tmp/dumptarget-PID.d
//                    (fd 4) with an event waiting, a unix
//                    socket listening on /tmp/dumptarget-PID.sock (fd 5) with
//                    a connection (fd 6) not accepted, a file (fd 7) with a
//                    lease (F_SETLEASE)
//   procfiles        files of /proc: its own maps (fd 3), /proc/meminfo read
//                    10 bytes (fd 4), its parent's status (fd 5, a process
//                    outside), its own comm open for writing (fd 6)
//   tree N KIB       N children (each dies with the parent); the parent
//                    maps N+1 regions of KIB KiB (ready mem=, memsize= the
//                    size of one) before it forks, and process i (0: the
//                    parent, ready child1= ... childN=) fills region i alone
//                    with treeWord(i, page, word), every 16th page zero
//                    again; the children wait in pause()
//   semundo          a SysV semaphore set (ready semid=) raised by a semop
//                    with SEM_UNDO (an undo list with an adjustment)
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace
{

std::string g_ready = "ready";

void add(const char *key, unsigned long long value)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, " %s=0x%llx", key, value);
    g_ready += buf;
}

[[noreturn]] void die(const char *what)
{
    std::fprintf(stderr, "dumptarget: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void writeAll(int fd, const void *data, size_t size)
{
    const char *p = static_cast<const char *>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("write");
        }
        p += n;
        size -= size_t(n);
    }
}

void onUsr1(int, siginfo_t *, void *)
{
    const char msg[] = "usr1\n";
    (void)!::write(STDOUT_FILENO, msg, sizeof msg - 1);
}

// Deterministic contents the test recomputes: word w of page p.
uint64_t patternWord(uint64_t page, uint64_t word)
{
    uint64_t x = (page << 20) ^ word ^ 0x9e3779b97f4a7c15ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

void setupMemory(long mib, const char *file)
{
    const size_t size = size_t(mib) << 20;
    auto *mem = static_cast<uint8_t *>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED) {
        die("mmap");
    }
    const size_t pages = size / 4096;
    static const char text[] = "The quick brown fox jumps over the lazy dog; cryopod keeps it all. ";
    for (size_t p = 0; p < pages; ++p) {
        uint8_t *page = mem + p * 4096;
        if (p % 16 == 15) {
            page[0] = 1; // touch it, then make it zero again: a present zero page
            page[0] = 0;
            continue;
        }
        if (p < pages / 2) {
            auto *w = reinterpret_cast<uint64_t *>(page);
            for (size_t i = 0; i < 512; ++i) {
                w[i] = patternWord(p, i);
            }
        } else {
            for (size_t i = 0; i < 4096; ++i) {
                page[i] = uint8_t(text[(i + p) % (sizeof text - 1)]);
            }
            std::memcpy(page, &p, sizeof p);
        }
    }
    add("mem", uint64_t(mem));
    add("memsize", size);

    // Anonymous memory only read: every page maps the shared zero page.
    auto *zeroRead = static_cast<uint8_t *>(::mmap(nullptr, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (zeroRead == MAP_FAILED) {
        die("mmap");
    }
    for (size_t p = 0; p < 8; ++p) {
        volatile uint8_t read = zeroRead[p * 4096];
        (void)read;
    }
    add("zeroread", uint64_t(zeroRead));

    // A page with data that is then made inaccessible (PROT_NONE):
    // process_vm_readv refuses it, /proc/PID/mem reads it.
    auto *hidden = static_cast<uint8_t *>(::mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (hidden == MAP_FAILED) {
        die("mmap");
    }
    std::memset(hidden, 0xa7, 4096);
    if (::mprotect(hidden, 2 * 4096, PROT_NONE) != 0) {
        die("mprotect");
    }
    add("protnone", uint64_t(hidden));

    // A guard region (MADV_GUARD_INSTALL, Linux 6.13) between two data pages:
    // nothing to read there.
    auto *guarded = static_cast<uint8_t *>(::mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (guarded == MAP_FAILED) {
        die("mmap");
    }
    std::memset(guarded, 0x3c, 3 * 4096);
    constexpr int kMadvGuardInstall = 102;
    add("guard", ::madvise(guarded + 4096, 4096, kMadvGuardInstall) == 0 ? uint64_t(guarded) : 0);

    // Every other page of 12000 written: 6000 runs of one page, more than a
    // PAGEMAP_SCAN of the page dump takes at once (4096), and more than
    // the kernel's own buffer holds (512) in between.
    constexpr size_t kSparsePages = 12000;
    auto *sparse = static_cast<uint8_t *>(::mmap(nullptr, kSparsePages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (sparse == MAP_FAILED) {
        die("mmap");
    }
    ::madvise(sparse, kSparsePages * 4096, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < kSparsePages; i += 2) {
        std::memset(sparse + i * 4096, int(0x40 + i % 64), 4096);
    }
    add("sparse", uint64_t(sparse));
    add("sparsepages", kSparsePages);

    // A private file mapping: page 0 written (copy-on-write), page 1 read only.
    const int fd = ::open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        die("open mapped file");
    }
    auto *map = static_cast<uint8_t *>(::mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    if (map == MAP_FAILED) {
        die("mmap file");
    }
    // The same file shared read-only, as glibc maps its gconv cache.
    auto *shared = static_cast<uint8_t *>(::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0));
    if (shared == MAP_FAILED) {
        die("mmap shared");
    }
    volatile uint8_t first = shared[0];
    (void)first;
    add("shared", uint64_t(shared));
    // A copy-on-write page of the file made all zero (below): restore must
    // not bring back the file's bytes there.
    auto *zeroed = static_cast<uint8_t *>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    if (zeroed == MAP_FAILED) {
        die("mmap file again");
    }
    ::close(fd);
    std::memset(map, 0x5a, 4096);
    volatile uint8_t sink = map[4096];
    (void)sink;
    add("filemap", uint64_t(map));
    std::memset(zeroed, 0, 4096);
    add("filezero", uint64_t(zeroed));
}

// Word w of page p of process i's region (mode tree): distinct per process.
uint64_t treeWord(uint64_t index, uint64_t page, uint64_t word)
{
    return patternWord(page + (index << 24), word) ^ (index * 0x0101010101010101ull);
}

void fillTreeRegion(uint8_t *region, size_t size, uint64_t index)
{
    for (size_t p = 0; p < size / 4096; ++p) {
        auto *w = reinterpret_cast<uint64_t *>(region + p * 4096);
        if (p % 16 == 15) {
            w[0] = 1; // present, then zero again: a hole in the image
            w[0] = 0;
            continue;
        }
        for (size_t i = 0; i < 512; ++i) {
            w[i] = treeWord(index, p, i);
        }
    }
}

void setupTree(long children, long kib)
{
    const size_t size = size_t(kib) << 10;
    auto *mem = static_cast<uint8_t *>(::mmap(nullptr, size * size_t(children + 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED) {
        die("mmap");
    }
    add("mem", uint64_t(mem));
    add("memsize", size);
    for (long i = 1; i <= children; ++i) {
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) != 0) {
            die("pipe");
        }
        const pid_t child = ::fork();
        if (child < 0) {
            die("fork");
        }
        if (child == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::close(ready[0]);
            fillTreeRegion(mem + size * size_t(i), size, uint64_t(i));
            ::close(ready[1]);
            for (;;) {
                ::pause();
            }
        }
        ::close(ready[1]);
        char byte;
        while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) { }
        ::close(ready[0]);
        const std::string key = "child" + std::to_string(i);
        add(key.c_str(), uint64_t(child));
    }
    fillTreeRegion(mem, size, 0);
}

void setupFiles(const char *dir)
{
    const std::string d = dir;
    auto openAt = [](const std::string &path, int flags, int want) {
        const int fd = ::open(path.c_str(), flags, 0644);
        if (fd < 0) {
            die(path.c_str());
        }
        if (fd != want) {
            if (::dup2(fd, want) < 0) {
                die("dup2");
            }
            ::close(fd);
        }
    };
    openAt(d + "/read.txt", O_RDONLY, 3);
    if (::lseek(3, 5, SEEK_SET) != 5) {
        die("lseek");
    }
    openAt(d + "/append.txt", O_WRONLY | O_APPEND | O_CREAT, 4);
    openAt(d + "/unlinked.txt", O_RDWR | O_CREAT | O_TRUNC, 5);
    const char secret[] = "secret contents of an unlinked file";
    writeAll(5, secret, sizeof secret - 1);
    if (::lseek(5, 3, SEEK_SET) != 3) {
        die("lseek");
    }
    if (::unlink((d + "/unlinked.txt").c_str()) != 0) {
        die("unlink");
    }
    openAt(d, O_RDONLY | O_DIRECTORY, 6);
    openAt("/dev/null", O_WRONLY | O_CLOEXEC, 7);
}

// `trap`: "ignored" (SIGTRAP ignored) or "pending" (blocked and raised: the
// checkpoint's injection must not take trap stops in either case).
void setupSignals(const std::string &trap)
{
    struct sigaction sa{};
    sa.sa_sigaction = onUsr1;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    if (::sigaction(SIGUSR1, &sa, nullptr) != 0) {
        die("sigaction");
    }
    add("handler", uint64_t(reinterpret_cast<uintptr_t>(&onUsr1)));
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    if (trap == "pending") {
        sigaddset(&block, SIGTRAP);
    }
    ::sigprocmask(SIG_BLOCK, &block, nullptr);
    if (trap == "ignored") {
        ::signal(SIGTRAP, SIG_IGN);
    } else if (trap == "pending") {
        ::raise(SIGTRAP);
    }
    static uint8_t altstack[64 * 1024];
    stack_t ss{};
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    if (::sigaltstack(&ss, nullptr) != 0) {
        die("sigaltstack");
    }
    add("altstack", uint64_t(reinterpret_cast<uintptr_t>(altstack)));
}

void setupTask(const char *dir)
{
    ::umask(027);
    if (::chdir(dir) != 0) {
        die("chdir");
    }
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 100;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        die("setrlimit");
    }
    ::prctl(PR_SET_NAME, "dumptask");
}

std::atomic<pid_t> g_threadTid{0};

// The second thread of the threads modes: sets itself up as `how` says,
// publishes its tid, then waits in pause().
void *threadMain(void *arg)
{
    const std::string how = static_cast<const char *>(arg);
    ::prctl(PR_SET_NAME, "worker");
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    ::pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
    if (how == "threadcreds" && ::syscall(SYS_setresgid, -1, 4242, -1) != 0) {
        die("setresgid");
    }
    if (how == "threadfiles" && ::unshare(CLONE_FILES) != 0) {
        die("unshare");
    }
    if (how == "threadns" && ::unshare(CLONE_NEWUTS) != 0) {
        die("unshare");
    }
    if (how == "threadstrict") {
        // Only read, write, _exit and sigreturn from here on: the tid is
        // asked for before, and the thread waits in read() for ever.
        int fds[2];
        if (::pipe(fds) != 0) {
            die("pipe");
        }
        const pid_t tid = pid_t(::syscall(SYS_gettid));
        if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) {
            die("prctl(PR_SET_SECCOMP)");
        }
        g_threadTid = tid;
        char c;
        for (;;) {
            (void)::read(fds[0], &c, 1);
        }
    }
    g_threadTid = pid_t(::syscall(SYS_gettid));
    for (;;) {
        ::pause();
    }
}

[[noreturn]] void spin()
{
    static const uint64_t xmmPattern[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
    asm volatile("movdqu (%0), %%xmm8\n\t"
                 "mov $0x1111111111111111, %%r12\n\t"
                 "mov $0x2222222222222222, %%r13\n\t"
                 "mov $0x3333333333333333, %%r14\n\t"
                 "mov $0x4444444444444444, %%r15\n\t"
                 "xor %%ebx, %%ebx\n\t"
                 "1: inc %%rbx\n\t"
                 "jmp 1b\n\t"
                 :
                 : "r"(xmmPattern)
                 : "xmm8", "r12", "r13", "r14", "r15", "rbx", "memory");
    __builtin_unreachable();
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: dumptarget MODE [ARG] [--then pause|spin|tick|vforkMS|forkN|clonevm]\n");
        return 2;
    }
    std::string then = "pause";
    std::string mode = argv[1];
    std::vector<const char *> args;
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--then") == 0 && i + 1 < argc) {
            then = argv[++i];
        } else {
            args.push_back(argv[i]);
        }
    }
    auto arg = [&args](size_t i) {
        if (i >= args.size()) {
            std::fprintf(stderr, "dumptarget: missing argument\n");
            std::exit(2);
        }
        return args[i];
    };

    if (mode == "memory") {
        setupMemory(std::atol(arg(0)), arg(1));
    } else if (mode == "tree") {
        setupTree(std::atol(arg(0)), std::atol(arg(1)));
    } else if (mode == "files") {
        setupFiles(arg(0));
    } else if (mode == "signals") {
        setupSignals(args.empty() ? std::string() : std::string(arg(0)));
    } else if (mode == "task") {
        setupTask(arg(0));
    } else if (mode == "pipe") {
        int fds[2];
        if (::pipe(fds) != 0) {
            die("pipe");
        }
    } else if (mode == "threads" || mode == "threads3" || mode == "threadcreds" || mode == "threadfiles" || mode == "threadns" || mode == "threadstrict" ||
               mode == "leaderexit") {
        static std::string how;
        how = mode;
        const char *const keys[] = {"tid", "tid2", "tid3"};
        for (int i = 0; i < (mode == "threads3" ? 3 : 1); ++i) {
            pthread_t t;
            g_threadTid = 0;
            if (::pthread_create(&t, nullptr, threadMain, how.data()) != 0) {
                die("pthread_create");
            }
            while (g_threadTid == 0) {
                ::usleep(1000);
            }
            add(keys[i], (unsigned long long)g_threadTid.load());
        }
    } else if (mode == "shmem") {
        void *p = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            die("mmap");
        }
        static_cast<char *>(p)[0] = 1;
    } else if (mode == "memfd") {
        const int fd = ::memfd_create("dumptarget", MFD_CLOEXEC);
        void *p = fd != 3 || ::ftruncate(fd, 1 << 16) != 0 ? MAP_FAILED : ::mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            die("memfd");
        }
        static_cast<char *>(p)[0] = 1;
    } else if (mode == "sysvshm") {
        // Removed at once: the segment goes when the process detaches
        // (exits). Its second half is unmapped: a part of an attach.
        const int id = ::shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
        void *p = id < 0 ? reinterpret_cast<void *>(-1) : ::shmat(id, nullptr, 0);
        if (p == reinterpret_cast<void *>(-1) || ::shmctl(id, IPC_RMID, nullptr) != 0 || ::munmap(static_cast<char *>(p) + (1 << 19), 1 << 19) != 0) {
            die("shmget/shmat/munmap");
        }
        static_cast<char *>(p)[0] = 1;
    } else if (mode == "sockets") {
        const int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (s != 3 || ::bind(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(s, 1) != 0
            || ::getsockname(s, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
            die("tcp listener");
        }
        add("port", ntohs(addr.sin_port));
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || ::eventfd(0, 0) != 6) {
            die("socketpair/eventfd");
        }
        const int client = ::socket(AF_INET, SOCK_STREAM, 0);
        if (client != 7 || ::connect(client, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
            die("tcp client");
        }
    } else if (mode == "netcaveats") {
        const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in addr {};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (udp != 3 || ::bind(udp, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
            ::getsockname(udp, reinterpret_cast<sockaddr *>(&addr), &len) != 0 ||
            ::sendto(udp, "datagram", 8, 0, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 8) {
            die("udp");
        }
        const std::string dir = "/tmp/dumptarget-" + std::to_string(::getpid()) + ".d";
        ::mkdir(dir.c_str(), 0700);
        if (::inotify_init1(0) != 4 || ::inotify_add_watch(4, dir.c_str(), IN_CREATE) != 1) {
            die("inotify");
        }
        const int made = ::open((dir + "/file").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600); // queues IN_CREATE
        if (made < 0 || ::close(made) != 0) {
            die("file");
        }
        sockaddr_un sun {};
        sun.sun_family = AF_UNIX;
        std::snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/dumptarget-%d.sock", int(::getpid()));
        ::unlink(sun.sun_path);
        if (::socket(AF_UNIX, SOCK_STREAM, 0) != 5 || ::bind(5, reinterpret_cast<sockaddr *>(&sun), sizeof sun) != 0 || ::listen(5, 4) != 0 ||
            ::socket(AF_UNIX, SOCK_STREAM, 0) != 6 || ::connect(6, reinterpret_cast<sockaddr *>(&sun), sizeof sun) != 0) {
            die("unix listener");
        }
        // A read lease: the file open read-only, nobody writing it.
        if (::open((dir + "/file").c_str(), O_RDONLY) != 7 || ::fcntl(7, F_SETLEASE, F_RDLCK) != 0) {
            die("lease");
        }
        add("port", ntohs(addr.sin_port));
    } else if (mode == "procfiles") {
        char ten[10];
        const std::string parent = "/proc/" + std::to_string(::getppid()) + "/status";
        if (::open("/proc/self/maps", O_RDONLY) != 3 || ::open("/proc/meminfo", O_RDONLY) != 4 || ::read(4, ten, sizeof ten) != sizeof ten
            || ::open(parent.c_str(), O_RDONLY) != 5 || ::open("/proc/self/comm", O_WRONLY) != 6) {
            die("procfiles");
        }
    } else if (mode == "semundo") {
        const int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        sembuf up{0, 1, SEM_UNDO};
        if (id < 0 || ::semop(id, &up, 1) != 0) {
            die("semget/semop");
        }
        add("semid", (unsigned long long)id);
    } else if (mode == "hugetlb") {
        // One huge page of hugetlb memory (the test reserves it first).
        constexpr size_t kHuge = 2u << 20;
        void *huge = ::mmap(nullptr, kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (huge == MAP_FAILED) {
            die("mmap MAP_HUGETLB");
        }
        static_cast<volatile char *>(huge)[0] = 1;
        add("huge", (unsigned long long)reinterpret_cast<uintptr_t>(huge));
    } else if (mode != "plain") {
        std::fprintf(stderr, "dumptarget: unknown mode %s\n", mode.c_str());
        return 2;
    }

    if (then.starts_with("fork")) {
        // N children that hold what the mode set up (inherited) and pause;
        // they die with it. Then it ticks.
        const long n = std::strtol(then.c_str() + 4, nullptr, 10);
        const pid_t parent = ::getpid();
        for (long i = 0; i < n; ++i) {
            const pid_t child = ::fork();
            if (child < 0) {
                die("fork");
            }
            if (child == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (::getppid() != parent) {
                    ::_exit(0);
                }
                for (;;) {
                    ::pause();
                }
            }
        }
        then = "tick";
    }
    g_ready += "\n";
    writeAll(STDOUT_FILENO, g_ready.data(), g_ready.size());

    if (mode == "leaderexit") {
        ::pthread_exit(nullptr); // the worker runs on; the leader is a zombie
    }
    if (then == "spin") {
        spin();
    }
    if (then.starts_with("vfork")) {
        const long ms = std::strtol(then.c_str() + 5, nullptr, 10);
        const pid_t child = ::vfork();
        if (child == 0) {
            const timespec delay{ms / 1000, (ms % 1000) * 1000 * 1000};
            ::nanosleep(&delay, nullptr);
            ::execl("/bin/sleep", "sleep", "60", static_cast<char *>(nullptr));
            ::_exit(127);
        }
        then = "tick";
    }
    if (then == "clonevm") {
        constexpr size_t kStack = 64 * 1024;
        static char stack[kStack] alignas(16);
        const pid_t child = ::clone(
            [](void *) -> int {
                for (;;) {
                    ::syscall(SYS_pause);
                }
            },
            stack + kStack, CLONE_VM | SIGCHLD, nullptr);
        if (child < 0) {
            return 3;
        }
        then = "tick";
    }
    if (then == "tick") {
        for (;;) {
            const timespec ts{0, 10 * 1000 * 1000};
            ::nanosleep(&ts, nullptr);
            writeAll(STDOUT_FILENO, ".", 1);
        }
    }
    for (;;) {
        ::pause();
    }
}
