// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotstore.h"

#include "manifest.h"
#include "snapshotingest.h"
#include "snapshotrebuilder.h"
#include "storechecker.h"
#include "storefault.h"
#include "storegc.h"
#include "storelock.h"
#include "storeschema.h"

#include <QStandardPaths>
#include <QString>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <format>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace cryopod::store
{

namespace
{
Result<void> makeDirectory(const std::string &path)
{
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        return sysError("create the store directory " + path);
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return sysError("stat " + path);
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(path + " is not a directory", ENOTDIR);
    }
    return {};
}

// mkdir -p
Result<void> makePath(const std::string &path)
{
    for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        const std::string parent = path.substr(0, slash);
        if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
            return sysError("create directory " + parent);
        }
    }
    return makeDirectory(path);
}

constexpr const char *kSnapshotColumns =
    "s.id, s.target_id, s.created_at, s.stored_at, s.label, s.note, s.pinned, coalesce(s.parent_id, 0), s.origin, s.root_pid, s.comm, s.image_bytes, "
    "s.raw_bytes, s.pages, s.sections, s.stored_bytes, s.duration_ns, s.pause_ns, s.engine_version, s.format_version, s.codec, s.status, t.exe, t.host, "
    "t.label, coalesce(s.schedule_id, 0)";

SnapshotInfo snapshotFrom(const SqliteStatement &q)
{
    SnapshotInfo s;
    s.id = q.columnInt(0);
    s.targetId = q.columnInt(1);
    s.createdAtNs = q.columnInt(2);
    s.storedAtNs = q.columnInt(3);
    s.label = q.columnText(4);
    s.note = q.columnText(5);
    s.pinned = q.columnInt(6) != 0;
    s.parentId = q.columnInt(7);
    s.origin = q.columnText(8);
    s.rootPid = int32_t(q.columnInt(9));
    s.comm = q.columnText(10);
    s.imageBytes = uint64_t(q.columnInt(11));
    s.rawBytes = uint64_t(q.columnInt(12));
    s.pages = uint64_t(q.columnInt(13));
    s.sections = uint64_t(q.columnInt(14));
    s.storedBytes = uint64_t(q.columnInt(15));
    s.durationNs = uint64_t(q.columnInt(16));
    s.pauseNs = uint64_t(q.columnInt(17));
    s.engineVersion = q.columnText(18);
    s.formatVersion = uint32_t(q.columnInt(19));
    s.codec = q.columnText(20);
    s.status = q.columnText(21);
    s.exe = q.columnText(22);
    s.host = q.columnText(23);
    s.targetLabel = q.columnText(24);
    s.scheduleId = q.columnInt(25);
    return s;
}

uint64_t directoryBytes(const std::string &path)
{
    uint64_t total = 0;
    DIR *dir = ::opendir(path.c_str());
    if (!dir) {
        return 0;
    }
    while (const dirent *entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        struct stat st {};
        const std::string child = path + "/" + name;
        if (::lstat(child.c_str(), &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            total += directoryBytes(child);
        } else {
            total += uint64_t(st.st_blocks) * 512;
        }
    }
    ::closedir(dir);
    return total;
}
} // namespace

struct SnapshotStore::Private {
    std::string directory;
    std::unique_ptr<SqliteDatabase> db;
    uint64_t hashSeed = 0;
};

SnapshotStore::SnapshotStore()
    : d(std::make_unique<Private>())
{
}

SnapshotStore::~SnapshotStore() = default;

