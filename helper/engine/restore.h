// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Restore orchestration: reads an image front to back and rebuilds the process
// step by step through the concern files' "restore" parts. engine::restore()
// (engine.h) is the public entry; this header exposes the pieces tests and the
// helper need.
#pragma once

#include "engine.h"
#include "fileobjects.h"
#include "mem.h"
#include "paralleldrive.h"
#include "pstree.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"
#include "sharing.h"
#include "steptrace.h"
#include "sysvipc.h"
#include "tty.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cryopod::engine
{

// Where the restore stub is: $CRYOPOD_RESTORE_STUB, else next to the running
// executable (the build tree's bin/), else the installed libexec path.
Result<std::string> findRestoreStub();

// A temporary file the restorer created (an unlinked file's contents); it is
// unlinked when this object goes, whatever happened, with the identity it
// was created with (the caller's, when the restore runs for one: the
// directory is one the caller could write to, and may have been changed).
class TempFile
{
public:
    TempFile() = default;
    explicit TempFile(std::string path, std::optional<FsIdentity> owner = std::nullopt)
        : m_path(std::move(path))
        , m_owner(std::move(owner))
    {
    }
    TempFile(TempFile &&other) noexcept
        : m_path(std::exchange(other.m_path, {}))
        , m_owner(std::move(other.m_owner))
    {
    }
    TempFile &operator=(TempFile &&) = delete;
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
    ~TempFile();
    const std::string &path() const
    {
        return m_path;
    }

private:
    std::string m_path;
    std::optional<FsIdentity> m_owner;
};

// One process of the tree being restored: its records, complete before
// anything is created, then the process being built. Members are declared
// in destruction-safe order: the injector refers to the process's tracee, so
// it goes first (C++ destroys in reverse order).
struct ProcessRestore {
    image::ProcessEntry entry;
    image::TaskRecord task;
    image::CredsRecord creds;
    image::SignalsRecord signals;
    std::vector<image::ThreadRecord> threads; // the tree's order: the leader first
    image::TimersRecord timers; // all disarmed when the image has none
    image::MmRecord mm;
    image::FilesRecord files;
    std::vector<image::FileObjectRecord> fileObjects; // the pipes, eventfds, ... it creates (ownerPid)
    std::map<int32_t, TempFile> unlinkedFiles; // by fd: the saved contents, on disk
    std::vector<bool> seen = std::vector<bool>(7, false); // its Task, Thread, Creds, ... records
    bool zombieChildren = false; // the placeholders of zombie children exited in it (SIGCHLD to take back)
    bool created = false; // its pid is ours (until the restore ends)

    RestoredProcess process;
    std::optional<Injector> injector;
    RemoteScratch scratch; // the injection area minus its first bytes
    uint64_t injectionArea = 0; // start of the RWX area holding `syscall`
    std::optional<MappedVmas> mapped;
    std::optional<PageFill> fill;
    image::FilesRecord ownerView; // what its createFileObjects() sees (sharing.h)
    ForeignFds foreign;
    std::optional<ObjectFds> objectFds;
    std::set<int32_t> lateProcFiles; // files of its own threads' /proc, opened once they exist (procfiles.h)
};

// Everything one restore works with; passed explicitly, no globals.
struct RestoreContext {
    RestoreOptions options;
    uint32_t pageSize = 4096;
    std::string stubPath;

    // Drives a step in every process at once (paralleldrive.h): each
    // process's tracees wait through it. Declared before the processes, so
    // that it outlives them. $CRYOPOD_RESTORE_PARALLEL=0: one process after
    // the other, to compare.
    ParallelDrive drive;

    // The image's metadata, complete before anything is created.
    image::Header header;
    image::ProcessTreeRecord tree;
    // The processes in the tree's order (parents before children); stable
    // addresses: injectors point into them.
    std::vector<std::unique_ptr<ProcessRestore>> processes;
    std::map<int32_t, ProcessRestore *> byPid;
    // By pid, the key of the processes linked to it by a shared fd table or
    // address space (one job of the drive): set once the tree is accepted.
    std::map<int32_t, int32_t> sharing;
    std::vector<image::TerminalRecord> terminals; // the image's ptys
    std::vector<TerminalSetup> terminalSetups; // made or found for them (their masters go to the caller)
    std::vector<image::SharedMemoryRecord> sharedMemory; // until the objects are made
    std::optional<SharedMemoryObjects> sharedObjects; // the helper's fds on them
    std::vector<image::SysvIpcRecord> sysvIpc; // the SysV objects (the records outlive sysvObjects)
    std::optional<SysvObjects> sysvObjects; // made by this restore; removed again if it fails

    uint64_t pagesRestored = 0;
    uint64_t injected = 0; // system calls injected
    uint64_t roundTrips = 0; // ptrace stops they took (Injector::roundTrips)

    uint64_t startNs = 0;
    uint64_t lastNs = 0;
    bool trace = false; // $CRYOPOD_RESTORE_TRACE: step timings on stderr
    void step(const char *name);
    StepTrace steps; // $CRYOPOD_RESTORE_TRACE: per step and process, the table at the end
    // What the table counts per step: the injected calls, or with
    // $CRYOPOD_RESTORE_TRACE_COUNT=stops the ptrace stops they took.
    bool countStops = false;
    uint64_t counted(const Injector &injector) const
    {
        return countStops ? injector.roundTrips() : injector.injectedCount();
    }
};

// Size of the injection area: one page for the `syscall` instruction and the
// small arguments, plus room for a path (PATH_MAX) and PR_SET_MM_MAP's auxv.
inline constexpr size_t kInjectionAreaSize = 64 * 1024;
// Offsets in the area: `syscall; int3` at 0, the batch runner
// (batchRunnerCode(), ptrace_inject.h) at kRunnerOffset, the scratch space
// from kScratchOffset.
inline constexpr size_t kRunnerOffset = 16;
inline constexpr size_t kScratchOffset = 128;

} // namespace cryopod::engine
