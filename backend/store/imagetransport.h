// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Where image streams come from and go to. The store never checkpoints or
// restores anything itself: an ImageProducer writes a process's image into
// an fd the store reads, an ImageConsumer restores from an fd the store
// writes. Today the only implementations run the engine in-process
// (DirectEngine, root only); the privileged helper's D-Bus calls
// (HelperClient::checkpoint/restore take exactly such an fd) are the next.
#pragma once

#include "result.h"
#include "uniquefd.h"

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace cryopod::store
{

struct ProducerResult {
    uint64_t pauseNs = 0; // how long the process was stopped
    uint64_t totalNs = 0;
    uint64_t imageBytes = 0;
};

class ImageProducer
{
public:
    virtual ~ImageProducer() = default;
    // Starts writing the image of pid into fd (taken over: the producer
    // closes it when the image is written or it failed) and returns at once.
    virtual Result<void> start(pid_t pid, UniqueFd fd) = 0;
    // Waits until the producer is done.
    virtual Result<ProducerResult> finish() = 0;
};

struct ConsumerResult {
    pid_t pid = 0; // the restored process
    uint64_t totalNs = 0;
};

class ImageConsumer
{
public:
    virtual ~ImageConsumer() = default;
    // Takes the fd to restore from (taken over) and returns at once; the
    // restore may begin now or in finish().
    virtual Result<void> start(UniqueFd fd) = 0;
    // Restores (or waits for the restore) and closes the fd, so that the
    // writing side sees EPIPE if the restore stopped early.
    virtual Result<ConsumerResult> finish() = 0;
};

} // namespace cryopod::store
