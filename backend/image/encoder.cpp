// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "encoder.h"

#include <cstring>

namespace cryopod::image
{

Encoder::Encoder(std::vector<uint8_t> &out)
    : m_out(out)
{
}

void Encoder::putU32(uint8_t *at, uint32_t value)
{
    for (int i = 0; i < 4; ++i) {
        at[i] = uint8_t(value >> (8 * i));
    }
}

void Encoder::putU64(uint8_t *at, uint64_t value)
{
    for (int i = 0; i < 8; ++i) {
        at[i] = uint8_t(value >> (8 * i));
    }
}

void Encoder::u8(uint8_t value)
{
    m_out.push_back(value);
}

void Encoder::u32(uint32_t value)
{
    const size_t at = m_out.size();
    m_out.resize(at + 4);
    putU32(m_out.data() + at, value);
}

void Encoder::u64(uint64_t value)
{
    const size_t at = m_out.size();
    m_out.resize(at + 8);
    putU64(m_out.data() + at, value);
}

void Encoder::i32(int32_t value)
{
    u32(uint32_t(value));
}

void Encoder::boolean(bool value)
{
    u8(value ? 1 : 0);
}

void Encoder::string(std::string_view value)
{
    u32(uint32_t(value.size()));
    raw(value.data(), value.size());
}

void Encoder::bytes(std::span<const uint8_t> value)
{
    u32(uint32_t(value.size()));
    raw(value.data(), value.size());
}

void Encoder::count(uint64_t items)
{
    u32(uint32_t(items));
}

void Encoder::raw(const void *data, size_t size)
{
    if (size == 0) {
        return;
    }
    const size_t at = m_out.size();
    m_out.resize(at + size);
    std::memcpy(m_out.data() + at, data, size);
}

size_t Encoder::size() const
{
    return m_out.size();
}

} // namespace cryopod::image
