// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotingest.h"

#include "bulkcodec.h"
#include "checksum.h"
#include "chunkhash.h"
#include "manifest.h"
#include "packformat.h"
#include "blobpacker.h"
#include "packwriter.h"
#include "rawimagereader.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "storefault.h"
#include "storelock.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <format>
#include <optional>
#include <set>
#include <unistd.h>
#include <unordered_map>

namespace cryopod::store
{

namespace
{
// With VerifyPolicy::Sample, one bulk section in this many is re-encoded at
// store time (the first always). docs/store.md, "Byte-identical rebuilds".
constexpr uint64_t kSampleEvery = 16;

int64_t nowNs()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// What a zstd frame's header shows of the parameters that made it: the
// frame header descriptor (content checksum, single segment, dictionary id
// and size field flags) and the window descriptor, with the section type.
// Frames from one encoder share it (for inputs of similar size); frames
// from an encoder with other parameters usually do not, which makes the
// sampled verification look at them.
uint32_t frameFingerprint(uint32_t type, std::span<const uint8_t> stored)
{
    if (stored.size() < 6) {
        return type << 16;
    }
    const uint8_t descriptor = stored[4];
    const bool singleSegment = descriptor & 0x20;
    return (type << 16) | (uint32_t(descriptor) << 8) | (singleSegment ? 0u : stored[5]);
}

uint64_t cpuNs()
{
    timespec ts {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}

// Adds the CPU time of a scope to a counter.
class CpuTimer
{
public:
    explicit CpuTimer(uint64_t &counter)
        : m_counter(counter)
        , m_start(cpuNs())
    {
    }
    ~CpuTimer()
    {
        m_counter += cpuNs() - m_start;
    }

private:
    uint64_t &m_counter;
    uint64_t m_start;
};

uint64_t monotonicNs()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}

struct NewChunk {
    ChunkHash hash;
    size_t pack = 0; // index into the session's packs
    uint64_t blobOffset = 0;
    uint32_t blobBytes = 0;
    uint32_t offset = 0;
    uint32_t size = 0;
    uint32_t refs = 0;
};
} // namespace

struct SnapshotIngest::Private {
    SnapshotStore *store = nullptr;
    IngestOptions options;
    std::optional<StoreLock> lock;
    uint64_t seed = 0;
    uint64_t startNs = 0;
    bool consumed = false;
    bool committed = false;
    bool failed = false;

    // the image
    image::Header header;
    image::ProcessTreeRecord tree;
    std::optional<image::TaskRecord> rootTask;
    std::optional<image::CredsRecord> rootCreds;
    image::EndRecord end;
    XXH3_state_t *imageHash = nullptr;
    std::array<uint8_t, 16> imageDigest {};
    std::vector<ManifestEntry> manifest;

    // chunks: ids > 0 are in the index, ids < 0 are this session's new
    // chunks (-1 is newChunks[0]), 0 is an all-zero chunk
    std::unordered_map<ChunkHash, int64_t, ChunkHashHasher> known;
    std::unordered_map<int64_t, uint32_t> existingRefs;
    std::vector<NewChunk> newChunks;
    std::optional<SqliteStatement> lookup;

    // the blob being filled, and the packer that compresses and writes full ones
    std::vector<uint8_t> blob;
    std::vector<size_t> blobMembers; // indices into newChunks
    std::unique_ptr<BlobPacker> packer;

    // bulk data
    image::BulkCodec codec;
    std::vector<uint8_t> data;
    std::optional<image::BulkEncoding> encoding; // verified in this session
    std::set<uint32_t> verifiedPrints; // frame fingerprints a verified encoding reproduced
    std::set<uint32_t> failedPrints; // fingerprints of frames no candidate reproduced
    uint64_t bulkIndex = 0;

    IngestStats stats;

    ~Private()
    {
        if (imageHash) {
            XXH3_freeState(imageHash);
        }
    }

