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

#include "uniquefd.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

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

    // A terminal of a restored tree, from the helper's result.
    struct Terminal {
        std::string path; // the slave the tree is on now
        std::string originalPath; // /dev/pts/N at the checkpoint
        cryopod::UniqueFd master; // a new pty's master (the caller's to relay: a terminal view); else none
    };
    // The terminals of a Restore result (keys pty-path, pty-original-path,
    // pty-master, then the same ending in -2, -3, ...); the masters dup'ed.
    static std::vector<Terminal> terminalsOf(const QVariantMap &result);

    class Consumer : public cryopod::store::ImageConsumer
    {
    public:
        Consumer(HelperClient &client, bool frozen = false);
        void setJobObserver(JobObserver observer)
        {
            m_observer = std::move(observer);
        }
        // The helper's pty option: "refuse" (the default: an image of a
        // program on a terminal is refused), "new" (a new pty, whose master
        // takeTerminals() hands over after finish()) or "original".
        void setPty(const QString &mode)
        {
            m_pty = mode;
        }
        cryopod::Result<void> start(cryopod::UniqueFd fd) override;
        cryopod::Result<cryopod::store::ConsumerResult> finish() override;
        // The restored tree's terminals (once finish() succeeded).
        std::vector<Terminal> takeTerminals()
        {
            return std::move(m_terminals);
        }

    private:
        HelperClient &m_client;
        bool m_frozen;
        QString m_pty = QStringLiteral("refuse");
        JobObserver m_observer;
        QPointer<HelperCall> m_call;
        std::vector<Terminal> m_terminals;
    };

    // The helper's error as an Error: its message and D-Bus error name.
    static cryopod::Error callError(const HelperCall &call);
};
