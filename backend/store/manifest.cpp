// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "manifest.h"

#include "chunklist.h"

#include <cstring>
#include <format>

namespace cryopod::store
{

Result<std::vector<ManifestEntry>> Manifest::load(SqliteDatabase &db, int64_t snapshotId)
{
    auto q = db.prepare(
        "SELECT seq, kind, section_type, frame, level, threaded, field_chunk, chunk_size, data_bytes, chunks "
        "FROM manifest WHERE snapshot_id = ?1 ORDER BY seq");
    if (!q) {
        return std::unexpected(q.error());
    }
    q->bind(1, snapshotId);
    std::vector<ManifestEntry> entries;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return std::unexpected(row.error().context(std::format("read the manifest of snapshot {}", snapshotId)));
        }
        if (!*row) {
            break;
        }
        ManifestEntry e;
        e.seq = q->columnInt(0);
        const int64_t kind = q->columnInt(1);
        if (kind != int64_t(ManifestKind::Bytes) && kind != int64_t(ManifestKind::Bulk)) {
            return fail(std::format("snapshot {} manifest entry {}: unknown kind {}", snapshotId, e.seq, kind), EBADMSG);
        }
        e.kind = ManifestKind(kind);
        e.sectionType = uint32_t(q->columnInt(2));
        if (e.kind == ManifestKind::Bulk) {
            const auto frame = q->columnBlob(3);
            if (frame.size() != kManifestFrameBytes) {
                return fail(std::format("snapshot {} manifest entry {}: frame of {} bytes", snapshotId, e.seq, frame.size()), EBADMSG);
            }
            std::memcpy(e.frame.data(), frame.data(), frame.size());
            e.encoding.level = int(q->columnInt(4));
            e.encoding.threaded = q->columnInt(5) != 0;
            e.fieldChunk = q->columnInt(6);
        }
        e.chunkSize = uint32_t(q->columnInt(7));
        e.dataBytes = uint64_t(q->columnInt(8));
        auto ids = ChunkList::decode(q->columnBlob(9));
        if (!ids) {
            return std::unexpected(ids.error().context(std::format("snapshot {} manifest entry {}", snapshotId, e.seq)));
        }
        e.chunks = std::move(*ids);
        if (e.seq != int64_t(entries.size())) {
            return fail(std::format("snapshot {}: manifest entry {} is missing", snapshotId, entries.size()), EBADMSG);
        }
        entries.push_back(std::move(e));
    }
    if (entries.empty()) {
        return fail(std::format("snapshot {} has no manifest", snapshotId), EBADMSG);
    }
    return entries;
}

Result<void> Manifest::save(SqliteDatabase &db, int64_t snapshotId, const std::vector<ManifestEntry> &entries)
{
    auto ins = db.prepare(
        "INSERT INTO manifest (snapshot_id, seq, kind, section_type, frame, level, threaded, field_chunk, chunk_size, data_bytes, chunks) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!ins) {
        return std::unexpected(ins.error());
    }
    for (const ManifestEntry &e : entries) {
        const std::vector<uint8_t> list = ChunkList::encode(e.chunks);
        ins->bind(1, snapshotId).bind(2, e.seq).bind(3, int64_t(e.kind)).bind(4, int64_t(e.sectionType));
        if (e.kind == ManifestKind::Bulk) {
            ins->bindBlob(5, e.frame).bind(6, int64_t(e.encoding.level)).bind(7, int64_t(e.encoding.threaded)).bind(8, e.fieldChunk);
        } else {
            ins->bindNull(5).bindNull(6).bindNull(7).bindNull(8);
        }
        ins->bind(9, int64_t(e.chunkSize));
        ins->bind(10, int64_t(e.dataBytes)).bindBlob(11, list);
        CRYOPOD_PROPAGATE(ins->run());
        ins->reset();
    }
    return {};
}

void Manifest::forEachRef(const ManifestEntry &entry, const std::function<void(int64_t)> &fn)
{
    if (entry.kind == ManifestKind::Bulk && entry.fieldChunk != 0) {
        fn(entry.fieldChunk);
    }
    for (const int64_t id : entry.chunks) {
        if (id != 0) {
            fn(id);
        }
    }
}

Result<void> Manifest::validate(const ManifestEntry &e)
{
    if (e.chunkSize == 0) {
        return fail(std::format("manifest entry {}: chunk size 0", e.seq), EBADMSG);
    }
    const uint64_t expected = (e.dataBytes + e.chunkSize - 1) / e.chunkSize;
    if (e.chunks.size() != expected) {
        return fail(std::format("manifest entry {}: {} chunks for {} bytes in chunks of {}", e.seq, e.chunks.size(), e.dataBytes, e.chunkSize), EBADMSG);
    }
    if (e.kind == ManifestKind::Bulk && e.fieldChunk <= 0) {
        return fail(std::format("manifest entry {}: no field block chunk", e.seq), EBADMSG);
    }
    for (const int64_t id : e.chunks) {
        if (id < 0) {
            return fail(std::format("manifest entry {}: invalid chunk id {}", e.seq, id), EBADMSG);
        }
    }
    return {};
}

} // namespace cryopod::store
