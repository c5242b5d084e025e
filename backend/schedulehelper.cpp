// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "schedulehelper.h"

#include "helperclient.h"
#include "helperengine.h"

using namespace cryopod;
using namespace cryopod::schedule;

namespace
{
Result<void> waitFor(HelperCall *call, const char *what)
{
    if (!call) {
        return fail(std::string("the helper was not asked to ") + what);
    }
    while (!call->isFinished()) {
        call->waitForFinished(60 * 1000);
    }
    const bool ok = call->ok();
    const Error error = ok ? Error {} : HelperEngine::callError(*call);
    call->deleteLater();
    if (!ok) {
        return std::unexpected(error.context(what));
    }
    return {};
}

// Freeze -> checkpoint -> Thaw; the thaw runs even when the checkpoint failed.
class FreezingProducer : public store::ImageProducer
{
public:
    explicit FreezingProducer(HelperClient &client)
        : m_client(client)
        , m_inner(client)
    {
    }
    ~FreezingProducer() override
    {
        thaw();
    }
    Result<void> start(pid_t pid, UniqueFd fd) override
    {
        CRYOPOD_PROPAGATE(waitFor(m_client.freeze(int(pid)), "freeze the tree for the snapshot"));
        m_frozen = pid;
        auto started = m_inner.start(pid, std::move(fd));
        if (!started) {
            thaw();
        }
        return started;
    }
    Result<store::ProducerResult> finish() override
    {
        auto result = m_inner.finish();
        auto thawed = thaw();
        if (result && !thawed) {
            return std::unexpected(thawed.error());
        }
        return result;
    }

private:
    Result<void> thaw()
    {
        if (!m_frozen) {
            return {};
        }
        const pid_t pid = m_frozen;
        m_frozen = 0;
        return waitFor(m_client.thaw(int(pid)), "thaw the tree after the snapshot");
    }

    HelperClient &m_client;
    HelperEngine::Producer m_inner;
    pid_t m_frozen = 0;
};
} // namespace

ProducerTaker::Factory ScheduleHelper::producerFactory(HelperClient &client)
{
    return [&client](const Schedule &schedule) -> std::unique_ptr<store::ImageProducer> {
        if (schedule.mode == SnapshotMode::Freeze) {
            return std::make_unique<FreezingProducer>(client);
        }
        return std::make_unique<HelperEngine::Producer>(client);
    };
}
