// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "sampleimage.h"

#include "encoder.h"
#include "recordcodec.h"

#include <cstring>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

namespace cryopod::image::test
{

namespace
{
constexpr uint64_t kInfinity = ~uint64_t(0);

uint64_t cap(unsigned bit)
{
    return uint64_t(1) << bit;
}

MmRecord makeMm(int32_t pid)
{
    MmRecord mm;
    mm.pid = pid;
    mm.startCode = 0x400000;
    mm.endCode = 0x400f00;
    mm.startData = 0x600000;
    mm.endData = 0x601800;
    mm.startBrk = 0x1000000;
    mm.brk = 0x1040000;
    mm.startStack = 0x7ffc00020f00;
    mm.argStart = 0x7ffc00020f10;
    mm.argEnd = 0x7ffc00020f40;
    mm.envStart = 0x7ffc00020f40;
    mm.envEnd = 0x7ffc00020ff0;
    mm.auxv = {33, 0x7ffc00104000, 6, 4096, 25, 0x7ffc00020e00, 0, 0};
    mm.exePath = "/usr/bin/sample";
    mm.vdsoHash = 0x0123456789abcdefull + uint64_t(pid);
    auto vma = [](uint64_t start, uint64_t end, uint32_t prot, VmaKind kind, std::string path) {
        VmaRecord v;
        v.start = start;
        v.end = end;
        v.prot = prot;
        v.kind = kind;
        v.path = std::move(path);
        return v;
    };
    VmaRecord text = vma(0x400000, 0x401000, kVmaRead | kVmaExec, VmaKind::FilePrivate, "/usr/bin/sample");
    text.dev = makedev(254, 1);
    text.ino = 1234567;
    text.fileSize = 0x1f00;
    VmaRecord data = vma(0x600000, 0x602000, kVmaRead | kVmaWrite, VmaKind::FilePrivate, "/usr/bin/sample");
    data.pgoff = 0x1000;
    data.dev = text.dev;
    data.ino = text.ino;
    data.fileSize = text.fileSize;
    VmaRecord stack = vma(0x7ffc00000000, 0x7ffc00021000, kVmaRead | kVmaWrite, VmaKind::Anonymous, "[stack]");
    stack.flags = kVmaGrowsDown;
    VmaRecord locked = vma(0x7f0008000000, 0x7f0008010000, kVmaRead | kVmaWrite, VmaKind::Anonymous, "");
    locked.flags = kVmaLocked | kVmaDontFork;
    mm.vmas = {
        text,
        data,
        vma(0x602000, 0x603000, kVmaRead | kVmaWrite, VmaKind::Anonymous, ""), // bss, adjacent to the data mapping
        vma(0x1000000, 0x9000000, kVmaRead | kVmaWrite, VmaKind::Anonymous, "[heap]"),
        vma(0x7f0000000000, 0x7f0008000000, kVmaRead | kVmaWrite, VmaKind::Anonymous, ""),
        locked,
        stack,
        vma(0x7ffc00100000, 0x7ffc00104000, kVmaRead, VmaKind::Vvar, "[vvar]"),
        vma(0x7ffc00104000, 0x7ffc00106000, kVmaRead | kVmaExec, VmaKind::Vdso, "[vdso]"),
        vma(0xffffffffff600000, 0xffffffffff601000, kVmaExec, VmaKind::Vsyscall, "[vsyscall]"),
    };
    return mm;
}

std::vector<PagesRecord> makePages(int32_t pid, uint32_t total, uint32_t pageSize, uint64_t seed)
{
    // run A crosses from the file data mapping into the adjacent bss
    const uint32_t a = 2, d = 1;
    const uint32_t rest = total > a + d ? total - a - d : 2;
    const uint32_t b = std::max<uint32_t>(rest / 2, 1);
    const uint32_t c = std::max<uint32_t>(rest - b, 1);
    std::vector<std::vector<PageRun>> groups = {
        {{0x600000 + pageSize, a}, {0x1000000, b}},
        {{0x7f0000000000 + 16 * uint64_t(pageSize), c}},
        {{0x7ffc00020000, d}},
    };
    std::vector<PagesRecord> out;
    for (auto &runs : groups) {
        PagesRecord r;
        r.pid = pid;
        r.runs = runs;
        uint64_t pages = 0;
        for (const PageRun &run : runs) {
            pages += run.pages;
        }
        r.data.resize(pages * pageSize);
        fillMixed(r.data.data(), r.data.size(), seed++);
        out.push_back(std::move(r));
    }
    return out;
}

// A pending signal's siginfo: si_signo, si_errno, si_code, then a payload.
PendingSignal pendingSignal(uint32_t signo, int32_t code, int32_t value)
{
    PendingSignal p;
    p.signo = signo;
    p.siginfo.resize(kSiginfoBytes);
    const int32_t head[] = {int32_t(signo), 0, code, 0, 4242, 1000, value};
    std::memcpy(p.siginfo.data(), head, sizeof head);
    return p;
}

ThreadRecord makeThread(int32_t pid, int32_t tid, bool withXstate)
{
    ThreadRecord t;
    t.pid = pid;
    t.tid = tid;
    t.name = tid == pid ? "sample-main" : "worker#" + std::to_string(tid);
    for (size_t i = 0; i < t.regs.gpr.size(); ++i) {
        t.regs.gpr[i] = 0x1111111111111111ull * (i % 15 + 1) + uint64_t(tid);
    }
    t.fpregs.resize(512);
    for (size_t i = 0; i < t.fpregs.size(); ++i) {
        t.fpregs[i] = uint8_t(i * 7 + tid);
    }
    if (withXstate) {
        t.xstate.resize(2696);
        for (size_t i = 0; i < t.xstate.size(); ++i) {
            t.xstate[i] = uint8_t(i ^ 0x5a);
        }
    }
    t.sigmask = (uint64_t(1) << (10 - 1)) | (uint64_t(1) << 63);
    t.altstackSp = 0x7f0008000000 + 0x1000;
    t.altstackSize = 0x8000;
    t.altstackFlags = withXstate ? 0 : 2; // SS_DISABLE
    t.clearChildTid = 0x7f0000001990 + uint64_t(tid);
    t.robustListHead = 0x7f00000019a0 + 0x1000 * uint64_t(tid % 8);
    t.robustListLen = 24;
    if (tid == pid) {
        t.pending = {pendingSignal(10, -6 /* SI_TKILL */, 0)}; // SIGUSR1 for this thread
        t.rseqAddr = 0x7f00000019e0 + 0x20 * uint64_t(tid % 4);
        t.rseqSize = 32;
        t.rseqSignature = 0x53053053;
        // Format 6: two seccomp filters (ret ALLOW; ret ERRNO|1), the second logged.
        t.seccompMode = kSeccompModeFilter;
        t.seccompFilters = {SeccompFilter {0, {0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}}, SeccompFilter {kSeccompFilterFlagLog, {0x06, 0, 0, 0, 1, 0, 5, 0}}};
    }
    return t;
}

FdRecord fdRecord(int32_t fd, FdKind kind, std::string path, uint32_t flags, uint32_t mode)
{
    FdRecord f;
    f.fd = fd;
    f.kind = kind;
    f.path = std::move(path);
    f.openFlags = flags;
    f.mode = mode;
    f.dev = makedev(0, 42);
    f.ino = 9000 + uint64_t(fd);
    return f;
}

uint64_t sumPages(const std::vector<uint8_t> &payload)
{
    // Pages field block: pid i32, runs count u32, runs (u64, u32)...
    if (payload.size() < 8) {
        return 0;
    }
    const uint32_t runs = uint32_t(payload[4]) | uint32_t(payload[5]) << 8 | uint32_t(payload[6]) << 16 | uint32_t(payload[7]) << 24;
    uint64_t pages = 0;
    for (uint32_t i = 0; i < runs && 8 + 12 * size_t(i) + 12 <= payload.size(); ++i) {
        const uint8_t *p = payload.data() + 8 + 12 * size_t(i) + 8;
        pages += uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
    }
    return pages;
}

uint64_t load64(const uint8_t *at)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
        v = v << 8 | at[i];
    }
    return v;
}

