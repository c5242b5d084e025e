// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// uffdwp: what a copy-before-write snapshot made with userfaultfd
// write-protection (UFFDIO_REGISTER_MODE_WP) would cost, beside the fork()
// copy that low-pause snapshots take today (docs/low-pause.md, "Userfaultfd
// write-protection instead of the copy"). For each size, private anonymous
// memory in 4 KiB pages, every page just written, in this one process:
//   - the pause's part: fork() (the kernel copies the page tables) against
//     UFFDIO_REGISTER (mode WP) plus UFFDIO_WRITEPROTECT of the whole range;
//   - the running program's part: its first write to every page afterwards,
//     a copy-on-write fault (the forked child still alive) against a
//     write-protect fault that a handler thread resolves as the snapshot
//     would: it copies the page out, then un-protects that page;
//   - the saver's part: un-protecting the whole range in one call (what a
//     saver does for a range it has read).
// Each figure is the median of three, in wall time and in CPU time. A study, not the engine: the engine
// would do the same to another process through a userfaultfd created inside
// it. Run as root (userfaultfd() needs CAP_SYS_PTRACE unless
// vm.unprivileged_userfaultfd is 1).
//
// usage: uffdwp [--size MIB]...

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace
{
constexpr size_t kPage = 4096;

// Wall time and this process's CPU time (all its threads; a blocked thread
// costs none). On a machine shared with builds the wall time grows with the
// load, the CPU time hardly: both are printed.
struct Instant {
    double wall = 0, cpu = 0;
};

Instant now()
{
    timespec cpu {};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    return {std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(), double(cpu.tv_sec) + double(cpu.tv_nsec) / 1e9};
}

Instant operator-(Instant a, Instant b)
{
    return {a.wall - b.wall, a.cpu - b.cpu};
}

Instant median(std::vector<Instant> v)
{
    Instant m;
    std::sort(v.begin(), v.end(), [](Instant a, Instant b) { return a.wall < b.wall; });
    m.wall = v[v.size() / 2].wall;
    std::sort(v.begin(), v.end(), [](Instant a, Instant b) { return a.cpu < b.cpu; });
    m.cpu = v[v.size() / 2].cpu;
    return m;
}

// "12.3 ms (cpu 4.5 ms)"
std::string ms(Instant t)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.1f ms (cpu %.1f ms)", t.wall * 1e3, t.cpu * 1e3);
    return text;
}

[[noreturn]] void die(const char *what)
{
    std::fprintf(stderr, "uffdwp: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void touch(char *p, size_t size, char value)
{
    for (size_t i = 0; i < size; i += kPage) {
        p[i] = value;
    }
}

struct ForkFigures {
    Instant fork, firstWrites;
};

// fork() of memory just written, then the parent's first write to every
// page while the child lives (each one a copy-on-write fault).
ForkFigures forkOnce(char *p, size_t size, char pass)
{
    touch(p, size, pass);
    int hold[2];
    if (pipe(hold) != 0) {
        die("pipe");
    }
    const Instant t0 = now();
    const pid_t child = fork();
    if (child < 0) {
        die("fork");
    }
    if (child == 0) {
        char c;
        close(hold[1]);
        (void)!read(hold[0], &c, 1);
        _exit(0);
    }
    const Instant t1 = now();
    close(hold[0]);
    touch(p, size, char(pass + 1));
    const Instant t2 = now();
    close(hold[1]);
    waitpid(child, nullptr, 0);
    return {t1 - t0, t2 - t1};
}

struct UffdFigures {
    Instant protect, firstWrites, unprotect;
    unsigned long faults = 0;
};

void writeProtect(int uffd, char *p, size_t size, bool on)
{
    uffdio_writeprotect wp {};
    wp.range.start = reinterpret_cast<uintptr_t>(p);
    wp.range.len = size;
    wp.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
    if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0) {
        die("UFFDIO_WRITEPROTECT");
    }
}

UffdFigures uffdOnce(char *p, size_t size, char pass, char *saved)
{
    UffdFigures f;
    touch(p, size, pass);
    const int uffd = int(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (uffd < 0) {
        die("userfaultfd");
    }
    uffdio_api api {};
    api.api = UFFD_API;
    api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
    if (ioctl(uffd, UFFDIO_API, &api) != 0) {
        die("UFFDIO_API (write-protect faults)");
    }
    const Instant t0 = now();
    uffdio_register reg {};
    reg.range.start = reinterpret_cast<uintptr_t>(p);
    reg.range.len = size;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
        die("UFFDIO_REGISTER (mode WP)");
    }
    writeProtect(uffd, p, size, true);
    f.protect = now() - t0;

    // The handler: each write-protect fault copies its page out (as the
    // snapshot would save it), then lets the writer go.
    int stop[2];
    if (pipe(stop) != 0) {
        die("pipe");
    }
    std::atomic<unsigned long> faults {0};
    std::thread handler([&] {
        pollfd fds[2] = {{uffd, POLLIN, 0}, {stop[0], POLLIN, 0}};
        for (;;) {
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                die("poll");
            }
            if (fds[1].revents) {
                return;
            }
            uffd_msg msg;
            const ssize_t n = read(uffd, &msg, sizeof msg);
            if (n != sizeof msg) {
                if (n < 0 && errno == EAGAIN) {
                    continue;
                }
                die("read uffd");
            }
            if (msg.event != UFFD_EVENT_PAGEFAULT || !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
                std::fprintf(stderr, "uffdwp: unexpected event %u flags %#llx\n", msg.event, static_cast<unsigned long long>(msg.arg.pagefault.flags));
                std::exit(1);
            }
            const uintptr_t page = msg.arg.pagefault.address & ~uintptr_t(kPage - 1);
            const size_t offset = page - reinterpret_cast<uintptr_t>(p);
            std::memcpy(saved + offset, reinterpret_cast<const void *>(page), kPage);
            writeProtect(uffd, reinterpret_cast<char *>(page), kPage, false);
            faults.fetch_add(1, std::memory_order_relaxed);
        }
    });
    const Instant t1 = now();
    touch(p, size, char(pass + 1));
    f.firstWrites = now() - t1;
    (void)!write(stop[1], "x", 1);
    handler.join();
    close(stop[0]);
    close(stop[1]);
    f.faults = faults.load();
    for (size_t i = 0; i < size; i += kPage) {
        if (saved[i] != pass) {
            std::fprintf(stderr, "uffdwp: page %zu saved as %d, expected %d\n", i / kPage, saved[i], pass);
            std::exit(1);
        }
    }

    // The saver's side: the whole range protected again, then let go at once.
    writeProtect(uffd, p, size, true);
    const Instant t2 = now();
    writeProtect(uffd, p, size, false);
    f.unprotect = now() - t2;
    uffdio_range range {reinterpret_cast<uintptr_t>(p), size};
    if (ioctl(uffd, UFFDIO_UNREGISTER, &range) != 0) {
        die("UFFDIO_UNREGISTER");
    }
    close(uffd);
    return f;
}
} // namespace

