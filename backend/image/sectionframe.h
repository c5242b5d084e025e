// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The framing of the stream (docs/image-format.md, "Stream layout"): the
// fixed part of the header and the 24-byte frame header in front of every
// section. Used by ImageWriter and ImageReader only.
#pragma once

#include "records.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace cryopod::image
{

// Header: magic[8], u32 format version, u32 field block length, field block, u64 XXH3-64.
inline constexpr size_t kHeaderPrefixBytes = 16;
inline constexpr uint32_t kMaxHeaderFieldBytes = 64 * 1024;

// Section: u32 type, u32 flags, u64 payload length, u64 raw length, payload, u64 XXH3-64.
inline constexpr size_t kFrameHeaderBytes = 24;
inline constexpr size_t kChecksumBytes = 8;

// Section flag bits.
inline constexpr uint32_t kSectionZstd = 1u << 0; // the bulk data of a Pages/FileData section is one zstd frame
inline constexpr uint32_t kSectionKnownFlags = kSectionZstd;

struct SectionFrame {
    uint32_t type = 0;
    uint32_t flags = 0;
    uint64_t payloadLength = 0; // bytes on the wire between frame header and checksum
    uint64_t rawLength = 0; // bytes of the payload once its bulk data is decompressed

    void store(uint8_t *at) const;
    static SectionFrame load(const uint8_t *at);
};

// "Pages", "Creds", ...; nullptr for an unknown type.
const char *sectionTypeName(uint32_t type);
// "Pages" or "type 0x77" for messages.
std::string describeSectionType(uint32_t type);

} // namespace cryopod::image
