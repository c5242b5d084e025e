// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Hostile and damaged images: truncated everywhere, a flipped byte
// everywhere, absurd lengths and counts with valid checksums, records that
// decode but make no sense, random garbage. Each must give a clear error
// (the tests check the message), never a crash, and never a large
// allocation: this binary replaces operator new to record the largest single
// allocation made while reading.

#include "encoder.h"
#include "imagereader.h"
#include "imagewriter.h"
#include "recordcodec.h"
#include "sampleimage.h"
#include "sectionframe.h"

#include <QTest>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <format>
#include <new>
#include <random>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <zstd.h>

using namespace cryopod;
using namespace cryopod::image;
using namespace cryopod::image::test;

namespace
{
std::atomic<size_t> g_largestAllocation {0};

void noteAllocation(size_t n)
{
    size_t seen = g_largestAllocation.load(std::memory_order_relaxed);
    while (n > seen && !g_largestAllocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) { }
}
} // namespace

void *operator new(size_t n)
{
    noteAllocation(n);
    void *p = std::malloc(n ? n : 1);
    if (!p) {
        std::abort();
    }
    return p;
}

void *operator new[](size_t n)
{
    return operator new(n);
}

void operator delete(void *p) noexcept
{
    std::free(p);
}

void operator delete[](void *p) noexcept
{
    std::free(p);
}

void operator delete(void *p, size_t) noexcept
{
    std::free(p);
}

void operator delete[](void *p, size_t) noexcept
{
    std::free(p);
}

namespace
{
constexpr size_t kSmallAllocation = 2u << 20; // what reading a small hostile input may allocate at most

std::string readTracked(const std::vector<uint8_t> &bytes, size_t *largest, const ReaderLimits &limits = {})
{
    g_largestAllocation = 0;
    std::string error = readError(bytes, limits);
    *largest = g_largestAllocation;
    return error;
}

bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

#define EXPECT_ERROR(bytes, part)                                                                                                                              \
    do {                                                                                                                                                       \
        size_t largest_ = 0;                                                                                                                                   \
        const std::string error_ = readTracked(bytes, &largest_);                                                                                              \
        QVERIFY2(!error_.empty(), "the image was accepted");                                                                                                   \
        QVERIFY2(contains(error_, part), error_.c_str());                                                                                                      \
        QVERIFY2(largest_ <= kSmallAllocation, qPrintable(QStringLiteral("allocated %1 bytes: %2").arg(largest_).arg(QString::fromStdString(error_))));        \
    } while (0)

std::vector<uint8_t> headerOf(const std::vector<uint8_t> &image)
{
    return std::vector<uint8_t>(image.begin(), image.begin() + parseWire(image).headerSize);
}

// The sample's sections as bytes, with the one at `index` replaced by `replacement` (if given).
std::vector<std::vector<uint8_t>> sampleSections(const SampleImage &sample)
{
    std::vector<std::vector<uint8_t>> out;
    for (const Section &s : sample.sections()) {
        out.push_back(sectionBytes(s));
    }
    return out;
}

size_t indexOf(const SampleImage &sample, size_t variantIndex, int32_t pid = 4242)
{
    const std::vector<Section> sections = sample.sections();
    for (size_t i = 0; i < sections.size(); ++i) {
        if (sections[i].index() != variantIndex) {
            continue;
        }
        const bool match = std::visit(
            [&](const auto &r) {
                if constexpr (requires { r.pid; }) {
                    return r.pid == pid;
                } else {
                    return true;
                }
            },
            sections[i]);
        if (match) {
            return i;
        }
    }
    return size_t(-1);
}

template<typename Record>
size_t indexOfRecord(const SampleImage &sample, int32_t pid = 4242)
{
    return indexOf(sample, Section(Record {}).index(), pid);
}
} // namespace

class ImageMalformedTest : public QObject
{
    Q_OBJECT

    SampleImage m_sample;
    std::vector<uint8_t> m_image;
    Wire m_wire;

    // The sample with section `index` replaced by a crafted record.
    std::vector<uint8_t> withSection(size_t index, const Section &replacement)
    {
        auto sections = sampleSections(m_sample);
        sections[index] = sectionBytes(replacement);
        return assemble(headerOf(m_image), sections);
    }
    // Every byte of the header and of each frame header, the first and last
    // 48 bytes of each payload and checksum, and every 61st byte in between.
    std::vector<size_t> interestingOffsets() const
    {
        std::vector<size_t> out;
        for (size_t at = 1; at < m_wire.headerSize; ++at) {
            out.push_back(at);
        }
        for (const WireSection &s : m_wire.sections) {
            for (size_t i = 0; i < s.size; ++i) {
                if (i < 24 + 48 || i + 56 >= s.size || i % 61 == 0) {
                    out.push_back(s.offset + i);
                }
            }
        }
        return out;
    }

    std::vector<uint8_t> withBytes(size_t index, const std::vector<uint8_t> &frameBytes)
    {
        auto sections = sampleSections(m_sample);
        sections[index] = frameBytes;
        return assemble(headerOf(m_image), sections);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_sample = SampleImage::make(6);
        m_image = writeToBytes(m_sample);
        QVERIFY(!m_image.empty());
        qInfo("sample image: %zu bytes", m_image.size());
        QVERIFY(readError(m_image).empty());
        m_wire = parseWire(m_image);
        QCOMPARE(m_wire.sections.size(), m_sample.sections().size() + 1);
        QCOMPARE(m_wire.sections.back().offset + m_wire.sections.back().size, m_image.size());
        // the crafted copy of the sample is itself valid (the test's encoder agrees with the writer)
        QVERIFY(readError(assemble(headerOf(m_image), sampleSections(m_sample))).empty());
    }

    void truncatedAtEverySectionBoundary()
    {
        std::vector<size_t> boundaries {0, m_wire.headerSize};
        for (const WireSection &s : m_wire.sections) {
            boundaries.push_back(s.offset + s.size);
        }
        boundaries.pop_back(); // the complete image
        for (size_t i = 0; i < boundaries.size(); ++i) {
            const size_t at = boundaries[i];
            const std::vector<uint8_t> cut(m_image.begin(), m_image.begin() + at);
            if (at == 0) {
                EXPECT_ERROR(cut, "image truncated at byte 0 in the header");
            } else {
                // the stream ends before section #(i-1)
                EXPECT_ERROR(cut, std::format("image truncated at byte {} in section #{}: the stream ended before the End record", at, i - 1));
            }
        }
    }

