// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "storegc.h"

#include "packformat.h"
#include "packreader.h"
#include "packwriter.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "storefault.h"
#include "storelock.h"

#include <cstring>
#include <ctime>
#include <dirent.h>
#include <format>
#include <map>
#include <set>
#include <unistd.h>
#include <vector>

namespace cryopod::store
{

namespace
{
struct LiveChunk {
    int64_t id = 0;
    uint32_t offset = 0;
    uint32_t size = 0;
};

struct LiveBlob {
    uint64_t offset = 0;
    uint32_t bytes = 0;
    uint64_t liveRaw = 0;
};

struct PackRow {
    int64_t id = 0;
    std::string name;
    uint64_t bytes = 0;
    uint64_t rawBytes = 0; // of all its blobs, as written
    std::vector<LiveBlob> blobs;
    uint64_t liveRaw = 0; // bytes of its chunks still in the index
};

struct ChunkMove {
    int64_t id = 0;
    uint64_t blobOffset = 0;
    uint32_t blobBytes = 0;
    uint32_t offset = 0;
};

int64_t nowNs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint32_t blobRawSize(std::span<const uint8_t> stored)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) {
        v = (v << 8) | stored[8 + size_t(i)];
    }
    return v;
}

class Repacker
{
public:
    Repacker(SnapshotStore &store, GcReport &report)
        : m_store(store)
        , m_report(report)
    {
    }
    ~Repacker()
    {
        if (m_writer) {
            m_writer->discard();
        }
    }

    Result<void> move(const PackRow &pack)
    {
        SqliteDatabase &db = m_store.database();
        auto reader = PackReader::open(m_store.packPath(pack.name));
        if (!reader) {
            return std::unexpected(reader.error());
        }
        auto members = db.prepare("SELECT id, offset, size FROM chunks WHERE pack_id = ?1 AND blob_offset = ?2 ORDER BY offset");
        if (!members) {
            return std::unexpected(members.error());
        }
        if (!m_writer) {
            auto created = PackWriter::create(m_store.packsDirectory());
            if (!created) {
                return std::unexpected(created.error());
            }
            m_writer = std::move(*created);
        }
        for (const LiveBlob &blob : pack.blobs) {
            std::vector<LiveChunk> chunks;
            members->bind(1, pack.id).bind(2, int64_t(blob.offset));
            for (;;) {
                auto row = members->step();
                if (!row) {
                    return std::unexpected(row.error());
                }
                if (!*row) {
                    break;
                }
                chunks.push_back(LiveChunk {members->columnInt(0), uint32_t(members->columnInt(1)), uint32_t(members->columnInt(2))});
            }
            members->reset();
            auto stored = (*reader)->readStored(blob.offset, blob.bytes);
            if (!stored) {
                return std::unexpected(stored.error().context("gc: repack"));
            }
            const uint32_t rawSize = blobRawSize(*stored);
            if (blob.liveRaw * 2 >= rawSize) {
                // mostly live: copy the blob as it is, chunk offsets stay
                auto place = m_writer->appendStored(*stored);
                if (!place) {
                    return std::unexpected(place.error());
                }
                for (const LiveChunk &c : chunks) {
                    m_moves.push_back(ChunkMove {c.id, place->offset, place->bytes, c.offset});
                }
                continue;
            }
            auto raw = (*reader)->readRaw(blob.offset, blob.bytes);
            if (!raw) {
                return std::unexpected(raw.error().context("gc: repack"));
            }
            std::vector<uint8_t> kept;
            std::vector<uint32_t> offsets;
            for (const LiveChunk &c : chunks) {
                if (uint64_t(c.offset) + c.size > raw->size()) {
                    return fail(std::format("gc: chunk {} lies outside its blob in pack {}", c.id, pack.name), EBADMSG);
                }
                offsets.push_back(uint32_t(kept.size()));
                kept.insert(kept.end(), raw->begin() + c.offset, raw->begin() + c.offset + c.size);
            }
            auto place = m_writer->append(kept, 1);
            if (!place) {
                return std::unexpected(place.error());
            }
            for (size_t i = 0; i < chunks.size(); ++i) {
                m_moves.push_back(ChunkMove {chunks[i].id, place->offset, place->bytes, offsets[i]});
            }
        }
        m_sources.push_back(pack);
        return {};
    }

