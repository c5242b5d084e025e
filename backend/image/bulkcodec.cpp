// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "bulkcodec.h"

#include "checksum.h"
#include "decoder.h"
#include "encoder.h"
#include "imagevalidator.h"
#include "recordcodec.h"
#include "sectionframe.h"

#include <cstring>
#include <format>
#include <unistd.h>
#include <vector>
#include <zstd.h>

namespace cryopod::image
{

namespace
{
struct CCtxDeleter {
    void operator()(ZSTD_CCtx *c) const
    {
        ZSTD_freeCCtx(c);
    }
};
struct DCtxDeleter {
    void operator()(ZSTD_DCtx *c) const
    {
        ZSTD_freeDCtx(c);
    }
};
} // namespace

BulkEncoding bulkEncodingOf(const WriterOptions &options)
{
    // ImageWriter's resolveWorkers(): > 0 as asked, < 0 none, 0 one per CPU when there are several.
    bool threaded = options.workers > 0;
    if (options.workers == 0) {
        threaded = sysconf(_SC_NPROCESSORS_ONLN) > 1;
    }
    return BulkEncoding {options.compressionLevel, threaded};
}

std::string bulkCodecVersion()
{
    return std::string("zstd ") + ZSTD_versionString();
}

unsigned bulkCodecVersionNumber()
{
    return ZSTD_versionNumber();
}

struct BulkCodec::Private {
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx;
    std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx;
    BulkEncoding configured;
    int configuredWorkers = -1;
    std::unique_ptr<uint8_t[]> out;
    size_t outCapacity = 0;
};

BulkCodec::BulkCodec()
    : d(std::make_unique<Private>())
{
}

BulkCodec::~BulkCodec() = default;

Result<void> BulkCodec::decode(const RawSection &section, std::span<uint8_t> out)
{
    if (out.size() != section.dataLength) {
        return fail(std::format("decode section #{}: a buffer of {} bytes for {} bytes of data", section.index, out.size(), section.dataLength));
    }
    return decode(section.frame.flags, section.stored(), out);
}

Result<void> BulkCodec::decode(uint32_t flags, std::span<const uint8_t> stored, std::span<uint8_t> out)
{
    if (!(flags & kSectionZstd)) {
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
    if (!d->dctx) {
        d->dctx.reset(ZSTD_createDCtx());
        if (!d->dctx) {
            return fail("create zstd decompression context", ENOMEM);
        }
        ZSTD_DCtx_setParameter(d->dctx.get(), ZSTD_d_windowLogMax, 27);
    }
    const size_t n = ZSTD_decompressDCtx(d->dctx.get(), out.data(), out.size(), stored.data(), stored.size());
    if (ZSTD_isError(n)) {
        return fail(std::format("zstd decompression failed: {}", ZSTD_getErrorName(n)));
    }
    if (n != out.size()) {
        return fail(std::format("zstd decompression produced {} bytes, expected {}", n, out.size()));
    }
    return {};
}

Result<std::span<const uint8_t>> BulkCodec::encode(const BulkEncoding &encoding, std::span<const uint8_t> raw, int workers)
{
    const int nbWorkers = encoding.threaded ? std::max(workers, 1) : 0;
    if (!d->cctx || d->configured != encoding || d->configuredWorkers != nbWorkers) {
        d->cctx.reset(ZSTD_createCCtx());
        if (!d->cctx) {
            return fail("create zstd compression context", ENOMEM);
        }
        // The same parameters as ImageWriter::Private::compressor().
        size_t rc = ZSTD_CCtx_setParameter(d->cctx.get(), ZSTD_c_compressionLevel, encoding.level);
        if (!ZSTD_isError(rc)) {
            rc = ZSTD_CCtx_setParameter(d->cctx.get(), ZSTD_c_checksumFlag, 0);
        }
        if (!ZSTD_isError(rc) && nbWorkers > 0) {
            rc = ZSTD_CCtx_setParameter(d->cctx.get(), ZSTD_c_nbWorkers, nbWorkers);
        }
        if (ZSTD_isError(rc)) {
            d->cctx.reset();
            return fail(std::format("configure zstd (level {}, {}): {}", encoding.level, encoding.threaded ? "threaded" : "single-threaded", ZSTD_getErrorName(rc)));
        }
        d->configured = encoding;
        d->configuredWorkers = nbWorkers;
    }
    const size_t bound = ZSTD_compressBound(raw.size());
    if (bound > d->outCapacity) {
        d->out.reset(new uint8_t[bound]);
        d->outCapacity = bound;
    }
    const size_t n = ZSTD_compress2(d->cctx.get(), d->out.get(), bound, raw.data(), raw.size());
    if (ZSTD_isError(n)) {
        return fail(std::format("zstd compression: {}", ZSTD_getErrorName(n)));
    }
    return std::span<const uint8_t>(d->out.get(), n);
}

void SectionBytes::storeFrameHeader(uint8_t *out, const SectionFrame &frame)
{
    frame.store(out);
}

uint64_t SectionBytes::checksum(std::span<const uint8_t> frameHeader, std::span<const uint8_t> payload1, std::span<const uint8_t> payload2)
{
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, frameHeader.data(), frameHeader.size());
    XXH3_64bits_update(&state, payload1.data(), payload1.size());
    XXH3_64bits_update(&state, payload2.data(), payload2.size());
    return XXH3_64bits_digest(&state);
}

Result<SectionFrame> SectionBytes::verify(std::span<const uint8_t> bytes)
{
    if (bytes.size() < kFrameHeaderBytes + kChecksumBytes) {
        return fail(std::format("a section of {} bytes is shorter than its frame", bytes.size()));
    }
    const SectionFrame frame = SectionFrame::load(bytes.data());
    if (frame.payloadLength != bytes.size() - kFrameHeaderBytes - kChecksumBytes) {
        return fail(std::format("section ({}): the frame says {} payload bytes, {} are there",
                                describeSectionType(frame.type),
                                frame.payloadLength,
                                bytes.size() - kFrameHeaderBytes - kChecksumBytes));
    }
    const size_t covered = kFrameHeaderBytes + frame.payloadLength;
    const uint64_t stored = loadU64(bytes.data() + covered);
    const uint64_t computed = XXH3_64bits(bytes.data(), covered);
    if (stored != computed) {
        return fail(std::format("section ({}): checksum mismatch (stored {:#018x}, computed {:#018x})", describeSectionType(frame.type), stored, computed));
    }
    return frame;
}

namespace
{
template<typename Record>
Result<Section> decodeRecord(std::span<const uint8_t> payload, const Header &header, const ReaderLimits &limits)
{
    Decoder dec(payload, limits.maxStringBytes, limits.maxVectorItems);
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
} // namespace

Result<Section> SectionBytes::decode(std::span<const uint8_t> bytes, const Header &header, const ReaderLimits &limits)
{
    auto frame = verify(bytes);
    if (!frame) {
        return std::unexpected(frame.error());
    }
    const std::span<const uint8_t> payload = bytes.subspan(kFrameHeaderBytes, frame->payloadLength);
    const std::string what = describeSectionType(frame->type);
    Result<Section> section = fail("unreachable");
    switch (SectionType(frame->type)) {
    case SectionType::ProcessTree:
        section = decodeRecord<ProcessTreeRecord>(payload, header, limits);
        break;
    case SectionType::Task:
        section = decodeRecord<TaskRecord>(payload, header, limits);
        break;
    case SectionType::Thread:
        section = decodeRecord<ThreadRecord>(payload, header, limits);
        break;
    case SectionType::Creds:
        section = decodeRecord<CredsRecord>(payload, header, limits);
        break;
    case SectionType::Signals:
        section = decodeRecord<SignalsRecord>(payload, header, limits);
        break;
    case SectionType::Mm:
        section = decodeRecord<MmRecord>(payload, header, limits);
        break;
    case SectionType::Files:
        section = decodeRecord<FilesRecord>(payload, header, limits);
        break;
    case SectionType::FileObject:
        section = decodeRecord<FileObjectRecord>(payload, header, limits);
        break;
    case SectionType::Timers:
        section = decodeRecord<TimersRecord>(payload, header, limits);
        break;
    case SectionType::Terminal:
        section = decodeRecord<TerminalRecord>(payload, header, limits);
        break;
    case SectionType::SharedMemory:
        section = decodeRecord<SharedMemoryRecord>(payload, header, limits);
        break;
    case SectionType::SysvIpc:
        section = decodeRecord<SysvIpcRecord>(payload, header, limits);
        break;
    case SectionType::End:
        section = decodeRecord<EndRecord>(payload, header, limits);
        break;
    case SectionType::Pages:
    case SectionType::FileData:
        return fail(std::format("section ({}): has bulk data; decode its fields with decodePagesFields()", what));
    default:
        return fail(std::format("section ({}): unknown section type", what));
    }
    if (!section) {
        return std::unexpected(section.error().context("section (" + what + ")"));
    }
    return section;
}

Result<uint64_t> SectionBytes::decodePagesFields(std::span<const uint8_t> fields, PagesRecord &record, const ReaderLimits &limits)
{
    Decoder dec(fields, limits.maxStringBytes, limits.maxVectorItems);
    const uint64_t dataLength = RecordCodec::decodePagesFields(dec, record);
    if (!dec.failed() && !dec.atEnd()) {
        dec.setError(std::format("{} unexpected bytes after the fields", dec.remaining()));
    }
    if (dec.failed()) {
        return fail("Pages fields: " + *dec.error());
    }
    return dataLength;
}

Result<BulkParts> SectionBytes::splitBulk(std::span<const uint8_t> bytes, const Header &header, const ReaderLimits &limits)
{
    auto frame = verify(bytes);
    if (!frame) {
        return std::unexpected(frame.error());
    }
    BulkParts parts;
    parts.frame = *frame;
    const std::span<const uint8_t> payload = bytes.subspan(kFrameHeaderBytes, frame->payloadLength);
    Decoder dec(payload, limits.maxStringBytes, limits.maxVectorItems);
    if (frame->type == uint32_t(SectionType::Pages)) {
        parts.dataLength = RecordCodec::decodePagesFields(dec, parts.pages);
        if (!dec.failed()) {
            CRYOPOD_PROPAGATE(ImageValidator::checkPages(parts.pages.pid, parts.pages.runs, parts.dataLength, header.pageSize, limits));
        }
    } else if (frame->type == uint32_t(SectionType::FileData)) {
        parts.dataLength = RecordCodec::decodeFileDataFields(dec, parts.fileData);
        if (!dec.failed()) {
            CRYOPOD_PROPAGATE(ImageValidator::checkFileData(parts.fileData.pid, parts.fileData.fd, parts.dataLength, limits));
        }
    } else {
        return fail(std::format("section ({}) has no bulk data", describeSectionType(frame->type)));
    }
    if (dec.failed()) {
        return fail(std::format("section ({}): {}", describeSectionType(frame->type), *dec.error()));
    }
    parts.fields = payload.first(dec.offset());
    parts.stored = payload.subspan(dec.offset());
    if (frame->rawLength != parts.fields.size() + parts.dataLength) {
        return fail(std::format("section ({}): raw length {} does not match {} field bytes plus {} data bytes",
                                describeSectionType(frame->type),
                                frame->rawLength,
                                parts.fields.size(),
                                parts.dataLength));
    }
    return parts;
}

Result<Header> SectionBytes::decodeHeader(std::span<const uint8_t> bytes)
{
    if (bytes.size() < kHeaderPrefixBytes + kChecksumBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
        return fail("not a Cryopod image header");
    }
    const uint32_t version = loadU32(bytes.data() + 8);
    if (version < kOldestReadableFormatVersion || version > kFormatVersion) {
        return fail(std::format("image format version {} is not supported (this reader knows versions {} to {})", version, kOldestReadableFormatVersion,
                                kFormatVersion));
    }
    const uint32_t fieldBytes = loadU32(bytes.data() + 12);
    if (bytes.size() != kHeaderPrefixBytes + fieldBytes + kChecksumBytes) {
        return fail(std::format("image header: {} bytes, its field block length says {}", bytes.size(), kHeaderPrefixBytes + fieldBytes + kChecksumBytes));
    }
    const size_t covered = kHeaderPrefixBytes + fieldBytes;
    if (loadU64(bytes.data() + covered) != XXH3_64bits(bytes.data(), covered)) {
        return fail("image header: checksum mismatch");
    }
    Decoder dec(bytes.subspan(kHeaderPrefixBytes, fieldBytes), 4096, 1 << 24);
    Header header;
    RecordCodec::decode(dec, header);
    if (!dec.failed() && !dec.atEnd()) {
        dec.setError(std::format("{} unexpected bytes after the fields", dec.remaining()));
    }
    if (dec.failed()) {
        return fail("image header: " + *dec.error());
    }
    header.formatVersion = version;
    if (auto ok = ImageValidator::check(header); !ok) {
        return std::unexpected(ok.error().context("image header"));
    }
    return header;
}

} // namespace cryopod::image
