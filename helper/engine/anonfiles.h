// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// eventfd, timerfd and signalfd (FileObjectRecord of kind EventFd, TimerFd,
// SignalFd): one object per open file description, its state read from
// /proc/PID/fdinfo (eventfd-count and eventfd-semaphore; clockid, ticks,
// settime flags, it_value and it_interval; sigmask) and recreated by injected
// eventfd2 / timerfd_create + timerfd_settime + TFD_IOC_SET_TICKS / signalfd4.
#pragma once

#include "fileobjects.h"
#include "procfs.h"
#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// The fd kind of an anon_inode link ("anon_inode:[eventfd]" -> EventFd, ...),
// Regular when it is none of the kinds this pair (or epoll.*) handles.
image::FdKind anonFileKind(const std::string &link);

// ---- dump

// The object behind fd (of kind EventFd, TimerFd or SignalFd) from its fdinfo.
Result<image::FileObjectRecord> dumpAnonFile(pid_t pid, const image::FdRecord &fd, const procfs::FdInfo &info, uint64_t id);

// ---- restore

// Creates the object in the process at a temporary fd (recorded in `fds` for
// the one owner fd of the image) with the owner's status flags.
Result<void> restoreAnonFile(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds);

} // namespace cryopod::engine
