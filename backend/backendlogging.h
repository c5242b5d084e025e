// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Logging categories of the backend, one per subsystem. Enable with e.g.
// QT_LOGGING_RULES="cryopod.backend.*.debug=true".
#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcProc) // cryopod.backend.proc: reading /proc
Q_DECLARE_LOGGING_CATEGORY(lcProcessModel) // cryopod.backend.model: the process tree model
Q_DECLARE_LOGGING_CATEGORY(lcTimeline) // cryopod.backend.timeline: the snapshot timeline and its actions
Q_DECLARE_LOGGING_CATEGORY(lcTerminal) // cryopod.backend.terminal: the terminal view of a restored program
