// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "steptrace.h"

#include "cputime.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <set>

namespace cryopod::engine
{

namespace
{
uint64_t wallNow()
{
    timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
} // namespace

int StepTrace::levelOf(const char *envName)
{
    const char *value = std::getenv(envName);
    if (!value || !*value || *value == '0') {
        return 0;
    }
    return std::clamp(std::atoi(value), 1, 2);
}

StepTrace::Scope::Scope(StepTrace *trace, std::string_view step, pid_t pid)
    : m_trace(trace)
    , m_step(step)
    , m_pid(pid)
{
    begin();
}

void StepTrace::Scope::begin()
{
    if (m_trace) {
        m_running = true;
        m_count = 0;
        m_wall0 = wallNow();
        m_cpu0 = image::threadCpuNs();
    }
}

void StepTrace::Scope::end()
{
    if (!m_running) {
        return;
    }
    m_running = false;
    m_trace->add(m_step, m_pid, wallNow() - m_wall0, image::threadCpuNs() - m_cpu0, m_count);
}

void StepTrace::Scope::next(std::string_view step)
{
    end();
    m_step = step;
    begin();
}

void StepTrace::add(std::string_view step, pid_t pid, uint64_t wallNs, uint64_t cpuNs, uint64_t count)
{
    if (!enabled()) {
        return;
    }
    std::lock_guard lock(m_mutex);
    m_entries.push_back({std::string(step), pid, wallNs, cpuNs, count});
}

void StepTrace::print(const char *title, uint64_t totalWallNs, FILE *out) const
{
    if (!enabled()) {
        return;
    }
    std::lock_guard lock(m_mutex);
    auto ms = [](uint64_t ns) { return double(ns) / 1e6; };
    std::set<pid_t> allPids;
    for (const Entry &e : m_entries) {
        if (e.pid != 0) {
            allPids.insert(e.pid);
        }
    }
    std::fprintf(out, "%s: %zu processes", title, allPids.size());
    if (totalWallNs != 0) {
        std::fprintf(out, ", %.1f ms in all", ms(totalWallNs));
    }
    std::fprintf(out, "\n  %-34s %6s %5s %10s %10s %9s %9s %8s %8s\n", "step", "calls", "procs", "wall ms", "CPU ms", "wall/proc", "CPU/proc", "max ms",
                 "count");
    // In the order the steps first came.
    std::vector<std::string> order;
    for (const Entry &e : m_entries) {
        if (std::find(order.begin(), order.end(), e.step) == order.end()) {
            order.push_back(e.step);
        }
    }
    for (const std::string &step : order) {
        uint64_t calls = 0, wall = 0, cpu = 0, max = 0, count = 0;
        std::set<pid_t> pids;
        for (const Entry &e : m_entries) {
            if (e.step != step) {
                continue;
            }
            ++calls;
            wall += e.wallNs;
            cpu += e.cpuNs;
            max = std::max(max, e.wallNs);
            count += e.count;
            if (e.pid != 0) {
                pids.insert(e.pid);
            }
        }
        const double per = pids.empty() ? 0.0 : 1.0 / double(pids.size());
        std::fprintf(out, "  %-34s %6llu %5zu %10.2f %10.2f %9.3f %9.3f %8.2f %8llu\n", step.c_str(), static_cast<unsigned long long>(calls), pids.size(),
                     ms(wall), ms(cpu), ms(wall) * per, ms(cpu) * per, ms(max), static_cast<unsigned long long>(count));
    }
    if (m_level >= 2) {
        for (const Entry &e : m_entries) {
            std::fprintf(out, "  %d %-34s wall %.3f ms CPU %.3f ms count %llu\n", int(e.pid), e.step.c_str(), ms(e.wallNs), ms(e.cpuNs),
                         static_cast<unsigned long long>(e.count));
        }
    }
}

} // namespace cryopod::engine
