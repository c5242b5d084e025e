// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cr_throughput: checkpoint/restore throughput on a 1 GiB workload
// (bench/workloads/bigmem.cpp: half random, half text), and beside it, on
// the same memory in the same run:
//   - the limit: process_vm_readv of all present pages into one reused
//     buffer, streamed through zstd at the same level on all cores, output
//     discarded (raw zstd, and through ImageWriter::writePages);
//   - the engine: checkpoint with --leave-running, restore, verify
//     (engineDump()/engineRestore(), helper/engine called directly);
//   - the peer: CRIU dump --leave-running to tmpfs and restore -d, when criu
//     is installed (CRIU_FAULT=130: no hardware breakpoints here);
//   - gcore, when gdb is installed.
// Prints times, GB/s and ratios. A program, not a test: run it as root,
// alone on the machine for meaningful numbers.
//
// usage: cr_throughput [--size MIB] [--level N] [--workers N] [--buffer MIB]
//                      [--tmp DIR] [--fsync] [--no-variants] [--no-criu] [--no-gcore]
//        cr_throughput [--workers N] --read-back IMAGE   (read-back lines only)

#include "benchengine.h"
#include "benchoptions.h"
#include "benchsupport.h"
#include "engine.h"
#include "imagereader.h"
#include "imagewriter.h"

#include <algorithm>
#include <mutex>
#include <deque>
#include <condition_variable>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include <zstd.h>

using namespace cryopod;
using namespace cryopod::image;
using namespace cryopod::bench;

namespace
{
struct Options {
    uint64_t sizeMiB = 1024;
    int level = 1;
    int workers = 0; // 0 = one per online CPU
    size_t bufferMiB = 8;
    std::string tmp = "/dev/shm"; // tmpfs for images
    bool fsync = false; // fsync every image (ours and CRIU's) after its dump
    bool variants = true; // the limit's variants (worker counts, writePages, read back)
    bool criu = true;
    bool gcore = true;
};

// ---- the memory of a process -------------------------------------------------------------

struct Region {
    uint64_t start = 0, end = 0;
    uint32_t prot = 0;
    bool shared = false;
    uint64_t pgoff = 0;
    uint64_t ino = 0;
    std::string path;
};

std::vector<Region> readMaps(pid_t pid)
{
    std::vector<Region> out;
    std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(in, line)) {
        Region r;
        char perms[5] = {};
        char dev[16] = {};
        unsigned long long start, end, off, ino;
        int pathAt = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx %4s %llx %15s %llu %n", &start, &end, perms, &off, dev, &ino, &pathAt) < 6) {
            continue;
        }
        r.start = start;
        r.end = end;
        r.prot = (perms[0] == 'r' ? kVmaRead : 0) | (perms[1] == 'w' ? kVmaWrite : 0) | (perms[2] == 'x' ? kVmaExec : 0);
        r.shared = perms[3] == 's';
        r.pgoff = off;
        r.ino = ino;
        if (pathAt > 0 && size_t(pathAt) <= line.size()) {
            r.path = line.substr(size_t(pathAt));
        }
        out.push_back(r);
    }
    return out;
}

bool isSpecial(const Region &r)
{
    return r.path == "[vvar]" || r.path == "[vvar_vclock]" || r.path == "[vsyscall]" || r.path == "[vdso]";
}

struct Run {
    uint64_t vaddr;
    uint64_t pages;
};

