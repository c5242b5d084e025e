// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What the benchmarks share: timing, running programs (and CRIU, the peer,
// timed the same way), and the cr_bigmem workload as a process to start,
// adopt after a restore, verify and reap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::bench
{
double now(); // CLOCK_MONOTONIC seconds
int onlineCpus();
std::string selfDir(); // the directory of the running executable
std::string readFileText(const std::string &path);
bool findProgram(const char *name, std::string *path);
// Runs a program with stdout/stderr into logPath; returns its exit status (or -1).
int runProgram(const std::vector<std::string> &argv, const std::vector<std::string> &extraEnv, const std::string &logPath);
void removeTree(const std::string &dir);

// A workload program (cr_bigmem and the like) started in its own session
// with fds 0 (/dev/null), 1 and 2 (a regular file, outPath) only. It prints
// "ready ..." when set up; on SIGUSR1 it checks its memory and prints
// "verified ok" or "verified BAD" and exits.
class Workload
{
public:
    Workload(std::string program, std::string outPath);
    ~Workload();

    // Starts PROGRAM ARGS... and waits for "ready".
    bool start(const std::vector<std::string> &args);
    bool start(uint64_t sizeMiB);

    pid_t pid() const
    {
        return m_pid;
    }
    bool alive() const
    {
        return m_pid > 0;
    }
    // Waits until the output file has a line starting with prefix.
    bool waitFor(const std::string &prefix, double timeoutSeconds) const;
    // The first line starting with prefix ("" when none).
    std::string line(const std::string &prefix) const;
    // SIGUSR1: the process (original or restored, same pid) re-hashes its
    // memory and exits 0 when it matches.
    bool verifyAndReap();
    void kill();
    // A restored copy runs under the same pid (reparented to us, the subreaper).
    void adopt(pid_t pid)
    {
        m_pid = pid;
    }
    const std::string &outPath() const
    {
        return m_out;
    }

private:
    std::string m_program;
    std::string m_out;
    pid_t m_pid = -1;
};

struct DumpResult {
    double seconds = 0; // whole dump
    double pauseSeconds = 0; // the target was stopped
    double syncSeconds = 0; // fsync of the images afterwards (when asked for; not in seconds)
    // CPU time (user + system) of the dumper and of the target during the
    // dump: CRIU's parasite works in the target. Steadier than the wall time
    // on a loaded machine.
    double cpuSeconds = 0;
    uint64_t imageBytes = 0;
    std::string lowPauseFallback; // the engine's reason when a low pause was asked for and not taken
};

// fsync of every regular file in dir (CRIU's images); returns the seconds it took.
double fsyncFiles(const std::string &dir);
// syncfs of the file system holding dir: what an earlier dump left dirty is
// written before the next one starts (not timed), so that no dump pays for
// another's writeback.
void settleStorage(const std::string &dir);
// Touches `bytes` of fresh anonymous memory page by page and frees it again;
// returns the seconds the touching took. On these virtual machines memory
// the guest has not used for a while costs 16 to 27 times more to fill
// than memory it freed a moment ago (docs/performance.md, cr_throughput's
// storage floor), and whichever dumper allocates first pays for it: a bench
// calls this before each timed step so that every dumper starts on warm
// memory, and prints the first figure (a cold machine shows there, not in
// the dumps).
double warmFreeMemory(uint64_t bytes);
// A dump into a file cannot be faster than putting its bytes into the page
// cache, and on this virtual machine that cost swings tenfold: memory the
// guest has not used for a while costs 16 to 27 times more to fill than
// memory it freed a moment ago (docs/performance.md). Measured twice right
// before each dump (the second write reuses what the first freed, as the dump
// right after it does) so that each dumper's own work can be told from the
// storage's: `bytes` written in 256 KiB pieces into a new file in dir,
// which is deleted again.
struct StoreFloor {
    double seconds = 0;
    double cpuSeconds = 0;
};
StoreFloor measureStoreFloor(const std::string &dir, uint64_t bytes);
// "load 1.23 0.98 0.80" (/proc/loadavg), and "tmpfs" / "ext4" / ... for dir:
// the benches print both with their figures.
std::string loadAverage();
// User + system CPU seconds: of this process (all threads), of its reaped
// children, of process pid (from /proc/PID/stat).
double selfCpuSeconds();
double childrenCpuSeconds();
double processCpuSeconds(pid_t pid);
std::string fileSystemType(const std::string &dir);

struct RestoreResult {
    double seconds = 0; // until the restored process runs
    bool verified = false; // its memory hashed the same
};

// CRIU (at `criu`) dumping pid with --leave-running into dir, and restoring
// it from there (-d); CRIU_FAULT=130: no hardware breakpoints here.
// fsync: fsync the images afterwards, timed into syncSeconds.
std::optional<DumpResult> criuDump(const std::string &criu, pid_t pid, const std::string &dir, bool fsync = false);
std::optional<RestoreResult> criuRestore(const std::string &criu, const std::string &dir, Workload &workload, pid_t pid);
} // namespace cryopod::bench
