// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "shmem.h"

#include "creds.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

// The processes outside `tree` that map the shmem file (dev, ino).
std::vector<pid_t> outsideMappers(dev_t dev, ino_t ino, const std::set<pid_t> &tree)
{
    std::vector<pid_t> found;
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
            if (m.inode == uint64_t(ino) && m.devMajor == major(dev) && m.devMinor == minor(dev)) {
                found.push_back(pid_t(pid));
                break;
            }
        }
    }
    ::closedir(dir);
    return found;
}

} // namespace

// ---- dump

Result<SharedMemoryDump> linkSharedMemory(const std::vector<std::pair<pid_t, image::MmRecord *>> &mms, const std::set<pid_t> &tree)
{
    SharedMemoryDump dump;
    std::map<std::pair<dev_t, ino_t>, uint64_t> ids;
    for (const auto &[pid, mm] : mms) {
        for (image::VmaRecord &vma : mm->vmas) {
            if (vma.kind != image::VmaKind::SharedAnonymous && vma.kind != image::VmaKind::FileShared) {
                continue;
            }
            const std::string link = mapFilesPath(pid, vma.start, vma.end);
            const std::string what = "shared memory at " + link;
            struct stat st {};
            if (::stat(link.c_str(), &st) != 0) {
                return sysError(what + ": stat");
            }
            if (vma.kind == image::VmaKind::FileShared) {
                // Still at its path: the file is mapped again by path (mem.h).
                struct stat byPath {};
                const std::string viaRoot = procfs::path(pid, "root") + vma.path;
                if (::stat(viaRoot.c_str(), &byPath) == 0 && byPath.st_dev == st.st_dev && byPath.st_ino == st.st_ino) {
                    continue;
                }
            }
            const auto known = ids.find({st.st_dev, st.st_ino});
            if (known != ids.end()) {
                vma.shm = known->second;
                continue;
            }
            if (const std::vector<pid_t> others = outsideMappers(st.st_dev, st.st_ino, tree); !others.empty()) {
                return fail(what + " (process " + std::to_string(pid) + "): the memory is shared with process " + std::to_string(others.front()) +
                                ", which is outside the checkpoint: a restore could not share it with that process again",
                            EBUSY);
            }
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
            if (vma.kind == image::VmaKind::SharedAnonymous) {
                record.kind = image::SharedMemoryKind::Anonymous;
                record.size = (uint64_t(object.st_size) + kPage - 1) / kPage * kPage;
            } else {
                record.kind = image::SharedMemoryKind::DeletedFile;
                record.size = uint64_t(object.st_size);
                record.path = vma.path;
                record.mode = uint32_t(object.st_mode) & 07777u;
            }
            if ((record.size + kPage - 1) / kPage * kPage < vma.pgoff + (vma.end - vma.start)) {
                return fail(what + ": the mapping reaches beyond the object's size " + std::to_string(object.st_size), EINVAL);
            }
            ids.emplace(std::pair(st.st_dev, st.st_ino), record.id);
            vma.shm = record.id;
            dump.records.push_back(std::move(record));
            dump.fds.push_back(std::move(fd));
        }
    }
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
} // namespace

Result<SharedMemoryObjects> SharedMemoryObjects::create(const std::vector<image::SharedMemoryRecord> &records, const std::optional<FsIdentity> &identity)
{
    SharedMemoryObjects objects;
    for (const image::SharedMemoryRecord &record : records) {
        const std::string what = "restore shared memory object " + std::to_string(record.id);
        auto made = record.kind == image::SharedMemoryKind::DeletedFile ? makeDeletedFile(record, identity, what) : makeAnonymous(record, what);
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
        objects.m_fds.emplace(record.id, std::move(fd));
    }
    return objects;
}

int SharedMemoryObjects::fd(uint64_t id) const
{
    const auto it = m_fds.find(id);
    return it == m_fds.end() ? -1 : it->second.get();
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
    auto pidfd = injector.call(what + ": pidfd_open of the restorer", SYS_pidfd_open, uint64_t(::getpid()), 0);
    if (!pidfd) {
        return std::unexpected(pidfd.error());
    }
    auto fd = injector.call(what + ": pidfd_getfd", SYS_pidfd_getfd, *pidfd, uint64_t(local), 0);
    auto closedPidfd = injector.call(what + ": close pidfd", SYS_close, *pidfd);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    const uint64_t length = vma.end - vma.start;
    auto mapped = injector.call(what + ": mmap", SYS_mmap, vma.start, length, uint64_t(prot), uint64_t(MAP_SHARED | MAP_FIXED_NOREPLACE), *fd, vma.pgoff);
    auto closed = injector.call(what + ": close", SYS_close, *fd);
    if (!mapped) {
        return std::unexpected(mapped.error());
    }
    if (*mapped != vma.start) {
        return fail(what + ": mmap placed it elsewhere", EEXIST);
    }
    if (!closedPidfd) {
        return std::unexpected(closedPidfd.error());
    }
    if (!closed) {
        return std::unexpected(closed.error());
    }
    return {};
}

} // namespace cryopod::engine
