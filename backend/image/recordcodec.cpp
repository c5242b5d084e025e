// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "recordcodec.h"

namespace cryopod::image
{

namespace
{
// Smallest encodings of repeated items, for Decoder::count().
constexpr uint32_t kMinProcessEntryBytes = 4 * 4 + 4 + 1 + 4 + 4;
constexpr uint32_t kMinVmaBytes = 8 + 8 + 4 + 4 + 4 + 8 + 4 + 8 + 8 + 8 + 8;
constexpr uint32_t kMinFdBytes = 4 + 4 + 4 + 4 + 1 + 8 + 4 + 8 * 4 + 1 + 4 + 8 + 4 + 4;
constexpr uint32_t kEpollTargetBytes = 4 + 4 + 8;
constexpr uint32_t kMinPendingSignalBytes = 4 + 4;
constexpr uint64_t kMaxPendingSignals = 1 << 20; // RLIMIT_SIGPENDING is the real bound

constexpr uint32_t kSigactionBytes = 4 + 8 * 4;
constexpr uint32_t kPageRunBytes = 8 + 4;
constexpr uint64_t kMaxGroups = 65536; // NGROUPS_MAX
constexpr uint64_t kMaxAuxvItems = 1024;
void encodePending(Encoder &e, const std::vector<PendingSignal> &pending)
{
    e.count(pending.size());
    for (const PendingSignal &p : pending) {
        e.u32(p.signo);
        e.bytes(p.siginfo);
    }
}

void decodePending(Decoder &d, std::vector<PendingSignal> &pending)
{
    const uint32_t n = d.count("pending", kMinPendingSignalBytes, kMaxPendingSignals);
    pending.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        PendingSignal p;
        p.signo = d.u32("pending.signo");
        p.siginfo = d.bytes("pending.siginfo", kSiginfoBytes);
        pending.push_back(std::move(p));
    }
}
} // namespace

// ---- header -------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const Header &h)
{
    e.string(h.arch);
    e.string(h.kernelRelease);
    e.string(h.hostname);
    e.string(h.engineVersion);
    e.u32(h.pageSize);
    e.u64(h.createdUnixNs);
    e.u32(h.flags);
}

void RecordCodec::decode(Decoder &d, Header &h)
{
    h.arch = d.string("arch");
    h.kernelRelease = d.string("kernelRelease");
    h.hostname = d.string("hostname");
    h.engineVersion = d.string("engineVersion");
    h.pageSize = d.u32("pageSize");
    h.createdUnixNs = d.u64("createdUnixNs");
    h.flags = d.u32("flags");
}

// ---- process tree ---------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const ProcessTreeRecord &r)
{
    e.i32(r.rootPid);
    e.count(r.processes.size());
    for (const ProcessEntry &p : r.processes) {
        e.i32(p.pid);
        e.i32(p.ppid);
        e.i32(p.pgid);
        e.i32(p.sid);
        e.count(p.tids.size());
        for (int32_t tid : p.tids) {
            e.i32(tid);
        }
        e.boolean(p.zombie);
        e.i32(p.exitStatus);
        e.i32(p.filesOf);
        e.i32(p.vmOf);
    }
}

void RecordCodec::decode(Decoder &d, ProcessTreeRecord &r)
{
    r.rootPid = d.i32("rootPid");
    const uint32_t n = d.count("processes", kMinProcessEntryBytes);
    r.processes.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        ProcessEntry p;
        p.pid = d.i32("processes.pid");
        p.ppid = d.i32("processes.ppid");
        p.pgid = d.i32("processes.pgid");
        p.sid = d.i32("processes.sid");
        const uint32_t tids = d.count("processes.tids", 4);
        p.tids.reserve(tids);
        for (uint32_t t = 0; t < tids && !d.failed(); ++t) {
            p.tids.push_back(d.i32("processes.tids"));
        }
        p.zombie = d.boolean("processes.zombie");
        p.exitStatus = d.i32("processes.exitStatus");
        p.filesOf = d.i32("processes.filesOf");
        if (d.formatVersion() >= 9) {
            p.vmOf = d.i32("processes.vmOf");
        }
        r.processes.push_back(std::move(p));
    }
}

