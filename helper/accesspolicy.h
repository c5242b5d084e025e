// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Who may act on what, decided from facts (no I/O here): the kernel's ptrace
// rules applied to the caller and a target process, and what an image asks
// for compared with what the caller has. "NeedsAdmin" means: allowed only
// with the administrator action of the operation (polkit auth_admin_keep).
#pragma once

#include "procstatus.h"
#include "records.h"

#include <QString>
#include <QStringList>

#include <sys/types.h>

namespace AccessPolicy
{

// The caller as the bus and /proc describe it (see caller.h).
struct CallerCreds {
    uid_t uid = 0; // the bus's UnixUserID, equal to /proc's real and effective uid
    gid_t gid = 0; // real gid
    std::vector<gid_t> groups; // supplementary groups
    uint64_t capPrm = 0, capEff = 0, capBnd = 0;
    ProcStatus::Limits limits{};

    bool inGroup(gid_t g) const;
};

struct TargetFacts {
    pid_t pid = 0;
    ProcStatus::Creds creds;
    ProcStatus::Stat stat;
    uid_t procOwner = 0; // owner of /proc/PID (root when not dumpable)
};

enum class Verdict {
    Allowed, // the caller's own, ordinary process
    NeedsAdmin, // the reasons say what makes it more than the caller's
    Refused, // nobody may: errorName and reasons say why
};

struct Decision {
    Verdict verdict = Verdict::Allowed;
    const char *errorName = nullptr; // for Refused
    QStringList reasons;
};

inline constexpr int kCapSysPtrace = 19;

// The kernel's ptrace access rules (PTRACE_MODE_ATTACH_REALCREDS) for the
// caller on the target: same uid (real, effective, saved) and gid (real,
// effective, saved), dumpable, target's permitted capabilities within the
// caller's; CAP_SYS_PTRACE in the caller's effective set overrides them.
// Yama: scope 2 needs admin, scope 3 refuses everyone; scope 1 (descendants
// only) is not applied, the caller asked explicitly through the helper.
// Kernel threads are refused (Unsupported).
Decision mayTrace(const CallerCreds &caller, const TargetFacts &target, int yamaScope);

// What of an image's credentials exceeds the caller's: another uid, a gid or
// supplementary group the caller does not have, capabilities beyond the
// caller's permitted (bounding: beyond the caller's bounding) set. Empty when
// the image grants nothing the caller lacks.
QStringList imageCredsExceed(const CallerCreds &caller, const cryopod::image::CredsRecord &creds);

// Hard resource limits of the image above the caller's own hard limits.
QStringList imageLimitsExceed(const CallerCreds &caller, const cryopod::image::TaskRecord &task);

// PIDs below this are treated as system PIDs: the kernel hands them out only
// while booting (after a wrap it starts again at 300, RESERVED_PIDS).
inline constexpr int32_t kFirstUserPid = 300;

// kernel.yama.ptrace_scope, 0 when Yama is not present.
int readYamaScope();

// "RLIMIT_NOFILE" for 7.
QString rlimitName(int resource);

} // namespace AccessPolicy
