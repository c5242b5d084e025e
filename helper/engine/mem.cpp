// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "mem.h"

#include "cputime.h"
#include "files.h"
#include "pstree.h"
#include "uniquefd.h"
#include "vdso.h"

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace cryopod::engine
{

// ---- dump

std::string hexRange(uint64_t start, uint64_t end)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%llx-%llx", static_cast<unsigned long long>(start), static_cast<unsigned long long>(end));
    return buf;
}

namespace
{

constexpr uint64_t kPage = 4096;

bool isSharedMapping(const procfs::Mapping &m)
{
    // "s" in maps is VM_MAYSHARE; a MAP_SHARED mapping of a file opened
    // read-only has "ms" without "sh".
    return m.shared || m.hasVmFlag("sh") || m.hasVmFlag("ms");
}

// MAP_PRIVATE of /dev/zero: the kernel makes it anonymous memory (no page
// comes from the device), though maps still names /dev/zero. MAP_SHARED of
// it is shmem instead and shows as "/dev/zero (deleted)".
bool isPrivateDevZero(const procfs::Mapping &m)
{
    return !isSharedMapping(m) && m.inode != 0 && m.path == "/dev/zero";
}

// MAP_SHARED anonymous memory and MAP_SHARED of /dev/zero: a shmem file the
// kernel names "dev/zero", unlinked (shmem.h).
bool isSharedZero(const procfs::Mapping &m)
{
    return isSharedMapping(m) && m.inode != 0 && (m.path == "/dev/zero (deleted)" || m.path == "/dev/zero");
}

bool isAnonymousPath(const procfs::Mapping &m)
{
    return m.inode == 0 && (m.path.empty() || m.path == "[heap]" || m.path == "[stack]" || m.path.starts_with("[anon:"));
}

// stat of the file behind a file mapping, through /proc/PID/map_files (the
// mapped file itself, even when renamed or deleted).
Result<struct stat> statMappedFile(pid_t pid, const procfs::Mapping &m)
{
    struct stat st{};
    const std::string link = procfs::path(pid, "map_files/" + hexRange(m.start, m.end));
    if (::stat(link.c_str(), &st) != 0) {
        return sysError("stat " + link);
    }
    return st;
}

// Where MappedFiles keeps what it knows of the file of mapping `m` of a
// process whose root directory is `root`.
decltype(MappedFiles::facts)::key_type mappedFileKey(const std::pair<uint64_t, uint64_t> &root, const procfs::Mapping &m)
{
    return {root.first, root.second, m.path, (uint64_t(m.devMajor) << 32) | m.devMinor, m.inode};
}

} // namespace

const struct stat *MappedFiles::mappedOf(pid_t pid, const procfs::Mapping &mapping) const
{
    const auto root = roots.find(pid);
    if (root == roots.end() || !root->second) {
        return nullptr;
    }
    const auto it = facts.find(mappedFileKey(*root->second, mapping));
    return it != facts.end() && it->second.mappedKnown ? &it->second.mapped : nullptr;
}

image::VmaKind vmaKindOf(const procfs::Mapping &m)
{
    if (const auto special = specialMappingKind(m.path)) {
        return *special;
    }
    const bool shared = isSharedMapping(m);
    if ((m.inode == 0 && !m.path.starts_with("/")) || isPrivateDevZero(m) || isSharedZero(m)) {
        return shared ? image::VmaKind::SharedAnonymous : image::VmaKind::Anonymous;
    }
    return shared ? image::VmaKind::FileShared : image::VmaKind::FilePrivate;
}

MappingCheck checkMapping(pid_t pid, const procfs::Mapping &m, MappedFiles *files)
{
    const std::string where = "mapping " + hexRange(m.start, m.end) + (m.path.empty() ? std::string() : " (" + m.path + ")");
    auto refuse = [&where](const std::string &why) {
        return MappingCheck{Verdict::Refused, where + ": " + why};
    };
    if (specialMappingKind(m.path)) {
        return {};
    }
    if (m.hasVmFlag("ht")) {
        return refuse("hugetlb memory is not supported by engine v1");
    }
    if (m.hasVmFlag("ss")) {
        return refuse("a shadow stack (CET) is not supported by engine v1");
    }
    if (m.hasVmFlag("uw") || m.hasVmFlag("ui")) {
        return refuse("memory registered with userfaultfd is not supported by engine v1");
    }
    if (m.path.starts_with("/SYSV") && m.deleted() && (m.shared || m.hasVmFlag("sh"))) {
        // A SysV shared memory attach: the segment is saved once, with its id
        // (sysvipc.h); attached by a process outside the checkpoint too, it
        // is refused when the checkpoint links the objects. Only whole
        // attaches are restored (shmat attaches the whole segment).
        shmid_ds ds{};
        const uint64_t paged = ::shmctl(int(m.inode), IPC_STAT, &ds) == 0 ? (uint64_t(ds.shm_segsz) + kPage - 1) / kPage * kPage : 0;
        if (paged != 0 && (m.offset != 0 || m.end - m.start != paged)) {
            return refuse("only a part of SysV shared memory segment " + std::to_string(m.inode) +
                          " is attached here (unmapped or mprotected in part): not supported");
        }
        return {};
    }
    if (m.path.starts_with("/memfd:") && m.deleted()) {
        // A memfd, mapped shared or private: saved once per memfd (shmem.h).
        auto mapped = statMappedFile(pid, m);
        if (!mapped || isMemfd(m.pathWithoutDeleted(), uint64_t(mapped->st_nlink))) {
            return {}; // (without CAP_SYS_ADMIN map_files is closed: the name has to do)
        }
    }
    if (isSharedZero(m)) {
        // Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS or of /dev/zero):
        // saved once per object (shmem.h). Shared with a process outside the
        // checkpoint it is refused when the checkpoint links the objects.
        return {};
    }
    if (m.path.starts_with("[anon_shmem:")) {
        return refuse("named shared anonymous memory (PR_SET_VMA on MAP_SHARED memory) is not yet supported");
    }
    if (m.hasVmFlag("io") || m.hasVmFlag("pf")) {
        return refuse("a device mapping (VM_IO/VM_PFNMAP) cannot be checkpointed");
    }
    if (m.path.starts_with("[") && !isAnonymousPath(m)) {
        return refuse("special mapping " + m.path + " is not supported by engine v1");
    }
    if (isSharedMapping(m)) {
        if (m.inode == 0 && !m.path.starts_with("/")) {
            return refuse("shared anonymous memory (MAP_SHARED) is not yet supported (engine v1)");
        }
        if (m.deleted()) {
            // Its name is gone: the contents are saved, restore makes a new
            // unnamed file (shmem.h). Only for regular files.
            auto mapped = statMappedFile(pid, m);
            if (mapped && !S_ISREG(mapped->st_mode)) {
                return refuse("a shared mapping of a deleted special file is not supported");
            }
            return {};
        }
        // Its contents are the file's (writable: written back while frozen),
        // restore maps the file again (see mem.h, shmem.h).
    }
    if (m.inode == 0 && !m.path.starts_with("/")) {
        return {}; // private anonymous
    }
    if (isPrivateDevZero(m)) {
        // Anonymous memory, saved and restored as such, once it is sure that
        // the file is the zero device (major 1, minor 5).
        auto mapped = statMappedFile(pid, m);
        if (mapped && !(S_ISCHR(mapped->st_mode) && major(mapped->st_rdev) == 1 && minor(mapped->st_rdev) == 5)) {
            return refuse("a mapping of a special file is not supported by engine v1");
        }
        return {}; // (without CAP_SYS_ADMIN map_files is closed: the name has to do)
    }
    if (m.path.starts_with("anon_inode:")) {
        // Kernel objects' memory (an io_uring's rings): refused with the fd that made it.
        return refuse("the memory of a kernel object (" + m.path + ", see the fd refused for it) is not supported");
    }
    // A file mapping: restore maps the file again by path.
    if (m.deleted()) {
        return refuse("the mapped file was deleted, engine v1 cannot map it again");
    }
    // What a process of the same tree with the same root showed of the
    // same file, or looked up now.
    MappedFiles::Facts own;
    MappedFiles::Facts *facts = &own;
    bool known = false;
    if (files) {
        auto root = files->roots.find(pid);
        if (root == files->roots.end()) {
            struct stat st{};
            std::optional<std::pair<uint64_t, uint64_t>> id;
            if (::stat(procfs::path(pid, "root").c_str(), &st) == 0) {
                id.emplace(st.st_dev, st.st_ino);
            }
            root = files->roots.emplace(pid, id).first;
        }
        if (root->second) {
            const auto [it, inserted] = files->facts.try_emplace(mappedFileKey(*root->second, m));
            facts = &it->second;
            known = !inserted;
        }
    }
    if (!known) {
        const std::string viaRoot = procfs::path(pid, "root") + m.path;
        facts->pathErrno = ::stat(viaRoot.c_str(), &facts->byPath) != 0 ? errno : 0;
    }
    if (facts->pathErrno != 0) {
        return refuse("the mapped file is no longer at that path: " + std::string(std::strerror(facts->pathErrno)));
    }
    const struct stat &byPath = facts->byPath;
    Result<struct stat> mapped = facts->mappedKnown ? Result<struct stat>(facts->mapped) : statMappedFile(pid, m);
    if (mapped && !facts->mappedKnown) {
        facts->mapped = *mapped;
        facts->mappedKnown = true;
    }
    if (!mapped) {
        if (mapped.error().code != EPERM && mapped.error().code != EACCES) {
            return refuse("cannot inspect the mapped file: " + mapped.error().describe());
        }
        // Without CAP_SYS_ADMIN (an unprivileged report) map_files is closed:
        // the inode number that maps shows has to do.
        if (uint64_t(byPath.st_ino) != m.inode) {
            return refuse("the mapped file was replaced since it was mapped (another file is at that path now)");
        }
    } else if (byPath.st_dev != mapped->st_dev || byPath.st_ino != mapped->st_ino) {
        return refuse("the mapped file was replaced since it was mapped (another file is at that path now)");
    }
    if (!S_ISREG(byPath.st_mode)) {
        return refuse("a mapping of a special file is not supported by engine v1");
    }
    return {};
}

