// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imagereader.h"

#include "checksum.h"
#include "decoder.h"
#include "fdio.h"
#include "imagevalidator.h"
#include "recordcodec.h"
#include "sectionframe.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <format>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

namespace cryopod::image
{

namespace
{
struct DCtxDeleter {
    void operator()(ZSTD_DCtx *c) const
    {
        ZSTD_freeDCtx(c);
    }
};

// zstd's worst-case expansion of L bytes is below L/255 + 128 KiB; a Pages
// field block is at most 12 bytes per page. Both fit in L/128 + 1 MiB.
uint64_t bulkSectionBound(uint64_t limit)
{
    return limit + limit / 128 + (1u << 20);
}

std::string hex(uint64_t v)
{
    return std::format("{:#018x}", v);
}

ZSTD_DCtx *newDCtx()
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (dctx) {
        ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
    }
    return dctx;
}

// The bulk data of a Pages/FileData section into out (exactly its size):
// copied when stored as is, else one zstd frame that records its content
// size, holds exactly out.size() bytes and has nothing after it.
Result<void> inflateInto(ZSTD_DCtx *dctx, std::span<const uint8_t> stored, std::span<uint8_t> out, bool zstd)
{
    if (!zstd) {
        if (stored.size() != out.size()) {
            return fail(std::format("{} bytes of stored data, the fields say {}", stored.size(), out.size()));
        }
        if (!out.empty()) {
            std::memcpy(out.data(), stored.data(), out.size());
        }
        return {};
    }
    const unsigned long long contentSize = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (contentSize == ZSTD_CONTENTSIZE_ERROR) {
        return fail("the data is not a valid zstd frame");
    }
    if (contentSize == ZSTD_CONTENTSIZE_UNKNOWN) {
        return fail("the zstd frame does not record its size");
    }
    if (contentSize != out.size()) {
        return fail(std::format("the zstd frame holds {} bytes, the fields say {}", contentSize, out.size()));
    }
    const size_t frameSize = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
    if (ZSTD_isError(frameSize)) {
        return fail(std::format("the zstd frame is damaged: {}", ZSTD_getErrorName(frameSize)));
    }
    if (frameSize != stored.size()) {
        return fail(std::format("{} bytes after the zstd frame", stored.size() - frameSize));
    }
    const size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), stored.data(), stored.size());
    if (ZSTD_isError(n)) {
        return fail(std::format("zstd decompression failed: {}", ZSTD_getErrorName(n)));
    }
    if (n != out.size()) {
        return fail(std::format("zstd decompression produced {} bytes, expected {}", n, out.size()));
    }
    return {};
}

// Where payload bytes go: the reader's own buffer, or a StoredPages' one.
struct PayloadBuffer {
    std::unique_ptr<uint8_t[]> &bytes;
    size_t &capacity;
};

// Buffers of StoredPages handed back, kept for the next Pages sections.
constexpr size_t kMaxRecycled = 6;
// A deferred Pages section's fields are decoded from its first bytes.
constexpr uint64_t kDeferredPeekBytes = 64 * 1024;