    bool full() const
    {
        return m_writer && m_writer->size() >= kPackTargetBytes;
    }

    // Makes the new pack durable, points the moved chunks at it in one
    // transaction, then removes the old packs.
    Result<void> commit()
    {
        if (!m_writer) {
            return {};
        }
        SqliteDatabase &db = m_store.database();
        CRYOPOD_PROPAGATE(m_writer->finish());
        CRYOPOD_PROPAGATE(syncDirectory(m_store.packsDirectory()));
        StoreFault::point("gc-repack-written");
        auto tx = SqliteTransaction::begin(db);
        if (!tx) {
            return std::unexpected(tx.error());
        }
        auto ins = db.prepare("INSERT INTO packs (name, bytes, raw_bytes, created_at) VALUES (?1, ?2, ?3, ?4)");
        if (!ins) {
            return std::unexpected(ins.error());
        }
        ins->bind(1, std::string_view(m_writer->name())).bind(2, int64_t(m_writer->size())).bind(3, int64_t(m_writer->rawBytes())).bind(4, nowNs());
        CRYOPOD_PROPAGATE(ins->run());
        const int64_t packId = db.lastInsertRowid();
        auto upd = db.prepare("UPDATE chunks SET pack_id = ?1, blob_offset = ?2, blob_bytes = ?3, offset = ?4 WHERE id = ?5");
        if (!upd) {
            return std::unexpected(upd.error());
        }
        for (const ChunkMove &m : m_moves) {
            upd->bind(1, packId).bind(2, int64_t(m.blobOffset)).bind(3, int64_t(m.blobBytes)).bind(4, int64_t(m.offset)).bind(5, m.id);
            CRYOPOD_PROPAGATE(upd->run());
            upd->reset();
        }
        auto del = db.prepare("DELETE FROM packs WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM chunks WHERE pack_id = ?1)");
        if (!del) {
            return std::unexpected(del.error());
        }
        for (const PackRow &source : m_sources) {
            del->bind(1, source.id);
            CRYOPOD_PROPAGATE(del->run());
            del->reset();
            if (db.changes() != 1) {
                return fail(std::format("gc: pack {} still has chunks after repacking", source.name), EBADMSG);
            }
        }
        CRYOPOD_PROPAGATE(tx->commit());
        StoreFault::point("gc-repack-committed");
        for (const PackRow &source : m_sources) {
            ::unlink(m_store.packPath(source.name).c_str());
            ++m_report.packsRepacked;
        }
        CRYOPOD_PROPAGATE(syncDirectory(m_store.packsDirectory()));
        m_writer.reset();
        m_moves.clear();
        m_sources.clear();
        return {};
    }

private:
    SnapshotStore &m_store;
    GcReport &m_report;
    std::unique_ptr<PackWriter> m_writer;
    std::vector<ChunkMove> m_moves;
    std::vector<PackRow> m_sources;
};
} // namespace