    Result<int64_t> chunkId(std::span<const uint8_t> bytes);
    Result<void> flushBlob();
    void applyPacked();
    Result<void> prefetchParent();
    Result<void> addBytesEntry(uint32_t sectionType, std::span<const uint8_t> bytes);
    Result<void> addSection(const image::RawSection &section);
    Result<std::optional<image::BulkEncoding>> findEncoding(const image::RawSection &section);
    void discardFiles();
};

SnapshotIngest::SnapshotIngest()
    : d(std::make_unique<Private>())
{
}

SnapshotIngest::~SnapshotIngest()
{
    if (!d->committed) {
        abort();
    }
}

const IngestStats &SnapshotIngest::stats() const
{
    return d->stats;
}

Result<std::unique_ptr<SnapshotIngest>> SnapshotIngest::begin(SnapshotStore &store, const IngestOptions &options)
{
    std::unique_ptr<SnapshotIngest> ingest(new SnapshotIngest);
    Private &p = *ingest->d;
    p.store = &store;
    p.options = options;
    p.seed = store.hashSeed();
    p.startNs = monotonicNs();
    auto lock = StoreLock::acquire(store.directory(), StoreLock::Mode::Shared, false);
    if (!lock) {
        return std::unexpected(lock.error());
    }
    p.lock.emplace(std::move(*lock));
    auto lookup = store.database().prepare("SELECT id FROM chunks WHERE hash = ?1 LIMIT 1");
    if (!lookup) {
        return std::unexpected(lookup.error());
    }
    p.lookup.emplace(std::move(*lookup));
    p.imageHash = XXH3_createState();
    XXH3_128bits_reset(p.imageHash);
    p.packer = std::make_unique<BlobPacker>(store.packsDirectory(), options.blobLevel);
    p.blob.reserve(kBlobTargetBytes + kPieceBytes);
    if (auto ok = p.prefetchParent(); !ok) {
        return std::unexpected(ok.error());
    }
    StoreFault::point("ingest-begin");
    return ingest;
}

void SnapshotIngest::Private::discardFiles()
{
    if (packer) {
        packer->discard();
    }
}

void SnapshotIngest::abort()
{
    if (d->committed) {
        return;
    }
    d->failed = true;
    d->discardFiles();
    d->lock.reset();
}

// A later snapshot of a target mostly repeats the pages of its previous
// one: their hashes are loaded up front, by id ranges (the previous
// snapshot's chunks were mostly stored in order), so that most pages are
// found in memory instead of by one index lookup each.
Result<void> SnapshotIngest::Private::prefetchParent()
{
    if (!options.target) {
        return {};
    }
    const TargetInfo &t = *options.target;
    SqliteDatabase &db = store->database();
    auto tx = SqliteTransaction::begin(db, SqliteTransaction::Mode::Deferred);
    if (!tx) {
        return std::unexpected(tx.error());
    }
    auto q = db.prepare(
        "SELECT s.id FROM snapshots s JOIN targets t ON t.id = s.target_id WHERE t.host = ?1 AND t.uid = ?2 AND t.exe = ?3 AND t.cmdline = ?4 "
        "AND t.pid = ?5 AND t.start_time = ?6 ORDER BY s.created_at DESC, s.id DESC LIMIT 1");
    if (!q) {
        return std::unexpected(q.error());
    }
    q->bind(1, std::string_view(t.host))
        .bind(2, int64_t(t.uid))
        .bind(3, std::string_view(t.exe))
        .bind(4, std::string_view(t.cmdline))
        .bind(5, int64_t(t.pid))
        .bind(6, t.startTimeNs);
    auto row = q->step();
    if (!row) {
        return std::unexpected(row.error());
    }
    if (!*row) {
        return {};
    }
    const int64_t parent = q->columnInt(0);
    auto manifest = Manifest::load(db, parent);
    if (!manifest) {
        return {}; // not worth failing a snapshot for: store check reports it
    }
    std::vector<int64_t> ids;
    for (const ManifestEntry &e : *manifest) {
        if (e.kind == ManifestKind::Bulk) {
            for (const int64_t id : e.chunks) {
                if (id > 0) {
                    ids.push_back(id);
                }
            }
        }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    auto range = db.prepare("SELECT id, hash FROM chunks WHERE id BETWEEN ?1 AND ?2");
    if (!range) {
        return std::unexpected(range.error());
    }
    known.reserve(ids.size() + ids.size() / 8);
    for (size_t i = 0; i < ids.size();) {
        size_t j = i + 1;
        // ranges with small gaps: scanning a few rows too many beats another query
        while (j < ids.size() && ids[j] - ids[j - 1] <= 16) {
            ++j;
        }
        range->bind(1, ids[i]).bind(2, ids[j - 1]);
        for (;;) {
            auto r = range->step();
            if (!r) {
                return std::unexpected(r.error());
            }
            if (!*r) {
                break;
            }
            known.emplace(ChunkHash::fromBytes(range->columnBlob(1)), range->columnInt(0));
        }
        range->reset();
        i = j;
    }
    stats.prefetchedChunks = known.size();
    return tx->commit();
}

void SnapshotIngest::Private::applyPacked()
{
    for (const PackedBlob &done : packer->collect()) {
        for (const size_t k : done.members) {
            NewChunk &c = newChunks[k];
            c.pack = done.pack;
            c.blobOffset = done.place.offset;
            c.blobBytes = done.place.bytes;
        }
    }
}

Result<void> SnapshotIngest::Private::flushBlob()
{
    if (blob.empty()) {
        return {};
    }
    std::vector<uint8_t> full;
    full.reserve(kBlobTargetBytes + kPieceBytes);
    full.swap(blob);
    CRYOPOD_PROPAGATE(packer->submit(std::move(full), std::exchange(blobMembers, {})));
    applyPacked();
    return {};
}

Result<int64_t> SnapshotIngest::Private::chunkId(std::span<const uint8_t> bytes)
{
    ++stats.chunks;
    if (isAllZero(bytes)) {
        ++stats.zeroChunks;
        return 0;
    }
    const ChunkHash hash = ChunkHash::of(bytes, seed);
    if (auto it = known.find(hash); it != known.end()) {
        if (it->second < 0) {
            ++newChunks[size_t(-it->second - 1)].refs;
        } else {
            ++existingRefs[it->second];
        }
        return it->second;
    }
    lookup->bindBlob(1, hash.span());
    auto row = lookup->step();
    if (!row) {
        lookup->reset();
        return std::unexpected(row.error().context("look up a chunk"));
    }
    if (*row) {
        const int64_t id = lookup->columnInt(0);
        lookup->reset();
        known.emplace(hash, id);
        ++existingRefs[id];
        return id;
    }
    lookup->reset();
    const size_t k = newChunks.size();
    newChunks.push_back(NewChunk {hash, 0, 0, 0, uint32_t(blob.size()), uint32_t(bytes.size()), 1});
    blob.insert(blob.end(), bytes.begin(), bytes.end());
    blobMembers.push_back(k);
    const int64_t id = -int64_t(k + 1);
    known.emplace(hash, id);
    ++stats.newChunks;
    stats.newBytes += bytes.size();
    if (blob.size() >= kBlobTargetBytes) {
        CRYOPOD_PROPAGATE(flushBlob());
    }
    return id;
}

Result<void> SnapshotIngest::Private::addBytesEntry(uint32_t sectionType, std::span<const uint8_t> bytes)
{
    ManifestEntry e;
    e.seq = int64_t(manifest.size());
    e.kind = ManifestKind::Bytes;
    e.sectionType = sectionType;
    e.chunkSize = kPieceBytes;
    e.dataBytes = bytes.size();
    for (size_t at = 0; at < bytes.size(); at += kPieceBytes) {
        auto id = chunkId(bytes.subspan(at, std::min<size_t>(kPieceBytes, bytes.size() - at)));
        if (!id) {
            return std::unexpected(id.error());
        }
        e.chunks.push_back(*id);
    }
    manifest.push_back(std::move(e));
    return {};
}

Result<std::optional<image::BulkEncoding>> SnapshotIngest::Private::findEncoding(const image::RawSection &section)
{
    const std::span<const uint8_t> stored = section.stored();
    const std::span<const uint8_t> raw(data.data(), section.dataLength);
    std::vector<image::BulkEncoding> candidates;
    auto add = [&](image::BulkEncoding e) {
        if (std::find(candidates.begin(), candidates.end(), e) == candidates.end()) {
            candidates.push_back(e);
        }
    };
    if (encoding) {
        add(*encoding);
    }
    add(options.encodingHint);
    add({options.encodingHint.level, !options.encodingHint.threaded});
    for (const int level : {1, 3}) {
        add({level, true});
        add({level, false});
    }
    const int workers = std::max<int>(1, int(sysconf(_SC_NPROCESSORS_ONLN)));
    for (const image::BulkEncoding &candidate : candidates) {
        auto encoded = codec.encode(candidate, raw, workers);
        if (!encoded) {
            continue; // e.g. a zstd without threads: that candidate cannot be it
        }
        if (encoded->size() == stored.size() && std::memcmp(encoded->data(), stored.data(), stored.size()) == 0) {
            return std::optional<image::BulkEncoding>(candidate);
        }
    }
    return std::optional<image::BulkEncoding>();
}

Result<void> SnapshotIngest::Private::addSection(const image::RawSection &section)
{
    XXH3_128bits_update(imageHash, section.bytes.data(), section.bytes.size());
    ++stats.sections;
    if (const auto *t = std::get_if<image::ProcessTreeRecord>(&section.record)) {
        tree = *t;
    } else if (const auto *task = std::get_if<image::TaskRecord>(&section.record); task && task->pid == tree.rootPid) {
        rootTask = *task;
    } else if (const auto *creds = std::get_if<image::CredsRecord>(&section.record); creds && creds->pid == tree.rootPid) {
        rootCreds = *creds;
    } else if (const auto *e = std::get_if<image::EndRecord>(&section.record)) {
        end = *e;
    }
    if (!section.bulk) {
        return addBytesEntry(section.frame.type, section.bytes);
    }

    ++stats.bulkSections;
    const uint64_t index = bulkIndex++;
    const bool zstd = section.frame.flags & image::kSectionZstd;
    // An uncompressed section's data is hashed where it lies; a zstd one is
    // decompressed first.
    std::span<const uint8_t> raw = section.stored();
    if (zstd) {
        if (data.size() < section.dataLength) {
            data.resize(section.dataLength);
        }
        Result<void> decoded;
        {
            CpuTimer timer(stats.decodeNs);
            decoded = codec.decode(section, std::span<uint8_t>(data.data(), section.dataLength));
        }
        if (auto ok = decoded; !ok) {
            return std::unexpected(ok.error().context(std::format("section #{} ({}) at byte {}", section.index, image::describeSectionType(section.frame.type), section.offset)));
        }
        raw = std::span<const uint8_t>(data.data(), section.dataLength);
    } else if (raw.size() != section.dataLength) {
        return fail(std::format("section #{}: {} bytes of data, the fields say {}", section.index, raw.size(), section.dataLength), EBADMSG);
    }
    std::optional<image::BulkEncoding> use;
    if (zstd) {
        const uint32_t print = frameFingerprint(section.frame.type, section.stored());
        if (failedPrints.contains(print)) {
            // frames like this one did not re-encode: keep it as it is
        } else if (options.verify == VerifyPolicy::EverySection || !encoding || !verifiedPrints.contains(print) || index % kSampleEvery == 0) {
            const uint64_t verifyStart = cpuNs();
            auto found = findEncoding(section);
            stats.verifyNs += cpuNs() - verifyStart;
            if (!found) {
                return std::unexpected(found.error());
            }
            ++stats.verifiedSections;
            if (*found) {
                encoding = **found;
                use = **found;
                verifiedPrints.insert(print);
            } else {
                failedPrints.insert(print);
            }
        } else {
            use = encoding;
        }
    }
    if (zstd && !use) {
        // Re-encoding does not give these bytes back: keep the section as it is.
        ++stats.verbatimSections;
        return addBytesEntry(section.frame.type, section.bytes);
    }

    ManifestEntry e;
    e.seq = int64_t(manifest.size());
    e.kind = ManifestKind::Bulk;
    e.sectionType = section.frame.type;
    std::memcpy(e.frame.data(), section.bytes.data(), image::kFrameHeaderBytes);
    std::memcpy(e.frame.data() + image::kFrameHeaderBytes, section.bytes.data() + section.bytes.size() - image::kChecksumBytes, image::kChecksumBytes);
    e.encoding = use.value_or(image::BulkEncoding {0, false});
    e.chunkSize = header.pageSize;
    e.dataBytes = section.dataLength;
    auto field = chunkId(section.fields());
    if (!field) {
        return std::unexpected(field.error());
    }
    if (*field == 0) {
        return fail(std::format("section #{}: an all-zero field block", section.index), EBADMSG);
    }
    e.fieldChunk = *field;
    e.chunks.reserve((section.dataLength + e.chunkSize - 1) / e.chunkSize);
    const uint64_t chunkStart = cpuNs();
    {
        // one read transaction for all the section's lookups (not one per page)
        auto tx = SqliteTransaction::begin(store->database(), SqliteTransaction::Mode::Deferred);
        if (!tx) {
            return std::unexpected(tx.error());
        }
        for (uint64_t at = 0; at < section.dataLength; at += e.chunkSize) {
            auto id = chunkId(raw.subspan(at, std::min<uint64_t>(e.chunkSize, section.dataLength - at)));
            if (!id) {
                return std::unexpected(id.error());
            }
            e.chunks.push_back(*id);
        }
        CRYOPOD_PROPAGATE(tx->commit());
    }
    stats.chunkNs += cpuNs() - chunkStart;
    manifest.push_back(std::move(e));
    return {};
}

Result<void> SnapshotIngest::consume(int fd)
{
    Private &p = *d;
    if (p.failed || p.consumed || p.committed) {
        return fail("store image: the ingest session is not open");
    }
    auto fault = [&](const Error &e) {
        p.failed = true;
        p.discardFiles();
        return std::unexpected(e.context("store image"));
    };
    auto reader = image::RawImageReader::open(fd);
    if (!reader) {
        return fault(reader.error());
    }
    p.header = (*reader)->header();
    XXH3_128bits_update(p.imageHash, (*reader)->headerBytes().data(), (*reader)->headerBytes().size());
    if (auto ok = p.addBytesEntry(kHeaderSectionType, (*reader)->headerBytes()); !ok) {
        return fault(ok.error());
    }
    for (;;) {
        const uint64_t readStart = cpuNs();
        auto section = (*reader)->next();
        p.stats.readNs += cpuNs() - readStart;
        if (!section) {
            return fault(section.error());
        }
        if (auto ok = p.addSection(**section); !ok) {
            return fault(ok.error());
        }
        if ((*section)->isEnd()) {
            break;
        }
    }
    p.stats.imageBytes = (*reader)->bytesRead();
    p.stats.rawBytes = p.end.rawBytes;
    if (auto ok = p.flushBlob(); !ok) {
        return fault(ok.error());
    }
    if (auto ok = p.packer->finish(); !ok) {
        return fault(ok.error());
    }
    p.applyPacked();
    p.stats.packs = p.packer->packs().size();
    p.stats.storedBytes = p.packer->storedBytes();
    p.stats.packNs = p.packer->cpuNs();
    const XXH128_hash_t digest = XXH3_128bits_digest(p.imageHash);
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, digest);
    std::memcpy(p.imageDigest.data(), canonical.digest, 16);
    p.consumed = true;
    return {};
}

Result<int64_t> SnapshotIngest::commit(const CommitInfo &info)
{
    Private &p = *d;
    if (!p.consumed || p.failed || p.committed) {
        return fail("commit snapshot: the image was not stored completely");
    }
    auto failed = [&](const Error &e) {
        abort();
        return std::unexpected(e.context("commit snapshot"));
    };
    // 1. durable data: every pack was fsync'ed when it was closed; now their directory entries
    if (!p.packer->packs().empty()) {
        if (auto ok = syncDirectory(p.store->packsDirectory()); !ok) {
            return failed(ok.error());
        }
    }
    StoreFault::point("packs-durable");

    // 2. one transaction makes it all visible
    const uint64_t commitStart = monotonicNs();
    SqliteDatabase &db = p.store->database();
    auto tx = SqliteTransaction::begin(db);
    if (!tx) {
        return failed(tx.error());
    }
    std::vector<int64_t> packIds;
    {
        auto ins = db.prepare("INSERT INTO packs (name, bytes, raw_bytes, created_at) VALUES (?1, ?2, ?3, ?4)");
        if (!ins) {
            return failed(ins.error());
        }
        const int64_t now = nowNs();
        for (const DonePack &done : p.packer->packs()) {
            ins->bind(1, std::string_view(done.name)).bind(2, int64_t(done.bytes)).bind(3, int64_t(done.rawBytes)).bind(4, now);
            if (auto ok = ins->run(); !ok) {
                return failed(ok.error());
            }
            ins->reset();
            packIds.push_back(db.lastInsertRowid());
        }
    }
    auto base = db.queryInt("SELECT coalesce(max(id), 0) FROM chunks");
    if (!base) {
        return failed(base.error());
    }
    const int64_t firstId = base->value_or(0) + 1;
    {
        auto ins = db.prepare("INSERT INTO chunks (id, hash, pack_id, blob_offset, blob_bytes, offset, size, refs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!ins) {
            return failed(ins.error());
        }
        for (size_t k = 0; k < p.newChunks.size(); ++k) {
            const NewChunk &c = p.newChunks[k];
            ins->bind(1, firstId + int64_t(k))
                .bindBlob(2, c.hash.span())
                .bind(3, packIds.at(c.pack))
                .bind(4, int64_t(c.blobOffset))
                .bind(5, int64_t(c.blobBytes))
                .bind(6, int64_t(c.offset))
                .bind(7, int64_t(c.size))
                .bind(8, int64_t(c.refs));
            if (auto ok = ins->run(); !ok) {
                return failed(ok.error());
            }
            ins->reset();
        }
    }
    {
        // references to chunks stored before, in id order (the table's
        // order), one statement per run of consecutive ids with the same count
        std::vector<std::pair<int64_t, uint32_t>> refs(p.existingRefs.begin(), p.existingRefs.end());
        std::sort(refs.begin(), refs.end());
        auto upd = db.prepare("UPDATE chunks SET refs = refs + ?1 WHERE id BETWEEN ?2 AND ?3");
        if (!upd) {
            return failed(upd.error());
        }
        for (size_t i = 0; i < refs.size();) {
            size_t j = i + 1;
            while (j < refs.size() && refs[j].first == refs[j - 1].first + 1 && refs[j].second == refs[i].second) {
                ++j;
            }
            upd->bind(1, int64_t(refs[i].second)).bind(2, refs[i].first).bind(3, refs[j - 1].first);
            if (auto ok = upd->run(); !ok) {
                return failed(ok.error());
            }
            upd->reset();
            if (db.changes() != int64_t(j - i)) {
                return failed(Error {EBADMSG, std::format("chunks {}..{} disappeared from the index while the snapshot was stored", refs[i].first, refs[j - 1].first)});
            }
            i = j;
        }
    }
    // the target
    TargetInfo target;
    if (p.options.target) {
        target = *p.options.target;
    } else {
        target.host = p.header.hostname;
        target.kernel = p.header.kernelRelease;
        target.pid = p.tree.rootPid;
        target.exe = p.rootTask ? p.rootTask->exePath : std::string();
        target.uid = p.rootCreds ? p.rootCreds->uid : 0;
    }
    int64_t targetId = 0;
    {
        auto ins = db.prepare(
            "INSERT INTO targets (host, uid, user, exe, cmdline, pid, start_time, kernel, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
            "ON CONFLICT (host, uid, exe, cmdline, pid, start_time) DO NOTHING");
        auto sel = db.prepare("SELECT id FROM targets WHERE host = ?1 AND uid = ?2 AND exe = ?3 AND cmdline = ?4 AND pid = ?5 AND start_time = ?6");
        if (!ins || !sel) {
            return failed(!ins ? ins.error() : sel.error());
        }
        ins->bind(1, std::string_view(target.host))
            .bind(2, int64_t(target.uid))
            .bind(3, std::string_view(target.user))
            .bind(4, std::string_view(target.exe))
            .bind(5, std::string_view(target.cmdline))
            .bind(6, int64_t(target.pid))
            .bind(7, target.startTimeNs)
            .bind(8, std::string_view(target.kernel))
            .bind(9, nowNs());
        if (auto ok = ins->run(); !ok) {
            return failed(ok.error());
        }
        sel->bind(1, std::string_view(target.host))
            .bind(2, int64_t(target.uid))
            .bind(3, std::string_view(target.exe))
            .bind(4, std::string_view(target.cmdline))
            .bind(5, int64_t(target.pid))
            .bind(6, target.startTimeNs);
        auto row = sel->step();
        if (!row || !*row) {
            return failed(!row ? row.error() : Error {EBADMSG, "the target row vanished"});
        }
        targetId = sel->columnInt(0);
    }
    int64_t parentId = 0;
    {
        auto q = db.prepare("SELECT id FROM snapshots WHERE target_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1");
        if (!q) {
            return failed(q.error());
        }
        q->bind(1, targetId);
        auto row = q->step();
        if (!row) {
            return failed(row.error());
        }
        if (*row) {
            parentId = q->columnInt(0);
        }
    }
    const uint64_t durationNs = info.durationNs ? info.durationNs : monotonicNs() - p.startNs;
    int64_t snapshotId = 0;
    {
        auto ins = db.prepare(
            "INSERT INTO snapshots (target_id, created_at, stored_at, label, note, pinned, parent_id, origin, root_pid, comm, image_bytes, raw_bytes, pages, "
            "sections, stored_bytes, duration_ns, pause_ns, engine_version, format_version, codec, image_hash, status, schedule_id) "
            "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, 'complete', ?21)");
        if (!ins) {
            return failed(ins.error());
        }
        const std::string codecName = image::bulkCodecVersion();
        const std::string comm = p.rootTask ? p.rootTask->comm : std::string();
        ins->bind(1, targetId)
            .bind(2, int64_t(p.header.createdUnixNs))
            .bind(3, nowNs())
            .bind(4, std::string_view(p.options.label))
            .bind(5, std::string_view(p.options.note));
        if (parentId) {
            ins->bind(6, parentId);
        } else {
            ins->bindNull(6);
        }
        ins->bind(7, std::string_view(p.options.origin))
            .bind(8, int64_t(p.tree.rootPid))
            .bind(9, std::string_view(comm))
            .bind(10, int64_t(p.stats.imageBytes))
            .bind(11, int64_t(p.end.rawBytes))
            .bind(12, int64_t(p.end.pagesStored))
            .bind(13, int64_t(p.end.sections))
            .bind(14, int64_t(p.stats.storedBytes))
            .bind(15, int64_t(durationNs))
            .bind(16, int64_t(info.pauseNs))
            .bind(17, std::string_view(p.header.engineVersion))
            .bind(18, int64_t(p.header.formatVersion))
            .bind(19, std::string_view(codecName))
            .bindBlob(20, p.imageDigest);
        if (p.options.scheduleId) {
            ins->bind(21, p.options.scheduleId);
        } else {
            ins->bindNull(21);
        }
        if (auto ok = ins->run(); !ok) {
            return failed(ok.error());
        }
        snapshotId = db.lastInsertRowid();
    }
    // the manifest, with this session's ids made final
    for (ManifestEntry &e : p.manifest) {
        auto finalId = [&](int64_t id) {
            return id < 0 ? firstId + (-id - 1) : id;
        };
        e.fieldChunk = finalId(e.fieldChunk);
        for (int64_t &id : e.chunks) {
            id = finalId(id);
        }
    }
    if (auto ok = Manifest::save(db, snapshotId, p.manifest); !ok) {
        return failed(ok.error());
    }
    StoreFault::point("commit-before");
    if (auto ok = tx->commit(); !ok) {
        return failed(ok.error());
    }
    p.committed = true;
    p.stats.commitNs = monotonicNs() - commitStart;
    StoreFault::point("commit-after");
    p.lock.reset();
    return snapshotId;
}

} // namespace cryopod::store