// Bytes read at offset until size or the end of the file; fewer on an error.
uint64_t preadFull(int fd, void *data, uint64_t size, uint64_t offset)
{
    uint64_t done = 0;
    while (done < size) {
        const ssize_t got = ::pread(fd, static_cast<uint8_t *>(data) + done, size - done, off_t(offset + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        done += uint64_t(got);
    }
    return done;
}
} // namespace

// Where the rest of a deferred section is, and its checksum so far (frame
// header and the bytes in the StoredPages' buffer).
struct StoredPages::Deferred {
    int fd = -1;
    uint64_t fileOffset = 0; // of the first byte not in the buffer
    uint64_t remaining = 0; // bytes from there to the end of the payload
    XXH3_state_t state;
    uint64_t expected = 0; // the stored checksum
};

struct PageDecoder::Private {
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx;
};

PageDecoder::PageDecoder()
    : d(std::make_unique<Private>())
{
}

PageDecoder::~PageDecoder() = default;

Result<void> PageDecoder::decode(const StoredPages &pages, std::span<uint8_t> out)
{
    const std::string at = std::format("section #{} (Pages) at byte {}", pages.index, pages.offset);
    if (out.size() != pages.dataLength) {
        return fail(std::format("{}: a buffer of {} bytes for {} bytes of page data", at, out.size(), pages.dataLength), EINVAL);
    }
    if (pages.deferred()) {
        return decodeDeferred(pages, out, [](uint64_t, std::span<const uint8_t>) -> Result<void> {
            return {};
        });
    }
    const bool zstd = pages.flags & kSectionZstd;
    if (zstd && !d->dctx) {
        d->dctx.reset(newDCtx());
        if (!d->dctx) {
            return fail("create zstd decompression context", ENOMEM);
        }
    }
    auto r = inflateInto(d->dctx.get(), pages.stored(), out, zstd);
    if (!r) {
        return std::unexpected(r.error().context(at));
    }
    return {};
}

Result<void> PageDecoder::decodeDeferred(const StoredPages &pages, std::span<uint8_t> chunk, const ChunkSink &sink)
{
    const std::string at = std::format("section #{} (Pages) at byte {}", pages.index, pages.offset);
    const StoredPages::Deferred &deferred = *pages.m_deferred;
    const std::span<const uint8_t> buffered = pages.stored();
    if (buffered.size() + deferred.remaining != pages.dataLength) {
        return fail(std::format("{}: {} bytes of stored data, the fields say {}", at, buffered.size() + deferred.remaining, pages.dataLength));
    }
    XXH3_state_t state = deferred.state;
    for (uint64_t offset = 0; offset < pages.dataLength;) {
        const uint64_t n = std::min<uint64_t>(chunk.size(), pages.dataLength - offset);
        uint64_t filled = 0;
        if (offset < buffered.size()) {
            filled = std::min<uint64_t>(n, buffered.size() - offset);
            std::memcpy(chunk.data(), buffered.data() + offset, filled);
        }
        while (filled < n) {
            const uint64_t fromFile = offset + filled - buffered.size();
            const ssize_t got = ::pread(deferred.fd, chunk.data() + filled, n - filled, off_t(deferred.fileOffset + fromFile));
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got < 0) {
                return sysError(at + ": read page data");
            }
            if (got == 0) {
                return fail(std::format("{}: the file ended inside the page data ({} of {} bytes)", at, offset + filled, pages.dataLength));
            }
            XXH3_64bits_update(&state, chunk.data() + filled, size_t(got));
            filled += uint64_t(got);
        }
        CRYOPOD_PROPAGATE(sink(offset, std::span<const uint8_t>(chunk.data(), n)));
        offset += n;
    }
    const uint64_t computed = XXH3_64bits_digest(&state);
    if (computed != deferred.expected) {
        return fail(std::format("{}: checksum mismatch (stored {}, computed {}): the section is corrupted", at, hex(deferred.expected), hex(computed)));
    }
    return {};
}

