// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Shared by the store tests: real processes (bench/store_dedup's
// store_churn) checkpointed by the real engine into real image files.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace StoreTestSupport
{

// A running store_churn process whose stdout is a log file.
class Churn
{
public:
    Churn() = default;
    Churn(const Churn &) = delete;
    Churn &operator=(const Churn &) = delete;
    ~Churn(); // kills and reaps

    // Starts store_churn SIZE_MIB PERCENT SEED; waits for "ready".
    bool start(const std::string &dir, unsigned mib, double percent, unsigned seed);
    // SIGUSR1 and wait for "changed GEN".
    bool change();
    // SIGUSR2 and wait for the "hash" line; returns the hash text ("" on timeout).
    std::string hash();
    // The engine checkpoints the process into `path` (it keeps running).
    // compress false: the pages go into the image without zstd (as
    // cryopodctl snapshot streams them to the store).
    bool checkpointTo(const std::string &path, bool compress = true) const;
    void kill();
    pid_t pid() const
    {
        return m_pid;
    }
    unsigned generation() const
    {
        return m_generation;
    }
    // Adopts a restored process with the same pid (it is our child too).
    void adopt(pid_t pid)
    {
        m_pid = pid;
    }

private:
    bool waitForLine(const std::string &prefix, std::string *line, int timeoutMs = 20000);
    std::string m_log;
    size_t m_seen = 0; // lines of the log already consumed
    pid_t m_pid = 0;
    unsigned m_generation = 0;
};

// Path of the store_churn program (from the build).
std::string churnPath();
std::string readFile(const std::string &path);
bool writeFile(const std::string &path, const std::string &data);
// Runs a program, returns its exit status (-1 when it did not exit normally); output captured.
int run(const std::vector<std::string> &argv, const std::vector<std::string> &env, std::string *output);
// Makes this process a child subreaper (PID 1 here does not reap).
void becomeSubreaper();
// Bytes of the files in a directory tree.
uint64_t treeBytes(const std::string &dir);
// Names of the files in a directory.
std::vector<std::string> listDir(const std::string &dir);

} // namespace StoreTestSupport
