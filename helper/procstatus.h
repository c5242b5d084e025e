// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What cryopod-helper reads about a process from /proc to decide whether a
// caller may act on it: credentials (status), state and flags (stat),
// resource limits (limits), the process tree (task/*/children). The parse
// functions are pure (text in, values out) so that tests feed them text.
#pragma once

#include "result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace ProcStatus
{

struct Creds {
    uid_t uid = 0, euid = 0, suid = 0, fsuid = 0;
    gid_t gid = 0, egid = 0, sgid = 0, fsgid = 0;
    std::vector<gid_t> groups;
    uint64_t capInh = 0, capPrm = 0, capEff = 0, capBnd = 0, capAmb = 0;
    bool noNewPrivs = false;
    std::string name; // the Name: line (comm)
};

// /proc/PID/status text -> credentials; nullopt when a needed line is missing
// or malformed.
std::optional<Creds> parseStatus(std::string_view text);

struct Stat {
    char state = '?'; // R S D T t Z X ...
    pid_t ppid = 0;
    uint64_t flags = 0; // PF_* (field 9)
};
inline constexpr uint64_t kPfKthread = 0x00200000;

// /proc/PID/stat text -> state, ppid, flags; the comm in parentheses may hold
// anything, so parsing starts after the last ')'.
std::optional<Stat> parseStat(std::string_view text);

// RLIMIT_* indexed soft/hard limits; UINT64_MAX is "unlimited".
struct Limit {
    uint64_t soft = UINT64_MAX;
    uint64_t hard = UINT64_MAX;
};
using Limits = std::array<Limit, 16>;

// /proc/PID/limits text -> limits, by the kernel's row order (which is the
// RLIMIT_* numbering).
std::optional<Limits> parseLimits(std::string_view text);

// ---- readers (through a /proc/PID directory fd, so that every read is of
// the same process even if the pid is reused meanwhile: the reads fail then)

class ProcessDir
{
public:
    static cryopod::Result<ProcessDir> open(pid_t pid);
    ProcessDir(ProcessDir &&other) noexcept;
    ProcessDir &operator=(ProcessDir &&other) noexcept;
    ProcessDir(const ProcessDir &) = delete;
    ProcessDir &operator=(const ProcessDir &) = delete;
    ~ProcessDir();

    pid_t pid() const
    {
        return m_pid;
    }
    int fd() const
    {
        return m_fd;
    }
    cryopod::Result<std::string> read(const char *name) const;
    cryopod::Result<Creds> creds() const;
    cryopod::Result<Stat> stat() const;
    cryopod::Result<Limits> limits() const;
    // Owner of /proc/PID: the process's euid while it is dumpable, root when
    // it is not (the kernel's task_dump_owner()).
    cryopod::Result<uid_t> owner() const;

private:
    ProcessDir() = default;
    pid_t m_pid = 0;
    int m_fd = -1;
};

// PID and all its descendants (threads' children included), parents first.
// Processes that exit while the tree is read are left out.
std::vector<pid_t> processTree(pid_t root);

} // namespace ProcStatus