uint32_t load32(const uint8_t *at)
{
    return uint32_t(at[0]) | uint32_t(at[1]) << 8 | uint32_t(at[2]) << 16 | uint32_t(at[3]) << 24;
}

std::vector<uint8_t> bulkPayload(std::vector<uint8_t> fieldsBytes, const std::vector<uint8_t> &data)
{
    std::vector<uint8_t> compressed(ZSTD_compressBound(data.size()));
    const size_t n = ZSTD_compress(compressed.data(), compressed.size(), data.data(), data.size(), 1);
    fieldsBytes.insert(fieldsBytes.end(), compressed.begin(), compressed.begin() + n);
    return fieldsBytes;
}
} // namespace

void storeU32(uint8_t *at, uint32_t v)
{
    Encoder::putU32(at, v);
}

void storeU64(uint8_t *at, uint64_t v)
{
    Encoder::putU64(at, v);
}

void fillMixed(uint8_t *out, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    const size_t half = n / 2;
    for (size_t i = 0; i < half; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = uint8_t(x >> 24);
    }
    static const char *const words[] = {"checkpoint ", "restore ", "the ", "process ", "memory ", "page ", "zstd ", "image ", "kernel\n", "of "};
    size_t i = half;
    while (i < n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const char *w = words[x % 10];
        for (; *w && i < n; ++w) {
            out[i++] = uint8_t(*w);
        }
    }
}

