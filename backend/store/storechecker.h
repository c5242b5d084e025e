// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// `cryopodctl store check`: verifies the whole store and says precisely what
// is damaged. SQLite's own check of the index; every pack present with the
// size the index says; every blob's checksum; every chunk against its
// XXH3-128; every manifest decodable, well-formed and referring only to
// existing chunks; every chunk's reference count equal to the references
// the manifests hold. Optionally every snapshot is rebuilt (to nowhere),
// comparing each section's checksum and the whole image's hash. Leftovers of
// interrupted snapshots (unreferenced chunks and pack files) are listed as
// garbage, which is not damage: `store gc` reclaims it.
#pragma once

#include "result.h"
#include "storetypes.h"

namespace cryopod::store
{

class SnapshotStore;

class StoreChecker
{
public:
    static Result<CheckReport> check(SnapshotStore &store, const CheckOptions &options = {});
};

} // namespace cryopod::store
