// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "inotify.h"

#include "uniquefd.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <string_view>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace cryopod::engine
{

namespace
{

// "inotify wd:1 ino:e0f2b sdev:fe00000 mask:fff ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:2b0f0e00b1b6a3c2"
struct WatchLine {
    int32_t wd = 0;
    uint64_t ino = 0;
    uint64_t sdev = 0; // the kernel's internal dev_t: major << 20 | minor
    uint32_t mask = 0;
    int handleType = 0;
    std::vector<uint8_t> handle;
};

template<typename T>
bool hexField(const std::vector<std::string_view> &w, std::string_view key, T &out)
{
    for (const std::string_view field : w) {
        if (field.starts_with(key) && field.size() > key.size() && field[key.size()] == ':') {
            const std::string_view v = field.substr(key.size() + 1);
            return std::from_chars(v.data(), v.data() + v.size(), out, 16).ec == std::errc();
        }
    }
    return false;
}

std::vector<WatchLine> watchLines(const procfs::FdInfo &info, std::string *error)
{
    std::vector<WatchLine> out;
    for (const std::string &line : info.extraLines) {
        if (!line.starts_with("inotify ")) {
            continue;
        }
        const auto w = procfs::words(line);
        WatchLine watch;
        uint32_t bytes = 0;
        std::string_view hex;
        for (const std::string_view field : w) {
            if (field.starts_with("f_handle:")) {
                hex = field.substr(9);
            }
        }
        if (!hexField(w, "wd", watch.wd) || !hexField(w, "ino", watch.ino) || !hexField(w, "sdev", watch.sdev) || !hexField(w, "mask", watch.mask) ||
            !hexField(w, "fhandle-bytes", bytes) || !hexField(w, "fhandle-type", watch.handleType) || hex.size() != 2 * size_t(bytes) || bytes > 128) {
            *error = "an inotify watch cryopod cannot read (" + line + ")";
            return {};
        }
        for (size_t i = 0; i < bytes; ++i) {
            uint8_t b = 0;
            std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, b, 16);
            watch.handle.push_back(b);
        }
        out.push_back(std::move(watch));
    }
    return out;
}

// The path of the watched inode: its file handle opened on a mount of its
// file system (from the process's mountinfo; the first one under whose root
// the inode lies), then the magic link read and checked against the inode.
Result<std::string> watchedPath(pid_t pid, const WatchLine &watch, const std::string &what)
{
    const unsigned major = unsigned(watch.sdev >> 20);
    const unsigned minor = unsigned(watch.sdev & 0xfffff);
    const std::string dev = std::to_string(major) + ":" + std::to_string(minor);
    auto mountinfo = procfs::readFile(procfs::path(pid, "mountinfo"));
    if (!mountinfo) {
        return std::unexpected(mountinfo.error().context(what));
    }
    std::vector<std::string> mountPoints; // of that file system, those of its root first
    std::string_view rest = *mountinfo;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const auto w = procfs::words(rest.substr(0, nl));
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        if (w.size() > 4 && w[2] == dev) {
            mountPoints.insert(w[3] == "/" ? mountPoints.begin() : mountPoints.end(), std::string(w[4]));
        }
    }
    if (mountPoints.empty()) {
        return fail(what + ": no mount of its file system (" + dev + ") in the process's mount table", ENOENT);
    }
    std::vector<uint8_t> buffer(sizeof(file_handle) + watch.handle.size());
    auto *handle = reinterpret_cast<file_handle *>(buffer.data());
    handle->handle_bytes = unsigned(watch.handle.size());
    handle->handle_type = watch.handleType;
    std::copy(watch.handle.begin(), watch.handle.end(), buffer.begin() + sizeof(file_handle));
    Error last {ENOENT, what + ": the watched inode has no path under any mount of its file system"};
    for (const std::string &mountPoint : mountPoints) {
        // Not O_PATH: open_by_handle_at does not take one as its mount fd.
        UniqueFd mount(::open((procfs::path(pid, "root") + mountPoint).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!mount) {
            continue;
        }
        UniqueFd file(int(::syscall(SYS_open_by_handle_at, mount.get(), handle, O_PATH | O_CLOEXEC)));
        if (!file) {
            last = Error {errno, what + ": open the watched inode by its handle"};
            continue;
        }
        char link[PATH_MAX + 1] = {};
        const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(file.get())).c_str(), link, PATH_MAX);
        const std::string path(link, size_t(std::max<ssize_t>(n, 0)));
        struct stat st {};
        if (path.starts_with("/") && ::lstat(path.c_str(), &st) == 0 && st.st_ino == watch.ino) {
            return path;
        }
    }
    return std::unexpected(last);
}

} // namespace

// ---- dump

std::string inotifyRefusal(pid_t pid, int fd, const procfs::FdInfo &info, const std::string &fdName, std::string *caveat)
{
    std::string error;
    const auto watches = watchLines(info, &error);
    if (!error.empty()) {
        return fdName + " is an inotify instance with " + error;
    }
    for (const WatchLine &w : watches) {
        auto path = watchedPath(pid, w, fdName + " (inotify) watch " + std::to_string(w.wd));
        if (!path) {
            return path.error().describe();
        }
    }
    auto theirs = takeTheirFd(pid, fd, fdName);
    int queued = 0;
    if (theirs && ::ioctl(theirs->get(), FIONREAD, &queued) == 0 && queued > 0 && caveat) {
        *caveat = fdName + " is an inotify instance with " + std::to_string(queued) + " bytes of events waiting: the restored one starts with none";
    }
    return {};
}

