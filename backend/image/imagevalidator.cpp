// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imagevalidator.h"

#include "recordcodec.h"
#include "sectionframe.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <format>
#include <sys/stat.h>

namespace cryopod::image
{

namespace
{
constexpr size_t kMaxPathBytes = 4096; // PATH_MAX
constexpr size_t kMaxCommBytes = 15; // TASK_COMM_LEN - 1
constexpr uint32_t kSsOnStack = 1, kSsDisable = 2, kSsAutoDisarm = 1u << 31;
constexpr uint64_t kRobustListHeadBytes = 24; // struct robust_list_head on x86-64
constexpr uint32_t kOAccMode = 3, kOCloexec = 02000000;

bool validPid(int32_t pid)
{
    return pid > 0 && pid <= kMaxPid;
}

Result<void> checkPath(const std::string &path, const std::string &what, bool allowEmpty)
{
    if (path.empty()) {
        if (allowEmpty) {
            return {};
        }
        return fail(what + " is empty");
    }
    if (path.size() > kMaxPathBytes) {
        return fail(std::format("{} is {} bytes long, more than {}", what, path.size(), kMaxPathBytes));
    }
    if (path[0] != '/') {
        return fail(std::format("{} '{}' is not absolute", what, path));
    }
    return {};
}

std::string hex(uint64_t v)
{
    return std::format("{:#x}", v);
}

bool vmaIsFile(VmaKind kind)
{
    return kind == VmaKind::FilePrivate || kind == VmaKind::FileShared;
}

// Pending signals: numbers 1..64 (never SIGKILL/SIGSTOP, which are never left
// pending in a stopped task), whole siginfo blobs whose si_signo agrees.
Result<void> checkPending(const std::vector<PendingSignal> &pending, const std::string &what)
{
    for (size_t i = 0; i < pending.size(); ++i) {
        const PendingSignal &p = pending[i];
        if (p.signo < 1 || p.signo > 64 || p.signo == 9 || p.signo == 19) {
            return fail(std::format("{}: pending signal #{}: signal number {} out of range 1..64 (or SIGKILL/SIGSTOP)", what, i, p.signo));
        }
        if (p.siginfo.size() != kSiginfoBytes) {
            return fail(std::format("{}: pending signal #{}: siginfo is {} bytes, must be {}", what, i, p.siginfo.size(), kSiginfoBytes));
        }
        const uint32_t infoSigno = uint32_t(p.siginfo[0]) | uint32_t(p.siginfo[1]) << 8 | uint32_t(p.siginfo[2]) << 16 | uint32_t(p.siginfo[3]) << 24;
        if (infoSigno != p.signo) {
            return fail(std::format("{}: pending signal #{}: siginfo names signal {}, the record {}", what, i, infoSigno, p.signo));
        }
    }
    return {};
}
} // namespace

// ---- single records -------------------------------------------------------------

Result<void> ImageValidator::check(const Header &h)
{
    if (h.arch != "x86_64") {
        return fail(std::format("architecture '{}' is not supported (format version {} defines x86_64 only)", h.arch, kFormatVersion));
    }
    if (h.pageSize != 4096) {
        return fail(std::format("page size {} is not supported (x86_64 uses 4096)", h.pageSize));
    }
    if (h.flags != 0) {
        return fail(std::format("header flags {} are unknown (must be 0)", hex(h.flags)));
    }
    if (h.kernelRelease.size() > 64 || h.hostname.size() > 64 || h.engineVersion.size() > 256) {
        return fail("header string too long (kernelRelease and hostname at most 64 bytes, engineVersion at most 256)");
    }
    for (const std::string *s : {&h.arch, &h.kernelRelease, &h.hostname, &h.engineVersion}) {
        if (s->find('\0') != std::string::npos) {
            return fail("header string contains a NUL byte");
        }
    }
    return {};
}

Result<void> ImageValidator::check(const ProcessTreeRecord &r, const ReaderLimits &limits)
{
    if (r.processes.empty()) {
        return fail("process tree is empty");
    }
    if (r.processes.size() > limits.maxVectorItems) {
        return fail(std::format("process tree has {} processes, more than the limit of {}", r.processes.size(), limits.maxVectorItems));
    }
    if (r.processes.front().pid != r.rootPid) {
        return fail(std::format("process tree: root pid {} is not the first process (first is {})", r.rootPid, r.processes.front().pid));
    }
    std::set<int32_t> pids, tids;
    for (const ProcessEntry &p : r.processes) {
        if (!validPid(p.pid)) {
            return fail(std::format("process tree: pid {} out of range 1..{}", p.pid, kMaxPid));
        }
        if (p.ppid < 0 || p.ppid > kMaxPid || p.pgid < 0 || p.pgid > kMaxPid || p.sid < 0 || p.sid > kMaxPid) {
            return fail(std::format("process tree: pid {}: ppid {}, pgid {} or sid {} out of range", p.pid, p.ppid, p.pgid, p.sid));
        }
        if (p.pid != r.rootPid && !pids.contains(p.ppid)) {
            return fail(std::format("process tree: pid {} comes before its parent {} (or its parent is not in the tree)", p.pid, p.ppid));
        }
        if (!pids.insert(p.pid).second) {
            return fail(std::format("process tree: pid {} appears twice", p.pid));
        }
        if (p.tids.empty() || p.tids.front() != p.pid) {
            return fail(std::format("process tree: pid {}: the first tid must be the pid itself", p.pid));
        }
        if (p.zombie && (p.tids.size() != 1 || p.pid == r.rootPid)) {
            return fail(std::format("process tree: zombie {} must have one thread and a parent in the tree", p.pid));
        }
        if (!p.zombie && p.exitStatus != 0) {
            return fail(std::format("process tree: pid {} has an exit status but is no zombie", p.pid));
        }
        if (p.filesOf != 0 && (p.zombie || p.filesOf == p.pid || !pids.contains(p.filesOf))) {
            return fail(std::format("process tree: pid {} shares the fd table of {}, which is no earlier process of the tree", p.pid, p.filesOf));
        }
        if (p.vmOf != 0 && (p.zombie || p.vmOf == p.pid || !pids.contains(p.vmOf))) {
            return fail(std::format("process tree: pid {} shares the address space of {}, which is no earlier process of the tree", p.pid, p.vmOf));
        }
        if (p.zombie && (p.exitStatus & ~0xff7f) != 0) {
            return fail(std::format("process tree: zombie {}: invalid exit status {:#x}", p.pid, p.exitStatus));
        }
        if (p.tids.size() > limits.maxVectorItems) {
            return fail(std::format("process tree: pid {} has {} threads, more than the limit", p.pid, p.tids.size()));
        }
        for (int32_t tid : p.tids) {
            if (!validPid(tid)) {
                return fail(std::format("process tree: pid {}: tid {} out of range 1..{}", p.pid, tid, kMaxPid));
            }
            if (!tids.insert(tid).second) {
                return fail(std::format("process tree: tid {} appears twice", tid));
            }
        }
    }
    return {};
}

Result<void> ImageValidator::check(const TaskRecord &r)
{
    const std::string what = std::format("task {}", r.pid);
    if (!validPid(r.pid)) {
        return fail(std::format("{}: pid out of range 1..{}", what, kMaxPid));
    }
    if (r.comm.size() > kMaxCommBytes || r.comm.find('\0') != std::string::npos) {
        return fail(std::format("{}: comm is {} bytes, at most {} without NUL", what, r.comm.size(), kMaxCommBytes));
    }
    CRYOPOD_PROPAGATE(checkPath(r.exePath, what + ": exePath", true));
    CRYOPOD_PROPAGATE(checkPath(r.cwd, what + ": cwd", false));
    CRYOPOD_PROPAGATE(checkPath(r.root, what + ": root", false));
    for (const std::string *s : {&r.exePath, &r.cwd, &r.root}) {
        if (s->find('\0') != std::string::npos) {
            return fail(what + ": path contains a NUL byte");
        }
    }
    if (r.umask > 0777) {
        return fail(std::format("{}: umask {:#o} has bits outside 0777", what, r.umask));
    }
    for (size_t i = 0; i < r.rlimits.size(); ++i) {
        if (r.rlimits[i].cur > r.rlimits[i].max) {
            return fail(std::format("{}: rlimit {}: soft limit {} above hard limit {}", what, i, r.rlimits[i].cur, r.rlimits[i].max));
        }
    }
    if (r.exitSignal < 0 || r.exitSignal > 64) {
        return fail(std::format("{}: exit signal {} out of range 0..64", what, r.exitSignal));
    }
    return {};
}

Result<void> ImageValidator::check(const ThreadRecord &r)
{
    const std::string what = std::format("thread {} of pid {}", r.tid, r.pid);
    if (!validPid(r.pid) || !validPid(r.tid)) {
        return fail(std::format("{}: pid or tid out of range 1..{}", what, kMaxPid));
    }
    if (r.name.size() > kMaxCommBytes || r.name.find('\0') != std::string::npos) {
        return fail(std::format("{}: name is {} bytes, at most {} without NUL", what, r.name.size(), kMaxCommBytes));
    }
    if (!r.fpregs.empty() && r.fpregs.size() != kFpregsBytes) {
        return fail(std::format("{}: fpregs is {} bytes, must be {} or empty", what, r.fpregs.size(), kFpregsBytes));
    }
    if (!r.xstate.empty() && (r.xstate.size() < 576 || r.xstate.size() > kMaxXstateBytes)) {
        return fail(std::format("{}: xstate is {} bytes, must be empty or 576..{}", what, r.xstate.size(), kMaxXstateBytes));
    }
    if ((r.altstackFlags & ~(kSsOnStack | kSsDisable | kSsAutoDisarm)) != 0) {
        return fail(std::format("{}: unknown sigaltstack flags {}", what, hex(r.altstackFlags)));
    }
    CRYOPOD_PROPAGATE(checkPending(r.pending, what));
    if (r.rseqSize == 0) {
        if (r.rseqAddr != 0 || r.rseqFlags != 0 || r.rseqSignature != 0) {
            return fail(what + ": rseq fields set without an rseq size");
        }
    } else {
        // The kernel wants at least the original 32-byte struct rseq, 32-byte aligned.
        if (r.rseqSize < 32 || r.rseqSize > 4096 || (r.rseqAddr & 31) != 0 || r.rseqAddr == 0) {
            return fail(std::format("{}: rseq area {} of {} bytes is not a valid registration", what, hex(r.rseqAddr), r.rseqSize));
        }
        if (r.rseqFlags != 0) {
            return fail(std::format("{}: unknown rseq flags {}", what, hex(r.rseqFlags)));
        }
    }
    // The kernel accepts exactly sizeof(struct robust_list_head) (24 on
    // x86-64) and reports that size even for a thread without a list.
    if (r.robustListLen != 0 && r.robustListLen != kRobustListHeadBytes) {
        return fail(std::format("{}: robust list length {}, must be {}", what, r.robustListLen, kRobustListHeadBytes));
    }
    if (r.robustListHead != 0 && r.robustListLen == 0) {
        return fail(std::format("{}: robust list {} without a length", what, hex(r.robustListHead)));
    }
    if (r.seccompMode > kSeccompModeFilter) {
        return fail(std::format("{}: unknown seccomp mode {}", what, r.seccompMode));
    }
    if ((r.seccompMode == kSeccompModeFilter) != !r.seccompFilters.empty()) {
        return fail(std::format("{}: seccomp mode {} with {} filters (filter mode needs at least one, other modes none)", what, r.seccompMode,
                                r.seccompFilters.size()));
    }
    for (size_t i = 0; i < r.seccompFilters.size(); ++i) {
        const SeccompFilter &f = r.seccompFilters[i];
        if ((f.flags & ~kSeccompFilterFlagLog) != 0) {
            return fail(std::format("{}: seccomp filter {} has unknown flags {}", what, i, hex(f.flags)));
        }
        if (f.program.empty() || f.program.size() % 8 != 0 || f.program.size() > size_t(kMaxSeccompInstructions) * 8) {
            return fail(
                std::format("{}: seccomp filter {} is {} bytes, must be 1..{} instructions of 8 bytes", what, i, f.program.size(), kMaxSeccompInstructions));
        }
    }
    return {};
}

Result<void> ImageValidator::check(const CredsRecord &r)
{
    const std::string what = std::format("credentials of pid {}", r.pid);
    if (!validPid(r.pid)) {
        return fail(std::format("{}: pid out of range 1..{}", what, kMaxPid));
    }
    if (r.groups.size() > 65536) {
        return fail(std::format("{}: {} supplementary groups, more than NGROUPS_MAX (65536)", what, r.groups.size()));
    }
    const std::pair<const char *, uint64_t> sets[] = {{"inheritable", r.capInheritable},
                                                      {"permitted", r.capPermitted},
                                                      {"effective", r.capEffective},
                                                      {"bounding", r.capBounding},
                                                      {"ambient", r.capAmbient}};
    for (const auto &[name, set] : sets) {
        if ((set & ~kValidCapabilities) != 0) {
            return fail(std::format("{}: {} capability set {} has bits above CAP_CHECKPOINT_RESTORE ({})", what, name, hex(set), kLastCapability));
        }
    }
    if ((r.capEffective & ~r.capPermitted) != 0) {
        return fail(std::format("{}: effective capabilities {} are not a subset of permitted {}", what, hex(r.capEffective), hex(r.capPermitted)));
    }
    if ((r.capAmbient & ~(r.capPermitted & r.capInheritable)) != 0) {
        return fail(std::format("{}: ambient capabilities {} are not a subset of permitted and inheritable", what, hex(r.capAmbient)));
    }
    if ((r.securebits & ~kKnownSecurebits) != 0) {
        return fail(std::format("{}: unknown securebits {}", what, hex(r.securebits)));
    }
    return {};
}

Result<void> ImageValidator::check(const SignalsRecord &r)
{
    const std::string what = std::format("signals of pid {}", r.pid);
    if (!validPid(r.pid)) {
        return fail(std::format("{}: pid out of range 1..{}", what, kMaxPid));
    }
    uint32_t last = 0;
    for (const SigactionEntry &a : r.actions) {
        if (a.signo < 1 || a.signo > 64) {
            return fail(std::format("{}: signal number {} out of range 1..64", what, a.signo));
        }
        if (a.signo == 9 || a.signo == 19) {
            return fail(std::format("{}: signal {} (SIGKILL/SIGSTOP) cannot have a disposition", what, a.signo));
        }
        if (a.signo <= last) {
            return fail(std::format("{}: signal {} is out of order or repeated", what, a.signo));
        }
        last = a.signo;
        if ((a.flags & ~kKnownSaFlags) != 0) {
            return fail(std::format("{}: signal {}: unknown SA_ flags {}", what, a.signo, hex(a.flags & ~kKnownSaFlags)));
        }
    }
    CRYOPOD_PROPAGATE(checkPending(r.pending, what));
    return {};
}

Result<void> ImageValidator::check(const MmRecord &r, uint32_t pageSize, const ReaderLimits &limits)
{
    const std::string what = std::format("mm of pid {}", r.pid);
    if (!validPid(r.pid)) {
        return fail(std::format("{}: pid out of range 1..{}", what, kMaxPid));
    }
    const std::tuple<const char *, uint64_t, uint64_t> bounds[] = {{"code", r.startCode, r.endCode},
                                                                   {"data", r.startData, r.endData},
                                                                   {"brk", r.startBrk, r.brk},
                                                                   {"arg", r.argStart, r.argEnd},
                                                                   {"env", r.envStart, r.envEnd}};
    for (const auto &[name, begin, end] : bounds) {
        if (begin > end) {
            return fail(std::format("{}: {} start {} is above its end {}", what, name, hex(begin), hex(end)));
        }
    }
    if (r.auxv.size() % 2 != 0 || r.auxv.size() > 1024) {
        return fail(std::format("{}: auxv has {} values, must be an even number of at most 1024", what, r.auxv.size()));
    }
    if (!r.auxv.empty() && r.auxv[r.auxv.size() - 2] != 0) {
        return fail(what + ": auxv does not end with AT_NULL");
    }
    CRYOPOD_PROPAGATE(checkPath(r.exePath, what + ": exePath", true));
    if (r.vmas.size() > limits.maxVectorItems) {
        return fail(std::format("{}: {} VMAs, more than the limit of {}", what, r.vmas.size(), limits.maxVectorItems));
    }
    const uint64_t pageMask = uint64_t(pageSize) - 1;
    uint64_t previousEnd = 0;
    for (size_t i = 0; i < r.vmas.size(); ++i) {
        const VmaRecord &v = r.vmas[i];
        const std::string vma = std::format("{}: VMA {}-{}", what, hex(v.start), hex(v.end));
        if (v.start >= v.end) {
            return fail(vma + ": start is not below end");
        }
        if ((v.start & pageMask) != 0 || (v.end & pageMask) != 0) {
            return fail(vma + ": not page aligned");
        }
        if (i > 0 && v.start < previousEnd) {
            return fail(std::format("{}: overlaps or is out of order (previous VMA ends at {})", vma, hex(previousEnd)));
        }
        previousEnd = v.end;
        if ((v.prot & ~(kVmaRead | kVmaWrite | kVmaExec)) != 0) {
            return fail(std::format("{}: unknown protection bits {}", vma, hex(v.prot)));
        }
        if ((v.flags & ~(kVmaGrowsDown | kVmaLocked | kVmaDontFork | kVmaWipeOnFork | kVmaMayWrite)) != 0) {
            return fail(std::format("{}: unknown flag bits {}", vma, hex(v.flags)));
        }
        if (uint32_t(v.kind) > uint32_t(VmaKind::Vsyscall)) {
            return fail(std::format("{}: unknown kind {}", vma, uint32_t(v.kind)));
        }
        if (v.path.find('\0') != std::string::npos || v.path.size() > kMaxPathBytes) {
            return fail(vma + ": path too long or contains a NUL byte");
        }
        if (vmaIsFile(v.kind)) {
            CRYOPOD_PROPAGATE(checkPath(v.path, vma + ": file path", false));
            if ((v.pgoff & pageMask) != 0) {
                return fail(std::format("{}: file offset {} is not page aligned", vma, hex(v.pgoff)));
            }
        }
        if (v.kind == VmaKind::SharedAnonymous ? v.shm == 0 : (v.shm != 0 && v.kind != VmaKind::FileShared && v.kind != VmaKind::FilePrivate)) {
            return fail(vma + (v.shm != 0 ? ": names a shared memory object but is no shared VMA" : ": shared anonymous VMA without its shared memory object"));
        }
        if (v.kind == VmaKind::SharedAnonymous && (v.pgoff & pageMask) != 0) {
            return fail(std::format("{}: offset {} in its shared memory object is not page aligned", vma, hex(v.pgoff)));
        }
    }
    return {};
}

Result<void> ImageValidator::check(const FilesRecord &r, const ReaderLimits &limits)
{
    const std::string what = std::format("files of pid {}", r.pid);
    if (!validPid(r.pid)) {
        return fail(std::format("{}: pid out of range 1..{}", what, kMaxPid));
    }
    if (r.fds.size() > limits.maxVectorItems) {
        return fail(std::format("{}: {} fds, more than the limit of {}", what, r.fds.size(), limits.maxVectorItems));
    }
    int32_t previous = -1;
    for (const FdRecord &f : r.fds) {
        const std::string fd = std::format("{}: fd {}", what, f.fd);
        if (f.fd < 0) {
            return fail(fd + ": negative fd");
        }
        if (f.fd <= previous) {
            return fail(fd + ": out of order or repeated");
        }
        previous = f.fd;
        if (f.path.find('\0') != std::string::npos) {
            return fail(fd + ": path contains a NUL byte");
        }
        uint32_t expectedType = 0;
        bool byPath = true; // reopened by its path
        std::optional<FileObjectKind> objectKind;
        switch (f.kind) {
        case FdKind::Regular:
            expectedType = S_IFREG;
            break;
        case FdKind::Directory:
            expectedType = S_IFDIR;
            break;
        case FdKind::CharDevice:
            expectedType = S_IFCHR;
            break;
        case FdKind::Terminal:
            expectedType = S_IFCHR;
            break;
        case FdKind::Fifo:
            expectedType = S_IFIFO;
            objectKind = FileObjectKind::Fifo;
            break;
        case FdKind::Pipe:
            expectedType = S_IFIFO;
            objectKind = FileObjectKind::Pipe;
            byPath = false;
            break;
        case FdKind::UnixSocket:
            expectedType = S_IFSOCK;
            objectKind = FileObjectKind::UnixSocket;
            byPath = false;
            break;
        case FdKind::InetSocket:
            expectedType = S_IFSOCK;
            objectKind = FileObjectKind::InetSocket;
            byPath = false;
            break;
        case FdKind::EventFd:
        case FdKind::TimerFd:
        case FdKind::SignalFd:
        case FdKind::Epoll:
        case FdKind::Inotify:
            objectKind = fileObjectKindOf(f.kind);
            byPath = false;
            break;
        case FdKind::Memfd:
            // Names its SharedMemoryRecord (checked in accept()).
            expectedType = S_IFREG;
            byPath = false;
            if (f.object == 0 || f.unlinked) {
                return fail(fd + ": a memfd without its shared memory object, or marked unlinked");
            }
            break;
        case FdKind::ProcFile:
            if ((f.mode & S_IFMT) != S_IFREG && (f.mode & S_IFMT) != S_IFDIR) {
                return fail(std::format("{}: mode {:#o} is neither a file nor a directory of /proc", fd, f.mode));
            }
            if (!f.path.starts_with("/proc/") || (f.openFlags & kOAccMode) != 0) {
                return fail(fd + ": a file of /proc outside /proc, or not read-only");
            }
            break;
        default:
            return fail(std::format("{}: unknown kind {}", fd, uint32_t(f.kind)));
        }
        if (byPath) {
            CRYOPOD_PROPAGATE(checkPath(f.path, fd + ": path", false));
        } else if (f.path.size() > kMaxPathBytes) {
            return fail(std::format("{}: name is {} bytes long, more than {}", fd, f.path.size(), kMaxPathBytes));
        }
        if (expectedType != 0 && (f.mode & S_IFMT) != expectedType) {
            return fail(std::format("{}: mode {:#o} does not match its kind", fd, f.mode));
        }
        if (f.kind != FdKind::Memfd && objectKind.has_value() != (f.object != 0)) {
            return fail(objectKind ? fd + ": names no file object" : std::format("{}: a file of its kind names no file object, but names {}", fd, f.object));
        }
        if ((f.openFlags & kOCloexec) != 0) {
            return fail(fd + ": O_CLOEXEC belongs in cloexec, not in openFlags");
        }
        if ((f.openFlags & kOAccMode) == kOAccMode) {
            return fail(std::format("{}: invalid access mode in open flags {:#o}", fd, f.openFlags));
        }
        if (f.unlinked && f.kind != FdKind::Regular) {
            return fail(fd + ": only regular files can be marked unlinked");
        }
        if (f.sharedPid != 0 && (f.dupOf != -1 || f.sharedPid == r.pid || !validPid(f.sharedPid) || f.sharedFd < 0)) {
            return fail(std::format("{}: shares the open file of fd {} of pid {}: invalid (or also a dup)", fd, f.sharedFd, f.sharedPid));
        }
        if (f.sharedPid == 0 && f.sharedFd != -1) {
            return fail(std::format("{}: names a shared fd {} without its process", fd, f.sharedFd));
        }
        if (f.dupOf != -1) {
            // Shares the open file description of a lower fd that owns one.
            // The fds before this one are known to ascend: binary search.
            const auto before = r.fds.begin() + (&f - r.fds.data());
            const auto owner = std::lower_bound(r.fds.begin(), before, f.dupOf, [](const FdRecord &o, int32_t fdNumber) {
                return o.fd < fdNumber;
            });
            if (f.dupOf < 0 || f.dupOf >= f.fd || owner == before || owner->fd != f.dupOf) {
                return fail(std::format("{}: shares the open file of fd {}, which is not a lower fd of the process", fd, f.dupOf));
            }
            if (owner->dupOf != -1) {
                return fail(std::format("{}: shares the open file of fd {}, which itself shares one (must name the owner)", fd, f.dupOf));
            }
            if (owner->kind != f.kind || owner->dev != f.dev || owner->ino != f.ino || owner->unlinked != f.unlinked || owner->object != f.object) {
                return fail(std::format("{}: shares the open file of fd {}, but describes another file", fd, f.dupOf));
            }
        }
    }
    if (r.locks.size() > limits.maxVectorItems) {
        return fail(std::format("{}: {} file locks, more than the limit of {}", what, r.locks.size(), limits.maxVectorItems));
    }
    for (const FileLock &l : r.locks) {
        const std::string lock = std::format("{}: lock through fd {}", what, l.fd);
        const auto holder = std::lower_bound(r.fds.begin(), r.fds.end(), l.fd, [](const FdRecord &o, int32_t fdNumber) { return o.fd < fdNumber; });
        if (holder == r.fds.end() || holder->fd != l.fd) {
            return fail(lock + ": the process has no such fd");
        }
        if (l.kind != FileLockKind::Flock && l.kind != FileLockKind::Posix && l.kind != FileLockKind::Ofd) {
            return fail(std::format("{}: unknown lock kind {}", lock, uint32_t(l.kind)));
        }
        if (holder->kind != FdKind::Regular && holder->kind != FdKind::Directory) {
            return fail(lock + ": locks are restored on regular files and directories only");
        }
        if (l.start > l.end || (l.kind == FileLockKind::Flock && (l.start != 0 || l.end != UINT64_MAX)) ||
            (l.end != UINT64_MAX && l.end > uint64_t(INT64_MAX))) {
            return fail(std::format("{}: invalid range {}..{}", lock, l.start, l.end));
        }
    }
    return {};
}

namespace
{

// Whether any field of an established TCP connection (format 7) is set.
bool hasTcpConnectionFields(const FileObjectRecord &r)
{
    return r.tcpSendSeq != 0 || r.tcpRecvSeq != 0 || !r.tcpSendQueue.empty() || r.tcpUnsent != 0 || !r.tcpRecvQueue.empty() || r.tcpMss != 0
        || r.tcpOptions != 0 || r.tcpSndWscale != 0 || r.tcpRcvWscale != 0 || r.tcpTimestamp != 0 || r.tcpSndWl1 != 0 || r.tcpSndWnd != 0
        || r.tcpMaxWindow != 0 || r.tcpRcvWnd != 0 || r.tcpRcvWup != 0;
}

// The fields of an InetSocket object: a TCP stream or UDP datagram socket of
// either family whose addresses have that family's length, in a state its
// protocol can be restored in.
Result<void> checkInetSocket(const FileObjectRecord &r, const std::string &what)
{
    if (r.family != 2 && r.family != 10) {
        return fail(std::format("{}: family {} is neither AF_INET nor AF_INET6", what, r.family));
    }
    const bool tcp = r.protocol == 6 && r.socketType == 1;
    const bool udp = r.protocol == 17 && r.socketType == 2;
    if (!tcp && !udp) {
        return fail(std::format("{}: protocol {} with socket type {} is neither TCP stream nor UDP datagram", what, r.protocol, r.socketType));
    }
    const size_t addressBytes = r.family == 2 ? 4 : 16;
    const bool bound = r.inetState != InetState::Unbound;
    switch (r.inetState) {
    case InetState::Unbound:
    case InetState::Bound:
        break;
    case InetState::Listening:
        if (!tcp) {
            return fail(what + ": only a TCP socket can listen");
        }
        break;
    case InetState::Connected:
        if (!udp) {
            return fail(what + ": only a UDP socket is restored connected (a TCP connection is Established)");
        }
        break;
    case InetState::Established:
        if (!tcp) {
            return fail(what + ": only a TCP socket is an established connection");
        }
        break;
    default:
        return fail(std::format("{}: unknown state {}", what, uint32_t(r.inetState)));
    }
    if (r.localAddress.size() != (bound ? addressBytes : 0) || r.localPort > 65535 || (!bound && r.localPort != 0)) {
        return fail(std::format("{}: local address of {} bytes, port {}, for its state and family", what, r.localAddress.size(), r.localPort));
    }
    const bool connected = r.inetState == InetState::Connected || r.inetState == InetState::Established;
    if (r.peerAddress.size() != (connected ? addressBytes : 0) || r.peerPort > 65535 || (!connected && r.peerPort != 0) || (connected && r.peerPort == 0)) {
        return fail(std::format("{}: peer address of {} bytes, port {}, for its state and family", what, r.peerAddress.size(), r.peerPort));
    }
    if (r.inetState != InetState::Listening && r.backlog != 0) {
        return fail(what + ": a backlog on a socket that does not listen");
    }
    if ((r.socketOptions & ~kSockOptionsKnown) != 0 || (r.family == 2 && (r.socketOptions & kSockV6Only)) || (!tcp && (r.socketOptions & kSockNoDelay))) {
        return fail(std::format("{}: options {:#x} unknown or not for its family and protocol", what, r.socketOptions));
    }
    if (r.inetState != InetState::Established) {
        if (hasTcpConnectionFields(r)) {
            return fail(what + ": TCP connection fields set on a socket that is no established connection");
        }
        return {};
    }
    if (r.localPort == 0 || r.tcpUnsent > r.tcpSendQueue.size() || r.tcpSendQueue.size() + r.tcpRecvQueue.size() > kMaxPipeDataBytes) {
        return fail(std::format("{}: a TCP connection from port {} with {} bytes to send ({} of them unsent) and {} received", what, r.localPort,
                                r.tcpSendQueue.size(), r.tcpUnsent, r.tcpRecvQueue.size()));
    }
    if (r.sndbuf > (1u << 30) || r.rcvbuf > (1u << 30)) {
        return fail(std::format("{}: a TCP connection with buffers of {} and {} bytes, more than 1 GiB", what, r.sndbuf, r.rcvbuf));
    }
    if ((r.tcpOptions & ~kTcpOptionsKnown) != 0 || r.tcpMss == 0 || r.tcpMss > 65535 ||
        (!(r.tcpOptions & kTcpOptWscale) && (r.tcpSndWscale != 0 || r.tcpRcvWscale != 0)) || r.tcpSndWscale > 14 || r.tcpRcvWscale > 14) {
        return fail(std::format("{}: TCP options {:#x}, MSS {}, window scales {}/{} out of range", what, r.tcpOptions, r.tcpMss, r.tcpSndWscale,
                                r.tcpRcvWscale));
    }
    return {};
}

} // namespace

Result<void> ImageValidator::check(const FileObjectRecord &r, const ReaderLimits &limits)
{
    const std::string what = std::format("file object {}", r.id);
    if (r.id == 0) {
        return fail("file object with id 0");
    }
    if (!validPid(r.ownerPid)) {
        return fail(std::format("{}: owner pid out of range 1..{}", what, kMaxPid));
    }
    const bool isPipe = r.kind == FileObjectKind::Pipe || r.kind == FileObjectKind::Fifo;
    const bool isTimer = r.kind == FileObjectKind::TimerFd;
    switch (r.kind) {
    case FileObjectKind::Pipe:
    case FileObjectKind::Fifo:
    case FileObjectKind::EventFd:
    case FileObjectKind::TimerFd:
    case FileObjectKind::SignalFd:
    case FileObjectKind::Epoll:
    case FileObjectKind::UnixSocket:
    case FileObjectKind::InetSocket:
    case FileObjectKind::Inotify:
        break;
    default:
        return fail(std::format("{}: unknown kind {}", what, uint32_t(r.kind)));
    }
    const bool isSocket = r.kind == FileObjectKind::UnixSocket || r.kind == FileObjectKind::InetSocket;
    if (!isSocket && (r.socketType != 0 || r.sndbuf != 0 || r.rcvbuf != 0)) {
        return fail(what + ": socket fields set on an object that is no socket");
    }
    if (r.kind != FileObjectKind::UnixSocket &&
        (r.peer != 0 || r.shutdown != 0 || r.passcred || !r.messages.empty() || r.unixState != 0 || !r.unixName.empty())) {
        return fail(what + ": unix socket fields set on an object that is no unix socket");
    }
    if (r.kind == FileObjectKind::UnixSocket) {
        if (r.unixState > 2) {
            return fail(std::format("{}: unknown unix socket state {}", what, r.unixState));
        }
        if (r.unixState != 0 && (r.peer != 0 || r.shutdown != 0 || !r.messages.empty())) {
            return fail(what + ": a unix socket that is no pair with a peer, a shutdown state or a queue");
        }
        if ((r.unixState == 2 && r.unixName.empty()) || (r.unixState == 0 && !r.unixName.empty()) || (r.unixState != 2 && r.backlog != 0)) {
            return fail(what + ": a unix socket's name or backlog does not fit its state");
        }
        if (!r.unixName.empty() && !r.unixName.starts_with("@")) {
            CRYOPOD_PROPAGATE(checkPath(r.unixName, what + ": bound to", false));
        }
        if (r.unixName.size() > 107) {
            return fail(what + ": a unix socket name longer than 107 bytes");
        }
    }
    if (r.kind != FileObjectKind::InetSocket &&
        (r.family != 0 || r.protocol != 0 || r.inetState != InetState::Unbound || !r.localAddress.empty() || r.localPort != 0 || !r.peerAddress.empty() ||
         r.peerPort != 0 || (r.backlog != 0 && r.kind != FileObjectKind::UnixSocket) || r.socketOptions != 0 || hasTcpConnectionFields(r))) {
        return fail(what + ": inet socket fields set on an object that is no inet socket");
    }
    if (r.kind == FileObjectKind::InetSocket) {
        CRYOPOD_PROPAGATE(checkInetSocket(r, what));
    }
    if (r.kind != FileObjectKind::Inotify && !r.watches.empty()) {
        return fail(what + ": inotify watches on an object that is no inotify instance");
    }
    if (r.watches.size() > limits.maxVectorItems) {
        return fail(std::format("{}: {} inotify watches, more than the limit", what, r.watches.size()));
    }
    int32_t previousWd = 0;
    for (const InotifyWatch &w : r.watches) {
        if (w.wd <= previousWd) {
            return fail(std::format("{}: inotify watch {} out of order, repeated or below 1", what, w.wd));
        }
        previousWd = w.wd;
        CRYOPOD_PROPAGATE(checkPath(w.path, std::format("{}: inotify watch {}", what, w.wd), false));
        if (w.mask == 0) {
            return fail(std::format("{}: inotify watch {} with an empty mask", what, w.wd));
        }
    }
    if (r.kind == FileObjectKind::UnixSocket) {
        if (r.socketType != 1 && r.socketType != 2 && r.socketType != 5) {
            return fail(std::format("{}: socket type {} is not stream, datagram or seqpacket", what, r.socketType));
        }
        if (r.peer == r.id) {
            return fail(what + ": a socket that is its own peer");
        }
        if ((r.shutdown & ~3u) != 0) {
            return fail(std::format("{}: unknown shutdown bits {:#x}", what, r.shutdown));
        }
        uint64_t queued = 0;
        for (const std::vector<uint8_t> &m : r.messages) {
            queued += m.size();
        }
        if (queued > kMaxPipeDataBytes || r.messages.size() > limits.maxVectorItems) {
            return fail(std::format("{}: {} bytes in {} messages queued, more than the limits", what, queued, r.messages.size()));
        }
    }
    // Fields of the other kinds stay empty: a reader never has to guess.
    if (!isPipe && (r.ino != 0 || r.pipeSize != 0 || !r.data.empty())) {
        return fail(what + ": pipe fields set on an object that is no pipe");
    }
    if (r.kind != FileObjectKind::EventFd && (r.count != 0 || r.semaphore)) {
        return fail(what + ": eventfd fields set on an object that is no eventfd");
    }
    if (!isTimer && (r.clockId != 0 || r.settimeFlags != 0 || r.ticks != 0 || r.valueNs != 0 || r.intervalNs != 0 || r.deadlineNs != 0)) {
        return fail(what + ": timerfd fields set on an object that is no timerfd");
    }
    if (r.kind != FileObjectKind::SignalFd && r.sigmask != 0) {
        return fail(what + ": a signal mask on an object that is no signalfd");
    }
    if (r.kind != FileObjectKind::Epoll && !r.targets.empty()) {
        return fail(what + ": epoll registrations on an object that is no epoll set");
    }
    if (isPipe) {
        if (r.pipeSize < 4096 || (r.pipeSize & (r.pipeSize - 1)) != 0) {
            return fail(std::format("{}: pipe size {} is not a power of two of at least one page", what, r.pipeSize));
        }
        if (r.data.size() > r.pipeSize || r.data.size() > kMaxPipeDataBytes) {
            return fail(std::format("{}: {} bytes queued in a pipe of {} bytes", what, r.data.size(), r.pipeSize));
        }
    }
    if (r.kind == FileObjectKind::EventFd && r.count == ~uint64_t(0)) {
        return fail(what + ": eventfd count 0xffffffffffffffff is not a value an eventfd can hold");
    }
    if (isTimer) {
        constexpr int32_t kClocks[] = {0 /* REALTIME */, 1 /* MONOTONIC */, 7 /* BOOTTIME */, 8 /* REALTIME_ALARM */, 9 /* BOOTTIME_ALARM */};
        if (std::find(std::begin(kClocks), std::end(kClocks), r.clockId) == std::end(kClocks)) {
            return fail(std::format("{}: clock {} is not one a timerfd can use", what, r.clockId));
        }
        if ((r.settimeFlags & ~3u) != 0) {
            return fail(std::format("{}: unknown timerfd_settime flags {:#x}", what, r.settimeFlags));
        }
        if ((r.valueNs == 0) != (r.deadlineNs == 0)) {
            return fail(what + ": a timer armed without a deadline, or disarmed with one");
        }
    }
    if (r.targets.size() > limits.maxVectorItems) {
        return fail(std::format("{}: {} epoll registrations, more than the limit of {}", what, r.targets.size(), limits.maxVectorItems));
    }
    for (const EpollTarget &t : r.targets) {
        if (t.fd < 0) {
            return fail(std::format("{}: epoll registration of negative fd {}", what, t.fd));
        }
    }
    return {};
}

// A pseudo-terminal slave: Unix98 pty slave majors 136..143.
static bool isPtySlave(uint64_t rdev)
{
    const unsigned maj = unsigned(((rdev >> 32) & 0xfffff000u) | ((rdev >> 8) & 0xfffu));
    return maj >= 136 && maj <= 143;
}

Result<void> ImageValidator::check(const TerminalRecord &r)
{
    const std::string what = std::format("terminal {}", r.path);
    if (!isPtySlave(r.rdev)) {
        return fail(std::format("{}: device {:#x} is not a pseudo-terminal slave", what, r.rdev));
    }
    const std::string_view number = std::string_view(r.path).substr(std::min(r.path.size(), size_t(9)));
    if (!r.path.starts_with("/dev/pts/") || number.empty() || number.size() > 10 || number.find_first_not_of("0123456789") != std::string_view::npos) {
        return fail(what + ": not a /dev/pts/N path");
    }
    if (r.cc.size() != kTermiosCcBytes) {
        return fail(std::format("{}: {} control characters, not {}", what, r.cc.size(), kTermiosCcBytes));
    }
    if (r.rows > 0xffff || r.cols > 0xffff || r.xpixel > 0xffff || r.ypixel > 0xffff) {
        return fail(what + ": window size out of range");
    }
    if (r.line > 0xff) {
        return fail(std::format("{}: line discipline {} out of range", what, r.line));
    }
    if (r.sid < 0 || r.sid > kMaxPid || r.foregroundPgrp < 0 || r.foregroundPgrp > kMaxPid || (r.sid == 0 && r.foregroundPgrp != 0)) {
        return fail(std::format("{}: session {} / foreground group {} invalid", what, r.sid, r.foregroundPgrp));
    }
    return {};
}

Result<void> ImageValidator::check(const SharedMemoryRecord &r, const ReaderLimits &limits)
{
    const std::string what = std::format("shared memory object {}", r.id);
    if (r.id == 0) {
        return fail("shared memory object with id 0");
    }
    if (r.kind != SharedMemoryKind::Anonymous && r.kind != SharedMemoryKind::DeletedFile && r.kind != SharedMemoryKind::Memfd && r.kind != SharedMemoryKind::SysvShm) {
        return fail(std::format("{}: unknown kind {}", what, uint32_t(r.kind)));
    }
    constexpr uint32_t kSealsKnown = 0x3f; // F_SEAL_SEAL ... F_SEAL_EXEC
    if (r.kind == SharedMemoryKind::Memfd ? (r.seals & ~kSealsKnown) != 0 : r.seals != 0) {
        return fail(std::format("{}: seals {:#x} unknown, or set on an object that is no memfd", what, r.seals));
    }
    if (r.kind == SharedMemoryKind::Anonymous) {
        // 4 KiB alignment at least (the page size is checked in accept()).
        if (r.size == 0 || (r.size & 4095) != 0 || r.size > (uint64_t(1) << 47) || !r.path.empty() || r.mode != 0) {
            return fail(std::format("{}: size {} is not a multiple of 4096 in 1..2^47, or a path or mode is set", what, r.size));
        }
    } else if (r.kind == SharedMemoryKind::SysvShm) {
        // Named by its SysvIpcRecord; the segment's size, up to SHMMAX's range.
        if (r.size == 0 || r.size > (uint64_t(1) << 47) || !r.path.empty() || r.mode != 0 || r.ino > uint64_t(std::numeric_limits<int32_t>::max())) {
            return fail(std::format("{}: SysV segment {} of size {} (0 or above 2^47), or a path or mode is set", what, r.ino, r.size));
        }
    } else if (r.kind == SharedMemoryKind::Memfd) {
        // memfd_create's name: at most 249 bytes, no NUL, no slash needed.
        if (r.path.size() > 249 || r.path.find('\0') != std::string::npos || r.size > (uint64_t(1) << 47) || (r.mode & ~07777u) != 0) {
            return fail(std::format("{}: memfd name of {} bytes (or with a NUL byte), size {} above 2^47 or mode {:o} beyond the permission bits", what,
                                    r.path.size(), r.size, r.mode));
        }
    } else {
        CRYOPOD_PROPAGATE(checkPath(r.path, what + ": path", false));
        if (r.size > (uint64_t(1) << 47) || (r.mode & ~07777u) != 0) {
            return fail(std::format("{}: size {} above 2^47 or mode {:o} beyond the permission bits", what, r.size, r.mode));
        }
    }
    const uint64_t pagedSize = (r.size + 4095) / 4096 * 4096;
    if (r.runs.size() > limits.maxVectorItems || r.data.size() > kMaxSharedMemoryBytes) {
        return fail(std::format("{}: {} runs, {} bytes: more than the limits", what, r.runs.size(), r.data.size()));
    }
    uint64_t previousEnd = 0;
    for (const PageRun &run : r.runs) {
        if (run.pages == 0 || (run.vaddr & 4095) != 0 || run.vaddr < previousEnd || run.vaddr >= pagedSize || uint64_t(run.pages) > (pagedSize - run.vaddr) / 4096) {
            return fail(std::format("{}: run at offset {} of {} pages: empty, unaligned, out of order or outside the object", what, hex(run.vaddr), run.pages));
        }
        previousEnd = run.vaddr + uint64_t(run.pages) * 4096;
    }
    return {};
}

Result<void> ImageValidator::check(const SysvIpcRecord &r)
{
    const std::string what = std::format("SysV IPC object {}", r.id);
    if (r.kind != SysvIpcKind::Shm && r.kind != SysvIpcKind::Msg && r.kind != SysvIpcKind::Sem) {
        return fail(std::format("{}: unknown kind {}", what, uint32_t(r.kind)));
    }
    if (r.id < 0 || (r.mode & ~0777u) != 0) {
        return fail(std::format("{}: negative id, or mode {:o} beyond the permission bits", what, r.mode));
    }
    const bool shm = r.kind == SysvIpcKind::Shm, msg = r.kind == SysvIpcKind::Msg, sem = r.kind == SysvIpcKind::Sem;
    if (shm != (r.object != 0) || shm != (r.size != 0) || (!shm && r.destroyed) || (!msg && (r.qbytes != 0 || !r.messages.empty()))
        || sem == r.semValues.empty() || r.semPids.size() != r.semValues.size() || (!msg && (r.lspid != 0 || r.lrpid != 0)) || r.lspid < 0 || r.lrpid < 0) {
        return fail(std::format("{}: fields of another kind set, or its own missing (object, size, messages, semaphores)", what));
    }
    if (r.destroyed && r.key != 0) {
        return fail(std::format("{}: removed (IPC_RMID) but still with key {}", what, r.key));
    }
    uint64_t bytes = 0;
    for (const SysvMessage &m : r.messages) {
        bytes += m.text.size();
        if (m.type <= 0) {
            return fail(std::format("{}: a message of type {} (must be > 0)", what, m.type));
        }
    }
    if (r.messages.size() > kMaxSysvMessages || bytes > kMaxSysvMessageBytes || r.semValues.size() > kMaxSysvSemaphores) {
        return fail(std::format("{}: {} messages of {} bytes, or {} semaphores: more than the limits", what, r.messages.size(), bytes, r.semValues.size()));
    }
    for (const uint32_t value : r.semValues) {
        if (value > 32767) { // SEMVMX
            return fail(std::format("{}: semaphore value {} above 32767", what, value));
        }
    }
    return {};
}

Result<void> ImageValidator::check(const TimersRecord &r)
{
    if (!validPid(r.pid)) {
        return fail(std::format("timers of pid {}: pid out of range 1..{}", r.pid, kMaxPid));
    }
    // setitimer takes seconds as a time_t and refuses more than 2^63 ns.
    for (size_t i = 0; i < r.itimers.size(); ++i) {
        if (r.itimers[i].valueNs > uint64_t(INT64_MAX) || r.itimers[i].intervalNs > uint64_t(INT64_MAX)) {
            return fail(std::format("timers of pid {}: interval timer {} out of range", r.pid, i));
        }
    }
    int32_t previous = -1;
    for (const PosixTimer &t : r.posix) {
        const std::string what = std::format("timers of pid {}: POSIX timer {}", r.pid, t.id);
        if (t.id <= previous) {
            return fail(what + ": ids not ascending and unique");
        }
        previous = t.id;
        constexpr int32_t kClocks[] = {0, 1, 2, 3, 7, 8, 9, 11}; // REALTIME ... BOOTTIME_ALARM, TAI
        if (std::find(std::begin(kClocks), std::end(kClocks), t.clockId) == std::end(kClocks)) {
            return fail(std::format("{}: clock {} is not supported", what, t.clockId));
        }
        if (t.notify != 0 && t.notify != 1 && t.notify != 4) {
            return fail(std::format("{}: notification {} is not SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID", what, t.notify));
        }
        if (t.notify != 1 && (t.signo < 1 || t.signo > 64)) {
            return fail(std::format("{}: signal {} out of range 1..64", what, t.signo));
        }
        if (t.notify == 4 && !validPid(t.tid)) {
            return fail(std::format("{}: thread {} out of range", what, t.tid));
        }
        if (t.valueNs > uint64_t(INT64_MAX) || t.intervalNs > uint64_t(INT64_MAX)) {
            return fail(what + ": time out of range");
        }
    }
    return {};
}

Result<void> ImageValidator::checkPages(int32_t pid, std::span<const PageRun> runs, uint64_t dataBytes, uint32_t pageSize, const ReaderLimits &limits)
{
    const std::string what = std::format("pages of pid {}", pid);
    if (!validPid(pid)) {
        return fail(std::format("{}: pid out of range 1..{}", what, kMaxPid));
    }
    if (runs.empty()) {
        return fail(what + ": no page runs");
    }
    if (runs.size() > limits.maxVectorItems) {
        return fail(std::format("{}: {} runs, more than the limit of {}", what, runs.size(), limits.maxVectorItems));
    }
    const uint64_t pageMask = uint64_t(pageSize) - 1;
    uint64_t pages = 0;
    uint64_t previousEnd = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
        const PageRun &run = runs[i];
        if ((run.vaddr & pageMask) != 0) {
            return fail(std::format("{}: run at {} is not page aligned", what, hex(run.vaddr)));
        }
        if (run.pages == 0) {
            return fail(std::format("{}: run at {} has no pages", what, hex(run.vaddr)));
        }
        const uint64_t length = uint64_t(run.pages) * pageSize;
        if (run.vaddr + length < run.vaddr || run.vaddr + length == 0) {
            // end == 0 only when the run ends exactly at 2^64, which no VMA does
            return fail(std::format("{}: run at {} of {} pages wraps around the address space", what, hex(run.vaddr), run.pages));
        }
        if (i > 0 && run.vaddr < previousEnd) {
            return fail(std::format("{}: run at {} overlaps or is out of order (previous run ends at {})", what, hex(run.vaddr), hex(previousEnd)));
        }
        previousEnd = run.vaddr + length;
        pages += run.pages; // at most 2^24 runs of 2^32 pages: no overflow
    }
    if (pages > limits.maxSectionBytes / pageSize) {
        return fail(std::format("{}: {} pages exceed the section limit of {} bytes", what, pages, limits.maxSectionBytes));
    }
    if (dataBytes != pages * pageSize) {
        return fail(std::format("{}: {} bytes of data for {} pages of {} bytes", what, dataBytes, pages, pageSize));
    }
    return {};
}

