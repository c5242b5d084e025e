// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "chunkreader.h"

#include "packreader.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"

#include <cstring>
#include <format>

namespace cryopod::store
{

namespace
{
constexpr const char *kColumns = "id, hash, pack_id, blob_offset, blob_bytes, offset, size";

ChunkLocation locationFrom(const SqliteStatement &q)
{
    ChunkLocation l;
    l.id = q.columnInt(0);
    l.hash = ChunkHash::fromBytes(q.columnBlob(1));
    l.packId = q.columnInt(2);
    l.blobOffset = uint64_t(q.columnInt(3));
    l.blobBytes = uint32_t(q.columnInt(4));
    l.offset = uint32_t(q.columnInt(5));
    l.size = uint32_t(q.columnInt(6));
    return l;
}
} // namespace

ChunkReader::ChunkReader(SnapshotStore &store, size_t cachedBlobs)
    : m_store(store)
    , m_cachedBlobs(std::max<size_t>(cachedBlobs, 1))
{
}

ChunkReader::~ChunkReader() = default;

Result<std::vector<ChunkLocation>> ChunkReader::locate(std::span<const int64_t> ids)
{
    SqliteDatabase &db = m_store.database();
    if (!m_byRange) {
        auto q = db.prepare(std::format("SELECT {} FROM chunks WHERE id BETWEEN ?1 AND ?2 ORDER BY id", kColumns));
        if (!q) {
            return std::unexpected(q.error());
        }
        m_byRange = std::make_unique<SqliteStatement>(std::move(*q));
    }
    std::vector<ChunkLocation> out(ids.size());
    size_t i = 0;
    while (i < ids.size()) {
        if (ids[i] == 0) {
            ++i;
            continue;
        }
        // a run of consecutive ids
        size_t j = i + 1;
        while (j < ids.size() && ids[j] == ids[j - 1] + 1) {
            ++j;
        }
        m_byRange->bind(1, ids[i]).bind(2, ids[j - 1]);
        size_t k = i;
        for (;;) {
            auto row = m_byRange->step();
            if (!row) {
                m_byRange->reset();
                return std::unexpected(row.error().context("look up chunks"));
            }
            if (!*row) {
                break;
            }
            const ChunkLocation l = locationFrom(*m_byRange);
            while (k < j && ids[k] < l.id) {
                ++k; // a missing id: reported below
            }
            if (k < j && ids[k] == l.id) {
                out[k++] = l;
            }
        }
        m_byRange->reset();
        for (size_t m = i; m < j; ++m) {
            if (out[m].id != ids[m]) {
                return fail(std::format("chunk {} is missing from the index", ids[m]), EBADMSG);
            }
        }
        i = j;
    }
    return out;
}

Result<PackReader *> ChunkReader::pack(int64_t packId)
{
    if (auto it = m_packs.find(packId); it != m_packs.end()) {
        return it->second.get();
    }
    if (!m_packName) {
        auto q = m_store.database().prepare("SELECT name FROM packs WHERE id = ?1");
        if (!q) {
            return std::unexpected(q.error());
        }
        m_packName = std::make_unique<SqliteStatement>(std::move(*q));
    }
    m_packName->bind(1, packId);
    auto row = m_packName->step();
    if (!row) {
        m_packName->reset();
        return std::unexpected(row.error());
    }
    if (!*row) {
        m_packName->reset();
        return fail(std::format("pack {} is missing from the index", packId), EBADMSG);
    }
    const std::string name = m_packName->columnText(0);
    m_packName->reset();
    auto reader = PackReader::open(m_store.packPath(name));
    if (!reader) {
        return std::unexpected(reader.error());
    }
    if (m_packs.size() >= 256) {
        m_packs.clear(); // keep the number of open files bounded
    }
    PackReader *p = reader->get();
    m_packs.emplace(packId, std::move(*reader));
    return p;
}

Result<std::span<const uint8_t>> ChunkReader::blob(const ChunkLocation &l)
{
    const std::pair<int64_t, uint64_t> key {l.packId, l.blobOffset};
    if (auto it = m_blobIndex.find(key); it != m_blobIndex.end()) {
        m_blobs.splice(m_blobs.begin(), m_blobs, it->second);
        return std::span<const uint8_t>(it->second->raw);
    }
    auto p = pack(l.packId);
    if (!p) {
        return std::unexpected(p.error());
    }
    auto raw = (*p)->readRaw(l.blobOffset, l.blobBytes);
    if (!raw) {
        return std::unexpected(raw.error());
    }
    if (m_blobs.size() >= m_cachedBlobs) {
        m_blobIndex.erase(m_blobs.back().key);
        m_blobs.pop_back();
    }
    m_blobs.push_front(CachedBlob {key, std::vector<uint8_t>(raw->begin(), raw->end())});
    m_blobIndex[key] = m_blobs.begin();
    return std::span<const uint8_t>(m_blobs.front().raw);
}

Result<std::span<const uint8_t>> ChunkReader::read(const ChunkLocation &l)
{
    auto raw = blob(l);
    if (!raw) {
        return std::unexpected(raw.error().context(std::format("read chunk {}", l.id)));
    }
    if (uint64_t(l.offset) + l.size > raw->size()) {
        return fail(std::format("read chunk {}: it lies outside its blob (offset {}, size {}, blob {} bytes)", l.id, l.offset, l.size, raw->size()), EBADMSG);
    }
    const std::span<const uint8_t> data = raw->subspan(l.offset, l.size);
    if (ChunkHash::of(data, m_store.hashSeed()) != l.hash) {
        return fail(std::format("read chunk {}: its bytes do not match its hash {} (the pack is damaged)", l.id, l.hash.hex()), EBADMSG);
    }
    return data;
}

Result<std::span<const uint8_t>> ChunkReader::read(int64_t id)
{
    const int64_t one[] = {id};
    auto l = locate(one);
    if (!l) {
        return std::unexpected(l.error());
    }
    return read((*l)[0]);
}

Result<void> ChunkReader::readInto(std::span<const int64_t> ids, uint32_t chunkSize, std::span<uint8_t> out)
{
    auto locations = locate(ids);
    if (!locations) {
        return std::unexpected(locations.error());
    }
    for (size_t i = 0; i < ids.size(); ++i) {
        const uint64_t at = uint64_t(i) * chunkSize;
        if (at > out.size()) {
            return fail(std::format("chunk {} of {} lies beyond the {} bytes of its section", i, ids.size(), out.size()), EBADMSG);
        }
        const size_t want = std::min<uint64_t>(chunkSize, out.size() - at);
        if (ids[i] == 0) {
            std::memset(out.data() + at, 0, want);
            continue;
        }
        auto data = read((*locations)[i]);
        if (!data) {
            return std::unexpected(data.error());
        }
        if (data->size() != want) {
            return fail(std::format("chunk {} has {} bytes where {} are expected", ids[i], data->size(), want), EBADMSG);
        }
        std::memcpy(out.data() + at, data->data(), want);
    }
    return {};
}

} // namespace cryopod::store
