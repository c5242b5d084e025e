// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The schema of the snapshot index and its migrations. The version lives in
// PRAGMA user_version; every version has one migration function that takes
// the database from the version before it, run in its own transaction
// together with the new user_version, so a crash leaves either version,
// never a half-migrated index. A database newer than this code is refused,
// never touched. docs/store.md describes the tables.
#pragma once

#include "result.h"
#include "sqlitedatabase.h"

namespace cryopod::store
{

class StoreSchema
{
public:
    // The version this code creates and understands.
    static constexpr int kVersion = 3;

    static Result<int> version(SqliteDatabase &db);
    // Runs the migrations from the current version up to `target` (tests
    // stop early to build an old index). Refuses a database whose version is
    // newer than kVersion, with an error that names both versions.
    static Result<void> migrate(SqliteDatabase &db, int target = kVersion);
    // The connection settings every user of the index applies first: WAL,
    // synchronous=FULL, foreign keys, a busy timeout.
    static Result<void> configure(SqliteDatabase &db);
};

} // namespace cryopod::store