std::string SnapshotStore::defaultLocation()
{
    if (const char *env = std::getenv("CRYOPOD_STORE"); env && *env) {
        return env;
    }
    // GenericDataLocation is $XDG_DATA_HOME (else ~/.local/share); inside a
    // Flatpak, XDG_DATA_HOME is the app's ~/.var/app/<id>/data.
    return QString(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/cryopod")).toStdString();
}

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::open(const std::string &directory)
{
    if (directory.empty()) {
        return fail("open store: no directory given", EINVAL);
    }
    std::unique_ptr<SnapshotStore> store(new SnapshotStore);
    Private &p = *store->d;
    p.directory = directory;
    while (p.directory.size() > 1 && p.directory.back() == '/') {
        p.directory.pop_back();
    }
    if (auto ok = makePath(p.directory); !ok) {
        return std::unexpected(ok.error().context("open store"));
    }
    if (auto ok = makeDirectory(store->packsDirectory()); !ok) {
        return std::unexpected(ok.error().context("open store"));
    }
    auto db = SqliteDatabase::open(p.directory + "/index.sqlite");
    if (!db) {
        return std::unexpected(db.error().context("open store " + p.directory));
    }
    p.db = std::move(*db);
    // refuse a newer index before changing anything about it, WAL included
    auto version = StoreSchema::version(*p.db);
    if (!version) {
        return std::unexpected(version.error().context("open store " + p.directory));
    }
    if (*version > StoreSchema::kVersion) {
        auto refused = StoreSchema::migrate(*p.db);
        return std::unexpected(refused.error().context("open store " + p.directory));
    }
    if (auto ok = StoreSchema::configure(*p.db); !ok) {
        return std::unexpected(ok.error().context("open store " + p.directory));
    }
    if (auto ok = StoreSchema::migrate(*p.db); !ok) {
        return std::unexpected(ok.error().context("open store " + p.directory));
    }
    auto q = p.db->prepare("SELECT value FROM meta WHERE key = 'hash_seed'");
    if (!q) {
        return std::unexpected(q.error());
    }
    auto row = q->step();
    if (!row || !*row) {
        return fail("open store " + p.directory + ": the index has no hash seed", EBADMSG);
    }
    p.hashSeed = std::strtoull(q->columnText(0).c_str(), nullptr, 16);
    return store;
}

const std::string &SnapshotStore::directory() const
{
    return d->directory;
}

std::string SnapshotStore::packsDirectory() const
{
    return d->directory + "/packs";
}

std::string SnapshotStore::packPath(const std::string &name) const
{
    return packsDirectory() + "/" + name;
}

SqliteDatabase &SnapshotStore::database()
{
    return *d->db;
}

uint64_t SnapshotStore::hashSeed() const
{
    return d->hashSeed;
}

Result<std::vector<SnapshotInfo>> SnapshotStore::list(const SnapshotFilter &filter)
{
    std::string sql = std::format("SELECT {} FROM snapshots s JOIN targets t ON t.id = s.target_id WHERE 1", kSnapshotColumns);
    if (filter.targetId) {
        sql += " AND s.target_id = ?1";
    }
    if (filter.sinceNs) {
        sql += " AND s.created_at >= ?2";
    }
    if (filter.untilNs) {
        sql += " AND s.created_at < ?3";
    }
    if (filter.scheduleId) {
        sql += " AND s.schedule_id = ?5";
    }
    sql += filter.newestFirst ? " ORDER BY s.created_at DESC, s.id DESC" : " ORDER BY s.created_at, s.id";
    if (filter.limit) {
        sql += " LIMIT ?4";
    }
    auto q = d->db->prepare(sql);
    if (!q) {
        return std::unexpected(q.error());
    }
    if (filter.targetId) {
        q->bind(1, filter.targetId);
    }
    if (filter.sinceNs) {
        q->bind(2, filter.sinceNs);
    }
    if (filter.untilNs) {
        q->bind(3, filter.untilNs);
    }
    if (filter.limit) {
        q->bind(4, int64_t(filter.limit));
    }
    if (filter.scheduleId) {
        q->bind(5, filter.scheduleId);
    }
    std::vector<SnapshotInfo> out;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return std::unexpected(row.error().context("list snapshots"));
        }
        if (!*row) {
            break;
        }
        out.push_back(snapshotFrom(*q));
    }
    return out;
}

Result<SnapshotInfo> SnapshotStore::snapshot(int64_t id)
{
    auto q = d->db->prepare(std::format("SELECT {} FROM snapshots s JOIN targets t ON t.id = s.target_id WHERE s.id = ?1", kSnapshotColumns));
    if (!q) {
        return std::unexpected(q.error());
    }
    q->bind(1, id);
    auto row = q->step();
    if (!row) {
        return std::unexpected(row.error());
    }
    if (!*row) {
        return fail(std::format("there is no snapshot {}", id), ENOENT);
    }
    return snapshotFrom(*q);
}

Result<std::vector<Target>> SnapshotStore::targets()
{
    auto q = d->db->prepare(
        "SELECT t.id, t.host, t.uid, t.user, t.exe, t.cmdline, t.pid, t.start_time, t.kernel, t.label, t.created_at, "
        "(SELECT count(*) FROM snapshots s WHERE s.target_id = t.id) FROM targets t ORDER BY t.id");
    if (!q) {
        return std::unexpected(q.error());
    }
    std::vector<Target> out;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return std::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        Target t;
        t.id = q->columnInt(0);
        t.info.host = q->columnText(1);
        t.info.uid = uint32_t(q->columnInt(2));
        t.info.user = q->columnText(3);
        t.info.exe = q->columnText(4);
        t.info.cmdline = q->columnText(5);
        t.info.pid = int32_t(q->columnInt(6));
        t.info.startTimeNs = q->columnInt(7);
        t.info.kernel = q->columnText(8);
        t.label = q->columnText(9);
        t.createdAtNs = q->columnInt(10);
        t.snapshots = q->columnInt(11);
        out.push_back(std::move(t));
    }
    return out;
}