// Present pages (pagemap bit 63) of the readable, non-special mappings.
std::vector<Run> presentRuns(pid_t pid, const std::vector<Region> &regions, uint64_t *pagesOut)
{
    std::vector<Run> runs;
    const int fd = open(("/proc/" + std::to_string(pid) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::perror("open pagemap");
        return runs;
    }
    std::vector<uint64_t> entries(65536);
    uint64_t total = 0;
    for (const Region &r : regions) {
        if (!(r.prot & kVmaRead) || isSpecial(r)) {
            continue;
        }
        for (uint64_t page = r.start / 4096; page < r.end / 4096;) {
            const uint64_t n = std::min<uint64_t>(entries.size(), r.end / 4096 - page);
            const ssize_t got = pread(fd, entries.data(), n * 8, off_t(page * 8));
            if (got <= 0) {
                break;
            }
            const uint64_t have = uint64_t(got) / 8;
            for (uint64_t i = 0; i < have; ++i) {
                if (entries[i] >> 63) {
                    const uint64_t vaddr = (page + i) * 4096;
                    if (!runs.empty() && runs.back().vaddr + runs.back().pages * 4096 == vaddr) {
                        ++runs.back().pages;
                    } else {
                        runs.push_back({vaddr, 1});
                    }
                    ++total;
                }
            }
            page += have;
        }
    }
    close(fd);
    *pagesOut = total;
    return runs;
}

// Reads all runs through one reused buffer with process_vm_readv and calls
// sink(runs of this batch, bytes) for every full (or last) buffer.
template<typename Sink>
bool forEachBatch(pid_t pid, const std::vector<Run> &runs, std::vector<uint8_t> &buffer, Sink sink)
{
    const uint64_t capacityPages = buffer.size() / 4096;
    std::vector<PageRun> batch;
    std::vector<iovec> remote;
    uint64_t pagesInBatch = 0;
    auto flush = [&]() -> bool {
        if (pagesInBatch == 0) {
            return true;
        }
        iovec local {buffer.data(), size_t(pagesInBatch * 4096)};
        const ssize_t n = process_vm_readv(pid, &local, 1, remote.data(), remote.size(), 0);
        if (n != ssize_t(pagesInBatch * 4096)) {
            std::fprintf(stderr, "process_vm_readv: %zd of %llu bytes: %s\n", n, static_cast<unsigned long long>(pagesInBatch * 4096), std::strerror(errno));
            return false;
        }
        sink(std::span<const PageRun>(batch), std::span<const uint8_t>(buffer.data(), size_t(pagesInBatch * 4096)));
        batch.clear();
        remote.clear();
        pagesInBatch = 0;
        return true;
    };
    for (const Run &run : runs) {
        uint64_t vaddr = run.vaddr;
        uint64_t left = run.pages;
        while (left > 0) {
            if (pagesInBatch == capacityPages || remote.size() == 1024) { // IOV_MAX
                if (!flush()) {
                    return false;
                }
            }
            const uint64_t take = std::min(left, capacityPages - pagesInBatch);
            batch.push_back(PageRun {vaddr, uint32_t(take)});
            remote.push_back(iovec {reinterpret_cast<void *>(vaddr), size_t(take * 4096)});
            pagesInBatch += take;
            vaddr += take * 4096;
            left -= take;
        }
    }
    return flush();
}

struct Measure {
    std::string name;
    double seconds = 0;
    uint64_t rawBytes = 0;
    uint64_t outBytes = 0; // compressed / image bytes, 0 when not applicable
};

void printMeasure(const Measure &m)
{
    const double gbs = m.seconds > 0 ? double(m.rawBytes) / m.seconds / 1e9 : 0;
    std::printf("  %-64s %7.3f s  %6.2f GB/s", m.name.c_str(), m.seconds, gbs);
    if (m.outBytes) {
        std::printf("  ratio %.3f", double(m.outBytes) / double(m.rawBytes));
    }
    std::printf("\n");
}

// ---- the limit ----------------------------------------------------------------------------

Measure measureRead(pid_t pid, const std::vector<Run> &runs, size_t bufferBytes)
{
    std::vector<uint8_t> buffer(bufferBytes);
    Measure m {"process_vm_readv only (" + std::to_string(bufferBytes >> 20) + " MiB buffer)"};
    const double t0 = now();
    forEachBatch(pid, runs, buffer, [&](std::span<const PageRun>, std::span<const uint8_t> data) { m.rawBytes += data.size(); });
    m.seconds = now() - t0;
    return m;
}

Measure measureRawZstd(pid_t pid, const std::vector<Run> &runs, size_t bufferBytes, int level, int workers)
{
    std::vector<uint8_t> buffer(bufferBytes);
    std::vector<uint8_t> out(ZSTD_CStreamOutSize());
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers);
    Measure m {"read + raw zstd -" + std::to_string(level) + " stream, " + std::to_string(workers) + " workers"};
    auto drain = [&](ZSTD_inBuffer &in, ZSTD_EndDirective mode) {
        for (;;) {
            ZSTD_outBuffer o {out.data(), out.size(), 0};
            const size_t left = ZSTD_compressStream2(c, &o, &in, mode);
            m.outBytes += o.pos;
            if (ZSTD_isError(left)) {
                std::fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(left));
                return;
            }
            if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) {
                return;
            }
        }
    };
    const double t0 = now();
    forEachBatch(pid, runs, buffer, [&](std::span<const PageRun>, std::span<const uint8_t> data) {
        ZSTD_inBuffer in {data.data(), data.size(), 0};
        drain(in, ZSTD_e_continue);
        m.rawBytes += data.size();
    });
    ZSTD_inBuffer none {nullptr, 0, 0};
    drain(none, ZSTD_e_end);
    m.seconds = now() - t0;
    ZSTD_freeCCtx(c);
    return m;
}

