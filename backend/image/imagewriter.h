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

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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
    // Bulk sections are written in pieces of this many bytes: on ext4 here a
    // write() of 8 MiB costs the kernel about 15x the CPU time of the same
    // bytes in pieces of 1 MiB or less (docs/performance.md, cr_throughput).
    // Uncompressed data is also checksummed piece by piece, each piece
    // written right after its checksum while it is still in the cache.
    // 0: a section in one write. The bytes are the same.
    size_t pieceBytes = 256u << 10;
    // Measure the CPU time of the checksums and writes of bulk data (times()).
    bool measureTimes = false;
    // The caller has SIGPIPE blocked on every thread that writes through the
    // writer, for the writer's whole life (fdio.h, Sigpipe::Blocked): each
    // write then goes without the three system calls that guard it, about a
    // tenth of the writing thread's CPU time in an uncompressed dump here.
    bool sigpipeBlocked = false;
};

// CPU time of the calling threads in the parts of writing bulk data
// (WriterOptions::measureTimes), for $CRYOPOD_DUMP_TRACE.
struct WriterTimes {
    uint64_t checksumCpuNs = 0; // XXH3 of uncompressed bulk data
    uint64_t writeCpuNs = 0; // write()/writev() of bulk sections (the kernel's copy into the fd)
    uint64_t compressCpuNs = 0; // zstd, this thread's part
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
    // Same as write(PagesRecord) without copying the page bytes. `checksum`:
    // the section's, computed beforehand by uncompressedPagesChecksum() (on
    // another thread), so that this call does not read the data a second
    // time; used by a writer that does not compress, ignored by one that
    // does.
    Result<void> writePages(int32_t pid, std::span<const PageRun> runs, std::span<const uint8_t> data, std::optional<uint64_t> checksum = std::nullopt);
    // The checksum of the Pages section that a writer that does not compress
    // writes for these arguments. Reads nothing of any writer: any thread
    // may call it, also while the writer writes something else.
    static uint64_t uncompressedPagesChecksum(int32_t pid, std::span<const PageRun> runs, std::span<const uint8_t> data);
    // Writes the End record; nothing may be written after it.
    Result<void> finish();

    uint64_t bytesWritten() const; // bytes written to the fd so far
    uint64_t rawBytes() const; // uncompressed payload bytes so far
    bool compresses() const; // WriterOptions::compress
    WriterTimes times() const; // zero unless WriterOptions::measureTimes

private:
    ImageWriter();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace cryopod::image
