// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// inotify instances (FileObjectRecord of kind Inotify) with their watches:
// /proc/PID/fdinfo lists each watch (wd, mask, the watched inode and a file
// handle for it); the dump opens the handle (open_by_handle_at, on a mount
// of that file system from the process's mountinfo) to learn the path.
// Restore makes the instance with an injected inotify_init1 and adds the
// watches again in wd order by path (the same inode, checked), so that each
// gets its old watch descriptor: a gap left by a removed watch is filled by
// watches on temporary files that are removed again (the kernel hands out
// wds in increasing order). Events waiting to be read are not kept (a
// caveat in the report).
#pragma once

#include "fileobjects.h"
#include "procfs.h"
#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// Why the inotify instance at fd `fd` cannot be checkpointed (a watch whose
// inode cannot be found by a path any more), or empty. `caveat` is set to
// a note about events waiting to be read, when there are any.
std::string inotifyRefusal(pid_t pid, int fd, const procfs::FdInfo &info, const std::string &fdName, std::string *caveat);

Result<image::FileObjectRecord> dumpInotify(pid_t pid, const image::FdRecord &fd, const procfs::FdInfo &info, uint64_t id);

// ---- restore

Result<void> restoreInotify(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds);

} // namespace cryopod::engine
