// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// polkit authorization of cryopod-helper's callers. The subject is always
// the caller's system bus name (PolkitQt1::SystemBusNameSubject), never a
// PID: polkitd asks the bus daemon who owns the name. The actions are in
// helper/io.github.cryopod.policy: one per operation on the caller's own
// processes and images (allow_active yes), and one "-other" action per
// operation for anything beyond them (auth_admin_keep).
#pragma once

#include "helpererror.h"

#include <QMap>
#include <QString>
#include <QStringList>

namespace Authorizer
{

enum class Action {
    Report,
    ReportOther,
    Freeze,
    FreezeOther,
    Checkpoint,
    CheckpointOther,
    Restore,
    RestoreOther,
    ListProcesses, // no admin variant: what anyone may read in /proc
};

QString actionId(Action action);
// The admin ("-other") action of an operation.
Action adminAction(Action action);

// Creates polkit-qt's Authority; call once on the main thread before any
// check runs on a worker thread.
void initialize();

// Blocking: asks polkitd (on this thread; polkit-qt's synchronous check is a
// GDBus call, safe on any thread). what: "checkpoint process 123" for the
// refusal message; reasons: why the admin action is needed (empty for the
// plain action). interactive: the caller allowed interactive authorization
// (the D-Bus ALLOW_INTERACTIVE_AUTHORIZATION header flag).
HelperResult<void>
authorize(const QString &busName, Action action, const QString &what, const QStringList &reasons, const QMap<QString, QString> &details, bool interactive);

} // namespace Authorizer
