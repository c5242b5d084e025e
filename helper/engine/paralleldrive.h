// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Many tracees driven at once from one tracer thread. ptrace wants every
// request for a tracee from the thread that attached it, so the restore's
// steps cannot spread over threads; but one thread can have many tracees
// running at the same time. ParallelDrive runs one job per process (a step
// of the restore: plain sequential code that injects calls and waits for
// their stops) on a fiber of its own (ucontext, its own stack), all on the
// calling thread: when a job waits for a ptrace stop (Tracee::waitStop,
// waitForFirstStop: the tracee's StopWaiter is the drive) and the stop has
// not come yet, the next job runs and resumes its own tracee. Once every job
// waits, the drive sleeps in waitid() until one of their tracees stops. So
// the processes' injected calls run on all CPUs at once and the waits for
// the scheduler overlap instead of adding up.
//
//   ParallelDrive drive(enabled);      // disabled: the jobs run one after
//                                      // the other, as plain calls
//   tracee.setWaiter(&drive);          // its waits go through the drive
//   drive.run(jobs);                   // every job to its end
//
// Failures: the first job that fails (in time) gives run() its error; from
// then on the other jobs start no new injected call (mayStart() fails with
// ECANCELED, before the tracee is resumed), so they unwind (RAII, errors as
// values) and end too: run() returns only when every job has ended,
// nothing is left on a fiber's stack. A wait already under way is never
// given up: the drive still collects its stop, so the call that was running
// ends and its outcome reaches its job, as it would without the drive (a
// clone3 in flight gives the job its new thread's tid, which it records for
// the clean-up: given up, that thread was known to nobody, and the caller's
// waitpid for its leader waited forever, see cr_tree_midfail). The caller
// then kills the tracees (the restore kills everything it made on any
// failure).
//
// Outside run() (or from a job of a disabled drive) a wait is a plain
// blocking waitpid().
#pragma once

#include "ptrace_inject.h"
#include "result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <ucontext.h>
#include <vector>

namespace cryopod::engine
{

class ParallelDrive final : public StopWaiter
{
public:
    using Job = std::function<Result<void>()>;

    explicit ParallelDrive(bool enabled = true);
    ~ParallelDrive() override;
    ParallelDrive(const ParallelDrive &) = delete;
    ParallelDrive &operator=(const ParallelDrive &) = delete;

    bool enabled() const
    {
        return m_enabled;
    }
    void setEnabled(bool enabled)
    {
        m_enabled = enabled;
    }

    // Runs every job to its end (see the top of this file); the error of the
    // first one that failed. Disabled (or one job): one after the other,
    // stopping at the first failure. Not from inside a job (EBUSY).
    Result<void> run(std::vector<Job> &jobs);

    // StopWaiter: inside a job, waits for tid's next wait status while the
    // other jobs run; elsewhere a blocking waitpid(tid, __WALL).
    Result<int> waitStatus(pid_t tid) override;
    // StopWaiter: inside a job, ECANCELED once another job has failed.
    Result<void> mayStart(pid_t tid) override;

    // For $CRYOPOD_RESTORE_TRACE, summed over every run(): the stops the
    // drive collected for waiting jobs, the times it slept in waitid() with
    // every job waiting, and the short naps it took when only a stop no job
    // waits for (yet) was there (a new thread's first stop).
    struct Counts {
        uint64_t runs = 0;
        uint64_t jobs = 0;
        uint64_t switches = 0;
        uint64_t collected = 0;
        uint64_t sleeps = 0;
        uint64_t naps = 0;
    };
    const Counts &counts() const
    {
        return m_counts;
    }

private:
    struct Fiber;
    static void entry(unsigned hi, unsigned lo);
    Result<void> runSerially(std::vector<Job> &jobs);
    // Blocks until at least one waiting fiber has its status (or can go on
    // for another reason); appends those to `ready`.
    void collect(std::vector<Fiber *> &ready);
    Fiber *waitingFor(pid_t tid);

    bool m_enabled = true;
    bool m_cancelled = false;
    ucontext_t m_main {};
    Fiber *m_current = nullptr;
    std::vector<std::unique_ptr<Fiber>> m_fibers;
    Counts m_counts;
};

} // namespace cryopod::engine
