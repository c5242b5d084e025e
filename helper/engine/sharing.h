// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Files shared between the processes of a tree: the same open file
// description in two processes (one offset: FdRecord::sharedPid/sharedFd),
// one pipe, FIFO or unix socket pair with ends in different processes (one
// FileObjectRecord, named by the fds of all of them). On dump the
// per-process fd tables (files.h) are linked into one set of objects; on
// restore the process that owns an object creates every description of it,
// and the others take theirs over with pidfd_getfd.
#pragma once

#include "fileobjects.h"
#include "files.h"
#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cryopod::engine
{

// ---- dump

// `dumps` are the fd tables of the live processes of a frozen tree, in the
// tree's order. Makes object ids unique across them, marks every fd whose
// open file description an earlier process holds (kcmp) with that process
// and fd (its FileData, if any, goes), merges the objects of one pipe, FIFO
// or socket into the first process's, refilling a pipe's saved bytes from
// the process that could read them, and connects the sockets whose peer is
// in another process (both then owned by the earlier process).
Result<void> linkSharedFiles(const std::vector<std::pair<pid_t, FilesDump *>> &dumps);

// ---- restore

// A description of an object that process `pid` creates for fd `fd` of
// another process (`foreignPid`), which takes it over.
struct ForeignFds {
    // (process, its fd) -> the number it has in the owner's view (negative)
    std::map<std::pair<pid_t, int32_t>, int32_t> keys;
};

// What createFileObjects() of process `pid` gets to see: its own fds, with
// `object` 0 where another process creates the object (or the description
// is another process's, sharedPid), plus one fd of a negative number per
// fd of a later process that owns a description of an object `pid` creates
// (recorded in `foreign`).
image::FilesRecord ownerView(pid_t pid, const std::vector<const image::FilesRecord *> &allFiles, const std::map<uint64_t, pid_t> &objectOwners,
                             ForeignFds &foreign);

} // namespace cryopod::engine