int main(int argc, char **argv)
{
    std::vector<size_t> sizesMiB;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--size" && i + 1 < argc) {
            sizesMiB.push_back(std::strtoull(argv[++i], nullptr, 10));
        } else {
            std::fprintf(stderr, "usage: uffdwp [--size MIB]...\n");
            return 2;
        }
    }
    if (sizesMiB.empty()) {
        sizesMiB = {1024, 4096};
    }
    std::printf("uffdwp: private anonymous memory in 4 KiB pages, every page just written; medians of 3\n");
    for (const size_t mib : sizesMiB) {
        const size_t size = mib << 20;
        auto *p = static_cast<char *>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        auto *saved = static_cast<char *>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (p == MAP_FAILED || saved == MAP_FAILED) {
            die("mmap");
        }
        madvise(p, size, MADV_NOHUGEPAGE);
        touch(saved, size, 0); // the handler's copies fault in no memory of their own
        std::vector<Instant> forks, cow, protects, wpWrites, unprotects;
        unsigned long faults = 0;
        for (int round = 0; round < 3; ++round) {
            const ForkFigures f = forkOnce(p, size, char(2 * round + 1));
            forks.push_back(f.fork);
            cow.push_back(f.firstWrites);
            const UffdFigures u = uffdOnce(p, size, char(2 * round + 11), saved);
            protects.push_back(u.protect);
            wpWrites.push_back(u.firstWrites);
            unprotects.push_back(u.unprotect);
            faults = u.faults;
        }
        const double pages = double(size / kPage);
        const double gib = double(mib) / 1024;
        const Instant fork = median(forks), protect = median(protects), copied = median(cow), handled = median(wpWrites);
        std::printf("\n%zu MiB (%.0f pages)\n", mib, pages);
        std::printf("  pause:   fork() %s = %.1f ms/GiB of cpu;  register + write-protect %s = %.1f ms/GiB of cpu\n", ms(fork).c_str(), fork.cpu * 1e3 / gib,
                    ms(protect).c_str(), protect.cpu * 1e3 / gib);
        std::printf("  program: first write to every page after fork() %s = %.2f us/page of cpu\n", ms(copied).c_str(), copied.cpu * 1e6 / pages);
        std::printf("           the same under write-protection, %lu faults copied by a handler thread %s = %.2f us/page of cpu, %.2f us/page of wall time\n",
                    faults, ms(handled).c_str(), handled.cpu * 1e6 / pages, handled.wall * 1e6 / pages);
        std::printf("  saver:   un-protect the whole range %s\n", ms(median(unprotects)).c_str());
        munmap(p, size);
        munmap(saved, size);
    }
    return 0;
}
