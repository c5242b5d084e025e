// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "storechecker.h"

#include "bulkcodec.h"
#include "chunkhash.h"
#include "manifest.h"
#include "packreader.h"
#include "snapshotrebuilder.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "storelock.h"

#include <dirent.h>
#include <format>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unordered_map>

namespace cryopod::store
{

namespace
{
struct ChunkState {
    int64_t refs = 0; // as the index says
    int64_t counted = 0; // as the manifests say
    bool damaged = false;
};

std::string joinIds(const std::set<int64_t> &ids)
{
    std::string s;
    for (const int64_t id : ids) {
        if (!s.empty()) {
            s += ", ";
        }
        s += std::to_string(id);
    }
    return s;
}
} // namespace

Result<CheckReport> StoreChecker::check(SnapshotStore &store, const CheckOptions &options)
{
    auto lock = StoreLock::acquire(store.directory(), StoreLock::Mode::Shared, true);
    if (!lock) {
        return std::unexpected(lock.error().context("check"));
    }
    SqliteDatabase &db = store.database();
    CheckReport report;

    // 1. the index itself
    {
        auto q = db.prepare("PRAGMA quick_check");
        if (!q) {
            return std::unexpected(q.error());
        }
        for (;;) {
            auto row = q->step();
            if (!row) {
                report.problems.push_back("index: " + row.error().describe());
                break;
            }
            if (!*row) {
                break;
            }
            const std::string line = q->columnText(0);
            if (line != "ok") {
                report.problems.push_back("index: " + line);
            }
        }
    }

    // 2. packs
    std::map<int64_t, std::string> packNames;
    std::set<int64_t> missingPacks;
    {
        auto listed = db.each("SELECT id, name, bytes FROM packs ORDER BY id", [&](const SqliteStatement &row) {
            const int64_t id = row.columnInt(0);
            const std::string name = row.columnText(1);
            const uint64_t bytes = uint64_t(row.columnInt(2));
            packNames[id] = name;
            ++report.packs;
            struct stat st {};
            if (::stat(store.packPath(name).c_str(), &st) != 0) {
                report.problems.push_back(std::format("pack {} (id {}) is missing from {}", name, id, store.packsDirectory()));
                missingPacks.insert(id);
            } else if (uint64_t(st.st_size) != bytes) {
                report.problems.push_back(std::format("pack {} (id {}) has {} bytes, the index says {}", name, id, st.st_size, bytes));
            }
        });
        if (!listed) {
            return std::unexpected(listed.error());
        }
    }

    // 3. every chunk against its hash, blob by blob
    std::unordered_map<int64_t, ChunkState> chunks;
    std::map<int64_t, std::string> damageOf; // chunk -> what is wrong
    {
        auto q = db.prepare("SELECT id, hash, pack_id, blob_offset, blob_bytes, offset, size, refs FROM chunks ORDER BY pack_id, blob_offset, offset");
        if (!q) {
            return std::unexpected(q.error());
        }
        int64_t openPack = 0;
        std::unique_ptr<PackReader> reader;
        std::string packError;
        std::pair<int64_t, uint64_t> blobKey {-1, 0};
        Result<std::span<const uint8_t>> raw = std::span<const uint8_t>();
        for (;;) {
            auto row = q->step();
            if (!row) {
                return std::unexpected(row.error());
            }
            if (!*row) {
                break;
            }
            const int64_t id = q->columnInt(0);
            const ChunkHash hash = ChunkHash::fromBytes(q->columnBlob(1));
            const int64_t packId = q->columnInt(2);
            const uint64_t blobOffset = uint64_t(q->columnInt(3));
            const uint32_t blobBytes = uint32_t(q->columnInt(4));
            const uint32_t offset = uint32_t(q->columnInt(5));
            const uint32_t size = uint32_t(q->columnInt(6));
            ChunkState &state = chunks[id];
            state.refs = q->columnInt(7);
            ++report.chunks;
            auto damaged = [&](const std::string &why) {
                state.damaged = true;
                damageOf[id] = why;
            };
            if (!packNames.contains(packId)) {
                damaged(std::format("its pack {} is not in the index", packId));
                continue;
            }
            if (missingPacks.contains(packId)) {
                damaged(std::format("its pack {} is missing", packNames[packId]));
                continue;
            }
            if (packId != openPack) {
                openPack = packId;
                packError.clear();
                auto opened = PackReader::open(store.packPath(packNames[packId]));
                if (opened) {
                    reader = std::move(*opened);
                } else {
                    reader.reset();
                    packError = opened.error().describe();
                }
            }
            if (!reader) {
                damaged(packError);
                continue;
            }
            if (blobKey != std::pair<int64_t, uint64_t>(packId, blobOffset)) {
                blobKey = {packId, blobOffset};
                raw = reader->readRaw(blobOffset, blobBytes);
                ++report.blobs;
                if (raw) {
                    report.bytesVerified += blobBytes;
                }
            }
            if (!raw) {
                damaged(raw.error().describe());
                continue;
            }
            if (uint64_t(offset) + size > raw->size()) {
                damaged(std::format("it lies outside its blob at offset {} of pack {}", blobOffset, packNames[packId]));
                continue;
            }
            if (ChunkHash::of(raw->subspan(offset, size), store.hashSeed()) != hash) {
                damaged(std::format("its bytes (blob at offset {} of pack {}) do not match its hash {}", blobOffset, packNames[packId], hash.hex()));
            }
        }
    }

    // 4. manifests
    std::map<int64_t, std::set<int64_t>> snapshotsOf; // damaged or missing chunk -> snapshots
    std::vector<int64_t> snapshotIds;
    if (auto listed = db.each("SELECT id FROM snapshots ORDER BY id",
                              [&](const SqliteStatement &row) {
                                  snapshotIds.push_back(row.columnInt(0));
                              });
        !listed) {
        return std::unexpected(listed.error());
    }
    report.snapshots = snapshotIds.size();
    for (const int64_t sid : snapshotIds) {
        auto manifest = Manifest::load(db, sid);
        if (!manifest) {
            report.problems.push_back(std::format("snapshot {}: {}", sid, manifest.error().describe()));
            report.damagedSnapshots.insert(sid);
            continue;
        }
        for (const ManifestEntry &e : *manifest) {
            if (auto ok = Manifest::validate(e); !ok) {
                report.problems.push_back(std::format("snapshot {}: {}", sid, ok.error().describe()));
                report.damagedSnapshots.insert(sid);
            }
            Manifest::forEachRef(e, [&](int64_t id) {
                auto it = chunks.find(id);
                if (it == chunks.end()) {
                    snapshotsOf[id].insert(sid);
                    report.damagedSnapshots.insert(sid);
                    return;
                }
                ++it->second.counted;
                if (it->second.damaged) {
                    snapshotsOf[id].insert(sid);
                    report.damagedSnapshots.insert(sid);
                }
            });
        }
    }
    for (const auto &[id, why] : damageOf) {
        const auto users = snapshotsOf.find(id);
        report.problems.push_back(std::format("chunk {} is damaged: {}{}",
                                              id,
                                              why,
                                              users == snapshotsOf.end() ? std::string(" (no snapshot uses it)")
                                                                         : std::format(" (used by snapshot {})", joinIds(users->second))));
    }
    for (const auto &[id, users] : snapshotsOf) {
        if (!chunks.contains(id)) {
            report.problems.push_back(std::format("chunk {} is missing from the index (used by snapshot {})", id, joinIds(users)));
        }
    }
    uint64_t unreferenced = 0;
    for (const auto &[id, state] : chunks) {
        if (state.counted != state.refs) {
            if (state.counted == 0 && state.refs == 0) {
                continue;
            }
            report.problems.push_back(std::format("chunk {} has reference count {} in the index, the manifests hold {} references", id, state.refs, state.counted));
        }
        if (state.counted == 0 && state.refs == 0) {
            ++unreferenced;
        }
    }
    if (unreferenced) {
        report.garbage.push_back(std::format("{} chunks no snapshot refers to", unreferenced));
    }

    // 5. files nobody refers to
    {
        std::set<std::string> known;
        for (const auto &[id, name] : packNames) {
            known.insert(name);
        }
        if (DIR *dir = ::opendir(store.packsDirectory().c_str())) {
            while (const dirent *entry = ::readdir(dir)) {
                const std::string name = entry->d_name;
                if (name != "." && name != ".." && !known.contains(name)) {
                    struct stat st {};
                    ::stat(store.packPath(name).c_str(), &st);
                    report.garbage.push_back(std::format("file packs/{} ({} bytes) is not in the index", name, st.st_size));
                }
            }
            ::closedir(dir);
        }
    }

    // 6. optionally the images themselves
    if (options.rebuild) {
        RebuildOptions equivalent;
        equivalent.exact = false;
        for (const int64_t sid : snapshotIds) {
            if (report.damagedSnapshots.contains(sid)) {
                continue;
            }
            auto rebuilt = SnapshotRebuilder::rebuild(store, sid, -1, equivalent);
            if (!rebuilt) {
                report.problems.push_back(rebuilt.error().describe());
                report.damagedSnapshots.insert(sid);
                continue;
            }
            if (rebuilt->reencodedSections == 0) {
                continue;
            }
            auto info = store.snapshot(sid);
            const std::string codec = info ? info->codec : std::string("?");
            if (codec == image::bulkCodecVersion()) {
                // same library, other bytes: the stored frame or encoding is wrong
                report.problems.push_back(std::format("snapshot {}: {} sections do not re-encode to their stored bytes with the zstd that stored them ({})",
                                                      sid,
                                                      rebuilt->reencodedSections,
                                                      codec));
                report.damagedSnapshots.insert(sid);
            } else {
                report.notes.push_back(std::format("snapshot {}: stored with {}, this is {}: {} sections re-encode to other (equivalent) bytes; "
                                                   "it restores, and exports as an equivalent image",
                                                   sid,
                                                   codec,
                                                   image::bulkCodecVersion(),
                                                   rebuilt->reencodedSections));
            }
        }
    }
    return report;
}

} // namespace cryopod::store
