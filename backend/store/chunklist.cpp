// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "chunklist.h"

#include <cstring>
#include <format>
#include <zstd.h>

namespace cryopod::store
{

namespace
{
constexpr uint8_t kPlain = 0;
constexpr uint8_t kZstd = 1;
constexpr size_t kCompressAbove = 64;

void putVarint(std::vector<uint8_t> &out, uint64_t v)
{
    while (v >= 0x80) {
        out.push_back(uint8_t(v) | 0x80);
        v >>= 7;
    }
    out.push_back(uint8_t(v));
}

bool getVarint(std::span<const uint8_t> in, size_t &pos, uint64_t &v)
{
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= in.size()) {
            return false;
        }
        const uint8_t b = in[pos++];
        v |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return true;
        }
    }
    return false;
}

uint64_t zigzag(int64_t v)
{
    return (uint64_t(v) << 1) ^ uint64_t(v >> 63);
}

int64_t unzigzag(uint64_t v)
{
    return int64_t(v >> 1) ^ -int64_t(v & 1);
}
} // namespace

std::vector<uint8_t> ChunkList::encode(std::span<const int64_t> ids)
{
    std::vector<uint8_t> plain;
    plain.reserve(ids.size() + 8);
    putVarint(plain, ids.size());
    int64_t prev = 0;
    for (const int64_t id : ids) {
        putVarint(plain, zigzag(int64_t(uint64_t(id) - uint64_t(prev))));
        prev = id;
    }
    std::vector<uint8_t> out;
    if (plain.size() > kCompressAbove) {
        const size_t bound = ZSTD_compressBound(plain.size());
        out.resize(1 + 4 + bound);
        const size_t n = ZSTD_compress(out.data() + 5, bound, plain.data(), plain.size(), 3);
        if (!ZSTD_isError(n) && n + 5 < plain.size() + 1) {
            out[0] = kZstd;
            const uint32_t rawSize = uint32_t(plain.size());
            std::memcpy(out.data() + 1, &rawSize, 4); // little-endian on every architecture Cryopod runs on (x86_64)
            out.resize(5 + n);
            return out;
        }
    }
    out.clear();
    out.reserve(plain.size() + 1);
    out.push_back(kPlain);
    out.insert(out.end(), plain.begin(), plain.end());
    return out;
}

Result<std::vector<int64_t>> ChunkList::decode(std::span<const uint8_t> bytes, uint64_t maxItems)
{
    if (bytes.empty()) {
        return fail("chunk list: empty", EBADMSG);
    }
    std::vector<uint8_t> inflated;
    std::span<const uint8_t> plain = bytes.subspan(1);
    if (bytes[0] == kZstd) {
        if (bytes.size() < 5) {
            return fail("chunk list: truncated", EBADMSG);
        }
        uint32_t rawSize = 0;
        std::memcpy(&rawSize, bytes.data() + 1, 4);
        // At most 10 bytes per id plus the count.
        if (rawSize > maxItems * 10 + 10) {
            return fail(std::format("chunk list: {} bytes claimed, more than {} ids can take", rawSize, maxItems), EBADMSG);
        }
        inflated.resize(rawSize);
        const size_t n = ZSTD_decompress(inflated.data(), inflated.size(), bytes.data() + 5, bytes.size() - 5);
        if (ZSTD_isError(n) || n != rawSize) {
            return fail(std::format("chunk list: damaged ({})", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"), EBADMSG);
        }
        plain = inflated;
    } else if (bytes[0] != kPlain) {
        return fail(std::format("chunk list: unknown encoding {}", bytes[0]), EBADMSG);
    }
    size_t pos = 0;
    uint64_t count = 0;
    if (!getVarint(plain, pos, count) || count > maxItems || count > plain.size() - pos) {
        return fail("chunk list: bad count", EBADMSG);
    }
    std::vector<int64_t> ids;
    ids.reserve(count);
    int64_t prev = 0;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t delta = 0;
        if (!getVarint(plain, pos, delta)) {
            return fail(std::format("chunk list: truncated at id {} of {}", i, count), EBADMSG);
        }
        prev = int64_t(uint64_t(prev) + uint64_t(unzigzag(delta)));
        ids.push_back(prev);
    }
    if (pos != plain.size()) {
        return fail(std::format("chunk list: {} bytes after the last id", plain.size() - pos), EBADMSG);
    }
    return ids;
}

} // namespace cryopod::store