Result<image::MmRecord> dumpMm(pid_t pid, const std::vector<procfs::Mapping> &mappings, const procfs::Stat &stat, uint64_t brk, const MappedFiles &files)
{
    const std::string what = "mm of " + std::to_string(pid);
    image::MmRecord mm;
    mm.pid = pid;
    // proc(5) field numbers.
    mm.startCode = stat.number(26);
    mm.endCode = stat.number(27);
    mm.startStack = stat.number(28);
    mm.startData = stat.number(45);
    mm.endData = stat.number(46);
    mm.startBrk = stat.number(47);
    mm.argStart = stat.number(48);
    mm.argEnd = stat.number(49);
    mm.envStart = stat.number(50);
    mm.envEnd = stat.number(51);
    mm.brk = brk;
    if (stat.fields.size() < 51 || (mm.startCode == 0 && mm.endCode == 0 && mm.startStack == 0)) {
        return fail(what + ": /proc/" + std::to_string(pid) + "/stat does not show the mm fields (no access, or a kernel thread)", EPERM);
    }

    auto auxv = procfs::readAuxv(pid);
    if (!auxv) {
        return std::unexpected(auxv.error().context(what));
    }
    mm.auxv = std::move(*auxv);
    auto exe = procfs::readLink(procfs::path(pid, "exe"));
    if (!exe) {
        return std::unexpected(exe.error().context(what));
    }
    mm.exePath = std::move(*exe);

    mm.vmas.reserve(mappings.size());
    for (const procfs::Mapping &m : mappings) {
        image::VmaRecord vma;
        vma.start = m.start;
        vma.end = m.end;
        vma.prot = (m.read ? image::kVmaRead : 0) | (m.write ? image::kVmaWrite : 0) | (m.exec ? image::kVmaExec : 0);
        vma.flags = (m.hasVmFlag("gd") ? image::kVmaGrowsDown : 0) | (m.hasVmFlag("lo") ? image::kVmaLocked : 0)
            | (m.hasVmFlag("dc") ? image::kVmaDontFork : 0) | (m.hasVmFlag("wf") ? image::kVmaWipeOnFork : 0)
            | (isSharedMapping(m) && m.hasVmFlag("mw") ? image::kVmaMayWrite : 0);
        vma.kind = vmaKindOf(m);
        // A private /dev/zero mapping is plain anonymous memory: no name, so
        // that it is recreated (and kept apart from its neighbours) as such.
        vma.path = isPrivateDevZero(m) ? std::string() : m.pathWithoutDeleted();
        if (vma.kind == image::VmaKind::SharedAnonymous) {
            vma.pgoff = m.offset; // in its shmem object (shmem.h)
        }
        if (vma.kind == image::VmaKind::FilePrivate || vma.kind == image::VmaKind::FileShared) {
            vma.pgoff = m.offset;
            const struct stat *known = files.mappedOf(pid, m);
            auto st = known ? Result<struct stat>(*known) : statMappedFile(pid, m);
            if (st) {
                vma.dev = st->st_dev;
                vma.ino = st->st_ino;
                vma.fileSize = uint64_t(st->st_size);
            } else {
                vma.dev = makedev(m.devMajor, m.devMinor);
                vma.ino = m.inode;
            }
        }
        mm.vmas.push_back(std::move(vma));
    }
    std::sort(mm.vmas.begin(), mm.vmas.end(), [](const image::VmaRecord &a, const image::VmaRecord &b) {
        return a.start < b.start;
    });

    auto hash = dumpVdsoHash(pid, mm);
    if (!hash) {
        return std::unexpected(hash.error().context(what));
    }
    mm.vdsoHash = *hash;
    return mm;
}

namespace
{

// Anonymous page-aligned memory, unmapped in the destructor.
class MappedBuffer
{
public:
    MappedBuffer() = default;
    ~MappedBuffer()
    {
        reset();
    }
    MappedBuffer(const MappedBuffer &) = delete;
    MappedBuffer &operator=(const MappedBuffer &) = delete;

    Result<void> allocate(size_t size)
    {
        void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) {
            return sysError("allocate a " + std::to_string(size >> 20) + " MiB page buffer");
        }
        m_data = static_cast<uint8_t *>(p);
        m_size = size;
        return {};
    }
    void reset()
    {
        if (m_data) {
            ::munmap(m_data, m_size);
        }
        m_data = nullptr;
        m_size = 0;
    }
    uint8_t *data() const
    {
        return m_data;
    }
    size_t size() const
    {
        return m_size;
    }

private:
    uint8_t *m_data = nullptr;
    size_t m_size = 0;
};

// A run of wanted pages inside one VMA.
struct Range {
    uint64_t addr = 0;
    uint64_t pages = 0;
    bool readable = true; // else read through /proc/PID/mem
    // A copy-on-write page of a private file mapping is kept even when it
    // is all zero: a hole there is the file's page on restore.
    bool keepZero = false;
};

// A piece of a Range, as one read takes it.
struct Slice {
    Range range;
    bool continues = false; // goes on with the range the previous slice ended in
};

struct Batch {
    MappedBuffer buffer;
    pid_t pid = 0; // whose pages: a batch holds one process's
    size_t capacityPages = 0;
    std::vector<Range> ranges; // what to read, in buffer order
    size_t pages = 0; // sum of ranges[].pages
    std::vector<image::PageRun> runs; // after zero pages are removed
    size_t dataBytes = 0;
    std::optional<uint64_t> checksum; // of its Pages section, when the reader made it

    void clear()
    {
        ranges.clear();
        pages = 0;
        runs.clear();
        dataBytes = 0;
        checksum.reset();
    }
};

using u64a = uint64_t __attribute__((may_alias));

bool isZeroPage(const uint8_t *page)
{
    const auto *w = reinterpret_cast<const u64a *>(page);
    for (size_t i = 0; i < kPage / 8; i += 8) {
        if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) != 0) {
            return false;
        }
    }
    return true;
}

// Reads a batch's ranges into its buffer, removes the zero pages and builds
// its page runs.
class BatchReader
{
public:
    explicit BatchReader(pid_t pid)
        : m_pid(pid)
    {
    }

    // In pieces of `pieceBytes` (0: all at once): each piece is scanned
    // right after it is read, while it is still in the cache.
    Result<void> read(Batch &batch, PagesStats &stats, size_t pieceBytes, bool cpuTimes)
    {
        uint8_t *const base = batch.buffer.data();
        const uint64_t piecePages = pieceBytes == 0 ? batch.pages : std::max<uint64_t>(pieceBytes / kPage, 1);
        batch.runs.clear();
        Cursor cursor;
        Scan scan;
        for (uint64_t done = 0; done < batch.pages;) {
            const uint64_t pages = std::min<uint64_t>(piecePages, batch.pages - done);
            sliceRanges(batch, cursor, pages);
            const uint64_t t0 = monotonicNs(), c0 = cpuTimes ? image::threadCpuNs() : 0;
            CRYOPOD_PROPAGATE(readRanges(m_slices, base + done * kPage));
            const uint64_t t1 = monotonicNs(), c1 = cpuTimes ? image::threadCpuNs() : 0;
            compact(batch, m_slices, scan, stats.zeroPages);
            stats.readNs += t1 - t0;
            stats.scanNs += monotonicNs() - t1;
            if (cpuTimes) {
                stats.readCpuNs += c1 - c0;
                stats.scanCpuNs += image::threadCpuNs() - c1;
            }
            done += pages;
        }
        batch.dataBytes = scan.dst;
        return {};
    }

private:
    // Where the next piece starts: a range of the batch and a page in it.
    struct Cursor {
        size_t range = 0;
        uint64_t page = 0;
    };
    // The compaction so far: bytes kept at the start of the buffer, and
    // whether the last page kept ends a run that the next page may extend.
    struct Scan {
        size_t src = 0;
        size_t dst = 0;
        bool runOpen = false;
    };

