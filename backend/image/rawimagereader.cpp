// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "rawimagereader.h"

#include "checksum.h"
#include "decoder.h"
#include "fdio.h"
#include "imagevalidator.h"
#include "recordcodec.h"

#include <algorithm>
#include <cstring>
#include <format>
#include <optional>
#include <vector>

namespace cryopod::image
{

namespace
{
// As ImageReader: zstd's worst-case expansion plus the run table.
uint64_t bulkSectionBound(uint64_t limit)
{
    return limit + limit / 128 + (1u << 20);
}

std::string hex(uint64_t v)
{
    return std::format("{:#018x}", v);
}
} // namespace

struct RawImageReader::Private {
    int fd = -1;
    ReaderLimits limits;
    Header header;
    std::vector<uint8_t> headerBytes;
    std::unique_ptr<ImageValidator> validator;
    std::unique_ptr<uint8_t[]> buffer; // the current section's frame, grown as bytes arrive
    size_t capacity = 0;
    RawSection current;
    uint64_t bytesRead = 0;
    uint64_t sections = 0;
    uint64_t pages = 0;
    uint64_t rawBytes = 0;
    bool ended = false;
    std::optional<Error> failure;

    // Makes room for `size` bytes keeping the first `keep`.
    void grow(size_t size, size_t keep)
    {
        if (size <= capacity) {
            return;
        }
        std::unique_ptr<uint8_t[]> bigger(new uint8_t[size]);
        if (keep > 0) {
            std::memcpy(bigger.get(), buffer.get(), keep);
        }
        buffer = std::move(bigger);
        capacity = size;
    }

    // Reads `n` bytes to buffer[at..], growing the buffer only as bytes arrive.
    Result<void> readInto(size_t at, uint64_t n, const std::string &where, const char *what)
    {
        uint64_t have = 0;
        while (have < n) {
            const uint64_t want = std::min<uint64_t>(n, std::max<uint64_t>(have * 2, 1u << 20));
            grow(at + want, at + have);
            auto got = readFull(fd, buffer.get() + at + have, want - have);
            if (!got) {
                return std::unexpected(got.error().context(std::format("{}, at byte {}", where, bytesRead)));
            }
            bytesRead += *got;
            have += *got;
            if (have < want) {
                return fail(std::format("image truncated at byte {} in {}: the stream ended inside the {} ({} of {} bytes)", bytesRead, where, what, have, n));
            }
        }
        return {};
    }