SampleImage SampleImage::make(uint32_t pagesPerProcess)
{
    SampleImage s;
    s.header.arch = "x86_64";
    s.header.kernelRelease = "6.18.0-cryopod-test";
    s.header.hostname = "pod-host";
    s.header.engineVersion = "cryopod 0.1.0";
    s.header.pageSize = 4096;
    s.header.createdUnixNs = 1767225600123456789ull;

    s.tree.rootPid = 4242;
    s.tree.processes = {
        ProcessEntry {4242, 1, 4242, 4000, {4242, 4243}},
        ProcessEntry {4250, 4242, 4242, 4000, {4250}},
    };

    for (const ProcessEntry &p : s.tree.processes) {
        const bool root = p.pid == s.tree.rootPid;
        TaskRecord t;
        t.pid = p.pid;
        t.comm = root ? "sample-main" : "sample-child";
        t.exePath = "/usr/bin/sample";
        t.cwd = "/home/user/work dir";
        t.root = "/";
        t.umask = 027;
        t.personality = 0x0040000;
        for (size_t i = 0; i < t.rlimits.size(); ++i) {
            t.rlimits[i] = Rlimit {i % 3 == 0 ? kInfinity : 1000 + i, kInfinity};
        }
        t.rlimits[7] = Rlimit {1024, 524288}; // RLIMIT_NOFILE
        t.exitSignal = root ? 17 : 0;
        s.tasks.push_back(t);

        CredsRecord c;
        c.pid = p.pid;
        c.uid = 1000;
        c.euid = 0;
        c.suid = 1001;
        c.fsuid = 0;
        c.gid = 1000;
        c.egid = 27;
        c.sgid = 1002;
        c.fsgid = 27;
        c.groups = {4, 24, 27, 1000, 4294967294u};
        c.capPermitted = cap(21) | cap(13) | cap(40);
        c.capEffective = cap(13);
        c.capInheritable = cap(13) | cap(40);
        c.capAmbient = root ? cap(40) : 0;
        c.capBounding = ((uint64_t(1) << 41) - 1) & ~cap(24);
        c.securebits = 0x10;
        c.noNewPrivs = root;
        s.creds.push_back(c);

        SignalsRecord sig;
        sig.pid = p.pid;
        sig.actions = {
            SigactionEntry {2, 0x401234, 0x04000000 | 0x10000000 | 0x4, 0x7f0000002000, 1ull << 14},
            SigactionEntry {13, 1, 0, 0, 0},
            SigactionEntry {64, 0x401300, 0x04000000 | 0x08000000 | 0x80000000, 0x7f0000002000, ~0ull >> 1},
        };
        sig.pending = {pendingSignal(34, -1 /* SI_QUEUE */, 7), pendingSignal(34, -1, 8)}; // SIGRTMIN queued twice
        s.signals.push_back(sig);

        FilesRecord f;
        f.pid = p.pid;
        FdRecord null = fdRecord(0, FdKind::CharDevice, "/dev/null", 0, S_IFCHR | 0666);
        null.rdev = makedev(1, 3);
        FdRecord log = fdRecord(1, FdKind::Regular, "/tmp/out.log", 01 | 02000, S_IFREG | 0644);
        log.pos = 1234;
        log.size = 5678;
        FdRecord err = log;
        err.fd = 2;
        err.dupOf = 1; // 2>&1: one open file description
        FdRecord scratch = fdRecord(root ? 3 : 5, FdKind::Regular, "/tmp/scratch file", 02, S_IFREG | 0600);
        scratch.pos = 77;
        scratch.unlinked = true;
        FdRecord dir = fdRecord(7, FdKind::Directory, "/home/user", 0200000, S_IFDIR | 0755);
        dir.cloexec = true;
        f.fds = {null, log, err, scratch};
        if (root) {
            f.fds.push_back(dir);
            // A pipe with data (both ends), an eventfd, an epoll set watching both.
            FileObjectRecord pipe;
            pipe.id = 1;
            pipe.kind = FileObjectKind::Pipe;
            pipe.ownerPid = p.pid;
            pipe.ino = 777;
            pipe.pipeSize = 65536;
            pipe.data.resize(1500);
            fillMixed(pipe.data.data(), pipe.data.size(), 5);
            FileObjectRecord event;
            event.id = 2;
            event.kind = FileObjectKind::EventFd;
            event.ownerPid = p.pid;
            event.count = 0x123456789ull;
            event.semaphore = true;
            FileObjectRecord timer;
            timer.id = 3;
            timer.kind = FileObjectKind::TimerFd;
            timer.ownerPid = p.pid;
            timer.clockId = 1;
            timer.settimeFlags = 1;
            timer.ticks = 2;
            timer.valueNs = 1500000000;
            timer.intervalNs = 3000000000;
            timer.deadlineNs = 987654321000;
            FileObjectRecord epoll;
            epoll.id = 4;
            epoll.kind = FileObjectKind::Epoll;
            epoll.ownerPid = p.pid;
            epoll.targets = {EpollTarget {10, 0x80000019, 0xdead}, EpollTarget {12, 0x1, 0xbeef}};
            FileObjectRecord sockA;
            sockA.id = 5;
            sockA.kind = FileObjectKind::UnixSocket;
            sockA.ownerPid = p.pid;
            sockA.socketType = 2; // SOCK_DGRAM
            sockA.peer = 6;
            sockA.sndbuf = 212992;
            sockA.rcvbuf = 212992;
            sockA.messages = {{1, 2, 3}, {}, std::vector<uint8_t>(700, 0x5a)};
            FileObjectRecord sockB = sockA;
            sockB.id = 6;
            sockB.peer = 5;
            sockB.shutdown = 2;
            sockB.passcred = true;
            sockB.messages.clear();
            FileObjectRecord listener;
            listener.id = 7;
            listener.kind = FileObjectKind::InetSocket;
            listener.ownerPid = p.pid;
            listener.family = 10; // AF_INET6
            listener.socketType = 1;
            listener.protocol = 6;
            listener.inetState = InetState::Listening;
            listener.localAddress = std::vector<uint8_t>(16, 0);
            listener.localAddress[15] = 1;
            listener.localPort = 8080;
            listener.backlog = 128;
            listener.socketOptions = kSockReuseAddr | kSockV6Only | kSockNoDelay;
            listener.rcvbuf = 196608;
            FileObjectRecord udp;
            udp.id = 8;
            udp.kind = FileObjectKind::InetSocket;
            udp.ownerPid = p.pid;
            udp.family = 2; // AF_INET
            udp.socketType = 2;
            udp.protocol = 17;
            udp.inetState = InetState::Connected;
            udp.localAddress = {127, 0, 0, 1};
            udp.localPort = 40000;
            udp.peerAddress = {127, 0, 0, 2};
            udp.peerPort = 53;
            udp.socketOptions = kSockBroadcast;
            s.fileObjects = {pipe, event, timer, epoll, sockA, sockB, listener, udp};
            FdRecord readEnd = fdRecord(10, FdKind::Pipe, "pipe:[777]", 0, S_IFIFO | 0600);
            readEnd.object = 1;
            FdRecord writeEnd = fdRecord(11, FdKind::Pipe, "pipe:[777]", 01 | 04000, S_IFIFO | 0600);
            writeEnd.object = 1;
            FdRecord eventFd = fdRecord(12, FdKind::EventFd, "anon_inode:[eventfd]", 02, 0600);
            eventFd.object = 2;
            FdRecord eventDup = eventFd;
            eventDup.fd = 13;
            eventDup.dupOf = 12;
            FdRecord timerFd = fdRecord(14, FdKind::TimerFd, "anon_inode:[timerfd]", 02, 0600);
            timerFd.object = 3;
            FdRecord epollFd = fdRecord(15, FdKind::Epoll, "anon_inode:[eventpoll]", 02, 0600);
            epollFd.object = 4;
            epollFd.cloexec = true;
            FdRecord sockFdA = fdRecord(16, FdKind::UnixSocket, "socket:[1616]", 02, S_IFSOCK | 0777);
            sockFdA.object = 5;
            FdRecord sockFdB = fdRecord(17, FdKind::UnixSocket, "socket:[1617]", 02 | 04000, S_IFSOCK | 0777);
            sockFdB.object = 6;
            // A pty slave, the controlling terminal of the root's session.
            FdRecord ttyFd = fdRecord(18, FdKind::Terminal, "/dev/pts/4", 02, S_IFCHR | 0620);
            ttyFd.rdev = makedev(136, 4);
            TerminalRecord tty;
            tty.rdev = ttyFd.rdev;
            tty.path = ttyFd.path;
            tty.iflag = 0x4500;
            tty.oflag = 0x5;
            tty.cflag = 0xbf;
            tty.lflag = 0x8a3b;
            tty.cc.assign(kTermiosCcBytes, 0);
            tty.cc[0] = 3;
            tty.ispeed = tty.ospeed = 38400;
            tty.rows = 33;
            tty.cols = 101;
            tty.sid = p.sid == p.pid ? p.pid : 0;
            tty.foregroundPgrp = tty.sid != 0 ? p.pgid : 0;
            tty.inputQueued = 5;
            s.terminals.push_back(tty);
            FdRecord listenerFd = fdRecord(19, FdKind::InetSocket, "socket:[1618]", 02 | 04000, S_IFSOCK | 0777);
            listenerFd.object = 7;
            FdRecord udpFd = fdRecord(20, FdKind::InetSocket, "socket:[1619]", 02, S_IFSOCK | 0777);
            udpFd.object = 8;
            f.fds.insert(f.fds.end(), {readEnd, writeEnd, eventFd, eventDup, timerFd, epollFd, sockFdA, sockFdB, ttyFd, listenerFd, udpFd});
            f.locks = {FileLock {1, FileLockKind::Posix, true, 100, 199}, FileLock {1, FileLockKind::Flock, false, 0, UINT64_MAX}};
            TimersRecord timers;
            timers.pid = p.pid;
            timers.itimers[0] = {50000000, 50000000};
            timers.itimers[2] = {1000000000000, 7000000000};
            timers.posix = {PosixTimer {0, 1, 0, 35, 0x5eed1234, p.pid, 50000000, 50000000}, PosixTimer {3, 7, 4, 12, 0, 4243, 0, 0}};
            s.timers.push_back(timers);
        }
        FileDataRecord fd;
        fd.pid = p.pid;
        fd.fd = scratch.fd;
        fd.data.resize(root ? 3000 : 0); // the child's unlinked file is empty
        fillMixed(fd.data.data(), fd.data.size(), uint64_t(p.pid));
        f.fds[3].size = fd.data.size();
        s.files.push_back(f);
        s.fileData.push_back(fd);

        for (int32_t tid : p.tids) {
            s.threads.push_back(makeThread(p.pid, tid, tid == p.pid));
        }
        s.mms.push_back(makeMm(p.pid));
        for (PagesRecord &r : makePages(p.pid, pagesPerProcess, s.header.pageSize, uint64_t(p.pid) * 100)) {
            s.pages.push_back(std::move(r));
        }
    }
    return s;
}

