// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotjob.h"

#include "snapshotingest.h"
#include "snapshotrebuilder.h"
#include "snapshotstore.h"

#include <thread>
#include <cerrno>
#include <fcntl.h>
#include <format>
#include <unistd.h>

namespace cryopod::store
{

namespace
{
Result<std::pair<UniqueFd, UniqueFd>> makePipe()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return sysError("create a pipe for the image");
    }
    // a larger pipe lets producer and store run with fewer wake-ups
    ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    return std::pair<UniqueFd, UniqueFd>(UniqueFd(fds[0]), UniqueFd(fds[1]));
}
} // namespace

Result<TakeResult> SnapshotJob::take(SnapshotStore &store, ImageProducer &producer, pid_t pid, const IngestOptions &options)
{
    auto ingest = SnapshotIngest::begin(store, options);
    if (!ingest) {
        return std::unexpected(ingest.error());
    }
    auto pipe = makePipe();
    if (!pipe) {
        return std::unexpected(pipe.error());
    }
    UniqueFd readEnd = std::move(pipe->first);
    if (auto ok = producer.start(pid, std::move(pipe->second)); !ok) {
        return std::unexpected(ok.error());
    }
    auto consumed = (*ingest)->consume(readEnd.get());
    readEnd.reset(); // a producer still writing gets EPIPE now
    auto produced = producer.finish();
    if (!produced) {
        (*ingest)->abort();
        // The producer stopped because the store closed the pipe: the store's error is the cause.
        if (!consumed && produced.error().code == EPIPE) {
            return std::unexpected(consumed.error().context(std::format("snapshot of {}", pid)));
        }
        // Otherwise the store only saw the stream end early.
        return std::unexpected(produced.error().context(std::format("snapshot of {}", pid)));
    }
    if (!consumed) {
        return std::unexpected(consumed.error().context(std::format("snapshot of {}", pid)));
    }
    CommitInfo info;
    info.pauseNs = produced->pauseNs;
    info.durationNs = 0;
    auto id = (*ingest)->commit(info);
    if (!id) {
        return std::unexpected(id.error().context(std::format("snapshot of {}", pid)));
    }
    TakeResult result;
    result.id = *id;
    result.producer = *produced;
    result.ingest = (*ingest)->stats();
    return result;
}

RebuildOptions SnapshotJob::restoreOptions()
{
    RebuildOptions options;
    options.exact = false;
    return options;
}

Result<RebuildResult> SnapshotJob::read(SnapshotStore &store, int64_t id, const std::function<void(int fd)> &reader)
{
    auto pipe = makePipe();
    if (!pipe) {
        return std::unexpected(pipe.error());
    }
    UniqueFd readEnd = std::move(pipe->first);
    UniqueFd writeEnd = std::move(pipe->second);
    Result<RebuildResult> rebuilt = fail("not rebuilt");
    std::thread rebuilder([&] {
        rebuilt = SnapshotRebuilder::rebuild(store, id, writeEnd.get(), restoreOptions());
        writeEnd.reset();
    });
    reader(readEnd.get());
    readEnd.reset(); // a rebuild still writing stops (EPIPE)
    rebuilder.join();
    return rebuilt;
}

Result<RestoreResult> SnapshotJob::restore(SnapshotStore &store, int64_t id, ImageConsumer &consumer, const RebuildOptions &options)
{
    if (auto s = store.snapshot(id); !s) {
        return std::unexpected(s.error().context("restore"));
    }
    auto pipe = makePipe();
    if (!pipe) {
        return std::unexpected(pipe.error());
    }
    UniqueFd writeEnd = std::move(pipe->second);
    if (auto ok = consumer.start(std::move(pipe->first)); !ok) {
        return std::unexpected(ok.error());
    }
    // The consumer runs on this thread (the engine restores children of the
    // calling thread and traces them from it); the stream is rebuilt beside it.
    Result<RebuildResult> rebuilt = fail("not rebuilt");
    std::thread rebuilder([&] {
        rebuilt = SnapshotRebuilder::rebuild(store, id, writeEnd.get(), options);
        writeEnd.reset(); // the consumer sees the end of the stream (or its truncation)
    });
    auto consumed = consumer.finish();
    rebuilder.join();
    // The consumer stopped reading (a refusal, a failed restore): the stream's
    // EPIPE is only the echo of its error.
    if (!consumed && (!rebuilt && rebuilt.error().code == EPIPE)) {
        return std::unexpected(consumed.error().context(std::format("restore snapshot {}", id)));
    }
    if (!rebuilt) {
        return std::unexpected(rebuilt.error().context(std::format("restore snapshot {}", id)));
    }
    if (!consumed) {
        return std::unexpected(consumed.error().context(std::format("restore snapshot {}", id)));
    }
    RestoreResult result;
    result.consumer = *consumed;
    result.rebuild = *rebuilt;
    return result;
}

} // namespace cryopod::store
