// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The fd table of a process (FilesRecord) and the contents of files that were
// unlinked while open (FileDataRecord). Engine v1 handles regular files,
// directories and the simple character devices; everything else is named in
// the report and refused.
#pragma once

#include "engine.h"
#include "pipes.h"
#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// The largest unlinked-but-open file whose contents go into an image (one
// FileDataRecord must stay below the reader's section limit).
inline constexpr uint64_t kMaxUnlinkedFileBytes = (256ull << 20) - (64u << 10);

// ---- dump

// What engine v1 thinks of each open fd of pid ("fd 3 is a pipe (pipe:[1234]):
// pipes are not supported by engine v1"). Fds closed while we look are skipped.
// Changes nothing in the process.
// The processes checkpointed together (a tree) and what of theirs the rest
// of the system holds, looked up once for all of them: scanning every fd of
// every process is what an analysis spends most of its time on.
struct TreeScope {
    std::set<pid_t> pids;
    std::set<uint64_t> sockets; // inodes of the sockets open in the tree
    PipeHolders holders; // processes outside the tree with one of its pipes, FIFOs or sockets open
    // (pid, fd) of the tree -> (pid, fd) outside with the same open file
    // description of a regular file (one offset).
    std::map<std::pair<pid_t, int>, std::pair<pid_t, int>> sharedOutside;
    // (pid, fd) saved as detached (CheckpointOptions::detachedFds): a pipe
    // read end whose writer is gone, whatever the fd is.
    std::set<std::pair<pid_t, int>> detached;
    bool tcpEstablished = false; // CheckpointOptions::tcpEstablished
    static TreeScope scan(std::set<pid_t> pids);
    // The root's detached fds; EBADF when one is not open in it.
    Result<void> detach(pid_t root, const std::set<int> &fds);
};

// With `scope` (pid among its processes), a pipe or socket shared with
// another process of the tree is fine; one shared with a process outside it
// is refused, naming that process.
Result<std::vector<FdReport>> checkFds(pid_t pid, const TreeScope *scope = nullptr);

struct FilesDump {
    image::FilesRecord files;
    std::vector<image::FileObjectRecord> objects; // pipes, eventfds, ... the fds name (fileobjects.h)
    std::vector<image::FileDataRecord> data; // one per unlinked regular file
};

// Every fd from /proc/PID/fd with /proc/PID/fdinfo (pos, flags, O_CLOEXEC) and
// fstat through /proc/PID/fd/N; unlinked files are read through
// /proc/PID/fd/N. Fails on an fd kind v1 does not support (checkFds explains).
// With `scope`, a socket whose peer is in another process of the tree is
// dumped with peer 0; linkSharedFiles() (sharing.h) connects them.
Result<FilesDump> dumpFiles(pid_t pid, const TreeScope *scope = nullptr);

// ---- restore

// (restore engineer's part)
// Before anything is created: fd numbers unique, sorted and non-negative,
// absolute paths, kinds v1 restores.
Result<void> validateFilesForRestore(const image::FilesRecord &files);

// Recreates an unlinked-but-open file from its saved contents, with its mode:
// at its original path when that name is free (so that /proc/PID/fd/N shows
// "PATH (deleted)" as before), else under a temporary name in the same
// directory, else in /tmp. Returns the path; the caller unlinks it as soon as
// the restored process has opened it (restoreFiles). On failure nothing is left.
Result<std::string> createUnlinkedFileCopy(const image::FdRecord &fd, const image::FileDataRecord &data);

// The fds open in the process now (/proc/PID/fd), as a model a batch of
// injected calls keeps up to date: a call that makes an fd gets the lowest
// free number (takeLowestFree() says which and marks it open).
Result<std::set<int>> openFdNumbers(pid_t pid, const std::string &what);
int takeLowestFree(std::set<int> &open);

// Opens every fd of the record in the process (injected openat, then dup3 to
// its number), with its flags (O_APPEND, O_NONBLOCK, ...; never O_CREAT or
// O_TRUNC), O_CLOEXEC and offset. Each path must still name the same file
// (device and inode), a character device the same device number; otherwise
// the restore is refused. Unlinked files are opened from `unlinkedCopies`
// (by fd number).
// Fds of kernel file objects (`object` set) and fds sharing another
// process's description (`sharedPid` set) are dup3()ed from the temporary
// fds createFileObjects() made or takeDescriptions() took (`objectFds`:
// image fd -> temporary fd).
// Files of /proc (ProcFile) are opened like regular files, checked to be on
// procfs again and positioned later (procfiles.h). Fds in `skip` are left
// out (a later call opens them). The calls go in batches (Injector::run):
// each open's fd is the lowest free one, known in advance from
// /proc/PID/fd; the checks follow each batch.
Result<void> restoreFiles(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files, const std::map<int32_t, std::string> &unlinkedCopies,
                          const std::map<int32_t, int32_t> &objectFds = {}, const std::set<int32_t> &skip = {});

} // namespace cryopod::engine
