// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The snapshot store: a directory with an SQLite index (the single source of
// truth) and pack files of content-addressed, zstd-compressed chunks. Images
// go in as streams (SnapshotIngest), come out as the identical streams
// (SnapshotRebuilder), and the timeline is kept here. docs/store.md has the
// layout, the invariants and why they hold.
//
// Plain C++ on purpose (the GUI's models wrap it): every call returns a
// Result, nothing throws, nothing needs an event loop. One SnapshotStore
// object is used from one thread at a time; several processes may use the
// same store at once (the index is WAL, the packs are immutable, StoreLock
// keeps gc apart from everything else).
#pragma once

#include "result.h"
#include "sqlitedatabase.h"
#include "storetypes.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cryopod::store
{

class SnapshotStore
{
public:
    // Opens the store in `directory`, creating it (and the index) when
    // missing and migrating an older index. Refuses an index newer than
    // this code.
    static Result<std::unique_ptr<SnapshotStore>> open(const std::string &directory);
    ~SnapshotStore();
    SnapshotStore(const SnapshotStore &) = delete;
    SnapshotStore &operator=(const SnapshotStore &) = delete;

    // $CRYOPOD_STORE when set, else $XDG_DATA_HOME/cryopod (under Flatpak,
    // ~/.var/app/io.github.cryopod.Cryopod/data/cryopod).
    static std::string defaultLocation();

    const std::string &directory() const;
    std::string packsDirectory() const;
    std::string packPath(const std::string &name) const;
    SqliteDatabase &database();
    uint64_t hashSeed() const; // the seed of the store's XXH3-128 chunk hashes

    // ---- timeline
    Result<std::vector<SnapshotInfo>> list(const SnapshotFilter &filter = {});
    Result<SnapshotInfo> snapshot(int64_t id);
    Result<std::vector<Target>> targets();
    Result<void> setLabel(int64_t id, const std::string &label);
    Result<void> setNote(int64_t id, const std::string &note);
    Result<void> setPinned(int64_t id, bool pinned);
    Result<void> setTargetLabel(int64_t targetId, const std::string &label);
    // Removes the snapshot from the index and releases its chunks (their
    // space comes back with gc()). A pinned snapshot needs force.
    Result<void> remove(int64_t id, bool force = false);

    // ---- storing and rebuilding (see SnapshotIngest for the session form)
    // Reads an image stream from fd to its End and commits it as a snapshot.
    Result<int64_t> storeImage(int fd, const IngestOptions &options, const CommitInfo &commit = {}, IngestStats *stats = nullptr);
    // Writes the snapshot's image stream to fd, verified section by section.
    Result<RebuildResult> rebuild(int64_t id, int fd, const RebuildOptions &options = {});
    // The snapshot as one image file (written to a temporary name, synced, renamed).
    Result<RebuildResult> exportImage(int64_t id, const std::string &path, const RebuildOptions &options = {});
    // Stores the image file at path as a snapshot (origin "import").
    Result<int64_t> importImage(const std::string &path, const IngestOptions &options = {}, IngestStats *stats = nullptr);

    // ---- maintenance
    Result<CheckReport> check(const CheckOptions &options = {});
    Result<GcReport> gc(const GcOptions &options = {});
    Result<StoreStats> stats();

private:
    SnapshotStore();
    struct Private;
    std::unique_ptr<Private> d;
};

// "2026-03-01 14:05:09" in local time, for listings.
std::string formatTime(int64_t unixNs);
// "12.3 MiB"
std::string formatBytes(uint64_t bytes);

} // namespace cryopod::store