Result<void> PageDecoder::decode(const StoredPages &pages, std::span<uint8_t> chunk, const ChunkSink &sink)
{
    const std::string at = std::format("section #{} (Pages) at byte {}", pages.index, pages.offset);
    const std::span<const uint8_t> stored = pages.stored();
    if (chunk.empty()) {
        return fail(at + ": no buffer to decode into", EINVAL);
    }
    if (pages.deferred()) {
        return decodeDeferred(pages, chunk, sink);
    }
    if (!(pages.flags & kSectionZstd)) {
        if (stored.size() != pages.dataLength) {
            return fail(std::format("{}: {} bytes of stored data, the fields say {}", at, stored.size(), pages.dataLength));
        }
        for (uint64_t offset = 0; offset < stored.size(); offset += chunk.size()) {
            CRYOPOD_PROPAGATE(sink(offset, stored.subspan(offset, std::min<uint64_t>(chunk.size(), stored.size() - offset))));
        }
        return {};
    }
    // The frame's own claims first, as decode() checks them.
    const unsigned long long contentSize = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (contentSize == ZSTD_CONTENTSIZE_ERROR) {
        return fail(at + ": the data is not a valid zstd frame");
    }
    if (contentSize == ZSTD_CONTENTSIZE_UNKNOWN) {
        return fail(at + ": the zstd frame does not record its size");
    }
    if (contentSize != pages.dataLength) {
        return fail(std::format("{}: the zstd frame holds {} bytes, the fields say {}", at, contentSize, pages.dataLength));
    }
    const size_t frameSize = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
    if (ZSTD_isError(frameSize)) {
        return fail(std::format("{}: the zstd frame is damaged: {}", at, ZSTD_getErrorName(frameSize)));
    }
    if (frameSize != stored.size()) {
        return fail(std::format("{}: {} bytes after the zstd frame", at, stored.size() - frameSize));
    }
    if (!d->dctx) {
        d->dctx.reset(newDCtx());
        if (!d->dctx) {
            return fail("create zstd decompression context", ENOMEM);
        }
    }
    ZSTD_DCtx_reset(d->dctx.get(), ZSTD_reset_session_only);
    ZSTD_inBuffer in{stored.data(), stored.size(), 0};
    uint64_t offset = 0;
    size_t hint = 1; // 0 once the frame is complete
    while (offset < pages.dataLength) {
        ZSTD_outBuffer out{chunk.data(), size_t(std::min<uint64_t>(chunk.size(), pages.dataLength - offset)), 0};
        while (out.pos < out.size && hint != 0) {
            const size_t inBefore = in.pos, outBefore = out.pos;
            hint = ZSTD_decompressStream(d->dctx.get(), &out, &in);
            if (ZSTD_isError(hint)) {
                return fail(std::format("{}: zstd decompression failed: {}", at, ZSTD_getErrorName(hint)));
            }
            if (hint != 0 && in.pos == inBefore && out.pos == outBefore) {
                return fail(std::format("{}: the zstd frame ended after {} of {} bytes", at, offset + out.pos, pages.dataLength));
            }
        }
        if (out.pos == 0) {
            return fail(std::format("{}: the zstd frame ended after {} of {} bytes", at, offset, pages.dataLength));
        }
        CRYOPOD_PROPAGATE(sink(offset, std::span<const uint8_t>(chunk.data(), out.pos)));
        offset += out.pos;
    }
    // All bytes are out; the frame must end here, with nothing more in it.
    uint8_t extra = 0;
    while (hint != 0) {
        ZSTD_outBuffer out{&extra, 1, 0};
        const size_t inBefore = in.pos;
        hint = ZSTD_decompressStream(d->dctx.get(), &out, &in);
        if (ZSTD_isError(hint)) {
            return fail(std::format("{}: zstd decompression failed: {}", at, ZSTD_getErrorName(hint)));
        }
        if (out.pos != 0) {
            return fail(std::format("{}: the zstd frame holds more than the {} bytes the fields say", at, pages.dataLength));
        }
        if (hint != 0 && in.pos == inBefore) {
            return fail(at + ": the zstd frame does not end");
        }
    }
    if (in.pos != in.size) {
        return fail(std::format("{}: {} bytes after the zstd frame", at, in.size - in.pos));
    }
    return {};
}

struct ImageReader::Private {
    int fd = -1;
    ReaderLimits limits;
    Header header;
    std::unique_ptr<ImageValidator> validator;
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx;
    std::unique_ptr<uint8_t[]> payload; // grows as payload bytes actually arrive
    size_t payloadCapacity = 0;
    std::mutex recycledMutex;
    std::vector<StoredPages> recycled; // buffers for the next StoredPages
    uint64_t bytesRead = 0;
    uint64_t sections = 0;
    uint64_t pages = 0;
    uint64_t rawBytes = 0;
    bool ended = false;
    std::optional<Error> failure;
    // ReaderLimits::deferRawPages on a regular file: where the stream
    // started in it, and its size.
    bool positional = false;
    uint64_t startOffset = 0;
    uint64_t fileSize = 0;

    // Reads exactly n bytes or reports where the stream ended.
    Result<void> readExact(void *buf, size_t n, const std::string &where, const char *what)
    {
        auto got = readFull(fd, buf, n);
        if (!got) {
            return std::unexpected(got.error().context(std::format("{}, at byte {}", where, bytesRead)));
        }
        bytesRead += *got;
        if (*got < n) {
            return fail(std::format("image truncated at byte {} in {}: the stream ended inside the {} ({} of {} bytes)", bytesRead, where, what, *got, n));
        }
        return {};
    }

