// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What a snapshot's target is, read from /proc before the checkpoint: the
// executable, the command line, the owner, the start time (so that a later
// process that reuses the pid is a different target), the host and kernel.
#pragma once

#include "result.h"
#include "storetypes.h"

#include <sys/types.h>

namespace cryopod::store
{

class TargetProbe
{
public:
    static Result<TargetInfo> probe(pid_t pid);
};

} // namespace cryopod::store
