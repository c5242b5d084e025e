// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl inspect: what an image holds (our ckptinfo). Reads and validates
// the whole image through backend/image (ImageInfo) and prints header,
// process tree, credentials, threads, signals, VMAs with raw and stored
// sizes, and fds, as text or as one JSON document.

#include "commands.h"

#include "capabilities.h"
#include "imageinfo.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QTimeZone>

#include <bit>
#include <cstdio>
#include <cstring>
#include <iterator>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

using namespace cryopod::image;

namespace
{
const char inspectUsage[] = "usage: cryopodctl inspect IMAGE [--json]\n"
                            "\n"
                            "Reads a Cryopod image, checks it completely (checksums, every record,\n"
                            "the End record) and prints what it holds: the header, the process tree,\n"
                            "each process's credentials (ids, groups, capability sets by name),\n"
                            "threads, signal handlers, memory areas (VMAs) with the bytes saved for\n"
                            "them raw and as stored in the image, and open files.\n"
                            "IMAGE may be - for standard input.\n"
                            "\n"
                            "options:\n"
                            "  --json      print the same as one JSON document\n"
                            "  -h, --help  this text\n";

const char *const kRlimitNames[16] = {"CPU",     "FSIZE", "DATA",  "STACK",      "CORE",     "RSS",  "NPROC",  "NOFILE",
                                      "MEMLOCK", "AS",    "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};

void print(const QString &text, FILE *to = stdout)
{
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), to);
}

QString q(const std::string &s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

QString hex(quint64 v)
{
    return QStringLiteral("0x") + QString::number(v, 16);
}

QString address(quint64 v)
{
    return QStringLiteral("%1").arg(v, 16, 16, QLatin1Char('0'));
}

QString octal(quint64 v, int width = 4)
{
    return QStringLiteral("%1").arg(v, width, 8, QLatin1Char('0'));
}

// "48.0 KiB"; exact bytes below 1 KiB.
QString humanSize(quint64 bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        return QStringLiteral("%1 B").arg(bytes);
    }
    double value = double(bytes) / 1024.0;
    int unit = 0;
    while (value >= 1024.0 && unit < 3) {
        value /= 1024.0;
        ++unit;
    }
    return QString::number(value, 'f', 1) + QLatin1Char(' ') + QLatin1String(units[unit]);
}

QString ratio(quint64 stored, quint64 raw)
{
    return raw == 0 ? QStringLiteral("-") : QString::number(double(stored) / double(raw), 'f', 2);
}

QString signalName(uint32_t signo)
{
    if (signo >= 1 && signo < 32) {
        if (const char *abbrev = sigabbrev_np(int(signo))) {
            return QStringLiteral("SIG") + QLatin1String(abbrev);
        }
    }
    return QStringLiteral("SIG%1").arg(signo); // real-time signals by kernel number
}

QString protString(uint32_t prot)
{
    QString s;
    s += (prot & kVmaRead) ? QLatin1Char('r') : QLatin1Char('-');
    s += (prot & kVmaWrite) ? QLatin1Char('w') : QLatin1Char('-');
    s += (prot & kVmaExec) ? QLatin1Char('x') : QLatin1Char('-');
    return s;
}

QString vmaKindName(VmaKind kind)
{
    switch (kind) {
    case VmaKind::Anonymous:
        return QStringLiteral("anon");
    case VmaKind::FilePrivate:
        return QStringLiteral("file-private");
    case VmaKind::FileShared:
        return QStringLiteral("file-shared");
    case VmaKind::SharedAnonymous:
        return QStringLiteral("anon-shared");
    case VmaKind::Vdso:
        return QStringLiteral("vdso");
    case VmaKind::Vvar:
        return QStringLiteral("vvar");
    case VmaKind::VvarVclock:
        return QStringLiteral("vvar-vclock");
    case VmaKind::Vsyscall:
        return QStringLiteral("vsyscall");
    }
    return QStringLiteral("kind-%1").arg(uint32_t(kind));
}

QStringList vmaFlagNames(uint32_t flags)
{
    QStringList out;
    if (flags & kVmaGrowsDown) {
        out << QStringLiteral("growsdown");
    }
    if (flags & kVmaLocked) {
        out << QStringLiteral("locked");
    }
    if (flags & kVmaDontFork) {
        out << QStringLiteral("dontfork");
    }
    if (flags & kVmaWipeOnFork) {
        out << QStringLiteral("wipeonfork");
    }
    if (flags & kVmaMayWrite) {
        out << QStringLiteral("maywrite");
    }
    return out;
}

QString fdKindName(FdKind kind)
{
    switch (kind) {
    case FdKind::Regular:
        return QStringLiteral("file");
    case FdKind::Directory:
        return QStringLiteral("dir");
    case FdKind::CharDevice:
        return QStringLiteral("chr");
    case FdKind::Pipe:
        return QStringLiteral("pipe");
    case FdKind::Fifo:
        return QStringLiteral("fifo");
    case FdKind::EventFd:
        return QStringLiteral("eventfd");
    case FdKind::TimerFd:
        return QStringLiteral("timerfd");
    case FdKind::SignalFd:
        return QStringLiteral("signalfd");
    case FdKind::Epoll:
        return QStringLiteral("epoll");
    case FdKind::UnixSocket:
        return QStringLiteral("unix");
    case FdKind::Terminal:
        return QStringLiteral("tty");
    case FdKind::InetSocket:
        return QStringLiteral("inet");
    case FdKind::Inotify:
        return QStringLiteral("inotify");
    case FdKind::Memfd:
        return QStringLiteral("memfd");
    case FdKind::ProcFile:
        return QStringLiteral("proc");
    }
    return QStringLiteral("kind-%1").arg(uint32_t(kind));
}

QString seconds(quint64 ns)
{
    return QStringLiteral("%1 s").arg(double(ns) / 1e9, 0, 'f', ns % 1000000 ? 6 : 3);
}