// ---- task -------------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const TaskRecord &r)
{
    e.i32(r.pid);
    e.string(r.comm);
    e.string(r.exePath);
    e.string(r.cwd);
    e.string(r.root);
    e.u32(r.umask);
    e.u32(r.personality);
    for (const Rlimit &l : r.rlimits) {
        e.u64(l.cur);
        e.u64(l.max);
    }
    e.i32(r.exitSignal);
    e.boolean(r.childSubreaper);
}

void RecordCodec::decode(Decoder &d, TaskRecord &r)
{
    r.pid = d.i32("pid");
    r.comm = d.string("comm");
    r.exePath = d.string("exePath");
    r.cwd = d.string("cwd");
    r.root = d.string("root");
    r.umask = d.u32("umask");
    r.personality = d.u32("personality");
    for (Rlimit &l : r.rlimits) {
        l.cur = d.u64("rlimits.cur");
        l.max = d.u64("rlimits.max");
    }
    r.exitSignal = d.i32("exitSignal");
    r.childSubreaper = d.boolean("childSubreaper");
}

// ---- thread -------------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const ThreadRecord &r)
{
    e.i32(r.pid);
    e.i32(r.tid);
    e.string(r.name);
    for (uint64_t reg : r.regs.gpr) {
        e.u64(reg);
    }
    e.bytes(r.fpregs);
    e.bytes(r.xstate);
    e.u64(r.sigmask);
    e.u64(r.altstackSp);
    e.u64(r.altstackSize);
    e.u32(r.altstackFlags);
    e.u64(r.clearChildTid);
    encodePending(e, r.pending);
    e.u64(r.rseqAddr);
    e.u32(r.rseqSize);
    e.u32(r.rseqFlags);
    e.u32(r.rseqSignature);
    e.u64(r.robustListHead);
    e.u64(r.robustListLen);
    e.u32(r.seccompMode);
    e.count(r.seccompFilters.size());
    for (const SeccompFilter &f : r.seccompFilters) {
        e.u32(f.flags);
        e.bytes(f.program);
    }
}

void RecordCodec::decode(Decoder &d, ThreadRecord &r)
{
    r.pid = d.i32("pid");
    r.tid = d.i32("tid");
    r.name = d.string("name");
    for (uint64_t &reg : r.regs.gpr) {
        reg = d.u64("regs");
    }
    r.fpregs = d.bytes("fpregs", kFpregsBytes);
    r.xstate = d.bytes("xstate", kMaxXstateBytes);
    r.sigmask = d.u64("sigmask");
    r.altstackSp = d.u64("altstackSp");
    r.altstackSize = d.u64("altstackSize");
    r.altstackFlags = d.u32("altstackFlags");
    r.clearChildTid = d.u64("clearChildTid");
    decodePending(d, r.pending);
    r.rseqAddr = d.u64("rseqAddr");
    r.rseqSize = d.u32("rseqSize");
    r.rseqFlags = d.u32("rseqFlags");
    r.rseqSignature = d.u32("rseqSignature");
    r.robustListHead = d.u64("robustListHead");
    r.robustListLen = d.u64("robustListLen");
    r.seccompMode = d.u32("seccompMode");
    const uint32_t filters = d.count("seccompFilters", 4 + 4, kMaxSeccompFilters);
    r.seccompFilters.reserve(filters);
    for (uint32_t i = 0; i < filters && !d.failed(); ++i) {
        SeccompFilter f;
        f.flags = d.u32("seccompFilters.flags");
        f.program = d.bytes("seccompFilters.program", uint64_t(kMaxSeccompInstructions) * 8);
        r.seccompFilters.push_back(std::move(f));
    }
}

// ---- credentials -------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const CredsRecord &r)
{
    e.i32(r.pid);
    for (uint32_t id : {r.uid, r.euid, r.suid, r.fsuid, r.gid, r.egid, r.sgid, r.fsgid}) {
        e.u32(id);
    }
    e.count(r.groups.size());
    for (uint32_t g : r.groups) {
        e.u32(g);
    }
    e.u64(r.capInheritable);
    e.u64(r.capPermitted);
    e.u64(r.capEffective);
    e.u64(r.capBounding);
    e.u64(r.capAmbient);
    e.u32(r.securebits);
    e.boolean(r.noNewPrivs);
}

