// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "caller.h"

#include "procstatus.h"

#include <QDBusArgument>
#include <QDBusMessage>
#include <QDBusUnixFileDescriptor>
#include <QVariantMap>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

AsCaller::FsCreds Caller::fsCreds() const
{
    AsCaller::FsCreds fs;
    fs.uid = creds.uid;
    fs.gid = creds.gid;
    fs.groups = creds.groups;
    return fs;
}

int openPidfd(pid_t pid)
{
    return int(::syscall(SYS_pidfd_open, pid, 0));
}

bool pidfdAlive(int pidfd)
{
    return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
}

HelperResult<Caller> identifyCaller(const QDBusConnection &bus, const QString &busName)
{
    auto refuse = [&](const QString &why) {
        return helperError(HelperErrorName::NotAuthorized, QStringLiteral("cannot tell who is calling (%1): %2").arg(busName, why));
    };
    QDBusMessage call = QDBusMessage::createMethodCall(QStringLiteral("org.freedesktop.DBus"),
                                                       QStringLiteral("/org/freedesktop/DBus"),
                                                       QStringLiteral("org.freedesktop.DBus"),
                                                       QStringLiteral("GetConnectionCredentials"));
    call << busName;
    const QDBusMessage reply = bus.call(call, QDBus::Block, 10000);
    if (reply.type() != QDBusMessage::ReplyMessage || reply.arguments().isEmpty()) {
        return refuse(QStringLiteral("the bus does not know it: %1").arg(reply.errorMessage()));
    }
    QVariantMap credentials;
    const QVariant arg = reply.arguments().constFirst();
    if (arg.canConvert<QDBusArgument>()) {
        arg.value<QDBusArgument>() >> credentials;
    } else {
        credentials = arg.toMap();
    }
    if (!credentials.contains(QStringLiteral("UnixUserID")) || !credentials.contains(QStringLiteral("ProcessID"))) {
        return refuse(QStringLiteral("the bus gives no user or process id"));
    }
    Caller caller;
    caller.busName = busName;
    caller.uid = uid_t(credentials.value(QStringLiteral("UnixUserID")).toUInt());
    caller.pid = pid_t(credentials.value(QStringLiteral("ProcessID")).toUInt());

    // The bus's pidfd pins the process it authenticated; without one (older
    // dbus-daemon) a pidfd opened now, checked against the bus's uid below.
    int pidfd = -1;
    const QVariant fdValue = credentials.value(QStringLiteral("ProcessFD"));
    if (fdValue.canConvert<QDBusUnixFileDescriptor>()) {
        const QDBusUnixFileDescriptor fd = fdValue.value<QDBusUnixFileDescriptor>();
        if (fd.isValid()) {
            pidfd = ::fcntl(fd.fileDescriptor(), F_DUPFD_CLOEXEC, 0);
        }
    }
    if (pidfd < 0) {
        pidfd = openPidfd(caller.pid);
    }
    if (pidfd < 0) {
        return refuse(QStringLiteral("process %1 is gone").arg(caller.pid));
    }
    caller.pidfd = std::make_shared<cryopod::UniqueFd>(pidfd);

    auto dir = ProcStatus::ProcessDir::open(caller.pid);
    if (!dir) {
        return refuse(QString::fromStdString(dir.error().describe()));
    }
    auto creds = dir->creds();
    auto limits = dir->limits();
    if (!creds || !limits) {
        return refuse(QString::fromStdString((creds ? limits.error() : creds.error()).describe()));
    }
    if (!pidfdAlive(pidfd)) {
        return refuse(QStringLiteral("process %1 exited while it was being looked at").arg(caller.pid));
    }
    if (creds->uid != caller.uid || creds->euid != caller.uid) {
        return refuse(QStringLiteral("process %1 runs as uid %2 (effective %3) now, but connected to the bus as uid %4").arg(caller.pid).arg(creds->uid).arg(creds->euid).arg(caller.uid));
    }
    caller.creds.uid = caller.uid;
    caller.creds.gid = creds->gid;
    caller.creds.groups = creds->groups;
    caller.creds.capPrm = creds->capPrm;
    caller.creds.capEff = creds->capEff;
    caller.creds.capBnd = creds->capBnd;
    caller.creds.limits = *limits;
    return caller;
}
