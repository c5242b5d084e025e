// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The image transports of the unprivileged backend: checkpoint and restore
// through cryopod-helper (HelperClient), the image stream passing through an
// fd handed over D-Bus. The store reads and writes the other end of the
// pipe on the calling thread while the helper works, so the method calls
// block until the helper answers (HelperClient::setBlockingCalls) and
// finish() waits for the job's Finished signal in a local event loop. DirectEngine
// (backend/store/directengine.h) is the same for root, in-process.
#pragma once

#include "imagetransport.h"

#include <QPointer>
#include <QVariantMap>

#include <functional>
#include <optional>

class HelperCall;
class HelperClient;

class HelperEngine
{
public:
    // Told the helper's job object path as soon as the helper answered the
    // call (on the calling thread): another thread may follow the job's
    // Progress signals and Cancel it through the same bus connection.
    using JobObserver = std::function<void(const QString &jobPath)>;

    class Producer : public cryopod::store::ImageProducer
    {
    public:
        // client outlives the producer.
        // compressionLevel: the zstd level of the stream; none: the pages travel
        // uncompressed (the store compresses what it keeps by itself).
        // lowPause: the tree runs on once its state and a copy of its memory
        // are taken (the helper's default); false: stopped for the whole capture.
        explicit Producer(HelperClient &client, std::optional<int> compressionLevel = std::nullopt, bool lowPause = true);
        void setJobObserver(JobObserver observer)
        {
            m_observer = std::move(observer);
        }
        // false: the helper ends the process once its whole image was delivered.
        void setLeaveRunning(bool leaveRunning)
        {
            m_leaveRunning = leaveRunning;
        }
        // Fds of the target process the image records as detached (the
        // helper's detached-fds: libcryopod's process waiting for its own
        // snapshot).
        void setDetachedFds(const QList<int> &fds)
        {
            m_detachedFds = fds;
        }
        cryopod::Result<void> start(pid_t pid, cryopod::UniqueFd fd) override;
        cryopod::Result<cryopod::store::ProducerResult> finish() override;

    private:
        HelperClient &m_client;
        std::optional<int> m_level;
        QList<int> m_detachedFds;
        bool m_leaveRunning = true;
        bool m_lowPause = true;
        JobObserver m_observer;
        QPointer<HelperCall> m_call;
    };

    class Consumer : public cryopod::store::ImageConsumer
    {
    public:
        Consumer(HelperClient &client, bool frozen = false);
        void setJobObserver(JobObserver observer)
        {
            m_observer = std::move(observer);
        }
        cryopod::Result<void> start(cryopod::UniqueFd fd) override;
        cryopod::Result<cryopod::store::ConsumerResult> finish() override;

    private:
        HelperClient &m_client;
        bool m_frozen;
        JobObserver m_observer;
        QPointer<HelperCall> m_call;
    };

    // The helper's error as an Error: its message and D-Bus error name.
    static cryopod::Error callError(const HelperCall &call);
};
