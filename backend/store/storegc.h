// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Garbage collection, with the store locked exclusively (no snapshot is
// being stored, rebuilt or checked meanwhile):
//
//  1. chunks no manifest refers to (refs = 0) leave the index;
//  2. a pack with no chunk left is removed from the index, then unlinked;
//  3. a pack whose live chunks hold less than GcOptions::repackBelow of its
//     (uncompressed) bytes is rewritten: live blobs copied as they are (or, when most of a blob is
//     dead, its live chunks re-compressed into a new blob) into a new pack
//     that is fsync'ed before one transaction points the chunks at it; the
//     old file is unlinked after the commit;
//  4. files in packs/ the index does not name (left by a crash or a failed
//     snapshot) are unlinked.
//
// Every step is safe to interrupt: before its commit nothing refers to a new
// pack, after it nothing refers to the old one.
#pragma once

#include "result.h"
#include "storetypes.h"

namespace cryopod::store
{

class SnapshotStore;

class StoreGc
{
public:
    static Result<GcReport> run(SnapshotStore &store, const GcOptions &options = {});
};

} // namespace cryopod::store
