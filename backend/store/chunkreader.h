// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Reads chunks by id: finds them in the index, reads their blob from the
// pack (checksum verified), and checks every chunk against its hash before
// handing it out. Keeps the packs it opened and the last blobs it
// decompressed, so reading the chunks of an image in order decompresses each
// blob about once.
#pragma once

#include "chunkhash.h"
#include "result.h"

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace cryopod::store
{

class PackReader;
class SnapshotStore;
class SqliteStatement;

struct ChunkLocation {
    int64_t id = 0;
    ChunkHash hash;
    int64_t packId = 0;
    uint64_t blobOffset = 0;
    uint32_t blobBytes = 0;
    uint32_t offset = 0; // in the blob's raw bytes
    uint32_t size = 0;
};

class ChunkReader
{
public:
    explicit ChunkReader(SnapshotStore &store, size_t cachedBlobs = 64);
    ~ChunkReader();
    ChunkReader(const ChunkReader &) = delete;
    ChunkReader &operator=(const ChunkReader &) = delete;

    // Locations of ids (0 stays a zero location), in the same order. Runs of
    // consecutive ids are looked up with one range query.
    Result<std::vector<ChunkLocation>> locate(std::span<const int64_t> ids);
    // The chunk's bytes, verified; valid until the next read.
    Result<std::span<const uint8_t>> read(const ChunkLocation &location);
    Result<std::span<const uint8_t>> read(int64_t id);
    // The chunks' bytes back to back into out (chunk i at i * chunkSize; id 0 zero-fills).
    Result<void> readInto(std::span<const int64_t> ids, uint32_t chunkSize, std::span<uint8_t> out);

private:
    Result<PackReader *> pack(int64_t packId);
    Result<std::span<const uint8_t>> blob(const ChunkLocation &location);

    SnapshotStore &m_store;
    size_t m_cachedBlobs;
    std::map<int64_t, std::unique_ptr<PackReader>> m_packs;
    struct CachedBlob {
        std::pair<int64_t, uint64_t> key;
        std::vector<uint8_t> raw;
    };
    std::list<CachedBlob> m_blobs; // most recently used first
    std::map<std::pair<int64_t, uint64_t>, std::list<CachedBlob>::iterator> m_blobIndex;
    std::unique_ptr<SqliteStatement> m_byId;
    std::unique_ptr<SqliteStatement> m_byRange;
    std::unique_ptr<SqliteStatement> m_packName;
};

} // namespace cryopod::store
