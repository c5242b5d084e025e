// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// File access "as the caller": checks run on a short-lived thread whose
// filesystem credentials (fsuid, fsgid, supplementary groups) are the
// caller's and whose effective capability set is empty, so the kernel
// answers exactly as it would answer the caller's own open(). Credentials are
// per thread in the kernel; the raw system calls used here (not glibc's
// setgroups, which changes every thread) touch only that thread, which ends
// when the checks are done.
#pragma once

#include "result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace AsCaller
{

struct FsCreds {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

// Runs fn on a new thread with the caller's filesystem credentials and no
// effective capabilities; returns when fn returned. Fails (and fn does not
// run) if the credentials cannot be taken on.
cryopod::Result<void> run(const FsCreds &creds, const std::function<void()> &fn);

struct PathCheck {
    enum class Kind {
        Open, // open(path, flags) succeeds; with identity: names dev/ino
        CharDevice, // access(path, accessMode) and a character device with rdev
        SearchDirectory, // access(path, X_OK) and a directory (chdir)
        CreateIn, // access(path, W_OK | X_OK) and a directory (create a file in it)
        ReadOrExecute, // access(path, R_OK) or access(path, X_OK); with identity: names dev/ino
        Fifo, // access(path, accessMode) and a FIFO; with identity: names dev/ino (opening one could block)
    };
    Kind kind = Kind::Open;
    std::string what; // "fd 3", "the executable", ... for messages
    std::string path;
    int flags = 0; // Open: the open flags (O_CREAT, O_TRUNC, O_EXCL are dropped)
    int accessMode = 0; // CharDevice, Fifo: R_OK and/or W_OK
    bool haveIdentity = false;
    uint64_t dev = 0, ino = 0, rdev = 0;
};

struct PathVerdict {
    enum class Kind {
        Ok,
        Denied, // the caller may not (EACCES, EPERM): needs the admin action
        Failed, // missing, replaced, wrong type: the restore would fail anyway
    };
    Kind kind = Kind::Ok;
    int error = 0;
    std::string message; // "fd 3: /etc/shadow: you may not open it for reading (Permission denied)"
};

// Runs every check on one as-caller thread; one verdict per check, in order.
cryopod::Result<std::vector<PathVerdict>> checkPaths(const FsCreds &creds, const std::vector<PathCheck> &checks);

// "reading", "writing", "reading and writing" for O_ACCMODE of flags.
std::string accessWords(int flags);

} // namespace AsCaller