// What a file object holds, in one line: "pipe of 64.0 KiB, 1500 bytes
// queued", "eventfd count 0x5 (semaphore)", ...
QString describeObject(const FileObjectRecord &o)
{
    switch (o.kind) {
    case FileObjectKind::Pipe:
    case FileObjectKind::Fifo:
        return QStringLiteral("%1 of %2, %3 bytes queued")
            .arg(o.kind == FileObjectKind::Pipe ? QStringLiteral("pipe") : QStringLiteral("FIFO"), humanSize(o.pipeSize))
            .arg(o.data.size());
    case FileObjectKind::EventFd:
        return QStringLiteral("eventfd count %1%2").arg(hex(o.count), o.semaphore ? QStringLiteral(" (semaphore)") : QString());
    case FileObjectKind::TimerFd:
        return QStringLiteral("timerfd clock %1, %2, every %3, %4 unread%5")
            .arg(o.clockId)
            .arg(o.valueNs ? seconds(o.valueNs) + QStringLiteral(" left") : QStringLiteral("disarmed"), seconds(o.intervalNs))
            .arg(o.ticks)
            .arg(o.settimeFlags & 1 ? QStringLiteral(", absolute") : QString());
    case FileObjectKind::SignalFd:
        return QStringLiteral("signalfd mask %1").arg(hex(o.sigmask));
    case FileObjectKind::Epoll: {
        QStringList targets;
        for (const EpollTarget &t : o.targets) {
            targets << QStringLiteral("fd %1 events %2 data %3").arg(t.fd).arg(hex(t.events), hex(t.data));
        }
        return QStringLiteral("epoll set: %1").arg(targets.isEmpty() ? QStringLiteral("empty") : targets.join(QStringLiteral("; ")));
    }
    case FileObjectKind::UnixSocket: {
        static const QString types[] = {QStringLiteral("?"), QStringLiteral("stream"), QStringLiteral("datagram"), QStringLiteral("?"), QStringLiteral("?"),
                                        QStringLiteral("seqpacket")};
        quint64 bytes = 0;
        for (const std::vector<uint8_t> &m : o.messages) {
            bytes += m.size();
        }
        return QStringLiteral("unix %1 socket, peer object %2, %3 bytes in %4 messages queued%5")
            .arg(o.socketType < 6 ? types[o.socketType] : QStringLiteral("?"))
            .arg(o.peer)
            .arg(bytes)
            .arg(o.messages.size())
            .arg(o.shutdown ? QStringLiteral(", shut down %1").arg(o.shutdown) : QString());
    }
    case FileObjectKind::InetSocket: {
        static const QString states[] = {QStringLiteral("unbound"), QStringLiteral("bound"), QStringLiteral("listening"), QStringLiteral("connected"),
                                         QStringLiteral("established")};
        auto address = [&](const std::vector<uint8_t> &a, uint32_t port) {
            QStringList parts;
            if (a.size() == 4) {
                for (const uint8_t b : a) {
                    parts << QString::number(b);
                }
                return QStringLiteral("%1:%2").arg(parts.join(QLatin1Char('.'))).arg(port);
            }
            for (size_t i = 0; i + 1 < a.size(); i += 2) {
                parts << QString::number((a[i] << 8) | a[i + 1], 16);
            }
            return QStringLiteral("[%1]:%2").arg(parts.join(QLatin1Char(':'))).arg(port);
        };
        QString s = QStringLiteral("%1%2 socket, %3")
                        .arg(o.protocol == 6 ? QStringLiteral("TCP") : QStringLiteral("UDP"), o.family == 10 ? QStringLiteral("v6") : QString())
                        .arg(uint32_t(o.inetState) < std::size(states) ? states[uint32_t(o.inetState)] : QStringLiteral("?"));
        if (o.inetState != InetState::Unbound) {
            s += QStringLiteral(" at ") + address(o.localAddress, o.localPort);
        }
        if (o.inetState == InetState::Connected || o.inetState == InetState::Established) {
            s += QStringLiteral(" to ") + address(o.peerAddress, o.peerPort);
        }
        if (o.inetState == InetState::Established) {
            s += QStringLiteral(", send seq %1 (%2 bytes queued, %3 unsent), receive seq %4 (%5 bytes queued), mss %6")
                     .arg(o.tcpSendSeq)
                     .arg(o.tcpSendQueue.size())
                     .arg(o.tcpUnsent)
                     .arg(o.tcpRecvSeq)
                     .arg(o.tcpRecvQueue.size())
                     .arg(o.tcpMss);
        }
        if (o.inetState == InetState::Listening) {
            s += QStringLiteral(", backlog %1").arg(o.backlog);
        }
        return s + QStringLiteral(", options %1").arg(hex(o.socketOptions));
    }
    case FileObjectKind::Inotify: {
        QStringList watches;
        for (const InotifyWatch &w : o.watches) {
            watches << QStringLiteral("wd %1 %2 mask %3").arg(w.wd).arg(QString::fromStdString(w.path), hex(w.mask));
        }
        return QStringLiteral("inotify: %1").arg(watches.isEmpty() ? QStringLiteral("no watches") : watches.join(QStringLiteral("; ")));
    }
    }
    return QStringLiteral("object kind %1").arg(uint32_t(o.kind));
}

const FileObjectRecord *objectOf(const ImageInfo &info, uint64_t id)
{
    for (const FileObjectRecord &o : info.fileObjects) {
        if (o.id == id) {
            return &o;
        }
    }
    return nullptr;
}

// "/dev/pts/3 (136:3), 24x80, controls session 4242 (foreground group 4250), 3 bytes typed not carried"
QString describeTerminal(const TerminalRecord &t)
{
    QString s = QStringLiteral("%1 (%2:%3), %4x%5").arg(q(t.path)).arg(major(t.rdev)).arg(minor(t.rdev)).arg(t.rows).arg(t.cols);
    if (t.sid != 0) {
        s += QStringLiteral(", controls session %1").arg(t.sid);
        if (t.foregroundPgrp != 0) {
            s += QStringLiteral(" (foreground group %1)").arg(t.foregroundPgrp);
        }
    }
    if (t.inputQueued != 0) {
        s += QStringLiteral(", %1 bytes typed not carried").arg(t.inputQueued);
    }
    return s;
}

QString sharedMemoryKindName(SharedMemoryKind kind)
{
    switch (kind) {
    case SharedMemoryKind::Anonymous:
        return QStringLiteral("anonymous");
    case SharedMemoryKind::DeletedFile:
        return QStringLiteral("deleted-file");
    case SharedMemoryKind::Memfd:
        return QStringLiteral("memfd");
    case SharedMemoryKind::SysvShm:
        return QStringLiteral("sysv-shm");
    }
    return QStringLiteral("kind-%1").arg(uint32_t(kind));
}

quint64 savedPages(const SharedMemoryRecord &r)
{
    quint64 pages = 0;
    for (const PageRun &run : r.runs) {
        pages += run.pages;
    }
    return pages;
}