// What storing `bytes` costs in `dir` at this moment: write() of a reused
// 256 KiB buffer (the dump's piece size) into a new file there, then unlink.
// The records that must precede Pages: a one-process tree and its Mm.
bool writePrologue(ImageWriter &w, pid_t pid, const std::vector<Region> &regions)
{
    ProcessTreeRecord tree;
    tree.rootPid = pid;
    tree.processes.push_back(ProcessEntry {pid, getpid(), pid, pid, {pid}});
    MmRecord mm;
    mm.pid = pid;
    for (const Region &r : regions) {
        VmaRecord v;
        v.start = r.start;
        v.end = r.end;
        v.prot = r.prot;
        v.path = r.path;
        if (r.path == "[vdso]") {
            v.kind = VmaKind::Vdso;
        } else if (r.path == "[vvar]") {
            v.kind = VmaKind::Vvar;
        } else if (r.path == "[vvar_vclock]") {
            v.kind = VmaKind::VvarVclock;
        } else if (r.path == "[vsyscall]") {
            v.kind = VmaKind::Vsyscall;
        } else if (r.ino != 0 && r.path.starts_with("/")) {
            v.kind = r.shared ? VmaKind::FileShared : VmaKind::FilePrivate;
            v.pgoff = r.pgoff;
            v.ino = r.ino;
        } else {
            v.kind = r.shared ? VmaKind::SharedAnonymous : VmaKind::Anonymous;
        }
        mm.vmas.push_back(v);
    }
    auto a = w.write(tree);
    auto b = a ? w.write(mm) : a;
    if (!b) {
        std::fprintf(stderr, "image prologue: %s\n", b.error().describe().c_str());
        return false;
    }
    return true;
}

