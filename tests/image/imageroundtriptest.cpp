// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Every record through ImageWriter and back through ImageReader, via a file
// and via a pipe, at several compression settings; a large Pages record; a
// Pages checksum computed before writePages; the writer's own refusals;
// ImageInfo and the capability names.

#include "capabilities.h"
#include "imageinfo.h"
#include "imagereader.h"
#include "imagewriter.h"
#include "sampleimage.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::image;
using namespace cryopod::image::test;

namespace
{
// Reads every section from fd; fails the test on error.
std::vector<Section> readFd(int fd, Header *header = nullptr, uint64_t *bytesRead = nullptr)
{
    auto reader = ImageReader::open(fd);
    if (!reader) {
        qWarning("open: %s", reader.error().describe().c_str());
        return {};
    }
    if (header) {
        *header = (*reader)->header();
    }
    std::vector<Section> out;
    for (;;) {
        auto s = (*reader)->next();
        if (!s) {
            qWarning("next: %s", s.error().describe().c_str());
            return {};
        }
        const bool end = std::holds_alternative<EndRecord>(*s);
        out.push_back(std::move(*s));
        if (end) {
            break;
        }
    }
    if (bytesRead) {
        *bytesRead = (*reader)->bytesRead();
    }
    auto after = (*reader)->next();
    if (after || after.error().message.find("past the End") == std::string::npos) {
        qWarning("reading past End did not fail as expected");
        return {};
    }
    return out;
}

const char *typeName(const Section &s)
{
    static const char *const names[] = {"ProcessTree", "Task", "Thread", "Creds", "Signals", "Mm", "Files", "FileData", "Pages", "End", "FileObject", "Timers", "Terminal", "SharedMemory"};
    return names[s.index()];
}

void compareSections(const std::vector<Section> &got, const SampleImage &sample)
{
    const std::vector<Section> expected = sample.sections();
    QCOMPARE(got.size(), expected.size() + 1);
    for (size_t i = 0; i < expected.size(); ++i) {
        QVERIFY2(got[i] == expected[i], qPrintable(QStringLiteral("section %1 (%2) differs").arg(i).arg(QLatin1String(typeName(expected[i])))));
    }
    const auto *end = std::get_if<EndRecord>(&got.back());
    QVERIFY(end);
    QCOMPARE(end->sections, uint64_t(expected.size()));
    uint64_t pages = 0;
    for (const PagesRecord &p : sample.pages) {
        pages += p.data.size() / 4096;
    }
    QCOMPARE(end->pagesStored, pages);
}

struct PipeFds {
    int read = -1, write = -1;
    PipeFds()
    {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
            read = fds[0];
            write = fds[1];
        }
    }
    ~PipeFds()
    {
        closeWrite();
        if (read >= 0) {
            ::close(read);
        }
    }
    void closeWrite()
    {
        if (write >= 0) {
            ::close(write);
            write = -1;
        }
    }
};
} // namespace

class ImageRoundTripTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTripFile_data()
    {
        QTest::addColumn<int>("level");
        QTest::addColumn<int>("workers");
        QTest::addColumn<bool>("compress");
        QTest::newRow("level 1, default workers") << 1 << 0 << true;
        QTest::newRow("level 1, caller's thread") << 1 << -1 << true;
        QTest::newRow("level 3, 2 workers") << 3 << 2 << true;
        QTest::newRow("level 19, 1 worker") << 19 << 1 << true;
        QTest::newRow("level -5 (fast)") << -5 << 0 << true;
        QTest::newRow("uncompressed") << 1 << 0 << false;
    }

    void roundTripFile()
    {
        QFETCH(int, level);
        QFETCH(int, workers);
        QFETCH(bool, compress);
        const SampleImage sample = SampleImage::make(40);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QByteArray path = dir.filePath(QStringLiteral("image.cryopod")).toLocal8Bit();
        uint64_t written = 0, raw = 0;
        {
            const int fd = ::open(path.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            QVERIFY(fd >= 0);
            WriterOptions options {level, workers};
            options.compress = compress;
            auto writer = ImageWriter::create(fd, sample.header, options);
            QVERIFY2(writer, writer ? "" : writer.error().describe().c_str());
            auto ok = sample.write(**writer);
            QVERIFY2(ok, ok ? "" : ok.error().describe().c_str());
            written = (*writer)->bytesWritten();
            raw = (*writer)->rawBytes();
            ::close(fd);
        }
        struct stat st;
        QCOMPARE(stat(path.constData(), &st), 0);
        QCOMPARE(uint64_t(st.st_size), written);

        const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
        Header header;
        uint64_t bytesRead = 0;
        const std::vector<Section> got = readFd(fd, &header, &bytesRead);
        ::close(fd);
        QVERIFY(!got.empty());
        QVERIFY(header == sample.header);
        QCOMPARE(header.formatVersion, kFormatVersion);
        QCOMPARE(bytesRead, written);
        compareSections(got, sample);
        QCOMPARE(std::get<EndRecord>(got.back()).rawBytes, raw);
        // Without compression every page is in the file as it is; with it,
        // the text pages are not.
        QFile file(QString::fromLocal8Bit(path));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray all = file.readAll();
        const std::vector<uint8_t> &pages = sample.pages.front().data;
        const size_t pageSize = sample.header.pageSize;
        int found = 0;
        for (size_t at = 0; at + pageSize <= pages.size(); at += pageSize) {
            found += all.contains(QByteArrayView(pages.data() + at, qsizetype(pageSize))) ? 1 : 0;
        }
        if (compress) {
            QVERIFY2(found < int(pages.size() / pageSize), "every page is in the compressed image as it is");
            QVERIFY(written < raw);
        } else {
            QCOMPARE(found, int(pages.size() / pageSize));
            QVERIFY(written > raw);
        }
    }

    void uncompressedPiecesMakeTheSameBytes()
    {
        // Uncompressed bulk data is checksummed and written in pieces
        // (WriterOptions::pieceBytes): the bytes may not depend on the piece
        // size, also where it does not divide the data.
        const SampleImage sample = SampleImage::make(40);
        WriterOptions whole;
        whole.compress = false;
        whole.pieceBytes = 0;
        const std::vector<uint8_t> reference = writeToBytes(sample, whole);
        QVERIFY(reference.size() > 40 * 4096);
        auto all = readAll(reference);
        QVERIFY2(all, all ? "" : all.error().describe().c_str());
        compareSections(*all, sample);
        for (const size_t piece : {size_t(100), size_t(4096), size_t(3 * 4096), size_t(256) << 10}) {
            WriterOptions options = whole;
            options.pieceBytes = piece;
            QVERIFY2(writeToBytes(sample, options) == reference, qPrintable(QStringLiteral("piece size %1").arg(piece)));
        }
    }

    void precomputedPagesChecksum()
    {
        // The page dump's reader may checksum a Pages section on its thread
        // (ImageWriter::uncompressedPagesChecksum) and hand the sum to
        // writePages: the bytes must be those the writer makes itself, and
        // the sum given must be the one written (not computed again).
        const SampleImage sample = SampleImage::make(40);
        WriterOptions raw;
        raw.compress = false;
        const std::vector<uint8_t> reference = writeToBytes(sample, raw);
        QVERIFY(!reference.empty());
        int pagesSections = 0;
        const auto withSums = [&](const WriterOptions &options, uint64_t flip) {
            const int fd = memfd_create("cryopod-test-image", MFD_CLOEXEC);
            {
                auto writer = ImageWriter::create(fd, sample.header, options);
                if (!writer) {
                    ::close(fd);
                    return std::vector<uint8_t>();
                }
                pagesSections = 0;
                for (const Section &section : sample.sections()) {
                    Result<void> r;
                    if (const auto *pages = std::get_if<PagesRecord>(&section)) {
                        const uint64_t sum = ImageWriter::uncompressedPagesChecksum(pages->pid, pages->runs, pages->data);
                        r = (*writer)->writePages(pages->pid, pages->runs, pages->data, sum ^ flip);
                        ++pagesSections;
                    } else {
                        r = std::visit(
                            [&](const auto &record) -> Result<void> {
                                if constexpr (std::is_same_v<std::decay_t<decltype(record)>, EndRecord>) {
                                    return {};
                                } else {
                                    return (*writer)->write(record);
                                }
                            },
                            section);
                    }
                    if (!r) {
                        ::close(fd);
                        return std::vector<uint8_t>();
                    }
                }
                if (!(*writer)->finish()) {
                    ::close(fd);
                    return std::vector<uint8_t>();
                }
            }
            struct stat st;
            fstat(fd, &st);
            std::vector<uint8_t> bytes(size_t(st.st_size));
            if (pread(fd, bytes.data(), bytes.size(), 0) != ssize_t(bytes.size())) {
                bytes.clear();
            }
            ::close(fd);
            return bytes;
        };
        const std::vector<uint8_t> same = withSums(raw, 0);
        size_t firstDiff = 0;
        while (firstDiff < std::min(same.size(), reference.size()) && same[firstDiff] == reference[firstDiff]) {
            ++firstDiff;
        }
        QVERIFY2(same == reference,
                 qPrintable(QStringLiteral("%1 bytes against %2, first difference at %3").arg(same.size()).arg(reference.size()).arg(firstDiff)));
        QVERIFY(pagesSections > 0);
        // A wrong sum is written as given: the reader finds the section corrupted.
        const std::string error = readError(withSums(raw, 1));
        QVERIFY2(error.find("checksum mismatch") != std::string::npos, error.c_str());
        QVERIFY2(error.find("Pages") != std::string::npos, error.c_str());
        // A writer that compresses has sums of its own (the frame differs): it
        // ignores the one given, wrong or not.
        WriterOptions zstd;
        auto all = readAll(withSums(zstd, 1));
        QVERIFY2(all, all ? "" : all.error().describe().c_str());
        compareSections(*all, sample);
    }

    void roundTripPipe()
    {
        // A small pipe buffer makes the writer and reader go through many
        // short writes and reads.
        const SampleImage sample = SampleImage::make(64);
        PipeFds p;
        QVERIFY(p.read >= 0);
        fcntl(p.write, F_SETPIPE_SZ, 4096);
        std::string writeError;
        std::thread writer([&] {
            auto w = ImageWriter::create(p.write, sample.header);
            if (!w) {
                writeError = w.error().describe();
            } else if (auto ok = sample.write(**w); !ok) {
                writeError = ok.error().describe();
            }
            p.closeWrite();
        });
        const std::vector<Section> got = readFd(p.read);
        writer.join();
        QVERIFY2(writeError.empty(), writeError.c_str());
        compareSections(got, sample);
    }

    void largePages()
    {
        // 64 MiB in one Pages section, written with writePages (no copy)
        // through a pipe; half random, half text.
        constexpr uint32_t pages = 16384;
        std::vector<uint8_t> data(size_t(pages) * 4096);
        fillMixed(data.data(), data.size(), 99);
        SampleImage sample = SampleImage::make(4);
        const PageRun run {0x1000000, pages};
        PipeFds p;
        std::string writeError;
        uint64_t written = 0;
        std::thread writer([&] {
            auto w = ImageWriter::create(p.write, sample.header);
            auto check = [&](const Result<void> &r) {
                if (!r && writeError.empty()) {
                    writeError = r.error().describe();
                }
            };
            if (!w) {
                writeError = w.error().describe();
                p.closeWrite();
                return;
            }
            for (const Section &s : sample.sections()) {
                if (const auto *pr = std::get_if<PagesRecord>(&s)) {
                    if (pr->runs.front().vaddr == 0x600000 + 4096) {
                        // in place of the sample's heap run: the big one
                        check((*w)->writePages(pr->pid, std::span(&run, 1), data));
                        continue;
                    }
                    check((*w)->write(*pr));
                    continue;
                }
                std::visit(
                    [&](const auto &r) {
                        if constexpr (!std::is_same_v<std::decay_t<decltype(r)>, EndRecord>) {
                            check((*w)->write(r));
                        }
                    },
                    s);
            }
            check((*w)->finish());
            written = (*w)->bytesWritten();
            p.closeWrite();
        });
        auto reader = ImageReader::open(p.read);
        QVERIFY(reader);
        int found = 0;
        for (;;) {
            auto s = (*reader)->next();
            QVERIFY2(s, s ? "" : s.error().describe().c_str());
            if (auto *pr = std::get_if<PagesRecord>(&*s); pr && pr->runs.size() == 1 && pr->runs[0].pages == pages) {
                QVERIFY(pr->data == data);
                ++found;
            }
            if (std::holds_alternative<EndRecord>(*s)) {
                break;
            }
        }
        writer.join();
        QVERIFY2(writeError.empty(), writeError.c_str());
        QCOMPARE(found, 2); // one per process
        QCOMPARE((*reader)->bytesRead(), written);
        // half of it is text: the image must be clearly smaller than the data
        QVERIFY2(written < 2 * data.size() * 3 / 4, qPrintable(QString::number(written)));
    }

    void writeToClosedPipeIsAnError()
    {
        // No SIGPIPE death: the writer reports EPIPE.
        const SampleImage sample = SampleImage::make(8);
        PipeFds p;
        ::close(p.read);
        p.read = -1;
        auto w = ImageWriter::create(p.write, sample.header);
        QVERIFY(!w);
        QCOMPARE(w.error().code, EPIPE);
        QVERIFY(w.error().message.find("write header") != std::string::npos);
        sigset_t pending;
        sigpending(&pending);
        QVERIFY(!sigismember(&pending, SIGPIPE));
    }

    void writerRefusesBadRecords()
    {
        const SampleImage sample = SampleImage::make(8);
        const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        auto fresh = [&] {
            auto w = ImageWriter::create(fd, sample.header);
            return std::move(*w);
        };
        auto expectError = [](const Result<void> &r, const char *part) {
            QVERIFY2(!r, part);
            QVERIFY2(r.error().message.find(part) != std::string::npos, r.error().message.c_str());
        };
        {
            auto w = fresh();
            expectError(w->write(sample.tasks[0]), "the first section must be the ProcessTree");
        }
        {
            auto w = fresh();
            QVERIFY(w->write(sample.tree));
            MmRecord mm = sample.mms[0];
            mm.vmas[1].start += 1;
            expectError(w->write(mm), "not page aligned");
            mm = sample.mms[0];
            std::swap(mm.vmas[0], mm.vmas[1]);
            expectError(w->write(mm), "overlaps or is out of order");
            const PageRun run {0x1000000, 1};
            std::vector<uint8_t> page(4096);
            expectError(w->writePages(4242, std::span(&run, 1), page), "comes before its Mm record");
            QVERIFY(w->write(sample.mms[0]));
            expectError(w->writePages(4242, std::span(&run, 1), std::span(page).first(4095)), "4095 bytes of data for 1 pages");
            const PageRun outside {0x9000000, 1};
            expectError(w->writePages(4242, std::span(&outside, 1), page), "not inside the VMAs");
            const PageRun vvar {0x7ffc00100000, 1};
            expectError(w->writePages(4242, std::span(&vvar, 1), page), "[vvar]");
            QVERIFY(w->writePages(4242, std::span(&run, 1), page));
            expectError(w->writePages(4242, std::span(&run, 1), page), "must ascend across records");
            SignalsRecord sig = sample.signals[0];
            sig.actions[0].signo = 65;
            expectError(w->write(sig), "signal number 65 out of range");
            CredsRecord creds = sample.creds[0];
            creds.capPermitted |= uint64_t(1) << 41;
            expectError(w->write(creds), "bits above CAP_CHECKPOINT_RESTORE");
            FilesRecord files = sample.files[0];
            files.fds[0].fd = -1;
            expectError(w->write(files), "negative fd");
            expectError(w->finish(), "image incomplete");
        }
        {
            // a failed write leaves the writer usable; a finished one is closed
            auto w = ImageWriter::create(fd, sample.header, WriterOptions {1, 0, false});
            QVERIFY(w);
            QVERIFY((*w)->write(sample.tree));
            QVERIFY((*w)->finish());
            expectError((*w)->write(sample.tasks[0]), "already finished");
        }
        Header bad = sample.header;
        bad.arch = "aarch64";
        auto w = ImageWriter::create(fd, bad);
        QVERIFY(!w);
        QVERIFY(w.error().message.find("'aarch64' is not supported") != std::string::npos);
        ::close(fd);
    }

    void partialImageWhenNotRequiredComplete()
    {
        const SampleImage sample = SampleImage::make(8);
        const int fd = memfd_create("partial", MFD_CLOEXEC);
        auto w = ImageWriter::create(fd, sample.header, WriterOptions {1, 0, false});
        QVERIFY(w);
        QVERIFY((*w)->write(sample.tree));
        QVERIFY((*w)->write(sample.mms[0]));
        QVERIFY((*w)->write(sample.pages[0]));
        QVERIFY((*w)->finish());
        std::vector<uint8_t> bytes(size_t(lseek(fd, 0, SEEK_END)));
        pread(fd, bytes.data(), bytes.size(), 0);
        ::close(fd);
        QVERIFY(readError(bytes).find("image incomplete: no Task record for pid 4242") != std::string::npos);
        ReaderLimits lenient;
        lenient.requireComplete = false;
        auto got = readAll(bytes, lenient);
        QVERIFY(got);
        QCOMPARE(got->size(), size_t(4));
        QVERIFY(std::get<PagesRecord>((*got)[2]) == sample.pages[0]);
    }

    // Format 5: a shared memory object and the VMAs naming it survive the
    // round trip; the writer refuses bad ones.
    void sharedMemory()
    {
        const SampleImage sample = SampleImage::make(8);
        SharedMemoryRecord shm;
        shm.id = 7;
        shm.kind = SharedMemoryKind::Anonymous;
        shm.size = 16 * 4096;
        shm.ino = 1234;
        shm.runs = {{0, 2}, {5 * 4096, 1}};
        shm.data.resize(3 * 4096);
        for (size_t i = 0; i < shm.data.size(); ++i) {
            shm.data[i] = uint8_t(i * 7 + 3);
        }
        SharedMemoryRecord deleted;
        deleted.id = 8;
        deleted.kind = SharedMemoryKind::DeletedFile;
        deleted.size = 32; // a file's size: not page aligned
        deleted.path = "/dev/shm/sem.XYZ";
        deleted.mode = 0600;
        deleted.runs = {{0, 1}};
        deleted.data.assign(4096, 0x11);
        MmRecord mm = sample.mms[0];
        VmaRecord vma;
        vma.start = 0x7e0000000000;
        vma.end = vma.start + 4 * 4096;
        vma.prot = kVmaRead | kVmaWrite;
        vma.kind = VmaKind::SharedAnonymous;
        vma.pgoff = 12 * 4096;
        vma.path = "/dev/zero";
        vma.shm = 7;
        VmaRecord file = vma;
        file.start = vma.end;
        file.end = file.start + 4096;
        file.kind = VmaKind::FileShared;
        file.flags = kVmaMayWrite;
        file.pgoff = 0;
        file.path = deleted.path;
        file.shm = 8;
        auto at = std::find_if(mm.vmas.begin(), mm.vmas.end(), [&](const VmaRecord &v) { return v.start > vma.start; });
        at = mm.vmas.insert(at, vma);
        mm.vmas.insert(at + 1, file);

        const int fd = memfd_create("shm", MFD_CLOEXEC);
        auto w = ImageWriter::create(fd, sample.header, WriterOptions {1, 0, false});
        QVERIFY(w);
        QVERIFY((*w)->write(sample.tree));
        QVERIFY((*w)->write(shm));
        QVERIFY((*w)->write(deleted));
        auto wrote = (*w)->write(mm);
        QVERIFY2(wrote, wrote ? "" : wrote.error().describe().c_str());
        QVERIFY((*w)->finish());
        std::vector<uint8_t> bytes(size_t(lseek(fd, 0, SEEK_END)));
        QCOMPARE(pread(fd, bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
        ::close(fd);
        ReaderLimits lenient;
        lenient.requireComplete = false;
        auto got = readAll(bytes, lenient);
        QVERIFY2(got, got ? "" : got.error().describe().c_str());
        QCOMPARE(got->size(), size_t(5));
        QVERIFY(std::get<SharedMemoryRecord>((*got)[1]) == shm);
        QVERIFY(std::get<SharedMemoryRecord>((*got)[2]) == deleted);
        QVERIFY(std::get<MmRecord>((*got)[3]) == mm);

        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        auto expectError = [&](auto mutate, const char *part) {
            auto bad = ImageWriter::create(null, sample.header);
            QVERIFY((*bad)->write(sample.tree));
            SharedMemoryRecord s = shm;
            MmRecord m = mm;
            mutate(s, m);
            Result<void> r = (*bad)->write(s);
            if (r) {
                r = (*bad)->write(deleted);
            }
            if (r) {
                r = (*bad)->write(m);
            }
            QVERIFY2(!r, part);
            QVERIFY2(r.error().message.find(part) != std::string::npos, r.error().message.c_str());
        };
        expectError([](SharedMemoryRecord &s, MmRecord &) { s.size = 4097; }, "is not a multiple of 4096");
        expectError([](SharedMemoryRecord &s, MmRecord &) { s.runs = {{15 * 4096, 2}}; }, "outside the object");
        expectError([](SharedMemoryRecord &s, MmRecord &) { s.data.resize(4096); }, "bytes of data for 3 pages");
        expectError([](SharedMemoryRecord &s, MmRecord &) { s.id = 9; }, "which no earlier SharedMemory record defines");
        expectError(
            [](SharedMemoryRecord &, MmRecord &m) {
                for (VmaRecord &v : m.vmas) {
                    if (v.shm == 7) {
                        v.pgoff = 14 * 4096;
                    }
                }
            },
            "reaches beyond the end of shared memory object 7");
        expectError(
            [](SharedMemoryRecord &, MmRecord &m) {
                for (VmaRecord &v : m.vmas) {
                    if (v.shm == 7) {
                        v.shm = 0;
                    }
                }
            },
            "shared anonymous VMA without its shared memory object");
        ::close(null);
    }

    // Format 6: a memfd (name, size, mode, seals) and a private mapping of
    // it survive the round trip; bad seals and names are refused.
    void memfdObject()
    {
        const SampleImage sample = SampleImage::make(8);
        SharedMemoryRecord memfd;
        memfd.id = 3;
        memfd.kind = SharedMemoryKind::Memfd;
        memfd.size = 3 * 4096 + 100; // a file's size
        memfd.path = "wl-memfd a/b"; // memfd names may hold anything but NUL
        memfd.mode = 0640;
        memfd.seals = 0x1 | 0x2 | 0x4; // F_SEAL_SEAL | SHRINK | GROW
        memfd.runs = {{4096, 1}};
        memfd.data.assign(4096, 0x5a);
        MmRecord mm = sample.mms[0];
        VmaRecord vma;
        vma.start = 0x7e0000000000;
        vma.end = vma.start + 2 * 4096;
        vma.prot = kVmaRead | kVmaWrite;
        vma.kind = VmaKind::FilePrivate;
        vma.pgoff = 4096;
        vma.path = "/memfd:" + memfd.path;
        vma.shm = 3;
        mm.vmas.insert(std::find_if(mm.vmas.begin(), mm.vmas.end(), [&](const VmaRecord &v) { return v.start > vma.start; }), vma);

        auto writeAll = [&](const SharedMemoryRecord &object, const MmRecord &m, int fd) -> Result<void> {
            auto w = ImageWriter::create(fd, sample.header, WriterOptions {1, 0, false});
            if (!w) {
                return std::unexpected(w.error());
            }
            CRYOPOD_PROPAGATE((*w)->write(sample.tree));
            CRYOPOD_PROPAGATE((*w)->write(object));
            CRYOPOD_PROPAGATE((*w)->write(m));
            return (*w)->finish();
        };
        const int fd = memfd_create("memfd", MFD_CLOEXEC);
        auto wrote = writeAll(memfd, mm, fd);
        QVERIFY2(wrote, wrote ? "" : wrote.error().describe().c_str());
        std::vector<uint8_t> bytes(size_t(lseek(fd, 0, SEEK_END)));
        QCOMPARE(pread(fd, bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
        ::close(fd);
        ReaderLimits lenient;
        lenient.requireComplete = false;
        auto got = readAll(bytes, lenient);
        QVERIFY2(got, got ? "" : got.error().describe().c_str());
        QCOMPARE(got->size(), size_t(4));
        QVERIFY(std::get<SharedMemoryRecord>((*got)[1]) == memfd);
        QVERIFY(std::get<MmRecord>((*got)[2]) == mm);

        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        auto expectError = [&](auto mutate, const char *part) {
            SharedMemoryRecord object = memfd;
            MmRecord m = mm;
            mutate(object, m);
            Result<void> r = writeAll(object, m, null);
            QVERIFY2(!r, part);
            QVERIFY2(r.error().message.find(part) != std::string::npos, r.error().message.c_str());
        };
        expectError([](SharedMemoryRecord &s, MmRecord &) { s.seals = 0x40; }, "seals 0x40 unknown");
        expectError(
            [](SharedMemoryRecord &s, MmRecord &) {
                s.kind = SharedMemoryKind::DeletedFile;
                s.path = "/dev/shm/x";
            },
            "set on an object that is no memfd");
        expectError([](SharedMemoryRecord &s, MmRecord &) { s.path.assign(250, 'n'); }, "memfd name of 250 bytes");
        expectError(
            [](SharedMemoryRecord &s, MmRecord &) {
                s.size = 4096;
                s.runs = {{0, 1}};
            },
            "reaches beyond the end of shared memory object 3");
        expectError(
            [](SharedMemoryRecord &, MmRecord &m) {
                for (VmaRecord &v : m.vmas) {
                    if (v.shm == 3) {
                        v.kind = VmaKind::Anonymous;
                        v.path.clear();
                    }
                }
            },
            "names a shared memory object but is no shared VMA");
        ::close(null);
    }

    // Format 7: a SysV segment (its memory a SharedMemory record of kind 4,
    // attached whole), a message queue and a semaphore set survive the round
    // trip; the writer refuses bad ones.
    void sysvIpc()
    {
        const SampleImage sample = SampleImage::make(8);
        const auto [memory, segment, queue, set] = sysvSample();
        MmRecord mm = sample.mms[0];
        VmaRecord vma;
        vma.start = 0x7e0000000000;
        vma.end = vma.start + 3 * 4096;
        vma.prot = kVmaRead;
        vma.kind = VmaKind::FileShared;
        vma.path = "/SYSV5c001234";
        vma.shm = 4;
        mm.vmas.insert(std::find_if(mm.vmas.begin(), mm.vmas.end(), [&](const VmaRecord &v) { return v.start > vma.start; }), vma);

        auto writeAll = [&](const SharedMemoryRecord &object, const std::vector<SysvIpcRecord> &records, const MmRecord &m, int fd) -> Result<void> {
            auto w = ImageWriter::create(fd, sample.header, WriterOptions {1, 0, false});
            if (!w) {
                return std::unexpected(w.error());
            }
            CRYOPOD_PROPAGATE((*w)->write(sample.tree));
            CRYOPOD_PROPAGATE((*w)->write(object));
            for (const SysvIpcRecord &r : records) {
                CRYOPOD_PROPAGATE((*w)->write(r));
            }
            CRYOPOD_PROPAGATE((*w)->write(m));
            return (*w)->finish();
        };
        const int fd = memfd_create("sysv", MFD_CLOEXEC);
        auto wrote = writeAll(memory, {segment, queue, set}, mm, fd);
        QVERIFY2(wrote, wrote ? "" : wrote.error().describe().c_str());
        std::vector<uint8_t> bytes(size_t(lseek(fd, 0, SEEK_END)));
        QCOMPARE(pread(fd, bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
        ::close(fd);
        ReaderLimits lenient;
        lenient.requireComplete = false;
        auto got = readAll(bytes, lenient);
        QVERIFY2(got, got ? "" : got.error().describe().c_str());
        QCOMPARE(got->size(), size_t(7));
        QVERIFY(std::get<SharedMemoryRecord>((*got)[1]) == memory);
        QVERIFY(std::get<SysvIpcRecord>((*got)[2]) == segment);
        QVERIFY(std::get<SysvIpcRecord>((*got)[3]) == queue);
        QVERIFY(std::get<SysvIpcRecord>((*got)[4]) == set);
        QVERIFY(std::get<MmRecord>((*got)[5]) == mm);

        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        auto expectError = [&](auto mutate, const char *part) {
            SharedMemoryRecord object = memory;
            std::vector<SysvIpcRecord> records {segment, queue, set};
            MmRecord m = mm;
            mutate(object, records, m);
            Result<void> r = writeAll(object, records, m, null);
            QVERIFY2(!r, part);
            QVERIFY2(r.error().message.find(part) != std::string::npos, r.error().message.c_str());
        };
        using Records = std::vector<SysvIpcRecord>;
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[0].object = 9; }, "which is no earlier SysV SharedMemory record");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[0].size = 4096; }, "which is no earlier SysV SharedMemory record");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[2].id = r[0].id, r[2].kind = SysvIpcKind::Shm; }, "fields of another kind");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[1].messages[1].type = 0; }, "a message of type 0");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[2].semValues[0] = 40000; }, "above 32767");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[2].semPids.pop_back(); }, "fields of another kind");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[0].destroyed = true; }, "removed (IPC_RMID) but still with key");
        expectError([](SharedMemoryRecord &, Records &r, MmRecord &) { r[0].mode = 01640; }, "beyond the permission bits");
        expectError(
            [](SharedMemoryRecord &, Records &, MmRecord &m) {
                for (VmaRecord &v : m.vmas) {
                    if (v.shm == 4) {
                        v.end -= 4096;
                    }
                }
            },
            "other than whole and shared");
        expectError(
            [](SharedMemoryRecord &, Records &r, MmRecord &) {
                r.erase(r.begin()); // the memory without its segment
            },
            "other than whole and shared, or before its SysvIpc record");
        ::close(null);
    }

    // Format 7: an established TCP connection with its TCP_REPAIR state.
    void tcpConnectionObject()
    {
        const SampleImage sample = SampleImage::make(8);
        FileObjectRecord tcp;
        tcp.id = 1;
        tcp.kind = FileObjectKind::InetSocket;
        tcp.ownerPid = sample.tree.processes.front().pid;
        tcp.family = 2; // AF_INET
        tcp.socketType = 1;
        tcp.protocol = 6;
        tcp.inetState = InetState::Established;
        tcp.localAddress = {127, 0, 0, 1};
        tcp.localPort = 8080;
        tcp.peerAddress = {127, 0, 0, 1};
        tcp.peerPort = 41000;
        tcp.socketOptions = kSockNoDelay;
        tcp.tcpSendSeq = 0xfffffff0u; // the queue wraps around 2^32
        tcp.tcpRecvSeq = 12345;
        tcp.tcpSendQueue.assign(3000, 0xa5);
        tcp.tcpUnsent = 1000;
        tcp.tcpRecvQueue.assign(70000, 0x3c);
        tcp.tcpMss = 65483;
        tcp.tcpOptions = kTcpOptSack | kTcpOptTimestamps | kTcpOptWscale;
        tcp.tcpSndWscale = 7;
        tcp.tcpRcvWscale = 7;
        tcp.tcpTimestamp = 987654321;
        tcp.tcpSndWl1 = 12000;
        tcp.tcpSndWnd = 65536;
        tcp.tcpMaxWindow = 65536;
        tcp.tcpRcvWnd = 65483;
        tcp.tcpRcvWup = 12000;
        auto writeAll = [&](const FileObjectRecord &object, int fd) -> Result<void> {
            auto w = ImageWriter::create(fd, sample.header, WriterOptions {1, 0, false});
            if (!w) {
                return std::unexpected(w.error());
            }
            CRYOPOD_PROPAGATE((*w)->write(sample.tree));
            CRYOPOD_PROPAGATE((*w)->write(object));
            return (*w)->finish();
        };
        const int fd = memfd_create("tcp", MFD_CLOEXEC);
        auto wrote = writeAll(tcp, fd);
        QVERIFY2(wrote, wrote ? "" : wrote.error().describe().c_str());
        std::vector<uint8_t> bytes(size_t(lseek(fd, 0, SEEK_END)));
        QCOMPARE(pread(fd, bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
        ::close(fd);
        ReaderLimits lenient;
        lenient.requireComplete = false;
        auto got = readAll(bytes, lenient);
        QVERIFY2(got, got ? "" : got.error().describe().c_str());
        QCOMPARE(got->size(), size_t(3));
        QVERIFY(std::get<FileObjectRecord>((*got)[1]) == tcp);

        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        auto expectError = [&](auto mutate, const char *part) {
            FileObjectRecord object = tcp;
            mutate(object);
            Result<void> r = writeAll(object, null);
            QVERIFY2(!r, part);
            QVERIFY2(r.error().message.find(part) != std::string::npos, r.error().message.c_str());
        };
        expectError([](FileObjectRecord &o) { o.tcpUnsent = 3001; }, "with 3000 bytes to send (3001 of them unsent)");
        expectError([](FileObjectRecord &o) { o.tcpMss = 0; }, "MSS 0");
        expectError([](FileObjectRecord &o) { o.tcpRcvWscale = 15; }, "window scales 7/15 out of range");
        expectError([](FileObjectRecord &o) { o.tcpOptions = 8; }, "TCP options 0x8");
        expectError(
            [](FileObjectRecord &o) {
                o.tcpOptions = kTcpOptSack;
            },
            "window scales 7/7 out of range"); // scales without the option
        expectError(
            [](FileObjectRecord &o) {
                o.protocol = 17;
                o.socketType = 2;
                o.socketOptions = 0;
            },
            "only a TCP socket is an established connection");
        expectError([](FileObjectRecord &o) { o.peerPort = 0; }, "peer address of 4 bytes, port 0");
        expectError(
            [](FileObjectRecord &o) {
                o.inetState = InetState::Bound;
                o.peerAddress.clear();
                o.peerPort = 0;
            },
            "TCP connection fields set on a socket that is no established connection");
        ::close(null);
    }

    void imageInfo()
    {
        const SampleImage sample = SampleImage::make(40);
        const std::vector<uint8_t> bytes = writeToBytes(sample);
        QVERIFY(!bytes.empty());
        const int fd = memfdWith(bytes);
        auto info = ImageInfo::read(fd);
        ::close(fd);
        QVERIFY2(info, info ? "" : info.error().describe().c_str());
        QVERIFY(info->header == sample.header);
        QCOMPARE(info->rootPid, 4242);
        QCOMPARE(info->imageBytes, uint64_t(bytes.size()));
        QCOMPARE(info->processes.size(), size_t(2));
        const ImageProcess *root = info->process(4242);
        QVERIFY(root);
        QVERIFY(root->task && root->task->comm == "sample-main");
        QVERIFY(root->creds && *root->creds == sample.creds[0]);
        QCOMPARE(root->threads.size(), size_t(2));
        QCOMPARE(root->fds.size(), size_t(16)); // 5 files, then the file objects' fds, a terminal, two inet sockets
        QCOMPARE(info->fileObjects, sample.fileObjects);
        QCOMPARE(info->terminals, sample.terminals);
        QCOMPARE(root->fds[13].fd.kind, FdKind::Terminal);
        QVERIFY(root->timers && *root->timers == sample.timers[0]);
        QVERIFY(root->fds[3].hasData);
        QCOMPARE(root->fds[3].dataRawBytes, uint64_t(3000));
        QCOMPARE(root->vmas.size(), sample.mms[0].vmas.size());
        QVERIFY(root->mm && root->mm->vmas.empty() && root->mm->auxv == sample.mms[0].auxv);
        QCOMPARE(root->pages, uint64_t(40));
        // the run from the data mapping into the bss: one page each
        QCOMPARE(root->vmas[1].pages, uint64_t(1));
        QCOMPARE(root->vmas[2].pages, uint64_t(1));
        QCOMPARE(root->vmas[0].pages, uint64_t(0));
        uint64_t raw = 0, stored = 0;
        for (const ImageProcess &p : info->processes) {
            for (const ImageVma &v : p.vmas) {
                raw += v.rawBytes;
                stored += v.storedBytes;
                QCOMPARE(v.rawBytes, v.pages * 4096);
                QVERIFY(v.pages == 0 || v.storedBytes > 0);
            }
        }
        QCOMPARE(raw, info->pagesRawBytes);
        QCOMPARE(raw, uint64_t(80 * 4096));
        // shares are rounded per piece: at most one byte off per run piece
        QVERIFY(stored + 16 >= info->pagesStoredBytes && stored <= info->pagesStoredBytes + 16);
        QCOMPARE(info->sections.at("Pages").count, uint64_t(6));
        QCOMPARE(info->sections.at("Thread").count, uint64_t(3));
        QCOMPARE(info->end.pagesStored, uint64_t(80));
        uint64_t total = 0;
        for (const auto &[name, s] : info->sections) {
            total += s.storedBytes;
        }
        QCOMPARE(total + 16 + 8 + uint64_t(bytes[12] | bytes[13] << 8), info->imageBytes);

        auto missing = ImageInfo::readFile("/nonexistent/image");
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ENOENT);
        QVERIFY(missing.error().message.find("/nonexistent/image") != std::string::npos);
    }

    void capabilityNames()
    {
#define CHECK_CAP(name) QCOMPARE(QByteArray(capabilityName(name)), QByteArray(#name))
        CHECK_CAP(CAP_CHOWN);
        CHECK_CAP(CAP_DAC_OVERRIDE);
        CHECK_CAP(CAP_DAC_READ_SEARCH);
        CHECK_CAP(CAP_FOWNER);
        CHECK_CAP(CAP_FSETID);
        CHECK_CAP(CAP_KILL);
        CHECK_CAP(CAP_SETGID);
        CHECK_CAP(CAP_SETUID);
        CHECK_CAP(CAP_SETPCAP);
        CHECK_CAP(CAP_LINUX_IMMUTABLE);
        CHECK_CAP(CAP_NET_BIND_SERVICE);
        CHECK_CAP(CAP_NET_BROADCAST);
        CHECK_CAP(CAP_NET_ADMIN);
        CHECK_CAP(CAP_NET_RAW);
        CHECK_CAP(CAP_IPC_LOCK);
        CHECK_CAP(CAP_IPC_OWNER);
        CHECK_CAP(CAP_SYS_MODULE);
        CHECK_CAP(CAP_SYS_RAWIO);
        CHECK_CAP(CAP_SYS_CHROOT);
        CHECK_CAP(CAP_SYS_PTRACE);
        CHECK_CAP(CAP_SYS_PACCT);
        CHECK_CAP(CAP_SYS_ADMIN);
        CHECK_CAP(CAP_SYS_BOOT);
        CHECK_CAP(CAP_SYS_NICE);
        CHECK_CAP(CAP_SYS_RESOURCE);
        CHECK_CAP(CAP_SYS_TIME);
        CHECK_CAP(CAP_SYS_TTY_CONFIG);
        CHECK_CAP(CAP_MKNOD);
        CHECK_CAP(CAP_LEASE);
        CHECK_CAP(CAP_AUDIT_WRITE);
        CHECK_CAP(CAP_AUDIT_CONTROL);
        CHECK_CAP(CAP_SETFCAP);
        CHECK_CAP(CAP_MAC_OVERRIDE);
        CHECK_CAP(CAP_MAC_ADMIN);
        CHECK_CAP(CAP_SYSLOG);
        CHECK_CAP(CAP_WAKE_ALARM);
        CHECK_CAP(CAP_BLOCK_SUSPEND);
        CHECK_CAP(CAP_AUDIT_READ);
        CHECK_CAP(CAP_PERFMON);
        CHECK_CAP(CAP_BPF);
        CHECK_CAP(CAP_CHECKPOINT_RESTORE);
#undef CHECK_CAP
        QCOMPARE(kCapabilityCount, unsigned(CAP_LAST_CAP + 1));
        QVERIFY(capabilityName(41) == nullptr);
        const std::vector<std::string> names = cryopod::image::capabilityNames((uint64_t(1) << 21) | 1 | (uint64_t(1) << 45));
        QCOMPARE(names, (std::vector<std::string> {"CAP_CHOWN", "CAP_SYS_ADMIN", "bit 45"}));
        QCOMPARE(capabilityFromName("sys_admin"), std::optional<unsigned>(21));
        QCOMPARE(capabilityFromName("CAP_CHECKPOINT_RESTORE"), std::optional<unsigned>(40));
        QCOMPARE(capabilityFromName("CAP_FLY"), std::optional<unsigned>());
    }
};

QTEST_GUILESS_MAIN(ImageRoundTripTest)
#include "imageroundtriptest.moc"