// "3: sysv-shm, SysV segment 32769, 1.0 MiB, 2 pages saved"
QString describeSharedMemory(const SharedMemoryRecord &r)
{
    QString s = QStringLiteral("%1: %2").arg(r.id).arg(sharedMemoryKindName(r.kind));
    if (r.kind == SharedMemoryKind::SysvShm) {
        s += QStringLiteral(", SysV segment %1").arg(r.ino);
    } else if (!r.path.empty()) {
        s += QStringLiteral(" %1").arg(q(r.path));
    }
    s += QStringLiteral(", %1, %2 pages saved").arg(humanSize(r.size)).arg(savedPages(r));
    if (r.kind == SharedMemoryKind::DeletedFile || r.kind == SharedMemoryKind::Memfd) {
        s += QStringLiteral(", mode %1").arg(octal(r.mode));
    }
    if (r.seals != 0) {
        s += QStringLiteral(", seals %1").arg(hex(r.seals));
    }
    return s;
}

QString sysvKindName(SysvIpcKind kind)
{
    switch (kind) {
    case SysvIpcKind::Shm:
        return QStringLiteral("shm");
    case SysvIpcKind::Msg:
        return QStringLiteral("msg");
    case SysvIpcKind::Sem:
        return QStringLiteral("sem");
    }
    return QStringLiteral("kind-%1").arg(uint32_t(kind));
}

QString keyString(int32_t key)
{
    return key == 0 ? QStringLiteral("IPC_PRIVATE") : QStringLiteral("0x%1").arg(quint32(key), 8, 16, QLatin1Char('0'));
}

// "shm 32769 key 0x5e001234 mode 0600 owner 1000:1000 (creator 0:0): 1.0 MiB, memory in shared memory 3, removed"
QString describeSysvIpc(const SysvIpcRecord &r)
{
    QString s = QStringLiteral("%1 %2 key %3 mode %4 owner %5:%6 (creator %7:%8): ")
                    .arg(sysvKindName(r.kind), QString::number(r.id), keyString(r.key), octal(r.mode), QString::number(r.uid), QString::number(r.gid),
                         QString::number(r.cuid), QString::number(r.cgid));
    switch (r.kind) {
    case SysvIpcKind::Shm:
        s += QStringLiteral("%1, memory in shared memory %2").arg(humanSize(r.size)).arg(r.object);
        if (r.destroyed) {
            s += QStringLiteral(", removed (IPC_RMID) while attached");
        }
        break;
    case SysvIpcKind::Msg: {
        quint64 bytes = 0;
        for (const SysvMessage &m : r.messages) {
            bytes += m.text.size();
        }
        s += QStringLiteral("%1 messages (%2 bytes), qbytes %3, last sent by %4, last received by %5")
                 .arg(r.messages.size())
                 .arg(bytes)
                 .arg(r.qbytes)
                 .arg(r.lspid)
                 .arg(r.lrpid);
        break;
    }
    case SysvIpcKind::Sem: {
        constexpr size_t kShown = 32;
        QStringList values;
        for (size_t i = 0; i < r.semValues.size() && i < kShown; ++i) {
            values << QStringLiteral("%1 (pid %2)").arg(r.semValues[i]).arg(i < r.semPids.size() ? r.semPids[i] : 0);
        }
        if (r.semValues.size() > kShown) {
            values << QStringLiteral("...");
        }
        s += QStringLiteral("%1 semaphores: %2").arg(r.semValues.size()).arg(values.join(QStringLiteral(", ")));
        break;
    }
    }
    return s;
}

QJsonObject sharedMemoryJson(const SharedMemoryRecord &r)
{
    QJsonObject o {{QStringLiteral("id"), qint64(r.id)},
                   {QStringLiteral("kind"), sharedMemoryKindName(r.kind)},
                   {QStringLiteral("size"), qint64(r.size)},
                   {QStringLiteral("inode"), QString::number(r.ino)},
                   {QStringLiteral("pagesSaved"), qint64(savedPages(r))},
                   {QStringLiteral("summary"), describeSharedMemory(r)}};
    if (r.kind == SharedMemoryKind::SysvShm) {
        o.insert(QStringLiteral("segment"), qint64(r.ino));
    }
    if (!r.path.empty()) {
        o.insert(QStringLiteral("path"), q(r.path));
    }
    if (r.kind == SharedMemoryKind::DeletedFile || r.kind == SharedMemoryKind::Memfd) {
        o.insert(QStringLiteral("mode"), octal(r.mode));
        o.insert(QStringLiteral("seals"), hex(r.seals));
    }
    return o;
}

QJsonObject sysvIpcJson(const SysvIpcRecord &r)
{
    QJsonObject o {{QStringLiteral("kind"), sysvKindName(r.kind)},
                   {QStringLiteral("id"), r.id},
                   {QStringLiteral("key"), keyString(r.key)},
                   {QStringLiteral("mode"), octal(r.mode)},
                   {QStringLiteral("uid"), qint64(r.uid)},
                   {QStringLiteral("gid"), qint64(r.gid)},
                   {QStringLiteral("cuid"), qint64(r.cuid)},
                   {QStringLiteral("cgid"), qint64(r.cgid)},
                   {QStringLiteral("summary"), describeSysvIpc(r)}};
    switch (r.kind) {
    case SysvIpcKind::Shm:
        o.insert(QStringLiteral("size"), qint64(r.size));
        o.insert(QStringLiteral("sharedMemory"), qint64(r.object));
        o.insert(QStringLiteral("destroyed"), r.destroyed);
        break;
    case SysvIpcKind::Msg: {
        QJsonArray messages;
        for (const SysvMessage &m : r.messages) {
            messages.append(QJsonObject {{QStringLiteral("type"), qint64(m.type)}, {QStringLiteral("bytes"), qint64(m.text.size())}});
        }
        o.insert(QStringLiteral("qbytes"), qint64(r.qbytes));
        o.insert(QStringLiteral("messages"), messages);
        o.insert(QStringLiteral("lastSender"), r.lspid);
        o.insert(QStringLiteral("lastReceiver"), r.lrpid);
        break;
    }
    case SysvIpcKind::Sem: {
        QJsonArray values, pids;
        for (const uint32_t v : r.semValues) {
            values.append(qint64(v));
        }
        for (const int32_t pid : r.semPids) {
            pids.append(pid);
        }
        o.insert(QStringLiteral("values"), values);
        o.insert(QStringLiteral("lastChangedBy"), pids);
        break;
    }
    }
    return o;
}

QString describeTimers(const TimersRecord &t)
{
    static const char *const names[] = {"ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"};
    QStringList out;
    for (size_t i = 0; i < t.itimers.size(); ++i) {
        if (t.itimers[i].valueNs) {
            out << QStringLiteral("%1 %2 left, every %3").arg(QLatin1String(names[i]), seconds(t.itimers[i].valueNs), seconds(t.itimers[i].intervalNs));
        }
    }
    for (const PosixTimer &p : t.posix) {
        out << QStringLiteral("POSIX timer %1 (clock %2, %3 %4) %5, every %6")
                   .arg(p.id)
                   .arg(p.clockId)
                   .arg(p.notify == 1 ? QStringLiteral("no signal") : signalName(p.signo))
                   .arg(p.notify == 4 ? QStringLiteral("to thread %1").arg(p.tid) : QString())
                   .arg(p.valueNs ? seconds(p.valueNs) + QStringLiteral(" left") : QStringLiteral("disarmed"), seconds(p.intervalNs));
    }
    return out.isEmpty() ? QStringLiteral("none armed") : out.join(QStringLiteral("; "));
}

