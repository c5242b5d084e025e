// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "cgroups.h"

#include "procfs.h"
#include "uniquefd.h"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

namespace cryopod::engine
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

bool hasLine(std::string_view text, std::string_view wanted)
{
    for (std::string_view line : split(text, '\n')) {
        if (line == wanted) {
            return true;
        }
    }
    return false;
}

} // namespace

CgroupMounts parseMountinfo(std::string_view mountinfo)
{
    CgroupMounts m;
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

std::string parseCgroupFile(std::string_view text, CgroupVersion version)
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
        if (version == CgroupVersion::V2 && id == "0" && controllers.empty()) {
            return std::string(path);
        }
        if (version == CgroupVersion::V1) {
            for (std::string_view c : split(controllers, ',')) {
                if (c == "freezer") {
                    return std::string(path);
                }
            }
        }
    }
    return {};
}

CgroupHierarchy::CgroupHierarchy(CgroupVersion version, std::string mount, std::string root)
    : m_version(version)
    , m_mount(std::move(mount))
    , m_root(std::move(root))
{
}

Result<CgroupHierarchy> CgroupHierarchy::use(CgroupVersion version)
{
    auto text = procfs::readFile("/proc/self/mountinfo");
    if (!text) {
        return std::unexpected(text.error());
    }
    const CgroupMounts m = parseMountinfo(*text);
    if (version == CgroupVersion::V2) {
        if (m.v2.empty()) {
            return fail("no cgroup2 hierarchy is mounted", ENOTSUP);
        }
        return CgroupHierarchy(version, m.v2, m.v2Root);
    }
    if (m.v1Freezer.empty()) {
        return fail("no cgroup v1 freezer hierarchy is mounted", ENOTSUP);
    }
    return CgroupHierarchy(version, m.v1Freezer, m.v1Root);
}

Result<CgroupHierarchy> CgroupHierarchy::detect()
{
    if (auto v2 = use(CgroupVersion::V2)) {
        return v2;
    }
    auto v1 = use(CgroupVersion::V1);
    if (!v1) {
        return fail("neither a cgroup2 hierarchy nor the cgroup v1 freezer is mounted: processes cannot be frozen", ENOTSUP);
    }
    return v1;
}

Result<std::string> CgroupHierarchy::cgroupOf(pid_t pid) const
{
    auto text = procfs::readFile(procfs::path(pid, "cgroup"));
    if (!text) {
        if (text.error().code == ENOENT) {
            return fail("there is no process " + std::to_string(pid), ESRCH);
        }
        return std::unexpected(text.error());
    }
    std::string path = parseCgroupFile(*text, m_version);
    if (path.empty() || path.front() != '/') {
        return fail("process " + std::to_string(pid) + " is in no " + (m_version == CgroupVersion::V2 ? "cgroup2" : "freezer") + " cgroup", ENOTSUP);
    }
    if (m_root != "/" && path.starts_with(m_root)) {
        path = path.substr(m_root.size());
    }
    if (path.empty() || path == "/") {
        return m_mount;
    }
    return m_mount + path;
}

Result<bool> CgroupHierarchy::cgroupFrozen(const std::string &cgroup) const
{
    if (cgroup == m_mount) {
        return false; // the root cgroup cannot be frozen
    }
    if (m_version == CgroupVersion::V2) {
        auto events = procfs::readFile(cgroup + "/cgroup.events");
        if (!events) {
            return std::unexpected(events.error());
        }
        return hasLine(*events, "frozen 1");
    }
    auto state = procfs::readFile(cgroup + "/freezer.state");
    if (!state) {
        return std::unexpected(state.error());
    }
    return state->starts_with("FROZEN");
}

Result<bool> CgroupHierarchy::cgroupFreezing(const std::string &cgroup) const
{
    auto frozen = cgroupFrozen(cgroup);
    if (!frozen || *frozen || cgroup == m_mount) {
        return frozen;
    }
    if (m_version == CgroupVersion::V2) {
        auto freeze = procfs::readFile(cgroup + "/cgroup.freeze");
        return freeze && freeze->starts_with("1");
    }
    auto state = procfs::readFile(cgroup + "/freezer.state");
    return state && state->starts_with("FREEZING");
}

Result<bool> CgroupHierarchy::isFrozen(pid_t pid) const
{
    auto cg = cgroupOf(pid);
    if (!cg) {
        return std::unexpected(cg.error());
    }
    return cgroupFrozen(*cg);
}

Result<void> CgroupHierarchy::setFrozen(const std::string &cgroup, bool frozen, int timeoutMs) const
{
    const std::string file = cgroup + (m_version == CgroupVersion::V2 ? "/cgroup.freeze" : "/freezer.state");
    const std::string text = m_version == CgroupVersion::V2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
    {
        UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) {
            return sysError("open " + file);
        }
        const ssize_t n = ::write(fd.get(), text.data(), text.size());
        if (n != ssize_t(text.size())) {
            if (n >= 0) {
                errno = EIO;
            }
            return sysError("write " + text + " to " + file);
        }
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
            return fail(std::string(frozen ? "freeze " : "thaw ") + cgroup + ": the kernel did not report it " + (frozen ? "frozen" : "thawed") + " within " +
                            std::to_string(timeoutMs) + " ms",
                        ETIMEDOUT);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::optional<HeldByFreezer> heldByCgroupFreezer(const std::vector<pid_t> &pids)
{
    for (CgroupVersion version : {CgroupVersion::V2, CgroupVersion::V1}) {
        auto hierarchy = CgroupHierarchy::use(version);
        if (!hierarchy) {
            continue; // not mounted here
        }
        for (pid_t pid : pids) {
            auto cg = hierarchy->cgroupOf(pid);
            if (!cg) {
                continue; // gone, or in no cgroup of this hierarchy
            }
            if (auto held = hierarchy->cgroupFreezing(*cg); held && *held) {
                return HeldByFreezer {pid, *cg};
            }
        }
    }
    return std::nullopt;
}

std::optional<FreezerHold> freezerHold(pid_t pid, int timeoutMs)
{
    for (CgroupVersion version : {CgroupVersion::V2, CgroupVersion::V1}) {
        auto hierarchy = CgroupHierarchy::use(version);
        if (!hierarchy) {
            continue;
        }
        auto cg = hierarchy->cgroupOf(pid);
        if (!cg) {
            continue;
        }
        if (auto frozen = hierarchy->cgroupFrozen(*cg); !frozen || !*frozen) {
            continue;
        }
        OutsideFreezer hook = [self = *hierarchy, cgroup = *cg, timeoutMs](bool freeze) { return self.setFrozen(cgroup, freeze, timeoutMs); };
        return FreezerHold {std::move(*hierarchy), std::move(*cg), std::move(hook)};
    }
    return std::nullopt;
}

Result<void> removeEmptiedFreezeCgroup(const std::string &cgroup, int timeoutMs)
{
    const size_t slash = cgroup.rfind('/');
    if (cgroup.substr(slash == std::string::npos ? 0 : slash + 1).rfind(kChildPrefix, 0) != 0) {
        return {};
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (::rmdir(cgroup.c_str()) != 0) {
        if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
            return sysError("remove " + cgroup);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
}

} // namespace cryopod::engine
