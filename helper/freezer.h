// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Freeze / thaw a whole process tree with the cgroup freezer: cgroup v2
// (cgroup.freeze) where a cgroup2 hierarchy is mounted, else the v1 freezer
// controller. Nothing is remembered between calls; the cgroup tree is the
// state:
//  - when the tree is all there is in its (non-root) cgroup, e.g. an app's
//    systemd scope, that cgroup itself is frozen: nothing moves;
//  - otherwise a child cgroup "cryopod-freeze-PID" is made inside the tree's
//    own cgroup and the tree moves into it (so it stays inside its scope);
//    thawing moves it back to the parent and removes the child.
#pragma once

#include "engine.h"
#include "result.h"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace Freezer
{

enum class Version { V1, V2 };

struct Mounts {
    std::string v2; // mount point of a cgroup2 hierarchy, or empty
    std::string v2Root; // its root within the hierarchy ("/" unless namespaced)
    std::string v1Freezer; // mount point of the v1 freezer hierarchy, or empty
    std::string v1Root;
};

// /proc/self/mountinfo text -> the cgroup mounts.
Mounts parseMountinfo(std::string_view mountinfo);
// /proc/PID/cgroup text -> the process's cgroup path in that hierarchy
// ("0::/x" for v2; "N:...,freezer,...:/x" for v1), or empty if not listed.
std::string parseCgroupFile(std::string_view text, Version version);

inline constexpr char kChildPrefix[] = "cryopod-freeze-";

struct Frozen {
    Version version = Version::V2;
    std::string cgroup; // directory of the frozen cgroup
    bool created = false; // a cryopod-freeze-PID child was made
    std::vector<pid_t> pids; // the tree as frozen
};

class Cgroups
{
public:
    // The hierarchy to use on this system: v2 if mounted, else the v1
    // freezer; fails when neither is there.
    static cryopod::Result<Cgroups> detect();
    // A given hierarchy (tests use both).
    static cryopod::Result<Cgroups> use(Version version);

    Version version() const
    {
        return m_version;
    }
    // Absolute directory of PID's cgroup in this hierarchy.
    cryopod::Result<std::string> cgroupOf(pid_t pid) const;
    // Whether PID's cgroup is frozen (v2: cgroup.events "frozen 1"; v1:
    // freezer.state FROZEN).
    cryopod::Result<bool> isFrozen(pid_t pid) const;

    // Freezes PID and all its descendants; waits (up to timeoutMs) until the
    // kernel reports them frozen. On failure nothing stays frozen or moved.
    cryopod::Result<Frozen> freeze(pid_t pid, int timeoutMs = 5000) const;
    // Thaws the cgroup PID is frozen in; undoes what freeze() made. Fails
    // (EINVAL) if PID is not frozen.
    cryopod::Result<void> thaw(pid_t pid, int timeoutMs = 5000) const;
    // For a checkpoint of PID's tree while frozen (CheckpointOptions::
    // outsideFreezer): thaws and freezes again the cgroup PID is frozen in,
    // leaving it where it is. Fails (EINVAL) if PID is not frozen.
    cryopod::Result<cryopod::engine::OutsideFreezer> outsideFreezer(pid_t pid, int timeoutMs = 5000) const;
    // Once the tree frozen in `cgroup` is gone (a checkpoint killed it):
    // removes the cryopod-freeze-PID child freeze() made, waiting (up to
    // timeoutMs) for the last tasks to leave; another cgroup is left alone.
    cryopod::Result<void> removeEmptied(const std::string &cgroup, int timeoutMs = 2000) const;

private:
    Cgroups(Version version, std::string mount, std::string root);
    cryopod::Result<void> setFrozen(const std::string &cgroup, bool frozen, int timeoutMs) const;
    cryopod::Result<bool> cgroupFrozen(const std::string &cgroup) const;
    cryopod::Result<void> moveAll(const std::string &from, const std::string &to) const;

    Version m_version;
    std::string m_mount;
    std::string m_root;
};

} // namespace Freezer
