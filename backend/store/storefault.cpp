// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "storefault.h"

#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace cryopod::store
{

namespace
{
constexpr const char *kSteps[] = {
    // storing a snapshot (SnapshotIngest)
    "ingest-begin", // the session holds the store lock, nothing written yet
    "pack-written", // the first blob is in a pack file, not yet synced
    "pack-synced", // a full pack was fsync'ed and closed, more data follows
    "packs-durable", // every pack of the snapshot and the packs directory are fsync'ed, no row yet
    "commit-before", // the snapshot's rows are inserted, the transaction not committed
    "commit-after", // the transaction committed, the session not yet closed
    // deleting a snapshot
    "delete-before", // the snapshot's rows are deleted and refs decremented, not committed
    "delete-after", // committed, before the gc that follows a delete
    // gc
    "gc-chunks", // dead chunk rows deleted, not committed
    "gc-repack-written", // a repacked pack is written and synced, no row yet
    "gc-repack-committed", // the index points to the new pack, the old file is still there
    "gc-unlinked", // the first unreferenced pack file is unlinked
};

const char *configured()
{
    static const char *const value = std::getenv("CRYOPOD_STORE_FAULT");
    return value;
}
} // namespace

void StoreFault::point(const char *step)
{
    const char *fault = configured();
    if (fault && std::strcmp(fault, step) == 0) {
        ::_exit(kExitCode);
    }
}

std::span<const char *const> StoreFault::steps()
{
    return kSteps;
}

} // namespace cryopod::store
