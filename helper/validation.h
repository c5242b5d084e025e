// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Argument validation of cryopod-helper: small functions without side
// effects, each refusal with its error name and a message. They run after
// the caller was authorized for the method and before anything is touched.
#pragma once

#include "engine.h"
#include "helpererror.h"

#include <QVariantMap>

#include <functional>
#include <set>

#include <sys/types.h>

namespace Validation
{

// pid: 1 < pid <= pidMax (kernel.pid_max). PID 1 is never a target.
HelperResult<pid_t> checkPidRange(qint64 pid, qint64 pidMax);
// kernel.pid_max, or PID_MAX_LIMIT when it cannot be read.
qint64 systemPidMax();
// The process exists (and is not a zombie): NoSuchProcess otherwise.
HelperResult<void> checkPidExists(pid_t pid);

// Checkpoint options (a{sv}); unknown keys are refused.
//   leave-running  b  true (default): the process runs on; false: it is
//                     ended once its image is completely written
//   low-pause      b  true (default): with leave-running the tree runs on
//                     once its state and a copy of its memory are taken
//                     (docs/low-pause.md); false: stopped for the whole dump
//   compression-level i  zstd level of page data, -7..19 (default 1)
//   compress b           false: page data uncompressed (default true)
//   workers        i  zstd worker threads, 0..4 (default 0: none)
//   include-file-contents b  false (default); true is Unsupported (engine v1
//                     saves the contents of unlinked files only)
//   detached-fds   ai fds of the target process itself saved as detached
//                     (engine::CheckpointOptions::detachedFds): 1..16
//                     distinct fd numbers; a caller checkpointing itself
//                     names the fds it holds for the call
//   tcp-established b  false (default): an established TCP connection is
//                     refused; true: captured with TCP_REPAIR
//                     (engine::CheckpointOptions::tcpEstablished)
HelperResult<cryopod::engine::CheckpointOptions> parseCheckpointOptions(const QVariantMap &options);

inline constexpr int kMaxDetachedFds = 16;
// The value of detached-fds (a QList<int>, as the service converts an "ai").
HelperResult<std::set<int>> detachedFdsOption(const QVariant &value);
// Every fd of `fds` is open in process pid (isOpen: fdOpenInProcess in
// the helper); InvalidArgument naming the first that is not. Runs once the
// caller is known to be allowed to checkpoint pid.
HelperResult<void> checkDetachedFdsOpen(pid_t pid, const std::set<int> &fds, const std::function<bool(pid_t, int)> &isOpen);
// /proc/PID/fd/FD exists.
bool fdOpenInProcess(pid_t pid, int fd);

// Restore options (a{sv}); unknown keys are refused.
//   frozen  b  leave the restored tree stopped (default false)
//   pty     s  "refuse" (default): an image with a terminal is refused;
//              "new": onto a new pty whose master is in the result;
//              "original" (or "inherit"): onto the original /dev/pts/N
HelperResult<cryopod::engine::RestoreOptions> parseRestoreOptions(const QVariantMap &options);

enum class FdDirection { Read, Write };

// What a caller's fd must be: a regular file, pipe (FIFO) or socket, open
// for reading (Restore) or writing (Checkpoint). Describes other kinds.
HelperResult<void> checkImageFd(int fd, FdDirection direction);

// "a directory", "a character device", ... for st_mode.
QString describeFileType(mode_t mode);

} // namespace Validation