    void truncatedEverywhere()
    {
        // each must name the offset and where it is
        for (size_t at : interestingOffsets()) {
            const std::vector<uint8_t> cut(m_image.begin(), m_image.begin() + at);
            size_t largest = 0;
            const std::string error = readTracked(cut, &largest);
            QVERIFY2(contains(error, std::format("image truncated at byte {} in ", at)),
                     qPrintable(QString::number(at) + QLatin1String(": ") + QString::fromStdString(error)));
            QVERIFY(largest <= kSmallAllocation);
            if (at < m_wire.headerSize) {
                QVERIFY2(contains(error, "in the header"), error.c_str());
                continue;
            }
            for (size_t i = 0; i < m_wire.sections.size(); ++i) {
                const WireSection &s = m_wire.sections[i];
                if (at > s.offset && at < s.offset + s.size) {
                    const std::string where =
                        at - s.offset < 4 ? std::format("in section #{}:", i) : std::format("in section #{} ({})", i, describeSectionType(s.type));
                    QVERIFY2(contains(error, where), error.c_str());
                }
            }
        }
    }

    void flippedByteEverywhere()
    {
        for (size_t at : interestingOffsets()) {
            std::vector<uint8_t> bad = m_image;
            bad[at] ^= 0x01;
            size_t largest = 0;
            const std::string error = readTracked(bad, &largest);
            QVERIFY2(!error.empty(), qPrintable(QStringLiteral("flip at %1 accepted").arg(at)));
            QVERIFY2(largest <= kSmallAllocation, "large allocation");
            if (at < 8) {
                QVERIFY2(contains(error, "bad magic"), error.c_str());
            } else if (at < 12) {
                // Another version, or (9 -> 8) an older one that is still
                // read, whose header then fails its checksum.
                QVERIFY2(contains(error, "version") || contains(error, "image header: checksum mismatch"), error.c_str());
            } else if (at < m_wire.headerSize) {
                QVERIFY2(contains(error, "header"), error.c_str());
            } else {
                size_t index = 0;
                while (!(at >= m_wire.sections[index].offset && at < m_wire.sections[index].offset + m_wire.sections[index].size)) {
                    ++index;
                }
                QVERIFY2(contains(error, std::format("section #{} ", index)),
                         qPrintable(QStringLiteral("flip at %1: ").arg(at) + QString::fromStdString(error)));
                const WireSection &s = m_wire.sections[index];
                const size_t inSection = at - s.offset;
                if (inSection >= 24 || inSection < 8) {
                    // type, flags, payload or checksum: caught by the checksum
                    QVERIFY2(contains(error, "checksum mismatch"), error.c_str());
                }
            }
        }
    }

    void flippedByteInEverySectionWithValidChecksum()
    {
        // The checksum is recomputed, so the decoder and validator see the
        // damage: they may accept a changed value that is still valid (a
        // register, an address), but must never crash or over-allocate.
        std::mt19937_64 rng(7);
        size_t rejected = 0, total = 0;
        for (const WireSection &s : m_wire.sections) {
            for (int round = 0; round < 200; ++round) {
                std::vector<uint8_t> bad = m_image;
                const size_t at = s.offset + 24 + rng() % std::max<uint64_t>(s.payloadLength, 1);
                if (at >= s.offset + s.size - 8) {
                    continue;
                }
                bad[at] ^= uint8_t(1u << (rng() % 8));
                rechecksum(bad, s);
                size_t largest = 0;
                const std::string error = readTracked(bad, &largest);
                ++total;
                QVERIFY2(largest <= kSmallAllocation + (1u << 20), error.c_str());
                if (!error.empty()) {
                    ++rejected;
                }
            }
        }
        QVERIFY(rejected > total / 10);
        qInfo("%zu of %zu damaged records rejected, the others decoded to valid values", rejected, total);
    }

    void wrongMagicVersionArch()
    {
        std::vector<uint8_t> bad = m_image;
        bad[0] = 'X';
        EXPECT_ERROR(bad, "not a Cryopod image (bad magic");
        EXPECT_ERROR(std::vector<uint8_t>({'C', 'R', 'Y'}), "image truncated at byte 3 in the header");
        EXPECT_ERROR(std::vector<uint8_t>({'E', 'L', 'F'}), "bad magic");
        EXPECT_ERROR(std::vector<uint8_t>(), "image truncated at byte 0 in the header");

        bad = m_image;
        storeU32(bad.data() + 8, kFormatVersion + 1);
        EXPECT_ERROR(bad, std::format("image format version {} is newer than this reader supports (version {})", kFormatVersion + 1, kFormatVersion));
        storeU32(bad.data() + 8, kOldestReadableFormatVersion - 1);
        EXPECT_ERROR(bad,
                     std::format("image format version {} is older than this reader supports (versions {} to {})", kOldestReadableFormatVersion - 1,
                                 kOldestReadableFormatVersion, kFormatVersion));
        storeU32(bad.data() + 8, 0);
        EXPECT_ERROR(bad, "invalid format version 0");

        auto withHeader = [&](const Header &h) {
            std::vector<uint8_t> f = fields(h);
            std::vector<uint8_t> out(16);
            std::memcpy(out.data(), kMagic, 8);
            storeU32(out.data() + 8, kFormatVersion);
            storeU32(out.data() + 12, uint32_t(f.size()));
            out.insert(out.end(), f.begin(), f.end());
            out.resize(out.size() + 8);
            rechecksumHeader(out, out.size());
            out.insert(out.end(), m_image.begin() + m_wire.headerSize, m_image.end());
            return out;
        };
        Header h = m_sample.header;
        h.arch = "aarch64";
        EXPECT_ERROR(withHeader(h), "image header: architecture 'aarch64' is not supported");
        h = m_sample.header;
        h.pageSize = 65536;
        EXPECT_ERROR(withHeader(h), "page size 65536 is not supported");
        h = m_sample.header;
        h.flags = 4;
        EXPECT_ERROR(withHeader(h), "header flags 0x4 are unknown");
        h = m_sample.header;
        h.hostname = std::string("evil\0host", 9);
        EXPECT_ERROR(withHeader(h), "hostname: string contains a NUL byte");

        bad = m_image;
        storeU32(bad.data() + 12, 0xffffffffu);
        EXPECT_ERROR(bad, "field block length 4294967295 exceeds the limit of 65536 bytes");
        bad = m_image;
        bad[m_wire.headerSize - 1] ^= 0x80;
        EXPECT_ERROR(bad, "image header: checksum mismatch");
    }

