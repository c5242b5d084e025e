// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The cgroup a process is in, and whether the cgroup freezer holds it: read
// side only (from /proc/self/mountinfo, /proc/PID/cgroup, cgroup.events,
// cgroup.freeze and freezer.state). A task held by the freezer still reports
// a ptrace stop, but cannot run one instruction the engine injects until it
// is thawed, so the checkpoint must know before it injects anything. The
// helper's Freezer (helper/freezer.h) builds freezing and thawing on this.
#pragma once

#include "engine.h"
#include "result.h"

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

enum class CgroupVersion { V1, V2 };

// The child cgroup the helper's Freeze makes for a tree that is not all of
// its cgroup is named this and the root's pid.
inline constexpr char kChildPrefix[] = "cryopod-freeze-";

struct CgroupMounts {
    std::string v2; // mount point of a cgroup2 hierarchy, or empty
    std::string v2Root; // its root within the hierarchy ("/" unless namespaced)
    std::string v1Freezer; // mount point of the v1 freezer hierarchy, or empty
    std::string v1Root;
};

// /proc/self/mountinfo text -> the cgroup mounts.
CgroupMounts parseMountinfo(std::string_view mountinfo);
// /proc/PID/cgroup text -> the process's cgroup path in that hierarchy
// ("0::/x" for v2; "N:...,freezer,...:/x" for v1), or empty if not listed.
std::string parseCgroupFile(std::string_view text, CgroupVersion version);

// One hierarchy the freezer works in: cgroup2, or v1's freezer controller.
class CgroupHierarchy
{
public:
    // That hierarchy as mounted here; ENOTSUP when it is not.
    static Result<CgroupHierarchy> use(CgroupVersion version);
    // v2 if mounted, else the v1 freezer; fails when neither is there.
    static Result<CgroupHierarchy> detect();

    CgroupVersion version() const
    {
        return m_version;
    }
    // Absolute directory of PID's cgroup in this hierarchy.
    Result<std::string> cgroupOf(pid_t pid) const;
    // Whether the kernel reports that cgroup frozen (v2: cgroup.events
    // "frozen 1"; v1: freezer.state FROZEN). The root cgroup never is.
    Result<bool> cgroupFrozen(const std::string &cgroup) const;
    Result<bool> isFrozen(pid_t pid) const;
    // Frozen, or asked to freeze and not there yet (v2: its own
    // cgroup.freeze is 1; v1: FREEZING): its tasks may stop at any moment.
    Result<bool> cgroupFreezing(const std::string &cgroup) const;
    // Writes cgroup.freeze (v1: freezer.state) and waits up to timeoutMs
    // until the kernel reports the cgroup in that state.
    Result<void> setFrozen(const std::string &cgroup, bool frozen, int timeoutMs) const;

protected:
    CgroupHierarchy(CgroupVersion version, std::string mount, std::string root);

    const std::string &mount() const
    {
        return m_mount;
    }

private:
    CgroupVersion m_version;
    std::string m_mount;
    std::string m_root;
};

// The first of `pids` a cgroup freezer holds (or is about to), and that
// cgroup's directory, looking in every hierarchy mounted here (v2 and the
// v1 freezer can both be); nullopt when none is held.
struct HeldByFreezer {
    pid_t pid = 0;
    std::string cgroup;
};
std::optional<HeldByFreezer> heldByCgroupFreezer(const std::vector<pid_t> &pids);

// A checkpoint of a tree a cgroup freezer holds (the helper's Freeze, or
// anyone's): `hook` (CheckpointOptions::outsideFreezer) thaws and freezes
// that cgroup around the capture; the tree stays frozen. nullopt when no
// freezer of either hierarchy holds PID.
struct FreezerHold {
    CgroupHierarchy hierarchy;
    std::string cgroup; // the frozen cgroup's directory
    OutsideFreezer hook;
};
std::optional<FreezerHold> freezerHold(pid_t pid, int timeoutMs = 5000);

// Once the tree frozen in `cgroup` is gone (a checkpoint killed it):
// removes the cryopod-freeze-PID child the helper's Freeze made, waiting
// up to timeoutMs for the last tasks to leave; any other cgroup is left.
Result<void> removeEmptiedFreezeCgroup(const std::string &cgroup, int timeoutMs = 2000);

} // namespace cryopod::engine
