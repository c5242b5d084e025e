// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The records of a Cryopod image: one struct per kernel object the engine
// captures. The engine fills them on dump and consumes them on restore; only
// backend/image encodes and decodes them (see docs/image-format.md).
// All integers are fixed width; nothing here depends on the host's ABI except
// where a record says "x86-64" (register state is per architecture by nature).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace cryopod::image
{

// ---- stream framing ---------------------------------------------------------

inline constexpr char kMagic[8] = {'C', 'R', 'Y', 'O', 'P', 'O', 'D', '\0'};
// 3: one Thread record per thread (robust list), FileObject and Timers
// records, fd kinds for kernel file objects; 4: process trees (zombies, fds
// sharing an open file description of another process); 5: Task:
// childSubreaper; Terminal records and the Terminal fd kind (pseudo-terminal
// slaves); TCP/UDP sockets, unix sockets that are no pair, inotify, file
// locks; SharedMemory records (MAP_SHARED anonymous memory), VmaRecord::shm,
// writable shared file mappings (kVmaMayWrite); 6: Thread: seccompMode,
// seccompFilters; memfd (SharedMemoryKind::Memfd with
// SharedMemoryRecord::seals, FdKind::Memfd, VmaRecord::shm on private
// mappings of a memfd); 7: SysvIpc records (section 14: SysV shared memory,
// message queues, semaphore sets) and SharedMemoryKind::SysvShm; established
// TCP connections (InetState::Established with the FileObjectRecord tcp*
// fields, TCP_REPAIR); 8: FdKind::ProcFile (read-only files and directories
// of /proc); 9: ProcessEntry::vmOf (address spaces shared by clone(CLONE_VM)
// without CLONE_THREAD).
inline constexpr uint32_t kFormatVersion = 9;
// The oldest version the readers still decode: a record of an older version
// is read as the current one with the fields added since at their defaults
// (8: ProcessEntry::vmOf = 0).
inline constexpr uint32_t kOldestReadableFormatVersion = 8;

enum class SectionType : uint32_t {
    ProcessTree = 1, // ProcessTreeRecord, exactly one, first after the header
    Task = 2, // TaskRecord, one per process
    Thread = 3, // ThreadRecord, one per thread
    Creds = 4, // CredsRecord, one per process
    Signals = 5, // SignalsRecord, one per process
    Mm = 6, // MmRecord (with its VMAs), one per address space
    Files = 7, // FilesRecord, one per process (its fd table)
    FileData = 8, // FileDataRecord: contents of an unlinked-but-open file
    Pages = 9, // PagesRecord: a batch of page runs of one address space, zstd
    FileObject = 10, // FileObjectRecord: a pipe, FIFO, eventfd, timerfd, signalfd or epoll set, before the Files records naming it
    Timers = 11, // TimersRecord, at most one per process: its interval timers
    Terminal = 12, // TerminalRecord (format 5): a pseudo-terminal the tree uses, before the Files records naming it
    SharedMemory = 13, // SharedMemoryRecord (format 5): one shared memory object with its contents, before the Mm records naming it
    SysvIpc = 14, // SysvIpcRecord (format 7): one SysV IPC object of the tree, after the SharedMemory records, before the Task records
    End = 0xffff, // EndRecord, exactly one, last
};

struct Header {
    uint32_t formatVersion = kFormatVersion;
    std::string arch; // "x86_64"
    std::string kernelRelease; // uname -r at dump
    std::string hostname;
    std::string engineVersion; // e.g. "cryopod 0.1.0"
    uint32_t pageSize = 4096;
    uint64_t createdUnixNs = 0;
    uint32_t flags = 0; // reserved, 0

    friend bool operator==(const Header &, const Header &) = default;
};

// ---- process tree ---------------------------------------------------------

struct ProcessEntry {
    int32_t pid = 0;
    int32_t ppid = 0; // parent's pid; the root's ppid is its parent at dump (informational)
    int32_t pgid = 0;
    int32_t sid = 0;
    std::vector<int32_t> tids; // tids[0] == pid (the thread-group leader)
    // Format 4: a zombie (exited, not yet reaped by its parent in the tree)
    // has no other record; restore makes a placeholder that ends with
    // `exitStatus` (a wait status: exit code << 8, or the killing signal).
    bool zombie = false;
    int32_t exitStatus = 0;
    // Format 4: a process sharing its fd table with an earlier process of
    // the tree (clone(CLONE_FILES) without CLONE_THREAD) names it here and
    // has no Files record of its own; 0: a table of its own.
    int32_t filesOf = 0;
    // Format 9: a process sharing the address space of an earlier process of
    // the tree (clone(CLONE_VM) without CLONE_THREAD, made by its parent, or
    // by a process that shares it too) names the first process of that
    // address space here and has no Mm record and no page data of its own:
    // the VMAs, pages and PR_SET_MM_MAP fields are that process's. 0: an
    // address space of its own.
    int32_t vmOf = 0;

    friend bool operator==(const ProcessEntry &, const ProcessEntry &) = default;
};

struct ProcessTreeRecord {
    int32_t rootPid = 0;
    // Parents before children; every process but the root has its parent in
    // the tree. The per-process records come in this order too.
    std::vector<ProcessEntry> processes;

    friend bool operator==(const ProcessTreeRecord &, const ProcessTreeRecord &) = default;
};

// ---- per process ------------------------------------------------------------

struct Rlimit {
    uint64_t cur = 0; // RLIM_INFINITY encoded as UINT64_MAX
    uint64_t max = 0;

    friend bool operator==(const Rlimit &, const Rlimit &) = default;
};

struct TaskRecord {
    int32_t pid = 0;
    std::string comm; // /proc/PID/comm, at most 15 bytes
    std::string exePath; // /proc/PID/exe target
    std::string cwd;
    std::string root; // "/" unless chrooted
    uint32_t umask = 022;
    uint32_t personality = 0;
    std::array<Rlimit, 16> rlimits{}; // indexed by RLIMIT_* (Linux numbering, stable ABI)
    int32_t exitSignal = 17; // SIGCHLD
    bool childSubreaper = false; // PR_SET_CHILD_SUBREAPER

    friend bool operator==(const TaskRecord &, const TaskRecord &) = default;
};

// Credentials in an architecture-independent encoding (docs/image-format.md):
// ids are 32-bit, capability sets are 64-bit masks using the kernel's
// capability numbers (CAP_CHOWN = bit 0 ... CAP_CHECKPOINT_RESTORE = bit 40).
struct CredsRecord {
    int32_t pid = 0;
    uint32_t uid = 0, euid = 0, suid = 0, fsuid = 0;
    uint32_t gid = 0, egid = 0, sgid = 0, fsgid = 0;
    std::vector<uint32_t> groups;
    uint64_t capInheritable = 0;
    uint64_t capPermitted = 0;
    uint64_t capEffective = 0;
    uint64_t capBounding = 0;
    uint64_t capAmbient = 0;
    uint32_t securebits = 0;
    bool noNewPrivs = false;

    friend bool operator==(const CredsRecord &, const CredsRecord &) = default;
};

struct SigactionEntry {
    uint32_t signo = 0; // 1..64
    uint64_t handler = 0; // SIG_DFL = 0, SIG_IGN = 1, else address
    uint64_t flags = 0; // SA_*
    uint64_t restorer = 0;
    uint64_t mask = 0; // bit (n-1) for signal n

    friend bool operator==(const SigactionEntry &, const SigactionEntry &) = default;
};

// A signal pending at dump: the kernel's siginfo as PTRACE_PEEKSIGINFO
// returned it (x86-64 siginfo_t, 128 bytes), so that restore re-queues it
// with the same code, sender and payload.
inline constexpr uint32_t kSiginfoBytes = 128;

struct PendingSignal {
    uint32_t signo = 0; // 1..64, equal to the siginfo's si_signo
    std::vector<uint8_t> siginfo; // kSiginfoBytes bytes

    friend bool operator==(const PendingSignal &, const PendingSignal &) = default;
};

struct SignalsRecord {
    int32_t pid = 0;
    std::vector<SigactionEntry> actions; // only non-default dispositions
    std::vector<PendingSignal> pending; // pending for the whole process (ShdPnd), in queue order

    friend bool operator==(const SignalsRecord &, const SignalsRecord &) = default;
};

// ---- per thread -------------------------------------------------------------

// x86-64 user_regs_struct, in the kernel's field order (27 registers).
struct X86Regs {
    std::array<uint64_t, 27> gpr{};

    friend bool operator==(const X86Regs &, const X86Regs &) = default;
};

// Format 6: one classic BPF seccomp filter of a thread's chain, as
// PTRACE_SECCOMP_GET_FILTER returns it.
inline constexpr uint32_t kSeccompModeStrict = 1, kSeccompModeFilter = 2;
inline constexpr uint32_t kSeccompFilterFlagLog = 1 << 1; // SECCOMP_FILTER_FLAG_LOG (PTRACE_GET_SECCOMP_METADATA)
inline constexpr uint32_t kMaxSeccompInstructions = 4096; // BPF_MAXINSNS
inline constexpr uint32_t kMaxSeccompFilters = 512; // the kernel's limit is 32768 instructions in all
struct SeccompFilter {
    uint32_t flags = 0; // kSeccompFilterFlagLog or 0
    std::vector<uint8_t> program; // struct sock_filter[], 8 bytes each, host byte order

    friend bool operator==(const SeccompFilter &, const SeccompFilter &) = default;
};

// Why a thread was in a system call when frozen; the restore side uses it to
// restart the call the way the kernel would have.
struct ThreadRecord {
    int32_t pid = 0;
    int32_t tid = 0;
    std::string name; // /proc/PID/task/TID/comm
    X86Regs regs;
    std::vector<uint8_t> fpregs; // user_fpregs_struct (512 bytes, FXSAVE layout)
    std::vector<uint8_t> xstate; // NT_X86_XSTATE regset as read (XSAVE layout), may be empty
    uint64_t sigmask = 0; // blocked signals, bit (n-1) for signal n
    uint64_t altstackSp = 0;
    uint64_t altstackSize = 0;
    uint32_t altstackFlags = 0; // SS_DISABLE etc.
    uint64_t clearChildTid = 0;
    std::vector<PendingSignal> pending; // pending for this thread only (SigPnd), in queue order
    // The thread's rseq registration (PTRACE_GET_RSEQ_CONFIGURATION); rseqSize 0: none.
    uint64_t rseqAddr = 0;
    uint32_t rseqSize = 0;
    uint32_t rseqFlags = 0;
    uint32_t rseqSignature = 0;
    // The thread's robust futex list (get_robust_list): the head glibc keeps
    // in its thread descriptor and the size of struct robust_list_head; 0: none.
    uint64_t robustListHead = 0;
    uint64_t robustListLen = 0;
    // Format 6: the thread's seccomp mode (0 none, kSeccompModeStrict,
    // kSeccompModeFilter) and, in filter mode, its filter chain, the oldest
    // (first installed) first. Threads that share filters (installed before
    // they were cloned, or with SECCOMP_FILTER_FLAG_TSYNC) each list them.
    uint32_t seccompMode = 0;
    std::vector<SeccompFilter> seccompFilters;

    friend bool operator==(const ThreadRecord &, const ThreadRecord &) = default;
};

// ---- memory -----------------------------------------------------------------

enum class VmaKind : uint32_t {
    Anonymous = 0, // private anonymous (including [heap] and [stack], see MmRecord bounds)
    FilePrivate = 1, // MAP_PRIVATE of a file
    FileShared = 2, // MAP_SHARED of a file (v2)
    SharedAnonymous = 3, // MAP_SHARED anonymous (v2)
    Vdso = 4,
    Vvar = 5,
    VvarVclock = 6,
    Vsyscall = 7, // fixed by the kernel; recorded, never restored
};

inline constexpr uint32_t kVmaRead = 1, kVmaWrite = 2, kVmaExec = 4; // prot bits
inline constexpr uint32_t kVmaGrowsDown = 1 << 0; // flag bits
inline constexpr uint32_t kVmaLocked = 1 << 1;
inline constexpr uint32_t kVmaDontFork = 1 << 2;
inline constexpr uint32_t kVmaWipeOnFork = 1 << 3;
// Format 5: a shared file mapping whose file was opened for writing
// (VM_MAYWRITE): restore opens the file read-write, so that mprotect can make
// it writable later, as in the original.
inline constexpr uint32_t kVmaMayWrite = 1 << 4;

struct VmaRecord {
    uint64_t start = 0;
    uint64_t end = 0; // exclusive
    uint32_t prot = 0; // kVmaRead | kVmaWrite | kVmaExec
    uint32_t flags = 0; // kVma* flag bits
    VmaKind kind = VmaKind::Anonymous;
    uint64_t pgoff = 0; // file offset in bytes
    std::string path; // file mappings: the file; "[heap]", "[stack]", ... otherwise
    uint64_t dev = 0; // st_dev of the file (makedev encoding)
    uint64_t ino = 0;
    uint64_t fileSize = 0; // at dump, to detect a changed file on restore
    // Format 5: SharedAnonymous, and FileShared of a deleted file: the id of
    // the SharedMemoryRecord holding the memory (pgoff is the offset of the
    // VMA in it); format 6: also FileShared and FilePrivate of a memfd
    // (FilePrivate: the pages written privately are in Pages records); 0
    // otherwise.
    uint64_t shm = 0;

    friend bool operator==(const VmaRecord &, const VmaRecord &) = default;
};

struct MmRecord {
    int32_t pid = 0; // the process owning this address space
    uint64_t startCode = 0, endCode = 0, startData = 0, endData = 0;
    uint64_t startBrk = 0, brk = 0, startStack = 0;
    uint64_t argStart = 0, argEnd = 0, envStart = 0, envEnd = 0;
    std::vector<uint64_t> auxv; // pairs (type, value), ending with AT_NULL
    std::string exePath;
    uint64_t vdsoHash = 0; // hash of the [vdso] bytes; restore refuses a different vDSO
    std::vector<VmaRecord> vmas; // sorted by start

    friend bool operator==(const MmRecord &, const MmRecord &) = default;
};

// A batch of page runs of one address space. On the wire the page bytes are
// one zstd frame; in memory `data` holds the raw pages, runs in order.
struct PageRun {
    uint64_t vaddr = 0; // page aligned
    uint32_t pages = 0;

    friend bool operator==(const PageRun &, const PageRun &) = default;
};

struct PagesRecord {
    int32_t pid = 0; // owner of the address space (MmRecord::pid)
    std::vector<PageRun> runs;
    std::vector<uint8_t> data; // sum(runs.pages) * pageSize bytes, uncompressed

    friend bool operator==(const PagesRecord &, const PagesRecord &) = default;
};

// ---- shared memory (format 5) ------------------------------------------------

enum class SharedMemoryKind : uint32_t {
    // MAP_SHARED|MAP_ANONYMOUS, or MAP_SHARED of /dev/zero: a shmem object
    // that /proc/PID/maps shows as "/dev/zero (deleted)"; shared across fork.
    Anonymous = 1,
    // A regular file mapped MAP_SHARED whose name is gone (unlinked, or the
    // name it was mapped under renamed away, as glibc's sem_open does; maps
    // says "(deleted)"): its contents are saved, restore makes a new unnamed
    // file (O_TMPFILE) in the same directory. Its VMAs are FileShared.
    DeletedFile = 2,
    // Format 6: a memfd (memfd_create), whether mapped (MAP_SHARED: FileShared
    // VMAs, MAP_PRIVATE: FilePrivate VMAs, both naming it by shm), held by
    // fds (FdKind::Memfd naming it by object), or both. `path` is its name
    // (as given to memfd_create, without "/memfd:"), `size` its size,
    // `mode` its permission bits, `seals` its seals (F_GET_SEALS). Restore
    // makes it with memfd_create(path, MFD_ALLOW_SEALING), chmods it, writes
    // the contents and adds the seals.
    Memfd = 3,
    // Format 7: the memory of a SysV shared memory segment (shmget), attached
    // by processes of the tree (FileShared VMAs naming it by shm, each one
    // whole attach: pgoff 0, the segment's size rounded up to pages). `ino`
    // is the segment's id, `size` its size; the segment itself (id, key,
    // owner, mode) is the SysvIpcRecord naming this object. Restore makes the
    // segment, writes the contents through it and attaches it (shmat) at
    // each VMA.
    SysvShm = 4,
};

inline constexpr uint64_t kMaxSharedMemoryBytes = 192ull << 20; // saved contents of one object (one section)

// One shared memory object, captured once and named by id from every VMA
// (VmaRecord::shm) of every process of the tree that maps it. Its contents
// are stored sparsely: runs of pages by offset in the object (PageRun::vaddr
// is the byte offset), all-zero and never-touched pages left out.
struct SharedMemoryRecord {
    uint64_t id = 0; // > 0, unique in the image
    SharedMemoryKind kind = SharedMemoryKind::Anonymous;
    uint64_t size = 0; // the object's size in bytes (page aligned for Anonymous; a file's size)
    uint64_t ino = 0; // its inode at dump (for readers)
    std::string path; // DeletedFile: the path it was mapped by (without " (deleted)")
    uint32_t mode = 0; // DeletedFile, Memfd: its permission bits
    std::vector<PageRun> runs; // ascending, inside [0, size)
    std::vector<uint8_t> data; // the runs' pages back to back
    uint32_t seals = 0; // format 6, Memfd: F_SEAL_* bits (F_GET_SEALS); 0 otherwise

    friend bool operator==(const SharedMemoryRecord &, const SharedMemoryRecord &) = default;
};

// ---- SysV IPC (format 7) ----------------------------------------------------------

enum class SysvIpcKind : uint32_t {
    Shm = 1, // a shared memory segment: its memory is SharedMemoryRecord `object` (kind SysvShm)
    Msg = 2, // a message queue, with its messages
    Sem = 3, // a semaphore set, with its values
};

inline constexpr uint32_t kMaxSysvMessages = 1u << 16; // messages of one queue
inline constexpr uint64_t kMaxSysvMessageBytes = 64ull << 20; // their text, in all
inline constexpr uint32_t kMaxSysvSemaphores = 32000; // the kernel's SEMMSL

struct SysvMessage {
    int64_t type = 0; // > 0
    std::vector<uint8_t> text;

    friend bool operator==(const SysvMessage &, const SysvMessage &) = default;
};

// One SysV IPC object of the host's IPC namespace that the tree uses (see
// docs/image-format.md for which ones): restore makes it again with the same
// id (kernel.{shm,msg,sem}_next_id) and key, then sets owner and mode.
struct SysvIpcRecord {
    SysvIpcKind kind = SysvIpcKind::Shm;
    int32_t id = 0; // the IPC id (>= 0)
    int32_t key = 0; // 0: IPC_PRIVATE
    uint32_t mode = 0; // permission bits (0777)
    uint32_t uid = 0, gid = 0; // owner
    uint32_t cuid = 0, cgid = 0; // creator (informational: restore creates as itself)
    // Shm: marked for removal (IPC_RMID, SHM_DEST) while still attached:
    // restore removes it again once every process has attached it.
    bool destroyed = false;
    uint64_t object = 0; // Shm: the SharedMemoryRecord (kind SysvShm) with its memory
    uint64_t size = 0; // Shm: shm_segsz
    uint64_t qbytes = 0; // Msg: msg_qbytes
    std::vector<SysvMessage> messages; // Msg: oldest first
    // Msg: the last process that sent to it / received from it (0: none);
    // restore sends and receives as them when they are in the tree.
    int32_t lspid = 0, lrpid = 0;
    std::vector<uint32_t> semValues; // Sem: semval of each semaphore
    std::vector<int32_t> semPids; // Sem: the last process that changed each one (sempid; restore sets the value as it)

    friend bool operator==(const SysvIpcRecord &, const SysvIpcRecord &) = default;
};

// ---- files --------------------------------------------------------------------

enum class FdKind : uint32_t {
    Regular = 0,
    Directory = 1,
    CharDevice = 2, // /dev/null, /dev/zero, /dev/urandom, ... by path and rdev
    // Kernel file objects (format 3): the fd names its FileObjectRecord in `object`.
    Pipe = 3, // one end of an anonymous pipe ("pipe:[ino]"; path is that text)
    Fifo = 4, // a named pipe, reopened by path (dev, ino checked)
    EventFd = 5,
    TimerFd = 6,
    SignalFd = 7,
    Epoll = 8,
    UnixSocket = 9, // one end of a connected unix socket pair whose other end is in the image too
    // Format 5: a pseudo-terminal slave (/dev/pts/N); `rdev` names its
    // TerminalRecord (the same rdev). Restore opens the terminal the restore
    // chose for that record (a new pty, or the original one) by its path.
    Terminal = 10,
    InetSocket = 11, // format 5: a TCP or UDP socket (IPv4 or IPv6); format 7: also an established TCP connection
    Inotify = 12, // format 5: an inotify instance
    // Format 6: a memfd; `object` names its SharedMemoryRecord (kind Memfd),
    // `path` is "/memfd:NAME" as /proc shows it. Restore reopens that object
    // (a new open file description, with openFlags and pos).
    Memfd = 13,
    // Format 8: a file or directory of /proc, open read-only: one of a
    // process of the image (/proc/PID/..., /proc/PID/task/TID/...; `path` as
    // the kernel resolves it, never /proc/self) or of the system
    // (/proc/meminfo). Restore opens `path` again (PIDs are the same) and
    // sets `pos` once the tree is complete; `dev`, `ino` are informational
    // (procfs makes new inodes).
    ProcFile = 14,
};

// Format 5: a file lock held through an fd, as /proc/PID/fdinfo shows it.
enum class FileLockKind : uint32_t {
    Flock = 1, // flock(2): belongs to the open file description
    Posix = 2, // fcntl F_SETLK: belongs to the process
    Ofd = 3, // fcntl F_OFD_SETLK: belongs to the open file description
};

struct FileLock {
    int32_t fd = 0; // the fd it is held (and restored) through
    FileLockKind kind = FileLockKind::Flock;
    bool write = false; // exclusive (WRITE) or shared (READ)
    uint64_t start = 0; // byte range; flock: 0
    uint64_t end = UINT64_MAX; // inclusive; UINT64_MAX: to end of file ("EOF")

    friend bool operator==(const FileLock &, const FileLock &) = default;
};

struct FdRecord {
    int32_t fd = 0;
    FdKind kind = FdKind::Regular;
    std::string path; // at dump (without the " (deleted)" suffix)
    uint32_t openFlags = 0; // O_* as in fdinfo "flags" (octal there), without O_CLOEXEC
    bool cloexec = false;
    uint64_t pos = 0;
    uint32_t mode = 0; // st_mode
    uint64_t dev = 0, ino = 0, rdev = 0;
    uint64_t size = 0;
    bool unlinked = false; // then FileDataRecord with the same (pid, fd) follows (unless dupOf >= 0)
    // -1: this record describes its own open file description. Otherwise the
    // (lower) fd whose open file description this fd shares (dup, inherited):
    // restore opens that one once and dup3()s it here. The file fields repeat
    // the owner's, for readers; cloexec is per fd.
    int32_t dupOf = -1;
    // Pipe, Fifo, EventFd, TimerFd, SignalFd, Epoll: the id of the
    // FileObjectRecord (written before this Files record) this fd's open file
    // refers to; 0 for the other kinds. Both ends of a pipe name one object.
    uint64_t object = 0;
    // Format 4: when sharedPid != 0, this fd's open file description is the
    // one of fd `sharedFd` of process `sharedPid`, an earlier process of the
    // tree (one offset, one set of status flags): restore takes that one
    // instead of opening its own. dupOf is -1 then; the file fields repeat
    // that fd's, for readers.
    int32_t sharedPid = 0;
    int32_t sharedFd = -1;

    friend bool operator==(const FdRecord &, const FdRecord &) = default;
};

struct FilesRecord {
    int32_t pid = 0;
    std::vector<FdRecord> fds; // sorted by fd
    // Format 5: the locks the process holds, each through one of its fds
    // (restore takes them again from the restored process itself).
    std::vector<FileLock> locks;

    friend bool operator==(const FilesRecord &, const FilesRecord &) = default;
};

struct FileDataRecord {
    int32_t pid = 0;
    int32_t fd = 0;
    std::vector<uint8_t> data; // whole file contents, zstd on the wire

    friend bool operator==(const FileDataRecord &, const FileDataRecord &) = default;
};

// ---- kernel file objects (format 3) ------------------------------------------

// A kernel object behind one or more fds, captured once and named by id from
// every FdRecord that refers to it (`FdRecord::object`). The fields used
// depend on `kind`; the others stay 0/empty (the validator insists).
enum class FileObjectKind : uint32_t {
    Pipe = 1, // anonymous pipe
    Fifo = 2, // named pipe
    EventFd = 3,
    TimerFd = 4,
    SignalFd = 5,
    Epoll = 6,
    UnixSocket = 7, // one socket of a connected pair (socketpair) inside the image
    InetSocket = 8, // format 5: a TCP or UDP socket, unbound, bound, listening (TCP) or connected (UDP); format 7: established (TCP)
    Inotify = 9, // format 5: an inotify instance with its watches
};

// Format 5: one watch of an inotify instance, as fdinfo shows it: its
// watch descriptor, its mask (user-visible IN_* bits) and the watched
// inode, found again by path on restore (dev and ino must still match).
struct InotifyWatch {
    int32_t wd = 0; // >= 1
    uint32_t mask = 0;
    std::string path; // absolute, at dump
    uint64_t dev = 0; // st_dev (makedev encoding)
    uint64_t ino = 0;

    friend bool operator==(const InotifyWatch &, const InotifyWatch &) = default;
};

// Format 5: what an inet socket was doing (InetSocket objects).
enum class InetState : uint32_t {
    Unbound = 0, // made, never bound
    Bound = 1, // bound to localAddress:localPort
    Listening = 2, // TCP, bound and listening with `backlog`
    Connected = 3, // UDP, bound and connected to peerAddress:peerPort
    // Format 7: an established TCP connection from localAddress:localPort to
    // peerAddress:peerPort, restored with TCP_REPAIR (the tcp* fields).
    Established = 4,
};

// Format 7: TCP options an established connection negotiated (FileObjectRecord::tcpOptions).
inline constexpr uint32_t kTcpOptSack = 1u << 0; // SACK permitted
inline constexpr uint32_t kTcpOptTimestamps = 1u << 1; // timestamps (RFC 7323)
inline constexpr uint32_t kTcpOptWscale = 1u << 2; // window scaling: tcpSndWscale, tcpRcvWscale
inline constexpr uint32_t kTcpOptionsKnown = (1u << 3) - 1;

// InetSocket option bits (FileObjectRecord::socketOptions).
inline constexpr uint32_t kSockReuseAddr = 1u << 0; // SO_REUSEADDR
inline constexpr uint32_t kSockReusePort = 1u << 1; // SO_REUSEPORT
inline constexpr uint32_t kSockV6Only = 1u << 2; // IPV6_V6ONLY
inline constexpr uint32_t kSockNoDelay = 1u << 3; // TCP_NODELAY
inline constexpr uint32_t kSockKeepAlive = 1u << 4; // SO_KEEPALIVE
inline constexpr uint32_t kSockBroadcast = 1u << 5; // SO_BROADCAST
inline constexpr uint32_t kSockOptionsKnown = (1u << 6) - 1;

// One registration of an epoll set, as /proc/PID/fdinfo shows it: the fd
// number it was added with (in the owner's fd table), its event mask
// (EPOLLIN ... plus EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLWAKEUP; a
// fired EPOLLONESHOT registration keeps only those flag bits) and its data.
struct EpollTarget {
    int32_t fd = 0;
    uint32_t events = 0;
    uint64_t data = 0;

    friend bool operator==(const EpollTarget &, const EpollTarget &) = default;
};

// The object kind an fd of kind `kind` refers to (FdKind::Pipe -> Pipe, ...);
// Regular, Directory and CharDevice refer to none (returns Pipe: check
// FdRecord::object first).
constexpr FileObjectKind fileObjectKindOf(FdKind kind)
{
    switch (kind) {
    case FdKind::Fifo:
        return FileObjectKind::Fifo;
    case FdKind::EventFd:
        return FileObjectKind::EventFd;
    case FdKind::TimerFd:
        return FileObjectKind::TimerFd;
    case FdKind::SignalFd:
        return FileObjectKind::SignalFd;
    case FdKind::Epoll:
        return FileObjectKind::Epoll;
    case FdKind::UnixSocket:
        return FileObjectKind::UnixSocket;
    case FdKind::InetSocket:
        return FileObjectKind::InetSocket;
    case FdKind::Inotify:
        return FileObjectKind::Inotify;
    default:
        return FileObjectKind::Pipe;
    }
}

inline constexpr uint64_t kMaxPipeDataBytes = 64ull << 20;

struct FileObjectRecord {
    uint64_t id = 0; // > 0, unique in the image
    FileObjectKind kind = FileObjectKind::Pipe;
    // The process that creates the object on restore: the first one of the
    // tree (in its order) with an fd naming it; epoll fds refer to its fd
    // table. Fds of later processes may name it too (a pipe between two
    // processes): their descriptions are made by the owner and handed over.
    int32_t ownerPid = 0;

    // Pipe, Fifo
    uint64_t ino = 0; // the pipe's inode at dump (for readers; restore makes a new pipe / reopens the FIFO by path)
    uint32_t pipeSize = 0; // F_GETPIPE_SZ, bytes
    std::vector<uint8_t> data; // the bytes queued in the pipe, oldest first (at most kMaxPipeDataBytes)

    // EventFd
    uint64_t count = 0;
    bool semaphore = false; // EFD_SEMAPHORE

    // TimerFd: remaining time as the kernel reported it; restore re-arms the
    // timer relative to the restore, except a CLOCK_REALTIME(_ALARM) timer set
    // with TFD_TIMER_ABSTIME, which keeps its wall-clock deadline.
    int32_t clockId = 0;
    uint32_t settimeFlags = 0; // TFD_TIMER_ABSTIME (1), TFD_TIMER_CANCEL_ON_SET (2)
    uint64_t ticks = 0; // expirations not yet read
    uint64_t valueNs = 0; // time to the next expiration; 0: disarmed
    uint64_t intervalNs = 0;
    int64_t deadlineNs = 0; // clockId's time of the next expiration at dump (0: disarmed)

    // SignalFd
    uint64_t sigmask = 0; // bit (n-1) for signal n

    // Epoll
    std::vector<EpollTarget> targets; // in fdinfo order

    // UnixSocket, InetSocket
    uint32_t socketType = 0; // SOCK_STREAM (1), SOCK_DGRAM (2), SOCK_SEQPACKET (5)
    uint64_t peer = 0; // id of the FileObjectRecord of the other socket of the pair; 0: it was closed
    uint32_t shutdown = 0; // the socket's own shutdown bits: receive 1, send 2
    uint32_t sndbuf = 0; // SO_SNDBUF, SO_RCVBUF as getsockopt reports them
    uint32_t rcvbuf = 0;
    bool passcred = false; // SO_PASSCRED
    // What waits in its receive queue, oldest first: one entry per datagram
    // or packet; for a stream socket the bytes, in pieces of any size.
    std::vector<std::vector<uint8_t>> messages;
    // Format 5: a unix socket that is not one of a pair: 1 not connected
    // (bound to `unixName` or not; no queue kept), 2 listening on `unixName`
    // with `backlog`; 0: connected (one of a pair, as above).
    uint32_t unixState = 0;
    std::string unixName; // a path, or "@name" for an abstract name; "" unbound

    // InetSocket (format 5; socketType, sndbuf, rcvbuf as above). Addresses
    // are 4 (AF_INET) or 16 (AF_INET6) bytes in network order, ports host order.
    uint32_t family = 0; // AF_INET (2), AF_INET6 (10)
    uint32_t protocol = 0; // IPPROTO_TCP (6), IPPROTO_UDP (17)
    InetState inetState = InetState::Unbound;
    std::vector<uint8_t> localAddress; // Bound, Listening, Connected
    uint32_t localPort = 0;
    std::vector<uint8_t> peerAddress; // Connected
    uint32_t peerPort = 0;
    uint32_t backlog = 0; // Listening: the backlog listen() was given (as the kernel keeps it)
    uint32_t socketOptions = 0; // kSock* bits

    // Inotify (format 5): its watches, ascending wd
    std::vector<InotifyWatch> watches;

    // InetSocket in state Established (format 7), read in TCP_REPAIR mode.
    uint32_t tcpSendSeq = 0; // the sequence number after the last byte queued to send (write_seq)
    uint32_t tcpRecvSeq = 0; // the sequence number after the last byte received (rcv_nxt)
    // The send queue, oldest first: bytes written and not yet acknowledged
    // by the peer; its last `tcpUnsent` bytes were never sent.
    std::vector<uint8_t> tcpSendQueue;
    uint32_t tcpUnsent = 0;
    std::vector<uint8_t> tcpRecvQueue; // bytes received, not yet read by the program
    uint32_t tcpMss = 0; // the MSS the peer announced (mss_clamp)
    uint32_t tcpOptions = 0; // kTcpOpt* bits
    uint32_t tcpSndWscale = 0; // window scale shifts (kTcpOptWscale), 0..14
    uint32_t tcpRcvWscale = 0;
    uint32_t tcpTimestamp = 0; // TCP_TIMESTAMP: the connection's timestamp clock at dump
    // TCP_REPAIR_WINDOW (struct tcp_repair_window)
    uint32_t tcpSndWl1 = 0, tcpSndWnd = 0, tcpMaxWindow = 0, tcpRcvWnd = 0, tcpRcvWup = 0;

    friend bool operator==(const FileObjectRecord &, const FileObjectRecord &) = default;
};

// ---- timers (format 3) ----------------------------------------------------------

// One interval timer (getitimer): time to the next expiration (0: disarmed)
// and the reload interval.
struct Itimer {
    uint64_t valueNs = 0;
    uint64_t intervalNs = 0;

    friend bool operator==(const Itimer &, const Itimer &) = default;
};

// A POSIX timer (timer_create) as /proc/PID/timers and timer_gettime show it.
struct PosixTimer {
    int32_t id = 0; // the timer_t the process knows it by (>= 0)
    int32_t clockId = 0;
    uint32_t notify = 0; // SIGEV_SIGNAL 0, SIGEV_NONE 1, SIGEV_SIGNAL|SIGEV_THREAD_ID 4
    uint32_t signo = 0; // 1..64 unless SIGEV_NONE
    uint64_t sigval = 0; // sigev_value
    int32_t tid = 0; // SIGEV_THREAD_ID: the thread; else the process (informational)
    uint64_t valueNs = 0; // time to the next expiration, 0: disarmed
    uint64_t intervalNs = 0;

    friend bool operator==(const PosixTimer &, const PosixTimer &) = default;
};

struct TimersRecord {
    int32_t pid = 0;
    std::array<Itimer, 3> itimers{}; // ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF
    std::vector<PosixTimer> posix; // ascending ids

    friend bool operator==(const TimersRecord &, const TimersRecord &) = default;
};

// ---- terminals (format 5) ------------------------------------------------------

// A pseudo-terminal (its slave side, /dev/pts/N) that fds of the tree have
// open or that is a session's controlling terminal. Fds name it by `rdev`.
// The master side is never in the tree: restore makes a new pty (its master
// goes to whoever asked for the restore) or opens the original one again.
inline constexpr uint32_t kTermiosCcBytes = 19; // the kernel's NCCS (struct termios2)

struct TerminalRecord {
    uint64_t rdev = 0; // the slave's device number at dump (major 136..143)
    std::string path; // "/dev/pts/N" at dump
    // The kernel's struct termios2 (TCGETS2): flags, line discipline, control characters, speeds.
    uint32_t iflag = 0, oflag = 0, cflag = 0, lflag = 0;
    uint32_t line = 0;
    std::vector<uint8_t> cc; // kTermiosCcBytes bytes
    uint32_t ispeed = 0, ospeed = 0;
    // TIOCGWINSZ
    uint32_t rows = 0, cols = 0, xpixel = 0, ypixel = 0;
    // The session whose controlling terminal it is (its leader is in the
    // tree), and that session's foreground process group; 0: none.
    int32_t sid = 0;
    int32_t foregroundPgrp = 0;
    // Bytes typed but not yet read by the tree at dump (FIONREAD on the
    // slave; informational, not carried: a new pty starts empty, the
    // original one still holds them).
    uint64_t inputQueued = 0;

    friend bool operator==(const TerminalRecord &, const TerminalRecord &) = default;
};

// ---- trailer ----------------------------------------------------------------

struct EndRecord {
    uint64_t sections = 0; // number of sections before this one
    uint64_t pagesStored = 0; // total pages in PagesRecords
    uint64_t rawBytes = 0; // sum of uncompressed section payloads

    friend bool operator==(const EndRecord &, const EndRecord &) = default;
};

} // namespace cryopod::image
