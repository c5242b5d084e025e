// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A private, real `dbus-daemon` configured as a system bus (type "system",
// EXTERNAL auth, the helper's own bus policy included), for tests. It listens
// on a socket in a temporary directory and dies with the fixture. Its
// configuration is scripts/system-bus.conf.in, the template scripts/run uses.
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

class PrivateSystemBus
{
public:
    // policyFiles are included into the bus configuration.
    explicit PrivateSystemBus(const QStringList &policyFiles);
    ~PrivateSystemBus();

    // A directory of .service files the bus activates from (before start()).
    // Activated services run as the daemon's user, with
    // DBUS_SYSTEM_BUS_ADDRESS set to this bus.
    void addServiceDirectory(const QString &directory);

    bool start(QString *error);
    QString address() const; // for DBUS_SYSTEM_BUS_ADDRESS
    qint64 daemonPid() const;

private:
    QTemporaryDir m_dir;
    QStringList m_policyFiles;
    QStringList m_serviceDirectories;
    QProcess m_daemon;
    QString m_address;
};
