// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imagewriter.h"

#include "checksum.h"
#include "cputime.h"
#include "encoder.h"
#include "fdio.h"
#include "imagevalidator.h"
#include "recordcodec.h"
#include "sectionframe.h"

#include <algorithm>
#include <cstring>
#include <format>
#include <optional>
#include <unistd.h>
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

struct HashStateDeleter {
    void operator()(XXH3_state_t *s) const
    {
        XXH3_freeState(s);
    }
};

// A growable byte buffer that is not zero-filled (the compressed output of a
// section is written over it at once).
class ByteBuffer
{
public:
    uint8_t *reserve(size_t size)
    {
        if (size > m_capacity) {
            m_data.reset(new uint8_t[size]);
            m_capacity = size;
        }
        return m_data.get();
    }

private:
    std::unique_ptr<uint8_t[]> m_data;
    size_t m_capacity = 0;
};

int resolveWorkers(int requested)
{
    if (requested > 0) {
        return requested;
    }
    if (requested < 0) {
        return 0;
    }
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 1 ? int(cpus) : 0;
}
} // namespace

struct ImageWriter::Private {
    int fd = -1;
    Header header;
    WriterOptions options;
    ReaderLimits limits; // what the reader accepts by default: the writer stays inside it
    std::unique_ptr<ImageValidator> validator;
    std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx;
    std::unique_ptr<XXH3_state_t, HashStateDeleter> hash; // checksum of a section written in pieces
    std::vector<uint8_t> small; // frame of a field-only section
    ByteBuffer bulk; // frame of a Pages / FileData section
    uint64_t bytesWritten = 0;
    uint64_t rawBytes = 0;
    uint64_t sections = 0;
    uint64_t pagesStored = 0;
    WriterTimes times;
    bool finished = false;
    std::optional<Error> failure;

    Result<void> usable(const char *what)
    {
        if (failure) {
            return fail(std::format("write {}: the writer failed earlier ({})", what, failure->describe()));
        }
        if (finished) {
            return fail(std::format("write {}: the image is already finished", what));
        }
        return {};
    }

    Sigpipe sigpipe() const
    {
        return options.sigpipeBlocked ? Sigpipe::Blocked : Sigpipe::Guard;
    }

    Result<void> emit(const uint8_t *data, size_t size)
    {
        auto r = writeAll(fd, data, size, sigpipe());
        if (!r) {
            failure = r.error();
            return r;
        }
        bytesWritten += size;
        return {};
    }

    // Writes a section whose payload is the field block `encode` produces.
    template<typename Record>
    Result<void> writeFields(SectionType type, const Record &record)
    {
        small.clear();
        small.resize(kFrameHeaderBytes);
        Encoder e(small);
        RecordCodec::encode(e, record);
        const uint64_t payload = small.size() - kFrameHeaderBytes;
        if (payload > limits.maxSectionBytes) {
            return fail(std::format("write {}: the record takes {} bytes, more than the section limit of {}", sectionTypeName(uint32_t(type)), payload,
                                    limits.maxSectionBytes));
        }
        SectionFrame {uint32_t(type), 0, payload, payload}.store(small.data());
        const uint64_t sum = XXH3_64bits(small.data(), small.size());
        e.u64(sum);
        CRYOPOD_PROPAGATE(emit(small.data(), small.size()));
        if (type != SectionType::End) {
            ++sections;
            rawBytes += payload;
        }
        return {};
    }