    // m_slices = the next `pages` pages of the batch's ranges from `cursor`,
    // split where a range ends; `continues` marks a slice that goes on with
    // the range the previous piece ended in.
    void sliceRanges(const Batch &batch, Cursor &cursor, uint64_t pages)
    {
        m_slices.clear();
        while (pages > 0) {
            const Range &r = batch.ranges[cursor.range];
            const uint64_t take = std::min(r.pages - cursor.page, pages);
            m_slices.push_back(Slice{Range{r.addr + cursor.page * kPage, take, r.readable, r.keepZero}, cursor.page != 0});
            cursor.page += take;
            pages -= take;
            if (cursor.page == r.pages) {
                ++cursor.range;
                cursor.page = 0;
            }
        }
    }

    Result<int> memFd()
    {
        if (!m_mem) {
            const std::string file = procfs::path(m_pid, "mem");
            m_mem.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
            if (!m_mem) {
                return sysError("open " + file);
            }
        }
        return m_mem.get();
    }

    // /proc/PID/mem for what process_vm_readv refuses (PROT_NONE and such).
    Result<void> readThroughMem(uint64_t addr, uint8_t *out, size_t bytes)
    {
        auto fd = memFd();
        if (!fd) {
            return std::unexpected(fd.error());
        }
        size_t done = 0;
        while (done < bytes) {
            const ssize_t n = ::pread(*fd, out + done, bytes - done, off_t(addr + done));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                if (n == 0) {
                    errno = EIO;
                }
                return sysError("read memory of " + std::to_string(m_pid) + " at 0x" + hexRange(addr + done, addr + bytes));
            }
            done += size_t(n);
        }
        return {};
    }

    // Reads the slices, back to back, into `base`.
    Result<void> readRanges(std::span<const Slice> slices, uint8_t *const base)
    {
        size_t offset = 0; // in the buffer, of slices[i]
        size_t i = 0;
        while (i < slices.size()) {
            const Range &first = slices[i].range;
            if (!first.readable) {
                CRYOPOD_PROPAGATE(readThroughMem(first.addr, base + offset, first.pages * kPage));
                offset += first.pages * kPage;
                ++i;
                continue;
            }
            // Up to IOV_MAX readable ranges in one call, into one local iovec.
            m_remote.clear();
            size_t bytes = 0;
            for (size_t j = i; j < slices.size() && m_remote.size() < IOV_MAX && slices[j].range.readable; ++j) {
                m_remote.push_back(iovec{reinterpret_cast<void *>(slices[j].range.addr), slices[j].range.pages * kPage});
                bytes += slices[j].range.pages * kPage;
            }
            iovec local{base + offset, bytes};
            ssize_t n = ::process_vm_readv(m_pid, &local, 1, m_remote.data(), m_remote.size(), 0);
            if (n < 0) {
                if (errno == ESRCH) {
                    return sysError("read memory of " + std::to_string(m_pid));
                }
                n = 0; // the first range failed: handled below
            }
            // Skip the ranges read in full.
            size_t got = size_t(n);
            size_t j = 0;
            while (j < m_remote.size() && got >= m_remote[j].iov_len) {
                got -= m_remote[j].iov_len;
                offset += m_remote[j].iov_len;
                ++j;
            }
            i += j;
            if (j < m_remote.size()) {
                // Range i stopped after `got` bytes: take the rest through
                // /proc/PID/mem, which also reads what process_vm_readv refuses.
                const Range &r = slices[i].range;
                CRYOPOD_PROPAGATE(readThroughMem(r.addr + got, base + offset + got, r.pages * kPage - got));
                offset += r.pages * kPage;
                ++i;
            }
        }
        return {};
    }

    // Drops the zero pages of the slices just read (the buffer from
    // scan.src on): the pages kept move down to scan.dst, and the batch's
    // runs grow. A run never spans two ranges.
    static void compact(Batch &batch, std::span<const Slice> slices, Scan &scan, uint64_t &zeroPages)
    {
        uint8_t *const base = batch.buffer.data();
        for (const Slice &slice : slices) {
            if (!slice.continues) {
                scan.runOpen = false;
            }
            for (uint64_t p = 0; p < slice.range.pages; ++p, scan.src += kPage) {
                if (!slice.range.keepZero && isZeroPage(base + scan.src)) {
                    ++zeroPages;
                    scan.runOpen = false;
                    continue;
                }
                if (scan.dst != scan.src) {
                    std::memcpy(base + scan.dst, base + scan.src, kPage);
                }
                scan.dst += kPage;
                if (scan.runOpen) {
                    ++batch.runs.back().pages;
                } else {
                    batch.runs.push_back(image::PageRun{slice.range.addr + p * kPage, 1});
                    scan.runOpen = true;
                }
            }
        }
    }

    pid_t m_pid;
    UniqueFd m_mem;
    std::vector<Slice> m_slices;
    std::vector<iovec> m_remote;
};

// Writes filled batches, in the order they come, on its own thread while
// the caller reads the next ones.
class BatchWriter
{
public:
    BatchWriter(image::ImageWriter &writer, bool threaded, bool cpuTimes)
        : m_writer(writer)
        , m_cpuTimes(cpuTimes)
    {
        if (threaded) {
            m_thread = std::thread([this] {
                run();
            });
        }
    }
    ~BatchWriter()
    {
        // Reached without finish() only on an error path: drop what is queued.
        {
            std::lock_guard lock(m_mutex);
            m_abandon = true;
        }
        stop();
    }
    BatchWriter(const BatchWriter &) = delete;
    BatchWriter &operator=(const BatchWriter &) = delete;

    // Queues a filled batch (or writes it at once without a thread).
    Result<void> submit(Batch *batch)
    {
        if (!m_thread.joinable()) {
            auto r = write(*batch);
            batch->clear();
            return r;
        }
        std::lock_guard lock(m_mutex);
        if (m_error) {
            return std::unexpected(*m_error);
        }
        m_queue.push_back(batch);
        m_cv.notify_all();
        return {};
    }

    // Waits until `batch` is no longer queued or being written (nullptr:
    // until nothing is); the writer's first error, if any.
    Result<void> waitIdle(const Batch *batch)
    {
        if (!m_thread.joinable()) {
            return {};
        }
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] {
            if (batch == nullptr) {
                return m_busy == nullptr && m_queue.empty();
            }
            return m_busy != batch && std::find(m_queue.begin(), m_queue.end(), batch) == m_queue.end();
        });
        if (m_error) {
            return std::unexpected(*m_error);
        }
        return {};
    }

    // Whether a batch is being written or waits to be (a moment's answer).
    bool busy()
    {
        if (!m_thread.joinable()) {
            return false;
        }
        std::lock_guard lock(m_mutex);
        return m_busy != nullptr || !m_queue.empty();
    }

    // CPU time spent in writePages (with cpuTimes; read after finish()).
    uint64_t cpuNs() const
    {
        return m_cpuNs;
    }

    // Writes everything queued and stops the thread; the first error, if any.
    Result<void> finish()
    {
        stop();
        if (m_error) {
            return std::unexpected(*m_error);
        }
        return {};
    }

private:
    Result<void> write(Batch &batch)
    {
        if (batch.runs.empty()) {
            return {};
        }
        const uint64_t c0 = m_cpuTimes ? image::threadCpuNs() : 0;
        auto r = m_writer.writePages(batch.pid, batch.runs, std::span<const uint8_t>(batch.buffer.data(), batch.dataBytes), batch.checksum);
        if (m_cpuTimes) {
            m_cpuNs += image::threadCpuNs() - c0;
        }
        if (!r) {
            return std::unexpected(r.error().context("pages of " + std::to_string(batch.pid)));
        }
        return {};
    }

    void run()
    {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_cv.wait(lock, [this] {
                return !m_queue.empty() || m_stopping;
            });
            if (m_queue.empty()) {
                return;
            }
            Batch *batch = m_queue.front();
            m_queue.pop_front();
            m_busy = batch;
            const bool failed = m_error.has_value() || m_abandon;
            lock.unlock();
            Result<void> r;
            if (!failed) {
                r = write(*batch);
            }
            batch->clear();
            lock.lock();
            if (!r && !m_error) {
                m_error = r.error();
            }
            m_busy = nullptr;
            m_cv.notify_all();
        }
    }

    void stop()
    {
        if (m_thread.joinable()) {
            {
                std::lock_guard lock(m_mutex);
                m_stopping = true;
                m_cv.notify_all();
            }
            m_thread.join();
        }
    }

    image::ImageWriter &m_writer;
    bool m_cpuTimes;
    uint64_t m_cpuNs = 0; // only the writing thread adds to it
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Batch *> m_queue;
    Batch *m_busy = nullptr;
    bool m_stopping = false;
    bool m_abandon = false;
    std::optional<Error> m_error;
};

constexpr uint64_t kPmPresent = 1ull << 63;
constexpr uint64_t kPmSwap = 1ull << 62;
constexpr uint64_t kPmFile = 1ull << 61; // file page or shared anonymous
// A guard region (MADV_GUARD_INSTALL, Linux 6.13) shows as a swap entry with
// this bit: there is nothing to read. v1 does not recreate guard regions.
constexpr uint64_t kPmGuardRegion = 1ull << 58;
constexpr uint64_t kPmPfnMask = (1ull << 55) - 1;