void RecordCodec::decode(Decoder &d, CredsRecord &r)
{
    r.pid = d.i32("pid");
    r.uid = d.u32("uid");
    r.euid = d.u32("euid");
    r.suid = d.u32("suid");
    r.fsuid = d.u32("fsuid");
    r.gid = d.u32("gid");
    r.egid = d.u32("egid");
    r.sgid = d.u32("sgid");
    r.fsgid = d.u32("fsgid");
    const uint32_t n = d.count("groups", 4, kMaxGroups);
    r.groups.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        r.groups.push_back(d.u32("groups"));
    }
    r.capInheritable = d.u64("capInheritable");
    r.capPermitted = d.u64("capPermitted");
    r.capEffective = d.u64("capEffective");
    r.capBounding = d.u64("capBounding");
    r.capAmbient = d.u64("capAmbient");
    r.securebits = d.u32("securebits");
    r.noNewPrivs = d.boolean("noNewPrivs");
}

// ---- signals -------------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const SignalsRecord &r)
{
    e.i32(r.pid);
    e.count(r.actions.size());
    for (const SigactionEntry &a : r.actions) {
        e.u32(a.signo);
        e.u64(a.handler);
        e.u64(a.flags);
        e.u64(a.restorer);
        e.u64(a.mask);
    }
    encodePending(e, r.pending);
}

void RecordCodec::decode(Decoder &d, SignalsRecord &r)
{
    r.pid = d.i32("pid");
    const uint32_t n = d.count("actions", kSigactionBytes, 64);
    r.actions.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        SigactionEntry a;
        a.signo = d.u32("actions.signo");
        a.handler = d.u64("actions.handler");
        a.flags = d.u64("actions.flags");
        a.restorer = d.u64("actions.restorer");
        a.mask = d.u64("actions.mask");
        r.actions.push_back(a);
    }
    decodePending(d, r.pending);
}

// ---- memory ----------------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const MmRecord &r)
{
    e.i32(r.pid);
    for (uint64_t v : {r.startCode, r.endCode, r.startData, r.endData, r.startBrk, r.brk, r.startStack, r.argStart, r.argEnd, r.envStart, r.envEnd}) {
        e.u64(v);
    }
    e.count(r.auxv.size());
    for (uint64_t v : r.auxv) {
        e.u64(v);
    }
    e.string(r.exePath);
    e.u64(r.vdsoHash);
    e.count(r.vmas.size());
    for (const VmaRecord &v : r.vmas) {
        e.u64(v.start);
        e.u64(v.end);
        e.u32(v.prot);
        e.u32(v.flags);
        e.u32(uint32_t(v.kind));
        e.u64(v.pgoff);
        e.string(v.path);
        e.u64(v.dev);
        e.u64(v.ino);
        e.u64(v.fileSize);
        e.u64(v.shm);
    }
}

void RecordCodec::decode(Decoder &d, MmRecord &r)
{
    r.pid = d.i32("pid");
    r.startCode = d.u64("startCode");
    r.endCode = d.u64("endCode");
    r.startData = d.u64("startData");
    r.endData = d.u64("endData");
    r.startBrk = d.u64("startBrk");
    r.brk = d.u64("brk");
    r.startStack = d.u64("startStack");
    r.argStart = d.u64("argStart");
    r.argEnd = d.u64("argEnd");
    r.envStart = d.u64("envStart");
    r.envEnd = d.u64("envEnd");
    const uint32_t naux = d.count("auxv", 8, kMaxAuxvItems);
    r.auxv.reserve(naux);
    for (uint32_t i = 0; i < naux && !d.failed(); ++i) {
        r.auxv.push_back(d.u64("auxv"));
    }
    r.exePath = d.string("exePath");
    r.vdsoHash = d.u64("vdsoHash");
    const uint32_t n = d.count("vmas", kMinVmaBytes);
    r.vmas.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        VmaRecord v;
        v.start = d.u64("vmas.start");
        v.end = d.u64("vmas.end");
        v.prot = d.u32("vmas.prot");
        v.flags = d.u32("vmas.flags");
        v.kind = VmaKind(d.u32("vmas.kind"));
        v.pgoff = d.u64("vmas.pgoff");
        v.path = d.string("vmas.path");
        v.dev = d.u64("vmas.dev");
        v.ino = d.u64("vmas.ino");
        v.fileSize = d.u64("vmas.fileSize");
        v.shm = d.u64("vmas.shm");
        r.vmas.push_back(std::move(v));
    }
}