// A thread's seccomp state in one line: "strict", or its filters (oldest
// first) with their sizes in BPF instructions.
QString describeSeccomp(const ThreadRecord &t)
{
    if (t.seccompMode == kSeccompModeStrict) {
        return QStringLiteral("strict");
    }
    QStringList filters;
    for (const SeccompFilter &f : t.seccompFilters) {
        filters << QStringLiteral("%1 instructions%2").arg(f.program.size() / 8).arg(f.flags & kSeccompFilterFlagLog ? QStringLiteral(" (logged)") : QString());
    }
    return QStringLiteral("%1 filter%2: %3").arg(filters.size()).arg(filters.size() == 1 ? QString() : QStringLiteral("s"), filters.join(QStringLiteral(", ")));
}

// The same for --json, with each filter's program as {code, jt, jf, k}
// instructions (struct sock_filter, host byte order).
QJsonObject seccompJson(const ThreadRecord &t)
{
    static const QString modes[] = {QStringLiteral("none"), QStringLiteral("strict"), QStringLiteral("filter")};
    QJsonArray filters;
    for (const SeccompFilter &f : t.seccompFilters) {
        QJsonArray program;
        for (size_t i = 0; i + 8 <= f.program.size(); i += 8) {
            uint16_t code;
            uint32_t k;
            std::memcpy(&code, f.program.data() + i, sizeof code);
            std::memcpy(&k, f.program.data() + i + 4, sizeof k);
            program.append(QJsonObject {{QStringLiteral("code"), qint64(code)},
                                        {QStringLiteral("jt"), qint64(f.program[i + 2])},
                                        {QStringLiteral("jf"), qint64(f.program[i + 3])},
                                        {QStringLiteral("k"), hex(k)}});
        }
        filters.append(QJsonObject {{QStringLiteral("log"), bool(f.flags & kSeccompFilterFlagLog)}, {QStringLiteral("program"), program}});
    }
    const QString mode = t.seccompMode < 3 ? modes[t.seccompMode] : QString::number(t.seccompMode);
    return QJsonObject {{QStringLiteral("mode"), mode}, {QStringLiteral("filters"), filters}};
}

