// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// How the schedule runner takes snapshots through cryopod-helper: the same
// HelperEngine::Producer as `cryopodctl snapshot` (uncompressed stream into
// the store); mode "freeze" asks the helper not to take a low-pause snapshot.
#pragma once

#include "schedulerunner.h"

class HelperClient;

namespace ScheduleHelper
{
// client outlives the factory and what it makes.
cryopod::schedule::ProducerTaker::Factory producerFactory(HelperClient &client);
} // namespace ScheduleHelper
