// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Writes an image front to back into any fd (file, pipe, socket).
// Every record is checked as the reader would (ImageValidator) before it is
// written: a refused record is not written and the writer stays usable; after
// a write error every later call fails. Page batches (writePages) may hold at
// most ReaderLimits::maxSectionBytes (256 MiB) of data; 8-64 MiB is the
// useful range. See docs/image-format.md.
#pragma once

#include "records.h"
#include "result.h"

#include <cstdint>
#include <memory>
#include <span>

namespace cryopod::image
{

struct WriterOptions {
    int compressionLevel = 1; // zstd level for page and file data
    int workers = 0; // zstd worker threads; 0 = one per online CPU when there is more than one, < 0 = compress in the caller's thread
    // Refuse finish() unless every process of the tree has all its records
    // (the reader's ReaderLimits::requireComplete). Off only for partial test images.
    bool requireComplete = true;
    // false: page and file data are written as they are, without zstd. For a
    // consumer that compresses what it keeps by itself (the store): the
    // stream then costs neither side compression time.
    bool compress = true;
};

class ImageWriter
{
public:
    // Writes the header. The fd is not owned and is written with blocking writes.
    static Result<std::unique_ptr<ImageWriter>> create(int fd, const Header &header, const WriterOptions &options = {});
    ~ImageWriter();
    ImageWriter(const ImageWriter &) = delete;
    ImageWriter &operator=(const ImageWriter &) = delete;

    Result<void> write(const ProcessTreeRecord &record);
    Result<void> write(const TaskRecord &record);
    Result<void> write(const ThreadRecord &record);
    Result<void> write(const CredsRecord &record);
    Result<void> write(const SignalsRecord &record);
    Result<void> write(const MmRecord &record);
    Result<void> write(const FilesRecord &record);
    Result<void> write(const FileObjectRecord &record);
    Result<void> write(const TimersRecord &record);
    Result<void> write(const TerminalRecord &record);
    Result<void> write(const SharedMemoryRecord &record);
    Result<void> write(const SysvIpcRecord &record);
    Result<void> write(const FileDataRecord &record);
    Result<void> write(const PagesRecord &record);
    // Same as write(PagesRecord) without copying the page bytes.
    Result<void> writePages(int32_t pid, std::span<const PageRun> runs, std::span<const uint8_t> data);
    // Writes the End record; nothing may be written after it.
    Result<void> finish();

    uint64_t bytesWritten() const; // bytes written to the fd so far
    uint64_t rawBytes() const; // uncompressed payload bytes so far

private:
    ImageWriter();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace cryopod::image
