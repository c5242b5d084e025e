// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The content address of a chunk: XXH3-128 (libxxhash) of its bytes with the
// store's seed, in XXH3's canonical (big-endian) byte order as the index
// keeps it. The seed is random per store, so nobody outside the store can
// compute its hashes; XXH3 is not a cryptographic hash, and the seed is what
// keeps a crafted import from planting colliding chunks (docs/store.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace cryopod::store
{

struct ChunkHash {
    std::array<uint8_t, 16> bytes {};

    static ChunkHash of(std::span<const uint8_t> data, uint64_t seed);
    static ChunkHash fromBytes(std::span<const uint8_t> bytes); // 16 bytes as stored; zero when the size is wrong
    std::span<const uint8_t> span() const
    {
        return bytes;
    }
    std::string hex() const;

    friend bool operator==(const ChunkHash &, const ChunkHash &) = default;
};

struct ChunkHashHasher {
    size_t operator()(const ChunkHash &h) const
    {
        size_t v;
        std::memcpy(&v, h.bytes.data() + 8, sizeof v); // the low half: already uniformly distributed
        return v;
    }
};

// True when every byte is zero (such chunks are not stored: id 0).
bool isAllZero(std::span<const uint8_t> data);

} // namespace cryopod::store
