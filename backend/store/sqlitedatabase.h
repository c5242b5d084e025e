// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A thin RAII layer over the SQLite C API for the snapshot index.
//
// Why the C API (libsqlite3) and not QtSql: the store needs what QSqlDatabase
// hides or makes awkward. Extended result codes (SQLITE_FULL must become a
// clear "disk full", SQLITE_BUSY a "store busy"); BEGIN IMMEDIATE and
// explicit transaction control around the commit of a snapshot; prepared
// statements reused hundreds of thousands of times per snapshot with
// blobs bound without a copy (SQLITE_STATIC); PRAGMAs (WAL, synchronous,
// user_version) read and written directly; and no process-wide connection
// registry tied to QCoreApplication and thread affinity, so the store runs on
// any thread and in tests and benchmarks without a Qt event loop. It is also
// one library fewer between the data and the disk.
#pragma once

#include "result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace cryopod::store
{

class SqliteStatement
{
public:
    SqliteStatement() = default;
    SqliteStatement(sqlite3 *db, sqlite3_stmt *stmt);
    SqliteStatement(SqliteStatement &&other) noexcept;
    SqliteStatement &operator=(SqliteStatement &&other) noexcept;
    SqliteStatement(const SqliteStatement &) = delete;
    SqliteStatement &operator=(const SqliteStatement &) = delete;
    ~SqliteStatement();

    // Parameters are 1-based, as in SQLite. Blobs and text are bound without
    // a copy: they must stay valid until the statement is reset.
    SqliteStatement &bind(int index, int64_t value);
    SqliteStatement &bind(int index, std::string_view text);
    SqliteStatement &bindBlob(int index, std::span<const uint8_t> blob);
    SqliteStatement &bindNull(int index);

    // One step: true when a row is available, false when done.
    Result<bool> step();
    // Steps to the end (for statements without rows).
    Result<void> run();
    // Steps to the end, handing every row to `row`.
    Result<void> each(const std::function<void(const SqliteStatement &)> &row);
    void reset(); // resets and clears the bindings

    int64_t columnInt(int column) const;
    std::string columnText(int column) const;
    std::span<const uint8_t> columnBlob(int column) const; // valid until the next step/reset
    bool columnIsNull(int column) const;

private:
    sqlite3 *m_db = nullptr;
    sqlite3_stmt *m_stmt = nullptr;
};

class SqliteDatabase
{
public:
    // Opens (or creates) the database file.
    static Result<std::unique_ptr<SqliteDatabase>> open(const std::string &path);
    ~SqliteDatabase();
    SqliteDatabase(const SqliteDatabase &) = delete;
    SqliteDatabase &operator=(const SqliteDatabase &) = delete;

    Result<void> exec(const std::string &sql);
    Result<SqliteStatement> prepare(const std::string &sql);
    // Prepares sql (no parameters) and hands every row to `row`.
    Result<void> each(const std::string &sql, const std::function<void(const SqliteStatement &)> &row);
    // A single integer from a query (e.g. PRAGMA user_version); nullopt for no row.
    Result<std::optional<int64_t>> queryInt(const std::string &sql);
    int64_t lastInsertRowid() const;
    int64_t changes() const;
    const std::string &path() const
    {
        return m_path;
    }
    sqlite3 *handle() const
    {
        return m_db;
    }

    // The error of the last call on this connection, with errno set for
    // SQLITE_FULL (ENOSPC), SQLITE_BUSY/LOCKED (EBUSY), SQLITE_IOERR (EIO),
    // SQLITE_CORRUPT/NOTADB (EBADMSG), SQLITE_READONLY/PERM (EACCES).
    Error lastError(const std::string &what) const;

private:
    SqliteDatabase() = default;
    sqlite3 *m_db = nullptr;
    std::string m_path;
};

// BEGIN (IMMEDIATE for writers) ... COMMIT; rolls back when destroyed uncommitted.
class SqliteTransaction
{
public:
    enum class Mode {
        Deferred, // a reader: a consistent view of the index until commit()/destruction
        Immediate, // a writer: takes the write lock now
    };
    static Result<SqliteTransaction> begin(SqliteDatabase &db, Mode mode = Mode::Immediate);
    SqliteTransaction(SqliteTransaction &&other) noexcept;
    SqliteTransaction &operator=(SqliteTransaction &&) = delete;
    SqliteTransaction(const SqliteTransaction &) = delete;
    SqliteTransaction &operator=(const SqliteTransaction &) = delete;
    ~SqliteTransaction();

    Result<void> commit();
    void rollback();

private:
    explicit SqliteTransaction(SqliteDatabase *db)
        : m_db(db)
    {
    }
    SqliteDatabase *m_db = nullptr;
};

// Runs a statement that changes exactly one row (an UPDATE or DELETE by
// id): bind(statement) binds its values, the id goes to parameter idIndex.
// Fails with `what` as context, or with ENOENT and `missing` when no row
// changed.
template<typename Bind>
Result<void> changeOneRow(SqliteDatabase &db, const std::string &sql, int idIndex, int64_t id, const std::string &what, const std::string &missing, Bind bind)
{
    auto q = db.prepare(sql);
    if (!q) {
        return std::unexpected(q.error());
    }
    bind(*q);
    q->bind(idIndex, id);
    if (auto ok = q->run(); !ok) {
        return std::unexpected(ok.error().context(what));
    }
    if (db.changes() != 1) {
        return fail(missing, ENOENT);
    }
    return {};
}

// errno for an SQLite (extended) result code; 0 when none fits.
int sqliteErrno(int code);

} // namespace cryopod::store