// O_* flags of fdinfo (x86-64 values), by name.
QString openFlagNames(uint32_t flags)
{
    static const char *const access[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    QStringList out {QLatin1String(access[flags & 3])};
    struct Flag {
        uint32_t bit;
        const char *name;
    };
    static const Flag named[] = {{0100, "O_CREAT"},       {0200, "O_EXCL"},         {0400, "O_NOCTTY"},       {01000, "O_TRUNC"},
                                 {02000, "O_APPEND"},     {04000, "O_NONBLOCK"},    {010000, "O_DSYNC"},      {020000, "O_ASYNC"},
                                 {040000, "O_DIRECT"},    {0100000, "O_LARGEFILE"}, {0200000, "O_DIRECTORY"}, {0400000, "O_NOFOLLOW"},
                                 {01000000, "O_NOATIME"}, {04000000, "__O_SYNC"},   {010000000, "O_PATH"},    {020000000, "__O_TMPFILE"}};
    uint32_t rest = flags & ~3u;
    for (const Flag &f : named) {
        if (rest & f.bit) {
            out << QLatin1String(f.name);
            rest &= ~f.bit;
        }
    }
    if (rest) {
        out << QLatin1Char('0') + QString::number(rest, 8);
    }
    return out.join(QLatin1Char('|'));
}

QString capabilityList(uint64_t mask)
{
    if (mask == 0) {
        return QStringLiteral("(none)");
    }
    const uint64_t all = (uint64_t(1) << kCapabilityCount) - 1;
    QStringList names;
    // a nearly full set reads better as what is missing
    if ((mask & all) == mask && std::popcount(mask) > int(kCapabilityCount) / 2) {
        if (mask == all) {
            return QStringLiteral("all (%1)").arg(hex(mask));
        }
        for (const std::string &n : capabilityNames(all & ~mask)) {
            names << q(n);
        }
        return QStringLiteral("all except ") + names.join(QLatin1Char(' ')) + QStringLiteral(" (%1)").arg(hex(mask));
    }
    for (const std::string &n : capabilityNames(mask)) {
        names << q(n);
    }
    return names.join(QLatin1Char(' ')) + QStringLiteral(" (%1)").arg(hex(mask));
}

QString rlimitValue(uint64_t v)
{
    return v == ~uint64_t(0) ? QStringLiteral("unlimited") : QString::number(v);
}

QString createdString(uint64_t ns)
{
    const QDateTime t = QDateTime::fromMSecsSinceEpoch(qint64(ns / 1000000), QTimeZone::UTC);
    return t.toString(Qt::ISODateWithMs);
}

const char *const kRegNames[27] = {"r15", "r14",      "r13", "r12", "rbp",    "rbx", "r11", "r10",     "r9",      "r8", "rax", "rcx", "rdx", "rsi",
                                   "rdi", "orig_rax", "rip", "cs",  "eflags", "rsp", "ss",  "fs_base", "gs_base", "ds", "es",  "fs",  "gs"};

// ---- text ---------------------------------------------------------------------

void printTreeLine(const ImageInfo &info, const ImageProcess &p, const QString &prefix, bool last, bool root, QString &out)
{
    const QString comm = p.task ? q(p.task->comm) : QStringLiteral("?");
    QStringList tids;
    for (int32_t tid : p.entry.tids) {
        tids << QString::number(tid);
    }
    QString extra;
    if (p.entry.zombie) {
        extra += QStringLiteral(", zombie: wait status 0x%1").arg(p.entry.exitStatus, 0, 16);
    }
    if (p.entry.filesOf != 0) {
        extra += QStringLiteral(", fd table of %1").arg(p.entry.filesOf);
    }
    if (p.entry.vmOf != 0) {
        extra += QStringLiteral(", address space of %1").arg(p.entry.vmOf);
    }
    // one multi-argument arg(): text from the image may contain "%1"
    out += QStringLiteral("  %1%2%3 %4  (ppid %5, pgid %6, sid %7, threads %8%9)\n")
               .arg(prefix, root ? QString() : (last ? QStringLiteral("└─ ") : QStringLiteral("├─ ")), QString::number(p.entry.pid),
                    p.entry.zombie ? QStringLiteral("(zombie)") : comm, QString::number(p.entry.ppid), QString::number(p.entry.pgid),
                    QString::number(p.entry.sid), tids.join(QLatin1Char(' ')), extra);
    std::vector<const ImageProcess *> children;
    for (const ImageProcess &c : info.processes) {
        if (c.entry.ppid == p.entry.pid && c.entry.pid != info.rootPid) {
            children.push_back(&c);
        }
    }
    const QString childPrefix = root ? QString() : prefix + (last ? QStringLiteral("   ") : QStringLiteral("│  "));
    for (size_t i = 0; i < children.size(); ++i) {
        printTreeLine(info, *children[i], childPrefix, i + 1 == children.size(), false, out);
    }
}

QString textReport(const QString &path, const ImageInfo &info)
{
    QString out;
    const Header &h = info.header;
    uint64_t sectionCount = 0;
    QStringList perType;
    for (const auto &[name, stats] : info.sections) {
        sectionCount += stats.count;
        perType << QStringLiteral("%1 %2").arg(q(name)).arg(stats.count);
    }
    out += QStringLiteral("Image %1\n").arg(path);
    out += QStringLiteral("  format:      version %1, %2 (%3 bytes)\n").arg(h.formatVersion).arg(humanSize(info.imageBytes)).arg(info.imageBytes);
    out += QStringLiteral("  created:     %1\n").arg(createdString(h.createdUnixNs));
    out += QStringLiteral("  host:        %1, kernel %2, %3, page size %4\n").arg(q(h.hostname), q(h.kernelRelease), q(h.arch), QString::number(h.pageSize));
    out += QStringLiteral("  engine:      %1\n").arg(q(h.engineVersion));
    out += QStringLiteral("  sections:    %1 (%2)\n").arg(sectionCount).arg(perType.join(QStringLiteral(", ")));
    out += QStringLiteral("  memory:      %1 pages, %2 raw, %3 stored (ratio %4)\n")
               .arg(info.end.pagesStored)
               .arg(humanSize(info.pagesRawBytes), humanSize(info.pagesStoredBytes), ratio(info.pagesStoredBytes, info.pagesRawBytes));
    if (info.fileDataRawBytes > 0 || info.sections.contains("FileData")) {
        out += QStringLiteral("  file data:   %1 raw, %2 stored\n").arg(humanSize(info.fileDataRawBytes), humanSize(info.fileDataStoredBytes));
    }

    for (const TerminalRecord &t : info.terminals) {
        out += QStringLiteral("  terminal:    %1\n").arg(describeTerminal(t));
    }
    for (const SharedMemoryRecord &m : info.sharedMemory) {
        out += QStringLiteral("  shared mem:  %1\n").arg(describeSharedMemory(m));
    }
    for (const SysvIpcRecord &r : info.sysvIpc) {
        out += QStringLiteral("  SysV IPC:    %1\n").arg(describeSysvIpc(r));
    }

    out += QStringLiteral("\nProcess tree (root %1)\n").arg(info.rootPid);
    if (!info.processes.empty()) {
        printTreeLine(info, info.processes.front(), QString(), true, true, out);
    }

    for (const ImageProcess &p : info.processes) {
        out += QStringLiteral("\nProcess %1").arg(p.entry.pid);
        if (p.task) {
            const TaskRecord &t = *p.task;
            out += QStringLiteral(" (%1)\n").arg(q(t.comm));
            out += QStringLiteral("  exe:         %1\n").arg(q(t.exePath));
            out += QStringLiteral("  cwd:         %1\n").arg(q(t.cwd));
            out += QStringLiteral("  root:        %1\n").arg(q(t.root));
            out += QStringLiteral("  umask:       %1   personality: %2   exit signal: %3\n").arg(octal(t.umask), hex(t.personality)).arg(t.exitSignal);
            QStringList limits;
            for (size_t i = 0; i < t.rlimits.size(); ++i) {
                limits << QStringLiteral("%1=%2/%3").arg(QLatin1String(kRlimitNames[i]), rlimitValue(t.rlimits[i].cur), rlimitValue(t.rlimits[i].max));
            }
            out += QStringLiteral("  rlimits:     %1\n").arg(limits.join(QLatin1Char(' ')));
        } else {
            out += QStringLiteral("\n");
        }
        if (p.creds) {
            const CredsRecord &c = *p.creds;
            QStringList groups;
            for (uint32_t g : c.groups) {
                groups << QString::number(g);
            }
            out += QStringLiteral("  credentials:\n");
            out += QStringLiteral("    uid:         %1  euid %2  suid %3  fsuid %4\n").arg(c.uid).arg(c.euid).arg(c.suid).arg(c.fsuid);
            out += QStringLiteral("    gid:         %1  egid %2  sgid %3  fsgid %4\n").arg(c.gid).arg(c.egid).arg(c.sgid).arg(c.fsgid);
            out += QStringLiteral("    groups:      %1\n").arg(groups.isEmpty() ? QStringLiteral("(none)") : groups.join(QLatin1Char(' ')));
            out += QStringLiteral("    effective:   %1\n").arg(capabilityList(c.capEffective));
            out += QStringLiteral("    permitted:   %1\n").arg(capabilityList(c.capPermitted));
            out += QStringLiteral("    inheritable: %1\n").arg(capabilityList(c.capInheritable));
            out += QStringLiteral("    bounding:    %1\n").arg(capabilityList(c.capBounding));
            out += QStringLiteral("    ambient:     %1\n").arg(capabilityList(c.capAmbient));
            out +=
                QStringLiteral("    securebits:  %1   no_new_privs: %2\n").arg(hex(c.securebits), c.noNewPrivs ? QStringLiteral("yes") : QStringLiteral("no"));
        }
        if (!p.threads.empty()) {
            out += QStringLiteral("  threads:\n");
            for (const ThreadRecord &t : p.threads) {
                out += QStringLiteral("    %1 %2  rip %3  rsp %4  sigmask %5  altstack %6\n")
                           .arg(QString::number(t.tid), q(t.name).leftJustified(15), hex(t.regs.gpr[16]), hex(t.regs.gpr[19]), hex(t.sigmask),
                                t.altstackFlags & 2 ? QStringLiteral("disabled") : QStringLiteral("%1+%2").arg(hex(t.altstackSp), hex(t.altstackSize)));
                if (t.seccompMode != 0) {
                    out += QStringLiteral("      seccomp: %1\n").arg(describeSeccomp(t));
                }
            }
        }
        if (p.signals) {
            out += QStringLiteral("  signals:%1\n").arg(p.signals->actions.empty() ? QStringLiteral("     all default") : QString());
            for (const SigactionEntry &a : p.signals->actions) {
                const QString handler = a.handler == 0 ? QStringLiteral("default") : a.handler == 1 ? QStringLiteral("ignored") : hex(a.handler);
                out += QStringLiteral("    %1 %2  flags %3  mask %4\n").arg(signalName(a.signo), -9).arg(handler, -18).arg(hex(a.flags), hex(a.mask));
            }
        }
        if (p.timers) {
            out += QStringLiteral("  timers:      %1\n").arg(describeTimers(*p.timers));
        }
        out += QStringLiteral("  memory:      %1 VMAs, %2 pages stored, %3 raw, %4 stored (ratio %5)\n")
                   .arg(p.vmas.size())
                   .arg(p.pages)
                   .arg(humanSize(p.rawBytes), humanSize(p.storedBytes), ratio(p.storedBytes, p.rawBytes));
        if (p.mm) {
            out += QStringLiteral("    brk %1-%2  stack %3  exe %4\n").arg(hex(p.mm->startBrk), hex(p.mm->brk), hex(p.mm->startStack), q(p.mm->exePath));
        }
        if (!p.vmas.empty()) {
            out += QStringLiteral("    %1 %2 %3 %4 %5 %6 %7 %8\n")
                       .arg(QStringLiteral("START-END"), -33)
                       .arg(QStringLiteral("PROT"), -4)
                       .arg(QStringLiteral("KIND"), -12)
                       .arg(QStringLiteral("SIZE"), 10)
                       .arg(QStringLiteral("PAGES"), 7)
                       .arg(QStringLiteral("RAW"), 10)
                       .arg(QStringLiteral("STORED"), 10)
                       .arg(QStringLiteral("PATH"));
        }
        for (const ImageVma &v : p.vmas) {
            QStringList pathParts;
            if (!v.vma.path.empty()) {
                pathParts << q(v.vma.path);
            }
            if (v.vma.kind == VmaKind::FilePrivate || v.vma.kind == VmaKind::FileShared || v.vma.shm != 0) {
                pathParts << QStringLiteral("@%1").arg(hex(v.vma.pgoff));
            }
            if (v.vma.shm != 0) {
                pathParts << QStringLiteral("(shared memory %1)").arg(v.vma.shm);
            }
            const QStringList flags = vmaFlagNames(v.vma.flags);
            if (!flags.isEmpty()) {
                pathParts << QStringLiteral("[%1]").arg(flags.join(QLatin1Char(',')));
            }
            const QString path = pathParts.join(QLatin1Char(' '));
            const QString line = QStringLiteral("    %1-%2 %3 %4 %5 %6 %7 %8 %9")
                                     .arg(address(v.vma.start), address(v.vma.end))
                                     .arg(protString(v.vma.prot), -4)
                                     .arg(vmaKindName(v.vma.kind), -12)
                                     .arg(humanSize(v.vma.end - v.vma.start), 10)
                                     .arg(v.pages, 7)
                                     .arg(humanSize(v.rawBytes), 10)
                                     .arg(humanSize(v.storedBytes), 10)
                                     .arg(path);
            out += line.trimmed().prepend(QStringLiteral("    ")) + QLatin1Char('\n');
        }
        if (!p.fds.empty()) {
            out += QStringLiteral("  fds:\n");
        }
        for (const ImageFd &f : p.fds) {
            QString extra;
            if (f.fd.kind == FdKind::CharDevice || f.fd.kind == FdKind::Terminal) {
                extra += QStringLiteral(" (device %1:%2)").arg(major(f.fd.rdev)).arg(minor(f.fd.rdev));
            }
            if (f.fd.object != 0) {
                const FileObjectRecord *object = objectOf(info, f.fd.object);
                extra += QStringLiteral(" (object %1: %2)").arg(f.fd.object).arg(object ? describeObject(*object) : QStringLiteral("missing"));
            }
            if (f.fd.unlinked) {
                extra += f.hasData
                    ? QStringLiteral(" (unlinked; contents in image: %1 raw, %2 stored)").arg(humanSize(f.dataRawBytes), humanSize(f.dataStoredBytes))
                    : QStringLiteral(" (unlinked)");
            }
            out += QStringLiteral("    %1 %2 %3 pos %4  mode %5%6  %7%8\n")
                       .arg(f.fd.fd, 4)
                       .arg(fdKindName(f.fd.kind), -4)
                       .arg(openFlagNames(f.fd.openFlags), -22)
                       .arg(f.fd.pos)
                       .arg(octal(f.fd.mode, 6))
                       .arg(f.fd.cloexec ? QStringLiteral(" cloexec") : QString())
                       .arg(q(f.fd.path), extra);
        }
    }
    return out;
}

// ---- JSON ----------------------------------------------------------------------

// Addresses and masks are 64-bit: JSON numbers (doubles) cannot hold them, so
// they are hex strings; sizes and ids are numbers.
QJsonObject capabilitySet(uint64_t mask)
{
    QJsonArray names;
    for (const std::string &n : capabilityNames(mask)) {
        names.append(q(n));
    }
    return QJsonObject {{QStringLiteral("mask"), hex(mask)}, {QStringLiteral("names"), names}};
}

QJsonObject jsonReport(const QString &path, const ImageInfo &info)
{
    const Header &h = info.header;
    QJsonObject sections;
    for (const auto &[name, stats] : info.sections) {
        sections.insert(q(name),
                        QJsonObject {{QStringLiteral("count"), qint64(stats.count)},
                                     {QStringLiteral("rawBytes"), qint64(stats.rawBytes)},
                                     {QStringLiteral("storedBytes"), qint64(stats.storedBytes)}});
    }
    QJsonObject root {
        {QStringLiteral("file"), path},
        {QStringLiteral("formatVersion"), qint64(h.formatVersion)},
        {QStringLiteral("arch"), q(h.arch)},
        {QStringLiteral("kernelRelease"), q(h.kernelRelease)},
        {QStringLiteral("hostname"), q(h.hostname)},
        {QStringLiteral("engineVersion"), q(h.engineVersion)},
        {QStringLiteral("pageSize"), qint64(h.pageSize)},
        {QStringLiteral("created"), createdString(h.createdUnixNs)},
        {QStringLiteral("createdUnixNs"), QString::number(h.createdUnixNs)},
        {QStringLiteral("imageBytes"), qint64(info.imageBytes)},
        {QStringLiteral("sections"), sections},
        {QStringLiteral("memory"),
         QJsonObject {{QStringLiteral("pages"), qint64(info.end.pagesStored)},
                      {QStringLiteral("rawBytes"), qint64(info.pagesRawBytes)},
                      {QStringLiteral("storedBytes"), qint64(info.pagesStoredBytes)}}},
        {QStringLiteral("fileData"),
         QJsonObject {{QStringLiteral("rawBytes"), qint64(info.fileDataRawBytes)}, {QStringLiteral("storedBytes"), qint64(info.fileDataStoredBytes)}}},
        {QStringLiteral("rootPid"), info.rootPid},
    };
    QJsonArray terminals;
    for (const TerminalRecord &t : info.terminals) {
        terminals.append(QJsonObject {{QStringLiteral("path"), q(t.path)},
                                      {QStringLiteral("device"), QStringLiteral("%1:%2").arg(major(t.rdev)).arg(minor(t.rdev))},
                                      {QStringLiteral("rows"), qint64(t.rows)},
                                      {QStringLiteral("cols"), qint64(t.cols)},
                                      {QStringLiteral("sid"), t.sid},
                                      {QStringLiteral("foregroundPgrp"), t.foregroundPgrp},
                                      {QStringLiteral("inputQueued"), qint64(t.inputQueued)},
                                      {QStringLiteral("summary"), describeTerminal(t)}});
    }
    root.insert(QStringLiteral("terminals"), terminals);
    QJsonArray sharedMemory;
    for (const SharedMemoryRecord &m : info.sharedMemory) {
        sharedMemory.append(sharedMemoryJson(m));
    }
    root.insert(QStringLiteral("sharedMemory"), sharedMemory);
    QJsonArray sysvIpc;
    for (const SysvIpcRecord &r : info.sysvIpc) {
        sysvIpc.append(sysvIpcJson(r));
    }
    root.insert(QStringLiteral("sysvIpc"), sysvIpc);

    QJsonArray processes;
    for (const ImageProcess &p : info.processes) {
        QJsonArray tids;
        for (int32_t tid : p.entry.tids) {
            tids.append(tid);
        }
        QJsonObject o {{QStringLiteral("pid"), p.entry.pid},
                       {QStringLiteral("ppid"), p.entry.ppid},
                       {QStringLiteral("pgid"), p.entry.pgid},
                       {QStringLiteral("sid"), p.entry.sid},
                       {QStringLiteral("tids"), tids}};
        if (p.entry.zombie) {
            o.insert(QStringLiteral("zombie"), true);
            o.insert(QStringLiteral("exitStatus"), p.entry.exitStatus);
        }
        if (p.entry.filesOf != 0) {
            o.insert(QStringLiteral("filesOf"), p.entry.filesOf);
        }
        if (p.entry.vmOf != 0) {
            o.insert(QStringLiteral("vmOf"), p.entry.vmOf);
        }
        if (p.task) {
            const TaskRecord &t = *p.task;
            QJsonObject limits;
            for (size_t i = 0; i < t.rlimits.size(); ++i) {
                auto value = [](uint64_t v) { return v == ~uint64_t(0) ? QJsonValue(QStringLiteral("unlimited")) : QJsonValue(qint64(v)); };
                limits.insert(QLatin1String(kRlimitNames[i]),
                              QJsonObject {{QStringLiteral("cur"), value(t.rlimits[i].cur)}, {QStringLiteral("max"), value(t.rlimits[i].max)}});
            }
            o.insert(QStringLiteral("comm"), q(t.comm));
            o.insert(QStringLiteral("exe"), q(t.exePath));
            o.insert(QStringLiteral("cwd"), q(t.cwd));
            o.insert(QStringLiteral("root"), q(t.root));
            o.insert(QStringLiteral("umask"), octal(t.umask));
            o.insert(QStringLiteral("personality"), hex(t.personality));
            o.insert(QStringLiteral("exitSignal"), t.exitSignal);
            o.insert(QStringLiteral("rlimits"), limits);
        }
        if (p.creds) {
            const CredsRecord &c = *p.creds;
            QJsonArray groups;
            for (uint32_t g : c.groups) {
                groups.append(qint64(g));
            }
            o.insert(QStringLiteral("credentials"),
                     QJsonObject {
                         {QStringLiteral("uid"), qint64(c.uid)},
                         {QStringLiteral("euid"), qint64(c.euid)},
                         {QStringLiteral("suid"), qint64(c.suid)},
                         {QStringLiteral("fsuid"), qint64(c.fsuid)},
                         {QStringLiteral("gid"), qint64(c.gid)},
                         {QStringLiteral("egid"), qint64(c.egid)},
                         {QStringLiteral("sgid"), qint64(c.sgid)},
                         {QStringLiteral("fsgid"), qint64(c.fsgid)},
                         {QStringLiteral("groups"), groups},
                         {QStringLiteral("capabilities"),
                          QJsonObject {{QStringLiteral("effective"), capabilitySet(c.capEffective)},
                                       {QStringLiteral("permitted"), capabilitySet(c.capPermitted)},
                                       {QStringLiteral("inheritable"), capabilitySet(c.capInheritable)},
                                       {QStringLiteral("bounding"), capabilitySet(c.capBounding)},
                                       {QStringLiteral("ambient"), capabilitySet(c.capAmbient)}}},
                         {QStringLiteral("securebits"), hex(c.securebits)},
                         {QStringLiteral("noNewPrivs"), c.noNewPrivs},
                     });
        }
        QJsonArray threads;
        for (const ThreadRecord &t : p.threads) {
            QJsonObject regs;
            for (size_t i = 0; i < t.regs.gpr.size(); ++i) {
                regs.insert(QLatin1String(kRegNames[i]), hex(t.regs.gpr[i]));
            }
            threads.append(QJsonObject {{QStringLiteral("tid"), t.tid},
                                        {QStringLiteral("name"), q(t.name)},
                                        {QStringLiteral("regs"), regs},
                                        {QStringLiteral("fpregsBytes"), qint64(t.fpregs.size())},
                                        {QStringLiteral("xstateBytes"), qint64(t.xstate.size())},
                                        {QStringLiteral("sigmask"), hex(t.sigmask)},
                                        {QStringLiteral("altstack"),
                                         QJsonObject {{QStringLiteral("sp"), hex(t.altstackSp)},
                                                      {QStringLiteral("size"), qint64(t.altstackSize)},
                                                      {QStringLiteral("flags"), hex(t.altstackFlags)}}},
                                        {QStringLiteral("clearChildTid"), hex(t.clearChildTid)},
                                        {QStringLiteral("robustList"),
                                         QJsonObject {{QStringLiteral("head"), hex(t.robustListHead)}, {QStringLiteral("length"), qint64(t.robustListLen)}}},
                                        {QStringLiteral("seccomp"), seccompJson(t)}});
        }
        o.insert(QStringLiteral("threads"), threads);
        if (p.signals) {
            QJsonArray actions;
            for (const SigactionEntry &a : p.signals->actions) {
                actions.append(QJsonObject {{QStringLiteral("signo"), qint64(a.signo)},
                                            {QStringLiteral("name"), signalName(a.signo)},
                                            {QStringLiteral("handler"),
                                             a.handler == 0       ? QStringLiteral("default")
                                                 : a.handler == 1 ? QStringLiteral("ignored")
                                                                  : hex(a.handler)},
                                            {QStringLiteral("flags"), hex(a.flags)},
                                            {QStringLiteral("restorer"), hex(a.restorer)},
                                            {QStringLiteral("mask"), hex(a.mask)}});
            }
            o.insert(QStringLiteral("signals"), actions);
        }
        if (p.timers) {
            o.insert(QStringLiteral("timers"), describeTimers(*p.timers));
        }
        QJsonArray vmas;
        for (const ImageVma &v : p.vmas) {
            QJsonArray flags;
            for (const QString &f : vmaFlagNames(v.vma.flags)) {
                flags.append(f);
            }
            QJsonObject vo {{QStringLiteral("start"), hex(v.vma.start)},
                            {QStringLiteral("end"), hex(v.vma.end)},
                            {QStringLiteral("size"), qint64(v.vma.end - v.vma.start)},
                            {QStringLiteral("prot"), protString(v.vma.prot)},
                            {QStringLiteral("kind"), vmaKindName(v.vma.kind)},
                            {QStringLiteral("flags"), flags},
                            {QStringLiteral("path"), q(v.vma.path)},
                            {QStringLiteral("pages"), qint64(v.pages)},
                            {QStringLiteral("rawBytes"), qint64(v.rawBytes)},
                            {QStringLiteral("storedBytes"), qint64(v.storedBytes)}};
            if (v.vma.kind == VmaKind::FilePrivate || v.vma.kind == VmaKind::FileShared) {
                vo.insert(QStringLiteral("offset"), qint64(v.vma.pgoff));
                vo.insert(QStringLiteral("device"), QStringLiteral("%1:%2").arg(major(v.vma.dev)).arg(minor(v.vma.dev)));
                vo.insert(QStringLiteral("inode"), QString::number(v.vma.ino));
                vo.insert(QStringLiteral("fileSize"), qint64(v.vma.fileSize));
            }
            if (v.vma.shm != 0) {
                vo.insert(QStringLiteral("offset"), qint64(v.vma.pgoff));
                vo.insert(QStringLiteral("sharedMemory"), qint64(v.vma.shm));
            }
            vmas.append(vo);
        }
        o.insert(QStringLiteral("memory"),
                 QJsonObject {{QStringLiteral("pages"), qint64(p.pages)},
                              {QStringLiteral("rawBytes"), qint64(p.rawBytes)},
                              {QStringLiteral("storedBytes"), qint64(p.storedBytes)},
                              {QStringLiteral("brk"), p.mm ? hex(p.mm->brk) : QString()},
                              {QStringLiteral("startBrk"), p.mm ? hex(p.mm->startBrk) : QString()},
                              {QStringLiteral("startStack"), p.mm ? hex(p.mm->startStack) : QString()}});
        o.insert(QStringLiteral("vmas"), vmas);
        QJsonArray fds;
        for (const ImageFd &f : p.fds) {
            QJsonObject fo {{QStringLiteral("fd"), f.fd.fd},
                            {QStringLiteral("kind"), fdKindName(f.fd.kind)},
                            {QStringLiteral("path"), q(f.fd.path)},
                            {QStringLiteral("flags"), openFlagNames(f.fd.openFlags)},
                            {QStringLiteral("cloexec"), f.fd.cloexec},
                            {QStringLiteral("pos"), qint64(f.fd.pos)},
                            {QStringLiteral("mode"), octal(f.fd.mode, 6)},
                            {QStringLiteral("size"), qint64(f.fd.size)},
                            {QStringLiteral("unlinked"), f.fd.unlinked}};
            if (f.fd.kind == FdKind::CharDevice || f.fd.kind == FdKind::Terminal) {
                fo.insert(QStringLiteral("device"), QStringLiteral("%1:%2").arg(major(f.fd.rdev)).arg(minor(f.fd.rdev)));
            }
            if (f.fd.object != 0) {
                fo.insert(QStringLiteral("object"), qint64(f.fd.object));
                if (const FileObjectRecord *object = objectOf(info, f.fd.object)) {
                    fo.insert(QStringLiteral("objectInfo"), describeObject(*object));
                }
            }
            if (f.hasData) {
                fo.insert(QStringLiteral("dataRawBytes"), qint64(f.dataRawBytes));
                fo.insert(QStringLiteral("dataStoredBytes"), qint64(f.dataStoredBytes));
            }
            fds.append(fo);
        }
        o.insert(QStringLiteral("fds"), fds);
        processes.append(o);
    }
    root.insert(QStringLiteral("processes"), processes);
    return root;
}

int usageError(const QString &message)
{
    print(QStringLiteral("cryopodctl: inspect: %1\n\n").arg(message), stderr);
    std::fputs(inspectUsage, stderr);
    return 2;
}
} // namespace

