// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Reads and validates an image front to back from any fd. Hostile input gets a
// clear error: every length is bounded before anything is allocated, every
// section's checksum is verified before its payload is decoded.
#pragma once

#include "records.h"
#include "result.h"

#include <cstdint>
#include <memory>
#include <variant>

namespace cryopod::image
{

struct ReaderLimits {
    uint64_t maxSectionBytes = 256ull << 20; // compressed or raw payload of one section
    uint64_t maxStringBytes = 1 << 20;
    uint64_t maxVectorItems = 1 << 24;
    // At the End record, require every process of the tree to have its Task,
    // Creds, Signals, Files, Mm and Thread records, and every unlinked fd its
    // FileData. Turn off only to look at partial images.
    bool requireComplete = true;
};

using Section = std::variant<ProcessTreeRecord, TaskRecord, ThreadRecord, CredsRecord, SignalsRecord, MmRecord, FilesRecord, FileDataRecord, PagesRecord, EndRecord>;

class ImageReader
{
public:
    // Reads and checks the header (magic, version, architecture, page size).
    static Result<std::unique_ptr<ImageReader>> open(int fd, const ReaderLimits &limits = {});
    ~ImageReader();
    ImageReader(const ImageReader &) = delete;
    ImageReader &operator=(const ImageReader &) = delete;

    const Header &header() const;
    // The next section, checksum verified and decoded. After EndRecord has
    // been returned, further calls fail. A stream that ends before EndRecord
    // is an error ("truncated"), never a silent end.
    Result<Section> next();
    uint64_t bytesRead() const;

private:
    ImageReader();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace cryopod::image
