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
#include <functional>
#include <memory>
#include <span>
#include <variant>
#include <vector>

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
    // When the image is a regular file, uncompressed Pages sections are not
    // read by nextStored(): it reads their fields, checks them and skips the
    // data, and PageDecoder reads the data with pread() piece by piece while
    // it decodes, verifying the section's checksum on the way (so a damaged
    // section is reported after pieces before the damage reached the sink).
    // Restore turns it on: the pages go from the page cache through a small
    // buffer into the process, on every decoding thread at once.
    bool deferRawPages = false;
};

using Section = std::variant<ProcessTreeRecord,
                             TaskRecord,
                             ThreadRecord,
                             CredsRecord,
                             SignalsRecord,
                             MmRecord,
                             FilesRecord,
                             FileDataRecord,
                             PagesRecord,
                             EndRecord,
                             FileObjectRecord,
                             TimersRecord,
                             TerminalRecord,
                             SharedMemoryRecord,
                             SysvIpcRecord>;

// A Pages section as it is stored: its checksum verified, its fields decoded
// and checked (alone and against the image so far: known pid, inside the
// VMAs of its Mm record, runs ascending across records), its page data still
// compressed. PageDecoder turns it into the page contents, on any thread:
// this is how a reader spreads decompression over several cores while one
// thread reads the stream. Move-only; it owns the section's bytes.
class StoredPages
{
public:
    StoredPages() = default;
    StoredPages(StoredPages &&) noexcept = default;
    StoredPages &operator=(StoredPages &&) noexcept = default;

    int32_t pid = 0;
    std::vector<PageRun> runs;
    uint64_t dataLength = 0; // bytes once decoded: sum(runs.pages) * page size
    uint32_t flags = 0; // the section frame's flags (zstd or stored as is)
    uint64_t index = 0; // the section's number in the stream, for messages
    uint64_t offset = 0; // its first byte in the stream, for messages

    // The page data as on the wire (one zstd frame, or the raw pages). For a
    // deferred section only its first part: PageDecoder reads the rest.
    std::span<const uint8_t> stored() const
    {
        return {m_bytes.get() + m_storedOffset, m_storedSize};
    }
    // The data is still in the file (ReaderLimits::deferRawPages).
    bool deferred() const
    {
        return m_deferred != nullptr;
    }

private:
    friend class ImageReader;
    friend class PageDecoder;
    struct Deferred;
    std::shared_ptr<Deferred> m_deferred;
    std::unique_ptr<uint8_t[]> m_bytes; // the whole payload (fields, then data)
    size_t m_capacity = 0;
    size_t m_storedOffset = 0;
    size_t m_storedSize = 0;
};

// Decompresses StoredPages. One per thread: it owns a zstd context.
class PageDecoder
{
public:
    PageDecoder();
    ~PageDecoder();
    PageDecoder(const PageDecoder &) = delete;
    PageDecoder &operator=(const PageDecoder &) = delete;

    // Writes exactly pages.dataLength bytes to out (which must be that
    // size). The zstd frame must record its content size, hold exactly
    // that many bytes and have nothing after it; the error names the
    // section ("section #12 (Pages) at byte 4096: zstd decompression failed: ...").
    Result<void> decode(const StoredPages &pages, std::span<uint8_t> out);

    // The same, streamed through `chunk` while it stays in the CPU cache:
    // sink(offset, bytes) gets the page data piece by piece, in order, every
    // piece but the last exactly chunk.size() bytes (pass a multiple of the
    // page size to get whole pages). Page data stored as is goes to sink
    // straight from the section. Stops at the first error, of the frame or
    // of sink; pieces before a damaged part of a frame (whose section
    // checksum was right) may have reached sink already.
    using ChunkSink = std::function<Result<void>(uint64_t offset, std::span<const uint8_t> bytes)>;
    Result<void> decode(const StoredPages &pages, std::span<uint8_t> chunk, const ChunkSink &sink);

private:
    Result<void> decodeDeferred(const StoredPages &pages, std::span<uint8_t> chunk, const ChunkSink &sink);
    struct Private;
    std::unique_ptr<Private> d;
};

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
    // Like next(), but a Pages section comes back as StoredPages, still
    // compressed (every check but the decompression itself done). The End
    // record's totals are checked against the stored sections as well.
    using Item = std::variant<Section, StoredPages>;
    Result<Item> nextStored();
    // Hands the buffer of a StoredPages back for the next Pages section
    // nextStored() reads, so that a restore reuses a few warm buffers instead
    // of faulting in fresh memory for every section. Thread-safe; keeps at
    // most a handful, drops the rest.
    void recycle(StoredPages &&pages);
    uint64_t bytesRead() const;

private:
    ImageReader();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace cryopod::image