// PAGEMAP_SCAN's category of a guard region (Linux 6.15; the headers here
// may be older). A kernel that does not know it refuses the scan (EINVAL):
// one that has guard regions but cannot name them would show them swapped.
constexpr uint64_t kPageIsGuard = 1ull << 8;

// PAGEMAP_SCAN over [start, end) of pagemap's process: the pages that are
// present or swapped, in regions of equal categories (present, swapped, the
// shared zero page, guard, and with `file` a file's own page: that one
// costs the kernel a look at every page's frame, so only for file
// mappings). Returns how many regions it filled in `regions`; `next` is
// where to go on: end, or where it stopped when `regions` is full.
//
// The kernel's own walk_end cannot say that: a scan that fills its
// internal buffer (512 regions) more than once and then ends leaves it
// where the buffer was full the last time (seen on 6.18, a scan of 958
// regions said 0x...f0c000 after regions up to 0x...5fe000). A scan that
// returns fewer regions than `regions` holds went to the end; one that
// fills them stopped at walk_end, or after its last region if that is
// further.
Result<size_t> scanPagemap(int pagemap, uint64_t start, uint64_t end, bool file, std::span<page_region> regions, uint64_t &next)
{
    pm_scan_arg arg{};
    arg.size = sizeof arg;
    arg.start = start;
    arg.end = end;
    arg.vec = reinterpret_cast<uintptr_t>(regions.data());
    arg.vec_len = regions.size();
    arg.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
    arg.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO | kPageIsGuard | (file ? PAGE_IS_FILE : 0);
    long n;
    do {
        n = ::ioctl(pagemap, PAGEMAP_SCAN, &arg);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return sysError("PAGEMAP_SCAN");
    }
    next = n == 0 || size_t(n) < regions.size() ? end : std::max<uint64_t>(arg.walk_end, regions[size_t(n) - 1].end);
    return size_t(n);
}

} // namespace

