// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Writes one new pack file (packformat.h) blob by blob. Nothing refers to
// the file until the snapshot that wrote it commits; finish() makes it
// durable first (fsync), discard() removes it after a failure.
#pragma once

#include "result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cryopod::store
{

// Encodes raw bytes as one blob (header, stored bytes; packformat.h):
// zstd-compressed at `level` when that makes it smaller, raw otherwise. One
// encoder per thread: it keeps its zstd context and output buffer.
class BlobEncoder
{
public:
    BlobEncoder();
    ~BlobEncoder();
    BlobEncoder(const BlobEncoder &) = delete;
    BlobEncoder &operator=(const BlobEncoder &) = delete;

    // The blob, valid until the next call.
    Result<std::span<const uint8_t>> encode(std::span<const uint8_t> raw, int level);

private:
    std::vector<uint8_t> m_buffer;
    struct ZstdContext;
    std::unique_ptr<ZstdContext> m_zstd;
};

class PackWriter
{
public:
    // A new pack with a random name in packsDir.
    static Result<std::unique_ptr<PackWriter>> create(const std::string &packsDir);
    ~PackWriter(); // closes; the file stays unless discard() was called
    PackWriter(const PackWriter &) = delete;
    PackWriter &operator=(const PackWriter &) = delete;

    struct BlobPlace {
        uint64_t offset = 0; // of the blob header in the pack
        uint32_t bytes = 0; // header + stored bytes
        uint32_t storedBytes = 0;
    };
    // Appends raw as one blob (BlobEncoder).
    Result<BlobPlace> append(std::span<const uint8_t> raw, int level);
    // Appends an encoded blob as it is: one from a BlobEncoder, or one read
    // from another pack (gc).
    Result<BlobPlace> appendStored(std::span<const uint8_t> blob);
    // fsync and close. The directory entry is made durable by the caller
    // (one fsync of the directory for all packs of a snapshot).
    Result<void> finish();
    // Closes and unlinks the file (after a failure).
    void discard();

    const std::string &name() const
    {
        return m_name;
    }
    const std::string &path() const
    {
        return m_path;
    }
    uint64_t size() const
    {
        return m_size;
    }
    uint64_t rawBytes() const // the blobs' bytes uncompressed
    {
        return m_rawBytes;
    }

private:
    PackWriter() = default;
    Result<void> write(const void *data, size_t size);

    std::string m_name;
    std::string m_path;
    int m_fd = -1;
    uint64_t m_size = 0;
    uint64_t m_rawBytes = 0;
    std::unique_ptr<BlobEncoder> m_encoder;
};

// fsync of a directory, so that new or removed entries in it are durable.
Result<void> syncDirectory(const std::string &dir);

} // namespace cryopod::store