// ---- files --------------------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const FilesRecord &r)
{
    e.i32(r.pid);
    e.count(r.fds.size());
    for (const FdRecord &f : r.fds) {
        e.i32(f.fd);
        e.u32(uint32_t(f.kind));
        e.string(f.path);
        e.u32(f.openFlags);
        e.boolean(f.cloexec);
        e.u64(f.pos);
        e.u32(f.mode);
        e.u64(f.dev);
        e.u64(f.ino);
        e.u64(f.rdev);
        e.u64(f.size);
        e.boolean(f.unlinked);
        e.i32(f.dupOf);
        e.u64(f.object);
        e.i32(f.sharedPid);
        e.i32(f.sharedFd);
    }
    e.count(r.locks.size());
    for (const FileLock &l : r.locks) {
        e.i32(l.fd);
        e.u32(uint32_t(l.kind));
        e.boolean(l.write);
        e.u64(l.start);
        e.u64(l.end);
    }
}

void RecordCodec::decode(Decoder &d, FilesRecord &r)
{
    r.pid = d.i32("pid");
    const uint32_t n = d.count("fds", kMinFdBytes);
    r.fds.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        FdRecord f;
        f.fd = d.i32("fds.fd");
        f.kind = FdKind(d.u32("fds.kind"));
        f.path = d.string("fds.path");
        f.openFlags = d.u32("fds.openFlags");
        f.cloexec = d.boolean("fds.cloexec");
        f.pos = d.u64("fds.pos");
        f.mode = d.u32("fds.mode");
        f.dev = d.u64("fds.dev");
        f.ino = d.u64("fds.ino");
        f.rdev = d.u64("fds.rdev");
        f.size = d.u64("fds.size");
        f.unlinked = d.boolean("fds.unlinked");
        f.dupOf = d.i32("fds.dupOf");
        f.object = d.u64("fds.object");
        f.sharedPid = d.i32("fds.sharedPid");
        f.sharedFd = d.i32("fds.sharedFd");
        r.fds.push_back(std::move(f));
    }
    const uint32_t locks = d.count("locks", 4 + 4 + 1 + 8 + 8);
    r.locks.reserve(locks);
    for (uint32_t i = 0; i < locks && !d.failed(); ++i) {
        FileLock l;
        l.fd = d.i32("locks.fd");
        l.kind = FileLockKind(d.u32("locks.kind"));
        l.write = d.boolean("locks.write");
        l.start = d.u64("locks.start");
        l.end = d.u64("locks.end");
        r.locks.push_back(l);
    }
}

void RecordCodec::encode(Encoder &e, const FileObjectRecord &r)
{
    e.u64(r.id);
    e.u32(uint32_t(r.kind));
    e.i32(r.ownerPid);
    e.u64(r.ino);
    e.u32(r.pipeSize);
    e.bytes(r.data);
    e.u64(r.count);
    e.boolean(r.semaphore);
    e.i32(r.clockId);
    e.u32(r.settimeFlags);
    e.u64(r.ticks);
    e.u64(r.valueNs);
    e.u64(r.intervalNs);
    e.u64(uint64_t(r.deadlineNs));
    e.u64(r.sigmask);
    e.count(r.targets.size());
    for (const EpollTarget &t : r.targets) {
        e.i32(t.fd);
        e.u32(t.events);
        e.u64(t.data);
    }
    e.u32(r.socketType);
    e.u64(r.peer);
    e.u32(r.shutdown);
    e.u32(r.sndbuf);
    e.u32(r.rcvbuf);
    e.boolean(r.passcred);
    e.count(r.messages.size());
    for (const std::vector<uint8_t> &m : r.messages) {
        e.bytes(m);
    }
    e.u32(r.family);
    e.u32(r.protocol);
    e.u32(uint32_t(r.inetState));
    e.bytes(r.localAddress);
    e.u32(r.localPort);
    e.bytes(r.peerAddress);
    e.u32(r.peerPort);
    e.u32(r.backlog);
    e.u32(r.socketOptions);
    e.u32(r.unixState);
    e.string(r.unixName);
    e.count(r.watches.size());
    for (const InotifyWatch &w : r.watches) {
        e.i32(w.wd);
        e.u32(w.mask);
        e.string(w.path);
        e.u64(w.dev);
        e.u64(w.ino);
    }
    e.u32(r.tcpSendSeq);
    e.u32(r.tcpRecvSeq);
    e.bytes(r.tcpSendQueue);
    e.u32(r.tcpUnsent);
    e.bytes(r.tcpRecvQueue);
    e.u32(r.tcpMss);
    e.u32(r.tcpOptions);
    e.u32(r.tcpSndWscale);
    e.u32(r.tcpRcvWscale);
    e.u32(r.tcpTimestamp);
    e.u32(r.tcpSndWl1);
    e.u32(r.tcpSndWnd);
    e.u32(r.tcpMaxWindow);
    e.u32(r.tcpRcvWnd);
    e.u32(r.tcpRcvWup);
}