std::vector<Section> SampleImage::sections() const
{
    std::vector<Section> out;
    out.emplace_back(tree);
    for (const SharedMemoryRecord &m : sharedMemory) {
        out.emplace_back(m);
    }
    for (const SysvIpcRecord &r : sysvIpc) {
        out.emplace_back(r);
    }
    for (const ProcessEntry &p : tree.processes) {
        auto add = [&](const auto &records) {
            for (const auto &r : records) {
                if (r.pid == p.pid) {
                    out.emplace_back(r);
                }
            }
        };
        add(tasks);
        add(creds);
        add(signals);
        add(timers);
        for (const FileObjectRecord &o : fileObjects) {
            if (o.ownerPid == p.pid) {
                out.emplace_back(o);
            }
        }
        if (p.pid == tree.rootPid) {
            for (const TerminalRecord &t : terminals) {
                out.emplace_back(t);
            }
        }
        add(files);
        add(fileData);
        add(threads);
        add(mms);
        add(pages);
    }
    return out;
}

SysvSample sysvSample()
{
    SysvSample s;
    s.memory.id = 4;
    s.memory.kind = SharedMemoryKind::SysvShm;
    s.memory.size = 2 * 4096 + 100; // the segment's size
    s.memory.ino = 32769; // its id
    s.memory.runs = {{4096, 1}};
    s.memory.data.assign(4096, 0x3c);
    s.segment.kind = SysvIpcKind::Shm;
    s.segment.id = 32769;
    s.segment.key = 0x5c001234;
    s.segment.mode = 0640;
    s.segment.uid = 1000;
    s.segment.gid = 4242;
    s.segment.object = 4;
    s.segment.size = s.memory.size;
    s.queue.kind = SysvIpcKind::Msg;
    s.queue.id = 5;
    s.queue.mode = 0600;
    s.queue.qbytes = 16384;
    s.queue.messages = {{7, {1, 2, 3}}, {1, {}}};
    s.queue.lspid = 100;
    s.set.kind = SysvIpcKind::Sem;
    s.set.id = 65536;
    s.set.key = 42;
    s.set.mode = 0666;
    s.set.semValues = {0, 3, 32767};
    s.set.semPids = {0, 100, 0};
    return s;
}

