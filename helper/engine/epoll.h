// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// epoll sets (FileObjectRecord of kind Epoll): one object per open file
// description, with its registrations from the "tfd:" lines of
// /proc/PID/fdinfo (fd, events, data). Restore creates the set with the other
// file objects and adds the registrations once every fd is in place.
//
// A thread blocked in epoll_wait when it is frozen leaves the call with
// -EINTR (epoll_wait is never restarted by the kernel); the dump turns that
// into a restart, in the image and in the running original.
#pragma once

#include "fileobjects.h"
#include "procfs.h"
#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <string>
#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// Why the epoll set at fd cannot be checkpointed, or empty: a registration
// whose file is no longer open at the fd number it was added with, or one
// of a kind of file that is not restored.
std::string epollRefusal(pid_t pid, int fd, const procfs::FdInfo &info);

Result<image::FileObjectRecord> dumpEpoll(pid_t pid, const image::FdRecord &fd, const procfs::FdInfo &info, uint64_t id);

// A thread frozen in epoll_wait / epoll_pwait / epoll_pwait2 that returned
// -EINTR only because of the freeze (no signal it would take is pending) is
// set to restart the call: rax = -ERESTARTNOHAND, in the live registers (the
// original resumes in the call) and in `thread` (restoreRegs restarts it).
Result<void> restartInterruptedEpollWait(const Tracee &tracee, image::ThreadRecord &thread, uint64_t deliverablePending);

// ---- restore

Result<void> restoreEpoll(Injector &injector, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds);

// The registrations of `object` into the set at image fd `epfd` (in place).
Result<void> restoreEpollTargets(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, int32_t epfd);

} // namespace cryopod::engine
