// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cr_tree: checkpoint/restore of a process tree (issue 5): cr_bigmem in tree
// mode, a root with FANOUT children, each with FANOUT children (8 x 8: 73
// processes), a pipe down to every child and one up from it, SIZE MiB shared
// out among them (half random, half text). In one run, on the same tree:
//   - the engine: dumps with zstd and uncompressed (--leave-running), the
//     pause, a low-pause dump (zstd; its pause is issue 11's), restores of
//     all three, each verified by the tree itself;
//   - CRIU (the peer, CRIU_FAULT=130): dump --leave-running of the same tree
//     into the same directory, restore -d, verified the same way;
//   - the engine on the same amount of memory in one process (cr_bigmem
//     SIZE), uncompressed: what the tree's restore is compared with.
// Right before each uncompressed dump it writes the tree's bytes into a file
// beside the image (the storage floor, as cr_throughput does).
// Prints the times side by side and the ratios against issue 5's targets:
// the tree's restore within 1.5x of the one-process restore; the tree's dump
// and restore each at most two thirds of CRIU's.
//
// With --threads N every process of the tree runs N threads (N - 1 of them
// waking every 20 ms to work); each restored process then also checks that
// its threads run on with their state. With --levels N the tree has N levels
// of children below the root (default 2). Issue 5's own benchmark, 8
// processes x 8 threads, is `--fanout 7 --levels 1 --threads 8`; the default
// 73-process tree is the harder case for the per-process costs.
//
// With --repeat N the uncompressed dumps, ours and CRIU's, are taken N times
// each, one after the other in turns, and the median of each is compared:
// one run on a shared 2-core machine says little. So are the uncompressed
// restores of the tree and of the one process.
//
// usage: cr_tree [--size MIB] [--fanout N] [--levels N] [--threads N] [--tmp DIR] [--fsync] [--no-criu] [--repeat N]
// A program, not a test: run it as root, alone on the machine.

#include "benchengine.h"
#include "benchoptions.h"
#include "benchsupport.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <format>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>
#include <vector>

using namespace cryopod::bench;

