// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ImageReader::nextStored and PageDecoder, what a restore decompresses page
// data in parallel with: the same sections and page contents as next(), on
// any thread, with recycled buffers; a corrupted section is refused before
// anything of it is handed out; a damaged zstd frame behind a valid checksum
// fails the decode with the section named.
#include "imagereader.h"
#include "sampleimage.h"

#include <QTest>

#include <algorithm>
#include <cstring>
#include <thread>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::image;
using namespace cryopod::image::test;

namespace
{
// Reads bytes with nextStored(); pages decoded on `threads` other threads
// (round robin), each with its own PageDecoder. Returns the sections with
// Pages turned back into PagesRecords, End included, or the first error.
// With chunk > 0 the pages are decoded piece by piece through a buffer of
// that size and put together again.
// With defer, the reader leaves uncompressed page data in the file
// (ReaderLimits::deferRawPages; a memfd is a regular file) and *deferred
// counts the sections it left.
Result<std::vector<Section>> readStored(const std::vector<uint8_t> &bytes, unsigned threads, size_t chunk = 0, bool defer = false, size_t *deferred = nullptr)
{
    const int fd = memfdWith(bytes);
    ReaderLimits limits;
    limits.deferRawPages = defer;
    auto reader = ImageReader::open(fd, limits);
    if (!reader) {
        ::close(fd);
        return std::unexpected(reader.error());
    }
    std::vector<PageDecoder> decoders(threads);
    std::vector<Section> out;
    Result<void> failure;
    size_t pagesSeen = 0;
    for (;;) {
        auto item = (*reader)->nextStored();
        if (!item) {
            ::close(fd);
            return std::unexpected(item.error());
        }
        if (auto *stored = std::get_if<StoredPages>(&*item)) {
            if (deferred && stored->deferred()) {
                ++*deferred;
            }
            PagesRecord record;
            record.pid = stored->pid;
            record.runs = stored->runs;
            record.data.resize(stored->dataLength);
            PageDecoder &decoder = decoders[pagesSeen++ % threads];
            std::thread t([&] {
                if (chunk == 0) {
                    failure = decoder.decode(*stored, record.data);
                    return;
                }
                std::vector<uint8_t> piece(chunk);
                uint64_t expected = 0;
                failure = decoder.decode(*stored, piece, [&](uint64_t offset, std::span<const uint8_t> data) -> Result<void> {
                    if (offset != expected || data.size() > chunk || offset + data.size() > record.data.size()
                        || (data.size() < chunk && offset + data.size() != record.data.size())) {
                        return fail("pieces out of order or of the wrong size");
                    }
                    std::memcpy(record.data.data() + offset, data.data(), data.size());
                    expected += data.size();
                    return {};
                });
                if (failure && expected != record.data.size()) {
                    failure = fail("pieces do not add up to the data");
                }
            });
            t.join();
            if (!failure) {
                ::close(fd);
                return std::unexpected(failure.error());
            }
            (*reader)->recycle(std::move(*stored));
            out.emplace_back(std::move(record));
            continue;
        }
        out.push_back(std::get<Section>(std::move(*item)));
        if (std::holds_alternative<EndRecord>(out.back())) {
            break;
        }
    }
    ::close(fd);
    return out;
}

// The offset of the first Pages section's zstd frame magic in bytes.
size_t zstdMagicOf(const std::vector<uint8_t> &bytes, const WireSection &section)
{
    static const uint8_t magic[] = {0x28, 0xb5, 0x2f, 0xfd};
    const auto begin = bytes.begin() + ptrdiff_t(section.offset + 24);
    const auto end = begin + ptrdiff_t(section.payloadLength);
    const auto at = std::search(begin, end, std::begin(magic), std::end(magic));
    return at == end ? 0 : size_t(at - bytes.begin());
}
} // namespace

class ImageStoredTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sameAsNext_data()
    {
        QTest::addColumn<int>("level");
        QTest::addColumn<unsigned>("threads");
        QTest::addColumn<int>("chunk");
        QTest::addColumn<bool>("raw");
        QTest::newRow("zstd, 1 thread") << 1 << 1u << 0 << false;
        QTest::newRow("zstd, 3 threads") << 3 << 3u << 0 << false;
        QTest::newRow("zstd, 3 pages at a time") << 1 << 2u << 3 * 4096 << false;
        QTest::newRow("zstd, odd pieces") << 3 << 1u << 1000 << false;
        QTest::newRow("raw, whole sections") << 1 << 2u << 0 << true;
        QTest::newRow("raw, 3 pages at a time") << 1 << 2u << 3 * 4096 << true;
        QTest::newRow("raw, odd pieces") << 1 << 1u << 1000 << true;
    }

    void sameAsNext()
    {
        QFETCH(int, level);
        QFETCH(unsigned, threads);
        QFETCH(int, chunk);
        QFETCH(bool, raw);
        const SampleImage sample = SampleImage::make(96);
        WriterOptions options;
        options.compressionLevel = level;
        options.compress = !raw;
        const std::vector<uint8_t> bytes = writeToBytes(sample, options);
        auto plain = readAll(bytes);
        QVERIFY2(plain, plain ? "" : plain.error().describe().c_str());
        // Read into memory first, and (with raw page data) left in the file
        // for the decoder: the same sections either way.
        for (bool defer : {false, true}) {
            size_t deferred = 0;
            auto stored = readStored(bytes, threads, size_t(chunk), defer, &deferred);
            QVERIFY2(stored, stored ? "" : stored.error().describe().c_str());
            QCOMPARE(stored->size(), plain->size());
            size_t pages = 0;
            for (size_t i = 0; i < plain->size(); ++i) {
                QVERIFY2((*stored)[i] == (*plain)[i], qPrintable(QStringLiteral("section %1").arg(i)));
                pages += std::holds_alternative<PagesRecord>((*plain)[i]);
            }
            QVERIFY(pages >= 4); // several sections: the recycled buffers were used again
            if (defer && raw) {
                QCOMPARE(deferred, pages); // every raw Pages section was left in the file
            } else {
                QCOMPARE(deferred, size_t(0)); // zstd sections, or not asked for
            }
        }
    }

    // A deferred section's checksum is verified as its data is read: damage
    // deep in the page data (past what nextStored() read) fails the decode,
    // naming the section; nothing is deferred from a pipe.
    void deferredSectionChecksum()
    {
        const SampleImage sample = SampleImage::make(96);
        WriterOptions options;
        options.compress = false;
        std::vector<uint8_t> bytes = writeToBytes(sample, options);
        const Wire wire = parseWire(bytes);
        const auto pages = std::max_element(wire.sections.begin(), wire.sections.end(), [](const WireSection &a, const WireSection &b) {
            return (a.type == uint32_t(SectionType::Pages) ? a.payloadLength : 0) < (b.type == uint32_t(SectionType::Pages) ? b.payloadLength : 0);
        });
        QVERIFY(pages != wire.sections.end() && pages->type == uint32_t(SectionType::Pages));
        QVERIFY2(pages->payloadLength > 70 * 1024, "the largest Pages section must reach past the part the reader reads itself");
        std::vector<uint8_t> damaged = bytes;
        damaged[pages->offset + pages->size - 100] ^= 0x40; // page data, near the end
        size_t deferred = 0;
        auto stored = readStored(damaged, 1, 4096, true, &deferred);
        QVERIFY(!stored);
        QVERIFY(deferred > 0);
        const std::string message = stored.error().describe();
        QVERIFY2(message.find("checksum mismatch") != std::string::npos && message.find("(Pages) at byte " + std::to_string(pages->offset)) != std::string::npos,
                 message.c_str());

        // The same bytes through a pipe are read the ordinary way.
        int p[2];
        QCOMPARE(::pipe(p), 0);
        std::thread writer([&] {
            size_t done = 0;
            while (done < bytes.size()) {
                const ssize_t n = ::write(p[1], bytes.data() + done, bytes.size() - done);
                if (n <= 0) {
                    break;
                }
                done += size_t(n);
            }
            ::close(p[1]);
        });
        ReaderLimits limits;
        limits.deferRawPages = true;
        auto reader = ImageReader::open(p[0], limits);
        QVERIFY(reader);
        size_t pipedPages = 0;
        for (;;) {
            auto item = (*reader)->nextStored();
            QVERIFY2(item, item ? "" : item.error().describe().c_str());
            if (auto *s = std::get_if<StoredPages>(&*item)) {
                QVERIFY(!s->deferred());
                ++pipedPages;
                continue;
            }
            if (std::holds_alternative<EndRecord>(std::get<Section>(*item))) {
                break;
            }
        }
        writer.join();
        ::close(p[0]);
        QVERIFY(pipedPages > 0);
    }

    void corruptedSectionRefusedBeforeUse()
    {
        const SampleImage sample = SampleImage::make(32);
        std::vector<uint8_t> bytes = writeToBytes(sample);
        const Wire wire = parseWire(bytes);
        const auto pages = std::find_if(wire.sections.begin(), wire.sections.end(), [](const WireSection &s) {
            return s.type == uint32_t(SectionType::Pages);
        });
        QVERIFY(pages != wire.sections.end());
        bytes[pages->offset + pages->size - 100] ^= 0x40; // inside the page data
        auto stored = readStored(bytes, 1);
        QVERIFY(!stored);
        const std::string message = stored.error().describe();
        QVERIFY2(message.find("checksum mismatch") != std::string::npos && message.find("(Pages)") != std::string::npos, message.c_str());
    }

    void damagedFrameFailsTheDecode()
    {
        const SampleImage sample = SampleImage::make(32);
        std::vector<uint8_t> bytes = writeToBytes(sample);
        const Wire wire = parseWire(bytes);
        const auto pages = std::find_if(wire.sections.begin(), wire.sections.end(), [](const WireSection &s) {
            return s.type == uint32_t(SectionType::Pages) && (s.flags & 1u);
        });
        QVERIFY(pages != wire.sections.end());
        const size_t magic = zstdMagicOf(bytes, *pages);
        QVERIFY(magic != 0);
        bytes[magic] ^= 0xff;
        rechecksum(bytes, *pages); // the checksum is right: only the decode can tell

        const int fd = memfdWith(bytes);
        auto reader = ImageReader::open(fd);
        QVERIFY(reader);
        for (;;) {
            auto item = (*reader)->nextStored();
            QVERIFY2(item, item ? "" : item.error().describe().c_str());
            auto *stored = std::get_if<StoredPages>(&*item);
            if (!stored || stored->offset != pages->offset) {
                QVERIFY(!std::holds_alternative<Section>(*item) || !std::holds_alternative<EndRecord>(std::get<Section>(*item)));
                continue;
            }
            std::vector<uint8_t> out(stored->dataLength);
            PageDecoder decoder;
            auto r = decoder.decode(*stored, out);
            QVERIFY(!r);
            const std::string message = r.error().describe();
            QVERIFY2(message.find("not a valid zstd frame") != std::string::npos
                         && message.find("(Pages) at byte " + std::to_string(pages->offset)) != std::string::npos,
                     message.c_str());
            // A buffer of the wrong size is refused, not overrun.
            std::vector<uint8_t> small(stored->dataLength - 1);
            auto wrong = decoder.decode(*stored, small);
            QVERIFY(!wrong);
            QVERIFY2(wrong.error().describe().find("a buffer of") != std::string::npos, wrong.error().describe().c_str());
            break;
        }
        ::close(fd);
    }
};

QTEST_GUILESS_MAIN(ImageStoredTest)

#include "imagestoredtest.moc"
