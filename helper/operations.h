// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The bodies of cryopod-helper's methods. Each runs on its own worker thread
// (never on the bus thread) and follows the same order:
//  1. who calls (the bus daemon's credentials, checked against /proc);
//  2. polkit: the operation's action for the caller's bus name; a caller
//     refused here learns nothing about the arguments;
//  3. validation of every argument (Validation);
//  4. the target or image compared with the caller (AccessPolicy,
//     ImageCheck): anything beyond the caller's own needs the operation's
//     admin ("-other") action as well;
//  5. the work, as a job object for Checkpoint and Restore.
// Every refusal is an error reply (or a Finished signal once a job exists)
// with a name from HelperErrorName and a message.
#pragma once

#include "engine.h"
#include "helpererror.h"
#include "uniquefd.h"

#include <QDBusConnection>
#include <QDBusMessage>
#include <QVariantMap>

#include <sys/types.h>

class HelperJob;

// One method call, answered from the worker thread (QDBusConnection::send is
// thread-safe).
struct Request {
    QDBusConnection bus;
    QDBusMessage message;

    bool interactive() const
    {
        return message.isInteractiveAuthorizationAllowed();
    }
    void reply(const QVariantList &values) const;
    void fail(const HelperError &error) const;
};

// What operations need from the service; every member is thread-safe.
class JobHost
{
public:
    virtual ~JobHost() = default;
    // A new job object of owner, exported on the bus; Busy when the owner
    // (or everyone together) has too many.
    virtual HelperResult<HelperJob *> createJob(const QString &owner, const QString &operation) = 0;
    // The worker is done with the job (it sent Finished): unexport it.
    virtual void releaseJob(HelperJob *job) = 0;
    // A restored process is the helper's child: reap it when it exits.
    virtual void adoptChild(pid_t pid) = 0;
};

namespace Operations
{

// The host's process tree as the caller could read it in /proc (for callers
// in a sandbox, whose own /proc shows only the sandbox).
void listProcesses(const Request &request);
void report(const Request &request, qint64 pid);
void freeze(const Request &request, qint64 pid);
void thaw(const Request &request, qint64 pid);
void checkpoint(const Request &request, JobHost &host, qint64 pid, const QVariantMap &options, cryopod::UniqueFd fd);
void restore(const Request &request, JobHost &host, cryopod::UniqueFd fd, const QVariantMap &options);

// The report as a{sv} (docs/dbus-interface.md).
QVariantMap reportToMap(const cryopod::engine::Report &report);

} // namespace Operations