Result<void> ImageValidator::checkFileData(int32_t pid, int32_t fd, uint64_t dataBytes, const ReaderLimits &limits)
{
    if (!validPid(pid)) {
        return fail(std::format("file data of pid {}: pid out of range 1..{}", pid, kMaxPid));
    }
    if (fd < 0) {
        return fail(std::format("file data of pid {}: negative fd {}", pid, fd));
    }
    if (dataBytes > limits.maxSectionBytes) {
        return fail(std::format("file data of pid {} fd {}: {} bytes exceed the section limit of {} bytes", pid, fd, dataBytes, limits.maxSectionBytes));
    }
    return {};
}

// ---- across records ----------------------------------------------------------------

ImageValidator::ImageValidator(const Header &header, const ReaderLimits &limits)
    : m_header(header)
    , m_limits(limits)
{
}

Result<void> ImageValidator::knownPid(int32_t pid, const char *what)
{
    if (!m_tids.contains(pid)) {
        return fail(std::format("{} record for pid {}, which is not in the process tree", what, pid));
    }
    if (m_zombies.contains(pid)) {
        return fail(std::format("{} record for pid {}, which is a zombie", what, pid));
    }
    return {};
}

Result<void> ImageValidator::once(std::set<int32_t> &seen, int32_t pid, const char *what)
{
    CRYOPOD_PROPAGATE(knownPid(pid, what));
    if (!seen.insert(pid).second) {
        return fail(std::format("second {} record for pid {}", what, pid));
    }
    return {};
}