Result<void> SampleImage::write(ImageWriter &writer) const
{
    for (const Section &s : sections()) {
        auto r = std::visit(
            [&](const auto &record) -> Result<void> {
                if constexpr (std::is_same_v<std::decay_t<decltype(record)>, EndRecord>) {
                    return writer.finish();
                } else {
                    return writer.write(record);
                }
            },
            s);
        if (!r) {
            return r;
        }
    }
    return writer.finish();
}

int memfdWith(const std::vector<uint8_t> &bytes)
{
    const int fd = memfd_create("cryopod-test-image", MFD_CLOEXEC);
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) {
            break;
        }
        done += size_t(n);
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

std::vector<uint8_t> writeToBytes(const SampleImage &sample, const WriterOptions &options)
{
    const int fd = memfd_create("cryopod-test-image", MFD_CLOEXEC);
    {
        auto writer = ImageWriter::create(fd, sample.header, options);
        if (!writer || !sample.write(**writer)) {
            ::close(fd);
            return {};
        }
    }
    struct stat st;
    fstat(fd, &st);
    std::vector<uint8_t> bytes(size_t(st.st_size));
    pread(fd, bytes.data(), bytes.size(), 0);
    ::close(fd);
    return bytes;
}

Result<std::vector<Section>> readAll(const std::vector<uint8_t> &bytes, const ReaderLimits &limits)
{
    const int fd = memfdWith(bytes);
    std::vector<Section> out;
    auto reader = ImageReader::open(fd, limits);
    if (!reader) {
        ::close(fd);
        return std::unexpected(reader.error());
    }
    for (;;) {
        auto s = (*reader)->next();
        if (!s) {
            ::close(fd);
            return std::unexpected(s.error());
        }
        const bool end = std::holds_alternative<EndRecord>(*s);
        out.push_back(std::move(*s));
        if (end) {
            break;
        }
    }
    ::close(fd);
    return out;
}

