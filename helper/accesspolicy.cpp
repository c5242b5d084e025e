// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "accesspolicy.h"

#include "capabilities.h"
#include "helpererror.h"

#include <QFile>

#include <algorithm>

namespace AccessPolicy
{

namespace
{

QString capNames(uint64_t mask)
{
    QStringList names;
    for (const std::string &name : cryopod::image::capabilityNames(mask)) {
        names << QString::fromStdString(name);
    }
    return names.join(QStringLiteral(", "));
}

QString limitText(uint64_t value)
{
    return value == UINT64_MAX ? QStringLiteral("unlimited") : QString::number(value);
}

} // namespace

bool CallerCreds::inGroup(gid_t g) const
{
    return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

Decision mayTrace(const CallerCreds &caller, const TargetFacts &target, int yamaScope)
{
    Decision d;
    const ProcStatus::Creds &t = target.creds;
    if (target.stat.flags & ProcStatus::kPfKthread) {
        d.verdict = Verdict::Refused;
        d.errorName = HelperErrorName::Unsupported;
        d.reasons << QStringLiteral("process %1 (%2) is a kernel thread").arg(target.pid).arg(QString::fromStdString(t.name));
        return d;
    }
    if (yamaScope >= 3) {
        d.verdict = Verdict::Refused;
        d.errorName = HelperErrorName::NotAuthorized;
        d.reasons << QStringLiteral("ptrace is disabled on this system (kernel.yama.ptrace_scope = 3), so no process can be checkpointed");
        return d;
    }
    const bool hasPtraceCap = caller.capEff & (uint64_t(1) << kCapSysPtrace);
    if (hasPtraceCap) {
        return d; // the kernel lets CAP_SYS_PTRACE override everything below
    }
    const QString who = QStringLiteral("process %1 (%2)").arg(target.pid).arg(QString::fromStdString(t.name));
    if (t.uid != caller.uid || t.euid != caller.uid || t.suid != caller.uid) {
        if (t.uid == caller.uid || t.euid == caller.uid || t.suid == caller.uid) {
            d.reasons << QStringLiteral("%1 changed its user ids (uid %2, euid %3, saved %4): it runs set-user-ID").arg(who).arg(t.uid).arg(t.euid).arg(t.suid);
        } else {
            d.reasons << QStringLiteral("%1 belongs to uid %2, not to you (uid %3)").arg(who).arg(t.euid).arg(caller.uid);
        }
    }
    if (t.gid != caller.gid || t.egid != caller.gid || t.sgid != caller.gid) {
        d.reasons << QStringLiteral("%1 runs with group ids (gid %2, egid %3, saved %4) other than yours (gid %5)").arg(who).arg(t.gid).arg(t.egid).arg(t.sgid).arg(caller.gid);
    }
    if (target.procOwner != t.euid) {
        d.reasons << QStringLiteral("%1 is not dumpable (it changed credentials or asked not to be traced)").arg(who);
    }
    if (const uint64_t extra = t.capPrm & ~caller.capPrm) {
        d.reasons << QStringLiteral("%1 has capabilities you do not have: %2").arg(who, capNames(extra));
    }
    if (yamaScope == 2) {
        d.reasons << QStringLiteral("kernel.yama.ptrace_scope = 2 allows only administrators to trace processes");
    }
    if (!d.reasons.isEmpty()) {
        d.verdict = Verdict::NeedsAdmin;
    }
    return d;
}

QStringList imageCredsExceed(const CallerCreds &caller, const cryopod::image::CredsRecord &c)
{
    QStringList reasons;
    const QString who = QStringLiteral("the image's process %1").arg(c.pid);
    const struct {
        const char *name;
        uint32_t id;
    } uids[] = {{"uid", c.uid}, {"euid", c.euid}, {"saved uid", c.suid}, {"fsuid", c.fsuid}};
    for (const auto &u : uids) {
        if (u.id != caller.uid) {
            reasons << QStringLiteral("%1 has %2 %3, you are uid %4").arg(who, QLatin1String(u.name)).arg(u.id).arg(caller.uid);
        }
    }
    const struct {
        const char *name;
        uint32_t id;
    } gids[] = {{"gid", c.gid}, {"egid", c.egid}, {"saved gid", c.sgid}, {"fsgid", c.fsgid}};
    for (const auto &g : gids) {
        if (!caller.inGroup(g.id)) {
            reasons << QStringLiteral("%1 has %2 %3, a group you are not in").arg(who, QLatin1String(g.name)).arg(g.id);
        }
    }
    for (uint32_t g : c.groups) {
        if (!caller.inGroup(g)) {
            reasons << QStringLiteral("%1 has the supplementary group %2, which you are not in").arg(who).arg(g);
        }
    }
    const struct {
        const char *name;
        uint64_t mask;
        uint64_t allowed;
    } caps[] = {
        {"permitted", c.capPermitted, caller.capPrm},
        {"effective", c.capEffective, caller.capPrm},
        {"inheritable", c.capInheritable, caller.capPrm},
        {"ambient", c.capAmbient, caller.capPrm},
        {"bounding", c.capBounding, caller.capBnd},
    };
    for (const auto &set : caps) {
        if (const uint64_t extra = set.mask & ~set.allowed) {
            reasons << QStringLiteral("%1 has %2 capabilities you do not have: %3").arg(who, QLatin1String(set.name), capNames(extra));
        }
    }
    return reasons;
}

QStringList imageLimitsExceed(const CallerCreds &caller, const cryopod::image::TaskRecord &task)
{
    QStringList reasons;
    for (size_t r = 0; r < task.rlimits.size() && r < caller.limits.size(); ++r) {
        if (task.rlimits[r].max > caller.limits[r].hard) {
            reasons << QStringLiteral("the image's process %1 has the hard limit %2 = %3, above yours (%4)")
                           .arg(task.pid)
                           .arg(rlimitName(int(r)), limitText(task.rlimits[r].max), limitText(caller.limits[r].hard));
        }
    }
    return reasons;
}

int readYamaScope()
{
    QFile file(QStringLiteral("/proc/sys/kernel/yama/ptrace_scope"));
    if (!file.open(QIODevice::ReadOnly)) {
        return 0;
    }
    bool ok = false;
    const int scope = file.readAll().trimmed().toInt(&ok);
    return ok ? scope : 3; // unreadable: the strictest
}

QString rlimitName(int resource)
{
    static const char *const names[] = {"RLIMIT_CPU",
                                        "RLIMIT_FSIZE",
                                        "RLIMIT_DATA",
                                        "RLIMIT_STACK",
                                        "RLIMIT_CORE",
                                        "RLIMIT_RSS",
                                        "RLIMIT_NPROC",
                                        "RLIMIT_NOFILE",
                                        "RLIMIT_MEMLOCK",
                                        "RLIMIT_AS",
                                        "RLIMIT_LOCKS",
                                        "RLIMIT_SIGPENDING",
                                        "RLIMIT_MSGQUEUE",
                                        "RLIMIT_NICE",
                                        "RLIMIT_RTPRIO",
                                        "RLIMIT_RTTIME"};
    if (resource >= 0 && resource < int(std::size(names))) {
        return QString::fromLatin1(names[resource]);
    }
    return QStringLiteral("rlimit %1").arg(resource);
}

} // namespace AccessPolicy
