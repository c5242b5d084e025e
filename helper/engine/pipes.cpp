// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "pipes.h"

#include "files.h"
#include "procfs.h"
#include "uniquefd.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <set>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr uint32_t kAccMode = O_ACCMODE;

std::string pidComm(pid_t pid)
{
    auto comm = procfs::readFile(procfs::path(pid, "comm"));
    if (!comm) {
        return "?";
    }
    std::string c = *comm;
    while (!c.empty() && c.back() == '\n') {
        c.pop_back();
    }
    return c;
}

} // namespace

// ---- dump

bool inTree(pid_t pid, const std::set<pid_t> &tree)
{
    // A process forked in the tree after the tree was listed is part of it.
    for (int depth = 0; pid > 1 && depth < 64; ++depth) {
        if (tree.contains(pid)) {
            return true;
        }
        auto stat = procfs::readStat(pid);
        if (!stat) {
            return false;
        }
        pid = pid_t(stat->number(4));
    }
    return false;
}

PipeHolders pipeHoldersOutside(pid_t pid, const std::vector<std::pair<uint64_t, uint64_t>> &pipes, const std::set<pid_t> *tree, FileHolders *files)
{
    PipeHolders holders;
    if (pipes.empty() && (!files || files->empty())) {
        return holders;
    }
    // Pipes show as "pipe:[ino]", sockets as "socket:[ino]"; FIFOs as their
    // path, which is compared by (dev, ino) only when the fd is a FIFO at all.
    std::vector<std::string> pipeLinks;
    for (const auto &[dev, ino] : pipes) {
        pipeLinks.push_back("pipe:[" + std::to_string(ino) + "]");
        pipeLinks.push_back("socket:[" + std::to_string(ino) + "]");
    }
    std::unique_ptr<DIR, int (*)(DIR *)> proc(::opendir("/proc"), ::closedir);
    if (!proc) {
        return holders;
    }
    const procfs::WithoutMm withoutMm = procfs::WithoutMm::find(); // kernel threads hold no fds
    while (const dirent *entry = ::readdir(proc.get())) {
        char *end = nullptr;
        const long other = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || other == pid || other <= 0 || (tree && tree->contains(pid_t(other))) || withoutMm(pid_t(other))) {
            continue;
        }
        // A process forked in the tree after it was listed is part of it:
        // its ancestry is looked up only when it holds something of
        // interest (most processes of the system hold nothing).
        std::optional<bool> forkedInTree;
        auto outside = [&] {
            if (!forkedInTree) {
                forkedInTree = tree && inTree(pid_t(other), *tree);
            }
            return !*forkedInTree;
        };
        const std::string fdDir = "/proc/" + std::string(entry->d_name) + "/fd";
        std::unique_ptr<DIR, int (*)(DIR *)> fds(::opendir(fdDir.c_str()), ::closedir);
        if (!fds) {
            continue; // gone, or a kernel thread
        }
        while (const dirent *fdEntry = ::readdir(fds.get())) {
            if (fdEntry->d_name[0] == '.') {
                continue;
            }
            const std::string link = fdDir + "/" + fdEntry->d_name;
            auto target = procfs::readLink(link);
            if (!target) {
                continue;
            }
            if (target->starts_with("anon_inode:")) {
                continue;
            }
            struct stat st{};
            if (target->starts_with("pipe:") || target->starts_with("socket:")) {
                const auto it = std::find(pipeLinks.begin(), pipeLinks.end(), *target);
                if (it == pipeLinks.end()) {
                    continue;
                }
            } else if (!target->starts_with("/")) {
                continue;
            }
            if (::stat(link.c_str(), &st) != 0) {
                continue;
            }
            const std::pair<uint64_t, uint64_t> key{uint64_t(st.st_dev), uint64_t(st.st_ino)};
            if (S_ISREG(st.st_mode) && files) {
                if (const auto file = files->find(key); file != files->end() && outside()) {
                    file->second.emplace_back(pid_t(other), std::atoi(fdEntry->d_name));
                }
                continue;
            }
            if (!(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
                continue;
            }
            if (std::find(pipes.begin(), pipes.end(), key) == pipes.end() || !outside()) {
                continue;
            }
            std::vector<pid_t> &list = holders[key];
            if (std::find(list.begin(), list.end(), pid_t(other)) == list.end()) {
                list.push_back(pid_t(other));
            }
        }
    }
    return holders;
}

