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
// The snapshot store (storecommand.cpp)
int runSnapshot(const QStringList &args);
int runList(const QStringList &args);
int runShow(const QStringList &args);
int runRestoreDispatch(const QStringList &args); // restore ID, or restore --direct -i IMAGE (runRestore)
int runDiff(const QStringList &args);
int runExport(const QStringList &args);
int runImport(const QStringList &args);
int runDelete(const QStringList &args);
int runEdit(const QStringList &args);
int runStore(const QStringList &args);
// Recurring snapshots (schedulecommand.cpp)
int runSchedule(const QStringList &args);
int runScheduleRun(const QStringList &args); // schedule run: the due schedules, once (schedulerun.cpp)
}
