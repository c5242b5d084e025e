// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// One process as read from /proc, and a snapshot of all of them taken at one
// moment. Plain values: copied across threads, no Qt object ownership.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <sys/types.h>

struct ProcessInfo {
    pid_t pid = 0;
    pid_t ppid = 0; // 0 for the roots of the kernel's tree (init, kthreadd)
    QString name; // comm: at most 15 bytes, what prctl(PR_SET_NAME) sets
    QStringList arguments; // /proc/PID/cmdline; empty for kernel threads and zombies
    // false when cmdline was not read: the process was stopped by a tracer
    // (see ProcessScanner), so arguments says nothing.
    bool argumentsRead = true;
    QString executable; // target of /proc/PID/exe; empty when not readable
    uid_t uid = 0; // real user id
    uid_t euid = 0; // effective user id: the owner Cryopod shows, like ps's USER
    QString userName; // name of euid, or the number when it has no passwd entry
    char state = '?'; // R, S, D, Z, T, t, X, I, ...
    bool kernelThread = false; // PF_KTHREAD
    quint64 rssBytes = 0; // resident set size
    quint64 cpuTimeNs = 0; // user + system time consumed so far
    quint64 startTicks = 0; // start time in clock ticks after boot; with pid, the process's identity
    qint64 startTimeMs = 0; // start time in ms since the epoch
    // Its cgroup's freezer holds it (cryopod-helper's Freeze, or anyone's):
    // cgroup v2 cgroup.events "frozen 1", or the v1 freezer's FROZEN/FREEZING.
    bool frozen = false;
    // A Flatpak's app id, from its cgroup ("app-flatpak-ID-N.scope"), else "".
    QString flatpakAppId;
    // The desktop application it belongs to (DesktopApps::annotate): its
    // own, or its nearest ancestor's (appOwn false); "" for none.
    QString appId;
    QString appName;
    QString appIcon;
    bool appOwn = false;

    // A pid is reused after its process is gone; pid + start time is not.
    bool isSameProcess(const ProcessInfo &other) const
    {
        return pid == other.pid && startTicks == other.startTicks;
    }
};

struct ProcessSnapshot {
    QList<ProcessInfo> processes; // sorted by pid
    qint64 monotonicNs = 0; // CLOCK_MONOTONIC when the scan started
    int cpuCount = 1; // online CPUs, to turn CPU time into a share of the machine
    qint64 scanDurationUs = 0; // how long reading /proc took
    QString error; // empty, or why /proc could not be read at all
    // Processes listed with their stat and owner only so far (argumentsRead
    // false): a details pass follows (ProcessSource::readPendingDetails).
    int detailsPending = 0;
};

Q_DECLARE_METATYPE(ProcessInfo)
Q_DECLARE_METATYPE(ProcessSnapshot)
