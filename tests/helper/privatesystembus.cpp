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
    QFile::setPermissions(m_dir.path(),
                          QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup | QFileDevice::ExeGroup |
                              QFileDevice::ReadOther | QFileDevice::ExeOther);
    const QString socket = m_dir.filePath(QStringLiteral("system_bus_socket"));
    QString includes;
    for (const QString &file : std::as_const(m_policyFiles)) {
        includes += QStringLiteral("  <include>%1</include>\n").arg(file);
    }
    for (const QString &dir : std::as_const(m_serviceDirectories)) {
        includes += QStringLiteral("  <servicedir>%1</servicedir>\n").arg(dir);
    }
    // The configuration scripts/run uses too, filled in the same way.
    QFile templateFile(QStringLiteral(SYSTEM_BUS_CONFIG_TEMPLATE));
    if (!templateFile.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read the bus configuration template %1").arg(templateFile.fileName());
        return false;
    }
    QString config = QString::fromUtf8(templateFile.readAll());
    if (!config.contains(QLatin1String("@LISTEN@")) || !config.contains(QLatin1String("@INCLUDES@"))) {
        *error = QStringLiteral("%1 lacks @LISTEN@ or @INCLUDES@").arg(templateFile.fileName());
        return false;
    }
    config.replace(QLatin1String("@LISTEN@"), QStringLiteral("unix:path=%1").arg(socket));
    config.replace(QLatin1String("@INCLUDES@"), includes);
    QFile file(m_dir.filePath(QStringLiteral("system.conf")));
    if (!file.open(QIODevice::WriteOnly) || file.write(config.toUtf8()) < 0) {
        *error = QStringLiteral("cannot write the bus configuration");
        return false;
    }
    file.close();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), QStringLiteral("unix:path=%1").arg(socket));
    m_daemon.setProcessEnvironment(env);
    m_daemon.start(QStringLiteral("dbus-daemon"),
                   {QStringLiteral("--config-file=%1").arg(file.fileName()), QStringLiteral("--nofork"), QStringLiteral("--print-address")});
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
