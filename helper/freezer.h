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

#include "cgroups.h"
#include "engine.h"
#include "result.h"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace Freezer
{

// Which cgroup, whether frozen, freezing it again around a checkpoint
// (engine::freezerHold): the engine's (helper/engine/cgroups.h).
using Version = cryopod::engine::CgroupVersion;
using Mounts = cryopod::engine::CgroupMounts;
using cryopod::engine::parseCgroupFile;
using cryopod::engine::parseMountinfo;
// The child cgroup freeze() makes when the tree is not all of its cgroup.
using cryopod::engine::kChildPrefix;

struct Frozen {
    Version version = Version::V2;
    std::string cgroup; // directory of the frozen cgroup
    bool created = false; // a cryopod-freeze-PID child was made
    std::vector<pid_t> pids; // the tree as frozen
};

class Cgroups : public cryopod::engine::CgroupHierarchy
{
public:
    // The hierarchy to use on this system: v2 if mounted, else the v1
    // freezer; fails when neither is there.
    static cryopod::Result<Cgroups> detect();
    // A given hierarchy (tests use both).
    static cryopod::Result<Cgroups> use(Version version);

    // Freezes PID and all its descendants; waits (up to timeoutMs) until the
    // kernel reports them frozen. On failure nothing stays frozen or moved.
    cryopod::Result<Frozen> freeze(pid_t pid, int timeoutMs = 5000) const;
    // Thaws the cgroup PID is frozen in; undoes what freeze() made. Fails
    // (EINVAL) if PID is not frozen.
    cryopod::Result<void> thaw(pid_t pid, int timeoutMs = 5000) const;

private:
    explicit Cgroups(cryopod::engine::CgroupHierarchy hierarchy);
    cryopod::Result<void> moveAll(const std::string &from, const std::string &to) const;
};

} // namespace Freezer