// Two pages of our own, only read, both map it; two pages of the same frame
// prove that it is the shared one.
uint64_t sharedZeroPfn()
{
    void *m = ::mmap(nullptr, 2 * kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return 0;
    }
    const volatile uint8_t *bytes = static_cast<const volatile uint8_t *>(m);
    (void)bytes[0];
    (void)bytes[kPage];
    uint64_t e[2] = {};
    UniqueFd fd(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
    const ssize_t n = fd ? ::pread(fd.get(), e, sizeof e, off_t(uintptr_t(m) / kPage * 8)) : -1;
    ::munmap(m, 2 * kPage);
    if (n != ssize_t(sizeof e) || !(e[0] & kPmPresent) || !(e[1] & kPmPresent) || (e[0] & kPmPfnMask) == 0 || (e[0] & kPmPfnMask) != (e[1] & kPmPfnMask)) {
        return 0;
    }
    return e[0] & kPmPfnMask;
}

namespace
{

// One process's part of the page dump.
struct ProcessPages {
    pid_t pid;
    const std::string &what; // "pages of PID ...", for errors
    BatchReader &reader;
    size_t capacityPages; // of each of its batches
};

} // namespace

constexpr size_t kZstdBatchBytes = 8u << 20;
constexpr size_t kRawBatchBytes = 1u << 20;

struct PageDump::Private {
    Private(image::ImageWriter &imageWriter, const PagesOptions &opts)
        : options(opts)
        , batchBytes(std::max<size_t>((opts.batchBytes != 0 ? opts.batchBytes : imageWriter.compresses() ? kZstdBatchBytes : kRawBatchBytes) / kPage * kPage,
                                      64 * kPage))
        , zeroPfn(opts.zeroPfnHoles ? sharedZeroPfn() : 0)
        , batchCount(std::clamp<size_t>(opts.buffers, 2, 16))
        , batches(std::make_unique<Batch[]>(batchCount))
        , writer(imageWriter, opts.overlap, opts.cpuTimes)
        , compresses(imageWriter.compresses())
    {
        stats.batchBytes = batchBytes;
    }

    // Makes batches[current] the next batch of `process`: waits until the
    // writer is done with it, and gives it a buffer big enough.
    Result<void> openBatch(const ProcessPages &process)
    {
        Batch &batch = batches[current];
        const uint64_t t0 = monotonicNs();
        auto idle = writer.waitIdle(&batch);
        stats.writeWaitNs += monotonicNs() - t0;
        CRYOPOD_PROPAGATE(idle);
        if (batch.buffer.size() < process.capacityPages * kPage) {
            // The first process's need at first (a small process needs no
            // batchBytes), the largest batch once a bigger one comes.
            const size_t size = batch.buffer.data() ? batchBytes : process.capacityPages * kPage;
            batch.buffer.reset();
            auto r = batch.buffer.allocate(size);
            if (!r) {
                return std::unexpected(r.error().context(process.what));
            }
        }
        batch.pid = process.pid;
        batch.capacityPages = process.capacityPages;
        batchOpen = true;
        return {};
    }

    // Reads the open batch and queues it; the next buffer becomes current.
    Result<void> flush(const ProcessPages &process)
    {
        Batch &batch = batches[current];
        if (!batchOpen || batch.pages == 0) {
            return {};
        }
        auto r = process.reader.read(batch, stats, options.pieceBytes, options.cpuTimes);
        if (!r) {
            return std::unexpected(r.error().context(process.what));
        }
        stats.pagesSaved += batch.dataBytes / kPage;
        ++stats.batches;
        batchOpen = false;
        current = (current + 1) % batchCount;
        checksumIfWriterBusy(batch);
        return writer.submit(&batch);
    }

    // The reader's share of the writer's work (PagesOptions::readerChecksums).
    void checksumIfWriterBusy(Batch &batch)
    {
        using Who = PagesOptions::ReaderChecksums;
        if (compresses || batch.runs.empty() || options.readerChecksums == Who::Never || (options.readerChecksums == Who::WhenWriterBusy && !writer.busy())) {
            return;
        }
        const uint64_t c0 = options.cpuTimes ? image::threadCpuNs() : 0;
        batch.checksum = image::ImageWriter::uncompressedPagesChecksum(batch.pid, batch.runs, std::span<const uint8_t>(batch.buffer.data(), batch.dataBytes));
        if (options.cpuTimes) {
            stats.readerChecksumCpuNs += image::threadCpuNs() - c0;
        }
        ++stats.readerChecksums;
    }

    Result<void> addRange(const ProcessPages &process, uint64_t addr, uint64_t pages, bool readable, bool keepZero)
    {
        while (pages > 0) {
            if (!batchOpen) {
                CRYOPOD_PROPAGATE(openBatch(process));
            }
            Batch &batch = batches[current];
            const uint64_t room = batch.capacityPages - batch.pages;
            const uint64_t take = std::min(room, pages);
            batch.ranges.push_back(Range{addr, take, readable, keepZero});
            batch.pages += take;
            addr += take * kPage;
            pages -= take;
            if (batch.pages == batch.capacityPages || batch.ranges.size() >= 4 * IOV_MAX) {
                CRYOPOD_PROPAGATE(flush(process));
            }
        }
        return {};
    }

    PagesOptions options;
    size_t batchBytes;
    uint64_t zeroPfn; // looked up once for the whole dump
    size_t batchCount;
    // Declared before the writer: unmapped after its thread is joined.
    std::unique_ptr<Batch[]> batches;
    BatchWriter writer;
    bool compresses; // the image's: only an uncompressed one takes the reader's checksums
    size_t current = 0; // the batch being filled
    bool batchOpen = false; // batches[current] is waited for and belongs to the process being read
    std::vector<uint64_t> entries; // pagemap entries, reused from process to process
    // PagesOptions::pagemapScan and a kernel that can: asked on the first
    // process (unknown until then).
    std::optional<bool> scan;
    std::vector<page_region> regions; // PAGEMAP_SCAN's, reused
    PagesStats stats;
    uint64_t startNs = 0;
};

PageDump::PageDump(image::ImageWriter &writer, const PagesOptions &options)
    : d(std::make_unique<Private>(writer, options))
{
}

PageDump::~PageDump() = default;

const PagesStats &PageDump::stats() const
{
    return d->stats;
}

Result<void> PageDump::add(pid_t pid, const image::MmRecord &mm, const std::vector<procfs::Mapping> &mappings, pid_t source)
{
    Private &p = *d;
    const std::string what = "pages of " + std::to_string(pid) + (source ? " (from its copy " + std::to_string(source) + ")" : std::string());
    if (source == 0) {
        source = pid;
    }
    if (p.startNs == 0) {
        p.startNs = monotonicNs();
    }

    const std::string pagemapFile = procfs::path(source, "pagemap");
    UniqueFd pagemap(::open(pagemapFile.c_str(), O_RDONLY | O_CLOEXEC));
    if (!pagemap) {
        return sysError(what + ": open " + pagemapFile);
    }

    // A small process needs no batchBytes per batch: smaps says how many
    // pages there can be at most.
    size_t capacityBytes = p.batchBytes;
    const bool haveCounters = mappings.size() == mm.vmas.size();
    if (haveCounters) {
        uint64_t upperKiB = 0;
        for (size_t v = 0; v < mm.vmas.size(); ++v) {
            const image::VmaKind kind = mm.vmas[v].kind;
            if (kind == image::VmaKind::Anonymous) {
                upperKiB += mappings[v].rssKiB + mappings[v].swapKiB;
            } else if (kind == image::VmaKind::FilePrivate) {
                upperKiB += mappings[v].anonKiB + mappings[v].swapKiB;
            }
        }
        capacityBytes = size_t(std::clamp<uint64_t>(upperKiB * 1024, 16 * kPage, p.batchBytes));
    }
    BatchReader reader(source);
    const ProcessPages process {pid, what, reader, capacityBytes / kPage};
    p.batchOpen = false; // a batch holds one process's pages

    if (!p.scan) {
        uint64_t next = 0;
        p.scan = p.options.pagemapScan && scanPagemap(pagemap.get(), 0, 0, true, {}, next).has_value();
        if (*p.scan) {
            p.regions.resize(4096);
        }
    }
    // Without the scan: pagemap's entries, read in chunks.
    constexpr size_t kEntries = 64 * 1024; // 512 KiB of pagemap per read: 256 MiB of address space
    size_t chunkEntries = 0;
    if (!*p.scan) {
        uint64_t largestVmaPages = 1;
        for (const image::VmaRecord &vma : mm.vmas) {
            largestVmaPages = std::max<uint64_t>(largestVmaPages, (vma.end - vma.start) / kPage);
        }
        chunkEntries = size_t(std::min<uint64_t>(kEntries, largestVmaPages));
        if (p.entries.size() < chunkEntries) {
            p.entries.resize(chunkEntries);
        }
    }
    PagesStats &stats = p.stats;

    for (size_t v = 0; v < mm.vmas.size(); ++v) {
        const image::VmaRecord &vma = mm.vmas[v];
        const bool anonymous = vma.kind == image::VmaKind::Anonymous;
        if (!anonymous && vma.kind != image::VmaKind::FilePrivate) {
            continue; // special mappings are the kernel's; shared ones are refused
        }
        if (haveCounters && mappings[v].start == vma.start) {
            const procfs::Mapping &m = mappings[v];
            // Rss does not count the shared zero page; Anonymous counts the
            // copy-on-write pages of a file mapping.
            if (m.swapKiB == 0 && (anonymous ? m.rssKiB == 0 : m.anonKiB == 0)) {
                continue;
            }
        }
        const bool readable = vma.prot & image::kVmaRead;
        uint64_t runStart = 0, runPages = 0;
        // Pages to save, in runs as long as they are contiguous.
        auto save = [&](uint64_t start, uint64_t pages) -> Result<void> {
            if (runPages > 0 && runStart + runPages * kPage == start) {
                runPages += pages;
                return {};
            }
            if (runPages > 0) {
                CRYOPOD_PROPAGATE(p.addRange(process, runStart, runPages, readable, !anonymous));
            }
            runStart = start;
            runPages = pages;
            return {};
        };
        // The page tables in regions (PAGEMAP_SCAN): in anonymous memory
        // the kernel looks at no page's frame, where a pagemap entry tells
        // whether each page is mapped once (~100 ns a page).
        if (*p.scan) {
            for (uint64_t addr = vma.start; addr < vma.end;) {
                const uint64_t t0 = monotonicNs(), c0 = p.options.cpuTimes ? image::threadCpuNs() : 0;
                uint64_t next = addr;
                auto filled = scanPagemap(pagemap.get(), addr, vma.end, !anonymous, p.regions, next);
                ++stats.pagemapScans;
                stats.pagemapNs += monotonicNs() - t0;
                if (p.options.cpuTimes) {
                    stats.pagemapCpuNs += image::threadCpuNs() - c0;
                }
                if (!filled) {
                    return std::unexpected(filled.error().context(what + ": " + pagemapFile + " at 0x" + hexRange(addr, vma.end)));
                }
                for (size_t k = 0; k < *filled; ++k) {
                    const page_region &region = p.regions[k];
                    const uint64_t savedEnd = runStart + runPages * kPage;
                    if (region.start < addr || region.end > vma.end || region.start >= region.end || (runPages > 0 && region.start < savedEnd)) {
                        return fail(what + ": PAGEMAP_SCAN of " + pagemapFile + " at 0x" + hexRange(addr, vma.end) + " gave the region 0x"
                                        + hexRange(region.start, region.end) + " out of order",
                                    EIO);
                    }
                    const uint64_t pages = (region.end - region.start) / kPage;
                    const uint64_t c = region.categories;
                    // As below: the shared zero page is a hole of anonymous
                    // memory, a guard region nothing, a file's own page (not
                    // copied on write) the file's.
                    const bool guard = c & kPageIsGuard;
                    const bool zeroMapped = p.zeroPfn != 0 && anonymous && (c & PAGE_IS_PRESENT) && (c & PAGE_IS_PFNZERO);
                    stats.guardPages += guard ? pages : 0;
                    stats.zeroMappedPages += zeroMapped ? pages : 0;
                    if (!guard && !zeroMapped && (anonymous || !(c & PAGE_IS_FILE))) {
                        CRYOPOD_PROPAGATE(save(region.start, pages));
                    }
                }
                if (next <= addr) {
                    return fail(what + ": PAGEMAP_SCAN of " + pagemapFile + " at 0x" + hexRange(addr, vma.end) + " did not move on", EIO);
                }
                addr = next;
            }
        } else {
            for (uint64_t addr = vma.start; addr < vma.end;) {
                const size_t count = size_t(std::min<uint64_t>(chunkEntries, (vma.end - addr) / kPage));
                const size_t bytes = count * sizeof(uint64_t);
                const uint64_t t0 = monotonicNs(), c0 = p.options.cpuTimes ? image::threadCpuNs() : 0;
                size_t done = 0;
                while (done < bytes) {
                    const ssize_t n =
                        ::pread(pagemap.get(), reinterpret_cast<uint8_t *>(p.entries.data()) + done, bytes - done, off_t((addr / kPage) * 8 + done));
                    if (n < 0 && errno == EINTR) {
                        continue;
                    }
                    if (n <= 0) {
                        if (n == 0) {
                            errno = EIO;
                        }
                        return sysError(what + ": read " + pagemapFile + " at 0x" + hexRange(addr, vma.end));
                    }
                    done += size_t(n);
                }
                stats.pagemapNs += monotonicNs() - t0;
                if (p.options.cpuTimes) {
                    stats.pagemapCpuNs += image::threadCpuNs() - c0;
                }
                for (size_t k = 0; k < count; ++k) {
                    const uint64_t e = p.entries[k];
                    // The shared zero page: a hole, only in anonymous memory
                    // (a hole of a file mapping is the file's page on restore).
                    const bool zeroMapped = p.zeroPfn != 0 && anonymous && (e & kPmPresent) && (e & kPmPfnMask) == p.zeroPfn;
                    const bool want = (e & (kPmPresent | kPmSwap)) && !(e & kPmGuardRegion) && (anonymous || !(e & kPmFile)) && !zeroMapped;
                    stats.guardPages += (e & kPmGuardRegion) ? 1 : 0;
                    stats.zeroMappedPages += zeroMapped ? 1 : 0;
                    if (want) {
                        CRYOPOD_PROPAGATE(save(addr + k * kPage, 1));
                    }
                }
                addr += count * kPage;
            }
        }
        if (runPages > 0) {
            CRYOPOD_PROPAGATE(p.addRange(process, runStart, runPages, readable, !anonymous));
        }
    }
    CRYOPOD_PROPAGATE(p.flush(process));
    if (!p.options.acrossProcesses) {
        // Each process written before the next one is read (A/B runs).
        const uint64_t t0 = monotonicNs();
        auto idle = p.writer.waitIdle(nullptr);
        stats.writeWaitNs += monotonicNs() - t0;
        CRYOPOD_PROPAGATE(idle);
    }
    return {};
}

Result<void> PageDump::finish()
{
    Private &p = *d;
    const uint64_t t0 = monotonicNs();
    auto finished = p.writer.finish();
    p.stats.writeWaitNs += monotonicNs() - t0;
    p.stats.writerCpuNs = p.writer.cpuNs();
    p.stats.wallNs = p.startNs == 0 ? 0 : monotonicNs() - p.startNs;
    return finished;
}

PagesStats &PagesStats::operator+=(const PagesStats &other)
{
    pagesSaved += other.pagesSaved;
    zeroPages += other.zeroPages;
    zeroMappedPages += other.zeroMappedPages;
    guardPages += other.guardPages;
    pagemapScans += other.pagemapScans;
    batches += other.batches;
    batchBytes = std::max(batchBytes, other.batchBytes);
    pagemapNs += other.pagemapNs;
    readNs += other.readNs;
    scanNs += other.scanNs;
    writeWaitNs += other.writeWaitNs;
    pagemapCpuNs += other.pagemapCpuNs;
    readCpuNs += other.readCpuNs;
    scanCpuNs += other.scanCpuNs;
    writerCpuNs += other.writerCpuNs;
    readerChecksums += other.readerChecksums;
    readerChecksumCpuNs += other.readerChecksumCpuNs;
    wallNs += other.wallNs;
    return *this;
}

// ---- restore

namespace
{
std::string rangeText(uint64_t start, uint64_t end)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "0x%llx-0x%llx", static_cast<unsigned long long>(start), static_cast<unsigned long long>(end));
    return buf;
}

