// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Where the time of a checkpoint or a restore goes, step by step and process
// by process: wall time (CLOCK_MONOTONIC) and the CPU time of the thread
// doing the step (CLOCK_THREAD_CPUTIME_ID), and how many system calls it
// injected. Enabled by $CRYOPOD_DUMP_TRACE (checkpoint) and
// $CRYOPOD_RESTORE_TRACE (restore); the table goes to stderr at the end,
// with every single measurement when the variable is 2. Disabled, a scope
// costs one branch. Thread-safe: steps may run on several threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

class StepTrace
{
public:
    // Level of $NAME: 0 (unset, empty or "0"), 1, or 2 (every measurement).
    static int levelOf(const char *envName);

    StepTrace() = default;
    explicit StepTrace(int level)
        : m_level(level)
    {
    }
    StepTrace(const StepTrace &) = delete;
    StepTrace &operator=(const StepTrace &) = delete;

    void setLevel(int level)
    {
        m_level = level;
    }
    bool enabled() const
    {
        return m_level > 0;
    }

    // Measures from construction to end() (or destruction). `pid` 0: a step
    // of the whole tree. `count`: injected system calls (or another count)
    // the step reports through setCount().
    class Scope
    {
    public:
        Scope(StepTrace *trace, std::string_view step, pid_t pid);
        ~Scope()
        {
            end();
        }
        Scope(const Scope &) = delete;
        Scope &operator=(const Scope &) = delete;
        void setCount(uint64_t count)
        {
            m_count = count;
        }
        void end();
        // end(), then measures the next step of the same process.
        void next(std::string_view step);

    private:
        void begin();
        StepTrace *m_trace = nullptr;
        bool m_running = false;
        std::string_view m_step;
        pid_t m_pid = 0;
        uint64_t m_wall0 = 0;
        uint64_t m_cpu0 = 0;
        uint64_t m_count = 0;
    };
    Scope scope(std::string_view step, pid_t pid = 0)
    {
        return Scope(enabled() ? this : nullptr, step, pid);
    }

    void add(std::string_view step, pid_t pid, uint64_t wallNs, uint64_t cpuNs, uint64_t count = 0);
    // The table: per step its calls, processes, wall and CPU time in total,
    // per process and the longest single one, and the counts; `totalWallNs`
    // for the header (0: none).
    void print(const char *title, uint64_t totalWallNs, FILE *out = stderr) const;

private:
    struct Entry {
        std::string step;
        pid_t pid;
        uint64_t wallNs;
        uint64_t cpuNs;
        uint64_t count;
    };
    int m_level = 0;
    mutable std::mutex m_mutex;
    std::vector<Entry> m_entries;
};

} // namespace cryopod::engine
