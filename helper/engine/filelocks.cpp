// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "filelocks.h"

#include "procfs.h"

#include <algorithm>
#include <charconv>
#include <fcntl.h>
#include <optional>
#include <sys/file.h>
#include <sys/syscall.h>

namespace cryopod::engine
{

namespace
{

// "lock:\t1: POSIX  ADVISORY  WRITE 8734 fe:00:10953124 5 14" -> the lock,
// or why it is not one cryopod restores.
struct Parsed {
    std::optional<image::FileLock> lock;
    std::string why;
};

Parsed parseLockLine(int32_t fd, std::string_view line)
{
    Parsed out;
    const auto w = procfs::words(line);
    // lock: N: KIND ADVISORY|MANDATORY READ|WRITE PID DEV:INO START END
    if (w.size() < 9 || w[0] != "lock:") {
        out.why = "an fdinfo lock line cryopod cannot read (" + std::string(line) + ")";
        return out;
    }
    image::FileLock lock;
    lock.fd = fd;
    const std::string_view kind = w[2];
    if (kind == "FLOCK") {
        lock.kind = image::FileLockKind::Flock;
    } else if (kind == "POSIX") {
        lock.kind = image::FileLockKind::Posix;
    } else if (kind == "OFDLCK") {
        lock.kind = image::FileLockKind::Ofd;
    } else {
        out.why = "a " + std::string(kind) + " (lease or delegation): not supported";
        return out;
    }
    if (w[3] != "ADVISORY") {
        out.why = "a " + std::string(w[3]) + " lock: only advisory locks are supported";
        return out;
    }
    if (w[4] != "READ" && w[4] != "WRITE") {
        out.why = "a lock of type " + std::string(w[4]) + ": not supported";
        return out;
    }
    lock.write = w[4] == "WRITE";
    const std::string_view start = w[7];
    const std::string_view end = w[8];
    if (std::from_chars(start.data(), start.data() + start.size(), lock.start).ec != std::errc()) {
        out.why = "a lock whose range cryopod cannot read (" + std::string(line) + ")";
        return out;
    }
    if (end == "EOF") {
        lock.end = UINT64_MAX;
    } else if (std::from_chars(end.data(), end.data() + end.size(), lock.end).ec != std::errc() || lock.end < lock.start) {
        out.why = "a lock whose range cryopod cannot read (" + std::string(line) + ")";
        return out;
    }
    out.lock = lock;
    return out;
}

const char *kindName(image::FileLockKind kind)
{
    switch (kind) {
    case image::FileLockKind::Flock:
        return "flock";
    case image::FileLockKind::Posix:
        return "POSIX lock";
    case image::FileLockKind::Ofd:
        return "OFD lock";
    }
    return "lock";
}

} // namespace

// ---- dump

std::string fileLockRefusal(const std::string &fdName, const std::vector<std::string> &fdinfoLines)
{
    for (const std::string &line : fdinfoLines) {
        if (!line.starts_with("lock:")) {
            continue;
        }
        const Parsed parsed = parseLockLine(0, line);
        if (!parsed.lock) {
            return fdName + " holds " + parsed.why;
        }
    }
    return {};
}

Result<std::vector<image::FileLock>> dumpFileLocks(int32_t fd, const std::vector<std::string> &fdinfoLines)
{
    std::vector<image::FileLock> out;
    for (const std::string &line : fdinfoLines) {
        if (!line.starts_with("lock:")) {
            continue;
        }
        const Parsed parsed = parseLockLine(fd, line);
        if (!parsed.lock) {
            return fail("fd " + std::to_string(fd) + " holds " + parsed.why, ENOTSUP);
        }
        out.push_back(*parsed.lock);
    }
    return out;
}

// ---- restore

Result<void> restoreFileLocks(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files)
{
    for (const image::FileLock &lock : files.locks) {
        const auto fd = std::find_if(files.fds.begin(), files.fds.end(), [&](const image::FdRecord &f) { return f.fd == lock.fd; });
        const std::string path = fd == files.fds.end() ? std::string("?") : fd->path;
        const std::string what = "restore " + std::string(lock.write ? "write " : "read ") + kindName(lock.kind) + " on fd " + std::to_string(lock.fd) + " (" +
            path +
            (lock.kind == image::FileLockKind::Flock
                 ? std::string()
                 : ", bytes " + std::to_string(lock.start) + ".." + (lock.end == UINT64_MAX ? std::string("EOF") : std::to_string(lock.end))) +
            ")";
        Result<uint64_t> taken = 0;
        if (lock.kind == image::FileLockKind::Flock) {
            taken = injector.call(what, SYS_flock, uint64_t(lock.fd), (lock.write ? LOCK_EX : LOCK_SH) | LOCK_NB);
        } else {
            struct flock fl {};
            fl.l_type = lock.write ? F_WRLCK : F_RDLCK;
            fl.l_whence = SEEK_SET;
            fl.l_start = off_t(lock.start);
            fl.l_len = lock.end == UINT64_MAX ? 0 : off_t(lock.end - lock.start + 1);
            const size_t mark = scratch.used();
            auto at = scratch.put(std::span(reinterpret_cast<const uint8_t *>(&fl), sizeof fl));
            if (!at) {
                return std::unexpected(at.error().context(what));
            }
            taken = injector.call(what, SYS_fcntl, uint64_t(lock.fd), lock.kind == image::FileLockKind::Ofd ? F_OFD_SETLK : F_SETLK, *at);
            scratch.reset(mark);
        }
        if (!taken && (taken.error().code == EAGAIN || taken.error().code == EACCES)) {
            return fail(what + ": another process holds a conflicting lock now (the original still running?)", taken.error().code);
        }
        if (!taken) {
            return std::unexpected(taken.error());
        }
    }
    return {};
}

} // namespace cryopod::engine