std::string vmaText(const image::VmaRecord &vma)
{
    return "vma " + rangeText(vma.start, vma.end) + (vma.path.empty() ? std::string() : " (" + vma.path + ")");
}

bool isSpecialKind(image::VmaKind kind)
{
    return kind == image::VmaKind::Vdso || kind == image::VmaKind::Vvar || kind == image::VmaKind::VvarVclock || kind == image::VmaKind::Vsyscall;
}

int protOf(const image::VmaRecord &vma)
{
    return ((vma.prot & image::kVmaRead) ? PROT_READ : 0) | ((vma.prot & image::kVmaWrite) ? PROT_WRITE : 0) | ((vma.prot & image::kVmaExec) ? PROT_EXEC : 0);
}

// Top of the user address space with 4-level paging; a 5-level machine could
// allow more, but an image from such a process is refused by mmap itself.
constexpr uint64_t kUserTop = 0x800000000000ull;
constexpr int kPrSetVma = 0x53564d41; // PR_SET_VMA (Linux 5.17)
constexpr int kPrSetVmaAnonName = 0;

struct PrctlMmMap {
    uint64_t startCode, endCode, startData, endData;
    uint64_t startBrk, brk, startStack;
    uint64_t argStart, argEnd, envStart, envEnd;
    uint64_t auxv;
    uint32_t auxvSize;
    uint32_t exeFd;
};
static_assert(sizeof(PrctlMmMap) == 104, "struct prctl_mm_map");
} // namespace

Result<void> validateMmForRestore(const image::MmRecord &mm, uint32_t pageSize)
{
    const uint64_t mask = uint64_t(pageSize) - 1;
    uint64_t previousEnd = 0;
    for (const image::VmaRecord &vma : mm.vmas) {
        const std::string what = "image " + vmaText(vma);
        if (vma.start >= vma.end || (vma.start & mask) || (vma.end & mask)) {
            return fail(what + ": not a page-aligned range", EINVAL);
        }
        if (vma.start < previousEnd) {
            return fail(what + ": overlaps the previous VMA or is out of order", EINVAL);
        }
        previousEnd = vma.end;
        switch (vma.kind) {
        case image::VmaKind::FileShared:
            // MAP_SHARED of a file: mapped again from the file, opened
            // read-write when the original could write (kVmaMayWrite). No
            // page data belongs to them: the memory is the file.
            if ((vma.prot & image::kVmaWrite) && !(vma.flags & image::kVmaMayWrite)) {
                return fail(what + ": writable shared file mapping without VM_MAYWRITE", EINVAL);
            }
            [[fallthrough]];
        case image::VmaKind::Anonymous:
        case image::VmaKind::FilePrivate:
            if (vma.end > kUserTop) {
                return fail(what + ": beyond the user address space", EINVAL);
            }
            if (vma.kind != image::VmaKind::Anonymous && (!vma.path.starts_with("/") || (vma.pgoff & mask))) {
                return fail(what + ": file mapping without an absolute path or with an unaligned offset", EINVAL);
            }
            break;
        case image::VmaKind::Vdso:
        case image::VmaKind::Vvar:
        case image::VmaKind::VvarVclock:
        case image::VmaKind::Vsyscall:
            break;
        case image::VmaKind::SharedAnonymous:
            if (vma.shm == 0 || vma.end > kUserTop) {
                return fail(what + ": shared anonymous memory without its object, or beyond the user address space", EINVAL);
            }
            break;
        default:
            return fail(what + ": unknown kind " + std::to_string(uint32_t(vma.kind)), EINVAL);
        }
    }
    if (mm.auxv.size() % 2 != 0 || mm.auxv.size() * 8 > 64 * 8 || (!mm.auxv.empty() && mm.auxv[mm.auxv.size() - 2] != 0)) {
        return fail("image auxv: " + std::to_string(mm.auxv.size()) + " words, not (type, value) pairs ending with AT_NULL", EINVAL);
    }
    if (mm.exePath.empty() || !mm.exePath.starts_with("/")) {
        return fail("image exe path '" + mm.exePath + "' is not absolute", EINVAL);
    }
    return {};
}

Result<uint64_t> findFreeRange(const image::MmRecord &mm,
                               const std::vector<procfs::Mapping> &current,
                               const std::vector<std::pair<uint64_t, uint64_t>> &avoid,
                               uint64_t size)
{
    std::vector<std::pair<uint64_t, uint64_t>> used = avoid;
    for (const image::VmaRecord &vma : mm.vmas) {
        used.emplace_back(vma.start, vma.end);
    }
    for (const procfs::Mapping &m : current) {
        used.emplace_back(m.start, m.end);
    }
    // Keep a guard gap around grows-down stacks and other VMAs: one page of
    // distance on each side keeps the kernel from merging our area with them.
    std::sort(used.begin(), used.end());
    // Start low (4 GiB) and walk up: a deterministic choice, far from the
    // places the kernel picks for mmap (near the stack) and for brk.
    uint64_t candidate = 0x100000000ull;
    for (const auto &[start, end] : used) {
        if (end + 4096 <= candidate) {
            continue;
        }
        if (candidate + size + 4096 <= start) {
            break;
        }
        candidate = std::max(candidate, (end + 4096 + 0xffff) & ~uint64_t(0xffff));
    }
    if (candidate + size > 0x7f0000000000ull) {
        return fail("no free address range of " + std::to_string(size) + " bytes", ENOMEM);
    }
    return candidate;
}

Result<void> unmapStubMappings(Injector &injector, RemoteScratch &scratch, const std::vector<procfs::Mapping> &current, uint64_t keepStart, uint64_t keepEnd)
{
    InjectBatch batch;
    for (const procfs::Mapping &m : current) {
        if (specialMappingKind(m.path) || (m.start >= keepStart && m.end <= keepEnd)) {
            continue;
        }
        batch.add("unmap stub mapping " + rangeText(m.start, m.end) + " (" + m.path + "): munmap", SYS_munmap, m.start, m.end - m.start);
    }
    return injector.run(batch, scratch);
}

// Would the kernel merge `vma` into `prev` if both were mapped fresh?
bool kernelWouldMerge(const image::VmaRecord &prev, const image::VmaRecord &vma)
{
    if (prev.end != vma.start || prev.kind != vma.kind || prev.prot != vma.prot || prev.flags != vma.flags) {
        return false;
    }
    if (vma.kind == image::VmaKind::Anonymous) {
        return prev.path == vma.path; // [anon:name] names keep them apart
    }
    // (Shared file mappings are left alone: PROT_WRITE is not allowed on
    // them, and the kernel merges them in the original just the same.)
    return vma.kind == image::VmaKind::FilePrivate && prev.dev == vma.dev && prev.ino == vma.ino && prev.pgoff + (prev.end - prev.start) == vma.pgoff;
}

