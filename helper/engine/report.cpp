// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "engine.h"

#include "files.h"
#include "mem.h"
#include "pipes.h"
#include "procfs.h"
#include "report.h"

#include "shmem.h"
#include "sysvipc.h"
#include "timers.h"
#include "tty.h"

#include <algorithm>
#include <array>
#include <dirent.h>
#include <linux/kcmp.h>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cryopod::engine
{

namespace
{

Verdict worse(Verdict a, Verdict b)
{
    return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

const char *verdictWord(Verdict v)
{
    switch (v) {
    case Verdict::Ok:
        return "ok";
    case Verdict::Caveat:
        return "caveat";
    case Verdict::Refused:
        return "refused";
    }
    return "?";
}

void note(ProcessReport &report, Verdict verdict, std::string reason)
{
    report.verdict = worse(report.verdict, verdict);
    report.reasons.push_back(std::move(reason));
}

void checkNamespaces(pid_t pid, ProcessReport &report)
{
    struct Ns {
        const char *name;
        Verdict verdict;
    };
    // Restore recreates the process in the caller's namespaces.
    const Ns namespaces[] = {
        {"mnt", Verdict::Refused},
        {"pid", Verdict::Refused},
        {"user", Verdict::Refused},
        {"net", Verdict::Caveat},
        {"ipc", Verdict::Caveat},
        {"uts", Verdict::Caveat},
        {"cgroup", Verdict::Caveat},
        {"time", Verdict::Caveat},
    };
    for (const Ns &ns : namespaces) {
        auto theirs = procfs::readLink(procfs::path(pid, std::string("ns/") + ns.name));
        auto ours = procfs::readLink(std::string("/proc/self/ns/") + ns.name);
        if (!theirs || !ours || *theirs == *ours) {
            continue;
        }
        if (ns.verdict == Verdict::Refused) {
            note(report, ns.verdict, std::string("runs in another ") + ns.name + " namespace (" + *theirs + "): engine v1 restores into cryopod's own");
        } else {
            note(report, ns.verdict, std::string("runs in another ") + ns.name + " namespace (" + *theirs + "): it is restored into cryopod's own");
        }
    }
}

// Whether a thread is on its way out (PF_EXITING in the flags of
// /proc/PID/task/TID/stat, or already gone): it has let go of its fd table,
// fs and undo list, which kcmp then shows as different from the leader's.
bool exiting(pid_t pid, pid_t tid)
{
    constexpr uint64_t kPfExiting = 0x4;
    auto stat = procfs::readStat(pid, tid);
    return !stat || stat->state() == 'Z' || stat->state() == 'X' || (stat->number(9) & kPfExiting) != 0;
}

// What threads may have that the engine does not restore per thread: it
// recreates every thread with the process's credentials, sharing its cwd,
// root, umask, fd table and SysV undo list, in its namespaces. Returns the
// status of every other thread (the leader's is `leader`), for the checks after.
std::vector<std::pair<pid_t, procfs::Status>> checkThreads(pid_t pid, const procfs::Status &leader, ProcessReport &report)
{
    std::vector<std::pair<pid_t, procfs::Status>> statuses;
    auto tids = procfs::listThreads(pid);
    if (!tids) {
        return statuses;
    }
    // Lines of /proc/PID/task/TID/status that are per thread in the kernel
    // but restored per process.
    const char *const sameAsLeader[] = {"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"};
    const char *const namespaces[] = {"mnt", "pid_for_children", "user", "net", "ipc", "uts", "cgroup", "time_for_children"};
    const std::pair<int, const char *> shared[] = {
        {KCMP_FILES, "a file descriptor table of its own (unshare(CLONE_FILES))"},
        {KCMP_FS, "a cwd, root and umask of its own (unshare(CLONE_FS))"},
        {KCMP_SYSVSEM, "a SysV semaphore undo list of its own"},
    };
    // The process's namespaces, read once for all its threads.
    std::array<Result<std::string>, std::size(namespaces)> processNs;
    if (tids->size() > 1) {
        for (size_t i = 0; i < std::size(namespaces); ++i) {
            processNs[i] = procfs::readLink(procfs::path(pid, std::string("ns/") + namespaces[i]));
        }
    }
    for (const pid_t tid : *tids) {
        if (tid == pid) {
            continue;
        }
        const std::string who = "thread " + std::to_string(tid);
        auto status = procfs::readStatus(pid, tid);
        if (!status) {
            continue; // it exited meanwhile
        }
        for (const char *key : sameAsLeader) {
            const auto mine = status->find(key);
            const auto theirs = leader.find(key);
            std::string a = mine == status->end() ? std::string() : mine->second;
            std::string b = theirs == leader.end() ? std::string() : theirs->second;
            std::replace(a.begin(), a.end(), '\t', ' ');
            std::replace(b.begin(), b.end(), '\t', ' ');
            if (a != b) {
                note(report,
                     Verdict::Refused,
                     who + " has its own " + key + " (" + a + ", the process " + b + "): threads are restored with the credentials of the process");
            }
        }
        for (const auto &[type, what] : shared) {
            const long r = ::syscall(SYS_kcmp, pid, tid, type, 0, 0);
            if (r > 0 && !exiting(pid, tid)) {
                note(report, Verdict::Refused, who + " has " + what + ": not supported");
            }
        }
        const std::string taskNs = procfs::path(pid, "task/" + std::to_string(tid) + "/ns/");
        for (size_t i = 0; i < std::size(namespaces); ++i) {
            auto mine = procfs::readLink(taskNs + namespaces[i]);
            const Result<std::string> &theirs = processNs[i];
            if (mine && theirs && *mine != *theirs) {
                note(report, Verdict::Refused, who + " runs in another " + namespaces[i] + " namespace (" + *mine + ") than the process: not supported");
            }
        }
        statuses.emplace_back(tid, std::move(*status));
    }
    return statuses;
}

// kcmp compares the kernel's pointers: a process on its way out (its
// address space and fd table already let go) and a kernel thread both have
// none, and "share" that. Only processes with an address space count.
bool hasMm(pid_t p)
{
    auto stat = procfs::readStat(p);
    return stat && stat->number(23) != 0 && !stat->kernelThread() && stat->state() != 'Z' && stat->state() != 'X';
}

// An fd table or address space the process shares with another process
// (CLONE_FILES, CLONE_VM, vfork): restored inside the tree when the process
// was made with that flag by its parent (or by a process that shares it
// too), since restore creates it that way; one shared with a process
// outside the checkpoint could not be shared again.
void checkSharedWithOthers(pid_t pid, const std::set<pid_t> *tree, const TaskSharing &sharing, ProcessReport &report)
{
    const auto found = sharing.of.find(pid);
    if (found == sharing.of.end()) {
        return; // no address space, or nothing shared
    }
    auto parentOf = [](pid_t p) {
        auto stat = procfs::readStat(p);
        return stat ? pid_t(stat->number(4)) : pid_t(0);
    };
    // Made with `type` shared by its parent in the tree, or the parent of
    // the process it shares it with.
    auto throughParent = [&](pid_t other, int type) {
        const pid_t parent = parentOf(pid);
        const bool viaParent = ::syscall(SYS_kcmp, pid, parent, type, 0, 0) == 0 && tree && tree->contains(parent);
        return viaParent || parentOf(other) == pid;
    };
    for (const TaskSharing::Sharer &sharer : found->second) {
        const pid_t other = sharer.other;
        if (!hasMm(other)) {
            continue;
        }
        const bool inside = tree && inTree(other, *tree);
        const std::string who = "process " + std::to_string(other) + " (" + procfs::commOf(other) + ")" + (inside ? "" : " outside the checkpoint");
        if (sharer.sameVm) {
            // A vfork child (posix_spawn's too) shares its parent's address
            // space only until it calls exec or exits, moments later; its
            // parent waits for that in vfork(). Any other sharer lasts.
            const bool vfork = (parentOf(pid) == other && procfs::waitsInVfork(other)) || (parentOf(other) == pid && procfs::waitsInVfork(pid));
            if (vfork) {
                report.passing = true;
                note(report, Verdict::Refused,
                     "shares its address space with " + who + ": a vfork child that has not called exec yet (a checkpoint waits for the exec)");
            } else if (!inside) {
                note(report, Verdict::Refused, "shares its address space with " + who + " (CLONE_VM): it cannot be shared again after a restore");
            } else if (!throughParent(other, KCMP_VM)) {
                note(report, Verdict::Refused, "shares its address space with " + who + " (CLONE_VM), not through its parent: not supported");
            }
        }
        if (sharer.sameFiles) {
            // Restored by creating the process with CLONE_FILES from its
            // parent: fine inside the tree when the parent has that table.
            if (!inside) {
                note(report, Verdict::Refused, "shares its fd table with " + who + " (CLONE_FILES): it cannot be shared again after a restore");
            } else if (!throughParent(other, KCMP_FILES)) {
                note(report, Verdict::Refused, "shares its fd table with " + who + " (CLONE_FILES), not through its parent: not supported");
            }
        }
    }
}

// A zombie (exited, not reaped) that is a whole process: its threads are gone too.
bool isZombieProcess(pid_t pid)
{
    auto stat = procfs::readStat(pid);
    if (!stat || stat->state() != 'Z') {
        return false;
    }
    auto threads = procfs::listThreads(pid);
    return !threads || threads->size() <= 1;
}

} // namespace

TaskSharing TaskSharing::scan(const std::vector<pid_t> &tree)
{
    // kcmp(a, b, type): 0 the same object, 1 a's before b's, 2 after, -1
    // when either process is gone (or may not be looked at).
    auto kcmp = [](pid_t a, pid_t b, int type) {
        return ::syscall(SYS_kcmp, a, b, type, 0, 0);
    };
    // The tree's processes with an address space, sorted by the object of
    // `type` (binary insertion: a process that vanishes meanwhile is left
    // out, and an answer that contradicts an earlier one cannot upset a
    // library sort).
    auto sorted = [&](int type) {
        std::vector<pid_t> order;
        for (const pid_t p : tree) {
            if (!hasMm(p)) {
                continue;
            }
            size_t lo = 0, hi = order.size();
            bool gone = false;
            while (lo < hi) {
                const size_t mid = lo + (hi - lo) / 2;
                const long r = kcmp(order[mid], p, type);
                if (r < 0) {
                    gone = true;
                    break;
                }
                if (r == 1) {
                    lo = mid + 1;
                } else {
                    hi = mid; // equal ones stay together
                }
            }
            if (!gone) {
                order.insert(order.begin() + ptrdiff_t(lo), p);
            }
        }
        return order;
    };
    const std::vector<pid_t> byVm = sorted(KCMP_VM);
    const std::vector<pid_t> byFiles = sorted(KCMP_FILES);
    // The processes of `order` whose object of `type` is other's.
    auto sharers = [&](const std::vector<pid_t> &order, pid_t other, int type, auto &&add) {
        size_t lo = 0, hi = order.size();
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            const long r = kcmp(order[mid], other, type);
            if (r < 0) {
                return;
            }
            if (r == 1) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        // lo: the first not before other's object; the equal ones follow.
        for (size_t i = lo; i < order.size() && kcmp(order[i], other, type) == 0; ++i) {
            if (order[i] != other) {
                add(order[i]);
            }
        }
    };
    TaskSharing sharing;
    std::unique_ptr<DIR, int (*)(DIR *)> proc(::opendir("/proc"), ::closedir);
    if (!proc) {
        return sharing;
    }
    std::vector<pid_t> others;
    const procfs::WithoutMm withoutMm = procfs::WithoutMm::find(); // kernel threads share nothing
    while (const dirent *entry = ::readdir(proc.get())) {
        char *end = nullptr;
        const long other = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || other <= 0 || other == ::getpid() || withoutMm(pid_t(other))) {
            continue;
        }
        others.push_back(pid_t(other));
    }
    std::sort(others.begin(), others.end());
    for (const pid_t other : others) {
        auto entryFor = [&](pid_t p) -> Sharer & {
            std::vector<Sharer> &list = sharing.of[p];
            if (list.empty() || list.back().other != other) {
                list.push_back(Sharer{other, false, false});
            }
            return list.back();
        };
        sharers(byVm, other, KCMP_VM, [&](pid_t p) {
            entryFor(p).sameVm = true;
        });
        sharers(byFiles, other, KCMP_FILES, [&](pid_t p) {
            entryFor(p).sameFiles = true;
        });
    }
    return sharing;
}

bool Report::passing() const
{
    return std::any_of(processes.cbegin(), processes.cend(), [](const ProcessReport &p) {
        return p.passing;
    });
}

std::string Report::summary() const
{
    std::string out;
    for (const ProcessReport &p : processes) {
        const std::string who = std::to_string(p.pid) + " (" + p.comm + ")";
        for (const std::string &reason : p.reasons) {
            out += who + ": " + reason + "\n";
        }
        for (const FdReport &fd : p.fds) {
            if (fd.verdict != Verdict::Ok) {
                out += who + ": " + (fd.reason.empty() ? "fd " + std::to_string(fd.fd) + " " + verdictWord(fd.verdict) : fd.reason) + "\n";
            }
        }
    }
    return out;
}

std::string refusalMessage(const Report &report)
{
    std::string out;
    for (const ProcessReport &p : report.processes) {
        if (p.verdict == Verdict::Refused) {
            out += (out.empty() ? "" : "; and ") + refusalMessage(p);
        }
    }
    return out;
}

std::string refusalMessage(const ProcessReport &report)
{
    std::string out = std::to_string(report.pid) + " (" + report.comm + ") cannot be checkpointed: ";
    bool first = true;
    auto add = [&](const std::string &reason) {
        out += (first ? "" : "; ") + reason;
        first = false;
    };
    for (const std::string &reason : report.reasons) {
        add(reason);
    }
    for (const FdReport &fd : report.fds) {
        if (fd.verdict == Verdict::Refused) {
            add(fd.reason);
        }
    }
    return out;
}

Result<ProcessReport> analyzeProcess(pid_t pid, const AnalyzeContext &context)
{
    ProcessReport report;
    report.pid = pid;
    auto status = procfs::readStatus(pid);
    if (!status) {
        if (status.error().code == ENOENT) {
            return fail("no process " + std::to_string(pid), ESRCH);
        }
        return std::unexpected(status.error().context("analyze " + std::to_string(pid)));
    }
    auto stat = procfs::readStat(pid);
    if (!stat) {
        return std::unexpected(stat.error().context("analyze " + std::to_string(pid)));
    }
    report.comm = stat->fields.size() > 1 ? stat->fields[1] : std::string();
    report.ppid = pid_t(stat->number(4));

    const char state = stat->state();
    const auto threads = procfs::statusNumbers(*status, "Threads");
    const uint64_t threadCount = threads && !threads->empty() ? (*threads)[0] : 1;
    if ((state == 'Z' || state == 'X') && threadCount > 1) {
        note(report, Verdict::Refused,
             "its main thread has exited (pthread_exit) while " + std::to_string(threadCount - 1) + " other thread" + (threadCount > 2 ? "s run" : " runs")
                 + " on: not supported");
        return report;
    }
    if (state == 'Z' || state == 'X') {
        note(report, Verdict::Refused, "has exited (zombie, not yet reaped by its parent)");
        return report;
    }
    if (stat->kernelThread()) {
        note(report, Verdict::Refused, "is a kernel thread");
        return report;
    }
    if (pid == ::getpid()) {
        note(report, Verdict::Refused, "is the process doing the checkpoint");
        return report;
    }

    const std::vector<std::pair<pid_t, procfs::Status>> otherThreads = checkThreads(pid, *status, report);
    if (auto tracer = procfs::statusNumbers(*status, "TracerPid"); tracer && !tracer->empty() && (*tracer)[0] != 0
        && pid_t((*tracer)[0]) != context.ourTracer) {
        const pid_t t = pid_t((*tracer)[0]);
        note(report, Verdict::Refused, "is being traced by " + std::to_string(t) + " (" + procfs::commOf(t) + "), so it cannot be frozen with ptrace");
    }
    // Seccomp filters are captured and restored per thread (seccomp.h);
    // strict mode allows only read, write, _exit and sigreturn.
    auto strictSeccomp = [&](pid_t tid, const procfs::Status &threadStatus) {
        auto seccomp = procfs::statusNumbers(threadStatus, "Seccomp");
        if (seccomp && !seccomp->empty() && (*seccomp)[0] == 1) {
            note(report, Verdict::Refused,
                 "thread " + std::to_string(tid) +
                     " runs in seccomp strict mode, which allows only read, write, _exit and sigreturn: the checkpoint has to inject other system calls "
                     "into it");
        }
    };
    strictSeccomp(pid, *status);
    for (const auto &[tid, threadStatus] : otherThreads) {
        strictSeccomp(tid, threadStatus);
    }
    if ((state == 'T' || state == 't') && context.ourTracer == 0) {
        note(report, Verdict::Caveat, "is stopped (job control); the restored copy will be running");
    }
    checkNamespaces(pid, report);
    if (std::string why = semUndoCaveat(pid); !why.empty()) {
        note(report, Verdict::Caveat, std::move(why));
    }
    for (std::string &why : controllingTerminalCaveats(pid, *stat, context.scope ? &context.scope->pids : nullptr)) {
        note(report, Verdict::Caveat, std::move(why));
    }

    if (context.sharing) {
        checkSharedWithOthers(pid, context.scope ? &context.scope->pids : nullptr, *context.sharing, report);
    } else {
        checkSharedWithOthers(pid, context.scope ? &context.scope->pids : nullptr, TaskSharing::scan({pid}), report);
    }
    for (std::string &why : posixTimerRefusals(pid)) {
        note(report, Verdict::Refused, std::move(why));
    }
    if (auto cwd = procfs::readLink(procfs::path(pid, "cwd")); cwd && cwd->ends_with(" (deleted)")) {
        note(report, Verdict::Refused, "its working directory " + cwd->substr(0, cwd->size() - 10) + " was removed: engine v1 cannot enter it again");
    }
    if (auto exe = procfs::readLink(procfs::path(pid, "exe")); exe && exe->ends_with(" (deleted)")) {
        note(report, Verdict::Refused, "its executable " + *exe + " was deleted or replaced (an upgrade?): engine v1 cannot map it again");
    }

    // Memory.
    std::vector<procfs::Mapping> ownMappings;
    const std::vector<procfs::Mapping> *mappings = context.mappings;
    if (!mappings) {
        auto smaps = context.mapsOnly && !context.smapsRead ? procfs::readMaps(pid) : procfs::readSmaps(pid);
        if (!smaps) {
            return std::unexpected(smaps.error().context("analyze " + std::to_string(pid)));
        }
        ownMappings = std::move(*smaps);
        mappings = &ownMappings;
    }
    for (const procfs::Mapping &m : *mappings) {
        const MappingCheck check = checkMapping(pid, m, context.mappedFiles);
        if (check.verdict != Verdict::Ok) {
            note(report, check.verdict, check.reason);
        }
    }

    // Files.
    auto fds = checkFds(pid, context.scope);
    if (!fds) {
        return std::unexpected(fds.error().context("analyze " + std::to_string(pid)));
    }
    report.fds = std::move(*fds);
    for (const FdReport &fd : report.fds) {
        report.verdict = worse(report.verdict, fd.verdict);
    }
    if (context.smapsRead && !context.mappings) {
        *context.smapsRead = std::move(ownMappings);
    }
    return report;
}

Result<Report> analyze(pid_t pid, const std::set<int> &detachedFds, bool tcpEstablished)
{
    return analyzeTree(pid, detachedFds, tcpEstablished, nullptr);
}

Result<Report> analyzeTree(pid_t pid, const std::set<int> &detachedFds, bool tcpEstablished, std::map<pid_t, std::vector<procfs::Mapping>> *smaps,
                           bool mapsOnly)
{
    // The tree as it is now; the checkpoint finds it again while frozen.
    std::vector<pid_t> order{pid};
    std::set<pid_t> tree{pid};
    for (size_t i = 0; i < order.size(); ++i) {
        if (auto children = procfs::listChildren(order[i])) {
            for (const pid_t child : *children) {
                if (tree.insert(child).second) {
                    order.push_back(child);
                }
            }
        }
    }
    TreeScope scope = TreeScope::scan(tree);
    scope.tcpEstablished = tcpEstablished;
    CRYOPOD_PROPAGATE(scope.detach(pid, detachedFds));
    const TaskSharing sharing = TaskSharing::scan(order);
    // Each process's analysis only reads /proc: they run on two threads (the
    // tree's processes taken in turns, each thread with its own MappedFiles),
    // and the report is put together in the tree's order after.
    struct Analyzed {
        bool zombie = false;
        std::optional<Result<ProcessReport>> process;
        bool exited = false;
        std::vector<procfs::Mapping> smaps;
    };
    std::vector<Analyzed> analyzed(order.size());
    auto analyzeEvery = [&](size_t first, size_t step) {
        MappedFiles mappedFiles;
        for (size_t i = first; i < order.size(); i += step) {
            const pid_t p = order[i];
            Analyzed &a = analyzed[i];
            if (p != pid && isZombieProcess(p)) {
                a.zombie = true;
                continue;
            }
            a.process = analyzeProcess(p, AnalyzeContext{0, nullptr, &scope, smaps ? &a.smaps : nullptr, &sharing, &mappedFiles, mapsOnly});
            a.exited = p != pid && exiting(p, p);
        }
    };
    if (order.size() > 1) {
        std::thread second(analyzeEvery, 1, 2);
        analyzeEvery(0, 2);
        second.join();
    } else {
        analyzeEvery(0, 1);
    }
    Report report;
    report.root = pid;
    for (size_t i = 0; i < order.size(); ++i) {
        const pid_t p = order[i];
        Analyzed &a = analyzed[i];
        if (a.zombie) {
            // Restored as a placeholder that its parent reaps as before.
            ProcessReport zombie;
            zombie.pid = p;
            zombie.comm = procfs::commOf(p);
            if (auto stat = procfs::readStat(p)) {
                zombie.ppid = pid_t(stat->number(4));
            }
            report.processes.push_back(std::move(zombie));
            continue;
        }
        Result<ProcessReport> &process = *a.process;
        if (a.exited) {
            // It exited while we looked (what it showed on its way out - no
            // files, no mappings - says nothing); the checkpoint finds it
            // as a zombie, or not at all.
            ProcessReport gone;
            gone.pid = p;
            gone.comm = process ? process->comm : procfs::commOf(p);
            gone.ppid = process ? process->ppid : 0;
            report.processes.push_back(std::move(gone));
            continue;
        }
        if (!process) {
            if (p != pid && process.error().code == ESRCH) {
                continue; // exited and reaped meanwhile
            }
            return std::unexpected(process.error());
        }
        report.verdict = worse(report.verdict, process->verdict);
        report.processes.push_back(std::move(*process));
        if (smaps) {
            (*smaps)[p] = std::move(a.smaps);
        }
    }
    // Shared memory a process outside the tree maps or holds too: a restore
    // could not share it with that process again.
    for (const SharedOutside &shared : sharedMemoryOutside(tree)) {
        for (ProcessReport &p : report.processes) {
            if (p.pid == shared.pid) {
                note(p,
                     Verdict::Refused,
                     shared.what + " is shared with process " + std::to_string(shared.outsider) + " (" + procfs::commOf(shared.outsider)
                         + ") outside the checkpoint: a restore could not share it with that process again; checkpoint a tree that holds both");
                report.verdict = worse(report.verdict, p.verdict);
            }
        }
    }
    return report;
}

} // namespace cryopod::engine
