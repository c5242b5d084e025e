// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imagereader.h"

#include "decoder.h"
#include "fdio.h"
#include "imagevalidator.h"
#include "recordcodec.h"
#include "sectionframe.h"

#include <algorithm>
#include <cstring>
#include <format>
#include <optional>
#define XXH_STATIC_LINKING_ONLY // XXH3_state_t on the stack
#include <xxhash.h>
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
} // namespace

struct ImageReader::Private {
    int fd = -1;
    ReaderLimits limits;
    Header header;
    std::unique_ptr<ImageValidator> validator;
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx;
    std::unique_ptr<uint8_t[]> payload; // grows as payload bytes actually arrive
    size_t payloadCapacity = 0;
    uint64_t bytesRead = 0;
    uint64_t sections = 0;
    uint64_t pages = 0;
    uint64_t rawBytes = 0;
    bool ended = false;
    std::optional<Error> failure;

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
    // `payload`, growing the buffer only as the bytes arrive, so a hostile
    // length on a short stream allocates little.
    Result<void> readPayload(uint64_t n, const std::string &where)
    {
        uint64_t have = 0;
        while (have < n) {
            const uint64_t want = std::min<uint64_t>(n, std::max<uint64_t>(have * 2, 1u << 20));
            if (want > payloadCapacity) {
                std::unique_ptr<uint8_t[]> bigger(new uint8_t[want]);
                if (have > 0) {
                    std::memcpy(bigger.get(), payload.get(), have);
                }
                payload = std::move(bigger);
                payloadCapacity = want;
            }
            auto got = readFull(fd, payload.get() + have, want - have);
            if (!got) {
                return std::unexpected(got.error().context(std::format("{}, at byte {}", where, bytesRead)));
            }
            bytesRead += *got;
            have += *got;
            if (have < want) {
                return fail(std::format("image truncated at byte {} in {}: the stream ended inside the payload ({} of {} bytes)", bytesRead, where, have, n));
            }
        }
        return {};
    }

    Result<Section> readSection();
    template<typename Record>
    Result<Section> decodeFields(std::span<const uint8_t> bytes);
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
    auto section = d->readSection();
    if (!section) {
        d->failure = section.error();
    }
    return section;
}

template<typename Record>
Result<Section> ImageReader::Private::decodeFields(std::span<const uint8_t> bytes)
{
    Decoder dec(bytes, limits.maxStringBytes, limits.maxVectorItems);
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
    } else if constexpr (std::is_same_v<Record, ProcessTreeRecord> || std::is_same_v<Record, FilesRecord>) {
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
    if (!zstd) {
        if (stored.size() != dataLength) {
            return fail(std::format("{} bytes of stored data, the fields say {}", stored.size(), dataLength));
        }
        return std::vector<uint8_t>(stored.begin(), stored.end());
    }
    const unsigned long long contentSize = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (contentSize == ZSTD_CONTENTSIZE_ERROR) {
        return fail("the data is not a valid zstd frame");
    }
    if (contentSize == ZSTD_CONTENTSIZE_UNKNOWN) {
        return fail("the zstd frame does not record its size");
    }
    if (contentSize != dataLength) {
        return fail(std::format("the zstd frame holds {} bytes, the fields say {}", contentSize, dataLength));
    }
    const size_t frameSize = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
    if (ZSTD_isError(frameSize)) {
        return fail(std::format("the zstd frame is damaged: {}", ZSTD_getErrorName(frameSize)));
    }
    if (frameSize != stored.size()) {
        return fail(std::format("{} bytes after the zstd frame", stored.size() - frameSize));
    }
    std::vector<uint8_t> data(dataLength);
    const size_t n = ZSTD_decompressDCtx(dctx.get(), data.data(), data.size(), stored.data(), stored.size());
    if (ZSTD_isError(n)) {
        return fail(std::format("zstd decompression failed: {}", ZSTD_getErrorName(n)));
    }
    if (n != dataLength) {
        return fail(std::format("zstd decompression produced {} bytes, expected {}", n, dataLength));
    }
    return data;
}

Result<Section> ImageReader::Private::decodePages(std::span<const uint8_t> bytes, const SectionFrame &frame)
{
    Decoder dec(bytes, limits.maxStringBytes, limits.maxVectorItems);
    PagesRecord record;
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
    auto data = inflate(dec.rest(), dataLength, frame.flags & kSectionZstd);
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

Result<Section> ImageReader::Private::readSection()
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
    CRYOPOD_PROPAGATE(readPayload(frame.payloadLength, where));
    uint8_t sumBytes[kChecksumBytes];
    CRYOPOD_PROPAGATE(readExact(sumBytes, sizeof sumBytes, where, "checksum"));

    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, head, sizeof head);
    XXH3_64bits_update(&state, payload.get(), frame.payloadLength);
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

    const std::span<const uint8_t> bytes(payload.get(), frame.payloadLength);
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
        return section;
    }
    ++sections;
    rawBytes += frame.rawLength;
    if (const auto *pagesRecord = std::get_if<PagesRecord>(&*section)) {
        pages += pagesRecord->data.size() / header.pageSize;
    }
    return section;
}

} // namespace cryopod::image