void RecordCodec::encode(Encoder &e, const TimersRecord &r)
{
    e.i32(r.pid);
    for (const Itimer &t : r.itimers) {
        e.u64(t.valueNs);
        e.u64(t.intervalNs);
    }
    e.count(r.posix.size());
    for (const PosixTimer &t : r.posix) {
        e.i32(t.id);
        e.i32(t.clockId);
        e.u32(t.notify);
        e.u32(t.signo);
        e.u64(t.sigval);
        e.i32(t.tid);
        e.u64(t.valueNs);
        e.u64(t.intervalNs);
    }
}

void RecordCodec::encode(Encoder &e, const TerminalRecord &r)
{
    e.u64(r.rdev);
    e.string(r.path);
    e.u32(r.iflag);
    e.u32(r.oflag);
    e.u32(r.cflag);
    e.u32(r.lflag);
    e.u32(r.line);
    e.bytes(r.cc);
    e.u32(r.ispeed);
    e.u32(r.ospeed);
    e.u32(r.rows);
    e.u32(r.cols);
    e.u32(r.xpixel);
    e.u32(r.ypixel);
    e.i32(r.sid);
    e.i32(r.foregroundPgrp);
    e.u64(r.inputQueued);
}

void RecordCodec::decode(Decoder &d, TerminalRecord &r)
{
    r.rdev = d.u64("rdev");
    r.path = d.string("path");
    r.iflag = d.u32("iflag");
    r.oflag = d.u32("oflag");
    r.cflag = d.u32("cflag");
    r.lflag = d.u32("lflag");
    r.line = d.u32("line");
    r.cc = d.bytes("cc", kTermiosCcBytes);
    r.ispeed = d.u32("ispeed");
    r.ospeed = d.u32("ospeed");
    r.rows = d.u32("rows");
    r.cols = d.u32("cols");
    r.xpixel = d.u32("xpixel");
    r.ypixel = d.u32("ypixel");
    r.sid = d.i32("sid");
    r.foregroundPgrp = d.i32("foregroundPgrp");
    r.inputQueued = d.u64("inputQueued");
}

void RecordCodec::decode(Decoder &d, TimersRecord &r)
{
    r.pid = d.i32("pid");
    for (Itimer &t : r.itimers) {
        t.valueNs = d.u64("itimers.valueNs");
        t.intervalNs = d.u64("itimers.intervalNs");
    }
    const uint32_t n = d.count("posix", 4 * 4 + 8 + 4 + 8 + 8);
    r.posix.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        PosixTimer t;
        t.id = d.i32("posix.id");
        t.clockId = d.i32("posix.clockId");
        t.notify = d.u32("posix.notify");
        t.signo = d.u32("posix.signo");
        t.sigval = d.u64("posix.sigval");
        t.tid = d.i32("posix.tid");
        t.valueNs = d.u64("posix.valueNs");
        t.intervalNs = d.u64("posix.intervalNs");
        r.posix.push_back(t);
    }
}

