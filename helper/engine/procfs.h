// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Readers of /proc/PID/*: the text and binary files the engine learns a
// process from. Each call reads one file once and returns parsed values; none
// of them stops or changes the process. Dump side only (restore reads none of
// these of the restored process, except where a restore function says so).
#pragma once

#include "result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine::procfs
{

// "/proc/PID/rest" (rest without a leading slash), "/proc/PID" when empty.
std::string path(pid_t pid, std::string_view rest = {});

// Whole contents of a (small or pseudo) file, read until EOF.
Result<std::string> readFile(const std::string &file);
// Target of a symlink such as /proc/PID/exe or /proc/PID/fd/N.
Result<std::string> readLink(const std::string &link);

// /proc/PID/status as "Key" -> "value" (value trimmed of surrounding blanks).
using Status = std::map<std::string, std::string, std::less<>>;
Result<Status> readStatus(pid_t pid, pid_t tid = 0); // tid: /proc/PID/task/TID/status
// Hex masks ("SigCgt", "CapEff", ...) and decimal lists ("Uid", "Groups").
Result<uint64_t> statusHex(const Status &status, std::string_view key);
Result<std::vector<uint64_t>> statusNumbers(const Status &status, std::string_view key);

// /proc/PID/stat (or /proc/PID/task/TID/stat): fields[0] is field 1 (pid),
// fields[1] the comm without parentheses, fields[2] the state, and so on, so
// field N of proc(5) is fields[N - 1].
struct Stat {
    std::vector<std::string> fields;
    char state() const;
    // Field N of proc(5) (1-based) as a number, 0 when missing.
    uint64_t number(size_t n) const;
    // PF_KTHREAD in the flags (field 9): a kernel thread.
    bool kernelThread() const;
};
Result<Stat> readStat(pid_t pid, pid_t tid = 0);
// The command name of pid (from its stat), "?" when it is gone: for messages.
std::string commOf(pid_t pid);

// One line of /proc/PID/maps, plus what smaps adds when it was read.
struct Mapping {
    uint64_t start = 0;
    uint64_t end = 0;
    bool read = false, write = false, exec = false, shared = false; // "rwxs"/"rwxp"
    uint64_t offset = 0;
    uint32_t devMajor = 0, devMinor = 0;
    uint64_t inode = 0;
    std::string path; // as shown, including "[heap]" or a " (deleted)" suffix
    // From smaps only:
    std::vector<std::string> vmFlags; // "rd", "wr", "gd", "sh", "ht", ...
    uint64_t rssKiB = 0, anonKiB = 0, swapKiB = 0;
    bool hasVmFlag(std::string_view flag) const;
    bool deleted() const; // path ends in " (deleted)"
    std::string pathWithoutDeleted() const;
};
Result<std::vector<Mapping>> readMaps(pid_t pid);
Result<std::vector<Mapping>> readSmaps(pid_t pid);

// The same maps line: range, permissions, offset, device, inode and path.
bool sameMapsLine(const Mapping &a, const Mapping &b);
// `maps` (read from /proc/PID/maps) with the VmFlags and counters of the
// identical lines of `smaps` (read earlier); nullopt when a line of `maps`
// has none there (the layout changed in between). Both sorted by address,
// as the kernel shows them.
std::optional<std::vector<Mapping>> withSmapsOf(std::vector<Mapping> maps, const std::vector<Mapping> &smaps);

// Numbers of the open fds (/proc/PID/fd), sorted.
Result<std::vector<int>> listFds(pid_t pid);
// Thread ids (/proc/PID/task), sorted, the leader first.
Result<std::vector<pid_t>> listThreads(pid_t pid);
// Direct children (/proc/PID/task/*/children).
Result<std::vector<pid_t>> listChildren(pid_t pid);
// Whether a thread of pid waits in vfork(), or in clone()/clone3() with
// CLONE_VFORK, for its child to exec or exit (posix_spawn does so too): its
// /proc/PID/task/TID/syscall names that call (for clone3, the flags are read
// from the clone_args it points to) while it sleeps uninterruptibly (D).
bool waitsInVfork(pid_t pid);

// kthreadd's pid (2) when pid 2 is that kernel thread; 0 where it is not
// (another pid namespace). The reference for kcmp against a kernel thread.
pid_t kthreadd();

// Tells the processes without an address space (kernel threads, and
// processes on their way out) with one kcmp each: they share the NULL one
// of kthreadd (pid 2), looked at once. Where pid 2 is not a kernel thread
// (another pid namespace) it tells nothing: every process may have one.
// For scans of the whole system, where most processes are kernel threads.
class WithoutMm
{
public:
    static WithoutMm find();
    bool operator()(pid_t pid) const;

private:
    pid_t m_kthreadd = 0;
};

// /proc/PID/fdinfo/N: pos, flags (octal in the file), mnt_id and the lines
// after them ("lock:", "eventfd-count:", "inotify wd:", ...).
struct FdInfo {
    uint64_t pos = 0;
    uint32_t flags = 0;
    int mntId = -1;
    std::vector<std::string> extraLines;
};
Result<FdInfo> readFdInfo(pid_t pid, int fd);

// Splits on blanks (spaces, tabs), skipping empty fields.
std::vector<std::string_view> words(std::string_view s);

// The line (split into words) of /proc/PID/net/TABLE ("tcp", "unix", ...)
// whose column `inodeColumn` is `inode`; nullopt when there is none.
std::optional<std::vector<std::string>> findSocketLine(pid_t pid, const char *table, size_t inodeColumn, uint64_t inode);

// The line of /proc/self/net/unix of a socket bound to `path`, if any.
std::optional<std::vector<std::string>> findSocketLineByPath(const std::string &path);

// /proc/PID/auxv as (type, value) pairs, ending with AT_NULL.
Result<std::vector<uint64_t>> readAuxv(pid_t pid);

// /proc/PID/limits: (soft, hard) per RLIMIT_* in the kernel's numbering,
// "unlimited" as UINT64_MAX. Unlike prlimit(2) on another user's process this
// needs no CAP_SYS_RESOURCE.
struct Limit {
    uint64_t soft = 0;
    uint64_t hard = 0;
};
Result<std::vector<Limit>> readLimits(pid_t pid);

// /proc/PID/personality (hex).
Result<uint32_t> readPersonality(pid_t pid);


} // namespace cryopod::engine::procfs
