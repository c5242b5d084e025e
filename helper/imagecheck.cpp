// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imagecheck.h"

#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace ImageCheck
{

using AsCaller::PathCheck;
using namespace cryopod::image;

namespace
{

std::string hex(uint64_t v)
{
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string parentDirectory(const std::string &path)
{
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) {
        return "/";
    }
    return path.substr(0, slash);
}

} // namespace

std::vector<PathCheck> pathChecks(const ImageInfo &info)
{
    std::vector<PathCheck> checks;
    std::set<std::tuple<int, std::string, int, uint64_t, uint64_t>> seen;
    auto add = [&](PathCheck check) {
        if (seen.emplace(int(check.kind), check.path, check.flags | check.accessMode, check.dev, check.ino).second) {
            checks.push_back(std::move(check));
        }
    };
    // memfds are made anew by memfd_create, in no directory: nothing to check.
    std::set<uint64_t> memfds;
    for (const SharedMemoryRecord &object : info.sharedMemory) {
        if (object.kind == SharedMemoryKind::Memfd) {
            memfds.insert(object.id);
        }
    }
    for (const ImageProcess &process : info.processes) {
        const std::string pid = std::to_string(process.entry.pid);
        if (process.task && !process.task->cwd.empty()) {
            PathCheck c;
            c.kind = PathCheck::Kind::SearchDirectory;
            c.what = "process " + pid + ": working directory";
            c.path = process.task->cwd;
            add(std::move(c));
        }
        std::set<std::string> exes;
        if (process.mm && !process.mm->exePath.empty()) {
            exes.insert(process.mm->exePath);
        }
        if (process.task && !process.task->exePath.empty()) {
            exes.insert(process.task->exePath);
        }
        for (const std::string &exe : exes) {
            PathCheck c;
            c.kind = PathCheck::Kind::ReadOrExecute;
            c.what = "process " + pid + ": executable";
            c.path = exe;
            for (const ImageVma &v : process.vmas) {
                if (v.vma.path == exe && (v.vma.kind == VmaKind::FilePrivate || v.vma.kind == VmaKind::FileShared)) {
                    c.haveIdentity = true;
                    c.dev = v.vma.dev;
                    c.ino = v.vma.ino;
                    break;
                }
            }
            add(std::move(c));
        }
        for (const ImageVma &v : process.vmas) {
            const VmaRecord &vma = v.vma;
            if ((vma.kind != VmaKind::FilePrivate && vma.kind != VmaKind::FileShared) || memfds.contains(vma.shm)) {
                continue;
            }
            PathCheck c;
            c.what = "process " + pid + ": mapping at " + hex(vma.start);
            if (vma.shm != 0) {
                // A deleted file's shared memory: made anew from the image
                // in its directory (shmem.h), as the caller.
                c.kind = PathCheck::Kind::CreateIn;
                c.what += " (deleted file " + vma.path + ")";
                c.path = parentDirectory(vma.path);
                add(std::move(c));
                continue;
            }
            c.path = vma.path;
            c.haveIdentity = true;
            c.dev = vma.dev;
            c.ino = vma.ino;
            if (exes.contains(vma.path)) {
                // The program's own image: mapped by exec, which needs only
                // execute permission.
                c.kind = PathCheck::Kind::ReadOrExecute;
            } else {
                c.kind = PathCheck::Kind::Open;
                c.flags = vma.kind == VmaKind::FileShared && ((vma.flags & kVmaMayWrite) || (vma.prot & kVmaWrite)) ? O_RDWR : O_RDONLY;
            }
            add(std::move(c));
        }
        for (const ImageFd &f : process.fds) {
            const FdRecord &fd = f.fd;
            PathCheck c;
            c.what = "process " + pid + ": fd " + std::to_string(fd.fd);
            if (fd.unlinked) {
                // Recreated from the image's copy in its directory (else in
                // /tmp): the caller must be able to create files there.
                c.kind = PathCheck::Kind::CreateIn;
                c.what += " (unlinked file " + fd.path + ")";
                c.path = parentDirectory(fd.path);
                add(std::move(c));
                continue;
            }
            c.path = fd.path;
            switch (fd.kind) {
            case FdKind::Regular:
            case FdKind::Directory:
                c.kind = PathCheck::Kind::Open;
                c.flags = int(fd.openFlags) | (fd.kind == FdKind::Directory ? O_DIRECTORY : 0);
                c.haveIdentity = true;
                c.dev = fd.dev;
                c.ino = fd.ino;
                break;
            case FdKind::Pipe:
            case FdKind::EventFd:
            case FdKind::TimerFd:
            case FdKind::SignalFd:
            case FdKind::Epoll:
            case FdKind::UnixSocket:
            case FdKind::Terminal: // a new pty, or the original one opened with the caller's rights
            case FdKind::InetSocket:
            case FdKind::Inotify:
            case FdKind::Memfd:
                continue; // made anew, no path
            case FdKind::ProcFile:
                if (fd.path.size() > 6 && fd.path[6] >= '0' && fd.path[6] <= '9') {
                    continue; // a file of a process of the restored tree, which is the caller's
                }
                c.kind = PathCheck::Kind::Open; // a file of the system (/proc/meminfo): new inodes, no identity
                c.flags = int(fd.openFlags) | (S_ISDIR(fd.mode) ? O_DIRECTORY : 0);
                break;
            case FdKind::CharDevice:
            case FdKind::Fifo:
                c.kind = fd.kind == FdKind::Fifo ? PathCheck::Kind::Fifo : PathCheck::Kind::CharDevice;
                c.haveIdentity = fd.kind == FdKind::Fifo;
                c.dev = fd.dev;
                c.ino = fd.ino;
                switch (fd.openFlags & O_ACCMODE) {
                case O_WRONLY:
                    c.accessMode = W_OK;
                    break;
                case O_RDWR:
                    c.accessMode = R_OK | W_OK;
                    break;
                default:
                    c.accessMode = R_OK;
                }
                c.rdev = fd.rdev;
                break;
            }
            add(std::move(c));
        }
    }
    return checks;
}

QStringList policyReasons(const ImageInfo &info, const AccessPolicy::CallerCreds &caller)
{
    QStringList reasons;
    // An established TCP connection is restored with TCP_REPAIR: its
    // addresses and sequence numbers come from the image, which in other
    // hands makes forged traffic (CAP_NET_ADMIN is what the kernel asks).
    constexpr uint64_t kCapNetAdmin = uint64_t(1) << 12;
    if (!(caller.capEff & kCapNetAdmin)) {
        for (const FileObjectRecord &object : info.fileObjects) {
            if (object.kind == FileObjectKind::InetSocket && object.inetState == InetState::Established) {
                reasons << QStringLiteral("the image has an established TCP connection (file object %1), restored with TCP_REPAIR, which needs CAP_NET_ADMIN")
                               .arg(object.id);
                break;
            }
        }
    }
    for (const ImageProcess &process : info.processes) {
        if (process.entry.pid < AccessPolicy::kFirstUserPid) {
            reasons << QStringLiteral("the image's process wants PID %1, below %2, which are system PIDs").arg(process.entry.pid).arg(AccessPolicy::kFirstUserPid);
        }
        if (process.creds) {
            reasons << AccessPolicy::imageCredsExceed(caller, *process.creds);
        }
        if (process.task) {
            reasons << AccessPolicy::imageLimitsExceed(caller, *process.task);
            if (!process.task->root.empty() && process.task->root != "/") {
                reasons << QStringLiteral("the image's process %1 is chrooted to %2 (chroot needs CAP_SYS_CHROOT)")
                               .arg(process.entry.pid)
                               .arg(QString::fromStdString(process.task->root));
            }
        }
        for (const ImageFd &f : process.fds) {
            if (f.fd.unlinked && (f.fd.mode & (S_ISUID | S_ISGID))) {
                reasons << QStringLiteral("the image's process %1 has the unlinked set-id file %2 open on fd %3; its copy would be a set-id file")
                               .arg(process.entry.pid)
                               .arg(QString::fromStdString(f.fd.path))
                               .arg(f.fd.fd);
            }
        }
    }
    return reasons;
}

HelperResult<Assessment> assess(const ImageInfo &info, const AccessPolicy::CallerCreds &caller, const AsCaller::FsCreds &fs)
{
    Assessment a;
    a.rootPid = info.rootPid;
    if (const ImageProcess *root = info.process(info.rootPid)) {
        if (root->task) {
            a.command = QString::fromStdString(root->task->comm);
        }
        if (root->creds) {
            a.uid = root->creds->uid;
        }
    }
    a.adminReasons = policyReasons(info, caller);
    auto verdicts = AsCaller::checkPaths(fs, pathChecks(info));
    if (!verdicts) {
        return helperError(HelperErrorName::Failed, QStringLiteral("cannot check the image's files as you: %1").arg(QString::fromStdString(verdicts.error().describe())));
    }
    for (const AsCaller::PathVerdict &v : *verdicts) {
        switch (v.kind) {
        case AsCaller::PathVerdict::Kind::Ok:
            break;
        case AsCaller::PathVerdict::Kind::Denied:
            a.adminReasons << QString::fromStdString(v.message);
            break;
        case AsCaller::PathVerdict::Kind::Failed:
            return helperError(HelperErrorName::Failed, QStringLiteral("the image cannot be restored here: %1").arg(QString::fromStdString(v.message)));
        }
    }
    return a;
}

} // namespace ImageCheck
