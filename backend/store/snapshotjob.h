// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The two data paths of the design, between a store and an image transport:
//
//   take:    producer --pipe--> SnapshotIngest  (the stream is stored as it
//            is written; the snapshot commits only when both sides succeeded)
//   restore: SnapshotRebuilder --pipe--> consumer (the consumer on the
//            calling thread, the rebuild on a second one)
//
// Errors name the side that failed first: a store that runs out of disk
// closes its end of the pipe, the producer then fails with EPIPE and leaves
// the process running, and the store's error is the one reported.
#pragma once

#include "imagetransport.h"
#include "result.h"
#include "storetypes.h"

#include <cstdint>
#include <functional>
#include <sys/types.h>

namespace cryopod::store
{

class SnapshotStore;

struct TakeResult {
    int64_t id = 0;
    ProducerResult producer;
    IngestStats ingest;
};

struct RestoreResult {
    ConsumerResult consumer;
    RebuildResult rebuild;
};

class SnapshotJob
{
public:
    static Result<TakeResult> take(SnapshotStore &store, ImageProducer &producer, pid_t pid, const IngestOptions &options);
    // By default the stream is the stored image byte for byte; only when the
    // zstd library changed since the snapshot was stored may sections come
    // out re-encoded (RebuildOptions::exact off, see there).
    static Result<RestoreResult> restore(SnapshotStore &store, int64_t id, ImageConsumer &consumer, const RebuildOptions &options = restoreOptions());
    static RebuildOptions restoreOptions();
    // The stored image as a restore gets it, for reading it: rebuilt into a
    // pipe on a second thread while reader reads the other end (fd, not
    // owned) on this one. The reader may stop early: the rebuild then ends
    // with EPIPE. Returns the rebuild's result; the reader keeps its own.
    static Result<RebuildResult> read(SnapshotStore &store, int64_t id, const std::function<void(int fd)> &reader);
};

} // namespace cryopod::store
