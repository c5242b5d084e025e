// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// dumpbench [MIB] [LEVEL] [OUTPUT] [BATCH_MIB]: checkpoints a dumptarget holding MIB MiB
// (LEVEL 0: uncompressed)
// (half pseudo-random, half text-like, 1/16 zero pages) into OUTPUT
// (/dev/null by default) a few times, with and without overlapping reads and
// writes, and prints the dump time, throughput and pause. Not a test.
#include "checkpoint.h"
#include "procfs.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>
#include <zstd.h>

using namespace cryopod::engine;

namespace
{
// CPU time of this process (all threads, zstd workers included), in s: a
// figure that the load of a shared machine disturbs less than wall time.
double cpuSeconds()
{
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The limit as issue 4 defines it: process_vm_readv of every present page of
// the anonymous VMAs into one reused 8 MiB buffer, through zstd at the same
// level on all cores, output discarded.
void measureLimit(pid_t pid, int level)
{
    auto maps = procfs::readMaps(pid);
    if (!maps) {
        return;
    }
    const size_t bufBytes = 8u << 20;
    auto *buf = static_cast<uint8_t *>(::mmap(nullptr, bufBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
    std::vector<uint8_t> out(ZSTD_compressBound(bufBytes));
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, int(::sysconf(_SC_NPROCESSORS_ONLN)));
    const uint64_t t0 = monotonicNs();
    const double cpu0 = cpuSeconds();
    uint64_t raw = 0, packed = 0, readNs = 0;
    for (const auto &m : *maps) {
        if (m.inode != 0 || !m.write || !m.path.empty()) {
            continue;
        }
        for (uint64_t a = m.start; a < m.end; a += bufBytes) {
            const size_t n = size_t(std::min<uint64_t>(bufBytes, m.end - a));
            iovec local{buf, n};
            iovec remote{reinterpret_cast<void *>(a), n};
            const uint64_t r0 = monotonicNs();
            const ssize_t got = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
            readNs += monotonicNs() - r0;
            if (got <= 0) {
                break;
            }
            raw += uint64_t(got);
            packed += ZSTD_compress2(cctx, out.data(), out.size(), buf, size_t(got));
        }
    }
    const double secs = double(monotonicNs() - t0) / 1e9;
    std::printf("limit      : total %.3f s, cpu %.3f s for %.1f MiB (process_vm_readv %.3f s), %.2f GB/s, ratio %.2f\n",
                secs,
                cpuSeconds() - cpu0,
                double(raw) / 1048576.0,
                double(readNs) / 1e9,
                double(raw) / 1e9 / secs,
                double(packed) / double(raw));
    ZSTD_freeCCtx(cctx);
    ::munmap(buf, bufBytes);
}
} // namespace

int main(int argc, char **argv)
{
    const long mib = argc > 1 ? std::atol(argv[1]) : 1024;
    const int level = argc > 2 ? std::atoi(argv[2]) : 1;
    const std::string output = argc > 3 ? argv[3] : "/dev/null";
    const size_t batchMiB = argc > 4 ? size_t(std::atol(argv[4])) : 0; // 0: the engine's default
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);

    char mapped[] = "/tmp/dumpbench-XXXXXX";
    const int mf = ::mkstemp(mapped);
    if (mf < 0 || ::ftruncate(mf, 8192) != 0) {
        std::perror("mkstemp");
        return 1;
    }
    ::close(mf);
    char outName[] = "/tmp/dumpbench-out-XXXXXX";
    const int outFd = ::mkstemp(outName);
    const std::string mibText = std::to_string(mib);
    const pid_t pid = ::fork();
    if (pid == 0) {
        // An open file of its own: one shared with the bench would make the
        // checkpoint refuse (shared with a process outside the tree).
        const int null = ::open("/dev/null", O_RDONLY);
        const int own = ::open(outName, O_WRONLY | O_APPEND);
        ::dup2(null, 0);
        ::dup2(own, 1);
        ::dup2(own, 2);
        ::close_range(3, ~0u, 0);
        ::execl(DUMPTARGET_PATH, DUMPTARGET_PATH, "memory", mibText.c_str(), mapped, "--then", "pause", static_cast<char *>(nullptr));
        ::_exit(127);
    }
    ::close(outFd);
    for (int i = 0; i < 6000; ++i) {
        auto text = procfs::readFile(outName);
        if (text && text->find('\n') != std::string::npos) {
            break;
        }
        ::usleep(10000);
    }
    ::unlink(outName);

    auto status = procfs::readStatus(pid);
    const std::string rss = status && status->count("VmRSS") ? status->find("VmRSS")->second : "?";
    std::printf("target %d: %ld MiB of pattern, VmRSS %s, zstd level %d, output %s\n", pid, mib, rss.c_str(), level, output.c_str());

    measureLimit(pid, level);
    int rc = 0;
    for (const bool overlap : {true, false, true}) {
        const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            std::perror("open output");
            rc = 1;
            break;
        }
        CheckpointOptions options;
        options.compressionLevel = level;
        options.compress = level != 0; // level 0: uncompressed, as a snapshot into the store
        PagesOptions pages;
        pages.overlap = overlap;
        pages.batchBytes = batchMiB << 20;
        PagesStats stats;
        const double cpu0 = cpuSeconds();
        auto result = checkpointWith(pid, fd, options, pages, &stats);
        const double cpu = cpuSeconds() - cpu0;
        ::close(fd);
        if (!result) {
            std::printf("checkpoint failed: %s\n", result.error().describe().c_str());
            rc = 1;
            break;
        }
        const double secs = double(result->totalNs) / 1e9;
        std::printf("overlap %-3s: total %.3f s, cpu %.3f s, pause %.3f s, raw %.1f MiB, image %.1f MiB (ratio %.2f), %.2f GB/s raw, %.2f GiB/s of the pattern\n",
                    overlap ? "on" : "off",
                    secs,
                    cpu,
                    double(result->pauseNs) / 1e9,
                    double(result->rawBytes) / 1048576.0,
                    double(result->imageBytes) / 1048576.0,
                    double(result->imageBytes) / double(result->rawBytes),
                    double(result->rawBytes) / 1e9 / secs,
                    double(mib) / 1024.0 / secs);
        std::printf("             pages: %llu saved, %llu zero, %llu batches; pagemap %.3f s, process_vm_readv %.3f s, zero scan %.3f s, "
                    "waiting for the writer %.3f s\n",
                    static_cast<unsigned long long>(stats.pagesSaved),
                    static_cast<unsigned long long>(stats.zeroPages),
                    static_cast<unsigned long long>(stats.batches),
                    double(stats.pagemapNs) / 1e9,
                    double(stats.readNs) / 1e9,
                    double(stats.scanNs) / 1e9,
                    double(stats.writeWaitNs) / 1e9);
    }
    measureLimit(pid, level);
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    ::unlink(mapped);
    return rc;
}
