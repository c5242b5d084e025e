// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The layout of a pack file (docs/store.md, "Pack files"). All integers are
// little-endian.
//
//   pack header (32 bytes): "CRYOPACK", u32 version (1), u32 flags (0),
//                           16 bytes pack id (the file name in hex)
//   blob*:                  blob header (24 bytes), stored bytes
//   blob header:            u32 magic "BLB1", u8 codec (0 raw, 1 zstd),
//                           3 bytes zero, u32 raw size, u32 stored size,
//                           u64 XXH3-64 of the first 16 header bytes and the
//                           stored bytes
//
// A blob holds the raw bytes of one or more chunks back to back; the index
// (table chunks) says which chunk lies where. Packs are written once and
// never appended to after their snapshot committed; gc rewrites a pack into
// a new one and deletes the old file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cryopod::store
{

inline constexpr char kPackMagic[8] = {'C', 'R', 'Y', 'O', 'P', 'A', 'C', 'K'};
inline constexpr uint32_t kPackVersion = 1;
inline constexpr size_t kPackHeaderBytes = 32;
inline constexpr uint32_t kBlobMagic = 0x31424c42; // "BLB1"
inline constexpr size_t kBlobHeaderBytes = 24;
inline constexpr uint8_t kBlobRaw = 0;
inline constexpr uint8_t kBlobZstd = 1;

// A pack is closed once it reaches this size ("tens of MiB": few files, and
// gc rewrites a bounded amount at a time).
inline constexpr uint64_t kPackTargetBytes = 32ull << 20;
// Raw bytes gathered into one blob before it is compressed: large enough
// for zstd to find the redundancy between pages (a 4 KiB page alone
// compresses about 20% worse), small enough that reading one chunk
// decompresses little.
inline constexpr size_t kBlobTargetBytes = 256u << 10;
// The largest blob a reader accepts (a blob may hold one chunk larger than the target).
inline constexpr uint32_t kMaxBlobRawBytes = 64u << 20;

} // namespace cryopod::store