namespace
{
template<typename Bind>
Result<void> updateOne(SqliteDatabase &db, const std::string &sql, int64_t id, const char *what, Bind bind)
{
    return changeOneRow(db, sql, 2, id, std::format("set the {} of {}", what, id), std::format("set the {}: there is no {}", what, id), bind);
}
} // namespace

Result<void> SnapshotStore::setLabel(int64_t id, const std::string &label)
{
    return updateOne(*d->db, "UPDATE snapshots SET label = ?1 WHERE id = ?2", id, "label of snapshot", [&](SqliteStatement &q) {
        q.bind(1, std::string_view(label));
    });
}

Result<void> SnapshotStore::setNote(int64_t id, const std::string &note)
{
    return updateOne(*d->db, "UPDATE snapshots SET note = ?1 WHERE id = ?2", id, "note of snapshot", [&](SqliteStatement &q) {
        q.bind(1, std::string_view(note));
    });
}

Result<void> SnapshotStore::setPinned(int64_t id, bool pinned)
{
    return updateOne(*d->db, "UPDATE snapshots SET pinned = ?1 WHERE id = ?2", id, "pin of snapshot", [&](SqliteStatement &q) {
        q.bind(1, int64_t(pinned));
    });
}

Result<void> SnapshotStore::setTargetLabel(int64_t targetId, const std::string &label)
{
    return updateOne(*d->db, "UPDATE targets SET label = ?1 WHERE id = ?2", targetId, "label of target", [&](SqliteStatement &q) {
        q.bind(1, std::string_view(label));
    });
}

Result<void> SnapshotStore::remove(int64_t id, bool force)
{
    auto lock = StoreLock::acquire(d->directory, StoreLock::Mode::Shared, true);
    if (!lock) {
        return std::unexpected(lock.error());
    }
    SqliteDatabase &db = *d->db;
    const std::string what = std::format("delete snapshot {}", id);
    auto tx = SqliteTransaction::begin(db);
    if (!tx) {
        return std::unexpected(tx.error().context(what));
    }
    int64_t parent = 0;
    int64_t target = 0;
    {
        auto q = db.prepare("SELECT pinned, coalesce(parent_id, 0), target_id FROM snapshots WHERE id = ?1");
        if (!q) {
            return std::unexpected(q.error());
        }
        q->bind(1, id);
        auto row = q->step();
        if (!row) {
            return std::unexpected(row.error().context(what));
        }
        if (!*row) {
            return fail(std::format("{}: there is no snapshot {}", what, id), ENOENT);
        }
        if (q->columnInt(0) != 0 && !force) {
            return fail(std::format("{}: it is pinned; unpin it first (or force the deletion)", what), EPERM);
        }
        parent = q->columnInt(1);
        target = q->columnInt(2);
    }
    auto manifest = Manifest::load(db, id);
    if (!manifest) {
        return std::unexpected(manifest.error().context(what));
    }
    std::map<int64_t, int64_t> refs;
    for (const ManifestEntry &e : *manifest) {
        Manifest::forEachRef(e, [&](int64_t chunk) {
            ++refs[chunk];
        });
    }
    {
        // one statement per run of consecutive ids released the same number of times
        const std::vector<std::pair<int64_t, int64_t>> counts(refs.begin(), refs.end());
        auto upd = db.prepare("UPDATE chunks SET refs = refs - ?1 WHERE id BETWEEN ?2 AND ?3 AND refs >= ?1");
        if (!upd) {
            return std::unexpected(upd.error());
        }
        for (size_t i = 0; i < counts.size();) {
            size_t j = i + 1;
            while (j < counts.size() && counts[j].first == counts[j - 1].first + 1 && counts[j].second == counts[i].second) {
                ++j;
            }
            upd->bind(1, counts[i].second).bind(2, counts[i].first).bind(3, counts[j - 1].first);
            if (auto ok = upd->run(); !ok) {
                return std::unexpected(ok.error().context(what));
            }
            upd->reset();
            if (db.changes() != int64_t(j - i)) {
                return fail(std::format("{}: some of chunks {}..{} are missing or have fewer references than the snapshot holds (run `cryopodctl store check`)",
                                        what,
                                        counts[i].first,
                                        counts[j - 1].first),
                            EBADMSG);
            }
            i = j;
        }
    }
    {
        auto q = db.prepare("UPDATE snapshots SET parent_id = ?1 WHERE parent_id = ?2");
        if (!q) {
            return std::unexpected(q.error());
        }
        if (parent) {
            q->bind(1, parent);
        } else {
            q->bindNull(1);
        }
        q->bind(2, id);
        CRYOPOD_PROPAGATE(q->run());
    }
    for (const char *sql : {"DELETE FROM manifest WHERE snapshot_id = ?1", "DELETE FROM snapshots WHERE id = ?1"}) {
        auto q = db.prepare(sql);
        if (!q) {
            return std::unexpected(q.error());
        }
        q->bind(1, id);
        if (auto ok = q->run(); !ok) {
            return std::unexpected(ok.error().context(what));
        }
    }
    {
        // a target without snapshots and without a label of its own goes with its last snapshot
        auto q = db.prepare("DELETE FROM targets WHERE id = ?1 AND label = '' AND NOT EXISTS (SELECT 1 FROM snapshots WHERE target_id = ?1)");
        if (!q) {
            return std::unexpected(q.error());
        }
        q->bind(1, target);
        CRYOPOD_PROPAGATE(q->run());
    }
    StoreFault::point("delete-before");
    if (auto ok = tx->commit(); !ok) {
        return std::unexpected(ok.error().context(what));
    }
    StoreFault::point("delete-after");
    return {};
}

