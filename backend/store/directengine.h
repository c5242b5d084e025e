// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The image transports that run the checkpoint/restore engine in this
// process. They need root (the engine ptraces and uses pidfd_getfd, set_tid,
// PR_SET_MM_MAP); without it they refuse before doing anything. They exist
// so that the store works end to end before the privileged helper does; a
// HelperClient-based ImageProducer/ImageConsumer replaces them, and this
// file and its library (cryopod_store_direct) go away. The unprivileged
// backend never links them.
#pragma once

#include "imagetransport.h"

#include <memory>
#include <optional>
#include <thread>

namespace cryopod::store
{

class DirectEngine
{
public:
    // Whether this process may run the engine (it is root).
    static bool available();
    static const char *unavailableReason();

    class Producer : public ImageProducer
    {
    public:
        // compressionLevel: the zstd level of the stream; none: the pages travel
        // uncompressed (the store compresses what it keeps by itself).
        explicit Producer(std::optional<int> compressionLevel = std::nullopt);
        ~Producer() override;
        Result<void> start(pid_t pid, UniqueFd fd) override;
        Result<ProducerResult> finish() override;

    private:
        std::optional<int> m_level;
        std::thread m_thread;
        std::optional<Result<ProducerResult>> m_result;
    };

    class Consumer : public ImageConsumer
    {
    public:
        explicit Consumer(bool frozen = false);
        Result<void> start(UniqueFd fd) override;
        Result<ConsumerResult> finish() override; // restores on the calling thread

    private:
        bool m_frozen;
        UniqueFd m_fd;
    };
};

} // namespace cryopod::store
