// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Orchestration of engine::checkpoint(): analyse, freeze, capture every
// concern into records, stream the image, resume or kill. All state of one
// checkpoint lives in a CheckpointContext; the steps are plain functions on it.
#pragma once

#include "engine.h"
#include "files.h"
#include "imagewriter.h"
#include "mem.h"
#include "memcopy.h"
#include "procfs.h"
#include "pstree.h"
#include "records.h"
#include "steptrace.h"
#include "sysvipc.h"

#include <map>
#include <memory>
#include <vector>

namespace cryopod::engine
{

// What is captured of one live process of the tree.
struct ProcessCapture {
    pid_t pid = 0;
    procfs::Status status;
    procfs::Stat stat;
    // As at the pause: smaps read while frozen, or (low pause) maps read
    // while frozen with the VmFlags of the smaps read before the freeze,
    // checked against the copy after the thaw (checkpointVerifyCopies).
    std::vector<procfs::Mapping> mappings;
    uint64_t brk = 0;
    bool childSubreaper = false;

    image::TaskRecord task;
    image::CredsRecord creds;
    image::SignalsRecord signals;
    image::TimersRecord timers;
    std::vector<image::ThreadRecord> threads;
    image::MmRecord mm; // empty when it shares another process's address space
    FilesDump files; // empty when it shares another process's fd table
    bool ownFiles = true;
    bool ownMm = true; // false: its address space is an earlier process's (ProcessEntry::vmOf), captured there
    bool refused = false; // by the second analysis (its message is the refusal)
    MemoryCopy copy; // low pause: its memory as at the pause (pid 0: none)
};

struct CheckpointContext {
    pid_t pid = 0; // the root
    int outFd = -1;
    CheckpointOptions options;
    PagesOptions pagesOptions;
    uint64_t startNs = 0;
    uint64_t freezeNs = 0; // when freezing began
    uint64_t thawNs = 0; // when the tree ran on again (0: not yet)

    // Low pause: the smaps of each process as the precheck read them.
    std::map<pid_t, std::vector<procfs::Mapping>> earlySmaps;
    // Low pause: why its copies cannot be trusted (then the checkpoint
    // starts again with a frozen dump); empty when they can.
    std::string retryFrozen;

    FrozenTree frozen; // detaches on destruction: the whole tree runs on
    image::ProcessTreeRecord tree;
    std::vector<ProcessCapture> processes; // the live ones, in the tree's order
    std::vector<image::TerminalRecord> terminals; // the ptys the tree uses (tty.h)
    SharedMemoryDump sharedMemory; // the tree's shared anonymous memory (shmem.h)
    SysvIpcDump sysv; // the tree's SysV IPC objects (sysvipc.h)

    std::unique_ptr<image::ImageWriter> writer;
    PagesStats pages;
    CheckpointResult result;
    StepTrace trace; // $CRYOPOD_DUMP_TRACE (steptrace.h)

    // Low pause was asked for and the tree runs on after the checkpoint.
    bool lowPauseWanted() const
    {
        return options.lowPause && options.leaveRunning && !options.outsideFreezer;
    }
};

// The steps of checkpoint(), in order. Each fails without side effects on the
// target beyond what the context's destructor undoes.
Result<void> checkpointPrecheck(CheckpointContext &ctx); // analyze: refuse before anything happens
Result<void> checkpointFreeze(CheckpointContext &ctx); // seize + interrupt every thread of every process of the tree
Result<void> checkpointCapture(CheckpointContext &ctx); // every record but the pages
Result<void> checkpointCopyMemory(CheckpointContext &ctx); // low pause: a copy of each address space, then the thaw
Result<void> checkpointVerifyCopies(CheckpointContext &ctx); // low pause: the copies hold what the pause saw
Result<void> checkpointWrite(CheckpointContext &ctx); // the image, pages last (from the copies after a thaw)
Result<void> checkpointRelease(CheckpointContext &ctx); // detach or kill

// As engine::checkpoint(), with the page-dump knobs and figures exposed (tests, bench).
Result<CheckpointResult>
checkpointWith(pid_t pid, int outFd, const CheckpointOptions &options, const PagesOptions &pagesOptions, PagesStats *pagesStats = nullptr);

} // namespace cryopod::engine