    void absurdFrameLengths()
    {
        const WireSection &tree = m_wire.sections[0];
        std::vector<uint8_t> bad = m_image;
        storeU64(bad.data() + tree.offset + 8, uint64_t(1) << 63);
        EXPECT_ERROR(bad, "section #0 (ProcessTree) at byte " + std::to_string(tree.offset) + ": payload length 9223372036854775808 exceeds the limit");
        bad = m_image;
        storeU64(bad.data() + tree.offset + 16, ~uint64_t(0));
        EXPECT_ERROR(bad, "raw length 18446744073709551615 exceeds the limit");
        // a length inside the limit on a short stream: truncated, little allocated
        bad = m_image;
        storeU64(bad.data() + tree.offset + 8, 200u << 20);
        EXPECT_ERROR(bad, "the stream ended inside the payload");
        // a Pages section may be larger than the others (zstd's worst case), but not absurdly
        const size_t pages = indexOfRecord<PagesRecord>(m_sample);
        bad = m_image;
        storeU64(bad.data() + m_wire.sections[pages].offset + 8, uint64_t(1) << 40);
        EXPECT_ERROR(bad,
                     "section #" + std::to_string(pages) + " (Pages) at byte " + std::to_string(m_wire.sections[pages].offset) +
                         ": payload length 1099511627776 exceeds");
    }

    void absurdCounts()
    {
        // counts of 2^32-1 and lengths of 2^32-1 behind a valid checksum
        auto patched = [&](size_t index, size_t fieldOffset, uint32_t value) {
            std::vector<uint8_t> bytes = m_image;
            const WireSection &s = m_wire.sections[index];
            storeU32(bytes.data() + s.offset + 24 + fieldOffset, value);
            rechecksum(bytes, s);
            return bytes;
        };
        // ProcessTree: rootPid i32, then the processes count
        EXPECT_ERROR(patched(0, 4, 0xffffffffu), "processes: count 4294967295 exceeds the limit of 16777216");
        EXPECT_ERROR(patched(0, 4, 1u << 24), "processes: count 16777216 needs at least");
        // tids count of the first process
        EXPECT_ERROR(patched(0, 24, 0xfffffffeu), "processes.tids: count 4294967294 exceeds the limit");
        // Task: pid, then comm length
        const size_t task = indexOfRecord<TaskRecord>(m_sample);
        EXPECT_ERROR(patched(task, 4, 0xffffffffu), "comm: string length 4294967295 exceeds the limit of 1048576 bytes");
        EXPECT_ERROR(patched(task, 4, 1000), "comm: needs 1000 bytes, only");
        // Creds: groups count after pid and eight ids
        const size_t creds = indexOfRecord<CredsRecord>(m_sample);
        EXPECT_ERROR(patched(creds, 36, 0xffffffffu), "groups: count 4294967295 exceeds the limit of 65536");
        // Signals: actions count
        const size_t signals = indexOfRecord<SignalsRecord>(m_sample);
        EXPECT_ERROR(patched(signals, 4, 65), "actions: count 65 exceeds the limit of 64");
        // Thread: fpregs length after pid, tid, name and 27 registers
        const size_t thread = indexOfRecord<ThreadRecord>(m_sample);
        const size_t fpregsAt = 4 + 4 + 4 + m_sample.threads[0].name.size() + 27 * 8;
        EXPECT_ERROR(patched(thread, fpregsAt, 0xffffffffu), "fpregs: length 4294967295 exceeds the limit of 512 bytes");
        // Pages: runs count; dataLength
        const size_t pages = indexOfRecord<PagesRecord>(m_sample);
        EXPECT_ERROR(patched(pages, 4, 0xffffffffu), "runs: count 4294967295 exceeds the limit");
        std::vector<uint8_t> bytes = m_image;
        const WireSection &ps = m_wire.sections[pages];
        const size_t runs = m_sample.pages[0].runs.size();
        storeU64(bytes.data() + ps.offset + 24 + 8 + 12 * runs, uint64_t(1) << 62);
        rechecksum(bytes, ps);
        EXPECT_ERROR(bytes, "bytes of data for");

        // with smaller limits, the limits are what is reported
        ReaderLimits tight;
        tight.maxVectorItems = 2;
        size_t largest = 0;
        std::string error = readTracked(m_image, &largest, tight);
        QVERIFY2(contains(error, "section #2 (Creds)") && contains(error, "groups: count 5 exceeds the limit of 2"), error.c_str());
        tight = {};
        tight.maxSectionBytes = 8 * 1024;
        error = readTracked(m_image, &largest, tight);
        QVERIFY2(contains(error, "exceed the section limit of 8192 bytes"), error.c_str());
    }

