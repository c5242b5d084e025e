// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "sqlitedatabase.h"

#include <cerrno>
#include <format>
#include <sqlite3.h>
#include <utility>

namespace cryopod::store
{

int sqliteErrno(int code)
{
    switch (code & 0xff) {
    case SQLITE_FULL:
        return ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return EBUSY;
    case SQLITE_IOERR:
        return EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return EBADMSG;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return EACCES;
    case SQLITE_NOMEM:
        return ENOMEM;
    case SQLITE_CANTOPEN:
        return ENOENT;
    default:
        return 0;
    }
}

// ---- statement

SqliteStatement::SqliteStatement(sqlite3 *db, sqlite3_stmt *stmt)
    : m_db(db)
    , m_stmt(stmt)
{
}

SqliteStatement::SqliteStatement(SqliteStatement &&other) noexcept
    : m_db(std::exchange(other.m_db, nullptr))
    , m_stmt(std::exchange(other.m_stmt, nullptr))
{
}

SqliteStatement &SqliteStatement::operator=(SqliteStatement &&other) noexcept
{
    if (this != &other) {
        sqlite3_finalize(m_stmt);
        m_db = std::exchange(other.m_db, nullptr);
        m_stmt = std::exchange(other.m_stmt, nullptr);
    }
    return *this;
}

SqliteStatement::~SqliteStatement()
{
    sqlite3_finalize(m_stmt);
}

SqliteStatement &SqliteStatement::bind(int index, int64_t value)
{
    sqlite3_bind_int64(m_stmt, index, value);
    return *this;
}

SqliteStatement &SqliteStatement::bind(int index, std::string_view text)
{
    sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
    return *this;
}

SqliteStatement &SqliteStatement::bindBlob(int index, std::span<const uint8_t> blob)
{
    // A zero-length blob must not be NULL: bind a non-null pointer.
    static const uint8_t empty = 0;
    sqlite3_bind_blob64(m_stmt, index, blob.empty() ? &empty : blob.data(), blob.size(), SQLITE_STATIC);
    return *this;
}

SqliteStatement &SqliteStatement::bindNull(int index)
{
    sqlite3_bind_null(m_stmt, index);
    return *this;
}

Result<bool> SqliteStatement::step()
{
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    const int code = sqlite3_extended_errcode(m_db);
    Error e {sqliteErrno(code), std::format("SQLite: {} (in \"{}\")", sqlite3_errmsg(m_db), sqlite3_sql(m_stmt))};
    sqlite3_reset(m_stmt);
    return std::unexpected(e);
}

Result<void> SqliteStatement::each(const std::function<void(const SqliteStatement &)> &row)
{
    for (;;) {
        auto more = step();
        if (!more) {
            return std::unexpected(more.error());
        }
        if (!*more) {
            return {};
        }
        row(*this);
    }
}

Result<void> SqliteDatabase::each(const std::string &sql, const std::function<void(const SqliteStatement &)> &row)
{
    auto q = prepare(sql);
    if (!q) {
        return std::unexpected(q.error());
    }
    return q->each(row);
}

Result<void> SqliteStatement::run()
{
    return each([](const SqliteStatement &) {});
}

void SqliteStatement::reset()
{
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

int64_t SqliteStatement::columnInt(int column) const
{
    return sqlite3_column_int64(m_stmt, column);
}

std::string SqliteStatement::columnText(int column) const
{
    const auto *text = reinterpret_cast<const char *>(sqlite3_column_text(m_stmt, column));
    return text ? std::string(text, size_t(sqlite3_column_bytes(m_stmt, column))) : std::string();
}

std::span<const uint8_t> SqliteStatement::columnBlob(int column) const
{
    const auto *blob = static_cast<const uint8_t *>(sqlite3_column_blob(m_stmt, column));
    return blob ? std::span<const uint8_t>(blob, size_t(sqlite3_column_bytes(m_stmt, column))) : std::span<const uint8_t>();
}

bool SqliteStatement::columnIsNull(int column) const
{
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

// ---- database

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const std::string &path)
{
    std::unique_ptr<SqliteDatabase> db(new SqliteDatabase);
    db->m_path = path;
    const int rc = sqlite3_open_v2(path.c_str(), &db->m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        Error e {sqliteErrno(rc), std::format("open the index {}: {}", path, db->m_db ? sqlite3_errmsg(db->m_db) : sqlite3_errstr(rc))};
        return std::unexpected(e);
    }
    sqlite3_extended_result_codes(db->m_db, 1);
    return db;
}

SqliteDatabase::~SqliteDatabase()
{
    sqlite3_close_v2(m_db);
}

Error SqliteDatabase::lastError(const std::string &what) const
{
    const int code = sqlite3_extended_errcode(m_db);
    return Error {sqliteErrno(code), std::format("{}: SQLite: {}", what, sqlite3_errmsg(m_db))};
}

Result<void> SqliteDatabase::exec(const std::string &sql)
{
    char *message = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        const int code = sqlite3_extended_errcode(m_db);
        Error e {sqliteErrno(code), std::format("SQLite: {} (in \"{}\")", message ? message : sqlite3_errstr(rc), sql)};
        sqlite3_free(message);
        return std::unexpected(e);
    }
    return {};
}

Result<SqliteStatement> SqliteDatabase::prepare(const std::string &sql)
{
    sqlite3_stmt *stmt = nullptr;
    const int rc = sqlite3_prepare_v3(m_db, sql.c_str(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        return std::unexpected(lastError(std::format("prepare \"{}\"", sql)));
    }
    return SqliteStatement(m_db, stmt);
}

Result<std::optional<int64_t>> SqliteDatabase::queryInt(const std::string &sql)
{
    auto stmt = prepare(sql);
    if (!stmt) {
        return std::unexpected(stmt.error());
    }
    auto row = stmt->step();
    if (!row) {
        return std::unexpected(row.error());
    }
    if (!*row) {
        return std::optional<int64_t>();
    }
    return std::optional<int64_t>(stmt->columnInt(0));
}

int64_t SqliteDatabase::lastInsertRowid() const
{
    return sqlite3_last_insert_rowid(m_db);
}

int64_t SqliteDatabase::changes() const
{
    return sqlite3_changes64(m_db);
}

// ---- transaction

Result<SqliteTransaction> SqliteTransaction::begin(SqliteDatabase &db, Mode mode)
{
    CRYOPOD_PROPAGATE(db.exec(mode == Mode::Immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
    return SqliteTransaction(&db);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction &&other) noexcept
    : m_db(std::exchange(other.m_db, nullptr))
{
}

SqliteTransaction::~SqliteTransaction()
{
    rollback();
}

Result<void> SqliteTransaction::commit()
{
    if (!m_db) {
        return fail("commit: no transaction is open");
    }
    auto ok = m_db->exec("COMMIT");
    if (!ok) {
        // A failed COMMIT (disk full, busy) may leave the transaction open: roll it back.
        rollback();
        return ok;
    }
    m_db = nullptr;
    return {};
}

void SqliteTransaction::rollback()
{
    if (m_db) {
        if (!sqlite3_get_autocommit(m_db->handle())) {
            sqlite3_exec(m_db->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
        m_db = nullptr;
    }
}

} // namespace cryopod::store
