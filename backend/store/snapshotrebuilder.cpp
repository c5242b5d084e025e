// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotrebuilder.h"

#include "bulkcodec.h"
#include "checksum.h"
#include "chunkreader.h"
#include "fdio.h"
#include "manifest.h"
#include "sectionframe.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "storelock.h"

#include <cstring>
#include <format>
#include <unistd.h>

namespace cryopod::store
{

namespace
{
class Output
{
public:
    explicit Output(int fd)
        : m_fd(fd)
    {
        XXH3_128bits_reset(&m_hash);
    }
    Result<void> write(std::span<const uint8_t> bytes)
    {
        XXH3_128bits_update(&m_hash, bytes.data(), bytes.size());
        m_bytes += bytes.size();
        if (m_fd >= 0 && !bytes.empty()) {
            return image::writeAll(m_fd, bytes.data(), bytes.size());
        }
        return {};
    }
    std::array<uint8_t, 16> digest()
    {
        XXH128_canonical_t canonical;
        XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&m_hash));
        std::array<uint8_t, 16> out;
        std::memcpy(out.data(), canonical.digest, 16);
        return out;
    }
    uint64_t bytes() const
    {
        return m_bytes;
    }

private:
    int m_fd;
    XXH3_state_t m_hash;
    uint64_t m_bytes = 0;
};

uint64_t loadU64(const uint8_t *at)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
        v = (v << 8) | at[i];
    }
    return v;
}

void storeU64(uint8_t *at, uint64_t v)
{
    for (int i = 0; i < 8; ++i) {
        at[i] = uint8_t(v >> (8 * i));
    }
}
} // namespace

Result<RebuildResult> SnapshotRebuilder::rebuild(SnapshotStore &store, int64_t id, int fd, const RebuildOptions &options)
{
    auto lock = StoreLock::acquire(store.directory(), StoreLock::Mode::Shared, true);
    if (!lock) {
        return std::unexpected(lock.error());
    }
    SqliteDatabase &db = store.database();
    std::array<uint8_t, 16> imageHash {};
    std::string codecAtStore;
    {
        auto q = db.prepare("SELECT image_hash, codec FROM snapshots WHERE id = ?1");
        if (!q) {
            return std::unexpected(q.error());
        }
        q->bind(1, id);
        auto row = q->step();
        if (!row) {
            return std::unexpected(row.error());
        }
        if (!*row) {
            return fail(std::format("there is no snapshot {}", id), ENOENT);
        }
        const auto hash = q->columnBlob(0);
        if (hash.size() == imageHash.size()) {
            std::memcpy(imageHash.data(), hash.data(), hash.size());
        }
        codecAtStore = q->columnText(1);
    }
    auto manifest = Manifest::load(db, id);
    if (!manifest) {
        return std::unexpected(manifest.error());
    }
    const std::string where = std::format("rebuild snapshot {}", id);
    ChunkReader reader(store);
    image::BulkCodec codec;
    Output out(fd);
    RebuildResult result;
    std::vector<uint8_t> buffer;
    const int workers = options.workers > 0 ? options.workers : std::max<int>(1, int(sysconf(_SC_NPROCESSORS_ONLN)));

    for (const ManifestEntry &e : *manifest) {
        const std::string section = e.seq == 0 ? std::string("the header") : std::format("section #{} ({})", e.seq - 1, image::describeSectionType(e.sectionType));
        auto broken = [&](const Error &err) {
            return std::unexpected(err.context(std::format("{}: {}", where, section)));
        };
        if (auto ok = Manifest::validate(e); !ok) {
            return broken(ok.error());
        }
        if (e.kind == ManifestKind::Bytes) {
            buffer.resize(e.dataBytes);
            if (auto ok = reader.readInto(e.chunks, e.chunkSize, buffer); !ok) {
                return broken(ok.error());
            }
            if (e.seq == 0) {
                if (auto h = image::SectionBytes::decodeHeader(buffer); !h) {
                    return broken(h.error());
                }
            } else {
                auto frame = image::SectionBytes::verify(buffer);
                if (!frame) {
                    return broken(frame.error());
                }
                if (frame->type != e.sectionType) {
                    return broken(Error {EBADMSG, std::format("the stored section has type {}", frame->type)});
                }
            }
            if (auto ok = out.write(buffer); !ok) {
                return broken(ok.error());
            }
            if (e.seq != 0) {
                ++result.sections;
            }
            continue;
        }

        // Bulk: field block + data re-encoded
        const image::SectionFrame frame = image::SectionFrame::load(e.frame.data());
        const uint64_t storedChecksum = loadU64(e.frame.data() + image::kFrameHeaderBytes);
        auto fields = reader.read(e.fieldChunk);
        if (!fields) {
            return broken(fields.error());
        }
        const std::vector<uint8_t> fieldBytes(fields->begin(), fields->end());
        if (frame.rawLength != fieldBytes.size() + e.dataBytes) {
            return broken(Error {EBADMSG, std::format("the frame's raw length {} is not {} field bytes plus {} data bytes", frame.rawLength, fieldBytes.size(), e.dataBytes)});
        }
        buffer.resize(e.dataBytes);
        if (auto ok = reader.readInto(e.chunks, e.chunkSize, buffer); !ok) {
            return broken(ok.error());
        }
        std::span<const uint8_t> bulk = buffer;
        if (frame.flags & image::kSectionZstd) {
            auto encoded = codec.encode(e.encoding, buffer, workers);
            if (!encoded) {
                return broken(encoded.error());
            }
            bulk = *encoded;
        }
        uint8_t head[image::kFrameHeaderBytes];
        std::memcpy(head, e.frame.data(), sizeof head);
        const bool sameLength = frame.payloadLength == fieldBytes.size() + bulk.size();
        const uint64_t checksum = sameLength ? image::SectionBytes::checksum(std::span<const uint8_t>(head), fieldBytes, bulk) : 0;
        uint8_t sum[image::kChecksumBytes];
        if (!sameLength || checksum != storedChecksum) {
            if (options.exact) {
                return broken(Error {EBADMSG,
                                     std::format("its data re-encodes to different bytes (zstd level {}, {}; stored with {}, this is {}): "
                                                 "the rebuilt section does not match its checksum",
                                                 e.encoding.level,
                                                 e.encoding.threaded ? "threaded" : "single-threaded",
                                                 codecAtStore,
                                                 image::bulkCodecVersion())});
            }
            image::SectionFrame fresh = frame;
            fresh.payloadLength = fieldBytes.size() + bulk.size();
            image::SectionBytes::storeFrameHeader(head, fresh);
            storeU64(sum, image::SectionBytes::checksum(std::span<const uint8_t>(head), fieldBytes, bulk));
            ++result.reencodedSections;
        } else {
            storeU64(sum, storedChecksum);
        }
        for (std::span<const uint8_t> part : {std::span<const uint8_t>(head), std::span<const uint8_t>(fieldBytes), bulk, std::span<const uint8_t>(sum)}) {
            if (auto ok = out.write(part); !ok) {
                return broken(ok.error());
            }
        }
        ++result.sections;
    }
    result.bytes = out.bytes();
    result.identical = out.digest() == imageHash;
    if (!result.identical && result.reencodedSections == 0) {
        return fail(std::format("{}: the rebuilt stream ({} bytes) does not match the stored image's hash", where, result.bytes), EBADMSG);
    }
    return result;
}

} // namespace cryopod::store
