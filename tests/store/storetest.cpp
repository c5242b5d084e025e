// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The snapshot store against real images: real processes (store_churn)
// checkpointed by the real engine, stored in a real store (SQLite file, pack
// files), rebuilt and compared byte for byte. Runs as root (the engine).
//
//  - an image goes in and comes out identical (rebuild, export); the zstd
//    encoding was found and checked
//  - a second snapshot of the same process costs about what changed
//  - zero pages cost nothing; images whose frames cannot be re-encoded are
//    kept as they are and still come out identical
//  - timeline: targets, parents, labels, notes, pins, listing by target/time
//  - delete + gc reclaim exactly what no snapshot needs
//  - a corrupted chunk is found by check, its snapshot fails to rebuild with
//    a clear error, the others still rebuild
//  - a full disk (20 MiB tmpfs) fails the snapshot cleanly, earlier ones intact
//  - snapshot a live process through the engine, diff, kill it, restore it
//    from the store: it comes back with the same memory
#include "bulkcodec.h"
#include "chunkhash.h"
#include "directengine.h"
#include "imagewriter.h"
#include "manifest.h"
#include "packformat.h"
#include "sampleimage.h"
#include "snapshotdiff.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "storetestsupport.h"
#include "targetprobe.h"

#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

using namespace cryopod;
using namespace cryopod::store;
using StoreTestSupport::Churn;
using StoreTestSupport::readFile;

namespace
{
std::string describe(const Error &e)
{
    return e.describe();
}

// The snapshot's image, rebuilt into a string.
std::string rebuilt(SnapshotStore &store, int64_t id, RebuildResult *result = nullptr, std::string *error = nullptr)
{
    char name[] = "/tmp/cryopod-rebuild-XXXXXX";
    const int fd = ::mkstemp(name);
    ::unlink(name);
    auto r = store.rebuild(id, fd);
    std::string out;
    if (r) {
        ::lseek(fd, 0, SEEK_SET);
        char buf[1 << 16];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            out.append(buf, size_t(n));
        }
        if (result) {
            *result = *r;
        }
    } else if (error) {
        *error = r.error().describe();
    }
    ::close(fd);
    return out;
}

int64_t importOrFail(SnapshotStore &store, const std::string &path, IngestStats *stats = nullptr, IngestOptions options = {})
{
    auto id = store.importImage(path, options, stats);
    if (!id) {
        qWarning("import %s: %s", path.c_str(), id.error().describe().c_str());
        return 0;
    }
    return *id;
}

int64_t queryInt(SqliteDatabase &db, const std::string &sql)
{
    auto v = db.queryInt(sql);
    return v && *v ? **v : -1;
}

std::string writeBytes(const std::string &path, const std::vector<uint8_t> &bytes)
{
    StoreTestSupport::writeFile(path, std::string(bytes.begin(), bytes.end()));
    return path;
}
} // namespace

