// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "shmem.h"

#include "creds.h"
#include "sysvipc.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr uint64_t kPage = 4096;

std::string mapFilesPath(pid_t pid, uint64_t start, uint64_t end)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%llx-%llx", static_cast<unsigned long long>(start), static_cast<unsigned long long>(end));
    return procfs::path(pid, std::string("map_files/") + buf);
}

bool allZero(const uint8_t *page)
{
    for (size_t i = 0; i < kPage; i += 8) {
        uint64_t w;
        std::memcpy(&w, page + i, 8);
        if (w != 0) {
            return false;
        }
    }
    return true;
}

Result<void> readFully(int fd, uint8_t *out, size_t bytes, uint64_t offset, const std::string &what)
{
    size_t done = 0;
    while (done < bytes) {
        const ssize_t n = ::pread(fd, out + done, bytes - done, off_t(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            // The end of a file inside its last page: the rest reads as zero.
            std::memset(out + done, 0, bytes - done);
            return {};
        }
        if (n < 0) {
            return sysError(what + ": read at offset " + std::to_string(offset + done));
        }
        done += size_t(n);
    }
    return {};
}

using FileKey = std::pair<dev_t, ino_t>;

// The first fd of `pid` that is a memfd among `memfds` (found by its
// "/memfd:" link first: a stat of every fd of the system would be slow).
std::optional<FileKey> heldMemfd(pid_t pid, const std::set<FileKey> &memfds)
{
    auto fds = procfs::listFds(pid);
    if (!fds) {
        return std::nullopt;
    }
    for (const int fd : *fds) {
        const std::string link = procfs::path(pid, "fd/" + std::to_string(fd));
        auto target = procfs::readLink(link);
        struct stat st {};
        if (target && target->starts_with("/memfd:") && ::stat(link.c_str(), &st) == 0 && memfds.contains({st.st_dev, st.st_ino})) {
            return FileKey {st.st_dev, st.st_ino};
        }
    }
    return std::nullopt;
}

// For each object of `objects` (shmem files) that a process outside `tree`
// maps (or, for the memfds among them, holds an fd of): one such process.
// One pass over /proc for all of them.
std::map<FileKey, pid_t> outsideHolders(const std::set<FileKey> &objects, const std::set<FileKey> &memfds, const std::set<pid_t> &tree)
{
    std::map<FileKey, pid_t> found;
    DIR *dir = ::opendir("/proc");
    if (!dir) {
        return found;
    }
    const pid_t self = ::getpid();
    while (const dirent *e = ::readdir(dir)) {
        char *end = nullptr;
        const long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || tree.contains(pid_t(pid)) || pid == self) {
            continue;
        }
        auto maps = procfs::readMaps(pid_t(pid));
        if (!maps) {
            continue; // gone, or a kernel thread
        }
        for (const procfs::Mapping &m : *maps) {
            const FileKey key {makedev(m.devMajor, m.devMinor), ino_t(m.inode)};
            if (m.inode != 0 && objects.contains(key)) {
                found.emplace(key, pid_t(pid));
            }
        }
        if (!memfds.empty()) {
            if (const auto held = heldMemfd(pid_t(pid), memfds)) {
                found.emplace(*held, pid_t(pid));
            }
        }
    }
    ::closedir(dir);
    return found;
}

} // namespace

// ---- dump

bool isMemfd(const std::string &path, uint64_t links)
{
    return path.starts_with("/memfd:") && links == 0;
}