    // Reads a payload of n bytes (already checked against the limits) into
    // `buffer`, growing it only as the bytes arrive, so a hostile length on a
    // short stream allocates little. The bytes go into the checksum `state`
    // piece by piece as they arrive, while they are still in the cache.
    Result<void> readPayload(PayloadBuffer buffer, uint64_t n, const std::string &where, XXH3_state_t &state)
    {
        uint64_t have = 0;
        while (have < n) {
            const uint64_t want = std::min<uint64_t>(n, std::max<uint64_t>({have * 2, 1u << 20, buffer.capacity}));
            if (want > buffer.capacity) {
                std::unique_ptr<uint8_t[]> bigger(new uint8_t[want]);
                if (have > 0) {
                    std::memcpy(bigger.get(), buffer.bytes.get(), have);
                }
                buffer.bytes = std::move(bigger);
                buffer.capacity = want;
            }
            while (have < want) {
                constexpr uint64_t kPiece = 256 * 1024;
                const uint64_t piece = std::min(want - have, kPiece);
                auto got = readFull(fd, buffer.bytes.get() + have, piece);
                if (!got) {
                    return std::unexpected(got.error().context(std::format("{}, at byte {}", where, bytesRead)));
                }
                XXH3_64bits_update(&state, buffer.bytes.get() + have, *got);
                bytesRead += *got;
                have += *got;
                if (*got < piece) {
                    return fail(
                        std::format("image truncated at byte {} in {}: the stream ended inside the payload ({} of {} bytes)", bytesRead, where, have, n));
                }
            }
        }
        return {};
    }

    Result<Item> readSection(bool keepPagesStored);
    // An uncompressed Pages section of a regular file, its data left in the
    // file (PageDecoder reads it). nullopt: read it the ordinary way, which
    // also reports whatever is wrong with it (nothing was consumed).
    std::optional<Item> deferPages(const SectionFrame &frame, const uint8_t *head, uint64_t index, uint64_t start);
    template<typename Record>
    Result<Section> decodeFields(std::span<const uint8_t> bytes);
    Result<uint64_t> decodePagesFields(std::span<const uint8_t> bytes, const SectionFrame &frame, PagesRecord &record, uint64_t &fieldBytes);
    Result<Section> decodePages(std::span<const uint8_t> bytes, const SectionFrame &frame);
    Result<Section> decodeFileData(std::span<const uint8_t> bytes, const SectionFrame &frame);
    Result<std::vector<uint8_t>> inflate(std::span<const uint8_t> stored, uint64_t dataLength, bool zstd);
};

ImageReader::ImageReader()
    : d(std::make_unique<Private>())
{
}

ImageReader::~ImageReader() = default;

Result<std::unique_ptr<ImageReader>> ImageReader::open(int fd, const ReaderLimits &limits)
{
    std::unique_ptr<ImageReader> r(new ImageReader);
    Private &p = *r->d;
    p.fd = fd;
    p.limits = limits;

    uint8_t prefix[kHeaderPrefixBytes];
    auto got = readFull(fd, prefix, sizeof prefix);
    if (!got) {
        return std::unexpected(got.error().context("read image header"));
    }
    p.bytesRead = *got;
    if (std::memcmp(prefix, kMagic, std::min<size_t>(*got, sizeof kMagic)) != 0) {
        return fail("not a Cryopod image (bad magic: the stream does not start with \"CRYOPOD\\0\")");
    }
    if (*got < sizeof prefix) {
        return fail(std::format("image truncated at byte {} in the header", *got));
    }
    const uint32_t version = loadU32(prefix + 8);
    if (version == 0) {
        return fail("image header: invalid format version 0");
    }
    if (version > kFormatVersion) {
        return fail(std::format("image format version {} is newer than this reader supports (version {})", version, kFormatVersion));
    }
    if (version < kOldestReadableFormatVersion) {
        // The records' layouts differ between versions; those since kOldestReadableFormatVersion are decoded.
        return fail(std::format("image format version {} is older than this reader supports (versions {} to {}); take the snapshot again", version,
                                kOldestReadableFormatVersion, kFormatVersion));
    }
    const uint32_t fieldBytes = loadU32(prefix + 12);
    if (fieldBytes > kMaxHeaderFieldBytes) {
        return fail(std::format("image header: field block length {} exceeds the limit of {} bytes", fieldBytes, kMaxHeaderFieldBytes));
    }
    std::vector<uint8_t> bytes(sizeof prefix + fieldBytes + kChecksumBytes);
    std::memcpy(bytes.data(), prefix, sizeof prefix);
    CRYOPOD_PROPAGATE(p.readExact(bytes.data() + sizeof prefix, fieldBytes + kChecksumBytes, "the header", "header"));
    const size_t covered = sizeof prefix + fieldBytes;
    const uint64_t stored = loadU64(bytes.data() + covered);
    const uint64_t computed = XXH3_64bits(bytes.data(), covered);
    if (stored != computed) {
        return fail(std::format("image header: checksum mismatch (stored {}, computed {})", hex(stored), hex(computed)));
    }
    Decoder dec(std::span<const uint8_t>(bytes.data() + sizeof prefix, fieldBytes), std::min<uint64_t>(limits.maxStringBytes, 4096), limits.maxVectorItems);
    RecordCodec::decode(dec, p.header);
    if (!dec.failed() && !dec.atEnd()) {
        dec.setError(std::format("{} unexpected bytes after the fields", dec.remaining()));
    }
    if (dec.failed()) {
        return fail("image header: " + *dec.error());
    }
    p.header.formatVersion = version;
    if (auto ok = ImageValidator::check(p.header); !ok) {
        return std::unexpected(ok.error().context("image header"));
    }
    p.validator = std::make_unique<ImageValidator>(p.header, limits);
    p.dctx.reset(ZSTD_createDCtx());
    if (!p.dctx) {
        return fail("create zstd decompression context", ENOMEM);
    }
    ZSTD_DCtx_setParameter(p.dctx.get(), ZSTD_d_windowLogMax, 27);
    struct stat st{};
    if (limits.deferRawPages && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        const off_t at = ::lseek(fd, 0, SEEK_CUR);
        if (at >= 0 && uint64_t(at) >= p.bytesRead) {
            p.positional = true;
            p.startOffset = uint64_t(at) - p.bytesRead;
            p.fileSize = uint64_t(st.st_size);
        }
    }
    return r;
}

