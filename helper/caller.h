// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Who is calling: the bus daemon's credentials of the caller's connection
// (GetConnectionCredentials: uid, pid and, with dbus >= 1.15.6, a pidfd),
// completed from /proc (gid, groups, capabilities, limits) and checked
// against it: /proc must show the same uid as real and effective uid, and
// the process must still be the one the bus named (its pidfd is alive after
// /proc was read).
#pragma once

#include "accesspolicy.h"
#include "ascaller.h"
#include "helpererror.h"
#include "uniquefd.h"

#include <QDBusConnection>
#include <QString>

#include <memory>

struct Caller {
    QString busName; // unique name, ":1.42"
    uid_t uid = 0;
    pid_t pid = 0;
    AccessPolicy::CallerCreds creds;
    std::shared_ptr<cryopod::UniqueFd> pidfd;

    AsCaller::FsCreds fsCreds() const;
    bool isRoot() const
    {
        return uid == 0;
    }
};

// Blocking: asks the bus daemon, then reads /proc. Call on a worker thread.
HelperResult<Caller> identifyCaller(const QDBusConnection &bus, const QString &busName);

// pidfd_open(pid); -1 with errno on failure.
int openPidfd(pid_t pid);
// Whether the process behind pidfd still exists (a zombie counts: it still
// holds its pid).
bool pidfdAlive(int pidfd);
