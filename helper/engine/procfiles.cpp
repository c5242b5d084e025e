// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "procfiles.h"

#include "fileobjects.h"
#include "procfs.h"
#include "uniquefd.h"

#include <charconv>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr unsigned long kProcSuperMagic = 0x9fa0;
constexpr std::string_view kProcPrefix = "/proc/";

// A decimal pid at the start of `s` (up to the next '/'), 0 when none.
pid_t leadingPid(std::string_view s)
{
    const std::string_view part = s.substr(0, s.find('/'));
    pid_t n = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    return ec == std::errc() && ptr == part.data() + part.size() && n > 0 ? n : 0;
}

// The thread group of task `tid` (a process or a thread), 0 when it is gone.
pid_t threadGroupOf(pid_t tid)
{
    auto status = procfs::readStatus(tid);
    if (!status) {
        return 0;
    }
    auto tgid = procfs::statusNumbers(*status, "Tgid");
    return tgid && !tgid->empty() ? pid_t((*tgid)[0]) : 0;
}

} // namespace

std::optional<ProcPathOwner> procPathOwner(std::string_view path)
{
    if (!path.starts_with(kProcPrefix)) {
        return std::nullopt;
    }
    std::string_view rest = path.substr(kProcPrefix.size());
    ProcPathOwner owner;
    owner.pid = leadingPid(rest);
    if (owner.pid == 0) {
        return std::nullopt;
    }
    const size_t slash = rest.find('/');
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (rest.starts_with("task/")) {
        owner.tid = leadingPid(rest.substr(5));
    }
    return owner;
}

// ---- dump

bool isOnProcfs(pid_t pid, int fd)
{
    struct statfs fs {};
    return ::statfs(procfs::path(pid, "fd/" + std::to_string(fd)).c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == kProcSuperMagic;
}

FdReport checkProcFile(pid_t pid, int fd, const std::string &link, mode_t type, uint32_t flags, uint64_t pos, const std::set<pid_t> &tree)
{
    FdReport report;
    report.fd = fd;
    report.target = link;
    const std::string fdName = "fd " + std::to_string(fd) + " (" + link + ")";
    auto refuse = [&](const std::string &why) {
        report.verdict = Verdict::Refused;
        report.reason = fdName + " is a file of /proc: " + why;
        return report;
    };
    if ((flags & O_ACCMODE) != O_RDONLY) {
        return refuse(
            "open for writing: only read-only fds on /proc are reopened (a write to a /proc file changes the kernel's state, which the image does not hold)");
    }
    if (!link.starts_with(kProcPrefix)) {
        return refuse("procfs is mounted there rather than at /proc: only files under /proc are reopened");
    }
    if (type != S_IFREG && type != S_IFDIR) {
        return refuse("neither a file nor a directory");
    }
    const std::optional<ProcPathOwner> owner = procPathOwner(link);
    if (!owner) {
        const std::string_view name = std::string_view(link).substr(kProcPrefix.size());
        if (name == "kmsg" || name == "kcore") {
            return refuse("reading it consumes or maps kernel state: not reopened");
        }
    } else {
        // The task the path names: a process, or one of its threads
        // (/proc/TID/..., /proc/PID/task/TID/...).
        const pid_t named = owner->tid != 0 ? owner->tid : owner->pid;
        const pid_t process = threadGroupOf(named);
        if (process == 0) {
            return refuse("it names task " + std::to_string(named) + ", which no longer exists: there is nothing to open again");
        }
        if (owner->tid != 0 && threadGroupOf(owner->pid) != process) {
            return refuse("its path is not one the restored tree would have");
        }
        if (!tree.contains(process)) {
            return refuse("it belongs to process " + std::to_string(process) + " (" + procfs::commOf(process) +
                          ") outside the checkpoint: a restored copy would find another process at that pid, or none; checkpoint a tree that holds both");
        }
        if (named != process && process != pid) {
            return refuse("it belongs to thread " + std::to_string(named) + " of process " + std::to_string(process) +
                          ": only the files of a process's own threads and of the main threads of the tree are reopened");
        }
    }
    if (pos != 0 && type == S_IFREG) {
        report.verdict = Verdict::Caveat;
        report.reason = fdName + " is a file of /proc read up to offset " + std::to_string(pos) +
            ": reopened at restore and positioned there; the rest is generated when the restored process reads it (contents now shorter read as at end of "
            "file)";
    }
    return report;
}

// ---- restore

std::set<int32_t> lateProcFiles(const image::FilesRecord &files, const std::vector<pid_t> &tids)
{
    std::set<int32_t> late;
    if (tids.size() < 2) {
        return late;
    }
    const std::set<pid_t> threads(tids.begin() + 1, tids.end());
    for (const image::FdRecord &fd : files.fds) {
        if (fd.kind != image::FdKind::ProcFile || fd.sharedPid != 0) {
            continue;
        }
        if (fd.dupOf != -1) {
            if (late.contains(fd.dupOf)) {
                late.insert(fd.fd);
            }
            continue;
        }
        const std::optional<ProcPathOwner> owner = procPathOwner(fd.path);
        if (owner && (threads.contains(owner->pid) || threads.contains(owner->tid))) {
            late.insert(fd.fd);
        }
    }
    return late;
}

Result<void> checkReopenedProcFile(const image::FdRecord &fd, const std::string &link, const std::string &what)
{
    struct statfs fs {};
    struct stat st {};
    if (::statfs(link.c_str(), &fs) != 0 || ::stat(link.c_str(), &st) != 0) {
        return sysError(what + ": stat " + link);
    }
    if (static_cast<unsigned long>(fs.f_type) != kProcSuperMagic) {
        return fail(what + ": not a file of procfs any more", ESTALE);
    }
    if ((st.st_mode & S_IFMT) != (fd.mode & S_IFMT)) {
        return fail(what + ": no longer a " + (S_ISDIR(fd.mode) ? "directory" : "file"), ESTALE);
    }
    return {};
}

Result<void> positionProcFiles(pid_t pid, const image::FilesRecord &files)
{
    for (const image::FdRecord &fd : files.fds) {
        if (fd.kind != image::FdKind::ProcFile || fd.dupOf != -1 || fd.sharedPid != 0 || fd.pos == 0 || (fd.openFlags & O_PATH) != 0) {
            continue;
        }
        const std::string what = "restore fd " + std::to_string(fd.fd) + " of " + std::to_string(pid) + " (" + fd.path + "): position";
        auto ours = takeTheirFd(pid, fd.fd, what);
        if (!ours) {
            return std::unexpected(ours.error());
        }
        const off_t at = ::lseek(ours->get(), off_t(fd.pos), SEEK_SET);
        if (at < 0) {
            return sysError(what + ": lseek to " + std::to_string(fd.pos));
        }
        if (uint64_t(at) != fd.pos) {
            return fail(what + ": lseek to " + std::to_string(fd.pos) + " ended at " + std::to_string(at), EIO);
        }
        if (S_ISDIR(fd.mode)) {
            continue;
        }
        // A seq_file keeps the record it generated for the lseek (while we
        // hold the process) and hands it out when the next read starts at
        // the same offset. A read at another offset (pread: the fd's offset
        // stays) leaves its buffer at another place, so the process's next
        // read generates the record again. Errors do not matter here (the
        // file may not allow reading at 0: /proc/PID/mem).
        char byte[2];
        const size_t probe = fd.pos == 1 ? 2 : 1;
        [[maybe_unused]] const ssize_t n = ::pread(ours->get(), byte, probe, 0);
    }
    return {};
}

} // namespace cryopod::engine
