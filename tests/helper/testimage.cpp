// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "testimage.h"

#include "imagewriter.h"

#include <fcntl.h>
#include <fstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace cryopod::image;

uint64_t currentBoundingSet()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapBnd:", 0) == 0) {
            return std::stoull(line.substr(7), nullptr, 16);
        }
    }
    return 0;
}

FdRecord fdFor(int32_t fd, const std::string &path, uint32_t openFlags)
{
    FdRecord r;
    r.fd = fd;
    r.path = path;
    r.openFlags = openFlags;
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0) {
        r.mode = st.st_mode;
        r.dev = st.st_dev;
        r.ino = st.st_ino;
        r.rdev = st.st_rdev;
        r.size = uint64_t(st.st_size);
        r.kind = S_ISDIR(st.st_mode) ? FdKind::Directory : S_ISCHR(st.st_mode) ? FdKind::CharDevice : FdKind::Regular;
    } else {
        r.mode = S_IFREG | 0644;
    }
    return r;
}

std::string writeTestImage(const std::string &path, const TestImageSpec &spec)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return "open " + path;
    }
    Header header;
    header.arch = "x86_64";
    header.kernelRelease = "test";
    header.hostname = "test";
    header.engineVersion = "cryopod test";
    header.pageSize = 4096;
    auto writer = ImageWriter::create(fd, header);
    if (!writer) {
        ::close(fd);
        return writer.error().describe();
    }
    ProcessTreeRecord tree;
    tree.rootPid = spec.pid;
    ProcessEntry entry;
    entry.pid = spec.pid;
    entry.ppid = 1;
    entry.pgid = spec.pid;
    entry.sid = spec.pid;
    entry.tids = {spec.pid};
    tree.processes = {entry};

    TaskRecord task;
    task.pid = spec.pid;
    task.comm = "testimage";
    task.exePath = spec.exe;
    task.cwd = spec.cwd;
    task.root = spec.root;
    // This process's own limits: within what its users have.
    for (int i = 0; i < int(task.rlimits.size()); ++i) {
        rlimit limit{};
        ::getrlimit(__rlimit_resource(i), &limit);
        task.rlimits[size_t(i)].cur = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : uint64_t(limit.rlim_cur);
        task.rlimits[size_t(i)].max = limit.rlim_max == RLIM_INFINITY ? UINT64_MAX : uint64_t(limit.rlim_max);
    }

    CredsRecord creds;
    creds.pid = spec.pid;
    creds.uid = creds.euid = creds.suid = creds.fsuid = spec.uid;
    creds.gid = creds.egid = creds.sgid = creds.fsgid = spec.gid;
    creds.groups = spec.groups;
    creds.capPermitted = spec.capPermitted;
    creds.capEffective = spec.capPermitted;
    creds.capBounding = spec.capBounding;

    SignalsRecord signals;
    signals.pid = spec.pid;

    ThreadRecord thread;
    thread.pid = spec.pid;
    thread.tid = spec.pid;
    thread.name = "testimage";

    MmRecord mm;
    mm.pid = spec.pid;
    mm.exePath = spec.exe;
    mm.auxv = {0, 0};
    struct stat st{};
    ::stat(spec.exe.c_str(), &st);
    VmaRecord text;
    text.start = 0x400000;
    text.end = 0x401000;
    text.prot = kVmaRead | kVmaExec;
    text.kind = VmaKind::FilePrivate;
    text.path = spec.exe;
    text.dev = st.st_dev;
    text.ino = st.st_ino;
    text.fileSize = uint64_t(st.st_size);
    VmaRecord stack;
    stack.start = 0x7ffc00000000;
    stack.end = 0x7ffc00021000;
    stack.prot = kVmaRead | kVmaWrite;
    stack.kind = VmaKind::Anonymous;
    stack.path = "[stack]";
    stack.flags = kVmaGrowsDown;
    mm.vmas = {text, stack};

    FilesRecord files;
    files.pid = spec.pid;
    files.fds = spec.fds;

    std::string error;
    auto check = [&](cryopod::Result<void> r) {
        if (!r && error.empty()) {
            error = r.error().describe();
        }
    };
    check((*writer)->write(tree));
    check((*writer)->write(task));
    check((*writer)->write(creds));
    check((*writer)->write(signals));
    check((*writer)->write(files));
    check((*writer)->write(mm));
    check((*writer)->write(thread));
    check((*writer)->finish());
    ::close(fd);
    return error;
}
