// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "processlist.h"

#include <QFile>

namespace ProcessList
{
HidePid parseHidePid(const QString &mountOptions)
{
    HidePid result = HidePid::Off;
    for (const QString &option : mountOptions.split(QLatin1Char(','))) {
        if (!option.startsWith(QLatin1String("hidepid="))) {
            continue;
        }
        const QString value = option.mid(8);
        if (value == QLatin1String("1") || value == QLatin1String("noaccess")) {
            result = HidePid::NoAccess;
        } else if (value == QLatin1String("2") || value == QLatin1String("invisible") || value == QLatin1String("4")
                   || value == QLatin1String("ptraceable")) {
            result = HidePid::Invisible;
        } else {
            result = HidePid::Off;
        }
    }
    return result;
}

HidePid hidePidOfProc()
{
    QFile mountinfo(QStringLiteral("/proc/self/mountinfo"));
    if (!mountinfo.open(QIODevice::ReadOnly)) {
        return HidePid::Off;
    }
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS
    HidePid found = HidePid::Off;
    while (!mountinfo.atEnd()) {
        const QString line = QString::fromUtf8(mountinfo.readLine()).trimmed();
        const QStringList fields = line.split(QLatin1Char(' '));
        const qsizetype dash = fields.indexOf(QStringLiteral("-"));
        if (fields.size() < 5 || fields.at(4) != QLatin1String("/proc") || dash < 0 || dash + 3 >= fields.size() || fields.at(dash + 1) != QLatin1String("proc")) {
            continue;
        }
        found = parseHidePid(fields.value(dash + 3)); // the last mount on /proc wins
    }
    return found;
}

ProcessSnapshot forCaller(const ProcessSnapshot &snapshot, uid_t callerUid, HidePid hidePid)
{
    if (callerUid == 0) {
        return snapshot;
    }
    ProcessSnapshot out = snapshot;
    out.processes.clear();
    out.processes.reserve(snapshot.processes.size());
    for (const ProcessInfo &info : snapshot.processes) {
        const bool own = info.uid == callerUid && info.euid == callerUid;
        if (own) {
            out.processes.append(info);
            continue;
        }
        if (hidePid != HidePid::Off) {
            continue;
        }
        ProcessInfo other = info;
        other.executable.clear();
        out.processes.append(std::move(other));
    }
    return out;
}
} // namespace ProcessList