Result<MappedVmas> restoreVmas(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm, const SharedMemoryObjects &shared)
{
    // One batch of injected calls for as many VMAs as the scratch space
    // holds (paths, names and the batch's table): the mmaps, the opens of
    // the mapped files (each file's fd stays open until every VMA is
    // mapped: the fd a mmap takes is the result of the open before it in
    // the same batch), then the checks that need the results, then the
    // closes in one more batch.
    const pid_t pid = injector.tracee().tid();
    MappedVmas mapped;
    mapped.prot.reserve(mm.vmas.size());
    const size_t scratchMark = scratch.used();
    struct OpenFile {
        std::string path;
        bool writable = false;
        size_t entry = SIZE_MAX; // its open in the batch being collected
        int fd = -1; // once known
        const image::VmaRecord *vma = nullptr; // the first one mapped from it
    };
    std::vector<OpenFile> files;
    struct Placed {
        size_t entry;
        const image::VmaRecord *vma;
    };
    std::vector<Placed> placed; // mmaps of the batch being collected
    InjectBatch batch;
    constexpr size_t kEntryBytes = 80; // the runner's table entry (ptrace_inject.cpp)
    auto closeAll = [&]() -> Result<void> {
        InjectBatch closes;
        for (const OpenFile &f : files) {
            if (f.fd >= 0) {
                closes.add("close " + f.path, SYS_close, uint64_t(f.fd));
            }
        }
        files.clear();
        return injector.run(closes, scratch);
    };
    auto flush = [&]() -> Result<void> {
        auto r = injector.run(batch, scratch);
        for (OpenFile &f : files) {
            if (f.entry != SIZE_MAX && f.entry < batch.results().size() && batch.results()[f.entry] >= 0) {
                f.fd = int(batch.results()[f.entry]);
            }
            f.entry = SIZE_MAX;
        }
        if (!r) {
            (void)closeAll();
            return r;
        }
        for (const Placed &m : placed) {
            if (batch.result(m.entry) != m.vma->start) {
                (void)closeAll();
                const uint64_t at = batch.result(m.entry);
                return fail("restore " + vmaText(*m.vma) + ": mmap placed it at " + rangeText(at, at + (m.vma->end - m.vma->start)), EEXIST);
            }
        }
        placed.clear();
        batch.clear();
        scratch.reset(scratchMark);
        return {};
    };
    // Room for `bytes` more in the scratch space beside the table of the
    // batch and a few more entries; else the batch runs first.
    auto makeRoom = [&](size_t bytes) -> Result<void> {
        const size_t need = scratch.used() + bytes + 16 + (batch.size() + 4) * kEntryBytes + 16;
        if (need > scratch.size() && !batch.empty()) {
            CRYOPOD_PROPAGATE(flush());
        }
        return {};
    };
    for (size_t i = 0; i < mm.vmas.size(); ++i) {
        const image::VmaRecord &vma = mm.vmas[i];
        mapped.prot.push_back(vma.prot);
        if (isSpecialKind(vma.kind)) {
            continue;
        }
        const std::string what = "restore " + vmaText(vma);
        const uint64_t length = vma.end - vma.start;
        if (i > 0 && kernelWouldMerge(mm.vmas[i - 1], vma)) {
            mapped.prot.back() |= (vma.prot & image::kVmaWrite) ? image::kVmaExec : image::kVmaWrite;
        }
        const int prot = ((mapped.prot.back() & image::kVmaRead) ? PROT_READ : 0) | ((mapped.prot.back() & image::kVmaWrite) ? PROT_WRITE : 0)
            | ((mapped.prot.back() & image::kVmaExec) ? PROT_EXEC : 0);
        if (vma.kind == image::VmaKind::Anonymous) {
            int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
            if (vma.flags & image::kVmaGrowsDown) {
                flags |= MAP_GROWSDOWN;
            }
            const bool named = vma.path.starts_with("[anon:") && vma.path.ends_with("]");
            CRYOPOD_PROPAGATE(makeRoom(named ? vma.path.size() : 0));
            placed.push_back({batch.add(what + ": mmap", SYS_mmap, vma.start, length, uint64_t(prot), uint64_t(flags), ~0ull, 0), &vma});
            if (named) {
                const std::string name = vma.path.substr(6, vma.path.size() - 7);
                auto nameAddr = scratch.putString(name);
                if (!nameAddr) {
                    return std::unexpected(nameAddr.error().context(what));
                }
                batch.add(what + ": name", SYS_prctl, kPrSetVma, kPrSetVmaAnonName, vma.start, length, *nameAddr);
            }
            continue;
        }
        if (vma.shm != 0) {
            CRYOPOD_PROPAGATE(flush());
            CRYOPOD_PROPAGATE(mapSharedMemory(injector, shared, vma, prot));
            continue;
        }
        // A file mapping: private, or shared (read-write when the original
        // could write to it).
        const bool writable = vma.kind == image::VmaKind::FileShared && (vma.flags & image::kVmaMayWrite);
        CRYOPOD_PROPAGATE(makeRoom(vma.path.size()));
        if (files.empty() || vma.path != files.back().path || writable != files.back().writable) {
            auto pathAddr = scratch.putString(vma.path);
            if (!pathAddr) {
                return std::unexpected(pathAddr.error().context(what));
            }
            OpenFile f;
            f.path = vma.path;
            f.writable = writable;
            f.vma = &vma;
            f.entry = batch.add(what + ": open", SYS_openat, uint64_t(int64_t(AT_FDCWD)), *pathAddr, uint64_t((writable ? O_RDWR : O_RDONLY) | O_CLOEXEC), 0);
            files.push_back(std::move(f));
        }
        const OpenFile &f = files.back();
        const int share = vma.kind == image::VmaKind::FileShared ? MAP_SHARED : MAP_PRIVATE;
        const size_t index =
            batch.add(what + ": mmap", SYS_mmap, vma.start, length, uint64_t(prot), uint64_t(share | MAP_FIXED_NOREPLACE), uint64_t(f.fd), vma.pgoff);
        if (f.entry != SIZE_MAX) {
            batch.useResult(index, 4, f.entry);
        }
        placed.push_back({index, &vma});
    }
    CRYOPOD_PROPAGATE(flush());
    // Every file mapped is the one the checkpoint saw (checked through the
    // fd that mapped it, before any page is written).
    for (const OpenFile &f : files) {
        const image::VmaRecord &vma = *f.vma;
        const std::string what = "restore " + vmaText(vma);
        struct stat st{};
        const std::string link = procfs::path(pid, "fd/" + std::to_string(f.fd));
        Result<void> bad;
        if (::stat(link.c_str(), &st) != 0) {
            bad = sysError(what + ": stat " + link);
        } else if (uint64_t(st.st_dev) != vma.dev || uint64_t(st.st_ino) != vma.ino) {
            bad = fail(what + ": the file at that path is not the one that was mapped (device/inode differ): it was replaced since the checkpoint", ESTALE);
        } else if (vma.fileSize != 0 && uint64_t(st.st_size) != vma.fileSize) {
            bad = fail(what + ": the file changed since the checkpoint (size " + std::to_string(vma.fileSize) + " then, " + std::to_string(st.st_size) + " now)",
                       ESTALE);
        }
        if (!bad) {
            (void)closeAll();
            return std::unexpected(bad.error());
        }
    }
    CRYOPOD_PROPAGATE(closeAll());
    scratch.reset(scratchMark);
    return mapped;
}

Result<PageFill> preparePageFill(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm, const MappedVmas &mapped)
{
    const std::string what = "restore pages: userfaultfd";
    PageFill fill;
    fill.registered.assign(mm.vmas.size(), 0);
    if (const char *off = std::getenv("CRYOPOD_RESTORE_NO_USERFAULTFD"); off && *off && *off != '0') {
        return fill; // for comparisons: process_vm_writev only
    }
    auto uffd = injector.syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (!uffd) {
        return std::unexpected(uffd.error().context(what));
    }
    if (*uffd < 0) {
        return fill; // ENOSYS, EPERM (vm.unprivileged_userfaultfd, LSM): the slower way
    }
    fill.remoteFd = int(*uffd);
    const size_t mark = scratch.used();
    struct uffdio_api api{};
    api.api = UFFD_API;
    auto apiAddr = scratch.put({reinterpret_cast<const uint8_t *>(&api), sizeof api});
    if (!apiAddr) {
        return std::unexpected(apiAddr.error().context(what));
    }
    auto r = injector.call(what + ": UFFDIO_API", SYS_ioctl, uint64_t(fill.remoteFd), UFFDIO_API, *apiAddr);
    scratch.reset(mark);
    if (!r) {
        return std::unexpected(r.error());
    }
    // The registrations in batches; a VMA the kernel refuses is filled the
    // other way, and the batch goes on after it.
    std::vector<size_t> pending; // VMA index of each call of the batch
    InjectBatch batch;
    auto flush = [&]() -> Result<void> {
        for (size_t from = 0; from < pending.size();) {
            InjectBatch rest;
            for (size_t k = from; k < pending.size(); ++k) {
                rest.add(batch.entries()[k].what, SYS_ioctl, batch.entries()[k].args[0], batch.entries()[k].args[1], batch.entries()[k].args[2]);
            }
            auto r = injector.run(rest, scratch);
            for (size_t k = 0; k < rest.results().size(); ++k) {
                fill.registered[pending[from + k]] = rest.results()[k] == 0;
            }
            if (!r && !rest.failed()) {
                return std::unexpected(r.error());
            }
            if (!r && r.error().code == 0) {
                return std::unexpected(r.error()); // not the kernel's refusal
            }
            from += rest.results().size();
            if (rest.results().empty()) {
                return std::unexpected(r.error()); // a guard, or the runner itself
            }
        }
        pending.clear();
        batch.clear();
        scratch.reset(mark);
        return {};
    };
    constexpr size_t kEntryBytes = 80; // the runner's table entry (ptrace_inject.cpp)
    for (size_t i = 0; i < mm.vmas.size(); ++i) {
        const image::VmaRecord &vma = mm.vmas[i];
        if (vma.kind != image::VmaKind::Anonymous || !(mapped.prot[i] & image::kVmaWrite)) {
            continue;
        }
        if (scratch.used() + sizeof(uffdio_register) + 16 + (batch.size() + 2) * kEntryBytes + 16 > scratch.size()) {
            CRYOPOD_PROPAGATE(flush());
        }
        struct uffdio_register reg{};
        reg.range.start = vma.start;
        reg.range.len = vma.end - vma.start;
        reg.mode = UFFDIO_REGISTER_MODE_MISSING;
        auto regAddr = scratch.put({reinterpret_cast<const uint8_t *>(&reg), sizeof reg});
        if (!regAddr) {
            return std::unexpected(regAddr.error().context(what));
        }
        batch.add(what + ": UFFDIO_REGISTER " + vmaText(vma), SYS_ioctl, uint64_t(fill.remoteFd), UFFDIO_REGISTER, *regAddr);
        pending.push_back(i);
    }
    CRYOPOD_PROPAGATE(flush());
    const int pidfd = int(::syscall(SYS_pidfd_open, injector.tracee().tid(), 0));
    if (pidfd < 0) {
        return sysError(what + ": pidfd_open");
    }
    UniqueFd pidfdOwner(pidfd);
    const int local = int(::syscall(SYS_pidfd_getfd, pidfd, fill.remoteFd, 0));
    if (local < 0) {
        return sysError(what + ": pidfd_getfd");
    }
    fill.uffd.reset(local);
    return fill;
}