    void recordsThatMakeNoSense()
    {
        // Each case: a record that encodes fine but breaks a rule, with a
        // valid checksum, in place of the sample's record.
        const SampleImage &s = m_sample;
        const size_t treeAt = 0;
        const size_t taskAt = indexOfRecord<TaskRecord>(s);
        const size_t credsAt = indexOfRecord<CredsRecord>(s);
        const size_t signalsAt = indexOfRecord<SignalsRecord>(s);
        const size_t filesAt = indexOfRecord<FilesRecord>(s);
        const size_t threadAt = indexOfRecord<ThreadRecord>(s);
        const size_t mmAt = indexOfRecord<MmRecord>(s);
        const size_t pagesAt = indexOfRecord<PagesRecord>(s);
        const size_t dataAt = indexOfRecord<FileDataRecord>(s);

        auto tree = s.tree;
        tree.processes[1].ppid = 9999;
        EXPECT_ERROR(withSection(treeAt, tree), "pid 4250 comes before its parent 9999");
        tree = s.tree;
        tree.processes[0].tids[0] = 4243;
        EXPECT_ERROR(withSection(treeAt, tree), "the first tid must be the pid itself");
        tree = s.tree;
        tree.processes[1].pid = 4242;
        tree.processes[1].tids[0] = 4242;
        EXPECT_ERROR(withSection(treeAt, tree), "pid 4242 appears twice");
        tree = s.tree;
        tree.processes[1].tids = {4250, 0};
        EXPECT_ERROR(withSection(treeAt, tree), "tid 0 out of range");
        tree = s.tree;
        tree.processes.clear();
        EXPECT_ERROR(withSection(treeAt, tree), "process tree is empty");

        auto task = s.tasks[0];
        task.comm = "a-name-longer-than-15";
        EXPECT_ERROR(withSection(taskAt, task), "comm is 21 bytes, at most 15");
        task = s.tasks[0];
        task.cwd = std::string("/home/\0evil", 11);
        EXPECT_ERROR(withSection(taskAt, task), "cwd: string contains a NUL byte");
        task = s.tasks[0];
        task.cwd = "relative/dir";
        EXPECT_ERROR(withSection(taskAt, task), "cwd 'relative/dir' is not absolute");
        task = s.tasks[0];
        task.umask = 01777;
        EXPECT_ERROR(withSection(taskAt, task), "umask 01777 has bits outside 0777");
        task = s.tasks[0];
        task.rlimits[7] = Rlimit {10, 5};
        EXPECT_ERROR(withSection(taskAt, task), "rlimit 7: soft limit 10 above hard limit 5");
        task = s.tasks[0];
        task.pid = 777;
        EXPECT_ERROR(withSection(taskAt, task), "Task record for pid 777, which is not in the process tree");
        task = s.tasks[0];
        task.pid = -5;
        EXPECT_ERROR(withSection(taskAt, task), "pid out of range");

        auto creds = s.creds[0];
        creds.capBounding = ~uint64_t(0);
        EXPECT_ERROR(withSection(credsAt, creds), "bounding capability set 0xffffffffffffffff has bits above CAP_CHECKPOINT_RESTORE");
        creds = s.creds[0];
        creds.capEffective |= uint64_t(1) << 1;
        EXPECT_ERROR(withSection(credsAt, creds), "effective capabilities 0x2002 are not a subset of permitted");
        creds = s.creds[0];
        creds.capAmbient = uint64_t(1) << 21;
        EXPECT_ERROR(withSection(credsAt, creds), "ambient capabilities 0x200000 are not a subset");
        creds = s.creds[0];
        creds.securebits = 0x10000;
        EXPECT_ERROR(withSection(credsAt, creds), "unknown securebits 0x10000");
        // a bool that is neither 0 nor 1
        {
            std::vector<uint8_t> f = fields(s.creds[0]);
            f.back() = 2;
            EXPECT_ERROR(withBytes(credsAt, frame(uint32_t(SectionType::Creds), 0, f, f.size())), "noNewPrivs: boolean byte is 2, not 0 or 1");
            f = fields(s.creds[0]);
            f.push_back(0);
            EXPECT_ERROR(withBytes(credsAt, frame(uint32_t(SectionType::Creds), 0, f, f.size())), "1 unexpected bytes after the fields");
        }

        auto signals = s.signals[0];
        signals.actions[0].signo = 0;
        EXPECT_ERROR(withSection(signalsAt, signals), "signal number 0 out of range 1..64");
        signals.actions[0].signo = 65;
        EXPECT_ERROR(withSection(signalsAt, signals), "signal number 65 out of range 1..64");
        signals.actions[0].signo = 9;
        EXPECT_ERROR(withSection(signalsAt, signals), "signal 9 (SIGKILL/SIGSTOP) cannot have a disposition");
        signals = s.signals[0];
        signals.actions[1].signo = 2;
        EXPECT_ERROR(withSection(signalsAt, signals), "signal 2 is out of order or repeated");
        signals = s.signals[0];
        signals.actions[0].flags |= 0x100000000ull;
        EXPECT_ERROR(withSection(signalsAt, signals), "unknown SA_ flags 0x100000000");
        signals = s.signals[0];
        signals.pending[0].signo = 9;
        EXPECT_ERROR(withSection(signalsAt, signals), "pending signal #0: signal number 9 out of range");
        signals = s.signals[0];
        signals.pending[1].siginfo.resize(100);
        EXPECT_ERROR(withSection(signalsAt, signals), "pending signal #1: siginfo is 100 bytes, must be 128");
        signals = s.signals[0];
        signals.pending[0].signo = 35;
        EXPECT_ERROR(withSection(signalsAt, signals), "pending signal #0: siginfo names signal 34, the record 35");

        auto files = s.files[0];
        files.fds[1].fd = -3;
        EXPECT_ERROR(withSection(filesAt, files), "fd -3: negative fd");
        files = s.files[0];
        files.fds[2].fd = 1;
        EXPECT_ERROR(withSection(filesAt, files), "fd 1: out of order or repeated");
        files = s.files[0];
        files.fds[0].kind = FdKind(77);
        EXPECT_ERROR(withSection(filesAt, files), "fd 0: unknown kind 77");
        files = s.files[0]; // fd 1: /tmp/out.log, O_WRONLY|O_APPEND, S_IFREG
        files.fds[1].kind = FdKind::ProcFile;
        EXPECT_ERROR(withSection(filesAt, files), "fd 1: a file of /proc outside /proc, or not read-only");
        files.fds[1].path = "/proc/4242/maps";
        EXPECT_ERROR(withSection(filesAt, files), "fd 1: a file of /proc outside /proc, or not read-only");
        files.fds[1].openFlags = 0;
        files.fds[1].mode = S_IFCHR | 0444;
        EXPECT_ERROR(withSection(filesAt, files), "fd 1: mode 020444 is neither a file nor a directory of /proc");
        files = s.files[0];
        files.fds[1].mode = S_IFDIR | 0755;
        EXPECT_ERROR(withSection(filesAt, files), "fd 1: mode 040755 does not match its kind");
        files = s.files[0];
        files.fds[1].openFlags |= 02000000;
        EXPECT_ERROR(withSection(filesAt, files), "O_CLOEXEC belongs in cloexec");
        files = s.files[0];
        files.fds[3].unlinked = false;
        EXPECT_ERROR(withSection(filesAt, files), "FileData record for fd 3 of pid 4242, which is not an unlinked file");
        files = s.files[0];
        files.fds[2].dupOf = 2;
        EXPECT_ERROR(withSection(filesAt, files), "fd 2: shares the open file of fd 2, which is not a lower fd of the process");
        files = s.files[0];
        files.fds[2].dupOf = 0;
        EXPECT_ERROR(withSection(filesAt, files), "fd 2: shares the open file of fd 0, but describes another file");
        files = s.files[0];
        files.fds[3].dupOf = 2;
        EXPECT_ERROR(withSection(filesAt, files), "fd 3: shares the open file of fd 2, which itself shares one");

        auto thread = s.threads[0];
        thread.tid = 4250;
        EXPECT_ERROR(withSection(threadAt, thread), "Thread record for tid 4250, which is not a thread of pid 4242");
        thread = s.threads[0];
        thread.fpregs.resize(100);
        EXPECT_ERROR(withSection(threadAt, thread), "fpregs is 100 bytes, must be 512 or empty");
        thread = s.threads[0];
        thread.altstackFlags = 0x40;
        EXPECT_ERROR(withSection(threadAt, thread), "unknown sigaltstack flags 0x40");
        thread = s.threads[0];
        thread.rseqAddr += 8;
        EXPECT_ERROR(withSection(threadAt, thread), "of 32 bytes is not a valid registration");
        thread = s.threads[0];
        thread.rseqSize = 0;
        EXPECT_ERROR(withSection(threadAt, thread), "rseq fields set without an rseq size");
        thread = s.threads[0];
        thread.robustListLen = 16;
        EXPECT_ERROR(withSection(threadAt, thread), "robust list length 16, must be 24");
        thread = s.threads[0];
        thread.robustListLen = 0;
        EXPECT_ERROR(withSection(threadAt, thread), "without a length");
        thread = s.threads[0];
        thread.seccompMode = 3;
        EXPECT_ERROR(withSection(threadAt, thread), "unknown seccomp mode 3");
        thread = s.threads[0];
        thread.seccompFilters.clear();
        EXPECT_ERROR(withSection(threadAt, thread), "seccomp mode 2 with 0 filters");
        thread = s.threads[0];
        thread.seccompFilters[1].program.resize(12);
        EXPECT_ERROR(withSection(threadAt, thread), "seccomp filter 1 is 12 bytes, must be 1..4096 instructions of 8 bytes");
        thread = s.threads[0];
        thread.seccompFilters[0].flags = 1; // TSYNC is no property of a filter
        EXPECT_ERROR(withSection(threadAt, thread), "seccomp filter 0 has unknown flags 0x1");
        thread = s.threads[0];
        thread.pending[0].siginfo[0] = 12;
        EXPECT_ERROR(withSection(threadAt, thread), "pending signal #0: siginfo names signal 12, the record 10");
        thread = s.threads[1];
        EXPECT_ERROR(withSection(threadAt, thread), "second Thread record for tid 4243");

        auto mm = s.mms[0];
        mm.vmas[3].end = mm.vmas[3].start;
        EXPECT_ERROR(withSection(mmAt, mm), "VMA 0x1000000-0x1000000: start is not below end");
        mm = s.mms[0];
        mm.vmas[3].start = 0x1000010;
        EXPECT_ERROR(withSection(mmAt, mm), "VMA 0x1000010-0x9000000: not page aligned");
        mm = s.mms[0];
        mm.vmas[3].start = 0x602000 - 0x1000;
        EXPECT_ERROR(withSection(mmAt, mm), "overlaps or is out of order (previous VMA ends at 0x603000)");
        mm = s.mms[0];
        mm.vmas[4].kind = VmaKind(99);
        EXPECT_ERROR(withSection(mmAt, mm), "unknown kind 99");
        mm = s.mms[0];
        mm.vmas[4].prot = 8;
        EXPECT_ERROR(withSection(mmAt, mm), "unknown protection bits 0x8");
        mm = s.mms[0];
        mm.vmas[0].pgoff = 0x10;
        EXPECT_ERROR(withSection(mmAt, mm), "file offset 0x10 is not page aligned");
        mm = s.mms[0];
        mm.startBrk = mm.brk + 1;
        EXPECT_ERROR(withSection(mmAt, mm), "brk start 0x1040001 is above its end 0x1040000");
        mm = s.mms[0];
        mm.auxv.pop_back();
        EXPECT_ERROR(withSection(mmAt, mm), "auxv has 7 values");
        mm = s.mms[0];
        mm.vmas.erase(mm.vmas.begin() + 3); // the heap, where pages are
        EXPECT_ERROR(withSection(mmAt, mm), "is not inside the VMAs of its Mm record");

        auto pages = s.pages[0];
        pages.runs[0].vaddr += 12;
        EXPECT_ERROR(withSection(pagesAt, pages), "run at 0x60100c is not page aligned");
        pages = s.pages[0];
        pages.data.resize(pages.data.size() - 4096);
        EXPECT_ERROR(withSection(pagesAt, pages), "bytes of data for");
        pages = s.pages[0];
        std::swap(pages.runs[0], pages.runs[1]);
        EXPECT_ERROR(withSection(pagesAt, pages), "overlaps or is out of order");
        pages = s.pages[0];
        pages.runs[1].pages = 0;
        EXPECT_ERROR(withSection(pagesAt, pages), "has no pages");
        pages = s.pages[0];
        pages.runs[0].vaddr = 0xfffffffffffff000;
        pages.runs.resize(1);
        pages.data.resize(size_t(pages.runs[0].pages) * 4096);
        EXPECT_ERROR(withSection(pagesAt, pages), "wraps around the address space");
        pages = s.pages[0];
        pages.runs = {PageRun {0x7ffc00100000, 1}};
        pages.data.resize(4096);
        EXPECT_ERROR(withSection(pagesAt, pages), "[vvar]/[vsyscall]");
        // pages of pid 4242 written again after later ones: not ascending
        {
            auto sections = sampleSections(s);
            sections.insert(sections.begin() + pagesAt + 3, sections[pagesAt]);
            EXPECT_ERROR(assemble(headerOf(m_image), sections), "page runs must ascend across records");
        }
        // Pages before the Mm: move the Mm to the end
        {
            auto sections = sampleSections(s);
            auto mmBytes = sections[mmAt];
            sections.erase(sections.begin() + mmAt);
            sections.push_back(mmBytes);
            EXPECT_ERROR(assemble(headerOf(m_image), sections), "Pages record for pid 4242 comes before its Mm record");
        }
        // a zstd frame that lies about its size, and one that does not say
        {
            std::vector<uint8_t> f;
            Encoder e(f);
            RecordCodec::encodePagesFields(e, 4242, s.pages[0].runs, s.pages[0].data.size());
            const size_t fieldBytes = f.size();
            std::vector<uint8_t> smaller(s.pages[0].data.begin(), s.pages[0].data.end() - 1);
            std::vector<uint8_t> z(ZSTD_compressBound(smaller.size()));
            z.resize(ZSTD_compress(z.data(), z.size(), smaller.data(), smaller.size(), 1));
            f.insert(f.end(), z.begin(), z.end());
            EXPECT_ERROR(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 1, f, fieldBytes + s.pages[0].data.size())),
                         std::format("the zstd frame holds {} bytes, the fields say {}", smaller.size(), s.pages[0].data.size()));

