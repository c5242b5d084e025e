// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "directengine.h"

#include "engine.h"

#include <unistd.h>

namespace cryopod::store
{

bool DirectEngine::available()
{
    return ::geteuid() == 0;
}

const char *DirectEngine::unavailableReason()
{
    return "checkpoint and restore need the Cryopod helper, which is not available yet; run as root to use the engine directly";
}

DirectEngine::Producer::Producer(std::optional<int> compressionLevel)
    : m_level(compressionLevel)
{
}

DirectEngine::Producer::~Producer()
{
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

Result<void> DirectEngine::Producer::start(pid_t pid, UniqueFd fd)
{
    if (!available()) {
        return fail(unavailableReason(), EPERM);
    }
    if (m_thread.joinable()) {
        return fail("the engine is already checkpointing", EBUSY);
    }
    m_result.reset();
    m_thread = std::thread([this, pid, out = std::move(fd)]() mutable {
        engine::CheckpointOptions options;
        options.leaveRunning = true;
        options.lowPause = true; // a snapshot stops the program only briefly (docs/low-pause.md)
        options.compress = m_level.has_value();
        options.compressionLevel = m_level.value_or(options.compressionLevel);
        auto r = engine::checkpoint(pid, out.get(), options);
        out.reset(); // end of stream for the store
        if (r) {
            m_result = ProducerResult {r->pauseNs, r->totalNs, r->imageBytes};
        } else {
            m_result = std::unexpected(r.error());
        }
    });
    return {};
}

Result<ProducerResult> DirectEngine::Producer::finish()
{
    if (!m_thread.joinable()) {
        return fail("the engine was not started");
    }
    m_thread.join();
    return *m_result;
}

DirectEngine::Consumer::Consumer(bool frozen)
    : m_frozen(frozen)
{
}

Result<void> DirectEngine::Consumer::start(UniqueFd fd)
{
    if (!available()) {
        return fail(unavailableReason(), EPERM);
    }
    m_fd = std::move(fd);
    return {};
}

Result<ConsumerResult> DirectEngine::Consumer::finish()
{
    if (!m_fd) {
        return fail("the engine has no image to restore from");
    }
    engine::RestoreOptions options;
    options.frozen = m_frozen;
    // No one here could take a new pty's master (as the helper's default).
    options.pty = engine::PtyMode::Refuse;
    auto r = engine::restore(m_fd.get(), options);
    m_fd.reset();
    if (!r) {
        return std::unexpected(r.error());
    }
    return ConsumerResult {r->root, r->totalNs};
}

} // namespace cryopod::store
