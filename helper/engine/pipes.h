// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Pipes and FIFOs (FileObjectRecord of kind Pipe / Fifo): one object per
// pipe, named by every fd that has one of its ends open. The bytes queued in
// a pipe are read without taking them out (a new reference through
// /proc/PID/fd/N, tee(2) into a pipe of our own), and written into the new
// pipe on restore, before the process runs.
#pragma once

#include "engine.h"
#include "fileobjects.h"
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

// ---- dump

// The processes other than `pid` (and those of `tree`, the processes
// checkpointed with it) that have the pipe, FIFO or socket (by dev, ino)
// open, by pid; scanned once through /proc/*/fd for all of them.
// Whether pid is one of `tree` or a descendant of one (forked after the
// tree was listed).
bool inTree(pid_t pid, const std::set<pid_t> &tree);

using PipeHolders = std::map<std::pair<uint64_t, uint64_t>, std::vector<pid_t>>;
// With `files` (regular files by dev, ino), the fds of the processes outside
// that have one of them open are added to it, by file.
using FileHolders = std::map<std::pair<uint64_t, uint64_t>, std::vector<std::pair<pid_t, int>>>;
PipeHolders pipeHoldersOutside(pid_t pid, const std::vector<std::pair<uint64_t, uint64_t>> &pipes, const std::set<pid_t> *tree = nullptr,
                               FileHolders *files = nullptr);

// Why the pipe or FIFO behind fd `fd` cannot be checkpointed, or empty:
// another process holds it (`holders`), or it is in packet mode (O_DIRECT).
// With a socket's link ("socket:[...]") only the holders are looked at.
std::string pipeRefusal(const std::string &fdName, const std::string &link, bool fifo, uint32_t openFlags, const std::vector<pid_t> &holders);

// The pipe (or FIFO) that fd `fd` of the (frozen) process has open: its size
// and, when the process reads from it (`readableFd`, an fd of the process
// open for reading on it; -1: none), the bytes queued in it, which stay where
// they are.
Result<image::FileObjectRecord> dumpPipe(pid_t pid, const image::FdRecord &fd, int32_t readableFd, uint64_t id);

// ---- restore

// Creates the pipe in the process (pipe2, or the FIFO reopened by path and
// checked to be the same inode), sets its size, refills it with the saved
// bytes, and opens one description per entry of `owners` (the fds of the
// image that own an open file description of it), with their access mode
// and status flags, at temporary fds recorded in `fds`.
Result<void> restorePipe(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &pipe, const std::vector<const image::FdRecord *> &owners,
                         ObjectFds &fds);

} // namespace cryopod::engine