            f.resize(fieldBytes);
            ZSTD_CCtx *c = ZSTD_createCCtx();
            std::vector<uint8_t> streamed(ZSTD_compressBound(s.pages[0].data.size()));
            ZSTD_outBuffer out {streamed.data(), streamed.size(), 0};
            ZSTD_inBuffer in {s.pages[0].data.data(), s.pages[0].data.size(), 0};
            ZSTD_compressStream2(c, &out, &in, ZSTD_e_continue);
            while (ZSTD_compressStream2(c, &out, &in, ZSTD_e_end) != 0) { }
            ZSTD_freeCCtx(c);
            f.insert(f.end(), streamed.begin(), streamed.begin() + out.pos);
            EXPECT_ERROR(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 1, f, fieldBytes + s.pages[0].data.size())),
                         "the zstd frame does not record its size");

            // not zstd at all, and trailing bytes after a good frame
            f.resize(fieldBytes);
            f.insert(f.end(), 64, 0xab);
            EXPECT_ERROR(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 1, f, fieldBytes + s.pages[0].data.size())), "not a valid zstd frame");
            f.resize(fieldBytes);
            std::vector<uint8_t> good(ZSTD_compressBound(s.pages[0].data.size()));
            good.resize(ZSTD_compress(good.data(), good.size(), s.pages[0].data.data(), s.pages[0].data.size(), 1));
            f.insert(f.end(), good.begin(), good.end());
            f.push_back(0);
            EXPECT_ERROR(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 1, f, fieldBytes + s.pages[0].data.size())), "1 bytes after the zstd frame");
            f.pop_back();
            // the raw length of the frame header must add up
            EXPECT_ERROR(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 1, f, fieldBytes + s.pages[0].data.size() + 1)), "does not match");
            // stored raw (flag 0) is valid when the sizes agree
            f.resize(fieldBytes);
            f.insert(f.end(), s.pages[0].data.begin(), s.pages[0].data.end());
            QVERIFY(readError(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 0, f, f.size()))).empty());
            // damaged compressed data behind a good checksum
            f.resize(fieldBytes);
            good[good.size() / 2] ^= 0xff;
            good[good.size() / 2 + 1] ^= 0xff;
            f.insert(f.end(), good.begin(), good.end());
            const std::string err = readError(withBytes(pagesAt, frame(uint32_t(SectionType::Pages), 1, f, fieldBytes + s.pages[0].data.size())));
            QVERIFY2(err.empty() || contains(err, "zstd"), err.c_str());
        }

        // terminals and the fds naming them
        const size_t terminalAt = indexOfRecord<TerminalRecord>(s);
        auto terminal = s.terminals[0];
        terminal.path = "/dev/pts/../../etc/shadow";
        EXPECT_ERROR(withSection(terminalAt, terminal), "not a /dev/pts/N path");
        terminal = s.terminals[0];
        terminal.rdev = makedev(4, 1);
        EXPECT_ERROR(withSection(terminalAt, terminal), "is not a pseudo-terminal slave");
        terminal = s.terminals[0];
        terminal.cc.resize(32);
        EXPECT_ERROR(withSection(terminalAt, terminal), "cc: length 32 exceeds the limit of 19 bytes");
        terminal = s.terminals[0];
        terminal.cc.resize(3);
        EXPECT_ERROR(withSection(terminalAt, terminal), "3 control characters, not 19");
        terminal = s.terminals[0];
        terminal.rows = 70000;
        EXPECT_ERROR(withSection(terminalAt, terminal), "window size out of range");
        terminal = s.terminals[0];
        terminal.sid = 0;
        terminal.foregroundPgrp = 4242;
        EXPECT_ERROR(withSection(terminalAt, terminal), "session 0 / foreground group 4242 invalid");
        auto terminalFiles = s.files[0];
        std::ranges::find(terminalFiles.fds, FdKind::Terminal, &FdRecord::kind)->rdev = makedev(136, 9);
        EXPECT_ERROR(withSection(filesAt, terminalFiles), "fd 18 of pid 4242 is a terminal no earlier Terminal record describes");

        // file objects and the fds naming them; timers
        const size_t objectAt = indexOfRecord<FileObjectRecord>(s);
        auto object = s.fileObjects[0];
        object.id = 0;
        EXPECT_ERROR(withSection(objectAt, object), "file object with id 0");
        object = s.fileObjects[0];
        object.pipeSize = 4096;
        object.data.resize(8192);
        EXPECT_ERROR(withSection(objectAt, object), "file object 1: 8192 bytes queued in a pipe of 4096 bytes");
        object = s.fileObjects[0];
        object.pipeSize = 3 * 4096;
        EXPECT_ERROR(withSection(objectAt, object), "pipe size 12288 is not a power of two");
        object = s.fileObjects[0];
        object.count = 1;
        EXPECT_ERROR(withSection(objectAt, object), "eventfd fields set on an object that is no eventfd");
        object = s.fileObjects[0];
        object.kind = FileObjectKind(99);
        EXPECT_ERROR(withSection(objectAt, object), "file object 1: unknown kind 99");
        object = s.fileObjects[1];
        object.id = 1;
        EXPECT_ERROR(withSection(objectAt + 1, object), "second FileObject record with id 1");
        object = s.fileObjects[2];
        object.clockId = 3; // CLOCK_THREAD_CPUTIME_ID
        EXPECT_ERROR(withSection(objectAt + 2, object), "file object 3: clock 3 is not one a timerfd can use");
        object = s.fileObjects[2];
        object.deadlineNs = 0;
        EXPECT_ERROR(withSection(objectAt + 2, object), "a timer armed without a deadline");
        object = s.fileObjects[3];
        object.targets[1].fd = -2;
        EXPECT_ERROR(withSection(objectAt + 3, object), "file object 4: epoll registration of negative fd -2");
        object = s.fileObjects[4];
        object.peer = 5;
        EXPECT_ERROR(withSection(objectAt + 4, object), "file object 5: a socket that is its own peer");
        object = s.fileObjects[4];
        object.socketType = 3; // SOCK_RAW
        EXPECT_ERROR(withSection(objectAt + 4, object), "socket type 3 is not stream, datagram or seqpacket");
        object = s.fileObjects[0];
        object.passcred = true;
        EXPECT_ERROR(withSection(objectAt, object), "unix socket fields set on an object that is no unix socket");
        object = s.fileObjects[0];
        object.localPort = 80;
        EXPECT_ERROR(withSection(objectAt, object), "inet socket fields set on an object that is no inet socket");
        object = s.fileObjects[0];
        object.tcpRecvQueue = {1, 2, 3};
        EXPECT_ERROR(withSection(objectAt, object), "inet socket fields set on an object that is no inet socket");
        object = s.fileObjects[6];
        object.protocol = 17; // a listening UDP "stream"
        EXPECT_ERROR(withSection(objectAt + 6, object), "file object 7: protocol 17 with socket type 1 is neither TCP stream nor UDP datagram");
        object = s.fileObjects[7];
        object.peerAddress.resize(16);
        EXPECT_ERROR(withSection(objectAt + 7, object), "file object 8: peer address of 16 bytes, port 53, for its state and family");
        object = s.fileObjects[7];
        object.inetState = InetState::Listening;
        object.peerAddress.clear();
        object.peerPort = 0;
        EXPECT_ERROR(withSection(objectAt + 7, object), "file object 8: only a TCP socket can listen");
        object = s.fileObjects[6];
        object.socketOptions |= kSockBroadcast << 1;
        EXPECT_ERROR(withSection(objectAt + 6, object), "options 0x4d unknown or not for its family and protocol");
        {
            auto locked = s.files[0];
            locked.locks[0].fd = 99;
            EXPECT_ERROR(withSection(indexOfRecord<FilesRecord>(s), locked), "lock through fd 99: the process has no such fd");
            locked = s.files[0];
            locked.locks[1].start = 5; // a flock has no range
            EXPECT_ERROR(withSection(indexOfRecord<FilesRecord>(s), locked), "invalid range 5..18446744073709551615");
            locked = s.files[0];
            locked.locks[0].fd = 0; // /dev/null
            EXPECT_ERROR(withSection(indexOfRecord<FilesRecord>(s), locked), "locks are restored on regular files and directories only");
        }
        auto objectFiles = s.files[0];
        objectFiles.fds[5].object = 99;
        EXPECT_ERROR(withSection(filesAt, objectFiles), "fd 10 of pid 4242 names file object 99, which no earlier FileObject record defines");
        objectFiles = s.files[0];
        objectFiles.fds[7].object = 3;
        objectFiles.fds[8].object = 3; // its dup
        EXPECT_ERROR(withSection(filesAt, objectFiles), "fd 12 of pid 4242 names file object 3 of another kind");
        objectFiles = s.files[0];
        objectFiles.fds[7].object = 0;
        EXPECT_ERROR(withSection(filesAt, objectFiles), "fd 12: names no file object");
        objectFiles = s.files[0];
        objectFiles.fds[8].object = 1;
        EXPECT_ERROR(withSection(filesAt, objectFiles), "fd 13: shares the open file of fd 12, but describes another file");
        objectFiles = s.files[0];
        objectFiles.fds[1].object = 2;
        EXPECT_ERROR(withSection(filesAt, objectFiles), "a file of its kind names no file object, but names 2");
        auto timers = s.timers[0];
        timers.posix[1].id = 0;
        EXPECT_ERROR(withSection(indexOfRecord<TimersRecord>(s), timers), "POSIX timer 0: ids not ascending and unique");
        timers = s.timers[0];
        timers.posix[0].notify = 2; // SIGEV_THREAD
        EXPECT_ERROR(withSection(indexOfRecord<TimersRecord>(s), timers), "notification 2 is not SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID");
        timers = s.timers[0];
        timers.posix[0].clockId = -6;
        EXPECT_ERROR(withSection(indexOfRecord<TimersRecord>(s), timers), "POSIX timer 0: clock -6 is not supported");
        {
            auto sections = sampleSections(s);
            sections.insert(sections.begin() + indexOfRecord<TimersRecord>(s), sections[indexOfRecord<TimersRecord>(s)]);
            EXPECT_ERROR(assemble(headerOf(m_image), sections), "second Timers record for pid 4242");
        }

        auto data = s.fileData[0];
        data.fd = 1;
        EXPECT_ERROR(withSection(dataAt, data), "FileData record for fd 1 of pid 4242, which is not an unlinked file");
        {
            auto sections = sampleSections(s);
            sections.erase(sections.begin() + dataAt);
            EXPECT_ERROR(assemble(headerOf(m_image), sections), "fd 3 of pid 4242 is an unlinked file but no FileData record follows");
        }
    }

    void structureErrors()
    {
        const auto sections = sampleSections(m_sample);
        const auto header = headerOf(m_image);
        // ProcessTree not first
        {
            auto s = sections;
            std::swap(s[0], s[1]);
            EXPECT_ERROR(assemble(header, s), "section #0 (Task) at byte");
            EXPECT_ERROR(assemble(header, s), "the first section must be the ProcessTree");
        }
        // a second ProcessTree, a second Task
        {
            auto s = sections;
            s.push_back(sections[0]);
            EXPECT_ERROR(assemble(header, s), "second ProcessTree record");
            s = sections;
            s.push_back(sections[1]);
            EXPECT_ERROR(assemble(header, s), "second Task record for pid 4242");
        }
        // missing records at End
        for (const auto &[variant, name] : {std::pair<size_t, const char *> {1, "Task"}, {3, "Creds"}, {4, "Signals"}, {6, "Files"}, {5, "Mm"}}) {
            auto s = sections;
            const size_t at = indexOf(m_sample, variant, 4250);
            s.erase(s.begin() + at);
            if (variant == 6) {
                // the child's FileData needs its Files record
                std::erase_if(s, [](const std::vector<uint8_t> &b) { return b[0] == uint8_t(SectionType::FileData) && b[24] == uint8_t(4250 & 0xff); });
            }
            if (variant == 5) {
                // pages need their Mm: drop the child's pages too
                std::erase_if(s, [](const std::vector<uint8_t> &b) { return b[0] == uint8_t(SectionType::Pages) && b[24] == uint8_t(4250 & 0xff); });
            }
            EXPECT_ERROR(assemble(header, s), std::string("image incomplete: no ") + name + " record for pid 4250");
        }
        {
            auto s = sections;
            s.erase(s.begin() + indexOfRecord<ThreadRecord>(m_sample) + 1);
            EXPECT_ERROR(assemble(header, s), "image incomplete: no Thread record for tid 4243 of pid 4242");
        }
        // End counts that do not match
        {
            std::vector<uint8_t> bytes = assemble(header, sections, false);
            EndRecord end {sections.size() + 1, 24, 0};
            const auto f = fields(end);
            const auto e = frame(uint32_t(SectionType::End), 0, f, f.size());
            bytes.insert(bytes.end(), e.begin(), e.end());
            EXPECT_ERROR(bytes, std::format("the End record counts {} sections", sections.size() + 1));
        }
        // unknown section type and flags (with valid checksums)
        {
            auto s = sections;
            s.insert(s.begin() + 1, frame(0x77, 0, {1, 2, 3}, 3));
            EXPECT_ERROR(assemble(header, s), "section #1 (type 0x77) at byte");
            EXPECT_ERROR(assemble(header, s), "unknown section type 0x77");
            s = sections;
            const auto f = fields(m_sample.tasks[0]);
            s[1] = frame(uint32_t(SectionType::Task), 1, f, f.size());
            EXPECT_ERROR(assemble(header, s), "unknown or misplaced section flags 0x1");
            s[1] = frame(uint32_t(SectionType::Task), 0x80, f, f.size());
            EXPECT_ERROR(assemble(header, s), "unknown or misplaced section flags 0x80");
            s[1] = frame(uint32_t(SectionType::Task), 0, f, f.size() + 5);
            EXPECT_ERROR(assemble(header, s), "differs from payload length");
        }
        // nothing but the header; garbage after the header
        EXPECT_ERROR(header, std::format("image truncated at byte {} in section #0: the stream ended before the End record", header.size()));
        {
            std::vector<uint8_t> bytes = header;
            std::mt19937_64 rng(1);
            for (int i = 0; i < 4096; ++i) {
                bytes.push_back(uint8_t(rng()));
            }
            EXPECT_ERROR(bytes, "section #0 ");
        }
        // a valid image and then more bytes: the reader stops at End
        {
            std::vector<uint8_t> bytes = m_image;
            bytes.insert(bytes.end(), 100, 0xee);
            QVERIFY(readError(bytes).empty());
        }
    }

    // Format 9: ProcessEntry::vmOf. A process sharing another's address
    // space has no Mm record and no page data of its own.
    void sharedAddressSpace()
    {
        auto sections = sampleSections(m_sample);
        const auto header = headerOf(m_image);
        ProcessTreeRecord tree = m_sample.tree;
        tree.processes[1].vmOf = 4242;
        sections[0] = sectionBytes(tree);
        EXPECT_ERROR(assemble(header, sections), "Mm record for pid 4250, which shares another process's address space");
        // Without the child's Mm and pages: a valid image.
        auto isChilds = [](const std::vector<uint8_t> &b, SectionType type) { return b[0] == uint8_t(type) && b[24] == uint8_t(4250 & 0xff); };
        std::erase_if(sections, [&](const std::vector<uint8_t> &b) { return isChilds(b, SectionType::Mm) || isChilds(b, SectionType::Pages); });
        const std::vector<uint8_t> valid = assemble(header, sections);
        QCOMPARE(readError(valid), std::string());
        auto read = readAll(valid);
        QVERIFY(read);
        QCOMPARE(std::get<ProcessTreeRecord>(read->front()).processes[1].vmOf, 4242);
        // ... with the child's pages again (after the root's Mm).
        auto withPages = sections;
        for (const auto &b : sampleSections(m_sample)) {
            if (isChilds(b, SectionType::Pages)) {
                withPages.push_back(b);
            }
        }
        EXPECT_ERROR(assemble(header, withPages), "Pages record for pid 4250, which shares another process's address space");
        // vmOf naming a later process or none of the tree.
        for (const int32_t bad : {4250, 4251}) {
            ProcessTreeRecord t = m_sample.tree;
            t.processes[0].vmOf = bad;
            sections[0] = sectionBytes(t);
            EXPECT_ERROR(assemble(header, sections),
                         std::format("process tree: pid 4242 shares the address space of {}, which is no earlier process of the tree", bad));
        }
    }

    // Images of format 8 (no ProcessEntry::vmOf) are still read, every
    // process with an address space of its own.
    void formatVersion8StillRead()
    {
        std::vector<uint8_t> header = headerOf(m_image);
        storeU32(header.data() + 8, 8);
        rechecksumHeader(header, header.size());
        std::vector<uint8_t> tree;
        Encoder e(tree);
        e.i32(m_sample.tree.rootPid);
        e.count(m_sample.tree.processes.size());
        for (const ProcessEntry &p : m_sample.tree.processes) {
            e.i32(p.pid);
            e.i32(p.ppid);
            e.i32(p.pgid);
            e.i32(p.sid);
            e.count(p.tids.size());
            for (const int32_t tid : p.tids) {
                e.i32(tid);
            }
            e.boolean(p.zombie);
            e.i32(p.exitStatus);
            e.i32(p.filesOf);
        }
        auto sections = sampleSections(m_sample);
        sections[0] = frame(uint32_t(SectionType::ProcessTree), 0, tree, tree.size());
        const std::vector<uint8_t> old = assemble(header, sections);
        auto read = readAll(old);
        QVERIFY2(read, read ? "" : read.error().describe().c_str());
        QCOMPARE(std::get<ProcessTreeRecord>(read->front()), m_sample.tree);
        QCOMPARE(read->size(), m_sample.sections().size() + 1);
        // The same bytes as format 9 lack a field.
        storeU32(header.data() + 8, kFormatVersion);
        rechecksumHeader(header, header.size());
        QVERIFY(!readError(assemble(header, sections)).empty());
    }

    void randomGarbage()
    {
        std::mt19937_64 rng(42);
        for (int round = 0; round < 2000; ++round) {
            std::vector<uint8_t> bytes(rng() % 2048);
            for (uint8_t &b : bytes) {
                b = uint8_t(rng());
            }
            if (round % 2 == 0 && bytes.size() >= 8) {
                std::memcpy(bytes.data(), kMagic, 8); // get past the magic
            }
            if (round % 4 == 0 && bytes.size() >= 12) {
                storeU32(bytes.data() + 8, 1);
            }
            size_t largest = 0;
            const std::string error = readTracked(bytes, &largest);
            QVERIFY2(!error.empty(), "random bytes accepted");
            QVERIFY2(largest <= kSmallAllocation, error.c_str());
        }
        // random payloads behind valid checksums, for every section type
        const auto header = headerOf(m_image);
        const auto sections = sampleSections(m_sample);
        for (uint32_t type : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 0xffffu}) {
            for (int round = 0; round < 300; ++round) {
                std::vector<uint8_t> payload(rng() % 600);
                for (uint8_t &b : payload) {
                    b = uint8_t(rng() % 4 == 0 ? 0xff : rng());
                }
                std::vector<std::vector<uint8_t>> s;
                if (type != 1) {
                    s.push_back(sections[0]);
                }
                const bool bulk = type == 8 || type == 9;
                s.push_back(frame(type, bulk ? 1 : 0, payload, bulk ? payload.size() + rng() % 100000 : payload.size()));
                size_t largest = 0;
                const std::string error = readTracked(assemble(header, s), &largest);
                QVERIFY2(!error.empty(), "random record accepted");
                QVERIFY2(largest <= kSmallAllocation, error.c_str());
            }
        }
    }
};

QTEST_GUILESS_MAIN(ImageMalformedTest)
#include "imagemalformedtest.moc"