    Result<void> readSection();
    template<typename Record>
    Result<Section> decodeFields(std::span<const uint8_t> bytes);
    Result<Section> decodeBulk(std::span<const uint8_t> bytes);
};

RawImageReader::RawImageReader()
    : d(std::make_unique<Private>())
{
}

RawImageReader::~RawImageReader() = default;

Result<std::unique_ptr<RawImageReader>> RawImageReader::open(int fd, const ReaderLimits &limits)
{
    std::unique_ptr<RawImageReader> r(new RawImageReader);
    Private &p = *r->d;
    p.fd = fd;
    p.limits = limits;

    uint8_t prefix[kHeaderPrefixBytes];
    auto got = readFull(fd, prefix, sizeof prefix);
    if (!got) {
        return std::unexpected(got.error().context("read image header"));
    }
    p.bytesRead = *got;
    if (std::memcmp(prefix, kMagic, std::min<size_t>(*got, sizeof kMagic)) != 0 || *got == 0) {
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
    p.headerBytes.resize(sizeof prefix + fieldBytes + kChecksumBytes);
    std::memcpy(p.headerBytes.data(), prefix, sizeof prefix);
    auto rest = readFull(fd, p.headerBytes.data() + sizeof prefix, fieldBytes + kChecksumBytes);
    if (!rest) {
        return std::unexpected(rest.error().context("read image header"));
    }
    p.bytesRead += *rest;
    if (*rest < fieldBytes + kChecksumBytes) {
        return fail(std::format("image truncated at byte {} in the header", p.bytesRead));
    }
    const size_t covered = sizeof prefix + fieldBytes;
    const uint64_t stored = loadU64(p.headerBytes.data() + covered);
    const uint64_t computed = XXH3_64bits(p.headerBytes.data(), covered);
    if (stored != computed) {
        return fail(std::format("image header: checksum mismatch (stored {}, computed {})", hex(stored), hex(computed)));
    }
    Decoder dec(std::span<const uint8_t>(p.headerBytes.data() + sizeof prefix, fieldBytes),
                std::min<uint64_t>(limits.maxStringBytes, 4096),
                limits.maxVectorItems);
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
    return r;
}

const Header &RawImageReader::header() const
{
    return d->header;
}

std::span<const uint8_t> RawImageReader::headerBytes() const
{
    return d->headerBytes;
}

bool RawImageReader::ended() const
{
    return d->ended;
}

uint64_t RawImageReader::bytesRead() const
{
    return d->bytesRead;
}

Result<const RawSection *> RawImageReader::next()
{
    if (d->failure) {
        return std::unexpected(*d->failure);
    }
    if (d->ended) {
        return fail("read past the End record of the image");
    }
    if (auto ok = d->readSection(); !ok) {
        d->failure = ok.error();
        return std::unexpected(ok.error());
    }
    return &d->current;
}

template<typename Record>
Result<Section> RawImageReader::Private::decodeFields(std::span<const uint8_t> bytes)
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

Result<Section> RawImageReader::Private::decodeBulk(std::span<const uint8_t> bytes)
{
    RawSection &s = current;
    Decoder dec(bytes, limits.maxStringBytes, limits.maxVectorItems);
    Section section;
    if (s.frame.type == uint32_t(SectionType::Pages)) {
        PagesRecord record;
        s.dataLength = RecordCodec::decodePagesFields(dec, record);
        if (dec.failed()) {
            return fail(*dec.error());
        }
        CRYOPOD_PROPAGATE(ImageValidator::checkPages(record.pid, record.runs, s.dataLength, header.pageSize, limits));
        CRYOPOD_PROPAGATE(validator->acceptPages(record.pid, record.runs));
        section = std::move(record);
    } else {
        FileDataRecord record;
        s.dataLength = RecordCodec::decodeFileDataFields(dec, record);
        if (dec.failed()) {
            return fail(*dec.error());
        }
        CRYOPOD_PROPAGATE(ImageValidator::checkFileData(record.pid, record.fd, s.dataLength, limits));
        CRYOPOD_PROPAGATE(validator->acceptFileData(record.pid, record.fd));
        section = std::move(record);
    }
    s.fieldBytes = dec.offset();
    if (s.frame.rawLength != s.fieldBytes + s.dataLength) {
        return fail(std::format("raw length {} in the frame does not match {} field bytes plus {} data bytes", s.frame.rawLength, s.fieldBytes, s.dataLength));
    }
    if (!(s.frame.flags & kSectionZstd) && dec.remaining() != s.dataLength) {
        return fail(std::format("{} bytes of stored data, the fields say {}", dec.remaining(), s.dataLength));
    }
    if ((s.frame.flags & kSectionZstd) && dec.remaining() == 0) {
        return fail("the section has no zstd frame");
    }
    return section;
}

Result<void> RawImageReader::Private::readSection()
{
    const uint64_t index = sections;
    const uint64_t start = bytesRead;
    grow(kFrameHeaderBytes, 0);
    auto got = readFull(fd, buffer.get(), kFrameHeaderBytes);
    if (!got) {
        return std::unexpected(got.error().context(std::format("section #{} at byte {}", index, start)));
    }
    bytesRead += *got;
    if (*got == 0) {
        return fail(std::format("image truncated at byte {} in section #{}: the stream ended before the End record", bytesRead, index));
    }
    if (*got < kFrameHeaderBytes) {
        const std::string type = *got >= 4 ? std::format(" ({})", describeSectionType(loadU32(buffer.get()))) : std::string();
        return fail(std::format("image truncated at byte {} in section #{}{}: the stream ended inside the frame header ({} of {} bytes)",
                                bytesRead,
                                index,
                                type,
                                *got,
                                kFrameHeaderBytes));
    }
    const SectionFrame frame = SectionFrame::load(buffer.get());
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
    CRYOPOD_PROPAGATE(readInto(kFrameHeaderBytes, frame.payloadLength, where, "payload"));
    CRYOPOD_PROPAGATE(readInto(kFrameHeaderBytes + frame.payloadLength, kChecksumBytes, where, "checksum"));

    const size_t covered = kFrameHeaderBytes + frame.payloadLength;
    const uint64_t computed = XXH3_64bits(buffer.get(), covered);
    const uint64_t stored = loadU64(buffer.get() + covered);
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

    current = RawSection {};
    current.index = index;
    current.offset = start;
    current.frame = frame;
    current.checksum = stored;
    current.bytes = std::span<const uint8_t>(buffer.get(), covered + kChecksumBytes);
    current.bulk = bulk;

    const std::span<const uint8_t> payload(buffer.get() + kFrameHeaderBytes, frame.payloadLength);
    Result<Section> section = fail("unreachable");
    switch (SectionType(frame.type)) {
    case SectionType::ProcessTree:
        section = decodeFields<ProcessTreeRecord>(payload);
        break;
    case SectionType::Task:
        section = decodeFields<TaskRecord>(payload);
        break;
    case SectionType::Thread:
        section = decodeFields<ThreadRecord>(payload);
        break;
    case SectionType::Creds:
        section = decodeFields<CredsRecord>(payload);
        break;
    case SectionType::Signals:
        section = decodeFields<SignalsRecord>(payload);
        break;
    case SectionType::Mm:
        section = decodeFields<MmRecord>(payload);
        break;
    case SectionType::Files:
        section = decodeFields<FilesRecord>(payload);
        break;
    case SectionType::FileObject:
        section = decodeFields<FileObjectRecord>(payload);
        break;
    case SectionType::Timers:
        section = decodeFields<TimersRecord>(payload);
        break;
    case SectionType::Terminal:
        section = decodeFields<TerminalRecord>(payload);
        break;
    case SectionType::SharedMemory:
        section = decodeFields<SharedMemoryRecord>(payload);
        break;
    case SectionType::SysvIpc:
        section = decodeFields<SysvIpcRecord>(payload);
        break;
    case SectionType::End:
        section = decodeFields<EndRecord>(payload);
        break;
    case SectionType::Pages:
    case SectionType::FileData:
        section = decodeBulk(payload);
        break;
    }
    if (!section) {
        return std::unexpected(section.error().context(at));
    }
    if (!bulk) {
        if (auto ok = validator->accept(*section); !ok) {
            return std::unexpected(ok.error().context(at));
        }
    }
    if (const auto *end = std::get_if<EndRecord>(&*section)) {
        if (end->sections != sections || end->pagesStored != pages || end->rawBytes != rawBytes) {
            return fail(std::format("{}: the End record counts {} sections, {} pages, {} raw bytes; the image has {} sections, {} pages, {} raw bytes",
                                    at,
                                    end->sections,
                                    end->pagesStored,
                                    end->rawBytes,
                                    sections,
                                    pages,
                                    rawBytes));
        }
        ended = true;
    } else {
        ++sections;
        rawBytes += frame.rawLength;
        if (frame.type == uint32_t(SectionType::Pages)) {
            pages += current.dataLength / header.pageSize;
        }
    }
    current.record = std::move(*section);
    return {};
}

} // namespace cryopod::image
