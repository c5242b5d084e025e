// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Bounded decoding of the field-by-field encoding written by Encoder. The
// decoder never reads past its span and never allocates more than the limits
// allow: every length and count is checked against the limits and against
// the bytes that remain before anything is reserved. The first problem is
// kept (with the name of the field) and every later read returns zero, so a
// record decoder reads all fields and checks error() once at the end.
#pragma once

#include "records.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cryopod::image
{

class Decoder
{
public:
    Decoder(std::span<const uint8_t> in, uint64_t maxStringBytes, uint64_t maxVectorItems);

    uint8_t u8(const char *field);
    uint32_t u32(const char *field);
    uint64_t u64(const char *field);
    int32_t i32(const char *field);
    bool boolean(const char *field);
    // u32 length then bytes; no NUL allowed, at most maxStringBytes
    std::string string(const char *field);
    // u32 length then bytes, at most maxBytes
    std::vector<uint8_t> bytes(const char *field, uint64_t maxBytes);
    // u32 item count; checked against maxItems (or the decoder's limit when 0)
    // and against the bytes left, given that every item takes at least
    // minItemBytes. Returns 0 after an error.
    uint32_t count(const char *field, uint32_t minItemBytes, uint64_t maxItems = 0);
    // The next n bytes as a span (no copy).
    std::span<const uint8_t> take(const char *field, uint64_t n);

    // Marks the decoder failed with a message (keeps the first one).
    void setError(std::string message);
    bool failed() const;
    const std::optional<std::string> &error() const;

    // The format version of the image the bytes come from (kFormatVersion
    // unless the reader says otherwise): records decode the fields of that
    // version, those added since keep their defaults.
    void setFormatVersion(uint32_t version)
    {
        m_formatVersion = version;
    }
    uint32_t formatVersion() const
    {
        return m_formatVersion;
    }

    uint64_t offset() const;
    uint64_t remaining() const;
    std::span<const uint8_t> rest() const;
    bool atEnd() const;

private:
    bool need(const char *field, uint64_t n);

    std::span<const uint8_t> m_in;
    uint64_t m_pos = 0;
    uint64_t m_maxStringBytes;
    uint64_t m_maxVectorItems;
    std::optional<std::string> m_error;
    uint32_t m_formatVersion = kFormatVersion;
};

// Little-endian loads from raw bytes (no bounds checks: the caller checked).
uint32_t loadU32(const uint8_t *at);
uint64_t loadU64(const uint8_t *at);

} // namespace cryopod::image
