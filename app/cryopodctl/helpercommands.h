// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The default paths of `cryopodctl checkpoint` and `restore`: through
// cryopod-helper on the system bus (HelperClient), as the calling user, with
// polkit deciding. --direct runs the engine in-process instead (root only).
#pragma once

#include <QString>

namespace Cryopodctl
{
// output: a file to create (removed again on failure) or "-" for stdout.
int checkpointThroughHelper(int pid, const QString &output, bool kill, int level);
// input: the image file, or "-" for stdin.
int restoreThroughHelper(const QString &input, bool frozen);
}
