// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// See paralleldrive.h. Notes:
// - A fiber is a ucontext with a stack of its own (mmap, a guard page below
//   it, committed only as it is touched). The engine is built without
//   exceptions, so nothing unwinds across a switch; a job's RAII objects
//   live on its stack and are destroyed when the job returns, which every
//   job does before run() returns.
// - Waiting: a job first looks (waitpid WNOHANG), then marks the tid it
//   waits for and switches back to the drive. When no job can run, the drive
//   peeks with waitid(P_ALL, WNOWAIT) (blocking): the first child or tracee
//   of ours with a status. If a job waits for it, the drive takes the status
//   (waitpid) and hands it over. Another status first in line (a new
//   thread's first stop while its leader's clone event is awaited, a child
//   of another part of the program) would be seen again and again: then
//   the drive looks at each waited tid itself and naps briefly if none has
//   one. Statuses are only ever taken for a job that waits for that tid, and
//   handed to it at once: nothing is kept between waits, and a plain
//   waitpid() elsewhere misses nothing.
#include "paralleldrive.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace cryopod::engine
{

namespace
{

constexpr size_t kStackSize = 512 * 1024;

// A fiber's stack: RAII over the mapping, the lowest page a guard.
class FiberStack
{
public:
    FiberStack() = default;
    ~FiberStack()
    {
        if (m_base) {
            ::munmap(m_base, m_size);
        }
    }
    FiberStack(const FiberStack &) = delete;
    FiberStack &operator=(const FiberStack &) = delete;

    Result<void> map(size_t size)
    {
        const long page = ::sysconf(_SC_PAGESIZE);
        m_size = size + size_t(page);
        void *base = ::mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (base == MAP_FAILED) {
            m_size = 0;
            return sysError("parallel drive: map a fiber stack");
        }
        m_base = base;
        if (::mprotect(m_base, size_t(page), PROT_NONE) != 0) {
            return sysError("parallel drive: guard page");
        }
        m_usable = static_cast<uint8_t *>(m_base) + page;
        return {};
    }
    void *usable() const
    {
        return m_usable;
    }
    size_t usableSize() const
    {
        return m_size - size_t(static_cast<uint8_t *>(m_usable) - static_cast<uint8_t *>(m_base));
    }

private:
    void *m_base = nullptr;
    void *m_usable = nullptr;
    size_t m_size = 0;
};

} // namespace

struct ParallelDrive::Fiber {
    ParallelDrive *drive = nullptr;
    Job *job = nullptr;
    ucontext_t context {};
    FiberStack stack;
    Result<void> result;
    bool done = false;
    pid_t waitingFor = 0; // the tid whose status it waits for (0: none)
    std::optional<int> status; // handed over by the drive
};

ParallelDrive::ParallelDrive(bool enabled)
    : m_enabled(enabled)
{
}

ParallelDrive::~ParallelDrive() = default;

void ParallelDrive::entry(unsigned hi, unsigned lo)
{
    Fiber *fiber = reinterpret_cast<Fiber *>((uintptr_t(hi) << 32) | uintptr_t(lo));
    fiber->result = (*fiber->job)();
    fiber->done = true;
    // Returning switches to uc_link: the drive, right after its switch here.
}

Result<void> ParallelDrive::runSerially(std::vector<Job> &jobs)
{
    for (Job &job : jobs) {
        CRYOPOD_PROPAGATE(job());
    }
    return {};
}

Result<void> ParallelDrive::run(std::vector<Job> &jobs)
{
    if (m_current) {
        return fail("parallel drive: run() from inside a job", EBUSY);
    }
    ++m_counts.runs;
    m_counts.jobs += jobs.size();
    if (!m_enabled || jobs.size() < 2) {
        return runSerially(jobs);
    }
    m_cancelled = false;
    m_fibers.clear();
    std::vector<Fiber *> ready;
    for (Job &job : jobs) {
        auto fiber = std::make_unique<Fiber>();
        fiber->drive = this;
        fiber->job = &job;
        CRYOPOD_PROPAGATE(fiber->stack.map(kStackSize));
        if (::getcontext(&fiber->context) != 0) {
            return sysError("parallel drive: getcontext");
        }
        fiber->context.uc_stack.ss_sp = fiber->stack.usable();
        fiber->context.uc_stack.ss_size = fiber->stack.usableSize();
        fiber->context.uc_link = &m_main;
        const uintptr_t self = reinterpret_cast<uintptr_t>(fiber.get());
        ::makecontext(&fiber->context, reinterpret_cast<void (*)()>(&ParallelDrive::entry), 2, unsigned(self >> 32), unsigned(self & 0xffffffffu));
        ready.push_back(fiber.get());
        m_fibers.push_back(std::move(fiber));
    }
    // Nothing can fail from here on until every job has ended.
    std::optional<Error> firstFailure;
    size_t live = m_fibers.size();
    while (live > 0) {
        // Every job that can go on runs up to its next wait (or its end).
        std::vector<Fiber *> running;
        running.swap(ready);
        for (Fiber *fiber : running) {
            m_current = fiber;
            ++m_counts.switches;
            ::swapcontext(&m_main, &fiber->context);
            m_current = nullptr;
            if (!fiber->done) {
                continue;
            }
            --live;
            if (!fiber->result && !firstFailure) {
                firstFailure = fiber->result.error();
                m_cancelled = true;
            }
        }
        if (live > 0 && ready.empty()) {
            collect(ready);
        }
    }
    m_fibers.clear();
    m_cancelled = false;
    if (firstFailure) {
        return std::unexpected(*firstFailure);
    }
    return {};
}

ParallelDrive::Fiber *ParallelDrive::waitingFor(pid_t tid)
{
    for (const auto &fiber : m_fibers) {
        if (!fiber->done && fiber->waitingFor == tid) {
            return fiber.get();
        }
    }
    return nullptr;
}

void ParallelDrive::collect(std::vector<Fiber *> &ready)
{
    auto take = [&](Fiber *fiber) -> bool {
        int status = 0;
        const pid_t r = ::waitpid(fiber->waitingFor, &status, __WALL | WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            return false;
        }
        // r < 0 otherwise: the job's own waitpid reports it.
        if (r > 0) {
            fiber->status = status;
            ++m_counts.collected;
        }
        fiber->waitingFor = 0;
        ready.push_back(fiber);
        return true;
    };
    bool blocking = true;
    for (;;) {
        siginfo_t info;
        std::memset(&info, 0, sizeof info);
        const int flags = WEXITED | WSTOPPED | WNOWAIT | __WALL | (blocking ? 0 : WNOHANG);
        if (blocking) {
            ++m_counts.sleeps;
        }
        if (::waitid(P_ALL, 0, &info, flags) != 0) {
            if (errno == EINTR) {
                continue;
            }
            // No child at all (ECHILD): every waiting job finds out itself.
            for (const auto &fiber : m_fibers) {
                if (!fiber->done && fiber->waitingFor != 0) {
                    fiber->waitingFor = 0;
                    ready.push_back(fiber.get());
                }
            }
            return;
        }
        if (info.si_pid == 0) {
            return; // (WNOHANG) nothing more for now
        }
        if (Fiber *fiber = waitingFor(info.si_pid); fiber && take(fiber)) {
            blocking = false; // and whatever else has come meanwhile
            continue;
        }
        if (!ready.empty()) {
            return;
        }
        // First in line is a status no job waits for: each waited tid in turn.
        for (const auto &fiber : m_fibers) {
            if (!fiber->done && fiber->waitingFor != 0) {
                (void)take(fiber.get());
            }
        }
        if (!ready.empty()) {
            return;
        }
        ++m_counts.naps;
        const timespec nap {0, 20 * 1000};
        ::nanosleep(&nap, nullptr);
        blocking = true;
    }
}

Result<void> ParallelDrive::mayStart(pid_t tid)
{
    if (m_current && m_cancelled) {
        return fail("inject into " + std::to_string(tid) + ": given up, another process of the restore failed", ECANCELED);
    }
    return {};
}

Result<int> ParallelDrive::waitStatus(pid_t tid)
{
    int status = 0;
    Fiber *self = m_current;
    if (self) {
        const pid_t r = ::waitpid(tid, &status, __WALL | WNOHANG);
        if (r == tid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return sysError("waitpid " + std::to_string(tid));
        }
        self->waitingFor = tid;
        self->status.reset();
        ::swapcontext(&self->context, &m_main);
        // Back: the drive has its status, or found it gone (the waitpid
        // below says why).
        self->waitingFor = 0;
        if (self->status) {
            return *std::exchange(self->status, std::nullopt);
        }
    }
    for (;;) {
        const pid_t r = ::waitpid(tid, &status, __WALL);
        if (r == tid) {
            return status;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return sysError("waitpid " + std::to_string(tid));
    }
}

} // namespace cryopod::engine
