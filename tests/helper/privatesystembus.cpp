// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "privatesystembus.h"

#include <QFile>

PrivateSystemBus::PrivateSystemBus(const QStringList &policyFiles)
    : m_policyFiles(policyFiles)
{
}

PrivateSystemBus::~PrivateSystemBus()
{
    if (m_daemon.state() != QProcess::NotRunning) {
        m_daemon.kill();
        m_daemon.waitForFinished(5000);
    }
}

void PrivateSystemBus::addServiceDirectory(const QString &directory)
{
    m_serviceDirectories << directory;
}

qint64 PrivateSystemBus::daemonPid() const
{
    return m_daemon.processId();
}

bool PrivateSystemBus::start(QString *error)
{
    if (!m_dir.isValid()) {
        *error = QStringLiteral("cannot create a temporary directory");
        return false;
    }
    // Other users (the tests drop privileges) must reach the socket.
    QFile::setPermissions(m_dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup | QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::ExeOther);
    const QString socket = m_dir.filePath(QStringLiteral("system_bus_socket"));
    QString includes;
    for (const QString &file : std::as_const(m_policyFiles)) {
        includes += QStringLiteral("  <include>%1</include>\n").arg(file);
    }
    for (const QString &dir : std::as_const(m_serviceDirectories)) {
        includes += QStringLiteral("  <servicedir>%1</servicedir>\n").arg(dir);
    }
    // The default policy mirrors Debian's system.conf: deny owning names, allow
    // method calls; the included files grant what each service needs.
    const QString config = QStringLiteral(
                               "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                               " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                               "<busconfig>\n"
                               "  <type>system</type>\n"
                               "  <listen>unix:path=%1</listen>\n"
                               "  <auth>EXTERNAL</auth>\n"
                               "  <policy context=\"default\">\n"
                               "    <allow user=\"*\"/>\n"
                               "    <deny own=\"*\"/>\n"
                               "    <deny send_type=\"method_call\"/>\n"
                               "    <allow send_destination=\"org.freedesktop.DBus\"/>\n"
                               "    <allow send_type=\"signal\"/>\n"
                               "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
                               "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
                               "    <allow receive_type=\"method_call\"/>\n"
                               "    <allow receive_type=\"method_return\"/>\n"
                               "    <allow receive_type=\"error\"/>\n"
                               "    <allow receive_type=\"signal\"/>\n"
                               "  </policy>\n"
                               "%2"
                               "</busconfig>\n")
                               .arg(socket, includes);
    QFile file(m_dir.filePath(QStringLiteral("system.conf")));
    if (!file.open(QIODevice::WriteOnly) || file.write(config.toUtf8()) < 0) {
        *error = QStringLiteral("cannot write the bus configuration");
        return false;
    }
    file.close();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), QStringLiteral("unix:path=%1").arg(socket));
    m_daemon.setProcessEnvironment(env);
    m_daemon.start(QStringLiteral("dbus-daemon"), {QStringLiteral("--config-file=%1").arg(file.fileName()), QStringLiteral("--nofork"), QStringLiteral("--print-address")});
    if (!m_daemon.waitForStarted(5000) || !m_daemon.waitForReadyRead(5000)) {
        *error = QStringLiteral("dbus-daemon did not start: %1 %2").arg(m_daemon.errorString(), QString::fromLocal8Bit(m_daemon.readAllStandardError()));
        return false;
    }
    m_address = QString::fromLatin1(m_daemon.readLine()).trimmed();
    if (m_address.isEmpty()) {
        *error = QStringLiteral("dbus-daemon printed no address");
        return false;
    }
    return true;
}

QString PrivateSystemBus::address() const
{
    return m_address;
}
