// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Pseudo-terminals (TerminalRecord): the slave side a tree has open
// (/dev/pts/N), with its termios and window size, and the controlling
// terminal of a session the tree leads, with its foreground process group.
// The master side is never part of the tree. Restore puts the tree on a new
// pty whose master goes to the caller, or back on the original one when it
// still exists. Data still waiting in the pty is not carried, either way:
// typed input (it could only be read by taking it from the program; TIOCSTI
// would run it through echo and signal processing again, after any partial
// line) nor output the master has not read (it waits on the master side,
// the terminal emulator's, outside the tree). The original pty keeps both
// (docs/image-format.md, "Terminal").
#pragma once

#include "engine.h"
#include "procfs.h"
#include "pstree.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cryopod::engine
{

// ---- dump and report

// A Unix98 pty slave (/dev/pts/N: majors 136..143).
bool isPtySlave(dev_t rdev);

// The device of a controlling terminal as /proc/PID/stat's tty_nr encodes it.
dev_t decodeTtyNr(uint64_t ttyNr);

// For an fd on a terminal device (majors 4, 5, 136..143): empty for a pty
// slave (supported), else why it is refused (a console, /dev/tty, a pty master).
std::string terminalFdRefusal(const std::string &fdName, const std::string &link, dev_t rdev);

// For a pty slave fd: a caveat when typed input waits in it (not carried),
// else empty.
std::string terminalFdCaveat(pid_t pid, int fd, const std::string &fdName, const std::string &link);

// What the process's controlling terminal means for a checkpoint of `tree`
// (the pids checkpointed together; null: pid alone): caveats only.
std::vector<std::string> controllingTerminalCaveats(pid_t pid, const procfs::Stat &stat, const std::set<pid_t> *tree);

// One record per pty of the tree: every pty slave its fds name (FdKind::Terminal,
// by rdev) and the controlling terminal of every session a process of the tree
// leads, with that session's foreground group when the group is in the tree.
// The tree is frozen; nothing in it is changed.
Result<std::vector<image::TerminalRecord>> dumpTerminals(const image::ProcessTreeRecord &tree, const std::vector<const image::FilesRecord *> &files);

// ---- restore

// Before anything is created: a session named is led by a live process of
// the tree, its foreground group is a group of that session in the tree, and
// every Terminal fd has its record.
Result<void> validateTerminalsForRestore(const std::vector<image::TerminalRecord> &terminals, const image::ProcessTreeRecord &tree,
                                         const std::vector<const image::FilesRecord *> &files);

// A terminal ready for the tree: the image's record, what the caller gets
// back, and the device the tree's fds now open.
struct TerminalSetup {
    image::TerminalRecord record;
    RestoredTerminal restored;
    uint64_t rdev = 0;
};

// Makes (PtyMode::New) or finds (PtyMode::Original) the pty of each record and
// sets the image's termios (and, for a new pty, window size). With `owner`
// (the helper's caller), a new slave is given to that uid and the original
// one is opened with that identity, so that the restored tree may open it.
Result<std::vector<TerminalSetup>> openTerminals(const std::vector<image::TerminalRecord> &terminals, PtyMode mode, const std::optional<FsIdentity> &owner);

// Points the Terminal fds of `files` at the terminals made for them (path, rdev).
void retargetTerminalFds(image::FilesRecord &files, const std::vector<TerminalSetup> &terminals);

// Right after the session leader of `terminal.record.sid` is created and
// has called setsid(), before its children are made (they inherit a
// controlling terminal at fork, never later): opens the terminal, makes it
// the session's controlling terminal (TIOCSCTTY) and closes it again
// (injected into the restore stub). The terminal was opened with the
// caller's rights already (openTerminals).
Result<void> takeControllingTerminal(RestoredProcess &process, const TerminalSetup &terminal);

// In the session leader of `terminal.record.sid` (injected): opens the
// terminal, makes it the session's controlling terminal (TIOCSCTTY), sets the
// foreground group (TIOCSPGRP) and closes it again.
Result<void> restoreControllingTerminal(Injector &injector, RemoteScratch &scratch, const TerminalSetup &terminal);

} // namespace cryopod::engine