void RecordCodec::decode(Decoder &d, FileObjectRecord &r)
{
    r.id = d.u64("id");
    r.kind = FileObjectKind(d.u32("kind"));
    r.ownerPid = d.i32("ownerPid");
    r.ino = d.u64("ino");
    r.pipeSize = d.u32("pipeSize");
    r.data = d.bytes("data", kMaxPipeDataBytes);
    r.count = d.u64("count");
    r.semaphore = d.boolean("semaphore");
    r.clockId = d.i32("clockId");
    r.settimeFlags = d.u32("settimeFlags");
    r.ticks = d.u64("ticks");
    r.valueNs = d.u64("valueNs");
    r.intervalNs = d.u64("intervalNs");
    r.deadlineNs = int64_t(d.u64("deadlineNs"));
    r.sigmask = d.u64("sigmask");
    const uint32_t n = d.count("targets", kEpollTargetBytes);
    r.targets.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        EpollTarget t;
        t.fd = d.i32("targets.fd");
        t.events = d.u32("targets.events");
        t.data = d.u64("targets.data");
        r.targets.push_back(t);
    }
    r.socketType = d.u32("socketType");
    r.peer = d.u64("peer");
    r.shutdown = d.u32("shutdown");
    r.sndbuf = d.u32("sndbuf");
    r.rcvbuf = d.u32("rcvbuf");
    r.passcred = d.boolean("passcred");
    const uint32_t messages = d.count("messages", 4);
    r.messages.reserve(messages);
    for (uint32_t i = 0; i < messages && !d.failed(); ++i) {
        r.messages.push_back(d.bytes("messages", kMaxPipeDataBytes));
    }
    r.family = d.u32("family");
    r.protocol = d.u32("protocol");
    r.inetState = InetState(d.u32("inetState"));
    r.localAddress = d.bytes("localAddress", 16);
    r.localPort = d.u32("localPort");
    r.peerAddress = d.bytes("peerAddress", 16);
    r.peerPort = d.u32("peerPort");
    r.backlog = d.u32("backlog");
    r.socketOptions = d.u32("socketOptions");
    r.unixState = d.u32("unixState");
    r.unixName = d.string("unixName");
    const uint32_t watches = d.count("watches", 4 + 4 + 4 + 8 + 8);
    r.watches.reserve(watches);
    for (uint32_t i = 0; i < watches && !d.failed(); ++i) {
        InotifyWatch w;
        w.wd = d.i32("watches.wd");
        w.mask = d.u32("watches.mask");
        w.path = d.string("watches.path");
        w.dev = d.u64("watches.dev");
        w.ino = d.u64("watches.ino");
        r.watches.push_back(std::move(w));
    }
    r.tcpSendSeq = d.u32("tcpSendSeq");
    r.tcpRecvSeq = d.u32("tcpRecvSeq");
    r.tcpSendQueue = d.bytes("tcpSendQueue", kMaxPipeDataBytes);
    r.tcpUnsent = d.u32("tcpUnsent");
    r.tcpRecvQueue = d.bytes("tcpRecvQueue", kMaxPipeDataBytes);
    r.tcpMss = d.u32("tcpMss");
    r.tcpOptions = d.u32("tcpOptions");
    r.tcpSndWscale = d.u32("tcpSndWscale");
    r.tcpRcvWscale = d.u32("tcpRcvWscale");
    r.tcpTimestamp = d.u32("tcpTimestamp");
    r.tcpSndWl1 = d.u32("tcpSndWl1");
    r.tcpSndWnd = d.u32("tcpSndWnd");
    r.tcpMaxWindow = d.u32("tcpMaxWindow");
    r.tcpRcvWnd = d.u32("tcpRcvWnd");
    r.tcpRcvWup = d.u32("tcpRcvWup");
}

void RecordCodec::encode(Encoder &e, const SharedMemoryRecord &r)
{
    e.u64(r.id);
    e.u32(uint32_t(r.kind));
    e.u64(r.size);
    e.u64(r.ino);
    e.string(r.path);
    e.u32(r.mode);
    e.count(r.runs.size());
    for (const PageRun &run : r.runs) {
        e.u64(run.vaddr);
        e.u32(run.pages);
    }
    e.bytes(r.data);
    e.u32(r.seals);
}

void RecordCodec::decode(Decoder &d, SharedMemoryRecord &r)
{
    r.id = d.u64("id");
    r.kind = SharedMemoryKind(d.u32("kind"));
    r.size = d.u64("size");
    r.ino = d.u64("ino");
    r.path = d.string("path");
    r.mode = d.u32("mode");
    const uint32_t n = d.count("runs", kPageRunBytes);
    r.runs.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        PageRun run;
        run.vaddr = d.u64("runs.vaddr");
        run.pages = d.u32("runs.pages");
        r.runs.push_back(run);
    }
    r.data = d.bytes("data", kMaxSharedMemoryBytes);
    r.seals = d.u32("seals");
}