Result<GcReport> StoreGc::run(SnapshotStore &store, const GcOptions &options)
{
    auto lock = StoreLock::acquire(store.directory(), StoreLock::Mode::Exclusive, options.wait);
    if (!lock) {
        return std::unexpected(lock.error().context("gc"));
    }
    SqliteDatabase &db = store.database();
    GcReport report;
    if (auto before = store.stats(); before) {
        report.bytesBefore = before->diskBytes;
    }

    // 1. unreferenced chunks
    {
        auto tx = SqliteTransaction::begin(db);
        if (!tx) {
            return std::unexpected(tx.error().context("gc"));
        }
        CRYOPOD_PROPAGATE(db.exec("DELETE FROM chunks WHERE refs <= 0"));
        report.chunksRemoved = uint64_t(db.changes());
        StoreFault::point("gc-chunks");
        if (auto ok = tx->commit(); !ok) {
            return std::unexpected(ok.error().context("gc"));
        }
    }

    // 2. what is left alive in every pack
    std::map<int64_t, PackRow> packs;
    {
        auto listed = db.each("SELECT id, name, bytes, raw_bytes FROM packs ORDER BY id", [&](const SqliteStatement &row) {
            PackRow p;
            p.id = row.columnInt(0);
            p.name = row.columnText(1);
            p.bytes = uint64_t(row.columnInt(2));
            p.rawBytes = uint64_t(row.columnInt(3));
            packs.emplace(p.id, std::move(p));
        });
        if (!listed) {
            return std::unexpected(listed.error());
        }
        listed = db.each("SELECT pack_id, blob_offset, max(blob_bytes), sum(size) FROM chunks GROUP BY pack_id, blob_offset ORDER BY pack_id, blob_offset",
                         [&](const SqliteStatement &row) {
                             auto it = packs.find(row.columnInt(0));
                             if (it == packs.end()) {
                                 return; // a chunk in a pack the index does not know: store check reports it
                             }
                             const LiveBlob b{uint64_t(row.columnInt(1)), uint32_t(row.columnInt(2)), uint64_t(row.columnInt(3))};
                             it->second.blobs.push_back(b);
                             it->second.liveRaw += b.liveRaw;
                         });
        if (!listed) {
            return std::unexpected(listed.error());
        }
    }

    bool unlinkedOne = false;
    Repacker repacker(store, report);
    for (auto &[id, pack] : packs) {
        if (pack.blobs.empty()) {
            auto tx = SqliteTransaction::begin(db);
            if (!tx) {
                return std::unexpected(tx.error().context("gc"));
            }
            auto del = db.prepare("DELETE FROM packs WHERE id = ?1");
            if (!del) {
                return std::unexpected(del.error());
            }
            del->bind(1, id);
            CRYOPOD_PROPAGATE(del->run());
            if (auto ok = tx->commit(); !ok) {
                return std::unexpected(ok.error().context("gc"));
            }
            ::unlink(store.packPath(pack.name).c_str());
            ++report.packsDeleted;
            if (!unlinkedOne) {
                unlinkedOne = true;
                StoreFault::point("gc-unlinked");
            }
            continue;
        }
        // the share of the pack's bytes still in use, measured uncompressed
        // (a blob with one live chunk is live, but most of it may be dead)
        if (double(pack.liveRaw) < options.repackBelow * double(pack.rawBytes)) {
            if (auto ok = repacker.move(pack); !ok) {
                return std::unexpected(ok.error().context("gc: repack " + pack.name));
            }
            if (repacker.full()) {
                if (auto ok = repacker.commit(); !ok) {
                    return std::unexpected(ok.error().context("gc: repack"));
                }
            }
        }
    }
    if (auto ok = repacker.commit(); !ok) {
        return std::unexpected(ok.error().context("gc: repack"));
    }

    // 4. files nobody refers to
    {
        std::set<std::string> known;
        if (auto listed = db.each("SELECT name FROM packs",
                                  [&](const SqliteStatement &row) {
                                      known.insert(row.columnText(0));
                                  });
            !listed) {
            return std::unexpected(listed.error());
        }
        DIR *dir = ::opendir(store.packsDirectory().c_str());
        if (!dir) {
            return sysError("gc: list " + store.packsDirectory());
        }
        std::vector<std::string> orphans;
        while (const dirent *entry = ::readdir(dir)) {
            const std::string name = entry->d_name;
            if (name != "." && name != ".." && !known.contains(name)) {
                orphans.push_back(name);
            }
        }
        ::closedir(dir);
        for (const std::string &name : orphans) {
            if (::unlink(store.packPath(name).c_str()) == 0) {
                ++report.orphanFilesRemoved;
            }
        }
        if (!orphans.empty() || report.packsDeleted) {
            CRYOPOD_PROPAGATE(syncDirectory(store.packsDirectory()));
        }
    }
    // the WAL holds the deleted rows' pages until it is checkpointed
    (void)db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    if (auto after = store.stats(); after) {
        report.bytesAfter = after->diskBytes;
    }
    return report;
}

} // namespace cryopod::store