const Header &ImageReader::header() const
{
    return d->header;
}

uint64_t ImageReader::bytesRead() const
{
    return d->bytesRead;
}

Result<Section> ImageReader::next()
{
    if (d->failure) {
        return std::unexpected(*d->failure);
    }
    if (d->ended) {
        return fail("read past the End record of the image");
    }
    auto item = d->readSection(false);
    if (!item) {
        d->failure = item.error();
        return std::unexpected(item.error());
    }
    return std::get<Section>(std::move(*item));
}

Result<ImageReader::Item> ImageReader::nextStored()
{
    if (d->failure) {
        return std::unexpected(*d->failure);
    }
    if (d->ended) {
        return fail("read past the End record of the image");
    }
    auto item = d->readSection(true);
    if (!item) {
        d->failure = item.error();
    }
    return item;
}

void ImageReader::recycle(StoredPages &&pages)
{
    pages.m_deferred.reset();
    if (!pages.m_bytes) {
        return;
    }
    std::lock_guard lock(d->recycledMutex);
    if (d->recycled.size() < kMaxRecycled) {
        d->recycled.push_back(std::move(pages));
    }
}

template<typename Record>
Result<Section> ImageReader::Private::decodeFields(std::span<const uint8_t> bytes)
{
    Decoder dec(bytes, limits.maxStringBytes, limits.maxVectorItems);
    dec.setFormatVersion(header.formatVersion);
    Record record;
    RecordCodec::decode(dec, record);
    if (!dec.failed() && !dec.atEnd()) {
        dec.setError(std::format("{} unexpected bytes after the fields", dec.remaining()));
    }
    if (dec.failed()) {
        return fail(*dec.error());
    }
    Result<void> ok;
    if constexpr (std::is_same_v<Record, MmRecord>) {
        ok = ImageValidator::check(record, header.pageSize, limits);
    } else if constexpr (std::is_same_v<Record, ProcessTreeRecord> || std::is_same_v<Record, FilesRecord>
                         || std::is_same_v<Record, FileObjectRecord> || std::is_same_v<Record, SharedMemoryRecord>) {
        ok = ImageValidator::check(record, limits);
    } else if constexpr (!std::is_same_v<Record, EndRecord>) {
        ok = ImageValidator::check(record);
    }
    if (!ok) {
        return std::unexpected(ok.error());
    }
    return Section(std::move(record));
}

Result<std::vector<uint8_t>> ImageReader::Private::inflate(std::span<const uint8_t> stored, uint64_t dataLength, bool zstd)
{
    // Checked before allocating: data that claims another size costs nothing.
    if (!zstd && stored.size() != dataLength) {
        return fail(std::format("{} bytes of stored data, the fields say {}", stored.size(), dataLength));
    }
    if (zstd) {
        const unsigned long long contentSize = ZSTD_getFrameContentSize(stored.data(), stored.size());
        if (contentSize != ZSTD_CONTENTSIZE_ERROR && contentSize != ZSTD_CONTENTSIZE_UNKNOWN && contentSize != dataLength) {
            return fail(std::format("the zstd frame holds {} bytes, the fields say {}", contentSize, dataLength));
        }
    }
    std::vector<uint8_t> data(dataLength);
    CRYOPOD_PROPAGATE(inflateInto(dctx.get(), stored, data, zstd));
    return data;
}

