// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// `cryopodctl inspect`: the built binary run on images this test writes,
// checking text and JSON output, errors and exit codes.

#include "imageinfo.h"
#include "sampleimage.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace cryopod::image;
using namespace cryopod::image::test;

namespace
{
struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cryopodctl(const QStringList &args, const QByteArray &input = {})
{
    QProcess p;
    p.start(QStringLiteral(CRYOPODCTL_PATH), args);
    if (!p.waitForStarted()) {
        return {};
    }
    p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(60000);
    Run r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

bool writeFile(const QString &path, const std::vector<uint8_t> &bytes)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(reinterpret_cast<const char *>(bytes.data()), qint64(bytes.size())) == qint64(bytes.size());
}
} // namespace

class InspectCommandTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    SampleImage m_sample;
    std::vector<uint8_t> m_bytes;
    QString m_image;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_sample = SampleImage::make(40);
        m_bytes = writeToBytes(m_sample);
        QVERIFY(!m_bytes.empty());
        m_image = m_dir.filePath(QStringLiteral("sample.cryopod"));
        QVERIFY(writeFile(m_image, m_bytes));
    }

    void text()
    {
        const Run r = cryopodctl({QStringLiteral("inspect"), m_image});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.err.isEmpty());
        const QString &o = r.out;
        const QStringList expected = {
            QStringLiteral("Image %1\n").arg(m_image),
            QStringLiteral("format:      version %1, ").arg(cryopod::image::kFormatVersion),
            QStringLiteral("created:     2026-01-01T00:00:00.123Z"),
            QStringLiteral("host:        pod-host, kernel 6.18.0-cryopod-test, x86_64, page size 4096"),
            QStringLiteral("engine:      cryopod 0.1.0"),
            QStringLiteral("memory:      80 pages, 320.0 KiB raw, "),
            QStringLiteral("Process tree (root 4242)\n  4242 sample-main  (ppid 1, pgid 4242, sid 4000, threads 4242 4243)\n  └─ 4250 sample-child"),
            QStringLiteral("Process 4242 (sample-main)"),
            QStringLiteral("cwd:         /home/user/work dir"),
            QStringLiteral("umask:       0027"),
            QStringLiteral("NOFILE=1024/524288"),
            QStringLiteral("uid:         1000  euid 0  suid 1001  fsuid 0"),
            QStringLiteral("groups:      4 24 27 1000 4294967294"),
            QStringLiteral("effective:   CAP_NET_RAW (0x2000)"),
            QStringLiteral("permitted:   CAP_NET_RAW CAP_SYS_ADMIN CAP_CHECKPOINT_RESTORE (0x10000202000)"),
            QStringLiteral("ambient:     CAP_CHECKPOINT_RESTORE (0x10000000000)"),
            QStringLiteral("bounding:    all except CAP_SYS_RESOURCE (0x1fffeffffff)"),
            QStringLiteral("securebits:  0x10   no_new_privs: yes"),
            QStringLiteral("4243 worker#4243"),
            QStringLiteral("      seccomp: 2 filters: 1 instructions, 1 instructions (logged)\n"),
            QStringLiteral("SIGINT    0x401234"),
            QStringLiteral("SIGPIPE   ignored"),
            QStringLiteral("SIG64"),
            QStringLiteral("0000000001000000-0000000009000000 rw-  anon"),
            QStringLiteral("[heap]"),
            QStringLiteral("[stack] [growsdown]"),
            QStringLiteral("/usr/bin/sample @0x1000"),
            QStringLiteral("O_RDONLY"),
            QStringLiteral("O_WRONLY|O_APPEND"),
            QStringLiteral("/dev/null (device 1:3)"),
            QStringLiteral("/tmp/scratch file (unlinked; contents in image: 2.9 KiB raw,"),
            QStringLiteral("O_RDONLY|O_DIRECTORY"),
            QStringLiteral(" cloexec  /home/user"),
            QStringLiteral("pipe:[777] (object 1: pipe of 64.0 KiB, 1500 bytes queued)"),
            QStringLiteral("(object 2: eventfd count 0x123456789 (semaphore))"),
            QStringLiteral("(object 3: timerfd clock 1, 1.500 s left, every 3.000 s, 2 unread, absolute)"),
            QStringLiteral("(object 4: epoll set: fd 10 events 0x80000019 data 0xdead; fd 12 events 0x1 data 0xbeef)"),
            QStringLiteral("timers:      ITIMER_REAL 0.050 s left, every 0.050 s; ITIMER_PROF 1000.000 s left, every 7.000 s; POSIX timer 0 (clock 1, SIG35 ) "
                           "0.050 s left, every 0.050 s; POSIX timer 3 (clock 7, SIGUSR2 to thread 4243) disarmed, every 0.000 s"),
        };
        for (const QString &part : expected) {
            QVERIFY2(o.contains(part), qPrintable(QStringLiteral("missing '%1' in:\n%2").arg(part, o)));
        }
    }

    void json()
    {
        const Run r = cryopodctl({QStringLiteral("inspect"), m_image, QStringLiteral("--json")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(r.out.toUtf8(), &error);
        QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
        const QJsonObject root = doc.object();
        QCOMPARE(root[QStringLiteral("formatVersion")].toInt(), int(cryopod::image::kFormatVersion));
        QCOMPARE(root[QStringLiteral("arch")].toString(), QStringLiteral("x86_64"));
        QCOMPARE(root[QStringLiteral("hostname")].toString(), QStringLiteral("pod-host"));
        QCOMPARE(root[QStringLiteral("createdUnixNs")].toString(), QStringLiteral("1767225600123456789"));
        QCOMPARE(root[QStringLiteral("imageBytes")].toInteger(), qint64(m_bytes.size()));
        QCOMPARE(root[QStringLiteral("rootPid")].toInt(), 4242);
        QCOMPARE(root[QStringLiteral("sections")][QStringLiteral("Pages")][QStringLiteral("count")].toInt(), 6);

        // the same numbers as the library computes
        const int fd = memfdWith(m_bytes);
        auto info = ImageInfo::read(fd);
        ::close(fd);
        QVERIFY(info);
        QCOMPARE(root[QStringLiteral("memory")][QStringLiteral("storedBytes")].toInteger(), qint64(info->pagesStoredBytes));
        QCOMPARE(root[QStringLiteral("memory")][QStringLiteral("rawBytes")].toInteger(), qint64(80 * 4096));

        const QJsonArray processes = root[QStringLiteral("processes")].toArray();
        QCOMPARE(processes.size(), 2);
        const QJsonObject p = processes[0].toObject();
        QCOMPARE(p[QStringLiteral("pid")].toInt(), 4242);
        QCOMPARE(p[QStringLiteral("comm")].toString(), QStringLiteral("sample-main"));
        QCOMPARE(p[QStringLiteral("tids")].toArray(), (QJsonArray {4242, 4243}));
        QCOMPARE(p[QStringLiteral("umask")].toString(), QStringLiteral("0027"));
        QCOMPARE(p[QStringLiteral("rlimits")][QStringLiteral("NOFILE")][QStringLiteral("max")].toInteger(), 524288);
        QCOMPARE(p[QStringLiteral("rlimits")][QStringLiteral("CPU")][QStringLiteral("cur")].toString(), QStringLiteral("unlimited"));
        const QJsonObject creds = p[QStringLiteral("credentials")].toObject();
        QCOMPARE(creds[QStringLiteral("euid")].toInt(), 0);
        QCOMPARE(creds[QStringLiteral("groups")].toArray().last().toInteger(), qint64(4294967294));
        const QJsonObject caps = creds[QStringLiteral("capabilities")].toObject();
        QCOMPARE(caps[QStringLiteral("permitted")][QStringLiteral("mask")].toString(), QStringLiteral("0x10000202000"));
        QCOMPARE(caps[QStringLiteral("permitted")][QStringLiteral("names")].toArray(),
                 (QJsonArray {QStringLiteral("CAP_NET_RAW"), QStringLiteral("CAP_SYS_ADMIN"), QStringLiteral("CAP_CHECKPOINT_RESTORE")}));
        QCOMPARE(caps[QStringLiteral("bounding")][QStringLiteral("names")].toArray().size(), 40);
        QCOMPARE(creds[QStringLiteral("noNewPrivs")].toBool(), true);
        const QJsonArray threads = p[QStringLiteral("threads")].toArray();
        QCOMPARE(threads.size(), 2);
        QCOMPARE(threads[1][QStringLiteral("regs")][QStringLiteral("rip")].toString(),
                 QStringLiteral("0x") + QString::number(m_sample.threads[1].regs.gpr[16], 16));
        QCOMPARE(threads[1][QStringLiteral("robustList")][QStringLiteral("head")].toString(),
                 QStringLiteral("0x") + QString::number(m_sample.threads[1].robustListHead, 16));
        QCOMPARE(threads[1][QStringLiteral("robustList")][QStringLiteral("length")].toInt(), 24);
        // The main thread has two seccomp filters (ret ALLOW; ret ERRNO|1, logged), the worker none.
        const QJsonObject seccomp = threads[0][QStringLiteral("seccomp")].toObject();
        QCOMPARE(seccomp[QStringLiteral("mode")].toString(), QStringLiteral("filter"));
        const QJsonArray filters = seccomp[QStringLiteral("filters")].toArray();
        QCOMPARE(filters.size(), 2);
        QCOMPARE(filters[0][QStringLiteral("log")].toBool(), false);
        QCOMPARE(filters[1][QStringLiteral("log")].toBool(), true);
        const QJsonObject ret = filters[1][QStringLiteral("program")].toArray().at(0).toObject();
        QCOMPARE(ret[QStringLiteral("code")].toInt(), 0x06); // BPF_RET | BPF_K
        QCOMPARE(ret[QStringLiteral("k")].toString(), QStringLiteral("0x50001")); // SECCOMP_RET_ERRNO | 1
        QCOMPARE(filters[0][QStringLiteral("program")].toArray().at(0)[QStringLiteral("k")].toString(), QStringLiteral("0x7fff0000")); // SECCOMP_RET_ALLOW
        QCOMPARE(threads[1][QStringLiteral("seccomp")][QStringLiteral("mode")].toString(), QStringLiteral("none"));
        QVERIFY(threads[1][QStringLiteral("seccomp")][QStringLiteral("filters")].toArray().isEmpty());
        QCOMPARE(p[QStringLiteral("signals")].toArray()[1][QStringLiteral("handler")].toString(), QStringLiteral("ignored"));

        const QJsonArray vmas = p[QStringLiteral("vmas")].toArray();
        QCOMPARE(vmas.size(), qsizetype(m_sample.mms[0].vmas.size()));
        qint64 raw = 0;
        for (qsizetype i = 0; i < vmas.size(); ++i) {
            const QJsonObject v = vmas[i].toObject();
            QCOMPARE(v[QStringLiteral("rawBytes")].toInteger(), qint64(info->processes[0].vmas[size_t(i)].rawBytes));
            QCOMPARE(v[QStringLiteral("storedBytes")].toInteger(), qint64(info->processes[0].vmas[size_t(i)].storedBytes));
            raw += v[QStringLiteral("rawBytes")].toInteger();
        }
        QCOMPARE(raw, qint64(40 * 4096));
        QCOMPARE(vmas[3][QStringLiteral("path")].toString(), QStringLiteral("[heap]"));
        QCOMPARE(vmas[3][QStringLiteral("start")].toString(), QStringLiteral("0x1000000"));
        QCOMPARE(vmas[9][QStringLiteral("start")].toString(), QStringLiteral("0xffffffffff600000"));
        QCOMPARE(vmas[6][QStringLiteral("flags")].toArray(), (QJsonArray {QStringLiteral("growsdown")}));
        QCOMPARE(vmas[1][QStringLiteral("offset")].toInteger(), 0x1000);

        const QJsonArray fds = p[QStringLiteral("fds")].toArray();
        QCOMPARE(fds.size(), 16);
        QCOMPARE(fds[13][QStringLiteral("kind")].toString(), QStringLiteral("tty"));
        QCOMPARE(fds[13][QStringLiteral("device")].toString(), QStringLiteral("136:4"));
        const QJsonArray terminals = root[QStringLiteral("terminals")].toArray();
        QCOMPARE(terminals.size(), 1);
        QCOMPARE(terminals[0][QStringLiteral("path")].toString(), QStringLiteral("/dev/pts/4"));
        QCOMPARE(terminals[0][QStringLiteral("rows")].toInteger(), 33);
        QCOMPARE(terminals[0][QStringLiteral("inputQueued")].toInteger(), 5);
        QCOMPARE(fds[14][QStringLiteral("kind")].toString(), QStringLiteral("inet"));
        QCOMPARE(fds[14][QStringLiteral("objectInfo")].toString(),
                 QStringLiteral("TCPv6 socket, listening at [0:0:0:0:0:0:0:1]:8080, backlog 128, options 0xd"));
        QCOMPARE(fds[15][QStringLiteral("objectInfo")].toString(), QStringLiteral("UDP socket, connected at 127.0.0.1:40000 to 127.0.0.2:53, options 0x20"));
        QCOMPARE(fds[11][QStringLiteral("objectInfo")].toString(), QStringLiteral("unix datagram socket, peer object 6, 703 bytes in 3 messages queued"));
        QCOMPARE(fds[5][QStringLiteral("kind")].toString(), QStringLiteral("pipe"));
        QCOMPARE(fds[6][QStringLiteral("object")].toInteger(), 1);
        QCOMPARE(fds[8][QStringLiteral("kind")].toString(), QStringLiteral("eventfd"));
        QCOMPARE(fds[8][QStringLiteral("objectInfo")].toString(), QStringLiteral("eventfd count 0x123456789 (semaphore)"));
        QCOMPARE(fds[10][QStringLiteral("kind")].toString(), QStringLiteral("epoll"));
        QCOMPARE(fds[0][QStringLiteral("device")].toString(), QStringLiteral("1:3"));
        QCOMPARE(fds[1][QStringLiteral("flags")].toString(), QStringLiteral("O_WRONLY|O_APPEND"));
        QCOMPARE(fds[1][QStringLiteral("pos")].toInteger(), 1234);
        QCOMPARE(fds[3][QStringLiteral("unlinked")].toBool(), true);
        QCOMPARE(fds[3][QStringLiteral("dataRawBytes")].toInteger(), 3000);
        QCOMPARE(fds[4][QStringLiteral("cloexec")].toBool(), true);
    }

    // SysV IPC objects (section 14) with the SharedMemory record (kind 4)
    // of a segment's memory, and a file of /proc (fd kind 14), in text and
    // JSON.
    void sysvIpcAndSharedMemory()
    {
        SampleImage sample = SampleImage::make(8);
        const SysvSample sysv = sysvSample();
        sample.sharedMemory = {sysv.memory};
        sample.sysvIpc = {sysv.segment, sysv.queue, sysv.set};
        FdRecord proc;
        proc.fd = 40;
        proc.kind = FdKind::ProcFile;
        proc.path = "/proc/4250/maps";
        proc.pos = 77;
        proc.mode = S_IFREG | 0444;
        sample.files[0].fds.push_back(proc);
        const std::vector<uint8_t> bytes = writeToBytes(sample);
        QVERIFY(!bytes.empty());
        const QString image = m_dir.filePath(QStringLiteral("sysv.cryopod"));
        QVERIFY(writeFile(image, bytes));

        const Run text = cryopodctl({QStringLiteral("inspect"), image});
        QVERIFY2(text.exitCode == 0, qPrintable(text.err));
        const QStringList expected = {
            QStringLiteral("  shared mem:  4: sysv-shm, SysV segment 32769, 8.1 KiB, 1 pages saved\n"),
            QStringLiteral("  SysV IPC:    shm 32769 key 0x5c001234 mode 0640 owner 1000:4242 (creator 0:0): 8.1 KiB, memory in shared memory 4\n"),
            QStringLiteral("  SysV IPC:    msg 5 key IPC_PRIVATE mode 0600 owner 0:0 (creator 0:0): 2 messages (3 bytes), qbytes 16384, last sent by 100, "
                           "last received by 0\n"),
            QStringLiteral("  SysV IPC:    sem 65536 key 0x0000002a mode 0666 owner 0:0 (creator 0:0): 3 semaphores: 0 (pid 0), 3 (pid 100), 32767 (pid 0)\n"),
            QStringLiteral("  40 proc O_RDONLY"),
            QStringLiteral(" pos 77  mode 100444  /proc/4250/maps"),
        };
        for (const QString &part : expected) {
            QVERIFY2(text.out.contains(part), qPrintable(QStringLiteral("missing '%1' in:\n%2").arg(part, text.out)));
        }

        const Run json = cryopodctl({QStringLiteral("inspect"), image, QStringLiteral("--json")});
        QVERIFY2(json.exitCode == 0, qPrintable(json.err));
        const QJsonObject root = QJsonDocument::fromJson(json.out.toUtf8()).object();
        QCOMPARE(root[QStringLiteral("sections")][QStringLiteral("SysvIpc")][QStringLiteral("count")].toInt(), 3);
        const QJsonArray shared = root[QStringLiteral("sharedMemory")].toArray();
        QCOMPARE(shared.size(), 1);
        QCOMPARE(shared[0][QStringLiteral("id")].toInteger(), 4);
        QCOMPARE(shared[0][QStringLiteral("kind")].toString(), QStringLiteral("sysv-shm"));
        QCOMPARE(shared[0][QStringLiteral("segment")].toInteger(), 32769);
        QCOMPARE(shared[0][QStringLiteral("size")].toInteger(), 2 * 4096 + 100);
        QCOMPARE(shared[0][QStringLiteral("pagesSaved")].toInteger(), 1);
        const QJsonArray sysvIpc = root[QStringLiteral("sysvIpc")].toArray();
        QCOMPARE(sysvIpc.size(), 3);
        QCOMPARE(sysvIpc[0][QStringLiteral("kind")].toString(), QStringLiteral("shm"));
        QCOMPARE(sysvIpc[0][QStringLiteral("key")].toString(), QStringLiteral("0x5c001234"));
        QCOMPARE(sysvIpc[0][QStringLiteral("mode")].toString(), QStringLiteral("0640"));
        QCOMPARE(sysvIpc[0][QStringLiteral("gid")].toInteger(), 4242);
        QCOMPARE(sysvIpc[0][QStringLiteral("sharedMemory")].toInteger(), 4);
        QCOMPARE(sysvIpc[0][QStringLiteral("destroyed")].toBool(), false);
        QCOMPARE(sysvIpc[1][QStringLiteral("kind")].toString(), QStringLiteral("msg"));
        QCOMPARE(sysvIpc[1][QStringLiteral("key")].toString(), QStringLiteral("IPC_PRIVATE"));
        QCOMPARE(sysvIpc[1][QStringLiteral("messages")].toArray().size(), 2);
        QCOMPARE(sysvIpc[1][QStringLiteral("messages")][0][QStringLiteral("type")].toInteger(), 7);
        QCOMPARE(sysvIpc[1][QStringLiteral("messages")][0][QStringLiteral("bytes")].toInteger(), 3);
        QCOMPARE(sysvIpc[1][QStringLiteral("lastSender")].toInt(), 100);
        QCOMPARE(sysvIpc[2][QStringLiteral("kind")].toString(), QStringLiteral("sem"));
        QCOMPARE(sysvIpc[2][QStringLiteral("values")].toArray(), (QJsonArray {0, 3, 32767}));
        QCOMPARE(sysvIpc[2][QStringLiteral("lastChangedBy")].toArray(), (QJsonArray {0, 100, 0}));
        const QJsonArray fds = root[QStringLiteral("processes")][0][QStringLiteral("fds")].toArray();
        QCOMPARE(fds.last()[QStringLiteral("kind")].toString(), QStringLiteral("proc"));
        QCOMPARE(fds.last()[QStringLiteral("path")].toString(), QStringLiteral("/proc/4250/maps"));
        QCOMPARE(fds.last()[QStringLiteral("pos")].toInteger(), 77);
    }

    void fromStandardInput()
    {
        const Run r =
            cryopodctl({QStringLiteral("inspect"), QStringLiteral("-")}, QByteArray(reinterpret_cast<const char *>(m_bytes.data()), qsizetype(m_bytes.size())));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.startsWith(QStringLiteral("Image (standard input)\n")));
    }

    void errors()
    {
        const QString missing = m_dir.filePath(QStringLiteral("missing.cryopod"));
        Run r = cryopodctl({QStringLiteral("inspect"), missing});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.out.isEmpty());
        QCOMPARE(r.err, QStringLiteral("cryopodctl: inspect: open %1: No such file or directory\n").arg(missing));

        std::vector<uint8_t> bad = m_bytes;
        const Wire wire = parseWire(bad);
        bad[wire.sections[3].offset + 30] ^= 0x10;
        const QString corrupt = m_dir.filePath(QStringLiteral("corrupt.cryopod"));
        QVERIFY(writeFile(corrupt, bad));
        r = cryopodctl({QStringLiteral("inspect"), corrupt, QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.startsWith(QStringLiteral("cryopodctl: inspect: %1: section #3 (Signals) at byte ").arg(corrupt)), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("checksum mismatch")), qPrintable(r.err));

        const std::vector<uint8_t> cut(m_bytes.begin(), m_bytes.begin() + qsizetype(wire.sections[5].offset + 10));
        const QString truncated = m_dir.filePath(QStringLiteral("truncated.cryopod"));
        QVERIFY(writeFile(truncated, cut));
        r = cryopodctl({QStringLiteral("inspect"), truncated});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("image truncated at byte %1 in section #5 (FileObject)").arg(cut.size())), qPrintable(r.err));

        r = cryopodctl({QStringLiteral("inspect"), QStringLiteral("/etc/hostname")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("not a Cryopod image")), qPrintable(r.err));
    }

    void usage()
    {
        Run r = cryopodctl({QStringLiteral("inspect")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.startsWith(QStringLiteral("cryopodctl: inspect: no IMAGE given\n")));
        QVERIFY(r.err.contains(QStringLiteral("usage: cryopodctl inspect IMAGE [--json]")));
        r = cryopodctl({QStringLiteral("inspect"), m_image, QStringLiteral("--bogus")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.startsWith(QStringLiteral("cryopodctl: inspect: unknown option '--bogus'")));
        r = cryopodctl({QStringLiteral("inspect"), m_image, m_image});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains(QStringLiteral("more than one IMAGE")));
        r = cryopodctl({QStringLiteral("inspect"), QStringLiteral("--help")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.startsWith(QStringLiteral("usage: cryopodctl inspect IMAGE [--json]")));
    }
};

QTEST_GUILESS_MAIN(InspectCommandTest)
#include "inspectcommandtest.moc"