std::string pipeRefusal(const std::string &fdName, const std::string &link, bool fifo, uint32_t openFlags, const std::vector<pid_t> &holders)
{
    const bool socket = link.starts_with("socket:");
    const std::string what = fdName + " is " + (fifo ? "a named pipe (FIFO " + link + ")" : socket ? "a unix socket (" + link + ")" : "a pipe (" + link + ")");
    if (!holders.empty()) {
        std::string who;
        for (size_t i = 0; i < holders.size() && i < 3; ++i) {
            who += (i ? ", " : "") + std::to_string(holders[i]) + " (" + pidComm(holders[i]) + ")";
        }
        if (holders.size() > 3) {
            who += " and " + std::to_string(holders.size() - 3) + " more";
        }
        return what + " also open in process " + who + " outside the checkpoint: " + (socket ? "a socket" : "a pipe")
            + " shared with a process outside the checkpoint cannot be restored";
    }
    if (openFlags & O_DIRECT) {
        return what + " in packet mode (O_DIRECT): the boundaries of its packets cannot be read back; not supported";
    }
    return {};
}

Result<image::FileObjectRecord> dumpPipe(pid_t pid, const image::FdRecord &fd, int32_t readableFd, uint64_t id)
{
    const std::string what = "pipe of fd " + std::to_string(fd.fd) + " (" + fd.path + ")";
    image::FileObjectRecord record;
    record.id = id;
    record.kind = fd.kind == image::FdKind::Fifo ? image::FileObjectKind::Fifo : image::FileObjectKind::Pipe;
    record.ownerPid = pid;
    record.ino = fd.ino;

    // The process's own open file (pidfd_getfd: the same description, no
    // new reader or writer that the pipe or a FIFO partner could notice),
    // one that reads when the process has one. Reading from it would take
    // the bytes; tee() into a pipe of ours copies them and leaves them queued.
    UniqueFd pidfd(int(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        return sysError(what + ": pidfd_open " + std::to_string(pid));
    }
    const int32_t source = readableFd >= 0 ? readableFd : fd.fd;
    UniqueFd theirs(int(::syscall(SYS_pidfd_getfd, pidfd.get(), source, 0)));
    if (!theirs) {
        return sysError(what + ": pidfd_getfd of fd " + std::to_string(source));
    }
    const int size = ::fcntl(theirs.get(), F_GETPIPE_SZ);
    if (size < 0) {
        return sysError(what + ": F_GETPIPE_SZ");
    }
    record.pipeSize = uint32_t(size);
    if (readableFd < 0) {
        // Only write ends in the process and no reader anywhere (a holder
        // outside is refused): nobody can ever read what is queued.
        return record;
    }
    int queued = 0;
    if (::ioctl(theirs.get(), FIONREAD, &queued) != 0) {
        return sysError(what + ": FIONREAD");
    }
    if (queued <= 0) {
        return record;
    }
    int ours[2];
    if (::pipe2(ours, O_CLOEXEC | O_NONBLOCK) != 0) {
        return sysError(what + ": pipe2");
    }
    UniqueFd ourRead(ours[0]), ourWrite(ours[1]);
    // As many slots as theirs, so that every buffer of theirs fits.
    if (::fcntl(ourWrite.get(), F_SETPIPE_SZ, size) < size) {
        return sysError(what + ": F_SETPIPE_SZ " + std::to_string(size) + " on our copy");
    }
    const ssize_t copied = ::tee(theirs.get(), ourWrite.get(), size_t(queued), SPLICE_F_NONBLOCK);
    if (copied < 0) {
        return sysError(what + ": tee");
    }
    if (copied != queued) {
        return fail(what + ": tee copied " + std::to_string(copied) + " of the " + std::to_string(queued) + " queued bytes", EIO);
    }
    record.data.resize(size_t(queued));
    size_t done = 0;
    while (done < record.data.size()) {
        const ssize_t n = ::read(ourRead.get(), record.data.data() + done, record.data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? sysError(what + ": read our copy") : fail(what + ": our copy ended early", EIO);
        }
        done += size_t(n);
    }
    return record;
}

// ---- restore

namespace
{

// Writes the saved bytes into the pipe through a reference of our own to the
// write end the process holds at temporary fd `fd`.
Result<void> refill(pid_t pid, int32_t fd, const std::vector<uint8_t> &data, const std::string &what)
{
    if (data.empty()) {
        return {};
    }
    const std::string link = procfs::path(pid, "fd/" + std::to_string(fd));
    UniqueFd writer(::open(link.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!writer) {
        return sysError(what + ": open " + link + " to refill it");
    }
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(writer.get(), data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? sysError(what + ": refill " + std::to_string(data.size()) + " bytes (" + std::to_string(done) + " written)")
                         : fail(what + ": refill stopped", EIO);
        }
        done += size_t(n);
    }
    return {};
}

Result<void> setPipeSize(Injector &injector, int32_t fd, uint32_t size, const std::string &what)
{
    auto set = injector.call(what + ": F_SETPIPE_SZ " + std::to_string(size), SYS_fcntl, uint64_t(fd), F_SETPIPE_SZ, size);
    if (!set) {
        return std::unexpected(set.error());
    }
    if (*set != size) {
        return fail(what + ": F_SETPIPE_SZ " + std::to_string(size) + " gave " + std::to_string(*set) + " bytes", EIO);
    }
    return {};
}

// The process opens `path` (a FIFO) with `flags`; returns the temporary fd.
Result<int32_t> openFifo(Injector &injector, RemoteScratch &scratch, ObjectFds &fds, const std::string &path, uint32_t flags, const std::string &what)
{
    const size_t mark = scratch.used();
    auto pathAddr = scratch.putString(path);
    if (!pathAddr) {
        return std::unexpected(pathAddr.error().context(what));
    }
    auto opened = injector.call(what + ": open " + path, SYS_openat, uint64_t(int64_t(AT_FDCWD)), *pathAddr, flags | O_CLOEXEC | O_NONBLOCK, 0);
    scratch.reset(mark);
    if (!opened) {
        return std::unexpected(opened.error());
    }
    return fds.adopt(injector, int32_t(*opened), what);
}

// restorePipe() for a pipe whose descriptions are just its two ends: the
// fds pipe2() returns are the two lowest free ones (fds.open knows what is
// open), so their moves out of the image's numbers, the pipe's size and
// the descriptions' flags go in the same batch; checked after it.
Result<void> restorePipeInBatch(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &pipe,
                                const std::vector<const image::FdRecord *> &owners, ObjectFds &fds, const std::string &what)
{
    const pid_t pid = injector.tracee().tid();
    std::set<int> inProcess(fds.open.begin(), fds.open.end());
    const int made[2] = {takeLowestFree(inProcess), takeLowestFree(inProcess)};
    const size_t mark = scratch.used();
    auto pair = scratch.reserve(2 * sizeof(int32_t));
    if (!pair) {
        return std::unexpected(pair.error().context(what));
    }
    InjectBatch batch;
    batch.add(what + ": pipe2", SYS_pipe2, *pair, O_CLOEXEC);
    const int32_t readEnd = fds.adoptInBatch(batch, inProcess, made[0], what);
    const int32_t writeEnd = fds.adoptInBatch(batch, inProcess, made[1], what);
    const size_t size = batch.add(what + ": F_SETPIPE_SZ " + std::to_string(pipe.pipeSize), SYS_fcntl, uint64_t(readEnd), F_SETPIPE_SZ, pipe.pipeSize);
    constexpr uint32_t kSettable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    for (const image::FdRecord *owner : owners) {
        const int32_t fd = (owner->openFlags & kAccMode) == O_RDONLY ? readEnd : writeEnd;
        batch.add(what + " at fd " + std::to_string(owner->fd) + ": F_SETFL", SYS_fcntl, uint64_t(fd), F_SETFL, owner->openFlags & kSettable);
        fds.byFd[owner->fd] = fd;
    }
    auto r = injector.run(batch, scratch);
    int32_t ends[2] = {-1, -1};
    auto got = batch.results().empty() ? Result<void>{} : scratch.read(*pair, std::span(reinterpret_cast<uint8_t *>(ends), sizeof ends));
    scratch.reset(mark);
    if (!batch.results().empty() && batch.result(0) == 0 && got && (ends[0] != made[0] || ends[1] != made[1])) {
        return fail(what + ": pipe2 made fds " + std::to_string(ends[0]) + " and " + std::to_string(ends[1]) + ", not the lowest free ones ("
                        + std::to_string(made[0]) + ", " + std::to_string(made[1]) + ")",
                    EBADF);
    }
    CRYOPOD_PROPAGATE(r);
    if (!got) {
        return std::unexpected(got.error().context(what));
    }
    if (batch.result(size) != pipe.pipeSize) {
        return fail(what + ": F_SETPIPE_SZ " + std::to_string(pipe.pipeSize) + " gave " + std::to_string(batch.result(size)) + " bytes", EIO);
    }
    return refill(pid, writeEnd, pipe.data, what);
}

} // namespace

Result<void> restorePipe(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &pipe, const std::vector<const image::FdRecord *> &owners,
                         ObjectFds &fds)
{
    const pid_t pid = injector.tracee().tid();
    const bool fifo = pipe.kind == image::FileObjectKind::Fifo;
    if (owners.empty()) {
        return fail("restore file object " + std::to_string(pipe.id) + ": no fd of the image has it open", EINVAL);
    }
    const std::string what = "restore " + std::string(fifo ? "FIFO " + owners.front()->path : "pipe:[" + std::to_string(pipe.ino) + "]");

    if (fifo) {
        // A reader and writer of our own first: opening the FIFO then never
        // blocks (nor fails for want of a reader), and the refilled bytes
        // stay until the process's own descriptions are open.
        auto keeper = openFifo(injector, scratch, fds, owners.front()->path, O_RDWR, what);
        if (!keeper) {
            return std::unexpected(keeper.error());
        }
        struct stat st{};
        const std::string link = procfs::path(pid, "fd/" + std::to_string(*keeper));
        if (::stat(link.c_str(), &st) != 0) {
            return sysError(what + ": stat " + link);
        }
        if (!S_ISFIFO(st.st_mode) || uint64_t(st.st_dev) != owners.front()->dev || uint64_t(st.st_ino) != owners.front()->ino) {
            return fail(what + ": another file is at that path now (not the FIFO of the checkpoint)", ESTALE);
        }
        CRYOPOD_PROPAGATE(setPipeSize(injector, *keeper, pipe.pipeSize, what));
        CRYOPOD_PROPAGATE(refill(pid, *keeper, pipe.data, what));
        for (const image::FdRecord *owner : owners) {
            const std::string fdWhat = what + " at fd " + std::to_string(owner->fd);
            auto opened = openFifo(injector, scratch, fds, owner->path, owner->openFlags & kAccMode, fdWhat);
            if (!opened) {
                return std::unexpected(opened.error());
            }
            CRYOPOD_PROPAGATE(setStatusFlags(injector, *opened, owner->openFlags, fdWhat));
            fds.byFd[owner->fd] = *opened;
        }
        return {}; // the keeper goes with the other temporary fds
    }

    // Each description is one of the two ends pipe2() makes (the usual
    // case): everything in one batch of injected calls, then the refill.
    {
        bool read = false, write = false, reopened = false;
        for (const image::FdRecord *owner : owners) {
            const uint32_t access = owner->openFlags & kAccMode;
            bool &used = access == O_RDONLY ? read : write;
            reopened = reopened || (access != O_RDONLY && access != O_WRONLY) || used;
            used = true;
        }
        if (!reopened) {
            return restorePipeInBatch(injector, scratch, pipe, owners, fds, what);
        }
    }
    auto ends = fds.adoptPair(
        injector,
        scratch,
        [&](uint64_t pair) {
            return injector.call(what + ": pipe2", SYS_pipe2, pair, O_CLOEXEC);
        },
        what);
    if (!ends) {
        return std::unexpected(ends.error());
    }
    const int32_t readEnd = (*ends)[0];
    const int32_t writeEnd = (*ends)[1];
    CRYOPOD_PROPAGATE(setPipeSize(injector, readEnd, pipe.pipeSize, what));
    CRYOPOD_PROPAGATE(refill(pid, writeEnd, pipe.data, what));
    // The first description of each direction is the end pipe2() made;
    // further ones (the pipe reopened through /proc) are opened again.
    bool readUsed = false, writeUsed = false;
    for (const image::FdRecord *owner : owners) {
        const std::string fdWhat = what + " at fd " + std::to_string(owner->fd);
        const uint32_t access = owner->openFlags & kAccMode;
        int32_t fd = -1;
        if (access == O_RDONLY && !readUsed) {
            fd = readEnd;
            readUsed = true;
        } else if (access == O_WRONLY && !writeUsed) {
            fd = writeEnd;
            writeUsed = true;
        } else {
            auto again = reopenTemporary(injector, scratch, fds, readEnd, owner->openFlags, fdWhat);
            if (!again) {
                return std::unexpected(again.error());
            }
            fd = *again;
        }
        CRYOPOD_PROPAGATE(setStatusFlags(injector, fd, owner->openFlags, fdWhat));
        fds.byFd[owner->fd] = fd;
    }
    return {}; // an end the process had closed goes with the temporary fds
}

} // namespace cryopod::engine