std::string readError(const std::vector<uint8_t> &bytes, const ReaderLimits &limits)
{
    auto r = readAll(bytes, limits);
    return r ? std::string() : r.error().describe();
}

Wire parseWire(const std::vector<uint8_t> &bytes)
{
    Wire w;
    w.headerSize = 16 + load32(bytes.data() + 12) + 8;
    size_t at = w.headerSize;
    while (at + 24 <= bytes.size()) {
        WireSection s;
        s.offset = at;
        s.type = load32(bytes.data() + at);
        s.flags = load32(bytes.data() + at + 4);
        s.payloadLength = load64(bytes.data() + at + 8);
        s.rawLength = load64(bytes.data() + at + 16);
        s.size = 24 + size_t(s.payloadLength) + 8;
        w.sections.push_back(s);
        at += s.size;
    }
    return w;
}

void rechecksum(std::vector<uint8_t> &bytes, const WireSection &s)
{
    storeU64(bytes.data() + s.offset + s.size - 8, XXH3_64bits(bytes.data() + s.offset, s.size - 8));
}

void rechecksumHeader(std::vector<uint8_t> &bytes, size_t headerSize)
{
    storeU64(bytes.data() + headerSize - 8, XXH3_64bits(bytes.data(), headerSize - 8));
}

std::vector<uint8_t> frame(uint32_t type, uint32_t flags, const std::vector<uint8_t> &payload, uint64_t rawLength)
{
    std::vector<uint8_t> out(24 + payload.size() + 8);
    storeU32(out.data(), type);
    storeU32(out.data() + 4, flags);
    storeU64(out.data() + 8, payload.size());
    storeU64(out.data() + 16, rawLength);
    if (!payload.empty()) {
        std::memcpy(out.data() + 24, payload.data(), payload.size());
    }
    storeU64(out.data() + 24 + payload.size(), XXH3_64bits(out.data(), 24 + payload.size()));
    return out;
}