    Result<ZSTD_CCtx *> compressor()
    {
        if (cctx) {
            return cctx.get();
        }
        cctx.reset(ZSTD_createCCtx());
        if (!cctx) {
            return fail("create zstd compression context", ENOMEM);
        }
        size_t rc = ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, options.compressionLevel);
        if (!ZSTD_isError(rc)) {
            rc = ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 0); // the section checksum covers it
        }
        const int workers = resolveWorkers(options.workers);
        if (!ZSTD_isError(rc) && workers > 0) {
            // fails when libzstd was built without threads: then compress in this thread
            ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, workers);
        }
        if (ZSTD_isError(rc)) {
            cctx.reset();
            return fail(std::format("configure zstd (level {}): {}", options.compressionLevel, ZSTD_getErrorName(rc)));
        }
        return cctx.get();
    }

    // Writes a section of a field block followed by `data`: as one zstd
    // frame, or as it is when the options say not to compress.
    template<typename EncodeFields>
    Result<void> writeBulk(SectionType type, EncodeFields encodeFields, std::span<const uint8_t> data, std::optional<uint64_t> checksum = std::nullopt)
    {
        ZSTD_CCtx *c = nullptr;
        if (options.compress) {
            auto made = compressor();
            if (!made) {
                failure = made.error();
                return std::unexpected(made.error());
            }
            c = *made;
        }
        small.clear();
        Encoder e(small);
        encodeFields(e);
        const size_t fieldBytes = small.size();
        if (!c) {
            return writeUncompressed(type, fieldBytes, data, checksum);
        }
        const size_t bound = c ? ZSTD_compressBound(data.size()) : data.size();
        uint8_t *out = bulk.reserve(kFrameHeaderBytes + fieldBytes + bound + kChecksumBytes);
        std::memcpy(out + kFrameHeaderBytes, small.data(), fieldBytes);
        uint8_t *frame = out + kFrameHeaderBytes + fieldBytes;
        size_t frameBytes = data.size();
        if (c) {
            const uint64_t c0 = options.measureTimes ? threadCpuNs() : 0;
            frameBytes = ZSTD_compress2(c, frame, bound, data.data(), data.size());
            if (options.measureTimes) {
                times.compressCpuNs += threadCpuNs() - c0;
            }
            if (ZSTD_isError(frameBytes)) {
                failure = Error {0, std::format("zstd compression of a {} section: {}", sectionTypeName(uint32_t(type)), ZSTD_getErrorName(frameBytes))};
                return std::unexpected(*failure);
            }
        } else if (!data.empty()) {
            std::memcpy(frame, data.data(), data.size());
        }
        const uint64_t payload = fieldBytes + frameBytes;
        const uint64_t raw = fieldBytes + data.size();
        SectionFrame {uint32_t(type), c ? kSectionZstd : 0u, payload, raw}.store(out);
        const size_t total = kFrameHeaderBytes + payload;
        Encoder::putU64(out + total, XXH3_64bits(out, total));
        const uint64_t w0 = options.measureTimes ? threadCpuNs() : 0;
        // In pieces too: one write() of several MiB into a file costs the
        // kernel far more than the same bytes in pieces (docs/performance.md).
        const size_t step = options.pieceBytes == 0 ? total + kChecksumBytes : options.pieceBytes;
        for (size_t at = 0; at < total + kChecksumBytes; at += step) {
            CRYOPOD_PROPAGATE(emit(out + at, std::min(step, total + kChecksumBytes - at)));
        }
        if (options.measureTimes) {
            times.writeCpuNs += threadCpuNs() - w0;
        }
        ++sections;
        rawBytes += raw;
        return {};
    }

    // An uncompressed bulk section (what a snapshot into the store streams):
    // the data goes out from where it is, checksummed on the way, instead of
    // being copied behind the fields first. It goes in pieces of
    // options.pieceBytes, each written right after its checksum, while it is
    // still in the cache. The bytes are the same as writeBulk's.
    Result<void> writeUncompressed(SectionType type, size_t fieldBytes, std::span<const uint8_t> data, std::optional<uint64_t> checksum)
    {
        if (!hash && !checksum) {
            hash.reset(XXH3_createState());
            if (!hash) {
                return fail("create the section checksum state", ENOMEM);
            }
        }
        uint8_t *head = bulk.reserve(kFrameHeaderBytes + fieldBytes);
        std::memcpy(head + kFrameHeaderBytes, small.data(), fieldBytes);
        const uint64_t payload = fieldBytes + data.size();
        SectionFrame {uint32_t(type), 0u, payload, payload}.store(head);
        if (!checksum) {
            XXH3_64bits_reset(hash.get());
            XXH3_64bits_update(hash.get(), head, kFrameHeaderBytes + fieldBytes);
        }
        const size_t step = options.pieceBytes == 0 ? data.size() : options.pieceBytes;
        uint8_t sum[kChecksumBytes];
        size_t at = 0;
        do {
            const size_t n = std::min(step, data.size() - at);
            const bool last = at + n == data.size();
            const uint64_t c0 = options.measureTimes ? threadCpuNs() : 0;
            if (!checksum) {
                XXH3_64bits_update(hash.get(), data.data() + at, n);
            }
            if (last) {
                Encoder::putU64(sum, checksum ? *checksum : XXH3_64bits_digest(hash.get()));
            }
            const uint64_t c1 = options.measureTimes ? threadCpuNs() : 0;
            // the head before the first piece, the checksum after the last
            const iovec pieces[] = {{head, at == 0 ? kFrameHeaderBytes + fieldBytes : 0},
                                    {const_cast<uint8_t *>(data.data()) + at, n},
                                    {sum, last ? kChecksumBytes : 0}};
            if (auto r = writeAllV(fd, pieces, sigpipe()); !r) {
                failure = r.error();
                return r;
            }
            if (options.measureTimes) {
                times.checksumCpuNs += c1 - c0;
                times.writeCpuNs += threadCpuNs() - c1;
            }
            at += n;
        } while (at < data.size());
        bytesWritten += kFrameHeaderBytes + payload + kChecksumBytes;
        ++sections;
        rawBytes += payload;
        return {};
    }

    template<typename Record>
    Result<void> writeChecked(SectionType type, const Record &record, Result<void> checked)
    {
        const char *name = sectionTypeName(uint32_t(type));
        CRYOPOD_PROPAGATE(usable(name));
        if (!checked) {
            return std::unexpected(checked.error().context(std::format("write {}", name)));
        }
        if (auto ok = validator->accept(Section(record)); !ok) {
            return std::unexpected(ok.error().context(std::format("write {}", name)));
        }
        return writeFields(type, record);
    }
};