// The fields of a Pages section, checked alone and against the image so far.
// Returns the length of its data; fieldBytes is where the data starts.
Result<uint64_t>
ImageReader::Private::decodePagesFields(std::span<const uint8_t> bytes, const SectionFrame &frame, PagesRecord &record, uint64_t &fieldBytes)
{
    Decoder dec(bytes, limits.maxStringBytes, limits.maxVectorItems);
    const uint64_t dataLength = RecordCodec::decodePagesFields(dec, record);
    if (dec.failed()) {
        return fail(*dec.error());
    }
    CRYOPOD_PROPAGATE(ImageValidator::checkPages(record.pid, record.runs, dataLength, header.pageSize, limits));
    if (frame.rawLength != dec.offset() + dataLength) {
        return fail(std::format("raw length {} in the frame does not match {} field bytes plus {} data bytes", frame.rawLength, dec.offset(), dataLength));
    }
    // cross-record checks first: nothing is allocated for pages that do not belong
    CRYOPOD_PROPAGATE(validator->acceptPages(record.pid, record.runs));
    fieldBytes = dec.offset();
    return dataLength;
}

Result<Section> ImageReader::Private::decodePages(std::span<const uint8_t> bytes, const SectionFrame &frame)
{
    PagesRecord record;
    uint64_t fieldBytes = 0;
    auto dataLength = decodePagesFields(bytes, frame, record, fieldBytes);
    if (!dataLength) {
        return std::unexpected(dataLength.error());
    }
    auto data = inflate(bytes.subspan(fieldBytes), *dataLength, frame.flags & kSectionZstd);
    if (!data) {
        return std::unexpected(data.error());
    }
    record.data = std::move(*data);
    return Section(std::move(record));
}

Result<Section> ImageReader::Private::decodeFileData(std::span<const uint8_t> bytes, const SectionFrame &frame)
{
    Decoder dec(bytes, limits.maxStringBytes, limits.maxVectorItems);
    FileDataRecord record;
    const uint64_t dataLength = RecordCodec::decodeFileDataFields(dec, record);
    if (dec.failed()) {
        return fail(*dec.error());
    }
    CRYOPOD_PROPAGATE(ImageValidator::checkFileData(record.pid, record.fd, dataLength, limits));
    if (frame.rawLength != dec.offset() + dataLength) {
        return fail(std::format("raw length {} in the frame does not match {} field bytes plus {} data bytes", frame.rawLength, dec.offset(), dataLength));
    }
    CRYOPOD_PROPAGATE(validator->acceptFileData(record.pid, record.fd));
    auto data = inflate(dec.rest(), dataLength, frame.flags & kSectionZstd);
    if (!data) {
        return std::unexpected(data.error());
    }
    record.data = std::move(*data);
    return Section(std::move(record));
}