Result<void> ImageValidator::acceptTree(const ProcessTreeRecord &r)
{
    if (m_haveTree) {
        return fail("second ProcessTree record");
    }
    m_haveTree = true;
    for (const ProcessEntry &p : r.processes) {
        m_tids[p.pid] = std::set<int32_t>(p.tids.begin(), p.tids.end());
        m_order[p.pid] = m_order.size();
        if (p.zombie) {
            m_zombies.insert(p.pid);
        }
        if (p.filesOf != 0) {
            m_filesShared.insert(p.pid);
        }
        if (p.vmOf != 0) {
            m_vmShared.insert(p.pid);
        }
    }
    return {};
}

Result<void> ImageValidator::acceptEnd()
{
    if (!m_limits.requireComplete) {
        return {};
    }
    for (const auto &[pid, tids] : m_tids) {
        if (m_zombies.contains(pid)) {
            continue;
        }
        const std::pair<const char *, const std::set<int32_t> *> kinds[] = {
            {"Task", &m_tasks},
            {"Creds", &m_creds},
            {"Signals", &m_signals},
            {"Files", &m_files},
        };
        for (const auto &[name, seen] : kinds) {
            if (seen == &m_files && m_filesShared.contains(pid)) {
                continue; // its table is another process's
            }
            if (!seen->contains(pid)) {
                return fail(std::format("image incomplete: no {} record for pid {}", name, pid));
            }
        }
        if (!m_vmas.contains(pid) && !m_vmShared.contains(pid)) {
            return fail(std::format("image incomplete: no Mm record for pid {}", pid));
        }
        for (int32_t tid : tids) {
            if (!m_threads.contains(tid)) {
                return fail(std::format("image incomplete: no Thread record for tid {} of pid {}", tid, pid));
            }
        }
    }
    for (const auto &[object, segment] : m_sysvShmObjects) {
        if (segment == 0) {
            return fail(std::format("image incomplete: SysV shared memory object {} has no SysvIpc record naming it", object));
        }
    }
    for (const auto &[key, haveData] : m_unlinked) {
        if (!haveData) {
            return fail(std::format("image incomplete: fd {} of pid {} is an unlinked file but no FileData record follows", key.second, key.first));
        }
    }
    return {};
}

