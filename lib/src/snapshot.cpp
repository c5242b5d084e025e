// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod_snapshot(): a checkpoint into the user's snapshot store, so that it
// appears on the Cryopod app's timeline. The store (SQLite + chunks, Qt) is
// written by cryopodctl, not by this library: a program checkpointing itself
// is frozen while its image is read, so something outside it has to store
// the image anyway, and the library stays free of Qt. cryopodctl runs as a
// grandchild (outside the checkpointed tree), with only /dev/null and the
// write end of a pipe whose read end this process waits on (a plain read(),
// which the engine restores). cryopodctl detaches that read end
// (--detach-fd): the original reads cryopodctl's report, the restored copy
// reads end-of-file from the hung-up pipe that end became.
#include "cryopod/cryopod.h"

#include "errors.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#define CRYOPOD_EXPORT __attribute__((visibility("default")))

namespace
{

using cryopod::lib::failWith;

std::string cryopodctlPath()
{
    const char *env = std::getenv("CRYOPOD_CTL");
    return env && *env ? env : CRYOPOD_CTL_PATH;
}

// errno for cryopodctl's error text (it names the helper's D-Bus error).
int errnoOfReport(const std::string &text)
{
    static const struct {
        const char *needle;
        int err;
    } table[] = {
        {"NotAuthorized", EPERM}, {"NoSuchProcess", ESRCH},    {"ServiceUnknown", ENOENT},       {"cannot connect", ECONNREFUSED},
        {"Unsupported", ENOTSUP}, {"InvalidArgument", EINVAL}, {"is not running", ECONNREFUSED},
    };
    for (const auto &e : table) {
        if (text.find(e.needle) != std::string::npos) {
            return e.err;
        }
    }
    return EIO;
}

long snapshot(pid_t pid, const char *label)
{
    if (pid < 0) {
        return failWith(-1, ESRCH, "snapshot: no such process " + std::to_string(pid));
    }
    const pid_t self = ::getpid();
    const pid_t target = pid == 0 ? self : pid;
    const bool own = target == self;
    const std::string ctl = cryopodctlPath();
    if (::access(ctl.c_str(), X_OK) != 0) {
        return failWith(-1, ENOENT, "snapshot: cannot run " + ctl + ": " + std::strerror(errno));
    }
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
        return failWith(-1, errno, std::string("snapshot: pipe: ") + std::strerror(errno));
    }
    const int readEnd = ends[0];
    struct stat before {};
    ::fstat(readEnd, &before);

    std::vector<std::string> args = {ctl, "snapshot", std::to_string(target)};
    if (label) {
        args.push_back("--label");
        args.push_back(label);
    }
    if (own) {
        args.push_back("--detach-fd");
        args.push_back(std::to_string(readEnd));
    }
    std::vector<char *> argv;
    for (std::string &a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    const pid_t child = ::fork();
    if (child < 0) {
        const int err = errno;
        ::close(ends[0]);
        ::close(ends[1]);
        return failWith(-1, err, std::string("snapshot: fork: ") + std::strerror(err));
    }
    if (child == 0) {
        // The child forks cryopodctl and ends at once: cryopodctl is then
        // nobody's child here, outside the tree it checkpoints. It holds
        // nothing of ours but the pipe's write end (as stdout and stderr).
        if (::fork() != 0) {
            ::_exit(0);
        }
        const int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devNull < 0 || ::dup2(devNull, 0) < 0 || ::dup2(ends[1], 1) < 0 || ::dup2(ends[1], 2) < 0) {
            ::_exit(127);
        }
        ::syscall(SYS_close_range, 3u, ~0u, 0u);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(ends[1]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) { }

    // Everything cryopodctl says, until it exits (or, in a restored copy,
    // end-of-file at once).
    std::string text;
    for (;;) {
        char buf[4096];
        const ssize_t n = ::read(readEnd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        text.append(buf, size_t(n));
    }
    struct stat now {};
    const bool restored = own && text.empty() && (::fstat(readEnd, &now) != 0 || now.st_ino != before.st_ino || now.st_dev != before.st_dev);
    ::close(readEnd);
    if (restored) {
        return 0;
    }
    // "snapshot ID of PID (...)" on success.
    size_t at = 0;
    while (at < text.size()) {
        const size_t eol = std::min(text.find('\n', at), text.size());
        const std::string line = text.substr(at, eol - at);
        at = eol + 1;
        if (line.rfind("snapshot ", 0) == 0) {
            char *end = nullptr;
            const long id = std::strtol(line.c_str() + 9, &end, 10);
            if (id > 0 && end && *end == ' ') {
                return id;
            }
        }
    }
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    if (text.empty()) {
        text = "cryopodctl ended without a word";
    }
    return failWith(-1, errnoOfReport(text), "snapshot of process " + std::to_string(target) + " failed: " + text);
}

} // namespace

extern "C" {

CRYOPOD_EXPORT long cryopod_snapshot(pid_t pid, const char *label)
{
    try {
        return snapshot(pid, label);
    } catch (...) {
        errno = ENOMEM;
    }
    return -1;
}

CRYOPOD_EXPORT const char *cryopod_last_error(void)
{
    return cryopod::lib::lastError();
}

} // extern "C"
