// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "chunkhash.h"

#include "checksum.h"

#include <format>

namespace cryopod::store
{

ChunkHash ChunkHash::of(std::span<const uint8_t> data, uint64_t seed)
{
    const XXH128_hash_t h = XXH3_128bits_withSeed(data.data(), data.size(), seed);
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, h);
    ChunkHash out;
    std::memcpy(out.bytes.data(), canonical.digest, 16);
    return out;
}

ChunkHash ChunkHash::fromBytes(std::span<const uint8_t> bytes)
{
    ChunkHash out;
    if (bytes.size() == out.bytes.size()) {
        std::memcpy(out.bytes.data(), bytes.data(), bytes.size());
    }
    return out;
}

std::string ChunkHash::hex() const
{
    std::string s;
    s.reserve(32);
    for (uint8_t b : bytes) {
        s += std::format("{:02x}", b);
    }
    return s;
}

bool isAllZero(std::span<const uint8_t> data)
{
    if (data.empty()) {
        return false; // an empty chunk is not a zero page
    }
    // 8 bytes at a time; a page of memory is 8-byte aligned in practice, memcpy keeps it legal anyway.
    size_t i = 0;
    for (; i + 8 <= data.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, data.data() + i, 8);
        if (w != 0) {
            return false;
        }
    }
    for (; i < data.size(); ++i) {
        if (data[i] != 0) {
            return false;
        }
    }
    return true;
}

} // namespace cryopod::store
