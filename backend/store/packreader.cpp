// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "packreader.h"

#include "checksum.h"
#include "packformat.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <format>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

namespace cryopod::store
{

namespace
{
uint32_t loadU32(const uint8_t *at)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) {
        v = (v << 8) | at[i];
    }
    return v;
}

uint64_t loadU64(const uint8_t *at)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
        v = (v << 8) | at[i];
    }
    return v;
}
} // namespace

struct PackReader::ZstdContext {
    ZSTD_DCtx *dctx = nullptr;
    ~ZstdContext()
    {
        ZSTD_freeDCtx(dctx);
    }
};

Result<std::unique_ptr<PackReader>> PackReader::open(const std::string &path)
{
    std::unique_ptr<PackReader> r(new PackReader);
    r->m_path = path;
    r->m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r->m_fd < 0) {
        return sysError("open pack " + path);
    }
    struct stat st {};
    if (::fstat(r->m_fd, &st) != 0) {
        return sysError("stat pack " + path);
    }
    r->m_fileSize = uint64_t(st.st_size);
    uint8_t header[kPackHeaderBytes];
    const ssize_t n = ::pread(r->m_fd, header, sizeof header, 0);
    if (n < 0) {
        return sysError("read pack " + path);
    }
    if (size_t(n) < sizeof header || std::memcmp(header, kPackMagic, sizeof kPackMagic) != 0) {
        return fail(std::format("pack {}: not a Cryopod pack file (bad header)", path), EBADMSG);
    }
    if (loadU32(header + 8) != kPackVersion) {
        return fail(std::format("pack {}: pack format version {} is not supported (this Cryopod knows {})", path, loadU32(header + 8), kPackVersion),
                    EPROTONOSUPPORT);
    }
    return r;
}

PackReader::~PackReader()
{
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

Result<std::span<const uint8_t>> PackReader::readStored(uint64_t offset, uint32_t bytes)
{
    if (bytes < kBlobHeaderBytes || offset < kPackHeaderBytes || offset + bytes > m_fileSize) {
        return fail(std::format("pack {}: blob at offset {} ({} bytes) lies outside the file of {} bytes", m_path, offset, bytes, m_fileSize), EBADMSG);
    }
    m_stored.resize(bytes);
    size_t have = 0;
    while (have < bytes) {
        const ssize_t n = ::pread(m_fd, m_stored.data() + have, bytes - have, off_t(offset + have));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sysError(std::format("read pack {} at offset {}", m_path, offset + have));
        }
        if (n == 0) {
            return fail(std::format("pack {}: the file ends inside the blob at offset {}", m_path, offset), EBADMSG);
        }
        have += size_t(n);
    }
    const uint8_t *h = m_stored.data();
    const uint32_t rawSize = loadU32(h + 8);
    const uint32_t storedSize = loadU32(h + 12);
    if (loadU32(h) != kBlobMagic || (h[4] != kBlobRaw && h[4] != kBlobZstd) || storedSize != bytes - kBlobHeaderBytes || rawSize > kMaxBlobRawBytes
        || (h[4] == kBlobRaw && rawSize != storedSize)) {
        return fail(std::format("pack {}: the blob at offset {} is damaged (bad blob header)", m_path, offset), EBADMSG);
    }
    XXH3_state_t *state = XXH3_createState();
    XXH3_64bits_reset(state);
    XXH3_64bits_update(state, h, 16);
    XXH3_64bits_update(state, h + kBlobHeaderBytes, storedSize);
    const uint64_t computed = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    if (computed != loadU64(h + 16)) {
        return fail(std::format("pack {}: the blob at offset {} is damaged (checksum mismatch)", m_path, offset), EBADMSG);
    }
    return std::span<const uint8_t>(m_stored);
}

Result<std::span<const uint8_t>> PackReader::readRaw(uint64_t offset, uint32_t bytes)
{
    auto stored = readStored(offset, bytes);
    if (!stored) {
        return std::unexpected(stored.error());
    }
    const uint8_t *h = stored->data();
    const uint32_t rawSize = loadU32(h + 8);
    const std::span<const uint8_t> data = stored->subspan(kBlobHeaderBytes);
    if (h[4] == kBlobRaw) {
        return data;
    }
    if (!m_zstd) {
        m_zstd = std::make_unique<ZstdContext>();
        m_zstd->dctx = ZSTD_createDCtx();
        if (!m_zstd->dctx) {
            return fail("create zstd decompression context", ENOMEM);
        }
    }
    m_raw.resize(rawSize);
    const size_t n = ZSTD_decompressDCtx(m_zstd->dctx, m_raw.data(), m_raw.size(), data.data(), data.size());
    if (ZSTD_isError(n) || n != rawSize) {
        return fail(std::format("pack {}: the blob at offset {} does not decompress ({})", m_path, offset, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"),
                    EBADMSG);
    }
    return std::span<const uint8_t>(m_raw);
}

} // namespace cryopod::store