int Cryopodctl::runInspect(const QStringList &args)
{
    bool json = false;
    QString path;
    bool haveImage = false;
    for (const QString &arg : args) {
        if (arg == QLatin1String("-h") || arg == QLatin1String("--help")) {
            std::fputs(inspectUsage, stdout);
            return 0;
        }
        if (arg == QLatin1String("--json")) {
            json = true;
        } else if (arg.startsWith(QLatin1Char('-')) && arg != QLatin1String("-")) {
            return usageError(QStringLiteral("unknown option '%1'").arg(arg));
        } else if (haveImage) {
            return usageError(QStringLiteral("more than one IMAGE given ('%1' and '%2')").arg(path, arg));
        } else {
            path = arg;
            haveImage = true;
        }
    }
    if (!haveImage) {
        return usageError(QStringLiteral("no IMAGE given"));
    }

    const cryopod::Result<ImageInfo> info =
        path == QLatin1String("-") ? ImageInfo::read(STDIN_FILENO) : ImageInfo::readFile(QFile::encodeName(path).toStdString());
    if (!info) {
        print(QStringLiteral("cryopodctl: inspect: %1\n").arg(q(info.error().describe())), stderr);
        return 1;
    }
    const QString shown = path == QLatin1String("-") ? QStringLiteral("(standard input)") : path;
    if (json) {
        print(QString::fromUtf8(QJsonDocument(jsonReport(shown, *info)).toJson(QJsonDocument::Indented)));
    } else {
        print(textReport(shown, *info));
    }
    return 0;
}