std::vector<SharedOutside> sharedMemoryOutside(const std::set<pid_t> &tree)
{
    std::set<FileKey> objects, memfds;
    std::map<FileKey, std::pair<pid_t, std::string>> firstSeen;
    auto seen = [&](const FileKey &key, pid_t pid, std::string what) {
        objects.insert(key);
        firstSeen.emplace(key, std::pair(pid, std::move(what)));
    };
    for (const pid_t pid : tree) {
        if (auto maps = procfs::readMaps(pid)) {
            for (const procfs::Mapping &m : *maps) {
                if (m.inode == 0) {
                    continue;
                }
                const FileKey key {makedev(m.devMajor, m.devMinor), ino_t(m.inode)};
                char range[48];
                std::snprintf(range, sizeof range, "%llx-%llx", static_cast<unsigned long long>(m.start), static_cast<unsigned long long>(m.end));
                if (m.path.starts_with("/memfd:") && m.deleted()) {
                    memfds.insert(key);
                    seen(key, pid, "memfd " + m.pathWithoutDeleted().substr(std::strlen("/memfd:")) + " mapped at " + range);
                } else if (m.shared && (m.path == "/dev/zero (deleted)" || m.path == "/dev/zero")) {
                    seen(key, pid, std::string("shared anonymous memory at ") + range);
                } else if (m.shared && m.path.starts_with("/SYSV")) {
                    seen(key, pid, "SysV shared memory " + m.pathWithoutDeleted().substr(1) + " attached at " + range);
                } else if (m.shared && m.deleted()) {
                    seen(key, pid, "shared memory of the deleted file " + m.pathWithoutDeleted() + " at " + range);
                }
            }
        }
        if (auto fds = procfs::listFds(pid)) {
            for (const int fd : *fds) {
                const std::string link = procfs::path(pid, "fd/" + std::to_string(fd));
                auto target = procfs::readLink(link);
                struct stat st {};
                if (target && target->starts_with("/memfd:") && ::stat(link.c_str(), &st) == 0 && st.st_nlink == 0) {
                    const FileKey key {st.st_dev, st.st_ino};
                    memfds.insert(key);
                    seen(key, pid, "fd " + std::to_string(fd) + " (memfd " + target->substr(std::strlen("/memfd:")) + ")");
                }
            }
        }
    }
    std::vector<SharedOutside> out;
    if (objects.empty()) {
        return out;
    }
    for (const auto &[key, outsider] : outsideHolders(objects, memfds, tree)) {
        const auto &[pid, what] = firstSeen.at(key);
        out.push_back(SharedOutside {pid, what, outsider});
    }
    return out;
}

bool isSysvShm(const std::string &path, uint64_t links)
{
    // "/SYSV" and the key as 8 hex digits (ipc/shm.c names the file so).
    return path.starts_with("/SYSV") && path.size() == 13 && links == 0;
}

namespace
{

// The object behind `link` (a map_files or fd link of a process of the
// tree): its id in `dump`, made on first sight. `path` is the path /proc
// shows for it (without " (deleted)"); `kind` what it is when new.
struct ObjectLinker {
    SharedMemoryDump &dump;
    std::map<FileKey, uint64_t> ids;
    std::set<FileKey> memfds;
    std::map<FileKey, std::string> firstSeen; // where, for messages

