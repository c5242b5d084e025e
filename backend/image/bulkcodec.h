// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The bulk data of Pages and FileData sections below the record level: its
// decompression into a caller's buffer, its deterministic re-compression
// exactly as ImageWriter compresses it, and the framing and checksum of a
// section built from its parts. The snapshot store uses it to keep page data
// de-duplicated and still rebuild the identical image stream.
//
// zstd's output is a function of the library version, the level, the
// parameters and the input. ImageWriter sets the level, turns the frame
// checksum off and uses either zstd's single-threaded mode (nbWorkers 0) or
// its multi-threaded mode (nbWorkers >= 1, whose output does not depend on
// the number of workers). BulkEncoding names one of these choices.
#pragma once

#include "imagewriter.h"
#include "rawimagereader.h"
#include "records.h"
#include "result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace cryopod::image
{

struct BulkEncoding {
    int level = 1;
    bool threaded = true; // zstd's multi-threaded mode (nbWorkers >= 1)

    friend bool operator==(const BulkEncoding &, const BulkEncoding &) = default;
};

// The encoding ImageWriter uses with these options on this machine.
BulkEncoding bulkEncodingOf(const WriterOptions &options);
// "zstd 1.5.7": the library whose output an encoding's bytes depend on.
std::string bulkCodecVersion();
unsigned bulkCodecVersionNumber(); // ZSTD_versionNumber()

class BulkCodec
{
public:
    BulkCodec();
    ~BulkCodec();
    BulkCodec(const BulkCodec &) = delete;
    BulkCodec &operator=(const BulkCodec &) = delete;

    // Decompresses the bulk data of a Pages/FileData section (flags from its
    // frame) into out, which must be exactly the section's dataLength bytes.
    // A zstd frame must record its content size, hold exactly out.size()
    // bytes and have nothing after it.
    Result<void> decode(uint32_t flags, std::span<const uint8_t> stored, std::span<uint8_t> out);
    Result<void> decode(const RawSection &section, std::span<uint8_t> out);

    // Compresses raw as ImageWriter does with `encoding`. workers only
    // changes the speed of the threaded mode, not its output. The returned
    // bytes stay valid until the next encode().
    Result<std::span<const uint8_t>> encode(const BulkEncoding &encoding, std::span<const uint8_t> raw, int workers = 1);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

// A complete Pages or FileData section split into its parts.
struct BulkParts {
    SectionFrame frame;
    std::span<const uint8_t> fields; // the field block
    std::span<const uint8_t> stored; // the bulk bytes as on the wire
    uint64_t dataLength = 0;
    PagesRecord pages; // Pages: pid and runs (data empty)
    FileDataRecord fileData; // FileData: pid and fd (data empty)
};

// Sections from their parts (docs/image-format.md, "Section frame").
class SectionBytes
{
public:
    // The 24-byte frame header.
    static void storeFrameHeader(uint8_t *out, const SectionFrame &frame);
    // XXH3-64 of the frame header and the payload given in up to two parts.
    static uint64_t checksum(std::span<const uint8_t> frameHeader, std::span<const uint8_t> payload1, std::span<const uint8_t> payload2 = {});
    // Checks the frame and checksum of one complete section (frame header,
    // payload, checksum) and returns its frame.
    static Result<SectionFrame> verify(std::span<const uint8_t> bytes);
    // Decodes and checks (alone, not against other sections) one complete
    // section without bulk data, e.g. a Task or Mm section kept by the store.
    static Result<Section> decode(std::span<const uint8_t> bytes, const Header &header, const ReaderLimits &limits = {});
    // The field block of a Pages section: pid and runs; returns dataLength.
    static Result<uint64_t> decodePagesFields(std::span<const uint8_t> fields, PagesRecord &record, const ReaderLimits &limits = {});
    // Checks one complete Pages/FileData section and splits it (no decompression).
    static Result<BulkParts> splitBulk(std::span<const uint8_t> bytes, const Header &header, const ReaderLimits &limits = {});
    // Decodes and checks a header as read (magic through checksum).
    static Result<Header> decodeHeader(std::span<const uint8_t> bytes);
};

} // namespace cryopod::image
