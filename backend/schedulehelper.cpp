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
        if (schedule.mode == SnapshotMode::Freeze) {
            return nullptr; // see schedulerunner.h: not supported yet
        }
        return std::make_unique<HelperEngine::Producer>(client);
    };
}
