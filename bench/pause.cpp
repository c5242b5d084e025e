// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// pause: how long a keep-running snapshot stops a program that writes to its
// memory as fast as it can (cr_bigmem ... write), for each size:
//   - the engine's frozen dump (the target stopped for the whole dump),
//   - the engine's low-pause dump (docs/low-pause.md: stopped while the state
//     and a copy-on-write copy of the memory are taken),
//   - CRIU dump --leave-running (frozen throughout), same workload, same run;
// with the total dump time and the program's own progress during the dump
// (pages written per second, against its rate when not snapshotted). The
// low-pause image is then restored and the copy checks that every page held
// the previous pass (one instant). Images go uncompressed to tmpfs, as a
// snapshot into the store streams them. Target (issue 11): a pause of at most
// 20 ms per GiB resident. A program, not a test: run as root, alone.
//
// usage: pause [--size MIB]... [--tmp DIR] [--no-criu]

#include "benchoptions.h"
#include "benchsupport.h"
#include "checkpoint.h"
#include "engine.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <algorithm>
#include <csignal>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace cryopod;
using namespace cryopod::bench;

namespace
{
struct Options {
    std::vector<uint64_t> sizesMiB;
    std::string tmp = "/dev/shm";
    bool criu = true;
};

struct Run {
    bool ok = false;
    double pause = 0, total = 0;
    double copy = 0; // of the pause: taking the copies
    double progress = 0; // pages written per second during the dump / when not snapshotted
    std::string note;
};

uint64_t readProgress(pid_t pid, uint64_t addr)
{
    uint64_t v = 0;
    iovec local{&v, sizeof v};
    iovec remote{reinterpret_cast<void *>(addr), sizeof v};
    return process_vm_readv(pid, &local, 1, &remote, 1, 0) == sizeof v ? v : 0;
}

double rateOver(pid_t pid, uint64_t addr, double seconds)
{
    const uint64_t p0 = readProgress(pid, addr);
    const double t0 = now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    return double(readProgress(pid, addr) - p0) / (now() - t0);
}

Run engineRun(pid_t pid, uint64_t progressAddr, double baseline, const std::string &image, bool lowPause)
{
    Run run;
    const int fd = open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        run.note = std::string("open ") + image + ": " + std::strerror(errno);
        return run;
    }
    engine::CheckpointOptions options;
    options.leaveRunning = true;
    options.compress = false;
    options.lowPause = lowPause;
    const uint64_t p0 = readProgress(pid, progressAddr);
    const double t0 = now();
    engine::PagesStats stats;
    auto result = engine::checkpointWith(pid, fd, options, engine::PagesOptions{}, &stats);
    const double t1 = now();
    const uint64_t p1 = readProgress(pid, progressAddr);
    close(fd);
    if (!result) {
        run.note = result.error().describe();
        return run;
    }
    run.ok = true;
    run.pause = double(result->pauseNs) / 1e9;
    run.copy = double(result->copyNs) / 1e9;
    run.total = double(result->totalNs) / 1e9;
    run.progress = double(p1 - p0) / (t1 - t0) / baseline;
    if (lowPause && !result->lowPause) {
        run.note = "fell back to the frozen dump: " + result->lowPauseFallback;
    } else if (lowPause) {
        char copy[96];
        std::snprintf(copy, sizeof copy, "(of the pause, the copy: %.1f ms)", run.copy * 1e3);
        run.note = copy;
    }
    char where[160];
    std::snprintf(where,
                  sizeof where,
                  "\n%26s pages: pagemap %.2f s, read %.2f s, zero scan %.2f s, waiting for the writer %.2f s",
                  "",
                  double(stats.pagemapNs) / 1e9,
                  double(stats.readNs) / 1e9,
                  double(stats.scanNs) / 1e9,
                  double(stats.writeWaitNs) / 1e9);
    run.note += where;
    return run;
}

// What the kernel alone takes to fork() a process with `mib` MiB of
// private memory in 4 KiB pages, all written just before (as the
// workload's): the page-table copy any copy-on-write copy pays, the floor
// of the low-pause mechanism.
// Best of three, in seconds; negative when it could not be measured.
double forkFloor(uint64_t mib)
{
    const size_t bytes = size_t(mib) << 20;
    void *memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        return -1;
    }
    madvise(memory, bytes, MADV_NOHUGEPAGE);
    auto *bytesOf = static_cast<volatile char *>(memory);
    double best = -1;
    for (int k = 0; k < 3; ++k) {
        // Written again before each fork, as the workload keeps doing: a
        // fork write-protects every writable page table entry, and a
        // second fork of pages nobody wrote since skips that work.
        for (size_t i = 0; i < bytes; i += 4096) {
            bytesOf[i] = char((i >> 12) + size_t(k));
        }
        const double t0 = now();
        const pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        const double took = now() - t0;
        if (child < 0) {
            break;
        }
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        best = best < 0 ? took : std::min(best, took);
    }
    munmap(memory, bytes);
    return best;
}

