// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// File locks a process holds (FilesRecord::locks): flock(2) locks, POSIX
// record locks (fcntl F_SETLK) and open-file-description locks (F_OFD_SETLK),
// read from the "lock:" lines /proc/PID/fdinfo/N shows for the fd each was
// taken through. Restore takes each again, without waiting, from the
// restored process itself (an injected flock or fcntl) once its fd table is
// in place, so that the process owns them as before. A lock someone else
// holds by then makes the restore fail, naming the file. Leases,
// delegations and mandatory locks are refused.
#pragma once

#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <string>
#include <vector>

namespace cryopod::engine
{

// ---- dump

// Why the locks among `fdinfoLines` (the fd's extra fdinfo lines) cannot be
// checkpointed, or empty.
std::string fileLockRefusal(const std::string &fdName, const std::vector<std::string> &fdinfoLines);

// The locks held through fd `fd`, from its fdinfo lines.
Result<std::vector<image::FileLock>> dumpFileLocks(int32_t fd, const std::vector<std::string> &fdinfoLines);

// ---- restore

// Takes every lock of `files` again in the process (its fds in place).
Result<void> restoreFileLocks(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files);

} // namespace cryopod::engine
