// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imageinfo.h"

#include "sectionframe.h"

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

namespace cryopod::image
{

namespace
{
class FdCloser
{
public:
    explicit FdCloser(int fd)
        : m_fd(fd)
    {
    }
    ~FdCloser()
    {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    FdCloser(const FdCloser &) = delete;
    FdCloser &operator=(const FdCloser &) = delete;

private:
    int m_fd;
};

// Adds one Pages section to the VMAs of its process.
void accountPages(ImageProcess &p, const PagesRecord &r, uint32_t pageSize, uint64_t stored)
{
    const uint64_t raw = r.data.size();
    p.pages += raw / pageSize;
    p.rawBytes += raw;
    p.storedBytes += stored;
    for (const PageRun &run : r.runs) {
        uint64_t at = run.vaddr;
        const uint64_t end = run.vaddr + uint64_t(run.pages) * pageSize;
        auto it = std::upper_bound(p.vmas.begin(), p.vmas.end(), at, [](uint64_t a, const ImageVma &v) { return a < v.vma.start; });
        if (it != p.vmas.begin()) {
            --it;
        }
        // the reader checked that the VMAs cover the run
        for (; it != p.vmas.end() && at < end; ++it) {
            if (it->vma.end <= at) {
                continue;
            }
            const uint64_t piece = std::min(end, it->vma.end) - at;
            it->pages += piece / pageSize;
            it->rawBytes += piece;
            it->storedBytes += uint64_t((long double)stored * piece / (raw ? raw : 1) + 0.5L);
            at += piece;
        }
    }
}
} // namespace

const ImageProcess *ImageInfo::process(int32_t pid) const
{
    for (const ImageProcess &p : processes) {
        if (p.entry.pid == pid) {
            return &p;
        }
    }
    return nullptr;
}

Result<ImageInfo> ImageInfo::readFile(const std::string &path, const ReaderLimits &limits)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return sysError("open " + path);
    }
    FdCloser closer(fd);
    auto info = read(fd, limits);
    if (!info) {
        return std::unexpected(info.error().context(path));
    }
    return info;
}

Result<ImageInfo> ImageInfo::read(int fd, const ReaderLimits &limits)
{
    auto reader = ImageReader::open(fd, limits);
    if (!reader) {
        return std::unexpected(reader.error());
    }
    ImageInfo info;
    info.header = (*reader)->header();
    std::map<int32_t, size_t> index;
    auto processOf = [&](int32_t pid) -> ImageProcess & {
        // the reader checked that every record's pid is in the tree
        return info.processes[index.at(pid)];
    };

    for (;;) {
        const uint64_t before = (*reader)->bytesRead();
        auto section = (*reader)->next();
        if (!section) {
            return std::unexpected(section.error());
        }
        const uint64_t stored = (*reader)->bytesRead() - before;
        bool done = false;
        uint64_t raw = 0;
        const char *name = std::visit(
            [&](auto &r) -> const char * {
                using T = std::decay_t<decltype(r)>;
                if constexpr (std::is_same_v<T, ProcessTreeRecord>) {
                    info.rootPid = r.rootPid;
                    for (ProcessEntry &e : r.processes) {
                        index[e.pid] = info.processes.size();
                        ImageProcess p;
                        p.entry = std::move(e);
                        info.processes.push_back(std::move(p));
                    }
                    return "ProcessTree";
                } else if constexpr (std::is_same_v<T, TaskRecord>) {
                    processOf(r.pid).task = std::move(r);
                    return "Task";
                } else if constexpr (std::is_same_v<T, CredsRecord>) {
                    processOf(r.pid).creds = std::move(r);
                    return "Creds";
                } else if constexpr (std::is_same_v<T, SignalsRecord>) {
                    processOf(r.pid).signals = std::move(r);
                    return "Signals";
                } else if constexpr (std::is_same_v<T, ThreadRecord>) {
                    processOf(r.pid).threads.push_back(std::move(r));
                    return "Thread";
                } else if constexpr (std::is_same_v<T, MmRecord>) {
                    ImageProcess &p = processOf(r.pid);
                    for (VmaRecord &v : r.vmas) {
                        ImageVma vi;
                        vi.vma = std::move(v);
                        p.vmas.push_back(std::move(vi));
                    }
                    r.vmas.clear();
                    p.mm = std::move(r);
                    return "Mm";
                } else if constexpr (std::is_same_v<T, FilesRecord>) {
                    ImageProcess &p = processOf(r.pid);
                    for (FdRecord &f : r.fds) {
                        ImageFd fi;
                        fi.fd = std::move(f);
                        p.fds.push_back(std::move(fi));
                    }
                    return "Files";
                } else if constexpr (std::is_same_v<T, TimersRecord>) {
                    processOf(r.pid).timers = r;
                    return "Timers";
                } else if constexpr (std::is_same_v<T, FileObjectRecord>) {
                    info.fileObjects.push_back(std::move(r));
                    return "FileObject";
                } else if constexpr (std::is_same_v<T, TerminalRecord>) {
                    info.terminals.push_back(std::move(r));
                    return "Terminal";
                } else if constexpr (std::is_same_v<T, SharedMemoryRecord>) {
                    raw = r.data.size();
                    r.data.clear();
                    r.data.shrink_to_fit();
                    info.sharedMemory.push_back(std::move(r));
                    return "SharedMemory";
                } else if constexpr (std::is_same_v<T, SysvIpcRecord>) {
                    info.sysvIpc.push_back(std::move(r));
                    return "SysvIpc";
                } else if constexpr (std::is_same_v<T, PagesRecord>) {
                    raw = r.data.size();
                    accountPages(processOf(r.pid), r, info.header.pageSize, stored);
                    info.pagesRawBytes += raw;
                    info.pagesStoredBytes += stored;
                    return "Pages";
                } else if constexpr (std::is_same_v<T, FileDataRecord>) {
                    raw = r.data.size();
                    for (ImageFd &f : processOf(r.pid).fds) {
                        if (f.fd.fd == r.fd) {
                            f.hasData = true;
                            f.dataRawBytes = raw;
                            f.dataStoredBytes = stored;
                        }
                    }
                    info.fileDataRawBytes += raw;
                    info.fileDataStoredBytes += stored;
                    return "FileData";
                } else if constexpr (std::is_same_v<T, EndRecord>) {
                    info.end = r;
                    done = true;
                    return "End";
                }
            },
            *section);
        ImageSectionStats &stats = info.sections[name];
        ++stats.count;
        stats.rawBytes += raw ? raw : stored - kFrameHeaderBytes - kChecksumBytes;
        stats.storedBytes += stored;
        if (done) {
            break;
        }
    }
    info.imageBytes = (*reader)->bytesRead();
    return info;
}

} // namespace cryopod::image
