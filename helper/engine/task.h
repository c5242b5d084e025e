// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Per-process attributes (TaskRecord): comm, exe, cwd, root, umask, rlimits,
// personality, exit signal.
#pragma once

#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// From /proc/PID/{comm,exe,cwd,root,personality}, the Umask line of status,
// exit_signal (stat field 38) and prlimit64 on the pid.
Result<image::TaskRecord> dumpTask(pid_t pid, const procfs::Status &status, const procfs::Stat &stat);
// Whether the process is a child subreaper (an injected
// prctl(PR_GET_CHILD_SUBREAPER): /proc does not show it).
Result<bool> dumpChildSubreaper(Injector &injector, RemoteScratch &scratch);

// ---- restore

// (restore engineer's part) By injected system calls, in the restored process:
// umask, personality, comm (PR_SET_NAME) and cwd (chdir).
Result<void> restoreTask(Injector &injector, RemoteScratch &scratch, const image::TaskRecord &task);
// chroot when the image's root is not "/"; after every step that opens paths.
Result<void> restoreRoot(Injector &injector, RemoteScratch &scratch, const image::TaskRecord &task);
// prlimit64(0, ...) in the process itself (prlimit from outside would need
// CAP_SYS_RESOURCE once the credentials differ). A hard limit above the
// current one cannot be raised without CAP_SYS_RESOURCE, which even root
// lacks on some systems: that is refused with a message naming the limit.
// Must run before the credentials are restored.
Result<void> restoreRlimits(Injector &injector, RemoteScratch &scratch, const image::TaskRecord &task);
// "RLIMIT_NOFILE", ... for messages.
std::string rlimitName(int resource);

} // namespace cryopod::engine
