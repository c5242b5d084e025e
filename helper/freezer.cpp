// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "freezer.h"

#include "procfs.h"
#include "procstatus.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace Freezer
{

namespace
{

cryopod::Result<void> writeFile(const std::string &path, const std::string &text)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return cryopod::sysError("write " + path);
    }
    const ssize_t n = ::write(fd, text.data(), text.size());
    const int err = errno;
    ::close(fd);
    if (n != ssize_t(text.size())) {
        errno = n < 0 ? err : EIO;
        return cryopod::sysError("write " + text + " to " + path);
    }
    return {};
}

std::vector<pid_t> readProcs(const std::string &cgroup)
{
    std::vector<pid_t> pids;
    auto text = cryopod::engine::procfs::readFile(cgroup + "/cgroup.procs");
    if (!text) {
        return pids;
    }
    // One pid per line.
    const char *at = text->data();
    const char *const end = at + text->size();
    while (at < end) {
        pid_t pid = 0;
        const auto r = std::from_chars(at, end, pid);
        if (r.ec == std::errc() && pid > 0) {
            pids.push_back(pid);
        }
        at = r.ptr == at ? at + 1 : r.ptr;
    }
    return pids;
}

// Every process in the cgroup and its descendants.
void collectMembers(const std::string &cgroup, std::set<pid_t> &out)
{
    for (pid_t p : readProcs(cgroup)) {
        out.insert(p);
    }
    DIR *dir = ::opendir(cgroup.c_str());
    if (!dir) {
        return;
    }
    std::vector<std::string> children;
    while (const dirent *e = ::readdir(dir)) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            children.push_back(cgroup + "/" + e->d_name);
        }
    }
    ::closedir(dir);
    for (const std::string &child : children) {
        collectMembers(child, out);
    }
}

std::string parentOf(const std::string &path)
{
    const size_t slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
}

std::string baseName(const std::string &path)
{
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool startsWith(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

} // namespace

Cgroups::Cgroups(cryopod::engine::CgroupHierarchy hierarchy)
    : CgroupHierarchy(std::move(hierarchy))
{
}

cryopod::Result<Cgroups> Cgroups::use(Version version)
{
    auto hierarchy = CgroupHierarchy::use(version);
    if (!hierarchy) {
        return std::unexpected(hierarchy.error());
    }
    return Cgroups(std::move(*hierarchy));
}

cryopod::Result<Cgroups> Cgroups::detect()
{
    auto hierarchy = CgroupHierarchy::detect();
    if (!hierarchy) {
        return std::unexpected(hierarchy.error());
    }
    return Cgroups(std::move(*hierarchy));
}

cryopod::Result<void> Cgroups::moveAll(const std::string &from, const std::string &to) const
{
    for (int round = 0; round < 50; ++round) {
        const std::vector<pid_t> pids = readProcs(from);
        if (pids.empty()) {
            return {};
        }
        for (pid_t p : pids) {
            auto r = writeFile(to + "/cgroup.procs", std::to_string(p));
            if (!r && r.error().code != ESRCH) {
                return std::unexpected(r.error());
            }
        }
    }
    return cryopod::fail("move the processes of " + from + " to " + to + ": they keep coming", EAGAIN);
}

cryopod::Result<Frozen> Cgroups::freeze(pid_t pid, int timeoutMs) const
{
    const std::string who = "process " + std::to_string(pid);
    auto cg = cgroupOf(pid);
    if (!cg) {
        return std::unexpected(cg.error());
    }
    if (startsWith(baseName(*cg), kChildPrefix)) {
        return cryopod::fail(who + " is already frozen (in " + *cg + ")", EALREADY);
    }
    if (auto frozen = cgroupFrozen(*cg); frozen && *frozen) {
        return cryopod::fail(who + " is already frozen (its cgroup " + *cg + " is)", EALREADY);
    }
    std::vector<pid_t> tree = ProcStatus::processTree(pid);
    if (tree.empty()) {
        return cryopod::fail("there is no process " + std::to_string(pid), ESRCH);
    }
    for (pid_t p : tree) {
        auto other = cgroupOf(p);
        if (other && *other != *cg) {
            return cryopod::fail(who + "'s tree spans several cgroups (" + std::to_string(p) + " is in " + *other + ", " + std::to_string(pid) + " in " + *cg + ")", ENOTSUP);
        }
    }

    Frozen result;
    result.version = version();
    std::set<pid_t> members;
    collectMembers(*cg, members);
    const std::set<pid_t> treeSet(tree.begin(), tree.end());
    const bool wholeCgroup = *cg != mount() && std::includes(treeSet.begin(), treeSet.end(), members.begin(), members.end());
    if (wholeCgroup) {
        // The tree is all the cgroup holds (an app's own scope): freeze it there.
        result.cgroup = *cg;
        if (auto r = setFrozen(*cg, true, timeoutMs); !r) {
            (void)setFrozen(*cg, false, timeoutMs);
            return std::unexpected(r.error().context("freeze " + who));
        }
        result.pids = ProcStatus::processTree(pid);
        return result;
    }

    const std::string child = *cg + "/" + kChildPrefix + std::to_string(pid);
    if (::mkdir(child.c_str(), 0755) != 0 && errno != EEXIST) {
        return cryopod::sysError("freeze " + who + ": create " + child);
    }
    result.cgroup = child;
    result.created = true;
    auto undo = [&] {
        (void)setFrozen(child, false, timeoutMs);
        (void)moveAll(child, *cg);
        ::rmdir(child.c_str());
    };
    // Move the tree in until a round finds nobody new (children forked while
    // their parent moved are born inside already).
    for (int round = 0;; ++round) {
        if (round == 50) {
            undo();
            return cryopod::fail("freeze " + who + ": the tree keeps changing", EAGAIN);
        }
        const std::set<pid_t> inside = [&] {
            const auto procs = readProcs(child);
            return std::set<pid_t>(procs.begin(), procs.end());
        }();
        bool moved = false;
        for (pid_t p : ProcStatus::processTree(pid)) {
            if (inside.contains(p)) {
                continue;
            }
            auto r = writeFile(child + "/cgroup.procs", std::to_string(p));
            if (!r && r.error().code != ESRCH) {
                undo();
                return std::unexpected(r.error().context("freeze " + who));
            }
            moved = true;
        }
        if (!moved) {
            break;
        }
    }
    if (auto r = setFrozen(child, true, timeoutMs); !r) {
        undo();
        return std::unexpected(r.error().context("freeze " + who));
    }
    result.pids = ProcStatus::processTree(pid);
    return result;
}

cryopod::Result<void> Cgroups::thaw(pid_t pid, int timeoutMs) const
{
    const std::string who = "process " + std::to_string(pid);
    auto cg = cgroupOf(pid);
    if (!cg) {
        return std::unexpected(cg.error());
    }
    if (startsWith(baseName(*cg), kChildPrefix)) {
        CRYOPOD_PROPAGATE(setFrozen(*cg, false, timeoutMs));
        CRYOPOD_PROPAGATE(moveAll(*cg, parentOf(*cg)));
        if (::rmdir(cg->c_str()) != 0) {
            return cryopod::sysError("thaw " + who + ": remove " + *cg);
        }
        return {};
    }
    auto frozen = cgroupFrozen(*cg);
    if (!frozen) {
        return std::unexpected(frozen.error());
    }
    if (!*frozen) {
        return cryopod::fail(who + " is not frozen", EINVAL);
    }
    return setFrozen(*cg, false, timeoutMs);
}

} // namespace Freezer
