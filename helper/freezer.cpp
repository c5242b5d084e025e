// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "freezer.h"

#include "procstatus.h"

#include <algorithm>
#include <cctype>
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

std::vector<std::string_view> split(std::string_view text, char sep)
{
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find(sep, pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        out.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s)
{
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
            out.push_back(char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

cryopod::Result<std::string> readFile(const std::string &path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return cryopod::sysError("read " + path);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            errno = err;
            return cryopod::sysError("read " + path);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, size_t(n));
    }
    ::close(fd);
    return text;
}

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
    auto text = readFile(cgroup + "/cgroup.procs");
    if (!text) {
        return pids;
    }
    for (std::string_view line : split(*text, '\n')) {
        pid_t pid = 0;
        const auto r = std::from_chars(line.data(), line.data() + line.size(), pid);
        if (r.ec == std::errc() && pid > 0) {
            pids.push_back(pid);
        }
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

Mounts parseMountinfo(std::string_view mountinfo)
{
    Mounts m;
    for (std::string_view line : split(mountinfo, '\n')) {
        const size_t dash = line.find(" - ");
        if (dash == std::string_view::npos) {
            continue;
        }
        const auto pre = split(line.substr(0, dash), ' ');
        const auto post = split(line.substr(dash + 3), ' ');
        if (pre.size() < 5 || post.size() < 3) {
            continue;
        }
        const std::string root = unescape(pre[3]);
        const std::string point = unescape(pre[4]);
        if (post[0] == "cgroup2" && m.v2.empty()) {
            m.v2 = point;
            m.v2Root = root;
        } else if (post[0] == "cgroup" && m.v1Freezer.empty()) {
            for (std::string_view opt : split(post[2], ',')) {
                if (opt == "freezer") {
                    m.v1Freezer = point;
                    m.v1Root = root;
                }
            }
        }
    }
    return m;
}

std::string parseCgroupFile(std::string_view text, Version version)
{
    for (std::string_view line : split(text, '\n')) {
        const size_t first = line.find(':');
        const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) {
            continue;
        }
        const std::string_view id = line.substr(0, first);
        const std::string_view controllers = line.substr(first + 1, second - first - 1);
        const std::string_view path = line.substr(second + 1);
        if (version == Version::V2 && id == "0" && controllers.empty()) {
            return std::string(path);
        }
        if (version == Version::V1) {
            for (std::string_view c : split(controllers, ',')) {
                if (c == "freezer") {
                    return std::string(path);
                }
            }
        }
    }
    return {};
}

Cgroups::Cgroups(Version version, std::string mount, std::string root)
    : m_version(version)
    , m_mount(std::move(mount))
    , m_root(std::move(root))
{
}

cryopod::Result<Cgroups> Cgroups::use(Version version)
{
    auto text = readFile("/proc/self/mountinfo");
    if (!text) {
        return std::unexpected(text.error());
    }
    const Mounts m = parseMountinfo(*text);
    if (version == Version::V2) {
        if (m.v2.empty()) {
            return cryopod::fail("no cgroup2 hierarchy is mounted", ENOTSUP);
        }
        return Cgroups(version, m.v2, m.v2Root);
    }
    if (m.v1Freezer.empty()) {
        return cryopod::fail("no cgroup v1 freezer hierarchy is mounted", ENOTSUP);
    }
    return Cgroups(version, m.v1Freezer, m.v1Root);
}

cryopod::Result<Cgroups> Cgroups::detect()
{
    if (auto v2 = use(Version::V2)) {
        return v2;
    }
    auto v1 = use(Version::V1);
    if (!v1) {
        return cryopod::fail("neither a cgroup2 hierarchy nor the cgroup v1 freezer is mounted: processes cannot be frozen", ENOTSUP);
    }
    return v1;
}

cryopod::Result<std::string> Cgroups::cgroupOf(pid_t pid) const
{
    auto text = readFile("/proc/" + std::to_string(pid) + "/cgroup");
    if (!text) {
        if (text.error().code == ENOENT) {
            return cryopod::fail("there is no process " + std::to_string(pid), ESRCH);
        }
        return std::unexpected(text.error());
    }
    std::string path = parseCgroupFile(*text, m_version);
    if (path.empty() || path.front() != '/') {
        return cryopod::fail("process " + std::to_string(pid) + " is in no " + (m_version == Version::V2 ? "cgroup2" : "freezer") + " cgroup", ENOTSUP);
    }
    if (m_root != "/" && startsWith(path, m_root)) {
        path = path.substr(m_root.size());
    }
    if (path == "/") {
        return m_mount;
    }
    return m_mount + path;
}

cryopod::Result<bool> Cgroups::cgroupFrozen(const std::string &cgroup) const
{
    if (cgroup == m_mount) {
        return false; // the root cgroup cannot be frozen
    }
    if (m_version == Version::V2) {
        auto events = readFile(cgroup + "/cgroup.events");
        if (!events) {
            return std::unexpected(events.error());
        }
        for (std::string_view line : split(*events, '\n')) {
            if (line == "frozen 1") {
                return true;
            }
        }
        return false;
    }
    auto state = readFile(cgroup + "/freezer.state");
    if (!state) {
        return std::unexpected(state.error());
    }
    return startsWith(*state, "FROZEN");
}

cryopod::Result<bool> Cgroups::isFrozen(pid_t pid) const
{
    auto cg = cgroupOf(pid);
    if (!cg) {
        return std::unexpected(cg.error());
    }
    return cgroupFrozen(*cg);
}

cryopod::Result<void> Cgroups::setFrozen(const std::string &cgroup, bool frozen, int timeoutMs) const
{
    if (m_version == Version::V2) {
        CRYOPOD_PROPAGATE(writeFile(cgroup + "/cgroup.freeze", frozen ? "1" : "0"));
    } else {
        CRYOPOD_PROPAGATE(writeFile(cgroup + "/freezer.state", frozen ? "FROZEN" : "THAWED"));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
        auto state = cgroupFrozen(cgroup);
        if (!state) {
            return std::unexpected(state.error());
        }
        if (*state == frozen) {
            return {};
        }
        if (std::chrono::steady_clock::now() > deadline) {
            return cryopod::fail(std::string(frozen ? "freeze " : "thaw ") + cgroup + ": the kernel did not report it " + (frozen ? "frozen" : "thawed") + " within "
                                     + std::to_string(timeoutMs) + " ms",
                                 ETIMEDOUT);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
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
    result.version = m_version;
    std::set<pid_t> members;
    collectMembers(*cg, members);
    const std::set<pid_t> treeSet(tree.begin(), tree.end());
    const bool wholeCgroup = *cg != m_mount && std::includes(treeSet.begin(), treeSet.end(), members.begin(), members.end());
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

cryopod::Result<cryopod::engine::OutsideFreezer> Cgroups::outsideFreezer(pid_t pid, int timeoutMs) const
{
    auto cg = cgroupOf(pid);
    if (!cg) {
        return std::unexpected(cg.error());
    }
    auto frozen = cgroupFrozen(*cg);
    if (!frozen) {
        return std::unexpected(frozen.error());
    }
    if (!*frozen) {
        return cryopod::fail("process " + std::to_string(pid) + " is not frozen", EINVAL);
    }
    return cryopod::engine::OutsideFreezer([self = *this, cgroup = *cg, timeoutMs](bool freeze) {
        return self.setFrozen(cgroup, freeze, timeoutMs);
    });
}

cryopod::Result<void> Cgroups::removeEmptied(const std::string &cgroup, int timeoutMs) const
{
    if (!startsWith(baseName(cgroup), kChildPrefix)) {
        return {};
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (::rmdir(cgroup.c_str()) != 0) {
        if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
            return cryopod::sysError("remove " + cgroup);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
}

} // namespace Freezer
