// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "schedulehelper.h"

#include "helperclient.h"
#include "helperengine.h"

using namespace cryopod;
using namespace cryopod::schedule;

ProducerTaker::Factory ScheduleHelper::producerFactory(HelperClient &client)
{
    return [&client](const Schedule &schedule) -> std::unique_ptr<store::ImageProducer> {
        // Freeze: the tree stopped for the whole capture (no copy-on-write copy).
        return std::make_unique<HelperEngine::Producer>(client, std::nullopt, schedule.mode == SnapshotMode::KeepRunning);
    };
}