std::optional<ImageReader::Item> ImageReader::Private::deferPages(const SectionFrame &frame, const uint8_t *head, uint64_t index, uint64_t start)
{
    const uint64_t payloadAt = startOffset + bytesRead;
    const uint64_t end = payloadAt + frame.payloadLength + kChecksumBytes;
    if ((frame.flags & ~kSectionKnownFlags) != 0 || end > fileSize || end < payloadAt) {
        return std::nullopt;
    }
    StoredPages kept;
    {
        std::lock_guard lock(recycledMutex);
        if (!recycled.empty()) {
            kept = std::move(recycled.back());
            recycled.pop_back();
        }
    }
    const uint64_t peek = std::min(frame.payloadLength, kDeferredPeekBytes);
    if (kept.m_capacity < peek) {
        kept.m_bytes.reset(new uint8_t[kDeferredPeekBytes]);
        kept.m_capacity = kDeferredPeekBytes;
    }
    uint8_t sum[kChecksumBytes];
    if (preadFull(fd, kept.m_bytes.get(), peek, payloadAt) != peek || preadFull(fd, sum, sizeof sum, payloadAt + frame.payloadLength) != sizeof sum) {
        return std::nullopt;
    }
    PagesRecord record;
    uint64_t fieldBytes = 0;
    auto dataLength = decodePagesFields(std::span<const uint8_t>(kept.m_bytes.get(), peek), frame, record, fieldBytes);
    if (!dataLength || frame.payloadLength - fieldBytes != *dataLength) {
        return std::nullopt; // fields beyond the peek, or something wrong: the ordinary way says what
    }
    if (::lseek(fd, off_t(end), SEEK_SET) != off_t(end)) {
        return std::nullopt;
    }
    auto deferred = std::make_shared<StoredPages::Deferred>();
    deferred->fd = fd;
    deferred->fileOffset = payloadAt + peek;
    deferred->remaining = frame.payloadLength - peek;
    XXH3_64bits_reset(&deferred->state);
    XXH3_64bits_update(&deferred->state, head, kFrameHeaderBytes);
    XXH3_64bits_update(&deferred->state, kept.m_bytes.get(), peek);
    deferred->expected = loadU64(sum);
    bytesRead += frame.payloadLength + kChecksumBytes;
    kept.pid = record.pid;
    kept.runs = std::move(record.runs);
    kept.dataLength = *dataLength;
    kept.flags = frame.flags;
    kept.index = index;
    kept.offset = start;
    kept.m_storedOffset = fieldBytes;
    kept.m_storedSize = peek - fieldBytes;
    kept.m_deferred = std::move(deferred);
    ++sections;
    rawBytes += frame.rawLength;
    pages += *dataLength / header.pageSize;
    return Item(std::move(kept));
}

