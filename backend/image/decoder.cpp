// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "decoder.h"

#include <cstring>

namespace cryopod::image
{

uint32_t loadU32(const uint8_t *at)
{
    uint32_t value = 0;
    for (int i = 3; i >= 0; --i) {
        value = (value << 8) | at[i];
    }
    return value;
}

uint64_t loadU64(const uint8_t *at)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) {
        value = (value << 8) | at[i];
    }
    return value;
}

Decoder::Decoder(std::span<const uint8_t> in, uint64_t maxStringBytes, uint64_t maxVectorItems)
    : m_in(in)
    , m_maxStringBytes(maxStringBytes)
    , m_maxVectorItems(maxVectorItems)
{
}

void Decoder::setError(std::string message)
{
    if (!m_error) {
        m_error = std::move(message);
    }
}

bool Decoder::failed() const
{
    return m_error.has_value();
}

const std::optional<std::string> &Decoder::error() const
{
    return m_error;
}

uint64_t Decoder::offset() const
{
    return m_pos;
}

uint64_t Decoder::remaining() const
{
    return m_in.size() - m_pos;
}

std::span<const uint8_t> Decoder::rest() const
{
    return m_in.subspan(m_pos);
}

bool Decoder::atEnd() const
{
    return m_pos == m_in.size();
}

bool Decoder::need(const char *field, uint64_t n)
{
    if (m_error) {
        return false;
    }
    if (n > remaining()) {
        setError(std::string(field) + ": needs " + std::to_string(n) + " bytes, only " + std::to_string(remaining()) + " left in the record");
        return false;
    }
    return true;
}

uint8_t Decoder::u8(const char *field)
{
    if (!need(field, 1)) {
        return 0;
    }
    return m_in[m_pos++];
}

uint32_t Decoder::u32(const char *field)
{
    if (!need(field, 4)) {
        return 0;
    }
    const uint32_t value = loadU32(m_in.data() + m_pos);
    m_pos += 4;
    return value;
}

uint64_t Decoder::u64(const char *field)
{
    if (!need(field, 8)) {
        return 0;
    }
    const uint64_t value = loadU64(m_in.data() + m_pos);
    m_pos += 8;
    return value;
}

int32_t Decoder::i32(const char *field)
{
    return int32_t(u32(field));
}

bool Decoder::boolean(const char *field)
{
    const uint8_t value = u8(field);
    if (value > 1) {
        setError(std::string(field) + ": boolean byte is " + std::to_string(value) + ", not 0 or 1");
        return false;
    }
    return value == 1;
}

std::string Decoder::string(const char *field)
{
    const uint32_t length = u32(field);
    if (m_error) {
        return {};
    }
    if (length > m_maxStringBytes) {
        setError(std::string(field) + ": string length " + std::to_string(length) + " exceeds the limit of " + std::to_string(m_maxStringBytes) + " bytes");
        return {};
    }
    if (!need(field, length)) {
        return {};
    }
    const char *begin = reinterpret_cast<const char *>(m_in.data() + m_pos);
    if (std::memchr(begin, 0, length) != nullptr) {
        setError(std::string(field) + ": string contains a NUL byte");
        return {};
    }
    m_pos += length;
    return std::string(begin, length);
}

std::vector<uint8_t> Decoder::bytes(const char *field, uint64_t maxBytes)
{
    const uint32_t length = u32(field);
    if (m_error) {
        return {};
    }
    if (length > maxBytes) {
        setError(std::string(field) + ": length " + std::to_string(length) + " exceeds the limit of " + std::to_string(maxBytes) + " bytes");
        return {};
    }
    if (!need(field, length)) {
        return {};
    }
    std::vector<uint8_t> out(m_in.begin() + m_pos, m_in.begin() + m_pos + length);
    m_pos += length;
    return out;
}

uint32_t Decoder::count(const char *field, uint32_t minItemBytes, uint64_t maxItems)
{
    const uint32_t items = u32(field);
    if (m_error) {
        return 0;
    }
    const uint64_t limit = maxItems != 0 && maxItems < m_maxVectorItems ? maxItems : m_maxVectorItems;
    if (items > limit) {
        setError(std::string(field) + ": count " + std::to_string(items) + " exceeds the limit of " + std::to_string(limit));
        return 0;
    }
    if (uint64_t(items) * minItemBytes > remaining()) {
        setError(std::string(field) + ": count " + std::to_string(items) + " needs at least " + std::to_string(uint64_t(items) * minItemBytes) +
                 " bytes, only " + std::to_string(remaining()) + " left in the record");
        return 0;
    }
    return items;
}

std::span<const uint8_t> Decoder::take(const char *field, uint64_t n)
{
    if (!need(field, n)) {
        return {};
    }
    auto out = m_in.subspan(m_pos, n);
    m_pos += n;
    return out;
}

} // namespace cryopod::image