class StoreTest : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    Churn m_churn; // 16 MiB, 2 % per change
    Churn m_other; // 8 MiB, other content
    std::string m_imageA; // m_churn, generation 0
    std::string m_imageB; // m_churn, generation 1
    std::string m_imageC; // m_other
    int m_stores = 0;

    std::string path(const std::string &name) const
    {
        return m_dir.path().toStdString() + "/" + name;
    }

    std::unique_ptr<SnapshotStore> freshStore(std::string *dir = nullptr)
    {
        const std::string d = path("store" + std::to_string(++m_stores));
        if (dir) {
            *dir = d;
        }
        auto store = SnapshotStore::open(d);
        if (!store) {
            qWarning("open store: %s", store.error().describe().c_str());
            return nullptr;
        }
        return std::move(*store);
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0) {
            QSKIP("the store tests checkpoint real processes: run as root");
        }
        StoreTestSupport::becomeSubreaper();
        QVERIFY(m_dir.isValid());
        QVERIFY(m_churn.start(m_dir.path().toStdString(), 16, 2.0, 11));
        QVERIFY(m_other.start(m_dir.path().toStdString(), 8, 2.0, 12));
        m_imageA = path("a.img");
        m_imageB = path("b.img");
        m_imageC = path("c.img");
        QVERIFY(m_churn.checkpointTo(m_imageA));
        QVERIFY(m_churn.change());
        QVERIFY(m_churn.checkpointTo(m_imageB));
        QVERIFY(m_other.checkpointTo(m_imageC));
    }

    void imageComesBackIdentical()
    {
        auto store = freshStore();
        QVERIFY(store);
        IngestStats stats;
        const int64_t id = importOrFail(*store, m_imageA, &stats);
        QVERIFY(id > 0);
        QVERIFY(stats.bulkSections > 0);
        QVERIFY(stats.verifiedSections >= 1);
        QCOMPARE(stats.verbatimSections, uint64_t(0)); // the engine's frames re-encode exactly
        QCOMPARE(stats.imageBytes, uint64_t(readFile(m_imageA).size()));
        RebuildResult result;
        QVERIFY(rebuilt(*store, id, &result) == readFile(m_imageA));
        QVERIFY(result.identical);
        QCOMPARE(result.reencodedSections, uint64_t(0));
        const std::string exported = path("a-export.img");
        auto ex = store->exportImage(id, exported);
        QVERIFY2(ex, ex ? "" : describe(ex.error()).c_str());
        QVERIFY(readFile(exported) == readFile(m_imageA));
        QVERIFY(::access((exported + ".partial").c_str(), F_OK) != 0);
        auto info = store->snapshot(id);
        QVERIFY(info);
        QCOMPARE(info->origin, std::string("import"));
        QCOMPARE(info->rootPid, int32_t(m_churn.pid()));
        QCOMPARE(info->comm, std::string("store_churn"));
        QCOMPARE(info->imageBytes, stats.imageBytes);
        QCOMPARE(info->codec, image::bulkCodecVersion());
        auto report = store->check({true});
        QVERIFY(report);
        QVERIFY2(report->ok(), report->problems.empty() ? "" : report->problems.front().c_str());
        QVERIFY(report->garbage.empty());
    }

    // The stream cryopodctl snapshot sends by default: pages without zstd.
    // The store hashes them where they lie, compresses what it keeps, and
    // gives the same uncompressed image back; a compressed image of the same
    // memory then adds almost nothing.
    void uncompressedImageIsStoredCompressed()
    {
        const std::string rawImage = path("uncompressed.img");
        const std::string zstdImage = path("compressed.img");
        QVERIFY(m_churn.checkpointTo(rawImage, false));
        QVERIFY(m_churn.checkpointTo(zstdImage));
        auto store = freshStore();
        QVERIFY(store);
        IngestStats raw, again;
        const int64_t id = importOrFail(*store, rawImage, &raw);
        QVERIFY(id > 0);
        QVERIFY(importOrFail(*store, zstdImage, &again) > 0);
        const std::string bytes = readFile(rawImage);
        QCOMPARE(raw.imageBytes, uint64_t(bytes.size()));
        QVERIFY(raw.bulkSections > 0);
        QCOMPARE(raw.verifiedSections + raw.verbatimSections + raw.decodeNs, uint64_t(0)); // nothing to decode or re-encode
        // the image holds its pages as they are, the store keeps them
        // compressed (the churn pages are half text)
        QVERIFY(raw.imageBytes >= raw.rawBytes);
        QVERIFY2(raw.storedBytes < raw.imageBytes * 3 / 4, std::to_string(raw.storedBytes).c_str());
        QVERIFY2(again.newBytes < again.rawBytes / 10, std::to_string(again.newBytes).c_str());
        RebuildResult result;
        QVERIFY(rebuilt(*store, id, &result) == bytes);
        QVERIFY(result.identical);
        auto report = store->check({true});
        QVERIFY(report);
        QVERIFY2(report->ok(), report->problems.empty() ? "" : report->problems.front().c_str());
        ::unlink(rawImage.c_str());
        ::unlink(zstdImage.c_str());
    }

    void everySectionVerified()
    {
        auto store = freshStore();
        QVERIFY(store);
        IngestOptions options;
        options.verify = VerifyPolicy::EverySection;
        options.encodingHint = {3, false}; // a wrong hint: the right encoding is still found
        IngestStats stats;
        const int64_t id = importOrFail(*store, m_imageA, &stats, options);
        QVERIFY(id > 0);
        QCOMPARE(stats.verifiedSections, stats.bulkSections);
        QCOMPARE(stats.verbatimSections, uint64_t(0));
        QVERIFY(rebuilt(*store, id) == readFile(m_imageA));
    }

    void secondSnapshotCostsLittle()
    {
        std::string dir;
        auto store = freshStore(&dir);
        QVERIFY(store);
        IngestStats first, second;
        const int64_t a = importOrFail(*store, m_imageA, &first);
        const uint64_t afterFirst = StoreTestSupport::treeBytes(dir + "/packs");
        const int64_t b = importOrFail(*store, m_imageB, &second);
        QVERIFY(a > 0 && b > 0);
        const uint64_t afterSecond = StoreTestSupport::treeBytes(dir + "/packs");
        // 2 % of the 4096 pages changed (82 page rewrites): the second image adds only those
        QVERIFY2(second.newChunks <= 100, std::to_string(second.newChunks).c_str());
        QVERIFY2(second.newChunks >= 40, std::to_string(second.newChunks).c_str());
        QVERIFY2(second.storedBytes * 10 < first.storedBytes, (std::to_string(second.storedBytes) + " vs " + std::to_string(first.storedBytes)).c_str());
        QVERIFY(afterSecond < afterFirst + afterFirst / 10);
        // the same image again adds nothing but its own small sections' references
        IngestStats third;
        const int64_t c = importOrFail(*store, m_imageB, &third);
        QVERIFY(c > 0);
        QCOMPARE(third.newChunks, uint64_t(0));
        QCOMPARE(third.storedBytes, uint64_t(0));
        for (const auto &[id, image] : {std::pair(a, m_imageA), {b, m_imageB}, {c, m_imageB}}) {
            QVERIFY(rebuilt(*store, id) == readFile(image));
        }
    }

    void zeroPagesCostNothingAndFileDataWorks()
    {
        // The engine leaves zero pages out of its images; other writers may not.
        using namespace cryopod::image;
        const test::SampleImage plain = test::SampleImage::make(64);
        test::SampleImage sample = plain;
        size_t zeroPages = 0;
        for (PagesRecord &p : sample.pages) {
            for (size_t at = 0; at + 2 * 4096 <= p.data.size(); at += 3 * 4096) {
                std::fill(p.data.begin() + long(at), p.data.begin() + long(at + 4096), 0);
                ++zeroPages;
            }
        }
        QVERIFY(zeroPages > 10);
        QVERIFY(!sample.fileData.empty());
        const std::string plainFile = writeBytes(path("sample-plain.img"), test::writeToBytes(plain));
        const std::string file = writeBytes(path("sample.img"), test::writeToBytes(sample));
        IngestStats plainStats;
        auto plainStore = freshStore();
        QVERIFY(plainStore);
        QVERIFY(importOrFail(*plainStore, plainFile, &plainStats) > 0);
        auto store = freshStore();
        QVERIFY(store);
        IngestStats stats;
        const int64_t id = importOrFail(*store, file, &stats);
        QVERIFY(id > 0);
        QCOMPARE(stats.zeroChunks, uint64_t(zeroPages));
        // the same image with those pages zero stores exactly their bytes less
        QCOMPARE(stats.newBytes + zeroPages * 4096, plainStats.newBytes);
        QCOMPARE(stats.newChunks + zeroPages, plainStats.newChunks);
        QVERIFY(stats.storedBytes < plainStats.storedBytes);
        QVERIFY(rebuilt(*store, id) == readFile(file));
        // also with the encoding the writer uses without threads, and at another level
        WriterOptions single;
        single.workers = -1;
        single.compressionLevel = 5;
        const std::string file2 = writeBytes(path("sample-l5.img"), test::writeToBytes(sample, single));
        IngestOptions hinted;
        hinted.encodingHint = bulkEncodingOf(single);
        IngestStats stats2;
        const int64_t id2 = importOrFail(*store, file2, &stats2, hinted);
        QVERIFY(id2 > 0);
        QCOMPARE(stats2.verbatimSections, uint64_t(0));
        QCOMPARE(stats2.newChunks, uint64_t(0)) ; // same pages, same section contents: all known
        QVERIFY(rebuilt(*store, id2) == readFile(file2));
    }

    void framesThatDoNotReencodeAreKeptAsTheyAre()
    {
        // A producer whose zstd frames carry a content checksum (ImageWriter never
        // sets one): re-encoding cannot reproduce them, the store keeps them as bytes.
        using namespace cryopod::image;
        test::SampleImage sample = test::SampleImage::make(32);
        const std::vector<uint8_t> original = test::writeToBytes(sample);
        const test::Wire wire = test::parseWire(original);
        std::vector<uint8_t> headerBytes(original.begin(), original.begin() + long(wire.headerSize));
        std::vector<std::vector<uint8_t>> sections;
        size_t pagesIndex = 0;
        for (const test::WireSection &w : wire.sections) {
            if (w.type == uint32_t(SectionType::End)) {
                continue;
            }
            std::vector<uint8_t> bytes(original.begin() + long(w.offset), original.begin() + long(w.offset + w.size));
            if (w.type == uint32_t(SectionType::Pages)) {
                const PagesRecord &p = sample.pages[pagesIndex++];
                const size_t fieldBytes = size_t(w.rawLength - p.data.size());
                std::vector<uint8_t> payload(bytes.begin() + 24, bytes.begin() + 24 + long(fieldBytes));
                const size_t bound = ZSTD_compressBound(p.data.size());
                std::vector<uint8_t> z(bound);
                ZSTD_CCtx *c = ZSTD_createCCtx();
                ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 2);
                ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
                z.resize(ZSTD_compress2(c, z.data(), bound, p.data.data(), p.data.size()));
                ZSTD_freeCCtx(c);
                payload.insert(payload.end(), z.begin(), z.end());
                bytes = test::frame(w.type, kSectionZstd, payload, w.rawLength);
            }
            sections.push_back(bytes);
        }
        const std::string file = writeBytes(path("checksummed.img"), test::assemble(headerBytes, sections));
        const std::string crafted = readFile(file);
        const std::string craftedError = test::readError(std::vector<uint8_t>(crafted.begin(), crafted.end()));
        QVERIFY2(craftedError.empty(), craftedError.c_str());
        auto store = freshStore();
        QVERIFY(store);
        IngestStats stats;
        const int64_t id = importOrFail(*store, file, &stats);
        QVERIFY(id > 0);
        QCOMPARE(stats.verbatimSections, uint64_t(pagesIndex));
        QVERIFY(rebuilt(*store, id) == readFile(file));
        auto report = store->check({true});
        QVERIFY(report && report->ok());
    }

    void reencodingThatNoLongerMatches()
    {
        // What a different zstd would do: the recorded encoding no longer
        // reproduces the stored frames. Simulated by changing the level a
        // manifest entry records.
        using namespace cryopod::image;
        auto store = freshStore();
        QVERIFY(store);
        const int64_t id = importOrFail(*store, m_imageC);
        QVERIFY(id > 0);
        QVERIFY(store->database().exec(std::format("UPDATE manifest SET level = 7 WHERE snapshot_id = {} AND kind = 1", id)));
        std::string error;
        QVERIFY(rebuilt(*store, id, nullptr, &error).empty());
        QVERIFY2(error.find("re-encodes to different bytes") != std::string::npos, error.c_str());

        // not exact: an equivalent image, valid, with the same records and pages
        RebuildOptions equivalent;
        equivalent.exact = false;
        const std::string out = path("equivalent.img");
        auto r = store->exportImage(id, out, equivalent);
        QVERIFY2(r, r ? "" : describe(r.error()).c_str());
        QVERIFY(r->reencodedSections > 0);
        QVERIFY(!r->identical);
        const std::string a = readFile(m_imageC);
        const std::string b = readFile(out);
        QVERIFY(a != b);
        auto original = test::readAll(std::vector<uint8_t>(a.begin(), a.end()));
        auto again = test::readAll(std::vector<uint8_t>(b.begin(), b.end()));
        QVERIFY2(again, again ? "" : describe(again.error()).c_str());
        QVERIFY(original);
        QVERIFY(*original == *again);

        // check: damage while the same zstd stored it, a note once the library changed
        auto report = store->check({true});
        QVERIFY(report && !report->ok() && report->damagedSnapshots.contains(id));
        QVERIFY(store->database().exec(std::format("UPDATE snapshots SET codec = 'zstd 0.0.1' WHERE id = {}", id)));
        report = store->check({true});
        QVERIFY(report);
        QVERIFY2(report->ok(), report->problems.empty() ? "" : report->problems.front().c_str());
        QCOMPARE(report->notes.size(), size_t(1));
        QVERIFY(report->notes.front().find("zstd 0.0.1") != std::string::npos);
    }

    void timeline()
    {
        auto store = freshStore();
        QVERIFY(store);
        const int64_t a = importOrFail(*store, m_imageA);
        const int64_t c = importOrFail(*store, m_imageC);
        const int64_t b = importOrFail(*store, m_imageB);
        QVERIFY(a > 0 && b > 0 && c > 0);
        auto sa = store->snapshot(a);
        auto sb = store->snapshot(b);
        auto sc = store->snapshot(c);
        QVERIFY(sa && sb && sc);
        // the same process is the same target; its second snapshot's parent is its first
        QCOMPARE(sa->targetId, sb->targetId);
        QVERIFY(sc->targetId != sa->targetId);
        QCOMPARE(sb->parentId, a);
        QCOMPARE(sa->parentId, int64_t(0));
        QVERIFY(sa->createdAtNs < sb->createdAtNs);

        auto all = store->list();
        QVERIFY(all);
        QCOMPARE(all->size(), size_t(3));
        // by time of the image: a, then b and c in the order they were taken
        QCOMPARE(all->front().id, a);
        SnapshotFilter byTarget;
        byTarget.targetId = sa->targetId;
        auto mine = store->list(byTarget);
        QVERIFY(mine);
        QCOMPARE(mine->size(), size_t(2));
        QCOMPARE((*mine)[0].id, a);
        QCOMPARE((*mine)[1].id, b);
        SnapshotFilter since;
        since.sinceNs = sb->createdAtNs;
        auto later = store->list(since);
        QVERIFY(later);
        for (const SnapshotInfo &s : *later) {
            QVERIFY(s.createdAtNs >= sb->createdAtNs);
        }
        QVERIFY(std::any_of(later->begin(), later->end(), [&](const SnapshotInfo &s) {
            return s.id == b;
        }));
        SnapshotFilter newest;
        newest.newestFirst = true;
        newest.limit = 1;
        auto one = store->list(newest);
        QVERIFY(one && one->size() == 1);
        QCOMPARE(one->front().createdAtNs, std::max({sa->createdAtNs, sb->createdAtNs, sc->createdAtNs}));

        QVERIFY(store->setLabel(b, "after change"));
        QVERIFY(store->setNote(b, "2 % of the pages"));
        QVERIFY(store->setPinned(b, true));
        QVERIFY(store->setTargetLabel(sb->targetId, "churn"));
        auto edited = store->snapshot(b);
        QVERIFY(edited);
        QCOMPARE(edited->label, std::string("after change"));
        QCOMPARE(edited->note, std::string("2 % of the pages"));
        QVERIFY(edited->pinned);
        QCOMPARE(edited->targetLabel, std::string("churn"));
        QVERIFY(!store->setLabel(9999, "x"));

        // a pinned snapshot stays unless forced; deleting a parent re-links its child
        auto refused = store->remove(b);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, EPERM);
        QVERIFY(store->snapshot(b));
        QVERIFY(store->remove(a));
        auto orphan = store->snapshot(b);
        QVERIFY(orphan);
        QCOMPARE(orphan->parentId, int64_t(0));
        QVERIFY(store->remove(b, true));
        QVERIFY(!store->snapshot(b));
        auto targets = store->targets();
        QVERIFY(targets);
        // the labelled target stays, the other with its snapshot c
        QCOMPARE(targets->size(), size_t(2));
    }

    void deleteAndGcReclaim()
    {
        std::string dir;
        auto store = freshStore(&dir);
        QVERIFY(store);
        const int64_t a = importOrFail(*store, m_imageA);
        const int64_t b = importOrFail(*store, m_imageB);
        const int64_t c = importOrFail(*store, m_imageC);
        QVERIFY(a > 0 && b > 0 && c > 0);
        const uint64_t full = StoreTestSupport::treeBytes(dir + "/packs");

        // c shares nothing with a and b: deleting it frees its whole pack
        QVERIFY(store->remove(c));
        auto report = store->check();
        QVERIFY(report && report->ok());
        QVERIFY(!report->garbage.empty()); // c's chunks wait for gc
        auto gc = store->gc();
        QVERIFY2(gc, gc ? "" : describe(gc.error()).c_str());
        QVERIFY(gc->chunksRemoved > 0);
        QVERIFY(gc->packsDeleted >= 1);
        const uint64_t withoutC = StoreTestSupport::treeBytes(dir + "/packs");
        QVERIFY(withoutC < full);
        QVERIFY(rebuilt(*store, a) == readFile(m_imageA));
        QVERIFY(rebuilt(*store, b) == readFile(m_imageB));

        // a shares 98 % of its pages with b: deleting it frees only what b does not use
        QVERIFY(store->remove(a));
        auto gc2 = store->gc();
        QVERIFY(gc2);
        QVERIFY(gc2->chunksRemoved > 0);
        QVERIFY(gc2->chunksRemoved < 200);
        QVERIFY(rebuilt(*store, b) == readFile(m_imageB));
        report = store->check({true});
        QVERIFY(report && report->ok());
        QVERIFY(report->garbage.empty());

        // the last one: nothing is left
        QVERIFY(store->remove(b));
        auto gc3 = store->gc();
        QVERIFY(gc3);
        QCOMPARE(queryInt(store->database(), "SELECT count(*) FROM chunks"), int64_t(0));
        QCOMPARE(queryInt(store->database(), "SELECT count(*) FROM packs"), int64_t(0));
        QVERIFY(StoreTestSupport::listDir(dir + "/packs").empty());
    }

    void gcRewritesHalfEmptyPacks()
    {
        // A process that rewrites most of its memory between two snapshots:
        // after the first snapshot is deleted its pack is mostly dead.
        Churn busy;
        QVERIFY(busy.start(m_dir.path().toStdString(), 8, 150.0, 21));
        const std::string first = path("busy1.img");
        const std::string second = path("busy2.img");
        QVERIFY(busy.checkpointTo(first));
        QVERIFY(busy.change());
        QVERIFY(busy.checkpointTo(second));
        busy.kill();
        std::string dir;
        auto store = freshStore(&dir);
        QVERIFY(store);
        const int64_t s1 = importOrFail(*store, first);
        const int64_t s2 = importOrFail(*store, second);
        QVERIFY(s1 > 0 && s2 > 0);
        QVERIFY(store->remove(s1));
        const uint64_t before = StoreTestSupport::treeBytes(dir + "/packs");
        auto gc = store->gc();
        QVERIFY2(gc, gc ? "" : describe(gc.error()).c_str());
        QCOMPARE(gc->packsRepacked, uint64_t(1));
        const uint64_t after = StoreTestSupport::treeBytes(dir + "/packs");
        QVERIFY2(after < before * 8 / 10, (std::to_string(after) + " vs " + std::to_string(before)).c_str());
        QVERIFY(rebuilt(*store, s2) == readFile(second));
        auto report = store->check({true});
        QVERIFY(report && report->ok() && report->garbage.empty());
    }

    void corruptedChunkIsFoundAndContained()
    {
        std::string dir;
        auto store = freshStore(&dir);
        QVERIFY(store);
        const int64_t a = importOrFail(*store, m_imageA);
        const int64_t c = importOrFail(*store, m_imageC);
        QVERIFY(a > 0 && c > 0);
        // a data chunk of a's first page section, which only a uses
        auto manifest = Manifest::load(store->database(), a);
        QVERIFY(manifest);
        int64_t victim = 0;
        for (const ManifestEntry &e : *manifest) {
            if (e.kind == ManifestKind::Bulk && e.chunks.size() > 10) {
                victim = e.chunks[10];
                break;
            }
        }
        QVERIFY(victim > 0);
        auto q = store->database().prepare("SELECT p.name, c.blob_offset, c.blob_bytes, c.refs FROM chunks c JOIN packs p ON p.id = c.pack_id WHERE c.id = ?1");
        QVERIFY(q);
        q->bind(1, victim);
        auto row = q->step();
        QVERIFY(row && *row);
        const std::string pack = dir + "/packs/" + q->columnText(0);
        const uint64_t offset = uint64_t(q->columnInt(1));
        const uint64_t bytes = uint64_t(q->columnInt(2));
        QCOMPARE(q->columnInt(3), int64_t(1));
        // flip one byte in the middle of the blob's stored bytes
        const int fd = ::open(pack.c_str(), O_RDWR);
        QVERIFY(fd >= 0);
        uint8_t byte = 0;
        const off_t at = off_t(offset + kBlobHeaderBytes + (bytes - kBlobHeaderBytes) / 2);
        QCOMPARE(::pread(fd, &byte, 1, at), ssize_t(1));
        byte ^= 0x40;
        QCOMPARE(::pwrite(fd, &byte, 1, at), ssize_t(1));
        ::close(fd);

        auto report = store->check();
        QVERIFY(report);
        QVERIFY(!report->ok());
        QCOMPARE(report->damagedSnapshots, std::set<int64_t>({a}));
        bool named = false;
        for (const std::string &p : report->problems) {
            if (p.find("chunk " + std::to_string(victim) + " is damaged") != std::string::npos && p.find("checksum mismatch") != std::string::npos
                && p.find("used by snapshot " + std::to_string(a)) != std::string::npos) {
                named = true;
            }
        }
        QVERIFY2(named, report->problems.front().c_str());

        std::string error;
        QVERIFY(rebuilt(*store, a, nullptr, &error).empty());
        QVERIFY2(error.find("rebuild snapshot " + std::to_string(a)) != std::string::npos && error.find("damaged") != std::string::npos, error.c_str());
        QVERIFY(rebuilt(*store, c) == readFile(m_imageC));
        // export of the damaged one leaves no file behind
        QVERIFY(!store->exportImage(a, path("damaged.img")));
        QVERIFY(::access(path("damaged.img").c_str(), F_OK) != 0);
        QVERIFY(::access(path("damaged.img.partial").c_str(), F_OK) != 0);
    }

    void fullDiskFailsCleanly()
    {
        const std::string mnt = path("small");
        QVERIFY(::mkdir(mnt.c_str(), 0700) == 0);
        if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=20m") != 0) {
            QSKIP(qPrintable(QStringLiteral("cannot mount a tmpfs: %1").arg(QString::fromLocal8Bit(std::strerror(errno)))));
        }
        struct Unmount {
            std::string at;
            ~Unmount()
            {
                ::umount2(at.c_str(), MNT_DETACH);
            }
        } unmount {mnt};
        // 48 MiB of memory, half of it random: far more than 20 MiB
        Churn big;
        QVERIFY(big.start(m_dir.path().toStdString(), 48, 2.0, 31));
        const std::string bigImage = path("big.img");
        QVERIFY(big.checkpointTo(bigImage));
        big.kill();

        auto opened = SnapshotStore::open(mnt + "/store");
        QVERIFY(opened);
        SnapshotStore &store = **opened;
        const int64_t c = importOrFail(store, m_imageC);
        QVERIFY(c > 0);
        const auto packsBefore = StoreTestSupport::listDir(mnt + "/store/packs");

        auto failed = store.importImage(bigImage);
        QVERIFY(!failed);
        QVERIFY2(failed.error().code == ENOSPC, describe(failed.error()).c_str());
        QVERIFY2(describe(failed.error()).find("No space left on device") != std::string::npos, describe(failed.error()).c_str());
        // the failed snapshot left nothing: not in the index, no pack files
        auto list = store.list();
        QVERIFY(list);
        QCOMPARE(list->size(), size_t(1));
        QCOMPARE(StoreTestSupport::listDir(mnt + "/store/packs"), packsBefore);
        QVERIFY(rebuilt(store, c) == readFile(m_imageC));
        auto report = store.check({true});
        QVERIFY(report && report->ok());
        QVERIFY(report->garbage.empty());
        // and the store keeps working
        QVERIFY(store.setLabel(c, "still here"));
        const int64_t again = importOrFail(store, m_imageC);
        QVERIFY(again > 0);
    }

    void snapshotDiffAndRestoreLiveProcess()
    {
        auto store = freshStore();
        QVERIFY(store);
        Churn live;
        QVERIFY(live.start(m_dir.path().toStdString(), 8, 2.0, 41));
        const std::string hash0 = live.hash();
        QVERIFY(!hash0.empty());

        auto target = TargetProbe::probe(live.pid());
        QVERIFY(target);
        QCOMPARE(target->pid, int32_t(live.pid()));
        QVERIFY(target->exe.ends_with("store_churn"));
        QVERIFY(target->startTimeNs > 0);
        IngestOptions options;
        options.target = *target;
        options.label = "before";
        DirectEngine::Producer producer;
        auto s1 = SnapshotJob::take(*store, producer, live.pid(), options);
        QVERIFY2(s1, s1 ? "" : describe(s1.error()).c_str());
        QVERIFY(s1->producer.pauseNs > 0);
        QVERIFY(live.change());
        options.label = "after";
        auto s2 = SnapshotJob::take(*store, producer, live.pid(), options);
        QVERIFY2(s2, s2 ? "" : describe(s2.error()).c_str());
        auto info2 = store->snapshot(s2->id);
        QVERIFY(info2);
        QCOMPARE(info2->parentId, s1->id);
        QCOMPARE(info2->origin, std::string("snapshot"));
        QVERIFY(info2->pauseNs > 0);

        auto diff = SnapshotDiff::compare(*store, s1->id, s2->id);
        QVERIFY2(diff, diff ? "" : describe(diff.error()).c_str());
        // 41 page rewrites in the 8 MiB area (a page may be picked twice), plus the stack and data pages it touched
        QVERIFY2(diff->pagesChanged >= 30 && diff->pagesChanged <= 60, std::to_string(diff->pagesChanged).c_str());
        QVERIFY(std::any_of(diff->regions.begin(), diff->regions.end(), [](const RegionDiff &r) {
            return r.changed >= 30 && r.end - r.start >= 8u << 20;
        }));
        QVERIFY(diff->processes.empty());
        // its log grew: fd 1's position moved
        QVERIFY(std::any_of(diff->fds.begin(), diff->fds.end(), [](const std::string &f) {
            return f.find("fd 1:") != std::string::npos && f.find("position") != std::string::npos;
        }));
        auto same = SnapshotDiff::compare(*store, s1->id, s1->id);
        QVERIFY(same && same->identical() && same->pagesSame > 2000);

        // the process goes away; snapshot 1 brings it back with its memory as it was
        const pid_t pid = live.pid();
        live.kill();
        DirectEngine::Consumer consumer;
        auto restored = SnapshotJob::restore(*store, s1->id, consumer);
        QVERIFY2(restored, restored ? "" : describe(restored.error()).c_str());
        QCOMPARE(restored->consumer.pid, pid);
        QVERIFY(restored->rebuild.identical);
        live.adopt(pid);
        const std::string hashAfter = live.hash();
        QCOMPARE(hashAfter, hash0);
    }
};

QTEST_GUILESS_MAIN(StoreTest)
#include "storetest.moc"