Result<void> ImageValidator::acceptPages(int32_t pid, std::span<const PageRun> runs)
{
    if (!m_haveTree) {
        return fail("the first section must be the ProcessTree");
    }
    CRYOPOD_PROPAGATE(knownPid(pid, "Pages"));
    if (m_vmShared.contains(pid)) {
        return fail(std::format("Pages record for pid {}, which shares another process's address space", pid));
    }
    const auto mm = m_vmas.find(pid);
    if (mm == m_vmas.end()) {
        return fail(std::format("Pages record for pid {} comes before its Mm record", pid));
    }
    if (runs.empty()) {
        return fail(std::format("pages of pid {}: no page runs", pid));
    }
    const std::vector<VmaRecord> &vmas = mm->second;
    uint64_t &lastEnd = m_pagesEnd[pid];
    if (runs.front().vaddr < lastEnd) {
        return fail(std::format("pages of pid {}: run at {} is below the end of an earlier run ({}); page runs must ascend across records", pid,
                                hex(runs.front().vaddr), hex(lastEnd)));
    }
    for (const PageRun &run : runs) {
        const uint64_t end = run.vaddr + uint64_t(run.pages) * m_header.pageSize;
        // the VMA containing run.vaddr, then the adjacent VMAs after it until end is covered
        auto it = std::upper_bound(vmas.begin(), vmas.end(), run.vaddr, [](uint64_t a, const VmaRecord &v) { return a < v.start; });
        bool covered = false;
        if (it != vmas.begin()) {
            --it;
            uint64_t coveredTo = run.vaddr;
            while (it != vmas.end() && it->start <= coveredTo && it->end > coveredTo) {
                if (it->kind == VmaKind::Vvar || it->kind == VmaKind::VvarVclock || it->kind == VmaKind::Vsyscall) {
                    return fail(std::format("pages of pid {}: run at {} lies in a [vvar]/[vsyscall] VMA, which has no pages to save", pid, hex(run.vaddr)));
                }
                coveredTo = it->end;
                if (coveredTo >= end) {
                    covered = true;
                    break;
                }
                ++it;
            }
        }
        if (!covered) {
            return fail(std::format("pages of pid {}: run {}-{} is not inside the VMAs of its Mm record", pid, hex(run.vaddr), hex(end)));
        }
        lastEnd = end;
    }
    return {};
}

