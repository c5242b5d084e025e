// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "checkpoint.h"

#include "cgroups.h"
#include "creds.h"
#include "epoll.h"
#include "inetsockets.h"
#include "ptrace_inject.h"
#include "report.h"
#include "seccomp.h"
#include "sharing.h"
#include "signals.h"
#include "task.h"
#include "threads.h"
#include "timers.h"
#include "tty.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>

#ifndef CRYOPOD_ENGINE_VERSION
#define CRYOPOD_ENGINE_VERSION "0"
#endif

namespace cryopod::engine
{

namespace
{

// Writing to a pipe whose reader is gone raises SIGPIPE, which would kill the
// caller. While it lives, SIGPIPE is blocked in this thread (and in threads
// it starts), so the write fails with EPIPE instead; one raised meanwhile is
// discarded at the end.
class ScopedSigpipeBlock
{
public:
    ScopedSigpipeBlock()
    {
        sigemptyset(&m_set);
        sigaddset(&m_set, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        ::sigpending(&pending);
        m_wasPending = sigismember(&pending, SIGPIPE) == 1;
        ::pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
    }
    ~ScopedSigpipeBlock()
    {
        if (!m_wasPending) {
            const timespec zero{};
            while (::sigtimedwait(&m_set, nullptr, &zero) > 0) {
            }
        }
        ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
    }
    ScopedSigpipeBlock(const ScopedSigpipeBlock &) = delete;
    ScopedSigpipeBlock &operator=(const ScopedSigpipeBlock &) = delete;

private:
    sigset_t m_set;
    sigset_t m_old;
    bool m_wasPending = false;
};

image::Header makeHeader()
{
    image::Header header;
    utsname uts{};
    ::uname(&uts);
    header.arch = uts.machine;
    header.kernelRelease = uts.release;
    header.hostname = uts.nodename;
    header.engineVersion = std::string("cryopod ") + CRYOPOD_ENGINE_VERSION;
    header.pageSize = uint32_t(::sysconf(_SC_PAGESIZE));
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    header.createdUnixNs = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
    return header;
}

template<typename T>
Result<void> store(T &target, Result<T> &&value)
{
    if (!value) {
        return std::unexpected(std::move(value.error()));
    }
    target = std::move(*value);
    return {};
}

} // namespace

Result<void> checkpointPrecheck(CheckpointContext &ctx)
{
    // Low pause: the smaps of the analysis give the VmFlags, so that only
    // the cheap /proc/PID/maps is read during the pause (smaps walks every
    // page table to count what is resident).
    auto analysis = ctx.trace.scope("precheck: analyze tree");
    // Otherwise only maps: the second analysis, frozen, reads smaps and
    // looks at what only they show.
    auto report = analyzeTree(ctx.pid, ctx.options.detachedFds, ctx.options.tcpEstablished, ctx.lowPauseWanted() ? &ctx.earlySmaps : nullptr, true);
    analysis.end();
    if (report && report->verdict == Verdict::Refused && !ctx.lowPauseWanted()) {
        // Refused: the whole analysis, smaps too, so that the refusal names
        // everything it always named.
        report = analyzeTree(ctx.pid, ctx.options.detachedFds, ctx.options.tcpEstablished, nullptr);
    }
    if (!report) {
        return std::unexpected(report.error());
    }
    if (report->verdict == Verdict::Refused) {
        // Not a system call's failure: something Cryopod does not do (the
        // helper answers Unsupported, libcryopod sets ENOTSUP), or a state
        // that passes in a moment (EAGAIN: checkpoint() tries again).
        return fail(refusalMessage(*report), report->passing() ? EAGAIN : ENOTSUP);
    }
    // A task the cgroup freezer holds still stops for ptrace, but runs none
    // of the system calls the capture injects until it is thawed: the
    // checkpoint would wait for ever. Unless the caller thaws and freezes
    // it again around the capture (outsideFreezer), refuse now.
    if (!ctx.options.outsideFreezer) {
        std::vector<pid_t> pids;
        for (const ProcessReport &p : report->processes) {
            pids.push_back(p.pid);
        }
        if (auto held = heldByCgroupFreezer(pids)) {
            std::string comm = "?";
            for (const ProcessReport &p : report->processes) {
                if (p.pid == held->pid) {
                    comm = p.comm;
                }
            }
            return fail(std::to_string(held->pid) + " (" + comm + ") cannot be checkpointed while the cgroup freezer holds it (" + held->cgroup
                            + "): nothing the checkpoint has to run in it could run before it is thawed (thaw it first)",
                        EBUSY);
        }
    }
    return {};
}

Result<void> checkpointFreeze(CheckpointContext &ctx)
{
    ctx.freezeNs = monotonicNs();
    auto scope = ctx.trace.scope("freeze tree");
    auto frozen = FrozenTree::freeze(ctx.pid, ctx.options.freezeTimeoutMs, ctx.options.outsideFreezer, &ctx.trace);
    if (!frozen) {
        return std::unexpected(frozen.error());
    }
    ctx.frozen = std::move(*frozen);
    return {};
}

namespace
{
// Everything of one frozen process but its pages: captureProcessInjected(),
// then captureProcessRest().
// The memory layout as at the pause. With `early` smaps (low pause) only
// maps is read now; a layout that changed since falls back to smaps.
Result<std::vector<procfs::Mapping>> readLayout(pid_t pid, const std::vector<procfs::Mapping> *early)
{
    if (early) {
        auto maps = procfs::readMaps(pid);
        if (!maps) {
            return std::unexpected(maps.error());
        }
        if (auto merged = procfs::withSmapsOf(std::move(*maps), *early)) {
            return std::move(*merged);
        }
    }
    return procfs::readSmaps(pid);
}

// The first half: what ptrace and the injected system calls tell. All
// processes go through it one after the other before any goes through the
// second half, so that the injected calls of the tree come in one run: each
// process's first call waits for the scheduler to run it (behind whatever
// else wants the CPU), and the less the checkpoint itself computes between
// two processes' calls, the shorter that wait.
Result<void> captureProcessInjected(FrozenProcess &process, ProcessCapture &capture, StepTrace &trace)
{
    const pid_t pid = process.pid();
    capture.pid = pid;
    auto step = trace.scope("capture: status, stat", pid);
    CRYOPOD_PROPAGATE(store(capture.status, procfs::readStatus(pid)));
    CRYOPOD_PROPAGATE(store(capture.stat, procfs::readStat(pid)));
    step.end();

    // What the threads show by ptrace alone, before anything runs in them.
    auto threadsStep = trace.scope("capture: threads by ptrace", pid);
    // Which threads may take the injector's trap stops (one stop per call
    // and per batch through the scratch's runner): not where SIGTRAP is
    // ignored (a trap would reset that disposition) or pending (it would
    // arrive at the first resume).
    auto ignored = procfs::statusHex(capture.status, "SigIgn");
    if (!ignored) {
        return std::unexpected(ignored.error().context("signals of " + std::to_string(pid)));
    }
    const uint64_t sigtrap = uint64_t(1) << (SIGTRAP - 1);
    std::vector<bool> trapStops;
    for (const Tracee &thread : process.threads()) {
        auto status = procfs::readStatus(pid, thread.tid());
        if (!status) {
            return std::unexpected(status.error().context("thread " + std::to_string(thread.tid())));
        }
        auto record = dumpThread(pid, thread, *status);
        if (!record) {
            return std::unexpected(record.error());
        }
        // A thread the freeze took out of epoll_wait (-EINTR) goes back in.
        uint64_t pending = 0;
        for (const char *key : {"SigPnd", "ShdPnd"}) {
            auto mask = procfs::statusHex(*status, key);
            if (!mask) {
                return std::unexpected(mask.error().context("signals of thread " + std::to_string(thread.tid())));
            }
            pending |= *mask;
        }
        auto blocked = procfs::statusHex(*status, "SigBlk");
        if (!blocked) {
            return std::unexpected(blocked.error().context("signals of thread " + std::to_string(thread.tid())));
        }
        CRYOPOD_PROPAGATE(restartInterruptedEpollWait(thread, *record, pending & ~*blocked));
        capture.threads.push_back(std::move(*record));
        trapStops.push_back(!((pending | *ignored) & sigtrap));
    }
    threadsStep.end();

    // What only the process can tell, by injected system calls. The scratch
    // page is unmapped and the registers put back before the memory layout
    // is read.
    {
        auto setup = trace.scope("inject: create, map scratch", pid);
        auto injector = Injector::create(process.leader());
        if (!injector) {
            return std::unexpected(injector.error().context("inject into " + std::to_string(pid)));
        }
        const image::ThreadRecord &leader = capture.threads.front();
        injector->setGuard(seccompGuard(leader.tid, leader.seccompMode, leader.seccompFilters));
        // The scratch with a runner ($CRYOPOD_DUMP_NO_RUNNER=1: plain
        // scratch and syscall stops, for A/B runs).
        const char *noRunner = std::getenv("CRYOPOD_DUMP_NO_RUNNER");
        auto scratch = noRunner && *noRunner && *noRunner != '0' ? RemoteScratch::map(*injector)
                                                                 : RemoteScratch::mapWithRunner(*injector, 16384, trapStops.front());
        if (!scratch) {
            return std::unexpected(scratch.error().context("inject into " + std::to_string(pid)));
        }
        setup.setCount(injector->injectedCount());
        setup.end();
        // One step of the trace, with the system calls it injected.
        uint64_t injected = injector->injectedCount();
        auto injectedStep = [&](std::string_view name, auto &&fn) -> Result<void> {
            auto s = trace.scope(name, pid);
            auto r = fn();
            s.setCount(injector->injectedCount() - injected);
            injected = injector->injectedCount();
            return r;
        };
        CRYOPOD_PROPAGATE(injectedStep("inject: thread state", [&] {
            auto r = dumpThreadInjected(*injector, *scratch, capture.threads.front());
            // The other threads, one after the other, through the same `syscall`
            // instruction and scratch page (one address space).
            for (size_t i = 1; r && i < capture.threads.size(); ++i) {
                r = dumpOtherThreadInjected(process.threads()[i], *injector, *scratch, trapStops[i], capture.threads[i]);
            }
            return r;
        }));
        CRYOPOD_PROPAGATE(injectedStep("inject: signals", [&] {
            return store(capture.signals, dumpSignals(pid, capture.status, *injector, *scratch));
        }));
        CRYOPOD_PROPAGATE(injectedStep("inject: timers", [&] {
            return store(capture.timers, dumpTimers(pid, *injector, *scratch));
        }));
        CRYOPOD_PROPAGATE(injectedStep("inject: creds", [&] {
            return store(capture.creds, dumpCreds(pid, capture.status, &*injector));
        }));
        CRYOPOD_PROPAGATE(injectedStep("inject: subreaper, brk", [&]() -> Result<void> {
            CRYOPOD_PROPAGATE(store(capture.childSubreaper, dumpChildSubreaper(*injector, *scratch)));
            auto brk = injector->call("brk(0) in " + std::to_string(pid), SYS_brk, 0);
            if (!brk) {
                return std::unexpected(brk.error());
            }
            capture.brk = *brk;
            return {};
        }));
        CRYOPOD_PROPAGATE(injectedStep("inject: unmap scratch, finish", [&]() -> Result<void> {
            CRYOPOD_PROPAGATE(scratch->unmap());
            return injector->finish();
        }));
    }

    return {};
}

// The second half: what /proc tells, the second analysis, the records.
// It only reads /proc and the records (no ptrace), so it may run on
// another thread than the tracer's: `tracer` is the thread that froze the
// tree.
Result<void> captureProcessRest(ProcessCapture &capture, pid_t tracer, const TreeScope &scope, const TaskSharing &sharing, MappedFiles &mappedFiles,
                                bool ownFiles, bool ownMm, const std::vector<procfs::Mapping> *early, StepTrace &trace)
{
    const pid_t pid = capture.pid;
    auto step = trace.scope("capture: memory layout", pid);
    CRYOPOD_PROPAGATE(store(capture.mappings, readLayout(pid, early)));
    step.end();

    // Again, now that it cannot change: a thread, an fd or a mapping may have
    // appeared since the precheck.
    step.next("capture: analyze again");
    auto report = analyzeProcess(pid, AnalyzeContext{tracer, &capture.mappings, &scope, nullptr, &sharing, &mappedFiles});
    step.end();
    if (!report) {
        return std::unexpected(report.error());
    }
    if (report->verdict == Verdict::Refused) {
        // Not a system call's failure: something Cryopod does not do (the
        // helper answers Unsupported, libcryopod sets ENOTSUP), or a state
        // that passes in a moment (EAGAIN: checkpoint() tries again).
        capture.refused = true;
        return fail(refusalMessage(*report), report->passing ? EAGAIN : ENOTSUP);
    }

    step.next("capture: task, mm");
    CRYOPOD_PROPAGATE(store(capture.task, dumpTask(pid, capture.status, capture.stat)));
    capture.task.childSubreaper = capture.childSubreaper;
    if (ownMm) {
        CRYOPOD_PROPAGATE(store(capture.mm, dumpMm(pid, capture.mappings, capture.stat, capture.brk, mappedFiles)));
    }
    capture.ownMm = ownMm;
    step.end();
    if (ownFiles) {
        step.next("capture: files");
        CRYOPOD_PROPAGATE(store(capture.files, dumpFiles(pid, &scope)));
        step.end();
    }
    capture.ownFiles = ownFiles;
    return {};
}

// Runs first(), then fn(0), fn(1), ... in order on a thread of its own,
// each fn(i) once ready() has counted readyAfter[i] processes. Stops at the
// first failure, or at finish() or destruction when it waits for a process
// that will never be ready (the caller failed).
class Follower
{
public:
    Follower(std::function<Result<void>()> first, std::vector<size_t> readyAfter, std::function<Result<void>(size_t)> fn)
        : m_first(std::move(first))
        , m_readyAfter(std::move(readyAfter))
        , m_fn(std::move(fn))
        , m_thread([this] {
            run();
        })
    {
    }
    ~Follower()
    {
        (void)finish();
    }
    Follower(const Follower &) = delete;
    Follower &operator=(const Follower &) = delete;

