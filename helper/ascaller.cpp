// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "ascaller.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace AsCaller
{

namespace
{

// Takes on the caller's filesystem credentials in this thread only.
cryopod::Result<void> becomeCaller(const FsCreds &creds)
{
    if (::syscall(SYS_setgroups, creds.groups.size(), creds.groups.data()) != 0) {
        return cryopod::sysError("as caller: setgroups");
    }
    ::syscall(SYS_setfsgid, creds.gid);
    ::syscall(SYS_setfsuid, creds.uid);
    // setfs[ug]id return the previous value and report no errors; an invalid
    // id (-1) changes nothing, so it reads back the current one.
    if (uid_t(::syscall(SYS_setfsuid, uid_t(-1))) != creds.uid || gid_t(::syscall(SYS_setfsgid, gid_t(-1))) != creds.gid) {
        return cryopod::fail("as caller: the filesystem ids did not change", EPERM);
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) {
        return cryopod::sysError("as caller: capget");
    }
    data[0].effective = 0;
    data[1].effective = 0;
    if (::syscall(SYS_capset, &header, data) != 0) {
        return cryopod::sysError("as caller: capset");
    }
    return {};
}

// The kernel's faccessat2 itself: with AT_EACCESS it checks with this
// thread's current (filesystem) credentials. glibc may emulate AT_EACCESS in
// user space from the effective ids, which is not what is asked here.
int accessAsCaller(const std::string &path, int mode)
{
    return int(::syscall(SYS_faccessat2, AT_FDCWD, path.c_str(), mode, AT_EACCESS));
}

std::string errnoText(int err)
{
    return std::string(std::strerror(err));
}

PathVerdict failure(const PathCheck &check, int err, const std::string &doing)
{
    PathVerdict v;
    v.error = err;
    if (err == EACCES || err == EPERM) {
        v.kind = PathVerdict::Kind::Denied;
        v.message = check.what + ": " + check.path + ": you may not " + doing + " (" + errnoText(err) + ")";
    } else {
        v.kind = PathVerdict::Kind::Failed;
        v.message = check.what + ": " + check.path + ": cannot " + doing + " (" + errnoText(err) + ")";
    }
    return v;
}

PathVerdict different(const PathCheck &check, const std::string &why)
{
    PathVerdict v;
    v.kind = PathVerdict::Kind::Failed;
    v.error = ESTALE;
    v.message = check.what + ": " + check.path + ": " + why;
    return v;
}

bool sameFile(const PathCheck &check, const struct stat &st)
{
    return !check.haveIdentity || (uint64_t(st.st_dev) == check.dev && uint64_t(st.st_ino) == check.ino);
}

PathVerdict runOne(const PathCheck &check)
{
    switch (check.kind) {
    case PathCheck::Kind::Open: {
        const int flags = (check.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        const int fd = ::open(check.path.c_str(), flags);
        if (fd < 0) {
            return failure(check, errno, "open it for " + accessWords(check.flags));
        }
        struct stat st{};
        const bool statted = ::fstat(fd, &st) == 0;
        const int err = errno;
        ::close(fd);
        if (!statted) {
            return failure(check, err, "examine it");
        }
        if (!sameFile(check, st)) {
            return different(check, "another file is at that path now (device/inode differ from the image)");
        }
        return {};
    }
    case PathCheck::Kind::CharDevice:
    case PathCheck::Kind::Fifo: {
        struct stat st{};
        if (::stat(check.path.c_str(), &st) != 0) {
            return failure(check, errno, "look it up");
        }
        if (check.kind == PathCheck::Kind::CharDevice && (!S_ISCHR(st.st_mode) || uint64_t(st.st_rdev) != check.rdev)) {
            return different(check, "not the character device the image names");
        }
        if (check.kind == PathCheck::Kind::Fifo && (!S_ISFIFO(st.st_mode) || !sameFile(check, st))) {
            return different(check, "not the named pipe (FIFO) the image names");
        }
        if (accessAsCaller(check.path, check.accessMode) != 0) {
            return failure(check, errno, "open it for " + std::string(check.accessMode == (R_OK | W_OK) ? "reading and writing" : check.accessMode == W_OK ? "writing" : "reading"));
        }
        return {};
    }
    case PathCheck::Kind::SearchDirectory:
    case PathCheck::Kind::CreateIn: {
        const bool create = check.kind == PathCheck::Kind::CreateIn;
        struct stat st{};
        if (::stat(check.path.c_str(), &st) != 0) {
            return failure(check, errno, "look it up");
        }
        if (!S_ISDIR(st.st_mode)) {
            return different(check, "not a directory");
        }
        if (accessAsCaller(check.path, create ? (W_OK | X_OK) : X_OK) != 0) {
            return failure(check, errno, create ? "create files in it" : "enter it");
        }
        return {};
    }
    case PathCheck::Kind::ReadOrExecute: {
        struct stat st{};
        if (::stat(check.path.c_str(), &st) != 0) {
            return failure(check, errno, "look it up");
        }
        if (!S_ISREG(st.st_mode)) {
            return different(check, "not a regular file");
        }
        if (!sameFile(check, st)) {
            return different(check, "another file is at that path now (device/inode differ from the image)");
        }
        if (accessAsCaller(check.path, R_OK) != 0 && accessAsCaller(check.path, X_OK) != 0) {
            return failure(check, errno, "read or execute it");
        }
        return {};
    }
    }
    return {};
}

} // namespace

std::string accessWords(int flags)
{
    if (flags & O_PATH) {
        return "reference (O_PATH)";
    }
    switch (flags & O_ACCMODE) {
    case O_WRONLY:
        return "writing";
    case O_RDWR:
        return "reading and writing";
    default:
        return "reading";
    }
}

cryopod::Result<void> run(const FsCreds &creds, const std::function<void()> &fn)
{
    cryopod::Result<void> result;
    std::thread thread([&] {
        result = becomeCaller(creds);
        if (result) {
            fn();
        }
    });
    thread.join();
    return result;
}

cryopod::Result<std::vector<PathVerdict>> checkPaths(const FsCreds &creds, const std::vector<PathCheck> &checks)
{
    std::vector<PathVerdict> verdicts;
    verdicts.reserve(checks.size());
    auto r = run(creds, [&] {
        for (const PathCheck &check : checks) {
            verdicts.push_back(runOne(check));
        }
    });
    if (!r) {
        return std::unexpected(r.error());
    }
    return verdicts;
}

} // namespace AsCaller
