// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "backendlogging.h"

Q_LOGGING_CATEGORY(lcProc, "cryopod.backend.proc", QtWarningMsg)
Q_LOGGING_CATEGORY(lcProcessModel, "cryopod.backend.model", QtWarningMsg)
Q_LOGGING_CATEGORY(lcTimeline, "cryopod.backend.timeline", QtWarningMsg)
Q_LOGGING_CATEGORY(lcTerminal, "cryopod.backend.terminal", QtWarningMsg)