Result<void> ImageValidator::acceptFileData(int32_t pid, int32_t fd)
{
    if (!m_haveTree) {
        return fail("the first section must be the ProcessTree");
    }
    CRYOPOD_PROPAGATE(knownPid(pid, "FileData"));
    const auto it = m_unlinked.find({pid, fd});
    if (it == m_unlinked.end()) {
        return fail(std::format("FileData record for fd {} of pid {}, which is not an unlinked file of an earlier Files record", fd, pid));
    }
    if (it->second) {
        return fail(std::format("second FileData record for fd {} of pid {}", fd, pid));
    }
    it->second = true;
    return {};
}

Result<void> ImageValidator::accept(const Section &section)
{
    if (!m_haveTree && !std::holds_alternative<ProcessTreeRecord>(section)) {
        return fail("the first section must be the ProcessTree");
    }
    return std::visit(
        [this](const auto &r) -> Result<void> {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, ProcessTreeRecord>) {
                return acceptTree(r);
            } else if constexpr (std::is_same_v<T, TaskRecord>) {
                return once(m_tasks, r.pid, "Task");
            } else if constexpr (std::is_same_v<T, CredsRecord>) {
                return once(m_creds, r.pid, "Creds");
            } else if constexpr (std::is_same_v<T, SignalsRecord>) {
                return once(m_signals, r.pid, "Signals");
            } else if constexpr (std::is_same_v<T, ThreadRecord>) {
                CRYOPOD_PROPAGATE(knownPid(r.pid, "Thread"));
                if (!m_tids[r.pid].contains(r.tid)) {
                    return fail(std::format("Thread record for tid {}, which is not a thread of pid {} in the process tree", r.tid, r.pid));
                }
                if (!m_threads.insert(r.tid).second) {
                    return fail(std::format("second Thread record for tid {}", r.tid));
                }
                return {};
            } else if constexpr (std::is_same_v<T, MmRecord>) {
                CRYOPOD_PROPAGATE(knownPid(r.pid, "Mm"));
                if (m_vmShared.contains(r.pid)) {
                    return fail(std::format("Mm record for pid {}, which shares another process's address space", r.pid));
                }
                if (m_vmas.contains(r.pid)) {
                    return fail(std::format("second Mm record for pid {}", r.pid));
                }
                std::vector<VmaRecord> &vmas = m_vmas[r.pid];
                vmas.reserve(r.vmas.size());
                for (const VmaRecord &v : r.vmas) {
                    if (v.shm != 0) {
                        const auto object = m_sharedMemory.find(v.shm);
                        if (object == m_sharedMemory.end()) {
                            return fail(std::format("a VMA of pid {} names shared memory object {}, which no earlier SharedMemory record defines", r.pid, v.shm));
                        }
                        const uint64_t pagedSize = (object->second + m_header.pageSize - 1) / m_header.pageSize * m_header.pageSize;
                        if (v.pgoff > pagedSize || v.end - v.start > pagedSize - v.pgoff) {
                            return fail(std::format("a VMA of pid {} reaches beyond the end of shared memory object {}", r.pid, v.shm));
                        }
                        const auto sysv = m_sysvShmObjects.find(v.shm);
                        if (sysv != m_sysvShmObjects.end() && (sysv->second == 0 || v.kind != VmaKind::FileShared || v.pgoff != 0 || v.end - v.start != pagedSize)) {
                            return fail(std::format("a VMA of pid {} attaches SysV shared memory object {} other than whole and shared, or before its SysvIpc record",
                                                    r.pid, v.shm));
                        }
                    }
                    VmaRecord copy;
                    copy.start = v.start;
                    copy.end = v.end;
                    copy.kind = v.kind;
                    vmas.push_back(copy);
                }
                return {};
            } else if constexpr (std::is_same_v<T, TimersRecord>) {
                return once(m_timers, r.pid, "Timers");
            } else if constexpr (std::is_same_v<T, TerminalRecord>) {
                if (r.sid != 0) {
                    CRYOPOD_PROPAGATE(knownPid(r.sid, "Terminal session"));
                }
                if (!m_terminals.insert(r.rdev).second) {
                    return fail(std::format("second Terminal record for {}", r.path));
                }
                return {};
            } else if constexpr (std::is_same_v<T, SharedMemoryRecord>) {
                uint64_t pages = 0;
                for (const PageRun &run : r.runs) {
                    pages += run.pages;
                }
                if (pages * m_header.pageSize != r.data.size() || (r.kind == SharedMemoryKind::Anonymous && (r.size % m_header.pageSize) != 0)) {
                    return fail(std::format("shared memory object {}: {} bytes of data for {} pages (page size {})", r.id, r.data.size(), pages, m_header.pageSize));
                }
                if (!m_sharedMemory.emplace(r.id, r.size).second) {
                    return fail(std::format("second SharedMemory record with id {}", r.id));
                }
                if (r.kind == SharedMemoryKind::SysvShm) {
                    m_sysvShmObjects.emplace(r.id, 0);
                }
                return {};
            } else if constexpr (std::is_same_v<T, SysvIpcRecord>) {
                if (!m_sysvIds.insert({uint32_t(r.kind), r.id}).second) {
                    return fail(std::format("second SysvIpc record for id {} of kind {}", r.id, uint32_t(r.kind)));
                }
                if (r.kind == SysvIpcKind::Shm) {
                    const auto object = m_sysvShmObjects.find(r.object);
                    if (object == m_sysvShmObjects.end() || object->second != 0 || m_sharedMemory.at(r.object) != r.size) {
                        return fail(std::format("SysV segment {} names shared memory object {}, which is no earlier SysV SharedMemory record of its size, or "
                                                "another segment's",
                                                r.id, r.object));
                    }
                    object->second = uint64_t(r.id) + 1;
                }
                return {};
            } else if constexpr (std::is_same_v<T, FileObjectRecord>) {
                CRYOPOD_PROPAGATE(knownPid(r.ownerPid, "FileObject"));
                if (!m_objects.emplace(r.id, r.kind).second) {
                    return fail(std::format("second FileObject record with id {}", r.id));
                }
                return {};
            } else if constexpr (std::is_same_v<T, FilesRecord>) {
                CRYOPOD_PROPAGATE(once(m_files, r.pid, "Files"));
                if (m_filesShared.contains(r.pid)) {
                    return fail(std::format("Files record for pid {}, which shares another process's fd table", r.pid));
                }
                for (const FdRecord &f : r.fds) {
                    if (f.kind == FdKind::Terminal && !m_terminals.contains(f.rdev)) {
                        return fail(std::format("fd {} of pid {} is a terminal no earlier Terminal record describes", f.fd, r.pid));
                    }
                    if (f.kind == FdKind::Memfd) {
                        const auto object = m_sharedMemory.find(f.object);
                        if (object == m_sharedMemory.end()) {
                            return fail(std::format("fd {} of pid {} is a memfd whose shared memory object {} no earlier SharedMemory record defines", f.fd,
                                                    r.pid, f.object));
                        }
                    } else if (f.object != 0) {
                        const auto object = m_objects.find(f.object);
                        if (object == m_objects.end()) {
                            return fail(std::format("fd {} of pid {} names file object {}, which no earlier FileObject record defines", f.fd, r.pid, f.object));
                        }
                        if (fileObjectKindOf(f.kind) != object->second) {
                            return fail(std::format("fd {} of pid {} names file object {} of another kind", f.fd, r.pid, f.object));
                        }
                    }
                    if (f.unlinked && f.dupOf == -1 && f.sharedPid == 0) {
                        m_unlinked[{r.pid, f.fd}] = false;
                    }
                    if (f.sharedPid != 0) {
                        const auto shared = m_fds.find({f.sharedPid, f.sharedFd});
                        if (shared == m_fds.end() || m_order[f.sharedPid] >= m_order[r.pid]) {
                            return fail(std::format("fd {} of pid {} shares the open file of fd {} of pid {}, which no earlier Files record holds", f.fd,
                                                    r.pid, f.sharedFd, f.sharedPid));
                        }
                        if (shared->second != std::pair(f.kind, f.object)) {
                            return fail(std::format("fd {} of pid {} shares the open file of fd {} of pid {}, but describes another file", f.fd, r.pid,
                                                    f.sharedFd, f.sharedPid));
                        }
                    }
                    m_fds[{r.pid, f.fd}] = {f.kind, f.object};
                }
                return {};
            } else if constexpr (std::is_same_v<T, PagesRecord>) {
                return acceptPages(r.pid, r.runs);
            } else if constexpr (std::is_same_v<T, FileDataRecord>) {
                return acceptFileData(r.pid, r.fd);
            } else if constexpr (std::is_same_v<T, EndRecord>) {
                return acceptEnd();
            }
        },
        section);
}

} // namespace cryopod::image