    Result<uint64_t> link(const std::string &link, const struct stat &st, image::SharedMemoryKind kind, const std::string &path, pid_t pid,
                          const std::string &what)
    {
        const FileKey key {st.st_dev, st.st_ino};
        const auto known = ids.find(key);
        if (known != ids.end()) {
            return known->second;
        }
        const bool memfd = kind == image::SharedMemoryKind::Memfd;
        UniqueFd fd(::open(link.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            return sysError(what + ": open");
        }
        struct stat object {};
        if (::fstat(fd.get(), &object) != 0) {
            return sysError(what + ": fstat");
        }
        image::SharedMemoryRecord record;
        record.id = dump.records.size() + 1;
        record.ino = uint64_t(object.st_ino);
        record.kind = kind;
        if (kind == image::SharedMemoryKind::Anonymous) {
            record.size = (uint64_t(object.st_size) + kPage - 1) / kPage * kPage;
        } else if (kind == image::SharedMemoryKind::SysvShm) {
            record.size = uint64_t(object.st_size); // the segment's size; ino is its id (sysvipc.h)
        } else {
            record.size = uint64_t(object.st_size);
            record.path = memfd ? path.substr(std::strlen("/memfd:")) : path;
            record.mode = uint32_t(object.st_mode) & 07777u;
        }
        if (memfd) {
            struct statfs fs {};
            if (::fstatfs(fd.get(), &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC) {
                return fail(what + ": a hugetlb memfd (MFD_HUGETLB) is not supported", ENOTSUP);
            }
            const int seals = ::fcntl(fd.get(), F_GET_SEALS);
            if (seals < 0) {
                return sysError(what + ": F_GET_SEALS");
            }
            record.seals = uint32_t(seals);
            memfds.insert(key);
        }
        ids.emplace(key, record.id);
        firstSeen.emplace(key, (memfd ? "memfd " + path : kind == image::SharedMemoryKind::SysvShm ? "SysV shared memory segment " + std::to_string(object.st_ino) : what) +
                                   " (process " + std::to_string(pid) + ")");
        dump.records.push_back(std::move(record));
        dump.fds.push_back(std::move(fd));
        return dump.records.back().id;
    }

    // Refuses an object that a process outside `tree` shares.
    Result<void> checkOutside(const std::set<pid_t> &tree) const
    {
        std::set<FileKey> objects;
        for (const auto &[key, id] : ids) {
            objects.insert(key);
        }
        const std::map<FileKey, pid_t> outside = outsideHolders(objects, memfds, tree);
        if (outside.empty()) {
            return {};
        }
        const auto &[key, pid] = *outside.begin();
        return fail(firstSeen.at(key) + ": the " + (memfds.contains(key) ? "memfd" : "memory") + " is shared with process " + std::to_string(pid) +
                        ", which is outside the checkpoint: a restore could not share it with that process again",
                    EBUSY);
    }
};

} // namespace

Result<SharedMemoryDump> linkSharedMemory(const std::vector<std::pair<pid_t, image::MmRecord *>> &mms,
                                          const std::vector<std::pair<pid_t, image::FilesRecord *>> &files, const std::set<pid_t> &tree)
{
    SharedMemoryDump dump;
    ObjectLinker linker {dump, {}, {}, {}};
    for (const auto &[pid, mm] : mms) {
        for (image::VmaRecord &vma : mm->vmas) {
            if (vma.kind != image::VmaKind::SharedAnonymous && vma.kind != image::VmaKind::FileShared && vma.kind != image::VmaKind::FilePrivate) {
                continue;
            }
            if (vma.kind == image::VmaKind::FilePrivate && !vma.path.starts_with("/memfd:")) {
                continue; // a file mapped again by path (mem.h)
            }
            const std::string link = mapFilesPath(pid, vma.start, vma.end);
            const std::string what = "shared memory at " + link;
            struct stat st {};
            if (::stat(link.c_str(), &st) != 0) {
                return sysError(what + ": stat");
            }
            auto kind = image::SharedMemoryKind::Anonymous;
            if (vma.kind != image::VmaKind::SharedAnonymous) {
                if (isMemfd(vma.path, st.st_nlink)) {
                    kind = image::SharedMemoryKind::Memfd;
                } else if (vma.kind == image::VmaKind::FileShared && isSysvShm(vma.path, st.st_nlink)) {
                    kind = image::SharedMemoryKind::SysvShm;
                } else if (vma.kind == image::VmaKind::FilePrivate) {
                    continue; // a file named /memfd:...: mapped by path
                } else {
                    // Still at its path: the file is mapped again by path (mem.h).
                    struct stat byPath {};
                    const std::string viaRoot = procfs::path(pid, "root") + vma.path;
                    if (::stat(viaRoot.c_str(), &byPath) == 0 && byPath.st_dev == st.st_dev && byPath.st_ino == st.st_ino) {
                        continue;
                    }
                    kind = image::SharedMemoryKind::DeletedFile;
                }
            }
            auto id = linker.link(link, st, kind, vma.path, pid, what);
            if (!id) {
                return std::unexpected(id.error());
            }
            const image::SharedMemoryRecord &record = dump.records.at(*id - 1);
            if ((record.size + kPage - 1) / kPage * kPage < vma.pgoff + (vma.end - vma.start)) {
                return fail(what + ": the mapping reaches beyond the object's size " + std::to_string(record.size), EINVAL);
            }
            vma.shm = *id;
        }
    }
    for (const auto &[pid, table] : files) {
        for (image::FdRecord &fd : table->fds) {
            if (fd.kind != image::FdKind::Memfd) {
                continue;
            }
            const std::string link = procfs::path(pid, "fd/" + std::to_string(fd.fd));
            struct stat st {};
            if (::stat(link.c_str(), &st) != 0) {
                return sysError("memfd " + link + ": stat");
            }
            auto id = linker.link(link, st, image::SharedMemoryKind::Memfd, fd.path, pid, "memfd " + link + " (" + fd.path + ")");
            if (!id) {
                return std::unexpected(id.error());
            }
            fd.object = *id;
        }
    }
    CRYOPOD_PROPAGATE(linker.checkOutside(tree));
    return dump;
}

Result<void> captureSharedMemory(SharedMemoryDump &dump, size_t index)
{
    image::SharedMemoryRecord &record = dump.records.at(index);
    const int fd = dump.fds.at(index).get();
    const std::string what = "shared memory object " + std::to_string(record.id) + " (inode " + std::to_string(record.ino) + ")";
    record.runs.clear();
    record.data.clear();
    std::vector<uint8_t> chunk(1 << 20);
    const uint64_t pagedSize = (record.size + kPage - 1) / kPage * kPage;
    uint64_t at = 0;
    while (at < pagedSize) {
        // The next populated range (a shmem file: SEEK_DATA finds pages in
        // memory or swapped out; never-touched ones are holes).
        const off_t data = ::lseek(fd, off_t(at), SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) {
                break; // only holes up to the end
            }
            return sysError(what + ": SEEK_DATA");
        }
        off_t hole = ::lseek(fd, data, SEEK_HOLE);
        if (hole < 0) {
            return sysError(what + ": SEEK_HOLE");
        }
        const uint64_t from = uint64_t(data) / kPage * kPage;
        const uint64_t to = std::min<uint64_t>(pagedSize, (uint64_t(hole) + kPage - 1) / kPage * kPage);
        for (uint64_t off = from; off < to;) {
            const size_t bytes = size_t(std::min<uint64_t>(chunk.size(), to - off));
            CRYOPOD_PROPAGATE(readFully(fd, chunk.data(), bytes, off, what));
            for (size_t p = 0; p < bytes; p += kPage) {
                if (allZero(chunk.data() + p)) {
                    continue;
                }
                const uint64_t pageOffset = off + p;
                if (!record.runs.empty() && record.runs.back().vaddr + uint64_t(record.runs.back().pages) * kPage == pageOffset) {
                    ++record.runs.back().pages;
                } else {
                    record.runs.push_back(image::PageRun {pageOffset, 1});
                }
                if (record.data.size() + kPage > image::kMaxSharedMemoryBytes) {
                    return fail(what + ": more than " + std::to_string(image::kMaxSharedMemoryBytes >> 20) +
                                    " MiB of contents; larger shared memory objects are not supported yet",
                                EFBIG);
                }
                record.data.insert(record.data.end(), chunk.begin() + ptrdiff_t(p), chunk.begin() + ptrdiff_t(p + kPage));
            }
            off += bytes;
        }
        at = std::max<uint64_t>(to, at + kPage);
    }
    return {};
}

Result<void> syncSharedFileMappings(pid_t pid, const std::vector<procfs::Mapping> &mappings)
{
    std::set<std::pair<uint64_t, uint64_t>> synced;
    for (const procfs::Mapping &m : mappings) {
        const bool sharedWritable = (m.shared || m.hasVmFlag("sh")) && (m.write || m.hasVmFlag("mw"));
        if (!sharedWritable || m.inode == 0 || !m.path.starts_with("/") || m.path.starts_with("/dev/zero") || m.path.starts_with("/SYSV") ||
            m.path.starts_with("/memfd:")) {
            continue;
        }
        if (!synced.insert({(uint64_t(m.devMajor) << 32) | m.devMinor, m.inode}).second) {
            continue;
        }
        const std::string link = mapFilesPath(pid, m.start, m.end);
        UniqueFd fd(::open(link.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            return sysError("write back the shared mapping of " + m.path + ": open " + link);
        }
        if (::fdatasync(fd.get()) != 0) {
            return sysError("write back the shared mapping of " + m.path + ": fdatasync");
        }
    }
    return {};
}

// ---- restore

namespace
{
// A MAP_SHARED|MAP_ANONYMOUS mapping of ours is a shmem file like the
// original; map_files hands out the file, the mapping goes again.
Result<UniqueFd> makeAnonymous(const image::SharedMemoryRecord &record, const std::string &what)
{
    void *p = ::mmap(nullptr, record.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        return sysError(what + ": mmap " + std::to_string(record.size) + " bytes");
    }
    const uint64_t start = reinterpret_cast<uint64_t>(p);
    const std::string link = mapFilesPath(::getpid(), start, start + record.size);
    UniqueFd fd(::open(link.c_str(), O_RDWR | O_CLOEXEC));
    const int openErrno = errno;
    ::munmap(p, record.size);
    if (!fd) {
        errno = openErrno;
        return sysError(what + ": open " + link);
    }
    return fd;
}

// An unnamed file in the deleted file's directory, of its size.
Result<UniqueFd> makeDeletedFile(const image::SharedMemoryRecord &record, const std::optional<FsIdentity> &identity, const std::string &what)
{
    const size_t slash = record.path.rfind('/');
    const std::string dir = slash == 0 ? std::string("/") : record.path.substr(0, slash);
    UniqueFd fd;
    int openErrno = 0;
    auto make = [&] {
        fd.reset(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, record.mode & 07777u));
        openErrno = errno;
    };
    if (identity) {
        CRYOPOD_PROPAGATE(runWithFsIdentity(*identity, make));
    } else {
        make();
    }
    if (!fd) {
        errno = openErrno;
        return sysError(what + ": make an unnamed file (O_TMPFILE) in " + dir + " for the deleted " + record.path);
    }
    if (::ftruncate(fd.get(), off_t(record.size)) != 0) {
        return sysError(what + ": ftruncate to " + std::to_string(record.size));
    }
    return fd;
}
// A memfd of the record's name and size (its mode set, not yet sealed),
// made with `identity` (its owner) when given.
Result<UniqueFd> makeMemfd(const image::SharedMemoryRecord &record, const std::optional<FsIdentity> &identity, const std::string &what)
{
    UniqueFd fd;
    int madeErrno = 0;
    auto make = [&] {
        fd.reset(::memfd_create(record.path.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
        madeErrno = errno;
    };
    if (identity) {
        CRYOPOD_PROPAGATE(runWithFsIdentity(*identity, make));
    } else {
        make();
    }
    if (!fd) {
        errno = madeErrno;
        return sysError(what + ": memfd_create \"" + record.path + "\"");
    }
    if (::ftruncate(fd.get(), off_t(record.size)) != 0) {
        return sysError(what + ": ftruncate to " + std::to_string(record.size));
    }
    if (::fchmod(fd.get(), mode_t(record.mode & 07777u)) != 0) {
        return sysError(what + ": chmod to " + std::to_string(record.mode));
    }
    return fd;
}

// The fd in the process of `injector` of the helper's fd `local` (pidfd_getfd).
Result<uint64_t> takeHelperFd(Injector &injector, int local, const std::string &what)
{
    auto pidfd = injector.call(what + ": pidfd_open of the restorer", SYS_pidfd_open, uint64_t(::getpid()), 0);
    if (!pidfd) {
        return std::unexpected(pidfd.error());
    }
    auto fd = injector.call(what + ": pidfd_getfd", SYS_pidfd_getfd, *pidfd, uint64_t(local), 0);
    auto closedPidfd = injector.call(what + ": close pidfd", SYS_close, *pidfd);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    if (!closedPidfd) {
        (void)injector.call(what + ": close", SYS_close, *fd);
        return std::unexpected(closedPidfd.error());
    }
    return *fd;
}
} // namespace

Result<SharedMemoryObjects>
SharedMemoryObjects::create(const std::vector<image::SharedMemoryRecord> &records, const std::optional<FsIdentity> &identity, const SysvObjects &sysv)
{
    SharedMemoryObjects objects;
    for (const image::SharedMemoryRecord &record : records) {
        const std::string what = "restore shared memory object " + std::to_string(record.id);
        const int32_t segment = sysv.segment(record.id);
        if ((record.kind == image::SharedMemoryKind::SysvShm) != (segment >= 0)) {
            return fail(what + ": a SysV segment's memory without its SysvIpc record, or the other way round", EINVAL);
        }
        auto made = record.kind == image::SharedMemoryKind::DeletedFile ? makeDeletedFile(record, identity, what)
            : record.kind == image::SharedMemoryKind::Memfd             ? makeMemfd(record, identity, what)
            : record.kind == image::SharedMemoryKind::SysvShm           ? openSysvSegment(segment, what)
                                                                        : makeAnonymous(record, what);
        if (segment >= 0) {
            objects.m_segments.emplace(record.id, segment);
        }
        if (!made) {
            return std::unexpected(made.error());
        }
        UniqueFd fd = std::move(*made);
        size_t data = 0;
        for (const image::PageRun &run : record.runs) {
            const size_t stored = size_t(run.pages) * kPage;
            if (data + stored > record.data.size() || run.vaddr >= std::max<uint64_t>(record.size, 1) + kPage) {
                return fail(what + ": the record's data is shorter than its runs", EINVAL);
            }
            // Not past the end of a file (its last page holds zeros there).
            const size_t bytes = size_t(std::min<uint64_t>(stored, record.size > run.vaddr ? record.size - run.vaddr : 0));
            size_t done = 0;
            while (done < bytes) {
                const ssize_t n = ::pwrite(fd.get(), record.data.data() + data + done, bytes - done, off_t(run.vaddr + done));
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    return sysError(what + ": write at offset " + std::to_string(run.vaddr + done));
                }
                done += size_t(n);
            }
            data += stored;
        }
        if (record.kind == image::SharedMemoryKind::Memfd && record.seals != 0) {
            objects.m_seals.emplace(record.id, record.seals);
        }
        objects.m_fds.emplace(record.id, std::move(fd));
    }
    return objects;
}

int SharedMemoryObjects::fd(uint64_t id) const
{
    const auto it = m_fds.find(id);
    return it == m_fds.end() ? -1 : it->second.get();
}

Result<void> SharedMemoryObjects::seal() const
{
    for (const auto &[id, seals] : m_seals) {
        if (::fcntl(fd(id), F_ADD_SEALS, int(seals)) != 0) {
            return sysError("restore shared memory object " + std::to_string(id) + ": add the memfd's seals " + std::to_string(seals));
        }
    }
    return {};
}

Result<void> mapSharedMemory(Injector &injector, const SharedMemoryObjects &objects, const image::VmaRecord &vma, int prot)
{
    char range[64];
    std::snprintf(range, sizeof range, "0x%llx-0x%llx", static_cast<unsigned long long>(vma.start), static_cast<unsigned long long>(vma.end));
    const std::string what = std::string("restore vma ") + range + " (shared memory object " + std::to_string(vma.shm) + ")";
    const int local = objects.fd(vma.shm);
    if (local < 0) {
        return fail(what + ": the image holds no such object", EINVAL);
    }
    if (const auto segment = objects.m_segments.find(vma.shm); segment != objects.m_segments.end()) {
        return attachSysvSegment(injector, segment->second, vma, prot); // an attach, not a mapping of the file
    }
    auto fd = takeHelperFd(injector, local, what);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    const uint64_t length = vma.end - vma.start;
    const uint64_t share = vma.kind == image::VmaKind::FilePrivate ? MAP_PRIVATE : MAP_SHARED;
    auto mapped = injector.call(what + ": mmap", SYS_mmap, vma.start, length, uint64_t(prot), share | MAP_FIXED_NOREPLACE, *fd, vma.pgoff);
    auto closed = injector.call(what + ": close", SYS_close, *fd);
    if (!mapped) {
        return std::unexpected(mapped.error());
    }
    if (*mapped != vma.start) {
        return fail(what + ": mmap placed it elsewhere", EEXIST);
    }
    if (!closed) {
        return std::unexpected(closed.error());
    }
    return {};
}

Result<int32_t> openSharedMemory(Injector &injector, const SharedMemoryObjects &objects, const image::FdRecord &fd)
{
    const std::string what = "restore fd " + std::to_string(fd.fd) + " (" + fd.path + ", shared memory object " + std::to_string(fd.object) + ")";
    const int local = objects.fd(fd.object);
    if (local < 0) {
        return fail(what + ": the image holds no such object", EINVAL);
    }
    // Its own open file description, as the process had it.
    const std::string self = "/proc/self/fd/" + std::to_string(local);
    const int flags = int(fd.openFlags & ~uint32_t(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)) | O_CLOEXEC;
    UniqueFd description(::open(self.c_str(), flags));
    if (!description) {
        return sysError(what + ": reopen " + self);
    }
    if (::lseek(description.get(), off_t(fd.pos), SEEK_SET) != off_t(fd.pos)) {
        return sysError(what + ": lseek to " + std::to_string(fd.pos));
    }
    auto taken = takeHelperFd(injector, description.get(), what);
    if (!taken) {
        return std::unexpected(taken.error());
    }
    return int32_t(*taken);
}

} // namespace cryopod::engine