// ImageWriter::writePages per buffer, as the engine's dump does; into
// imagePath, or /dev/null when it is empty.
Measure measureWritePages(pid_t pid, const std::vector<Region> &regions, const std::vector<Run> &runs, size_t bufferBytes, int level, int workers,
                          const std::string &imagePath)
{
    std::vector<uint8_t> buffer(bufferBytes);
    const std::string workerText = workers < 0 ? "caller's thread" : std::to_string(workers == 0 ? onlineCpus() : workers) + " workers";
    Measure m {"read + ImageWriter::writePages -" + std::to_string(level) + ", " + workerText + ", " + std::to_string(bufferBytes >> 20) + " MiB"};
    const int fd = imagePath.empty() ? open("/dev/null", O_WRONLY | O_CLOEXEC) : open(imagePath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    Header header;
    header.arch = "x86_64";
    header.kernelRelease = "bench";
    header.engineVersion = "cr_throughput";
    WriterOptions options {level, workers, false};
    auto writer = ImageWriter::create(fd, header, options);
    if (!writer || !writePrologue(**writer, pid, regions)) {
        close(fd);
        return m;
    }
    const double t0 = now();
    bool ok = forEachBatch(pid, runs, buffer, [&](std::span<const PageRun> batch, std::span<const uint8_t> data) {
        if (auto r = (*writer)->writePages(pid, batch, data); !r) {
            std::fprintf(stderr, "writePages: %s\n", r.error().describe().c_str());
            std::exit(1);
        }
        m.rawBytes += data.size();
    });
    if (ok) {
        (void)(*writer)->finish();
    }
    m.seconds = now() - t0;
    m.outBytes = (*writer)->bytesWritten();
    close(fd);
    return m;
}

// ImageReader over a whole image: checksums, validation, zstd decompression.
Measure measureReadBack(const std::string &imagePath)
{
    Measure m {"ImageReader read back (verify + decompress, 1 thread)"};
    const int fd = open(imagePath.c_str(), O_RDONLY | O_CLOEXEC);
    ReaderLimits limits;
    limits.requireComplete = false;
    const double t0 = now();
    auto reader = ImageReader::open(fd, limits);
    while (reader) {
        auto s = (*reader)->next();
        if (!s) {
            std::fprintf(stderr, "read back: %s\n", s.error().describe().c_str());
            break;
        }
        if (const auto *p = std::get_if<PagesRecord>(&*s)) {
            m.rawBytes += p->data.size();
        }
        if (std::holds_alternative<EndRecord>(*s)) {
            m.outBytes = (*reader)->bytesRead();
            break;
        }
    }
    m.seconds = now() - t0;
    close(fd);
    return m;
}

// The restore's side of the limit: ImageReader::nextStored (read + verify,
// data still compressed) on one thread, and `decoders` threads decompressing
// with PageDecoder into buffers of their own (reused), output discarded. With
// decoders == 0 nothing is decompressed: reading and verifying alone.
Measure measureStoredReadBack(const std::string &imagePath, unsigned decoders)
{
    Measure m {decoders == 0 ? std::string("ImageReader::nextStored only (read + verify)")
                             : "ImageReader::nextStored + " + std::to_string(decoders) + " PageDecoder thread" + (decoders > 1 ? "s" : "")};
    const int fd = open(imagePath.c_str(), O_RDONLY | O_CLOEXEC);
    ReaderLimits limits;
    limits.requireComplete = false;
    const double t0 = now();
    auto reader = ImageReader::open(fd, limits);
    if (!reader) {
        std::fprintf(stderr, "read back: %s\n", reader.error().describe().c_str());
        close(fd);
        return m;
    }
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<StoredPages> queue;
    bool done = false;
    std::atomic<uint64_t> raw{0};
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < decoders; ++i) {
        threads.emplace_back([&] {
            PageDecoder decoder;
            std::vector<uint8_t> out;
            for (;;) {
                std::unique_lock lock(mutex);
                cv.wait(lock, [&] {
                    return !queue.empty() || done;
                });
                if (queue.empty()) {
                    return;
                }
                StoredPages pages = std::move(queue.front());
                queue.pop_front();
                lock.unlock();
                cv.notify_all();
                if (out.size() < pages.dataLength) {
                    out.resize(pages.dataLength);
                }
                if (auto r = decoder.decode(pages, std::span(out.data(), pages.dataLength)); !r) {
                    std::fprintf(stderr, "read back: %s\n", r.error().describe().c_str());
                }
                raw += pages.dataLength;
                (*reader)->recycle(std::move(pages));
            }
        });
    }
    for (;;) {
        auto item = (*reader)->nextStored();
        if (!item) {
            std::fprintf(stderr, "read back: %s\n", item.error().describe().c_str());
            break;
        }
        if (auto *pages = std::get_if<StoredPages>(&*item)) {
            if (decoders == 0) {
                raw += pages->dataLength;
                (*reader)->recycle(std::move(*pages));
                continue;
            }
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] {
                return queue.size() < 3;
            });
            queue.push_back(std::move(*pages));
            lock.unlock();
            cv.notify_all();
            continue;
        }
        if (std::holds_alternative<EndRecord>(std::get<Section>(*item))) {
            m.outBytes = (*reader)->bytesRead();
            break;
        }
    }
    {
        std::lock_guard lock(mutex);
        done = true;
    }
    cv.notify_all();
    for (std::thread &t : threads) {
        t.join();
    }
    m.seconds = now() - t0;
    m.rawBytes = raw;
    close(fd);
    return m;
}

// ---- the peers ------------------------------------------------------------------------------------

std::optional<DumpResult> gcoreDump(pid_t pid, const std::string &prefix)
{
    std::string gcore;
    if (!findProgram("gcore", &gcore)) {
        return std::nullopt;
    }
    const double t0 = now();
    const int rc = runProgram({gcore, "-o", prefix, std::to_string(pid)}, {}, prefix + ".log");
    DumpResult r;
    r.seconds = now() - t0;
    r.pauseSeconds = r.seconds;
    struct stat st;
    const std::string core = prefix + "." + std::to_string(pid);
    if (rc != 0 || stat(core.c_str(), &st) != 0) {
        std::fprintf(stderr, "gcore failed (exit %d); see %s.log\n", rc, prefix.c_str());
        return std::nullopt;
    }
    r.imageBytes = uint64_t(st.st_size);
    unlink(core.c_str());
    unlink((prefix + ".log").c_str());
    return r;
}


} // namespace