Result<ImageReader::Item> ImageReader::Private::readSection(bool keepPagesStored)
{
    const uint64_t index = sections;
    const uint64_t start = bytesRead;
    uint8_t head[kFrameHeaderBytes];
    auto got = readFull(fd, head, sizeof head);
    if (!got) {
        return std::unexpected(got.error().context(std::format("section #{} at byte {}", index, start)));
    }
    bytesRead += *got;
    if (*got == 0) {
        return fail(std::format("image truncated at byte {} in section #{}: the stream ended before the End record", bytesRead, index));
    }
    if (*got < sizeof head) {
        const std::string type = *got >= 4 ? std::format(" ({})", describeSectionType(loadU32(head))) : std::string();
        return fail(std::format("image truncated at byte {} in section #{}{}: the stream ended inside the frame header ({} of {} bytes)", bytesRead, index,
                                type, *got, sizeof head));
    }
    const SectionFrame frame = SectionFrame::load(head);
    const std::string where = std::format("section #{} ({})", index, describeSectionType(frame.type));
    const std::string at = std::format("{} at byte {}", where, start);
    const bool bulk = frame.type == uint32_t(SectionType::Pages) || frame.type == uint32_t(SectionType::FileData);
    const uint64_t limit = bulk ? bulkSectionBound(limits.maxSectionBytes) : limits.maxSectionBytes;
    if (frame.payloadLength > limit) {
        return fail(std::format("{}: payload length {} exceeds the limit of {} bytes", at, frame.payloadLength, limit));
    }
    if (frame.rawLength > limit) {
        return fail(std::format("{}: raw length {} exceeds the limit of {} bytes", at, frame.rawLength, limit));
    }
    // A Pages section kept stored goes into a buffer of its own (a recycled
    // one when there is one), every other section into the reader's.
    const bool storePages = keepPagesStored && frame.type == uint32_t(SectionType::Pages);
    if (storePages && positional && !(frame.flags & kSectionZstd)) {
        if (auto deferred = deferPages(frame, head, index, start)) {
            return std::move(*deferred);
        }
    }
    StoredPages kept;
    if (storePages) {
        std::lock_guard lock(recycledMutex);
        if (!recycled.empty()) {
            kept = std::move(recycled.back());
            recycled.pop_back();
        }
    }
    PayloadBuffer buffer = storePages ? PayloadBuffer{kept.m_bytes, kept.m_capacity} : PayloadBuffer{payload, payloadCapacity};
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, head, sizeof head);
    CRYOPOD_PROPAGATE(readPayload(buffer, frame.payloadLength, where, state));
    uint8_t sumBytes[kChecksumBytes];
    CRYOPOD_PROPAGATE(readExact(sumBytes, sizeof sumBytes, where, "checksum"));
    const uint64_t computed = XXH3_64bits_digest(&state);
    const uint64_t stored = loadU64(sumBytes);
    if (computed != stored) {
        return fail(std::format("{}: checksum mismatch (stored {}, computed {}): the section is corrupted", at, hex(stored), hex(computed)));
    }
    if (sectionTypeName(frame.type) == nullptr) {
        return fail(std::format("{}: unknown section type {:#x} (this reader knows format version {})", at, frame.type, kFormatVersion));
    }
    if ((frame.flags & ~kSectionKnownFlags) != 0 || ((frame.flags & kSectionZstd) && !bulk)) {
        return fail(std::format("{}: unknown or misplaced section flags {:#x}", at, frame.flags));
    }
    if (!bulk && frame.rawLength != frame.payloadLength) {
        return fail(std::format("{}: raw length {} differs from payload length {} in an uncompressed section", at, frame.rawLength, frame.payloadLength));
    }

    const std::span<const uint8_t> bytes(buffer.bytes.get(), frame.payloadLength);
    if (storePages) {
        PagesRecord record;
        uint64_t fieldBytes = 0;
        auto dataLength = decodePagesFields(bytes, frame, record, fieldBytes);
        if (!dataLength) {
            return std::unexpected(dataLength.error().context(at));
        }
        if (!(frame.flags & kSectionZstd) && frame.payloadLength - fieldBytes != *dataLength) {
            return fail(std::format("{}: {} bytes of stored data, the fields say {}", at, frame.payloadLength - fieldBytes, *dataLength));
        }
        kept.pid = record.pid;
        kept.runs = std::move(record.runs);
        kept.dataLength = *dataLength;
        kept.flags = frame.flags;
        kept.index = index;
        kept.offset = start;
        kept.m_storedOffset = fieldBytes;
        kept.m_storedSize = frame.payloadLength - fieldBytes;
        ++sections;
        rawBytes += frame.rawLength;
        pages += *dataLength / header.pageSize;
        return Item(std::move(kept));
    }
    Result<Section> section = fail("unreachable");
    switch (SectionType(frame.type)) {
    case SectionType::ProcessTree:
        section = decodeFields<ProcessTreeRecord>(bytes);
        break;
    case SectionType::Task:
        section = decodeFields<TaskRecord>(bytes);
        break;
    case SectionType::Thread:
        section = decodeFields<ThreadRecord>(bytes);
        break;
    case SectionType::Creds:
        section = decodeFields<CredsRecord>(bytes);
        break;
    case SectionType::Signals:
        section = decodeFields<SignalsRecord>(bytes);
        break;
    case SectionType::Mm:
        section = decodeFields<MmRecord>(bytes);
        break;
    case SectionType::Files:
        section = decodeFields<FilesRecord>(bytes);
        break;
    case SectionType::FileObject:
        section = decodeFields<FileObjectRecord>(bytes);
        break;
    case SectionType::Timers:
        section = decodeFields<TimersRecord>(bytes);
        break;
    case SectionType::Terminal:
        section = decodeFields<TerminalRecord>(bytes);
        break;
    case SectionType::SharedMemory:
        section = decodeFields<SharedMemoryRecord>(bytes);
        break;
    case SectionType::SysvIpc:
        section = decodeFields<SysvIpcRecord>(bytes);
        break;
    case SectionType::End:
        section = decodeFields<EndRecord>(bytes);
        break;
    case SectionType::Pages:
        section = decodePages(bytes, frame);
        break;
    case SectionType::FileData:
        section = decodeFileData(bytes, frame);
        break;
    }
    if (!section) {
        return std::unexpected(section.error().context(at));
    }
    if (!std::holds_alternative<PagesRecord>(*section) && !std::holds_alternative<FileDataRecord>(*section)) {
        if (auto ok = validator->accept(*section); !ok) {
            return std::unexpected(ok.error().context(at));
        }
    }
    if (const auto *end = std::get_if<EndRecord>(&*section)) {
        if (end->sections != sections || end->pagesStored != pages || end->rawBytes != rawBytes) {
            return fail(std::format("{}: the End record counts {} sections, {} pages, {} raw bytes; the image has {} sections, {} pages, {} raw bytes", at,
                                    end->sections, end->pagesStored, end->rawBytes, sections, pages, rawBytes));
        }
        ended = true;
        return Item(std::move(*section));
    }
    ++sections;
    rawBytes += frame.rawLength;
    if (const auto *pagesRecord = std::get_if<PagesRecord>(&*section)) {
        pages += pagesRecord->data.size() / header.pageSize;
    }
    return Item(std::move(*section));
}

} // namespace cryopod::image
