// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The default paths of `cryopodctl checkpoint` and `restore`: through
// cryopod-helper on the system bus (HelperClient), as the calling user, with
// polkit deciding. --direct runs the engine in-process instead (root only).
#pragma once

#include "engine.h"

#include <QString>

#include <string>

namespace Cryopodctl
{
// output: a file to create (removed again on failure) or "-" for stdout.
// lowPause: a process that runs on is stopped only while its state and a
// copy of its memory are taken (docs/low-pause.md).
int checkpointThroughHelper(int pid, const QString &output, bool kill, bool lowPause, int level, bool tcpEstablished);
// ", low pause" or ", stopped for the whole dump: FALLBACK" (when a low pause
// was asked for) for the "checkpointed ..." line of both paths.
std::string pauseNote(bool lowPause, const std::string &fallback, bool asked);
// input: the image file, or "-" for stdin.
int restoreThroughHelper(const QString &input, bool frozen, cryopod::engine::PtyMode pty, int sendTo);
// After a restore (either path): with no pty masters, 0; with sendTo >= 0,
// sends them there (sendFds) and returns 0; else relays the first one
// (relayPty; the others stay open meanwhile) and returns the restored
// root's exit code. `path`: the first terminal's path, for the message.
int handOverPtys(int root, const std::vector<int> &masters, int sendTo, const std::string &path);
}
