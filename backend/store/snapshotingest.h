// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Stores one image stream as a snapshot, as the stream arrives:
//
//   begin()    takes the store lock (shared)
//   consume()  reads the stream section by section (one section in memory
//              at a time); cuts it into chunks: the header and small sections
//              as they are, the data of Pages/FileData sections decompressed
//              into page-sized chunks; hashes every chunk (XXH3-128) and
//              looks it up; appends only new, non-zero chunks to blobs in new
//              pack files
//   commit()   fsyncs the packs and the directory, then inserts packs,
//              chunks, reference counts, the target, the snapshot and its
//              manifest in one SQLite transaction
//
// Until that transaction commits, nothing in the index refers to the new
// packs: a crash anywhere before leaves unreferenced files that gc removes,
// and abort() (or the destructor) removes them at once.
#pragma once

#include "result.h"
#include "storetypes.h"

#include <cstdint>
#include <memory>

namespace cryopod::store
{

class SnapshotStore;

class SnapshotIngest
{
public:
    static Result<std::unique_ptr<SnapshotIngest>> begin(SnapshotStore &store, const IngestOptions &options);
    ~SnapshotIngest(); // aborts unless committed
    SnapshotIngest(const SnapshotIngest &) = delete;
    SnapshotIngest &operator=(const SnapshotIngest &) = delete;

    // Reads the image from fd up to and including its End section (bytes
    // after End are left unread). Every section is validated as ImageReader
    // would; a damaged or truncated stream fails here.
    Result<void> consume(int fd);
    // Makes the snapshot durable and visible; returns its id.
    Result<int64_t> commit(const CommitInfo &info = {});
    // Removes everything written so far.
    void abort();

    const IngestStats &stats() const;

private:
    SnapshotIngest();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace cryopod::store
