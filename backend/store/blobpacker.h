// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Compresses blobs and appends them to new pack files on worker threads of
// its own (one per CPU, at most 4), so that storing an image hashes and
// looks up the next pages while the new ones are compressed: the first
// snapshot of a program compresses every page it stores. Workers compress
// in parallel and append one at a time, so blobs land in the packs roughly,
// not strictly, in the order they were submitted (each blob's place is
// reported with it). A pack is closed (fsync'ed) when it reaches
// kPackTargetBytes and the next blob starts a new one. At most a few blobs
// wait in the queue (bounded memory); submit() blocks when it is full.
#pragma once

#include "packwriter.h"
#include "result.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace cryopod::store
{

struct PackedBlob {
    std::vector<size_t> members; // as submitted
    size_t pack = 0; // index into packs() (the pack may still be open)
    PackWriter::BlobPlace place;
};

struct DonePack {
    std::string name;
    std::string path;
    uint64_t bytes = 0;
    uint64_t rawBytes = 0;
};

class BlobPacker
{
public:
    // workers 0: one per online CPU, at most 4.
    BlobPacker(std::string packsDirectory, int level, size_t maxQueued = 8, unsigned workers = 0);
    ~BlobPacker(); // stops the threads; files stay unless discard() was called
    BlobPacker(const BlobPacker &) = delete;
    BlobPacker &operator=(const BlobPacker &) = delete;

    // Queues a blob (members: the caller's ids of the chunks in it). Fails
    // once writing failed (the first error, e.g. a full disk).
    Result<void> submit(std::vector<uint8_t> raw, std::vector<size_t> members);
    // The blobs written since the last call.
    std::vector<PackedBlob> collect();
    // Waits for every queued blob and finishes (fsyncs) the open pack.
    Result<void> finish();
    // Stops and unlinks every pack this packer wrote.
    void discard();

    const std::vector<DonePack> &packs() const; // complete after finish()
    uint64_t storedBytes() const;
    uint64_t cpuNs() const; // CPU time of the packer's threads, summed

private:
    void run();
    Result<void> write(std::span<const uint8_t> blob, std::vector<size_t> &members);
    Result<void> closePack();

    std::string m_dir;
    int m_level;
    size_t m_maxQueued;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    struct Job {
        std::vector<uint8_t> raw;
        std::vector<size_t> members;
    };
    std::deque<Job> m_queue;
    unsigned m_busy = 0; // workers with a job
    bool m_stop = false;
    std::optional<Error> m_error;
    std::vector<PackedBlob> m_done;
    // the open pack and the finished ones: one worker at a time (m_writeMutex)
    std::mutex m_writeMutex;
    std::unique_ptr<PackWriter> m_pack;
    std::vector<DonePack> m_packs;
    bool m_wroteBlob = false;
    uint64_t m_storedBytes = 0;
    uint64_t m_cpuNs = 0;
    std::vector<std::thread> m_threads;
};

} // namespace cryopod::store
