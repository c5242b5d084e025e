// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Rebuilds a snapshot's image stream from its manifest, section by section
// (one section in memory at a time), into an fd: the engine's restore pipe,
// an export file, or nothing (check). Every chunk is checked against its
// hash as it is read, every section against its stored checksum before it
// is written, and the whole stream against the image's XXH3-128 at the end.
#pragma once

#include "result.h"
#include "storetypes.h"

#include <cstdint>

namespace cryopod::store
{

class SnapshotStore;

class SnapshotRebuilder
{
public:
    // fd < 0: verify only, write nothing.
    static Result<RebuildResult> rebuild(SnapshotStore &store, int64_t id, int fd, const RebuildOptions &options = {});
};

} // namespace cryopod::store
