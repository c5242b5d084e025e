// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Compares two snapshots from their manifests, without rebuilding either
// image: memory page by page (a page is the same when it is the same chunk,
// i.e. has the same content hash), per memory region of the newer snapshot;
// the file descriptors; the process tree and each process's task state.
#pragma once

#include "result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cryopod::store
{

class SnapshotStore;

struct RegionDiff {
    int32_t pid = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    std::string name; // path, "[heap]", "[stack]", or "" for anonymous memory
    std::string mapping; // "" when mapped in both, "added" or "removed"
    uint64_t pagesA = 0; // pages stored in the region in the first snapshot
    uint64_t pagesB = 0;
    uint64_t changed = 0; // stored in both, different content
    uint64_t added = 0; // stored only in the second
    uint64_t removed = 0; // stored only in the first
};

struct DiffReport {
    int64_t a = 0;
    int64_t b = 0;
    uint32_t pageSize = 4096;
    std::vector<RegionDiff> regions; // only regions with a difference
    uint64_t pagesChanged = 0;
    uint64_t pagesAdded = 0;
    uint64_t pagesRemoved = 0;
    uint64_t pagesSame = 0;
    std::vector<std::string> fds; // "pid 123 fd 4: added /tmp/x (regular, pos 0)"
    std::vector<std::string> processes; // tree and task differences
    bool identical() const
    {
        return regions.empty() && fds.empty() && processes.empty();
    }
};

class SnapshotDiff
{
public:
    static Result<DiffReport> compare(SnapshotStore &store, int64_t a, int64_t b);
};

} // namespace cryopod::store