template<typename Record>
std::vector<uint8_t> fields(const Record &record)
{
    std::vector<uint8_t> out;
    Encoder e(out);
    RecordCodec::encode(e, record);
    return out;
}

template std::vector<uint8_t> fields(const Header &);
template std::vector<uint8_t> fields(const ProcessTreeRecord &);
template std::vector<uint8_t> fields(const TaskRecord &);
template std::vector<uint8_t> fields(const ThreadRecord &);
template std::vector<uint8_t> fields(const CredsRecord &);
template std::vector<uint8_t> fields(const SignalsRecord &);
template std::vector<uint8_t> fields(const MmRecord &);
template std::vector<uint8_t> fields(const FilesRecord &);
template std::vector<uint8_t> fields(const FileObjectRecord &);
template std::vector<uint8_t> fields(const TimersRecord &);
template std::vector<uint8_t> fields(const TerminalRecord &);
template std::vector<uint8_t> fields(const EndRecord &);

std::vector<uint8_t> sectionBytes(const Section &section)
{
    return std::visit(
        [](const auto &r) -> std::vector<uint8_t> {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, PagesRecord>) {
                std::vector<uint8_t> f;
                Encoder e(f);
                RecordCodec::encodePagesFields(e, r.pid, r.runs, r.data.size());
                const uint64_t raw = f.size() + r.data.size();
                return frame(uint32_t(SectionType::Pages), 1, bulkPayload(f, r.data), raw);
            } else if constexpr (std::is_same_v<T, FileDataRecord>) {
                std::vector<uint8_t> f;
                Encoder e(f);
                RecordCodec::encodeFileDataFields(e, r.pid, r.fd, r.data.size());
                const uint64_t raw = f.size() + r.data.size();
                return frame(uint32_t(SectionType::FileData), 1, bulkPayload(f, r.data), raw);
            } else {
                SectionType type = SectionType::End;
                if constexpr (std::is_same_v<T, ProcessTreeRecord>) {
                    type = SectionType::ProcessTree;
                } else if constexpr (std::is_same_v<T, TaskRecord>) {
                    type = SectionType::Task;
                } else if constexpr (std::is_same_v<T, ThreadRecord>) {
                    type = SectionType::Thread;
                } else if constexpr (std::is_same_v<T, CredsRecord>) {
                    type = SectionType::Creds;
                } else if constexpr (std::is_same_v<T, SignalsRecord>) {
                    type = SectionType::Signals;
                } else if constexpr (std::is_same_v<T, MmRecord>) {
                    type = SectionType::Mm;
                } else if constexpr (std::is_same_v<T, FilesRecord>) {
                    type = SectionType::Files;
                } else if constexpr (std::is_same_v<T, FileObjectRecord>) {
                    type = SectionType::FileObject;
                } else if constexpr (std::is_same_v<T, TimersRecord>) {
                    type = SectionType::Timers;
                } else if constexpr (std::is_same_v<T, TerminalRecord>) {
                    type = SectionType::Terminal;
                } else if constexpr (std::is_same_v<T, SharedMemoryRecord>) {
                    type = SectionType::SharedMemory;
                } else if constexpr (std::is_same_v<T, SysvIpcRecord>) {
                    type = SectionType::SysvIpc;
                }
                const std::vector<uint8_t> f = fields(r);
                return frame(uint32_t(type), 0, f, f.size());
            }
        },
        section);
}

std::vector<uint8_t> assemble(const std::vector<uint8_t> &headerBytes, const std::vector<std::vector<uint8_t>> &sections, bool withEnd)
{
    std::vector<uint8_t> out = headerBytes;
    EndRecord end;
    for (const std::vector<uint8_t> &s : sections) {
        out.insert(out.end(), s.begin(), s.end());
        ++end.sections;
        end.rawBytes += load64(s.data() + 16);
        if (load32(s.data()) == uint32_t(SectionType::Pages)) {
            end.pagesStored += sumPages(std::vector<uint8_t>(s.begin() + 24, s.end() - 8));
        }
    }
    if (withEnd) {
        const std::vector<uint8_t> e = frame(uint32_t(SectionType::End), 0, fields(end), 24);
        out.insert(out.end(), e.begin(), e.end());
    }
    return out;
}

} // namespace cryopod::image::test