Result<image::FileObjectRecord> dumpInotify(pid_t pid, const image::FdRecord &fd, const procfs::FdInfo &info, uint64_t id)
{
    const std::string what = "inotify instance at fd " + std::to_string(fd.fd);
    std::string error;
    const auto watches = watchLines(info, &error);
    if (!error.empty()) {
        return fail(what + ": " + error, ENOTSUP);
    }
    image::FileObjectRecord record;
    record.id = id;
    record.kind = image::FileObjectKind::Inotify;
    record.ownerPid = pid;
    for (const WatchLine &w : watches) {
        auto path = watchedPath(pid, w, what + ": watch " + std::to_string(w.wd));
        if (!path) {
            return std::unexpected(path.error());
        }
        struct stat st {};
        if (::lstat(path->c_str(), &st) != 0) {
            return sysError(what + ": stat " + *path);
        }
        record.watches.push_back(image::InotifyWatch {w.wd, w.mask, *path, uint64_t(st.st_dev), uint64_t(st.st_ino)});
    }
    std::sort(record.watches.begin(), record.watches.end(), [](const image::InotifyWatch &a, const image::InotifyWatch &b) { return a.wd < b.wd; });
    return record;
}

// ---- restore

Result<void> restoreInotify(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds)
{
    const std::string what = "restore inotify instance at fd " + std::to_string(owner.fd);
    auto made = injector.call(what + ": inotify_init1", SYS_inotify_init1, IN_CLOEXEC);
    if (!made) {
        return std::unexpected(made.error());
    }
    auto fd = fds.adopt(injector, int32_t(*made), what);
    if (!fd) {
        return std::unexpected(fd.error());
    }
    // Temporary files whose watches fill the gaps between watch descriptors.
    std::string gapDir;
    int gapFiles = 0;
    auto cleanGaps = [&] {
        for (int i = 0; i < gapFiles; ++i) {
            ::unlink((gapDir + "/" + std::to_string(i)).c_str());
        }
        if (!gapDir.empty()) {
            ::rmdir(gapDir.c_str());
        }
    };
    auto addWatch = [&](const std::string &path, uint32_t mask) -> Result<int32_t> {
        const size_t mark = scratch.used();
        auto at = scratch.putString(path);
        if (!at) {
            return std::unexpected(at.error().context(what));
        }
        auto wd = injector.call(what + ": inotify_add_watch " + path, SYS_inotify_add_watch, uint64_t(*fd), *at, mask);
        scratch.reset(mark);
        if (!wd) {
            return std::unexpected(wd.error());
        }
        return int32_t(*wd);
    };
    int32_t last = 0;
    Result<void> result;
    for (const image::InotifyWatch &w : object.watches) {
        struct stat st {};
        if (::lstat(w.path.c_str(), &st) != 0 || uint64_t(st.st_dev) != w.dev || uint64_t(st.st_ino) != w.ino) {
            result = fail(what + ": watch " + std::to_string(w.wd) + ": " + w.path + " is not the watched file any more", ESTALE);
            break;
        }
        std::vector<int32_t> gaps;
        while (last + int32_t(gaps.size()) + 1 < w.wd && result) {
            if (gapDir.empty()) {
                char dir[] = "/tmp/.cryopod-inotify-XXXXXX";
                if (!::mkdtemp(dir)) {
                    result = sysError(what + ": temporary directory");
                    break;
                }
                gapDir = dir;
                // The process watches them with the caller's rights.
                ::chmod(dir, 0755);
            }
            const std::string file = gapDir + "/" + std::to_string(gapFiles);
            UniqueFd created(::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
            if (!created) {
                result = sysError(what + ": temporary file");
                break;
            }
            ++gapFiles;
            auto gap = addWatch(file, IN_ATTRIB);
            if (!gap) {
                result = std::unexpected(gap.error());
                break;
            }
            gaps.push_back(*gap);
        }
        for (const int32_t gap : gaps) {
            auto removed = injector.call(what + ": inotify_rm_watch", SYS_inotify_rm_watch, uint64_t(*fd), uint64_t(gap));
            if (!removed && result) {
                result = std::unexpected(removed.error());
            }
        }
        if (!result) {
            break;
        }
        auto wd = addWatch(w.path, w.mask | (S_ISLNK(st.st_mode) ? IN_DONT_FOLLOW : 0));
        if (!wd) {
            result = std::unexpected(wd.error());
            break;
        }
        if (*wd != w.wd) {
            result = fail(what + ": " + w.path + " got watch descriptor " + std::to_string(*wd) + " instead of " + std::to_string(w.wd), EIO);
            break;
        }
        last = *wd;
    }
    cleanGaps();
    CRYOPOD_PROPAGATE(result);
    // Removing the gaps' watches queued IN_IGNORED events: the restored
    // instance starts with an empty queue.
    auto theirs = takeTheirFd(injector.tracee().tid(), *fd, what);
    if (!theirs) {
        return std::unexpected(theirs.error());
    }
    for (int queued = 0; ::ioctl(theirs->get(), FIONREAD, &queued) == 0 && queued > 0;) {
        std::vector<char> events(size_t(queued) + 4096);
        if (::read(theirs->get(), events.data(), events.size()) <= 0) {
            return sysError(what + ": empty its event queue");
        }
    }
    CRYOPOD_PROPAGATE(setStatusFlags(injector, *fd, owner.openFlags, what));
    fds.byFd[owner.fd] = *fd;
    return {};
}

} // namespace cryopod::engine