ImageWriter::ImageWriter()
    : d(std::make_unique<Private>())
{
}

ImageWriter::~ImageWriter() = default;

Result<std::unique_ptr<ImageWriter>> ImageWriter::create(int fd, const Header &header, const WriterOptions &options)
{
    if (header.formatVersion != kFormatVersion) {
        return fail(std::format("write header: this writer writes format version {}, not {}", kFormatVersion, header.formatVersion));
    }
    if (auto ok = ImageValidator::check(header); !ok) {
        return std::unexpected(ok.error().context("write header"));
    }
    std::unique_ptr<ImageWriter> w(new ImageWriter);
    Private &p = *w->d;
    p.fd = fd;
    p.header = header;
    p.options = options;
    p.limits.requireComplete = options.requireComplete;
    p.validator = std::make_unique<ImageValidator>(header, p.limits);

    std::vector<uint8_t> bytes(kHeaderPrefixBytes);
    std::memcpy(bytes.data(), kMagic, sizeof kMagic);
    Encoder::putU32(bytes.data() + 8, kFormatVersion);
    Encoder e(bytes);
    RecordCodec::encode(e, header);
    Encoder::putU32(bytes.data() + 12, uint32_t(bytes.size() - kHeaderPrefixBytes));
    e.u64(XXH3_64bits(bytes.data(), bytes.size()));
    if (auto ok = p.emit(bytes.data(), bytes.size()); !ok) {
        return std::unexpected(ok.error().context("write header"));
    }
    return w;
}

Result<void> ImageWriter::write(const ProcessTreeRecord &record)
{
    return d->writeChecked(SectionType::ProcessTree, record, ImageValidator::check(record, d->limits));
}

