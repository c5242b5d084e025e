// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Field-by-field little-endian encoding of image records into a byte buffer
// (docs/image-format.md, "Field encoding"). The decoding side is Decoder.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cryopod::image
{

class Encoder
{
public:
    explicit Encoder(std::vector<uint8_t> &out);

    void u8(uint8_t value);
    void u32(uint32_t value);
    void u64(uint64_t value);
    void i32(int32_t value);
    void boolean(bool value);
    // u32 byte length, then the bytes
    void string(std::string_view value);
    // u32 byte length, then the bytes
    void bytes(std::span<const uint8_t> value);
    // u32 item count; the caller encodes the items
    void count(uint64_t items);
    // raw bytes, no length
    void raw(const void *data, size_t size);

    size_t size() const;

    static void putU32(uint8_t *at, uint32_t value);
    static void putU64(uint8_t *at, uint64_t value);

private:
    std::vector<uint8_t> &m_out;
};

} // namespace cryopod::image
