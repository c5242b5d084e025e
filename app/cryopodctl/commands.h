// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The subcommands of cryopodctl. Each takes the arguments after its name and
// returns the process exit status: 0 success, 1 failure, 2 usage error.
#pragma once

#include <QStringList>

namespace Cryopodctl
{
int runPs(const QStringList &args);
int runInspect(const QStringList &args);
int runReport(const QStringList &args);
int runCheckpoint(const QStringList &args);
int runRestore(const QStringList &args);
}