    // The first `count` processes are ready.
    void ready(size_t count)
    {
        {
            std::lock_guard lock(m_mutex);
            m_ready = count;
        }
        m_changed.notify_one();
    }
    bool failed() const
    {
        return m_failed.load(std::memory_order_acquire);
    }
    // Waits for the processes ready so far, and says how they went.
    Result<void> finish()
    {
        if (m_thread.joinable()) {
            {
                std::lock_guard lock(m_mutex);
                m_finishing = true;
            }
            m_changed.notify_one();
            m_thread.join();
        }
        return m_result;
    }

private:
    void run()
    {
        m_result = m_first();
        if (!m_result) {
            m_failed.store(true, std::memory_order_release);
            return;
        }
        for (size_t i = 0; i < m_readyAfter.size(); ++i) {
            {
                std::unique_lock lock(m_mutex);
                m_changed.wait(lock, [&] {
                    return m_ready >= m_readyAfter[i] || m_finishing;
                });
                if (m_ready < m_readyAfter[i]) {
                    return;
                }
            }
            m_result = m_fn(i);
            if (!m_result) {
                m_failed.store(true, std::memory_order_release);
                return;
            }
        }
    }

    const std::function<Result<void>()> m_first;
    const std::vector<size_t> m_readyAfter;
    const std::function<Result<void>(size_t)> m_fn;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    size_t m_ready = 0;
    bool m_finishing = false;
    std::atomic<bool> m_failed{false};
    Result<void> m_result;
    std::thread m_thread; // last: started once the rest is set up
};
} // namespace

Result<void> checkpointCapture(CheckpointContext &ctx)
{
    auto step = ctx.trace.scope("tree record");
    CRYOPOD_PROPAGATE(store(ctx.tree, dumpProcessTree(ctx.frozen)));
    step.end();
    // What the rest of the system holds of the tree, now that it cannot
    // change: for the second halves, so scanned before them.
    TreeScope scope;
    TaskSharing sharing;
    MappedFiles mappedFiles; // looked at once for the whole tree
    auto scan = [&]() -> Result<void> {
        auto s = ctx.trace.scope("scan the system for the tree's files");
        scope = TreeScope::scan(std::set<pid_t>(ctx.frozen.order.begin(), ctx.frozen.order.end()));
        scope.tcpEstablished = ctx.options.tcpEstablished;
        CRYOPOD_PROPAGATE(scope.detach(ctx.pid, ctx.options.detachedFds));
        s.next("scan the system for shared address spaces, fd tables");
        sharing = TaskSharing::scan(ctx.frozen.order);
        return {};
    };
    // The live processes in the tree's order, and for each how many of them
    // must be through the first half before its second half may start: all
    // that share its address space (one of them maps the scratch page, which
    // the layout must not show).
    std::vector<const image::ProcessEntry *> live;
    for (const image::ProcessEntry &entry : ctx.tree.processes) {
        if (!entry.zombie) {
            live.push_back(&entry);
        }
    }
    auto addressSpace = [](const image::ProcessEntry *entry) {
        return entry->vmOf != 0 ? entry->vmOf : entry->pid;
    };
    std::vector<size_t> readyAfter(live.size());
    for (size_t i = 0; i < live.size(); ++i) {
        for (size_t j = 0; j < live.size(); ++j) {
            if (addressSpace(live[j]) == addressSpace(live[i])) {
                readyAfter[i] = j + 1;
            }
        }
    }
    ctx.processes.resize(live.size());
    const pid_t tracer = pid_t(::gettid());
    auto rest = [&](size_t i) {
        const auto early = ctx.earlySmaps.find(live[i]->pid);
        return captureProcessRest(ctx.processes[i], tracer, scope, sharing, mappedFiles, live[i]->filesOf == 0, live[i]->vmOf == 0,
                                  early == ctx.earlySmaps.end() ? nullptr : &early->second, ctx.trace);
    };
    // The scans and the second halves (smaps, the second analysis, the fd
    // tables: /proc only) run on a thread of their own beside the first
    // halves of the processes after them, on the CPU the tracer leaves idle
    // while it waits for each injected call ($CRYOPOD_DUMP_SERIAL_CAPTURE=1:
    // all on this thread, the scans first, the second halves after all first
    // halves, for A/B runs).
    const char *serial = std::getenv("CRYOPOD_DUMP_SERIAL_CAPTURE");
    std::optional<Follower> follower;
    if (!(serial && *serial && *serial != '0')) {
        follower.emplace(scan, readyAfter, rest);
    } else {
        CRYOPOD_PROPAGATE(scan());
    }
    auto both = ctx.trace.scope("capture: both halves, all processes");
    Result<void> injected;
    size_t done = 0;
    for (; done < live.size() && !(follower && follower->failed()); ++done) {
        injected = captureProcessInjected(*ctx.frozen.find(live[done]->pid), ctx.processes[done], ctx.trace);
        if (!injected) {
            break;
        }
        if (follower) {
            follower->ready(done + 1);
        }
    }
    // The follower's failure first: it is of an earlier process than the
    // tracer's (a refusal of the second analysis is named as the precheck
    // would name it). Either way ctx.processes keeps the processes that went
    // through their first half (the refused one among them).
    const Result<void> followed = follower ? follower->finish() : Result<void>{};
    if (!followed || !injected) {
        ctx.processes.resize(done);
        return !followed ? followed : injected;
    }
    for (size_t i = 0; !follower && i < live.size(); ++i) {
        CRYOPOD_PROPAGATE(rest(i));
    }
    both.end();
    step.next("link shared files, terminals");
    // One object per pipe, socket or shared open file across the tree.
    std::vector<std::pair<pid_t, FilesDump *>> files;
    for (ProcessCapture &capture : ctx.processes) {
        if (capture.ownFiles) {
            files.emplace_back(capture.pid, &capture.files);
        }
    }
    CRYOPOD_PROPAGATE(linkSharedFiles(files));
    std::vector<const image::FilesRecord *> tables;
    for (const auto &[pid, dump] : files) {
        tables.push_back(&dump->files);
    }
    CRYOPOD_PROPAGATE(store(ctx.terminals, dumpTerminals(ctx.tree, tables)));
    step.next("sync shared file mappings");
    // One object per shared anonymous memory or memfd across the tree; files mapped
    // shared and writable are written back now, while nothing can change them.
    // An address space shared by several processes counts once.
    std::vector<std::pair<pid_t, image::MmRecord *>> mms;
    for (ProcessCapture &capture : ctx.processes) {
        if (!capture.ownMm) {
            continue;
        }
        mms.emplace_back(capture.pid, &capture.mm);
        CRYOPOD_PROPAGATE(syncSharedFileMappings(capture.pid, capture.mappings));
    }
    step.next("link shared memory, SysV");
    std::vector<std::pair<pid_t, image::FilesRecord *>> fdTables;
    for (const auto &[pid, dump] : files) {
        fdTables.emplace_back(pid, &dump->files);
    }
    CRYOPOD_PROPAGATE(store(ctx.sharedMemory, linkSharedMemory(mms, fdTables, scope.pids)));
    // The SysV objects: the segments among that memory, the queues and
    // semaphore sets the tree used.
    CRYOPOD_PROPAGATE(store(ctx.sysv, dumpSysvIpc(ctx.sharedMemory, mms, scope.pids)));
    // Last: the tree's TCP connections as they are now, at one instant
    // (the kernel moved data on them while the processes were captured).
    if (ctx.options.tcpEstablished) {
        std::vector<CapturedTcp> connections;
        for (ProcessCapture &capture : ctx.processes) {
            if (capture.ownFiles) {
                std::ranges::move(capturedTcpConnections(capture.pid, capture.files.files, capture.files.objects), std::back_inserter(connections));
            }
        }
        CRYOPOD_PROPAGATE(settleTcpConnections(connections));
    }
    step.end();
    return {};
}

Result<void> checkpointCopyMemory(CheckpointContext &ctx)
{
    if (!ctx.options.lowPause) {
        return {};
    }
    if (!ctx.options.leaveRunning) {
        ctx.result.lowPauseFallback = "the tree is killed after the checkpoint: nothing runs on";
        return {};
    }
    if (ctx.options.outsideFreezer) {
        // Frozen again right after: nothing runs on (and a copy in a cgroup
        // the v1 freezer holds could not even be killed).
        ctx.result.lowPauseFallback = "the tree is held by the freezer: nothing runs on";
        return {};
    }
    for (const ProcessCapture &p : ctx.processes) {
        if (!p.ownMm) {
            continue; // copied with the process whose address space it shares
        }
        if (const std::string obstacle = memoryCopyObstacle(p.pid, p.mappings); !obstacle.empty()) {
            ctx.result.lowPauseFallback = "process " + std::to_string(p.pid) + ": " + obstacle;
            return {};
        }
    }
    // All or none: a copy that cannot be made (no memory, no pid left)
    // means the frozen dump, for the whole tree.
    const uint64_t copyStart = monotonicNs();
    std::vector<Tracee *> subreapers;
    for (const ProcessCapture &p : ctx.processes) {
        if (p.childSubreaper) {
            subreapers.push_back(&ctx.frozen.find(p.pid)->leader());
        }
    }
    auto subreaperPause = SubreaperPause::begin(subreapers);
    if (!subreaperPause) {
        return std::unexpected(subreaperPause.error().context("memory copy"));
    }
    for (ProcessCapture &p : ctx.processes) {
        if (!p.ownMm) {
            continue;
        }
        FrozenProcess *process = ctx.frozen.find(p.pid);
        auto injector = Injector::create(process->leader());
        if (injector) {
            const image::ThreadRecord &leader = p.threads.front();
            injector->setGuard(seccompGuard(leader.tid, leader.seccompMode, leader.seccompFilters));
        }
        Result<MemoryCopy> copy = injector ? MemoryCopy::take(*injector, p.mappings) : Result<MemoryCopy>(std::unexpected(injector.error()));
        if (injector) {
            if (auto finished = injector->finish(); !finished) {
                return std::unexpected(finished.error().context("memory copy of " + std::to_string(p.pid)));
            }
        }
        if (!copy) {
            for (ProcessCapture &q : ctx.processes) {
                (void)q.copy.release();
            }
            ctx.result.lowPauseFallback = "process " + std::to_string(p.pid) + ": no copy of its memory: " + copy.error().describe();
            return {};
        }
        p.copy = std::move(*copy);
    }
    if (auto r = subreaperPause->end(); !r) {
        return std::unexpected(r.error().context("memory copy"));
    }
    ctx.result.copyNs = monotonicNs() - copyStart;
    // Everything but the memory is captured and each address space has its
    // copy: the tree runs on while the image is written (at whatever speed
    // the fd takes it). Shared memory is the exception: the copies share it
    // with the running tree, so it is read (checkpointWrite) before the thaw.
    if (!ctx.sharedMemory.records.empty()) {
        return {};
    }
    return checkpointRelease(ctx);
}

Result<void> checkpointVerifyCopies(CheckpointContext &ctx)
{
    for (ProcessCapture &p : ctx.processes) {
        if (!p.ownMm) {
            continue;
        }
        if (p.copy.pid() == 0) {
            return {};
        }
        auto copySmaps = procfs::readSmaps(p.copy.pid());
        if (!copySmaps) {
            return std::unexpected(copySmaps.error().context("memory copy of " + std::to_string(p.pid)));
        }
        if (std::string differs = adoptCopyLayout(p.mappings, *copySmaps); !differs.empty()) {
            ctx.retryFrozen = "process " + std::to_string(p.pid) + ": " + differs;
            for (ProcessCapture &q : ctx.processes) {
                (void)q.copy.release();
            }
            return {};
        }
    }
    return {};
}

Result<void> checkpointWrite(CheckpointContext &ctx)
{
    image::WriterOptions writerOptions;
    writerOptions.compressionLevel = ctx.options.compressionLevel;
    writerOptions.compress = ctx.options.compress;
    writerOptions.workers = ctx.options.workers;
    // checkpointOnThisThread() blocked it before any thread that writes was
    // started (they inherit the mask), until the image is done.
    writerOptions.sigpipeBlocked = true;
    // $CRYOPOD_DUMP_TRACE: the CPU time of each part of the page dump on
    // stderr; $CRYOPOD_DUMP_PIECE_KIB: the piece size of reading and of
    // checksumming and writing (0: whole batches, for comparisons).
    PagesOptions pagesOptions = ctx.pagesOptions;
    const char *trace = std::getenv("CRYOPOD_DUMP_TRACE");
    pagesOptions.cpuTimes = pagesOptions.cpuTimes || (trace && *trace && *trace != '0');
    writerOptions.measureTimes = pagesOptions.cpuTimes;
    if (const char *piece = std::getenv("CRYOPOD_DUMP_PIECE_KIB"); piece && *piece) {
        pagesOptions.pieceBytes = size_t(std::strtoull(piece, nullptr, 10)) << 10;
        writerOptions.pieceBytes = pagesOptions.pieceBytes;
    }
    // $CRYOPOD_DUMP_ZEROPFN=0: shared zero pages are read and found by
    // their contents (PagesOptions::zeroPfnHoles), for A/B runs.
    if (const char *zeroPfn = std::getenv("CRYOPOD_DUMP_ZEROPFN"); zeroPfn && *zeroPfn) {
        pagesOptions.zeroPfnHoles = *zeroPfn != '0';
    }
    // $CRYOPOD_DUMP_PAGEMAP_READ=1: a pagemap entry read per page instead
    // of PAGEMAP_SCAN (PagesOptions::pagemapScan), for A/B runs.
    if (const char *read = std::getenv("CRYOPOD_DUMP_PAGEMAP_READ"); read && *read) {
        pagesOptions.pagemapScan = *read == '0';
    }
    // $CRYOPOD_DUMP_NO_PIPELINE=1: each process's pages written before the
    // next process is read (PagesOptions::acrossProcesses), for A/B runs;
    // $CRYOPOD_DUMP_BATCH_KIB, $CRYOPOD_DUMP_BUFFERS: the size and number
    // of the page buffers (tests that want many batches per process).
    if (const char *noPipeline = std::getenv("CRYOPOD_DUMP_NO_PIPELINE"); noPipeline && *noPipeline) {
        pagesOptions.acrossProcesses = *noPipeline == '0';
    }
    if (const char *batch = std::getenv("CRYOPOD_DUMP_BATCH_KIB"); batch && *batch) {
        pagesOptions.batchBytes = size_t(std::strtoull(batch, nullptr, 10)) << 10;
    }
    if (const char *buffers = std::getenv("CRYOPOD_DUMP_BUFFERS"); buffers && *buffers) {
        pagesOptions.buffers = size_t(std::strtoull(buffers, nullptr, 10));
    }
    // $CRYOPOD_DUMP_READER_CHECKSUMS=1/0: the reader checksums every batch /
    // none (PagesOptions::readerChecksums), for A/B runs.
    if (const char *sums = std::getenv("CRYOPOD_DUMP_READER_CHECKSUMS"); sums && *sums) {
        pagesOptions.readerChecksums = *sums == '0' ? PagesOptions::ReaderChecksums::Never : PagesOptions::ReaderChecksums::Always;
    }
    auto writer = image::ImageWriter::create(ctx.outFd, makeHeader(), writerOptions);
    if (!writer) {
        return std::unexpected(writer.error().context("write image"));
    }
    ctx.writer = std::move(*writer);
    image::ImageWriter &w = *ctx.writer;

    // All metadata before the pages: restore builds the process from it and
    // then streams the pages straight into place.
    auto written = [](Result<void> r) -> Result<void> {
        if (!r) {
            return std::unexpected(r.error().context("write image"));
        }
        return {};
    };
    // Process by process in the tree's order; the file objects (which fds of
    // any process may name) before the first Files record.
    auto step = ctx.trace.scope("write: records");
    CRYOPOD_PROPAGATE(written(w.write(ctx.tree)));
    // Shared memory is read here, before any thaw (also with low pause: the
    // copies of the address spaces share it with the running tree), one
    // object at a time.
    for (size_t i = 0; i < ctx.sharedMemory.records.size(); ++i) {
        CRYOPOD_PROPAGATE(captureSharedMemory(ctx.sharedMemory, i));
        image::SharedMemoryRecord &record = ctx.sharedMemory.records[i];
        CRYOPOD_PROPAGATE(written(w.write(record)));
        ctx.result.sharedMemoryBytes += record.data.size();
        record.data = {};
    }
    for (const image::SysvIpcRecord &record : ctx.sysv.records) {
        CRYOPOD_PROPAGATE(written(w.write(record)));
    }
    for (const ProcessCapture &p : ctx.processes) {
        CRYOPOD_PROPAGATE(written(w.write(p.task)));
        CRYOPOD_PROPAGATE(written(w.write(p.creds)));
        CRYOPOD_PROPAGATE(written(w.write(p.signals)));
        CRYOPOD_PROPAGATE(written(w.write(p.timers)));
        for (const image::ThreadRecord &thread : p.threads) {
            CRYOPOD_PROPAGATE(written(w.write(thread)));
        }
        if (p.ownMm) {
            CRYOPOD_PROPAGATE(written(w.write(p.mm)));
        }
    }
    for (const ProcessCapture &p : ctx.processes) {
        for (const image::FileObjectRecord &object : p.files.objects) {
            CRYOPOD_PROPAGATE(written(w.write(object)));
        }
    }
    // The terminals before the fd tables naming them.
    for (const image::TerminalRecord &terminal : ctx.terminals) {
        CRYOPOD_PROPAGATE(written(w.write(terminal)));
    }
    // Every fd table before the first file contents: restore has all
    // metadata once the first FileData (or Pages) comes.
    for (const ProcessCapture &p : ctx.processes) {
        if (p.ownFiles) {
            CRYOPOD_PROPAGATE(written(w.write(p.files.files)));
        }
    }
    for (const ProcessCapture &p : ctx.processes) {
        for (const image::FileDataRecord &data : p.files.data) {
            CRYOPOD_PROPAGATE(written(w.write(data)));
        }
    }
    // Low pause: everything but the memory is in the image and each address
    // space has its copy, so the tree runs on; the pages come from the copies.
    const bool fromCopies = !ctx.processes.empty() && ctx.processes.front().copy.pid() != 0;
    ctx.result.lowPause = fromCopies;
    if (fromCopies) {
        CRYOPOD_PROPAGATE(checkpointRelease(ctx)); // thawed already unless shared memory was read above
    }
    step.end();
    // One pipeline for the tree (mem.h): process k+1 is read while process
    // k is written. A copy is let go as soon as its pages are read into the
    // buffers (before they are written).
    {
        PageDump pageDump(w, pagesOptions);
        for (ProcessCapture &p : ctx.processes) {
            if (!p.ownMm) {
                continue; // its pages are those of the process whose address space it shares
            }
            auto pageStep = ctx.trace.scope("write: pages (read, queued)", p.pid);
            auto added = pageDump.add(p.pid, p.mm, p.mappings, fromCopies ? p.copy.pid() : 0);
            pageStep.end();
            if (fromCopies) {
                auto copyStep = ctx.trace.scope("write: pages, let the copy go", p.pid);
                (void)p.copy.release();
            }
            if (!added) {
                return std::unexpected(added.error().context("write image"));
            }
        }
        auto tail = ctx.trace.scope("write: pages, the writer's rest");
        auto finished = pageDump.finish();
        tail.end();
        ctx.pages = pageDump.stats();
        if (!finished) {
            return std::unexpected(finished.error().context("write image"));
        }
    }
    step.next("write: finish");
    CRYOPOD_PROPAGATE(written(w.finish()));
    step.end();
    if (trace && *trace && *trace != '0') {
        const PagesStats &st = ctx.pages;
        const image::WriterTimes times = w.times();
        auto ms = [](uint64_t ns) {
            return double(ns) / 1e6;
        };
        std::fprintf(stderr,
                     "cryopod dump trace: %.1f MiB in %llu pages saved, %llu zero pages, %llu mapped to the zero page (not read), %llu batches, "
                     "pieces of %zu KiB, %zu buffers of %zu KiB, %s; "
                     "reading thread CPU: pagemap %.1f ms, process_vm_readv %.1f ms, zero scan %.1f ms, checksum %.1f ms (%llu batches); "
                     "writing thread CPU: %.1f ms in writePages (checksum %.1f ms, write %.1f ms, zstd %.1f ms); "
                     "wall: pages %.1f ms, process_vm_readv %.1f ms, zero scan %.1f ms, waiting for the writer %.1f ms\n",
                     double(st.pagesSaved) * 4096 / 1048576.0, static_cast<unsigned long long>(st.pagesSaved), static_cast<unsigned long long>(st.zeroPages),
                     static_cast<unsigned long long>(st.zeroMappedPages), static_cast<unsigned long long>(st.batches), pagesOptions.pieceBytes >> 10,
                     pagesOptions.buffers, size_t(st.batchBytes >> 10),
                     pagesOptions.acrossProcesses ? "one pipeline for the tree" : "no pipeline across processes", ms(st.pagemapCpuNs), ms(st.readCpuNs),
                     ms(st.scanCpuNs), ms(st.readerChecksumCpuNs), static_cast<unsigned long long>(st.readerChecksums), ms(st.writerCpuNs),
                     ms(times.checksumCpuNs), ms(times.writeCpuNs), ms(times.compressCpuNs), ms(st.wallNs), ms(st.readNs), ms(st.scanNs), ms(st.writeWaitNs));
    }
    return {};
}

Result<void> checkpointRelease(CheckpointContext &ctx)
{
    if (ctx.thawNs != 0) {
        return {}; // thawed already (low pause)
    }
    ctx.thawNs = monotonicNs();
    auto step = ctx.trace.scope(ctx.options.leaveRunning ? "thaw" : "kill");
    QuietTcpConnections quiet; // out of repair mode again unless the tree is killed
    if (!ctx.options.leaveRunning && ctx.options.tcpEstablished) {
        for (const ProcessCapture &p : ctx.processes) {
            CRYOPOD_PROPAGATE(quiet.add(p.pid, p.files.files, p.files.objects));
        }
    }
    CRYOPOD_PROPAGATE(quiet.disconnect());
    auto r = ctx.options.leaveRunning ? ctx.frozen.thaw() : ctx.frozen.kill();
    if (!r) {
        return std::unexpected(r.error());
    }
    quiet.commit();
    if (!ctx.options.leaveRunning) {
        removeSysvIpc(ctx.sysv); // they are in the image, and go with the tree
    }
    return {};
}

namespace
{
Result<CheckpointResult>
checkpointOnThisThread(pid_t pid, int outFd, const CheckpointOptions &options, const PagesOptions &pagesOptions, PagesStats *pagesStats, bool *written)
{
    CheckpointContext ctx;
    ctx.pid = pid;
    ctx.outFd = outFd;
    ctx.options = options;
    ctx.pagesOptions = pagesOptions;
    ctx.startNs = monotonicNs();
    ctx.trace.setLevel(StepTrace::levelOf("CRYOPOD_DUMP_TRACE"));
    const ScopedSigpipeBlock sigpipe;

    const std::string what = "checkpoint " + std::to_string(pid);
    auto step = [&what](Result<void> r) -> Result<void> {
        if (!r) {
            return std::unexpected(r.error().context(what));
        }
        return {};
    };
    CRYOPOD_PROPAGATE(checkpointPrecheck(ctx)); // "1234 (comm) cannot be checkpointed: ..." needs no prefix
    CRYOPOD_PROPAGATE(step(checkpointFreeze(ctx)));
    if (auto captured = checkpointCapture(ctx); !captured) {
        // A refusal of the second analysis reads as the precheck's would
        // ("1234 (comm) cannot be checkpointed: ..."): what only smaps shows
        // is first looked at there (AnalyzeContext::mapsOnly).
        const bool refused = std::ranges::any_of(ctx.processes, [](const ProcessCapture &p) {
            return p.refused;
        });
        if (!refused) {
            return std::unexpected(captured.error().context(what));
        }
        // Let go of the tree, and name everything the precheck would have
        // named had it read smaps (the whole tree, not just the first
        // process refused).
        CRYOPOD_PROPAGATE(step(ctx.frozen.thaw()));
        auto again = analyzeTree(pid, options.detachedFds, options.tcpEstablished, nullptr);
        if (again && again->verdict == Verdict::Refused) {
            return fail(refusalMessage(*again), again->passing() ? EAGAIN : ENOTSUP);
        }
        return std::unexpected(captured.error());
    }
    CRYOPOD_PROPAGATE(step(checkpointCopyMemory(ctx)));
    CRYOPOD_PROPAGATE(step(checkpointVerifyCopies(ctx)));
    if (!ctx.retryFrozen.empty()) {
        // The layout changed between the analysis and the pause in a way
        // maps does not show. Nothing is written yet: again, frozen.
        CRYOPOD_PROPAGATE(step(checkpointRelease(ctx)));
        CheckpointOptions frozenOptions = options;
        frozenOptions.lowPause = false;
        auto again = checkpointOnThisThread(pid, outFd, frozenOptions, pagesOptions, pagesStats, written);
        if (again) {
            again->lowPauseFallback = "the memory layout changed during the snapshot: " + ctx.retryFrozen;
        }
        return again;
    }
    if (written) {
        *written = true;
    }
    CRYOPOD_PROPAGATE(step(checkpointWrite(ctx)));
    CRYOPOD_PROPAGATE(step(checkpointRelease(ctx)));
    const uint64_t end = monotonicNs();

    ctx.result.root = pid;
    ctx.result.imageBytes = ctx.writer->bytesWritten();
    ctx.result.rawBytes = ctx.writer->rawBytes();
    ctx.result.pagesSaved = ctx.pages.pagesSaved;
    ctx.result.pauseNs = (ctx.result.lowPause ? ctx.thawNs : end) - ctx.freezeNs;
    ctx.result.totalNs = end - ctx.startNs;
    ctx.trace.print("cryopod dump steps", ctx.result.totalNs);
    if (pagesStats) {
        *pagesStats = ctx.pages;
    }
    return ctx.result;
}
} // namespace

Result<CheckpointResult> checkpointWith(pid_t pid, int outFd, const CheckpointOptions &options, const PagesOptions &pagesOptions, PagesStats *pagesStats)
{
    // Every ptrace attachment belongs to the thread that made it, and the
    // kernel detaches a thread's tracees when it exits. A thread that never
    // reaches its ptrace stop (uninterruptible sleep past the freeze timeout)
    // cannot be detached by PTRACE_DETACH; running the checkpoint on a thread
    // of its own means it is detached (and runs on untouched) when this
    // thread ends, instead of stopping for good once it wakes up.
    //
    // A refusal for a passing state (EAGAIN: a vfork child caught before its
    // exec, which it cannot reach while the tree is frozen) comes before
    // anything is written and after the tree is let go again: the whole
    // checkpoint is tried again, every 10 ms, for at most a second in all.
    const uint64_t giveUpNs = monotonicNs() + 1'000'000'000ull;
    for (;;) {
        std::optional<Result<CheckpointResult>> result;
        bool written = false;
        std::thread worker([&] {
            result.emplace(checkpointOnThisThread(pid, outFd, options, pagesOptions, pagesStats, &written));
        });
        worker.join();
        if (*result || written || result->error().code != EAGAIN || monotonicNs() >= giveUpNs) {
            return std::move(*result);
        }
        ::usleep(10000);
    }
}

Result<CheckpointResult> checkpoint(pid_t pid, int outFd, const CheckpointOptions &options)
{
    return checkpointWith(pid, outFd, options, PagesOptions{});
}

} // namespace cryopod::engine