void RecordCodec::encode(Encoder &e, const SysvIpcRecord &r)
{
    e.u32(uint32_t(r.kind));
    e.i32(r.id);
    e.i32(r.key);
    e.u32(r.mode);
    e.u32(r.uid);
    e.u32(r.gid);
    e.u32(r.cuid);
    e.u32(r.cgid);
    e.boolean(r.destroyed);
    e.u64(r.object);
    e.u64(r.size);
    e.u64(r.qbytes);
    e.count(r.messages.size());
    for (const SysvMessage &m : r.messages) {
        e.u64(uint64_t(m.type));
        e.bytes(m.text);
    }
    e.i32(r.lspid);
    e.i32(r.lrpid);
    e.count(r.semValues.size());
    for (const uint32_t value : r.semValues) {
        e.u32(value);
    }
    e.count(r.semPids.size());
    for (const int32_t pid : r.semPids) {
        e.i32(pid);
    }
}

void RecordCodec::decode(Decoder &d, SysvIpcRecord &r)
{
    r.kind = SysvIpcKind(d.u32("kind"));
    r.id = d.i32("id");
    r.key = d.i32("key");
    r.mode = d.u32("mode");
    r.uid = d.u32("uid");
    r.gid = d.u32("gid");
    r.cuid = d.u32("cuid");
    r.cgid = d.u32("cgid");
    r.destroyed = d.boolean("destroyed");
    r.object = d.u64("object");
    r.size = d.u64("size");
    r.qbytes = d.u64("qbytes");
    const uint32_t messages = d.count("messages", 8 + 4, kMaxSysvMessages);
    r.messages.reserve(messages);
    for (uint32_t i = 0; i < messages && !d.failed(); ++i) {
        SysvMessage m;
        m.type = int64_t(d.u64("messages.type"));
        m.text = d.bytes("messages.text", kMaxSysvMessageBytes);
        r.messages.push_back(std::move(m));
    }
    r.lspid = d.i32("lspid");
    r.lrpid = d.i32("lrpid");
    const uint32_t values = d.count("semValues", 4, kMaxSysvSemaphores);
    r.semValues.reserve(values);
    for (uint32_t i = 0; i < values && !d.failed(); ++i) {
        r.semValues.push_back(d.u32("semValues"));
    }
    const uint32_t pids = d.count("semPids", 4, kMaxSysvSemaphores);
    r.semPids.reserve(pids);
    for (uint32_t i = 0; i < pids && !d.failed(); ++i) {
        r.semPids.push_back(d.i32("semPids"));
    }
}

// ---- bulk records ---------------------------------------------------------------------------

void RecordCodec::encodePagesFields(Encoder &e, int32_t pid, std::span<const PageRun> runs, uint64_t dataLength)
{
    e.i32(pid);
    e.count(runs.size());
    for (const PageRun &run : runs) {
        e.u64(run.vaddr);
        e.u32(run.pages);
    }
    e.u64(dataLength);
}

uint64_t RecordCodec::decodePagesFields(Decoder &d, PagesRecord &r)
{
    r.pid = d.i32("pid");
    const uint32_t n = d.count("runs", kPageRunBytes);
    r.runs.reserve(n);
    for (uint32_t i = 0; i < n && !d.failed(); ++i) {
        PageRun run;
        run.vaddr = d.u64("runs.vaddr");
        run.pages = d.u32("runs.pages");
        r.runs.push_back(run);
    }
    return d.u64("dataLength");
}

void RecordCodec::encodeFileDataFields(Encoder &e, int32_t pid, int32_t fd, uint64_t dataLength)
{
    e.i32(pid);
    e.i32(fd);
    e.u64(dataLength);
}

uint64_t RecordCodec::decodeFileDataFields(Decoder &d, FileDataRecord &r)
{
    r.pid = d.i32("pid");
    r.fd = d.i32("fd");
    return d.u64("dataLength");
}

// ---- end ---------------------------------------------------------------------------------------

void RecordCodec::encode(Encoder &e, const EndRecord &r)
{
    e.u64(r.sections);
    e.u64(r.pagesStored);
    e.u64(r.rawBytes);
}

void RecordCodec::decode(Decoder &d, EndRecord &r)
{
    r.sections = d.u64("sections");
    r.pagesStored = d.u64("pagesStored");
    r.rawBytes = d.u64("rawBytes");
}

} // namespace cryopod::image
