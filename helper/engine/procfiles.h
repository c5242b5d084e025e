// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Files and directories of /proc held open by the tree (FdKind::ProcFile,
// format 8): read-only fds on the files of its own processes (/proc/PID/...,
// /proc/PID/task/TID/...; /proc/self and /proc/thread-self are resolved by
// the kernel, the fd's link already names the pid) and on the system's
// read-only files (/proc/meminfo, /proc/stat, /proc/sys/...). PIDs and TIDs
// are restored identical, so the path leads to the same process's file again.
//
// Dump: the path, flags and offset (FdRecord). Refused: a path of a process
// outside the tree (the restored copy would read another process's file, or
// none), a thread of another process of the tree, an fd open for writing, a
// procfs mounted elsewhere than /proc, /proc/kmsg and /proc/kcore.
//
// Restore: the process opens the path again (files.h restoreFiles), after
// every process of the tree exists (createTree makes them all before any fd
// table); a file of one of its own threads other than the main thread once
// the threads exist (restoreState). Once the whole tree is restored, just
// before it is let go, the engine positions each fd through its own dup
// (pidfd_getfd): lseek to the offset. A seq_file (maps, status, stat, ...)
// finds that offset by generating its contents up to it; the engine then
// reads a byte at another offset so that the file's buffer no longer
// matches the fd's offset: the process's next read generates the record
// again, as it is then (not as it was while the engine held the process:
// "TracerPid" of the engine, state "t"). Contents now shorter than the
// offset: the lseek still succeeds and the next read returns end of file.
#pragma once

#include "engine.h"
#include "records.h"
#include "result.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// The process and thread a path under /proc names: /proc/N/... is {N, 0},
// /proc/N/task/T/... is {N, T}; nullopt for a file of the system
// (/proc/meminfo) or a path that is not under /proc.
struct ProcPathOwner {
    pid_t pid = 0;
    pid_t tid = 0;
};
std::optional<ProcPathOwner> procPathOwner(std::string_view path);

// ---- dump

// Whether fd `fd` of `pid` is a file or directory on procfs.
bool isOnProcfs(pid_t pid, int fd);

// The report's word on fd `fdName` of `pid`, a file or directory on procfs
// that the process sees at `link`, with status flags `flags` (fdinfo) and
// offset `pos`; `tree`: the processes checkpointed together. Ok at offset 0,
// a caveat mid-read (the rest is generated again at restore), refused as
// said above.
FdReport checkProcFile(pid_t pid, int fd, const std::string &link, mode_t type, uint32_t flags, uint64_t pos, const std::set<pid_t> &tree);

// ---- restore

// The ProcFile fds of `files` (of process `pid` with threads `tids`, the
// leader first) that name one of its threads other than the main one, and
// their dups: opened only once the threads exist.
std::set<int32_t> lateProcFiles(const image::FilesRecord &files, const std::vector<pid_t> &tids);

// After the process opened fd `fd` (at `link`, /proc/PID/fd/N): it must be
// on procfs again, of the same type.
Result<void> checkReopenedProcFile(const image::FdRecord &fd, const std::string &link, const std::string &what);

// Positions every ProcFile fd of `files` that owns its open file
// description at its offset, from the engine's side (see above). The
// process must not run meanwhile.
Result<void> positionProcFiles(pid_t pid, const image::FilesRecord &files);

} // namespace cryopod::engine
