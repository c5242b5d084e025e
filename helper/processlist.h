// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ListProcesses answers with what the caller could read in /proc itself, no
// more: the helper reads /proc as root, then forCaller() removes what an
// unprivileged reader would not get. Pure functions, unit-tested.
#pragma once

#include "processinfo.h"

#include <QString>

#include <sys/types.h>

namespace ProcessList
{
// /proc's hidepid= mount option: 0/off (everyone sees every process),
// 1/noaccess (others' /proc/PID cannot be read), 2/invisible (others'
// processes are not listed); 4/ptraceable counts as invisible.
enum class HidePid {
    Off,
    NoAccess,
    Invisible,
};

// From the super options of /proc in mountinfo ("rw,hidepid=invisible").
HidePid parseHidePid(const QString &mountOptions);
// The option of the /proc this process sees (Off when unreadable).
HidePid hidePidOfProc();

// A process is the caller's own when its real and effective uids are the
// caller's (then /proc/PID/exe is readable to the caller). Root sees all.
// Others' processes keep everything but the executable path; with hidepid
// they are left out altogether (a scan by the caller would not read them).
ProcessSnapshot forCaller(const ProcessSnapshot &snapshot, uid_t callerUid, HidePid hidePid);
}