void print(const char *what, uint64_t mib, const Run &r)
{
    if (!r.ok) {
        std::printf("  %-22s failed: %s\n", what, r.note.c_str());
        return;
    }
    const double gib = double(mib) / 1024.0;
    std::printf("  %-22s pause %8.1f ms (%6.1f ms/GiB, target <= 20)  total %6.3f s  progress during the dump %5.1f %%%s%s\n", what, r.pause * 1e3,
                r.pause * 1e3 / gib, r.total, r.progress * 100, r.note.empty() ? "" : "  ", r.note.c_str());
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    OptionParser options("pause", "The pause of a keep-running snapshot of a program writing its memory: frozen, low pause, CRIU.");
    options.values("size", "MIB", &o.sizesMiB, "memory of the program, repeatable (default 1024 and 4096)")
        .value("tmp", "DIR", &o.tmp, "directory for the images (default /dev/shm)")
        .flag("no-criu", &o.criu, false, "without CRIU");
    if (const auto exit = options.parse(argc, argv)) {
        return *exit;
    }
    if (o.sizesMiB.empty()) {
        o.sizesMiB = {1024, 4096};
    }
    if (geteuid() != 0) {
        std::fprintf(stderr, "pause: run it as root (it checkpoints another process)\n");
        return 1;
    }
    // Restored copies are re-parented to us.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::string criuPath;
    const bool haveCriu = o.criu && findProgram("criu", &criuPath);
    std::printf("pause: a program writing its memory as fast as it can; %d online CPUs; images uncompressed in %s\n", onlineCpus(), o.tmp.c_str());

    for (uint64_t mib : o.sizesMiB) {
        const auto made = makeBenchDirectory(o.tmp, "cryopod-pause");
        if (!made) {
            return 1;
        }
        const std::string dir = *made;
        Workload workload(selfDir() + "/cr_bigmem", dir + "/workload.out");
        if (!workload.start({std::to_string(mib), "12345", "write"})) {
            std::fprintf(stderr, "the workload did not become ready; see %s\n", workload.outPath().c_str());
            removeTree(dir);
            return 1;
        }
        const std::string ready = workload.line("ready ");
        const auto at = ready.find("progress=");
        const uint64_t progressAddr = at == std::string::npos ? 0 : std::strtoull(ready.c_str() + at + 9, nullptr, 16);
        const pid_t pid = workload.pid();
        const double baseline = rateOver(pid, progressAddr, 1.0);
        std::printf("\n%llu MiB: the program writes %.0f pages/s when not snapshotted\n", static_cast<unsigned long long>(mib), baseline);

        // Every timed step starts on warm memory (benchsupport.h): room for
        // the image and the copy-on-write copies of the program's pages.
        const uint64_t warmBytes = (mib << 20) * 2;
        std::printf("  memory warm-up: %llu MiB touched in %.3f s (cold memory shows here: about 0.4 s per GiB when warm)\n",
                    static_cast<unsigned long long>(warmBytes >> 20), warmFreeMemory(warmBytes));
        print("engine, frozen", mib, engineRun(pid, progressAddr, baseline, dir + "/frozen.cryopod", false));
        warmFreeMemory(warmBytes);
        unlink((dir + "/frozen.cryopod").c_str());
        const std::string lowImage = dir + "/lowpause.cryopod";
        const Run low = engineRun(pid, progressAddr, baseline, lowImage, true);
        print("engine, low pause", mib, low);
        if (const double floor = forkFloor(mib); floor >= 0) {
            std::printf("  kernel floor: fork() of %llu MiB just written in 4 KiB pages takes %.1f ms (%.1f ms/GiB), best of 3\n",
                        static_cast<unsigned long long>(mib), floor * 1e3, floor * 1e3 / (double(mib) / 1024.0));
        }

        if (haveCriu) {
            warmFreeMemory(warmBytes);
            const uint64_t p0 = readProgress(pid, progressAddr);
            const double t0 = now();
            auto criu = criuDump(criuPath, pid, dir + "/criu");
            const double t1 = now();
            Run c;
            c.ok = criu.has_value();
            if (criu) {
                c.pause = c.total = criu->seconds;
                c.progress = double(readProgress(pid, progressAddr) - p0) / (t1 - t0) / baseline;
            } else {
                c.note = "see " + dir + "/criu/dump.log";
            }
            print("criu dump (frozen)", mib, c);
            removeTree(dir + "/criu");
        } else {
            std::printf("  criu: %s\n", o.criu ? "not installed" : "skipped (--no-criu)");
        }

        // The low-pause image holds one instant: restore it and let it check.
        if (low.ok) {
            workload.kill();
            const int fd = open(lowImage.c_str(), O_RDONLY | O_CLOEXEC);
            auto restored = engine::restore(fd, {});
            close(fd);
            if (restored) {
                workload.adopt(pid);
                std::printf("  low-pause image restored: every page held the previous pass: %s\n", workload.verifyAndReap() ? "yes" : "NO");
            } else {
                std::printf("  low-pause image: restore failed: %s\n", restored.error().describe().c_str());
            }
        }
        workload.kill();
        removeTree(dir);
    }
    return 0;
}
