// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A snapshot's manifest: how to rebuild its image stream from chunks, one
// entry per piece of the stream in order (table manifest, docs/store.md):
//
//   seq 0      the image header, as bytes
//   seq 1..n   one entry per section:
//     Bytes    the section's exact bytes (frame header, payload, checksum)
//              are the concatenation of the chunks listed, each chunkSize
//              bytes but the last (0 = all zeros)
//     Bulk     a Pages/FileData section kept as its parts: the frame header
//              and checksum as stored, the field block (one chunk), the
//              uncompressed data as fixed-size chunks (0 = all zeros), and the
//              zstd encoding that reproduces the stored bulk bytes
#pragma once

#include "bulkcodec.h"
#include "result.h"
#include "sqlitedatabase.h"

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace cryopod::store
{

enum class ManifestKind : int {
    Bytes = 0,
    Bulk = 1,
};

inline constexpr uint32_t kHeaderSectionType = 0; // section_type of entry 0, the image header
inline constexpr size_t kManifestFrameBytes = 32; // frame header (24) + checksum (8)
inline constexpr uint32_t kPieceBytes = 256u << 10; // chunk size of Bytes entries

struct ManifestEntry {
    int64_t seq = 0;
    ManifestKind kind = ManifestKind::Bytes;
    uint32_t sectionType = kHeaderSectionType;
    std::array<uint8_t, kManifestFrameBytes> frame {}; // Bulk
    image::BulkEncoding encoding; // Bulk
    int64_t fieldChunk = 0; // Bulk
    uint32_t chunkSize = 0; // bytes per chunk (the last may be shorter)
    uint64_t dataBytes = 0; // Bytes: the entry's bytes; Bulk: the uncompressed data
    std::vector<int64_t> chunks;
};

class Manifest
{
public:
    static Result<std::vector<ManifestEntry>> load(SqliteDatabase &db, int64_t snapshotId);
    // Inserts the entries (inside the caller's transaction).
    static Result<void> save(SqliteDatabase &db, int64_t snapshotId, const std::vector<ManifestEntry> &entries);
    // Every non-zero chunk id an entry refers to, the field chunk included,
    // once per reference.
    static void forEachRef(const ManifestEntry &entry, const std::function<void(int64_t)> &fn);
    // Checks the shape of an entry (counts and sizes agree); the message names seq.
    static Result<void> validate(const ManifestEntry &entry);
};

} // namespace cryopod::store