Result<int64_t> SnapshotStore::storeImage(int fd, const IngestOptions &options, const CommitInfo &commit, IngestStats *stats)
{
    auto ingest = SnapshotIngest::begin(*this, options);
    if (!ingest) {
        return std::unexpected(ingest.error());
    }
    if (auto ok = (*ingest)->consume(fd); !ok) {
        return std::unexpected(ok.error());
    }
    auto id = (*ingest)->commit(commit);
    if (stats) {
        *stats = (*ingest)->stats();
    }
    return id;
}

Result<RebuildResult> SnapshotStore::rebuild(int64_t id, int fd, const RebuildOptions &options)
{
    return SnapshotRebuilder::rebuild(*this, id, fd, options);
}

Result<RebuildResult> SnapshotStore::exportImage(int64_t id, const std::string &path, const RebuildOptions &options)
{
    const std::string temp = path + ".partial";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return sysError("export: create " + temp);
    }
    auto result = SnapshotRebuilder::rebuild(*this, id, fd, options);
    if (result && ::fsync(fd) != 0) {
        result = sysError("export: fsync " + temp);
    }
    if (::close(fd) != 0 && result) {
        result = sysError("export: close " + temp);
    }
    if (result && ::rename(temp.c_str(), path.c_str()) != 0) {
        result = sysError("export: rename " + temp + " to " + path);
    }
    if (!result) {
        ::unlink(temp.c_str());
        return std::unexpected(result.error());
    }
    return result;
}

Result<int64_t> SnapshotStore::importImage(const std::string &path, const IngestOptions &options, IngestStats *stats)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return sysError("import: open " + path);
    }
    IngestOptions opts = options;
    if (opts.origin == "snapshot") {
        opts.origin = "import";
    }
    auto id = storeImage(fd, opts, {}, stats);
    ::close(fd);
    if (!id) {
        return std::unexpected(id.error().context("import " + path));
    }
    return id;
}

Result<CheckReport> SnapshotStore::check(const CheckOptions &options)
{
    return StoreChecker::check(*this, options);
}

Result<GcReport> SnapshotStore::gc(const GcOptions &options)
{
    return StoreGc::run(*this, options);
}

Result<StoreStats> SnapshotStore::stats()
{
    StoreStats s;
    const std::pair<const char *, uint64_t *> counts[] = {
        {"SELECT count(*) FROM snapshots", &s.snapshots},
        {"SELECT count(*) FROM targets", &s.targets},
        {"SELECT count(*) FROM packs", &s.packs},
        {"SELECT coalesce(sum(bytes), 0) FROM packs", &s.packBytes},
        {"SELECT count(*) FROM chunks", &s.chunks},
        {"SELECT count(*) FROM chunks WHERE refs > 0", &s.liveChunks},
    };
    for (const auto &[sql, out] : counts) {
        auto v = d->db->queryInt(sql);
        if (!v) {
            return std::unexpected(v.error());
        }
        *out = uint64_t(v->value_or(0));
    }
    for (const char *suffix : {"", "-wal"}) {
        struct stat st {};
        if (::stat((d->directory + "/index.sqlite" + suffix).c_str(), &st) == 0) {
            s.indexBytes += uint64_t(st.st_blocks) * 512;
        }
    }
    s.diskBytes = directoryBytes(d->directory);
    return s;
}

std::string formatTime(int64_t unixNs)
{
    const time_t t = time_t(unixNs / 1000000000);
    tm local {};
    localtime_r(&t, &local);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
    return buf;
}

std::string formatBytes(uint64_t bytes)
{
    if (bytes < 1024) {
        return std::format("{} B", bytes);
    }
    if (bytes < 1024 * 1024) {
        return std::format("{:.1f} KiB", double(bytes) / 1024.0);
    }
    if (bytes < 1024ull * 1024 * 1024) {
        return std::format("{:.1f} MiB", double(bytes) / (1024.0 * 1024.0));
    }
    return std::format("{:.2f} GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
}

} // namespace cryopod::store
