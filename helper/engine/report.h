// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The checkpointability analysis behind engine::analyze(), also run by
// checkpoint() once the target is frozen (then our own ptrace attachment and
// tracing stop are expected, and the mappings already read are reused).
#pragma once

#include "engine.h"
#include "files.h"
#include "mem.h"
#include "procfs.h"

#include <map>
#include <set>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// Which processes of the system share an address space (CLONE_VM) or an
// fd table (CLONE_FILES) with the processes of a tree, found in one pass
// over /proc for the whole tree: kcmp orders the kernel's objects, so the
// tree's processes are sorted by their address space and by their fd table
// once, and every other process is looked up in both orders by binary
// search (about 2 log2(tree) kcmp calls per process of the system, instead
// of 2 per pair).
struct TaskSharing {
    struct Sharer {
        pid_t other = 0;
        bool sameVm = false;
        bool sameFiles = false;
    };
    // Process of the tree (with an address space) -> the processes sharing
    // with it, in ascending pid order (as /proc lists them).
    std::map<pid_t, std::vector<Sharer>> of;
    static TaskSharing scan(const std::vector<pid_t> &tree);
};

struct AnalyzeContext {
    pid_t ourTracer = 0; // a TracerPid that is us (the thread that froze the target)
    const std::vector<procfs::Mapping> *mappings = nullptr; // smaps already read, or null
    // The processes checkpointed together (the tree, pid among them): what
    // is shared with them is fine, what is shared with any other process is
    // named and refused. Null: pid alone.
    const TreeScope *scope = nullptr;
    // When set and `mappings` is null: the smaps read for the analysis are
    // left here (a checkpoint reuses their VmFlags during the pause).
    std::vector<procfs::Mapping> *smapsRead = nullptr;
    // The sharing of the whole tree, scanned once (TaskSharing::scan of the
    // scope's processes); null: pid's own, scanned now.
    const TaskSharing *sharing = nullptr;
    // The files the tree maps, each looked at once (mem.h); null: every
    // mapping's file looked at.
    MappedFiles *mappedFiles = nullptr;
    // When `mappings` is null and smaps are not asked for: /proc/PID/maps
    // is read instead of smaps (which walks every page table to count what
    // is resident), so what only smaps shows (the VmFlags: hugetlb, shadow
    // stack, userfaultfd, device mappings) is not looked at. For the
    // precheck of a checkpoint, whose second analysis, frozen, reads smaps.
    bool mapsOnly = false;
};

// One process, without stopping it.
Result<ProcessReport> analyzeProcess(pid_t pid, const AnalyzeContext &context = {});

// engine::analyze(pid, detachedFds), also leaving the smaps each live process showed in
// `smaps` (when not null). `mapsOnly` (without `smaps`): see AnalyzeContext.
Result<Report> analyzeTree(pid_t pid, const std::set<int> &detachedFds, bool tcpEstablished, std::map<pid_t, std::vector<procfs::Mapping>> *smaps,
                           bool mapsOnly = false);

// "1234 (comm) cannot be checkpointed: fd 3 is a pipe ...; thread 1235 has
// ..." for an error message.
std::string refusalMessage(const ProcessReport &report);
// The same for every refused process of a tree, one after the other.
std::string refusalMessage(const Report &report);

} // namespace cryopod::engine