Result<void> finishPageFill(Injector &injector, PageFill &fill)
{
    fill.uffd.reset();
    if (fill.remoteFd >= 0) {
        const int fd = std::exchange(fill.remoteFd, -1);
        CRYOPOD_PROPAGATE(injector.call("restore pages: close userfaultfd", SYS_close, uint64_t(fd)));
    }
    return {};
}

Result<uint64_t> restorePages(pid_t pid,
                              const RemoteMemory &memory,
                              const image::MmRecord &mm,
                              const MappedVmas &mapped,
                              const PageFill &fill,
                              std::span<const image::PageRun> runs,
                              std::span<const uint8_t> pageData,
                              uint32_t pageSize)
{
    uint64_t totalPages = 0;
    for (const image::PageRun &run : runs) {
        totalPages += run.pages;
    }
    if (totalPages * pageSize != pageData.size()) {
        return fail("restore pages: the record holds " + std::to_string(pageData.size()) + " bytes for " + std::to_string(totalPages) + " pages", EINVAL);
    }
    // Split every run by VMA: writable parts are gathered for one
    // process_vm_writev, the others are written through /proc/PID/mem.
    std::vector<iovec> local, remote;
    local.reserve(runs.size());
    remote.reserve(runs.size());
    const uint8_t *data = pageData.data();
    for (const image::PageRun &run : runs) {
        uint64_t at = run.vaddr;
        const uint64_t end = run.vaddr + uint64_t(run.pages) * pageSize;
        if (at % pageSize != 0 || end < at) {
            return fail("restore pages at " + rangeText(run.vaddr, end) + ": not page aligned", EINVAL);
        }
        while (at < end) {
            auto it = std::upper_bound(mm.vmas.begin(), mm.vmas.end(), at, [](uint64_t addr, const image::VmaRecord &v) {
                return addr < v.start;
            });
            if (it == mm.vmas.begin() || (--it)->end <= at || isSpecialKind(it->kind)) {
                return fail("restore pages at " + rangeText(at, end) + ": outside the image's VMAs", EINVAL);
            }
            if (it->kind == image::VmaKind::FileShared || it->kind == image::VmaKind::SharedAnonymous) {
                return fail("restore pages at " + rangeText(at, end) + ": page data for a shared mapping (" + it->path + ")", EINVAL);
            }
            const uint64_t partEnd = std::min(end, it->end);
            const size_t bytes = size_t(partEnd - at);
            const size_t index = size_t(it - mm.vmas.begin());
            if (fill.uffd.valid() && fill.registered[index]) {
                // UFFDIO_COPY may stop early (-EAGAIN, `copy` says how far).
                for (size_t done = 0; done < bytes;) {
                    struct uffdio_copy copy{};
                    copy.dst = at + done;
                    copy.src = reinterpret_cast<uint64_t>(data + done);
                    copy.len = bytes - done;
                    copy.mode = UFFDIO_COPY_MODE_DONTWAKE;
                    if (::ioctl(fill.uffd.get(), UFFDIO_COPY, &copy) == 0) {
                        break;
                    }
                    if (errno != EAGAIN || copy.copy <= 0) {
                        return sysError("restore pages of " + vmaText(*it) + ": UFFDIO_COPY at " + rangeText(at + done, partEnd));
                    }
                    done += size_t(copy.copy);
                }
            } else if (mapped.prot[index] & image::kVmaWrite) {
                local.push_back({const_cast<uint8_t *>(data), bytes});
                remote.push_back({reinterpret_cast<void *>(at), bytes});
            } else {
                auto w = memory.write(at, std::span(data, bytes));
                if (!w) {
                    return std::unexpected(w.error().context("restore pages of " + vmaText(*it)));
                }
            }
            data += bytes;
            at = partEnd;
        }
    }
    if (!local.empty()) {
        auto n = vmWrite(pid, local, remote);
        if (!n) {
            // Fall back to /proc/PID/mem for the whole batch (slower, but it
            // also works where the kernel refuses process_vm_writev).
            for (size_t i = 0; i < local.size(); ++i) {
                auto w = memory.write(reinterpret_cast<uint64_t>(remote[i].iov_base), std::span(static_cast<const uint8_t *>(local[i].iov_base), local[i].iov_len));
                if (!w) {
                    return std::unexpected(w.error().context("restore pages (after " + n.error().describe() + ")"));
                }
            }
        }
    }
    return totalPages;
}

Result<void> finishVmas(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm, const MappedVmas &mapped)
{
    InjectBatch batch;
    for (size_t i = 0; i < mm.vmas.size(); ++i) {
        const image::VmaRecord &vma = mm.vmas[i];
        if (isSpecialKind(vma.kind)) {
            continue;
        }
        const std::string what = "restore " + vmaText(vma);
        const uint64_t length = vma.end - vma.start;
        if (i < mapped.prot.size() && mapped.prot[i] != vma.prot) {
            batch.add(what + ": mprotect", SYS_mprotect, vma.start, length, uint64_t(protOf(vma)));
        }
        if (vma.flags & image::kVmaDontFork) {
            batch.add(what + ": madvise MADV_DONTFORK", SYS_madvise, vma.start, length, MADV_DONTFORK);
        }
        if (vma.flags & image::kVmaWipeOnFork) {
            batch.add(what + ": madvise MADV_WIPEONFORK", SYS_madvise, vma.start, length, MADV_WIPEONFORK);
        }
        if (vma.flags & image::kVmaLocked) {
            batch.add(what + ": mlock", SYS_mlock, vma.start, length);
        }
    }
    return injector.run(batch, scratch);
}

Result<void> restoreMmFields(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm)
{
    // One batch of injected calls: open the exe, PR_SET_MM_MAP with its fd
    // (the lowest free one, known from /proc/PID/fd and checked after), close.
    const std::string what = "restore mm fields (PR_SET_MM_MAP)";
    const pid_t pid = injector.tracee().tid();
    auto listed = openFdNumbers(pid, what);
    if (!listed) {
        return std::unexpected(listed.error());
    }
    const int exeFd = takeLowestFree(*listed);
    const size_t mark = scratch.used();
    auto pathAddr = scratch.putString(mm.exePath);
    if (!pathAddr) {
        return std::unexpected(pathAddr.error().context(what));
    }
    uint64_t auxvAddr = 0;
    if (!mm.auxv.empty()) {
        auto a = scratch.put(std::span(reinterpret_cast<const uint8_t *>(mm.auxv.data()), mm.auxv.size() * 8));
        if (!a) {
            scratch.reset(mark);
            return std::unexpected(a.error().context(what));
        }
        auxvAddr = *a;
    }
    PrctlMmMap map{};
    map.startCode = mm.startCode;
    map.endCode = mm.endCode;
    map.startData = mm.startData;
    map.endData = mm.endData;
    map.startBrk = mm.startBrk;
    map.brk = mm.brk;
    map.startStack = mm.startStack;
    map.argStart = mm.argStart;
    map.argEnd = mm.argEnd;
    map.envStart = mm.envStart;
    map.envEnd = mm.envEnd;
    map.auxv = auxvAddr;
    map.auxvSize = uint32_t(mm.auxv.size() * 8);
    map.exeFd = uint32_t(exeFd);
    auto mapAddr = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&map), sizeof map));
    if (!mapAddr) {
        scratch.reset(mark);
        return std::unexpected(mapAddr.error().context(what));
    }
    InjectBatch batch;
    const size_t opened = batch.add(what + ": open exe " + mm.exePath, SYS_openat, uint64_t(int64_t(AT_FDCWD)), *pathAddr, uint64_t(O_RDONLY | O_CLOEXEC), 0);
    batch.add(what, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, *mapAddr, sizeof map, 0);
    const size_t closed = batch.add(what + ": close exe", SYS_close, uint64_t(exeFd));
    auto r = injector.run(batch, scratch);
    scratch.reset(mark);
    if (!batch.results().empty() && int64_t(batch.result(opened)) >= 0 && batch.result(opened) != uint64_t(exeFd)) {
        return fail(what + ": open exe returned fd " + std::to_string(int64_t(batch.result(opened))) + ", not the lowest free one (" + std::to_string(exeFd) + ")",
                    EBADF);
    }
    if (!r && batch.failed() && *batch.failed() != closed && batch.results().size() > opened && int64_t(batch.result(opened)) >= 0) {
        // The exe stays open only when PR_SET_MM_MAP failed: close it again.
        (void)injector.syscall(SYS_close, uint64_t(exeFd));
    }
    return r;
}

} // namespace cryopod::engine
