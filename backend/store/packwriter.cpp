// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "packwriter.h"

#include "checksum.h"
#include "packformat.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <format>
#include <sys/random.h>
#include <unistd.h>
#include <zstd.h>

namespace cryopod::store
{

namespace
{
void putU32(uint8_t *at, uint32_t v)
{
    for (int i = 0; i < 4; ++i) {
        at[i] = uint8_t(v >> (8 * i));
    }
}

void putU64(uint8_t *at, uint64_t v)
{
    for (int i = 0; i < 8; ++i) {
        at[i] = uint8_t(v >> (8 * i));
    }
}
} // namespace

struct BlobEncoder::ZstdContext {
    ZSTD_CCtx *cctx = nullptr;
    int level = 0;
    ~ZstdContext()
    {
        ZSTD_freeCCtx(cctx);
    }
};

Result<void> syncDirectory(const std::string &dir)
{
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return sysError("open directory " + dir + " to sync it");
    }
    const int rc = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    if (rc != 0) {
        errno = saved;
        return sysError("fsync directory " + dir);
    }
    return {};
}

Result<std::unique_ptr<PackWriter>> PackWriter::create(const std::string &packsDir)
{
    std::unique_ptr<PackWriter> w(new PackWriter);
    uint8_t id[16];
    while (getrandom(id, sizeof id, 0) != sizeof id) { }
    for (uint8_t b : id) {
        w->m_name += std::format("{:02x}", b);
    }
    w->m_name += ".pack";
    w->m_path = packsDir + "/" + w->m_name;
    w->m_fd = ::open(w->m_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->m_fd < 0) {
        return sysError("create pack " + w->m_path);
    }
    uint8_t header[kPackHeaderBytes] = {};
    std::memcpy(header, kPackMagic, sizeof kPackMagic);
    putU32(header + 8, kPackVersion);
    putU32(header + 12, 0);
    std::memcpy(header + 16, id, sizeof id);
    if (auto ok = w->write(header, sizeof header); !ok) {
        w->discard();
        return std::unexpected(ok.error());
    }
    return w;
}

PackWriter::~PackWriter()
{
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

Result<void> PackWriter::write(const void *data, size_t size)
{
    const auto *p = static_cast<const uint8_t *>(data);
    while (size > 0) {
        const ssize_t n = ::write(m_fd, p, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sysError("write pack " + m_path);
        }
        p += n;
        size -= size_t(n);
        m_size += uint64_t(n);
    }
    return {};
}

BlobEncoder::BlobEncoder() = default;
BlobEncoder::~BlobEncoder() = default;

Result<std::span<const uint8_t>> BlobEncoder::encode(std::span<const uint8_t> raw, int level)
{
    if (raw.size() > kMaxBlobRawBytes) {
        return fail(std::format("a blob of {} bytes is larger than {}", raw.size(), kMaxBlobRawBytes));
    }
    if (!m_zstd) {
        m_zstd = std::make_unique<ZstdContext>();
        m_zstd->cctx = ZSTD_createCCtx();
        if (!m_zstd->cctx) {
            m_zstd.reset();
            return fail("create zstd compression context", ENOMEM);
        }
        m_zstd->level = level + 1; // set below
    }
    if (m_zstd->level != level) {
        ZSTD_CCtx_setParameter(m_zstd->cctx, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(m_zstd->cctx, ZSTD_c_checksumFlag, 0);
        m_zstd->level = level;
    }
    const size_t bound = ZSTD_compressBound(raw.size());
    m_buffer.resize(kBlobHeaderBytes + std::max(bound, raw.size()));
    uint8_t *const stored = m_buffer.data() + kBlobHeaderBytes;
    size_t storedBytes = ZSTD_compress2(m_zstd->cctx, stored, bound, raw.data(), raw.size());
    uint8_t codec = kBlobZstd;
    if (ZSTD_isError(storedBytes) || storedBytes >= raw.size()) {
        // incompressible (random pages): keep it raw, which also reads faster
        codec = kBlobRaw;
        storedBytes = raw.size();
        std::memcpy(stored, raw.data(), raw.size());
    }
    uint8_t *const header = m_buffer.data();
    putU32(header, kBlobMagic);
    header[4] = codec;
    header[5] = header[6] = header[7] = 0;
    putU32(header + 8, uint32_t(raw.size()));
    putU32(header + 12, uint32_t(storedBytes));
    XXH3_state_t *state = XXH3_createState();
    XXH3_64bits_reset(state);
    XXH3_64bits_update(state, header, 16);
    XXH3_64bits_update(state, stored, storedBytes);
    putU64(header + 16, XXH3_64bits_digest(state));
    XXH3_freeState(state);
    return std::span<const uint8_t>(m_buffer.data(), kBlobHeaderBytes + storedBytes);
}

Result<PackWriter::BlobPlace> PackWriter::append(std::span<const uint8_t> raw, int level)
{
    if (m_fd < 0) {
        return fail("append to pack " + m_path + ": the pack is closed");
    }
    if (!m_encoder) {
        m_encoder = std::make_unique<BlobEncoder>();
    }
    auto blob = m_encoder->encode(raw, level);
    if (!blob) {
        return std::unexpected(blob.error().context("append to pack " + m_path));
    }
    return appendStored(*blob);
}

Result<PackWriter::BlobPlace> PackWriter::appendStored(std::span<const uint8_t> blob)
{
    if (m_fd < 0) {
        return fail("append to pack " + m_path + ": the pack is closed");
    }
    if (blob.size() < kBlobHeaderBytes) {
        return fail("append to pack " + m_path + ": not a blob");
    }
    const BlobPlace place {m_size, uint32_t(blob.size()), uint32_t(blob.size() - kBlobHeaderBytes)};
    CRYOPOD_PROPAGATE(write(blob.data(), blob.size()));
    m_rawBytes += uint64_t(blob[8]) | uint64_t(blob[9]) << 8 | uint64_t(blob[10]) << 16 | uint64_t(blob[11]) << 24;
    return place;
}

Result<void> PackWriter::finish()
{
    if (m_fd < 0) {
        return {};
    }
    if (::fsync(m_fd) != 0) {
        return sysError("fsync pack " + m_path);
    }
    const int rc = ::close(m_fd);
    m_fd = -1;
    if (rc != 0) {
        return sysError("close pack " + m_path);
    }
    return {};
}

void PackWriter::discard()
{
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    ::unlink(m_path.c_str());
}

} // namespace cryopod::store
