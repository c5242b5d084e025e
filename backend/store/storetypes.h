// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The values the snapshot store hands out and takes: targets, snapshots,
// options and reports. Plain structs; docs/store.md explains the fields.
#pragma once

#include "bulkcodec.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cryopod::store
{

// What was snapshotted: one process, as it was when the snapshot began.
struct TargetInfo {
    std::string host;
    uint32_t uid = 0;
    std::string user;
    std::string exe;
    std::string cmdline; // arguments joined by spaces
    int32_t pid = 0;
    int64_t startTimeNs = 0; // process start, ns since the epoch; 0 when unknown (imports)
    std::string kernel;
};

struct Target {
    int64_t id = 0;
    TargetInfo info;
    std::string label;
    int64_t createdAtNs = 0;
    int64_t snapshots = 0;
};

struct SnapshotInfo {
    int64_t id = 0;
    int64_t targetId = 0;
    int64_t createdAtNs = 0; // when the image was taken (its header)
    int64_t storedAtNs = 0; // when it was committed to the store
    std::string label;
    std::string note;
    bool pinned = false;
    int64_t parentId = 0; // the target's previous snapshot, 0 for none
    std::string origin; // "snapshot", "import" or "schedule" (taken by a schedule's runner)
    int64_t scheduleId = 0; // the schedule that took it while it exists, else 0
    int32_t rootPid = 0;
    std::string comm;
    uint64_t imageBytes = 0; // the image stream as the engine wrote it
    uint64_t rawBytes = 0; // its payload uncompressed
    uint64_t pages = 0;
    uint64_t sections = 0;
    uint64_t storedBytes = 0; // what this snapshot added to the store (new blobs)
    uint64_t durationNs = 0; // from the start of the checkpoint to the commit
    uint64_t pauseNs = 0; // how long the process was stopped (0 when unknown)
    std::string engineVersion;
    uint32_t formatVersion = 0;
    std::string codec; // zstd version at store time: byte-identical rebuilds depend on it
    std::string status; // "complete"
    // from the target
    std::string exe;
    std::string host;
    std::string targetLabel;
};

struct SnapshotFilter {
    int64_t targetId = 0; // 0: every target
    int64_t sinceNs = 0; // created at or after; 0: no bound
    int64_t untilNs = 0; // created before; 0: no bound
    int64_t scheduleId = 0; // 0: any; else only this schedule's snapshots
    size_t limit = 0; // 0: all
    bool newestFirst = false;
};

// When storing checks that re-encoding a Pages/FileData section reproduces
// its bytes (docs/store.md, "Byte-identical rebuilds").
enum class VerifyPolicy {
    EverySection, // re-compress every bulk section at store time
    Sample, // the first bulk section whose zstd frame header looks different, then one in 16
};

struct IngestOptions {
    std::string origin = "snapshot";
    int64_t scheduleId = 0; // the schedule taking it (origin "schedule"), 0 for none
    std::string label;
    std::string note;
    // The process as probed before the checkpoint; without it (imports) the
    // target is taken from the image: root pid, executable, host, kernel.
    std::optional<TargetInfo> target;
    // The encoding the producer is expected to use (it is verified, this
    // only saves trying others first).
    image::BulkEncoding encodingHint;
    VerifyPolicy verify = VerifyPolicy::Sample;
    int blobLevel = 1; // zstd level of the store's blobs
};

struct CommitInfo {
    uint64_t pauseNs = 0;
    uint64_t durationNs = 0; // 0: measured by the ingest (begin to commit)
};

struct IngestStats {
    uint64_t imageBytes = 0;
    uint64_t rawBytes = 0;
    uint64_t sections = 0;
    uint64_t bulkSections = 0;
    uint64_t verifiedSections = 0; // re-encoded at store time and compared
    uint64_t verbatimSections = 0; // bulk sections kept as they were (re-encoding did not match)
    uint64_t chunks = 0; // chunk references
    uint64_t zeroChunks = 0;
    uint64_t newChunks = 0;
    uint64_t newBytes = 0; // raw bytes of new chunks
    uint64_t storedBytes = 0; // bytes written to packs
    uint64_t packs = 0;
    uint64_t prefetchedChunks = 0; // hashes of the previous snapshot's pages loaded up front
    // where the time went: CPU time of the ingesting thread per step, and
    // the commit's wall time
    uint64_t readNs = 0; // reading and checking sections
    uint64_t decodeNs = 0; // decompressing bulk data
    uint64_t verifyNs = 0; // re-encoding to verify
    uint64_t chunkNs = 0; // hashing and looking up chunks
    uint64_t packNs = 0; // compressing and writing blobs
    uint64_t commitNs = 0;
};

struct RebuildOptions {
    // Fail unless every section comes out byte for byte as stored. Off: a
    // section whose re-encoding differs (after a zstd upgrade) is written as
    // an equivalent section (same records and data, each page verified
    // against its hash, new compressed bytes and checksum) and counted in
    // RebuildResult::reencodedSections. Export and check use exact; restore
    // does not, so that a zstd upgrade never makes a snapshot unrestorable.
    bool exact = true;
    int workers = 0; // zstd workers for re-compression; 0: one per CPU
};

struct RebuildResult {
    uint64_t bytes = 0;
    uint64_t sections = 0;
    uint64_t reencodedSections = 0;
    bool identical = true; // the stream equals the stored image (whole-image XXH3-128 compared)
};

struct CheckOptions {
    bool rebuild = false; // also rebuild every snapshot (to nowhere), comparing section checksums and the image hash
};

struct CheckReport {
    uint64_t snapshots = 0;
    uint64_t packs = 0;
    uint64_t chunks = 0;
    uint64_t blobs = 0;
    uint64_t bytesVerified = 0;
    std::vector<std::string> problems; // damage: each line names the object and what is wrong
    std::vector<std::string> garbage; // leftovers that gc reclaims (not damage)
    std::vector<std::string> notes; // neither damage nor garbage (e.g. snapshots that now rebuild as equivalent, not identical, images)
    std::set<int64_t> damagedSnapshots; // snapshots that cannot be rebuilt
    bool ok() const
    {
        return problems.empty();
    }
};

struct GcOptions {
    bool wait = false; // wait for running snapshots instead of failing with "busy"
    double repackBelow = 0.5; // rewrite a pack whose live bytes are below this fraction
};

struct GcReport {
    uint64_t chunksRemoved = 0;
    uint64_t packsDeleted = 0;
    uint64_t packsRepacked = 0;
    uint64_t orphanFilesRemoved = 0;
    uint64_t bytesBefore = 0; // store size on disk
    uint64_t bytesAfter = 0;
};

struct StoreStats {
    uint64_t snapshots = 0;
    uint64_t targets = 0;
    uint64_t packs = 0;
    uint64_t packBytes = 0;
    uint64_t chunks = 0;
    uint64_t liveChunks = 0;
    uint64_t indexBytes = 0; // the SQLite file and its WAL
    uint64_t diskBytes = 0; // everything in the store directory
};

} // namespace cryopod::store
