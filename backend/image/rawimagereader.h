// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Reads an image front to back like ImageReader, with the same checks, but
// hands out every section as the exact bytes of the stream (frame header,
// payload, checksum) next to its decoded fields. The snapshot store keeps
// images byte for byte and needs both: the bytes to rebuild the stream, the
// fields to index it. The bulk data of Pages and FileData sections is not
// decompressed here (BulkCodec does that), so the data of one section is
// read once and never copied.
//
// ImageReader::next() could offer the raw bytes itself; until it does, this
// file repeats its section checks (see readSection()).
#pragma once

#include "imagereader.h"
#include "records.h"
#include "result.h"
#include "sectionframe.h"

#include <cstdint>
#include <memory>
#include <span>

namespace cryopod::image
{

struct RawSection {
    uint64_t index = 0; // 0 for the first section after the header
    uint64_t offset = 0; // byte offset of the frame header in the stream
    SectionFrame frame;
    uint64_t checksum = 0;
    std::span<const uint8_t> bytes; // frame header + payload + checksum, valid until the next call of next()

    // Pages and FileData: the field block ends after fieldBytes payload bytes,
    // the bulk data follows (a zstd frame when frame.flags has kSectionZstd).
    bool bulk = false;
    size_t fieldBytes = 0;
    uint64_t dataLength = 0; // bulk bytes once decompressed

    // The decoded section. For Pages and FileData the data is left empty.
    Section record;

    std::span<const uint8_t> payload() const
    {
        return bytes.subspan(kFrameHeaderBytes, frame.payloadLength);
    }
    std::span<const uint8_t> fields() const
    {
        return payload().first(bulk ? fieldBytes : frame.payloadLength);
    }
    std::span<const uint8_t> stored() const // the bulk bytes as they are on the wire
    {
        return bulk ? payload().subspan(fieldBytes) : std::span<const uint8_t>();
    }
    bool isEnd() const
    {
        return frame.type == uint32_t(SectionType::End);
    }
};

class RawImageReader
{
public:
    // Reads and checks the header (magic, version, checksum, fields).
    static Result<std::unique_ptr<RawImageReader>> open(int fd, const ReaderLimits &limits = {});
    ~RawImageReader();
    RawImageReader(const RawImageReader &) = delete;
    RawImageReader &operator=(const RawImageReader &) = delete;

    const Header &header() const;
    std::span<const uint8_t> headerBytes() const; // the header exactly as read, checksum included
    // The next section, checksum verified, fields decoded and checked against
    // the sections before it (ImageValidator), End counts compared. The End
    // section is returned like the others; calls after it fail.
    Result<const RawSection *> next();
    bool ended() const;
    uint64_t bytesRead() const;

private:
    RawImageReader();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace cryopod::image