Result<void> ImageWriter::write(const TaskRecord &record)
{
    return d->writeChecked(SectionType::Task, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const ThreadRecord &record)
{
    return d->writeChecked(SectionType::Thread, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const CredsRecord &record)
{
    return d->writeChecked(SectionType::Creds, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const SignalsRecord &record)
{
    return d->writeChecked(SectionType::Signals, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const MmRecord &record)
{
    return d->writeChecked(SectionType::Mm, record, ImageValidator::check(record, d->header.pageSize, d->limits));
}

Result<void> ImageWriter::write(const FilesRecord &record)
{
    return d->writeChecked(SectionType::Files, record, ImageValidator::check(record, d->limits));
}

Result<void> ImageWriter::write(const FileObjectRecord &record)
{
    return d->writeChecked(SectionType::FileObject, record, ImageValidator::check(record, d->limits));
}

Result<void> ImageWriter::write(const SharedMemoryRecord &record)
{
    return d->writeChecked(SectionType::SharedMemory, record, ImageValidator::check(record, d->limits));
}

Result<void> ImageWriter::write(const SysvIpcRecord &record)
{
    return d->writeChecked(SectionType::SysvIpc, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const TimersRecord &record)
{
    return d->writeChecked(SectionType::Timers, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const TerminalRecord &record)
{
    return d->writeChecked(SectionType::Terminal, record, ImageValidator::check(record));
}

Result<void> ImageWriter::write(const FileDataRecord &record)
{
    CRYOPOD_PROPAGATE(d->usable("FileData"));
    if (auto ok = ImageValidator::checkFileData(record.pid, record.fd, record.data.size(), d->limits); !ok) {
        return std::unexpected(ok.error().context("write FileData"));
    }
    if (auto ok = d->validator->acceptFileData(record.pid, record.fd); !ok) {
        return std::unexpected(ok.error().context("write FileData"));
    }
    return d->writeBulk(
        SectionType::FileData, [&](Encoder &e) { RecordCodec::encodeFileDataFields(e, record.pid, record.fd, record.data.size()); }, record.data);
}

Result<void> ImageWriter::write(const PagesRecord &record)
{
    return writePages(record.pid, record.runs, record.data);
}

Result<void> ImageWriter::writePages(int32_t pid, std::span<const PageRun> runs, std::span<const uint8_t> data, std::optional<uint64_t> checksum)
{
    CRYOPOD_PROPAGATE(d->usable("Pages"));
    if (auto ok = ImageValidator::checkPages(pid, runs, data.size(), d->header.pageSize, d->limits); !ok) {
        return std::unexpected(ok.error().context("write Pages"));
    }
    if (auto ok = d->validator->acceptPages(pid, runs); !ok) {
        return std::unexpected(ok.error().context("write Pages"));
    }
    CRYOPOD_PROPAGATE(d->writeBulk(
        SectionType::Pages, [&](Encoder &e) { RecordCodec::encodePagesFields(e, pid, runs, data.size()); }, data, checksum));
    d->pagesStored += data.size() / d->header.pageSize;
    return {};
}

uint64_t ImageWriter::uncompressedPagesChecksum(int32_t pid, std::span<const PageRun> runs, std::span<const uint8_t> data)
{
    // The frame and the field block as writeUncompressed() puts them in
    // front of the data.
    std::vector<uint8_t> head(kFrameHeaderBytes);
    Encoder e(head);
    RecordCodec::encodePagesFields(e, pid, runs, data.size());
    const uint64_t payload = head.size() - kFrameHeaderBytes + data.size();
    SectionFrame {uint32_t(SectionType::Pages), 0u, payload, payload}.store(head.data());
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, head.data(), head.size());
    XXH3_64bits_update(&state, data.data(), data.size());
    return XXH3_64bits_digest(&state);
}

Result<void> ImageWriter::finish()
{
    CRYOPOD_PROPAGATE(d->usable("End"));
    if (auto ok = d->validator->accept(Section(EndRecord {})); !ok) {
        return std::unexpected(ok.error().context("write End"));
    }
    const EndRecord end {d->sections, d->pagesStored, d->rawBytes};
    CRYOPOD_PROPAGATE(d->writeFields(SectionType::End, end));
    d->finished = true;
    return {};
}

uint64_t ImageWriter::bytesWritten() const
{
    return d->bytesWritten;
}

uint64_t ImageWriter::rawBytes() const
{
    return d->rawBytes;
}

bool ImageWriter::compresses() const
{
    return d->options.compress;
}

WriterTimes ImageWriter::times() const
{
    return d->times;
}

} // namespace cryopod::image
