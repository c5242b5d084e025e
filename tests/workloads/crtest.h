// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What the plain C++ engine tests beside cr_cycles (cr_freeze_timeout,
// cr_tree_sabotage, cr_subtree) share: /proc lookups, starting a workload
// under the contract, and failing with everything started killed and reaped
// (they are child subreapers).
#pragma once

#include "engine.h"
#include "imagereader.h"

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace crtest
{

// Prints "NAME: FAIL: message", kills and reaps every child (and orphan
// that came to us), exits 1.
[[noreturn]] void fail(const char *name, const std::string &message);

std::string readFile(const std::string &path);
// The children of pid's main thread, in creation order.
std::vector<pid_t> childrenOf(pid_t pid);
// TracerPid from /proc/PID/status; -1 when unknown.
long tracerOf(pid_t pid);
// The state letter from /proc/PID/stat; '?' when gone.
char stateOf(pid_t pid);

// A new state directory /tmp/NAME.XXXXXX; fails the test NAME when none
// can be made.
std::string makeStateDir(const char *name);

// Starts PROGRAM STATEDIR as a workload does (fds 0-2 on /dev/null, nothing
// else, cwd STATEDIR) and waits up to 15 s for STATEDIR/ready; fails the
// test NAME otherwise.
pid_t startWorkload(const char *name, const std::string &program, const std::string &stateDir);

// pid and its descendants, breadth first (the children of each main thread).
std::vector<pid_t> treeOf(pid_t pid);
// /proc/PID exists (a zombie counts).
bool exists(pid_t pid);

// Checkpoints the tree of root into the file image (created or truncated);
// its established TCP connections too with tcpEstablished.
cryopod::Result<cryopod::engine::CheckpointResult> checkpointToFile(pid_t root, const std::string &image, bool leaveRunning, bool tcpEstablished = false);
// Restores the file image with default options.
cryopod::Result<cryopod::engine::RestoreResult> restoreFromFile(const std::string &image);

// Every section of the image file before its End record, through
// backend/image (checksums verified); fails the test NAME on any error.
std::vector<cryopod::image::Section> readImageSections(const char *name, const std::string &path, cryopod::image::Header *header);
// Writes them back as an image file (an edited copy); fails the test NAME
// on any error.
void writeImageSections(const char *name, const std::string &path, const cryopod::image::Header &header, const std::vector<cryopod::image::Section> &sections);

// Kills every pid with SIGKILL and reaps until none exists; after 5 s runs
// cleanup and fails the test NAME.
void killAndWaitGone(const char *name, const std::vector<pid_t> &pids, const std::function<void()> &cleanup = {});

// Lets the workload at root go (STATEDIR/go) and waits for it. Unless it
// exits 0, runs cleanup and fails the test NAME with STATEDIR/result;
// otherwise runs cleanup, reaps what is left and removes STATEDIR.
void letGoAndCheck(const char *name, pid_t root, const std::string &stateDir, const std::function<void()> &cleanup = {});

} // namespace crtest