namespace
{
struct Options {
    uint64_t sizeMiB = 512;
    unsigned fanout = 8;
    unsigned threads = 1;
    unsigned levels = 2;
    std::string tmp = "/dev/shm";
    bool fsync = false;
    bool criu = true;
    unsigned repeat = 1;
};

// The median run of `runs` by its time (the lower of the two middle ones:
// always a run that happened), nullopt when there is none. A restore's
// median counts as verified only when every run was.
template<typename Run>
std::optional<Run> medianRun(std::vector<Run> runs)
{
    if (runs.empty()) {
        return std::nullopt;
    }
    std::sort(runs.begin(), runs.end(), [](const Run &a, const Run &b) { return a.seconds < b.seconds; });
    Run median = runs[(runs.size() - 1) / 2];
    if constexpr (std::is_same_v<Run, RestoreResult>) {
        median.verified = std::ranges::all_of(runs, [](const RestoreResult &r) { return r.verified; });
    }
    return median;
}

// "  runs: 0.201 0.214 ... (median ...)" when there was more than one.
template<typename Run>
void printRuns(const char *what, const std::vector<Run> &runs)
{
    if (runs.size() < 2) {
        return;
    }
    std::printf("    %s, %zu runs:", what, runs.size());
    for (const Run &r : runs) {
        std::printf(" %.3f", r.seconds);
        if constexpr (std::is_same_v<Run, RestoreResult>) {
            std::printf("%s", r.verified ? "" : " (NOT verified)");
        }
    }
    std::printf(" s (the median above)\n");
}

// root and every descendant, through /proc/PID/task/*/children.
std::vector<pid_t> treeOf(pid_t root)
{
    std::vector<pid_t> out {root};
    for (size_t i = 0; i < out.size(); ++i) {
        std::error_code ec;
        for (const auto &task : std::filesystem::directory_iterator(std::format("/proc/{}/task", out[i]), ec)) {
            std::istringstream in(readFileText(task.path().string() + "/children"));
            pid_t child;
            while (in >> child) {
                out.push_back(child);
            }
        }
    }
    return out;
}

uint64_t residentKiB(const std::vector<pid_t> &pids)
{
    uint64_t kib = 0;
    for (const pid_t pid : pids) {
        std::istringstream in(readFileText(std::format("/proc/{}/status", pid)));
        std::string line;
        while (std::getline(in, line)) {
            if (line.starts_with("VmRSS:")) {
                kib += std::strtoull(line.c_str() + 6, nullptr, 10);
            }
        }
    }
    return kib;
}

// Kills the whole tree (its own process group: Workload::start made it a
// session) and reaps it; its orphans come to us, the subreaper.
void killTree(Workload &workload, pid_t pid)
{
    const std::vector<pid_t> pids = treeOf(pid);
    kill(-pid, SIGKILL);
    workload.kill();
    for (int i = 0; i < 500; ++i) {
        while (waitpid(-1, nullptr, WNOHANG) > 0) { }
        bool left = false;
        for (const pid_t p : pids) {
            left = left || std::filesystem::exists(std::format("/proc/{}", p));
        }
        if (!left) {
            return;
        }
        usleep(10000);
    }
    std::fprintf(stderr, "cr_tree: processes of the tree are still there\n");
}

void printDump(const char *what, const std::optional<DumpResult> &d, bool fsync)
{
    if (!d) {
        std::printf("  %-28s failed\n", what);
        return;
    }
    std::printf("  %-28s %7.3f s  pause %7.3f s  CPU %7.3f s  image %7.1f MiB", what, d->seconds, d->pauseSeconds, d->cpuSeconds,
                double(d->imageBytes) / 1048576.0);
    if (fsync) {
        std::printf("  + fsync %.3f s", d->syncSeconds);
    }
    if (!d->lowPauseFallback.empty()) {
        std::printf("  (frozen: %s)", d->lowPauseFallback.c_str());
    }
    std::printf("\n");
}

void printRestore(const char *what, const std::optional<RestoreResult> &r)
{
    if (!r) {
        std::printf("  %-28s failed\n", what);
        return;
    }
    std::printf("  %-28s %7.3f s  %s\n", what, r->seconds, r->verified ? "verified" : "NOT verified");
}

void printRatio(const char *what, double a, double b, const char *target)
{
    std::printf("  %-44s %.2f  (target %s: %s)\n", what, a / b, target,
                (std::strcmp(target, "<= 1.5") == 0 ? a / b <= 1.5 : a / b <= 2.0 / 3.0) ? "met" : "NOT met");
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    OptionParser options("cr_tree", "An 8 x 8 process tree with pipes: the engine's dump and restore beside CRIU's.");
    options.value("size", "MIB", &o.sizeMiB, "memory of the whole tree (default 512)")
        .value("fanout", "N", &o.fanout, "children of the root, and of each child below it (default 8: 73 processes)")
        .value("threads", "N", &o.threads, "threads of every process of the tree (default 1)")
        .value("levels", "N", &o.levels,
               "levels of children below the root (default 2; --fanout 7 --levels 1 --threads 8 is issue 5's 8 processes x 8 threads)")
        .value("tmp", "DIR", &o.tmp, "directory for every image, ours and CRIU's (default /dev/shm)")
        .flag("fsync", &o.fsync, true, "fsync every image after its dump and print that time")
        .flag("no-criu", &o.criu, false, "without CRIU")
        .value("repeat", "N", &o.repeat,
               "uncompressed dumps, ours and CRIU's, taken N times each in turns, and so the uncompressed restores of the tree and of the one process; the "
               "medians are compared (default 1)");
    if (const auto exit = options.parse(argc, argv)) {
        return *exit;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const auto made = makeBenchDirectory(o.tmp, "cr_tree");
    if (!made) {
        return 1;
    }
    const std::string dir = *made;
    if (o.levels < 1 || o.levels > 4) {
        std::fprintf(stderr, "cr_tree: --levels must be 1 to 4\n");
        return 2;
    }
    std::printf("cr_tree: %llu MiB over a tree of %u level%s of %u children, %u thread%s each, %d online CPUs\n", static_cast<unsigned long long>(o.sizeMiB),
                o.levels, o.levels == 1 ? "" : "s", o.fanout, o.threads, o.threads == 1 ? "" : "s", onlineCpus());
    std::printf("images in %s (%s)%s; %s at the start\n\n", dir.c_str(), fileSystemType(dir).c_str(), o.fsync ? ", fsync'd after each dump" : "",
                loadAverage().c_str());

    const std::string program = selfDir() + "/cr_bigmem";
    Workload tree(program, dir + "/tree.out");
    double t0 = now();
    if (!tree.start({std::to_string(o.sizeMiB), "4242", "tree", std::to_string(o.fanout), std::to_string(std::max(o.threads, 1u)), std::to_string(o.levels)})) {
        std::fprintf(stderr, "the tree did not become ready; see %s\n", tree.outPath().c_str());
        removeTree(dir);
        return 1;
    }
    const pid_t pid = tree.pid();
    const std::vector<pid_t> pids = treeOf(pid);
    const uint64_t kib = residentKiB(pids);
    std::printf("tree: root %d, %zu processes, %.1f MiB resident, ready after %.2f s\n\n", int(pid), pids.size(), double(kib) / 1024.0, now() - t0);

    // Every timed step starts on warm memory (benchsupport.h): enough for
    // the largest image and a restored tree beside it.
    const uint64_t warmBytes = kib * 1024 * 2;
    const auto settle = [&] {
        settleStorage(dir);
        warmFreeMemory(warmBytes);
    };
    const double firstWarmUp = warmFreeMemory(warmBytes);
    std::printf("memory warm-up: %.0f MiB touched in %.3f s before the first dump (cold memory shows here: about 0.4 s per GiB when warm)\n\n",
                double(warmBytes) / 1048576.0, firstWarmUp);

    // Dumps of the running tree: ours (zstd, uncompressed), then CRIU's.
    EngineDumpOptions dumpOptions;
    dumpOptions.fsync = o.fsync;
    settleStorage(dir);
    const std::optional<DumpResult> zstdDump = engineDump(pid, dir + "/tree.cryopod", dumpOptions);
    // The tree's pause with issue 11's low-pause snapshot (zstd).
    dumpOptions.lowPause = true;
    settle();
    const std::optional<DumpResult> lowPauseDump = engineDump(pid, dir + "/tree-lowpause.cryopod", dumpOptions);
    dumpOptions.lowPause = false;
    dumpOptions.compress = false;
    // Right before each uncompressed dump, the storage floor: the tree's
    // bytes written into a file there (benchsupport.h), no dump can be
    // faster. Twice: the second write reuses what the first freed.
    const uint64_t treeBytes = kib * 1024;
    const auto settleWithFloor = [&] {
        settle();
        measureStoreFloor(dir, treeBytes);
        return measureStoreFloor(dir, treeBytes);
    };
    StoreFloor rawFloor;
    StoreFloor criuFloor;
    std::string criu;
    const bool withCriu = o.criu && findProgram("criu", &criu);
    std::vector<DumpResult> rawRuns;
    std::vector<DumpResult> criuRuns;
    for (unsigned run = 0; run < std::max(o.repeat, 1u); ++run) {
        rawFloor = settleWithFloor();
        if (auto d = engineDump(pid, dir + "/tree-raw.cryopod", dumpOptions)) {
            rawRuns.push_back(*d);
        }
        if (withCriu) {
            removeTree(dir + "/criu"); // the last one stays, for the restore
            criuFloor = settleWithFloor();
            if (auto d = criuDump(criu, pid, dir + "/criu", o.fsync)) {
                criuRuns.push_back(*d);
            }
        }
    }
    const std::optional<DumpResult> rawDump = medianRun(rawRuns);
    const std::optional<DumpResult> criuDumped = medianRun(criuRuns);

    // Restores, each after the tree before it is gone; each copy verifies itself and exits.
    // (The uncompressed image stays for the restores in turns below.)
    const auto restoreEngine = [&](const std::optional<DumpResult> &d, const std::string &image, bool keep = false) -> std::optional<RestoreResult> {
        if (!d) {
            return std::nullopt;
        }
        killTree(tree, pid);
        settle();
        std::optional<RestoreResult> r = engineRestore(image);
        if (r) {
            tree.adopt(pid);
            r->verified = tree.verifyAndReap();
        }
        killTree(tree, pid);
        if (!keep) {
            unlink(image.c_str());
        }
        return r;
    };
    const std::optional<RestoreResult> zstdRestore = restoreEngine(zstdDump, dir + "/tree.cryopod");
    const std::string rawImage = dir + "/tree-raw.cryopod";
    std::vector<RestoreResult> rawRestores;
    if (auto r = restoreEngine(rawDump, rawImage, true)) {
        rawRestores.push_back(*r);
    }
    const std::optional<RestoreResult> lowPauseRestore = restoreEngine(lowPauseDump, dir + "/tree-lowpause.cryopod");
    std::optional<RestoreResult> criuRestored;
    if (criuDumped) {
        killTree(tree, pid);
        settle();
        criuRestored = criuRestore(criu, dir + "/criu", tree, pid);
        killTree(tree, pid);
    }
    removeTree(dir + "/criu");
    tree.kill();

    // The same memory in one process, uncompressed. With --repeat its
    // restore and the tree's uncompressed one are taken N times in turns,
    // their medians compared (as the dumps: both drift with the host).
    Workload single(program, dir + "/single.out");
    std::optional<DumpResult> singleDump;
    std::vector<RestoreResult> singleRestores;
    uint64_t singleKiB = 0;
    pid_t singlePid = 0;
    if (single.start(o.sizeMiB)) {
        singleKiB = residentKiB({single.pid()});
        settle();
        singleDump = engineDump(single.pid(), dir + "/single-raw.cryopod", dumpOptions);
        singlePid = single.pid();
    }
    const auto restoreSingle = [&]() -> std::optional<RestoreResult> {
        if (!singleDump) {
            return std::nullopt;
        }
        single.kill();
        settle();
        std::optional<RestoreResult> r = engineRestore(dir + "/single-raw.cryopod");
        if (r) {
            single.adopt(singlePid);
            r->verified = single.verifyAndReap();
        }
        single.kill();
        return r;
    };
    for (unsigned run = 0; run < std::max(o.repeat, 1u); ++run) {
        if (run > 0) {
            if (auto r = restoreEngine(rawDump, rawImage, true)) {
                rawRestores.push_back(*r);
            }
        }
        if (auto r = restoreSingle()) {
            singleRestores.push_back(*r);
        }
    }
    single.kill();
    unlink(rawImage.c_str());
    const std::optional<RestoreResult> rawRestore = medianRun(rawRestores);
    const std::optional<RestoreResult> singleRestore = medianRun(singleRestores);

    std::printf("tree (%zu processes, %.1f MiB):\n", pids.size(), double(kib) / 1024.0);
    printDump("engine dump, zstd", zstdDump, o.fsync);
    printDump("engine dump, zstd, low pause", lowPauseDump, o.fsync);
    printDump("engine dump, uncompressed", rawDump, o.fsync);
    printDump("criu dump (frozen throughout)", criuDumped, o.fsync);
    printRuns("engine dump, uncompressed", rawRuns);
    printRuns("criu dump", criuRuns);
    std::printf("  storage floor (write() of %.1f MiB): %.3f s before our uncompressed dump, %.3f s before criu's\n", double(treeBytes) / 1048576.0,
                rawFloor.seconds, criuFloor.seconds);
    printRestore("engine restore, zstd", zstdRestore);
    printRestore("engine restore, uncompressed", rawRestore);
    printRuns("engine restore, uncompressed", rawRestores);
    printRestore("engine restore, low pause", lowPauseRestore);
    printRestore("criu restore", criuRestored);
    std::printf("one process (%.1f MiB):\n", double(singleKiB) / 1024.0);
    printDump("engine dump, uncompressed", singleDump, o.fsync);
    printRestore("engine restore, uncompressed", singleRestore);
    printRuns("engine restore, uncompressed", singleRestores);

    std::printf("\nratios (targets from issue 5):\n");
    if (rawRestore && singleRestore) {
        printRatio("tree restore / one-process restore (raw)", rawRestore->seconds, singleRestore->seconds, "<= 1.5");
    }
    if (criuDumped) {
        if (rawDump) {
            printRatio("tree dump / criu dump (uncompressed)", rawDump->seconds, criuDumped->seconds, "<= 0.67");
            // Below the floor no dump into a file can go: what the target
            // asks for is then beyond any dumper here, not just ours.
            if (criuFloor.seconds > 0 && rawFloor.seconds > 0) {
                std::printf("    two thirds of criu's dump %.3f s against the storage floor %.3f s; beyond the floor: ours %.3f s, criu's %.3f s\n",
                            criuDumped->seconds * 2 / 3, criuFloor.seconds, rawDump->seconds - rawFloor.seconds, criuDumped->seconds - criuFloor.seconds);
            }
        }
        if (zstdDump) {
            printRatio("tree dump / criu dump (zstd)", zstdDump->seconds, criuDumped->seconds, "<= 0.67");
        }
    }
    if (criuRestored) {
        if (rawRestore) {
            printRatio("tree restore / criu restore (uncompressed)", rawRestore->seconds, criuRestored->seconds, "<= 0.67");
        }
        if (zstdRestore) {
            printRatio("tree restore / criu restore (zstd)", zstdRestore->seconds, criuRestored->seconds, "<= 0.67");
        }
    }
    std::printf("\n%s at the end\n", loadAverage().c_str());
    removeTree(dir);
    return 0;
}
