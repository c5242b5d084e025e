// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Reads blobs from a pack file (packformat.h) by offset, checking the blob's
// checksum before decompressing it.
#pragma once

#include "result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cryopod::store
{

class PackReader
{
public:
    static Result<std::unique_ptr<PackReader>> open(const std::string &path);
    ~PackReader();
    PackReader(const PackReader &) = delete;
    PackReader &operator=(const PackReader &) = delete;

    // Reads the blob of `bytes` bytes (header included) at `offset` as
    // stored: header checked, checksum verified, not decompressed.
    Result<std::span<const uint8_t>> readStored(uint64_t offset, uint32_t bytes);
    // The same, decompressed: the blob's raw bytes, valid until the next call.
    Result<std::span<const uint8_t>> readRaw(uint64_t offset, uint32_t bytes);
    uint64_t fileSize() const
    {
        return m_fileSize;
    }
    const std::string &path() const
    {
        return m_path;
    }

private:
    PackReader() = default;
    std::string m_path;
    int m_fd = -1;
    uint64_t m_fileSize = 0;
    std::vector<uint8_t> m_stored;
    std::vector<uint8_t> m_raw;
    struct ZstdContext;
    std::unique_ptr<ZstdContext> m_zstd;
};

} // namespace cryopod::store