int main(int argc, char **argv)
{
    Options o;
    std::string readBack;
    OptionParser options("cr_throughput", "Dump and restore of 1 GiB: the limit, the engine (zstd and uncompressed), CRIU and gcore on the same memory.");
    options.value("size", "MIB", &o.sizeMiB, "workload size (default 1024)")
        .value("level", "N", &o.level, "zstd level (default 1)")
        .value("workers", "N", &o.workers, "zstd workers (default: one per online CPU)")
        .value("buffer", "MIB", &o.bufferMiB, "process_vm_readv buffer (default 8)")
        .value("tmp", "DIR", &o.tmp,
               "directory for every image, ours and CRIU's (default /dev/shm, a tmpfs; a directory on a disk such as /var/tmp gives a steadier "
               "write speed); its file system is synced before each dump")
        .flag("fsync", &o.fsync, true, "fsync every image after its dump (ours and CRIU's alike) and print that time too")
        .flag("no-variants", &o.variants, false, "only the limit itself (read + zstd, all workers), not its variants")
        .flag("no-criu", &o.criu, false, "without CRIU")
        .flag("no-gcore", &o.gcore, false, "without gcore")
        .value("read-back", "IMAGE", &readBack, "only the read-back measurements, on IMAGE");
    if (const auto exit = options.parse(argc, argv)) {
        return *exit;
    }
    if (!readBack.empty()) {
        // Only the read-back measurements, on an existing image.
        // With the CPU time of the whole process beside the wall time:
        // on a shared machine that is the steadier figure.
        const int n = o.workers > 0 ? o.workers : onlineCpus();
        auto cpu = [] {
            timespec ts{};
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
            return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
        };
        auto withCpu = [&](auto measure) {
            const double c0 = cpu();
            const Measure m = measure();
            printMeasure(m);
            std::printf("  %-64s %7.3f s CPU\n", "", cpu() - c0);
        };
        withCpu([&] { return measureReadBack(readBack); });
        withCpu([&] { return measureStoredReadBack(readBack, 0); });
        for (int k = 1; k <= n; ++k) {
            withCpu([&] { return measureStoredReadBack(readBack, unsigned(k)); });
        }
        return 0;
    }
    const int workers = o.workers > 0 ? o.workers : onlineCpus();
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    const auto made = makeBenchDirectory(o.tmp, "cr_throughput");
    if (!made) {
        return 1;
    }
    const std::string dir = *made;

    Workload workload(selfDir() + "/cr_bigmem", dir + "/workload.out");
    std::printf("cr_throughput: %llu MiB workload (half random, half text), zstd level %d, %d online CPUs\n", static_cast<unsigned long long>(o.sizeMiB),
                o.level, onlineCpus());
    std::printf("images in %s (%s)%s; %s at the start\n", dir.c_str(), fileSystemType(dir).c_str(), o.fsync ? ", fsync'd after each dump" : "",
                loadAverage().c_str());
    double t0 = now();
    if (!workload.start(o.sizeMiB)) {
        std::fprintf(stderr, "the workload did not become ready; see %s\n", workload.outPath().c_str());
        removeTree(dir);
        return 1;
    }
    const pid_t pid = workload.pid();
    std::printf("workload pid %d ready after %.2f s\n\n", int(pid), now() - t0);

    t0 = now();
    const std::vector<Region> regions = readMaps(pid);
    uint64_t pages = 0;
    const std::vector<Run> runs = presentRuns(pid, regions, &pages);
    const double scan = now() - t0;
    const uint64_t resident = pages * 4096;
    std::printf("resident: %llu pages (%.1f MiB) in %zu runs, %zu mappings; maps+pagemap scan %.3f s\n\n", static_cast<unsigned long long>(pages),
                double(resident) / 1048576.0, runs.size(), regions.size(), scan);

    // ---- the limit
    std::printf("limit (same memory, output discarded unless noted):\n");
    const size_t buffer = o.bufferMiB << 20;
    const Measure read = measureRead(pid, runs, buffer);
    printMeasure(read);
    const Measure limit = measureRawZstd(pid, runs, buffer, o.level, workers);
    printMeasure(limit);
    if (!o.variants) {
        std::printf("  (the other limit lines skipped: --no-variants)\n\n");
    } else {
        printMeasure(measureRawZstd(pid, runs, buffer, o.level, 0));
        const Measure ours = measureWritePages(pid, regions, runs, buffer, o.level, o.workers, {});
        printMeasure(ours);
        printMeasure(measureWritePages(pid, regions, runs, buffer, o.level, -1, {}));
        printMeasure(measureWritePages(pid, regions, runs, 64u << 20, o.level, o.workers, {}));
        const std::string pagesImage = dir + "/pages.cryopod";
        Measure toTmpfs = measureWritePages(pid, regions, runs, buffer, o.level, o.workers, pagesImage);
        toTmpfs.name += " to tmpfs";
        printMeasure(toTmpfs);
        printMeasure(measureReadBack(pagesImage));
        printMeasure(measureStoredReadBack(pagesImage, 0));
        printMeasure(measureStoredReadBack(pagesImage, unsigned(workers)));
        unlink(pagesImage.c_str());
        std::printf("  writePages / raw zstd time: %.2f\n\n", ours.seconds / limit.seconds);
    }

    // ---- the engine: a zstd image (cryopodctl checkpoint --direct) and an
    // uncompressed one (what a snapshot into the store streams, and what CRIU writes)
    const std::string image = dir + "/engine.cryopod";
    const std::string rawImage = dir + "/engine-raw.cryopod";
    EngineDumpOptions dumpOptions{o.level, true, o.workers, o.fsync};
    settleStorage(dir);
    const std::optional<DumpResult> dump = engineDump(pid, image, dumpOptions);
    dumpOptions.compress = false;
    settleStorage(dir);
    const StoreFloor rawColdFloor = measureStoreFloor(dir, resident);
    const StoreFloor rawFloor = measureStoreFloor(dir, resident); // in the memory the first one just freed
    settleStorage(dir);
    const std::optional<DumpResult> rawDump = engineDump(pid, rawImage, dumpOptions);
    std::printf("engine:\n");
    const auto printDump = [&](const char *what, const std::optional<DumpResult> &d) {
        if (d) {
            std::printf("  dump %-5s %7.3f s  %6.2f GB/s  pause %.3f s  image %.1f MiB (ratio %.3f)  %.2fx the limit\n", what, d->seconds,
                        double(resident) / d->seconds / 1e9, d->pauseSeconds, double(d->imageBytes) / 1048576.0, double(d->imageBytes) / double(resident),
                        d->seconds / limit.seconds);
            std::printf("             CPU %.3f s (ours and the target's)\n", d->cpuSeconds);
            if (o.fsync) {
                std::printf("             + fsync %.3f s = %.3f s\n", d->syncSeconds, d->seconds + d->syncSeconds);
            }
        } else {
            std::printf("  dump %-5s failed\n", what);
        }
    };
    printDump("zstd", dump);
    printDump("raw", rawDump);
    std::printf("  storage floor before the raw dump: write() of %.1f MiB into %s %.3f s (CPU %.3f s), at once again %.3f s (CPU %.3f s)\n",
                double(resident) / 1048576.0, fileSystemType(dir).c_str(), rawColdFloor.seconds, rawColdFloor.cpuSeconds, rawFloor.seconds,
                rawFloor.cpuSeconds);

    // ---- the peers: dumps while the workload runs
    std::optional<DumpResult> criu;
    const std::string criuDir = dir + "/criu";
    std::string criuPath;
    StoreFloor criuFloor, criuColdFloor;
    if (o.criu && findProgram("criu", &criuPath)) {
        settleStorage(dir);
        criuColdFloor = measureStoreFloor(dir, resident);
        criuFloor = measureStoreFloor(dir, resident);
        settleStorage(dir);
        criu = criuDump(criuPath, pid, criuDir, o.fsync);
    }
    std::optional<DumpResult> gcore;
    if (o.gcore) {
        gcore = gcoreDump(pid, dir + "/core");
    }

    // ---- restores: the original goes first (same pid), each copy verifies and exits
    const auto restoreFrom = [&](const std::optional<DumpResult> &d, const std::string &path) -> std::optional<RestoreResult> {
        if (!d) {
            return std::nullopt;
        }
        workload.kill();
        settleStorage(dir);
        std::optional<RestoreResult> r = engineRestore(path);
        if (r) {
            workload.adopt(pid);
            r->verified = workload.verifyAndReap();
        }
        unlink(path.c_str());
        return r;
    };
    const std::optional<RestoreResult> restore = restoreFrom(dump, image);
    const std::optional<RestoreResult> rawRestore = restoreFrom(rawDump, rawImage);
    const auto printRestore = [&](const char *what, const std::optional<RestoreResult> &r) {
        if (r) {
            std::printf("  restore %-5s %7.3f s  %6.2f GB/s  memory %s\n", what, r->seconds, double(resident) / r->seconds / 1e9,
                        r->verified ? "verified" : "NOT verified");
        } else {
            std::printf("  restore %-5s failed\n", what);
        }
    };
    printRestore("zstd", restore);
    printRestore("raw", rawRestore);

    std::printf("\npeers:\n");
    std::optional<RestoreResult> criuRestored;
    if (criu) {
        workload.kill();
        settleStorage(dir);
        criuRestored = criuRestore(criuPath, criuDir, workload, pid);
        std::printf("  criu dump    %7.3f s  %6.2f GB/s  (frozen throughout)  images %.1f MiB\n", criu->seconds, double(resident) / criu->seconds / 1e9,
                    double(criu->imageBytes) / 1048576.0);
        std::printf("             CPU %.3f s (criu's and the target's, where its parasite runs)\n", criu->cpuSeconds);
        std::printf("  storage floor before criu's dump: write() of %.1f MiB %.3f s (CPU %.3f s), at once again %.3f s (CPU %.3f s)\n",
                    double(resident) / 1048576.0, criuColdFloor.seconds, criuColdFloor.cpuSeconds, criuFloor.seconds, criuFloor.cpuSeconds);
        if (o.fsync) {
            std::printf("             + fsync %.3f s = %.3f s\n", criu->syncSeconds, criu->seconds + criu->syncSeconds);
        }
        if (criuRestored) {
            std::printf("  criu restore %7.3f s  %6.2f GB/s  memory %s\n", criuRestored->seconds, double(resident) / criuRestored->seconds / 1e9,
                        criuRestored->verified ? "verified" : "NOT verified");
        } else {
            std::printf("  criu restore failed\n");
        }
    } else {
        std::printf("  criu: %s\n", !o.criu ? "skipped (--no-criu)" : criuPath.empty() ? "not installed" : "dump failed");
    }
    if (gcore) {
        std::printf("  gcore        %7.3f s  %6.2f GB/s  core %.1f MiB\n", gcore->seconds, double(resident) / gcore->seconds / 1e9,
                    double(gcore->imageBytes) / 1048576.0);
    } else {
        std::printf("  gcore: %s\n", o.gcore ? "not installed or failed" : "skipped (--no-gcore)");
    }

    std::printf("\nratios (targets from issue 4):\n");
    const auto printRatios = [&](const char *what, const std::optional<DumpResult> &d, const std::optional<RestoreResult> &r) {
        if (d) {
            std::printf("  %-5s dump / limit           %.2f (target <= 1.5)\n", what, d->seconds / limit.seconds);
            if (criu) {
                std::printf("  %-5s dump / criu dump       %.2f (target <= 0.5)\n", what, d->seconds / criu->seconds);
                if (o.fsync) {
                    std::printf("  %-5s dump+fsync / criu's    %.2f\n", what, (d->seconds + d->syncSeconds) / (criu->seconds + criu->syncSeconds));
                }
                std::printf("  %-5s dump CPU / criu's      %.2f\n", what, d->cpuSeconds / criu->cpuSeconds);
            }
        }
        if (r) {
            std::printf("  %-5s restore GB/s           %.2f (target >= 1)\n", what, double(resident) / r->seconds / 1e9);
            if (criuRestored) {
                std::printf("  %-5s restore / criu         %.2f (target <= 0.67)\n", what, r->seconds / criuRestored->seconds);
            }
        }
    };
    printRatios("zstd", dump, restore);
    printRatios("raw", rawDump, rawRestore);
    if (rawDump && criu && rawFloor.seconds > 0 && criuFloor.seconds > 0) {
        // Each uncompressed dump stores the same bytes; what is left beside
        // its own storage floor is the dumper's own work.
        const double ours = rawDump->seconds - rawFloor.seconds;
        const double theirs = criu->seconds - criuFloor.seconds;
        std::printf("  raw   dump / its storage floor    %.2f;  criu dump / its storage floor  %.2f\n", rawDump->seconds / rawFloor.seconds,
                    criu->seconds / criuFloor.seconds);
        std::printf("  raw   dump beyond its floor       %.3f s;  criu's beyond its floor     %.3f s;  ratio %.2f\n", ours, theirs,
                    theirs > 0 ? ours / theirs : 0.0);
    }

    std::printf("\n%s at the end\n", loadAverage().c_str());
    workload.kill();
    removeTree(dir);
    return 0;
}
