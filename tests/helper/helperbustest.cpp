// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod-helper on a real (private) system bus: owns its name under the
// shipped bus policy, answers Version(), exits when idle.

#include "privatesystembus.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDBusMessage>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

class HelperBusTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (geteuid() != 0) {
            QSKIP("the helper owns its bus name only as root (bus policy)");
        }
        QString error;
        QVERIFY2(m_bus.start(&error), qPrintable(error));
    }

    void versionAndIdleExit()
    {
        QProcess helper;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), m_bus.address());
        env.insert(QStringLiteral("CRYOPOD_HELPER_IDLE_MS"), QStringLiteral("1500"));
        helper.setProcessEnvironment(env);
        helper.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        helper.start(QStringLiteral(HELPER_BINARY), {});
        QVERIFY(helper.waitForStarted());

        QDBusConnection bus = QDBusConnection::connectToBus(m_bus.address(), QStringLiteral("test"));
        QVERIFY2(bus.isConnected(), qPrintable(bus.lastError().message()));
        QTRY_VERIFY_WITH_TIMEOUT(bus.interface()->isServiceRegistered(QStringLiteral("io.github.cryopod.Helper")), 5000);

        QDBusMessage call = QDBusMessage::createMethodCall(QStringLiteral("io.github.cryopod.Helper"),
                                                           QStringLiteral("/io/github/cryopod/Helper"),
                                                           QStringLiteral("io.github.cryopod.Helper1"),
                                                           QStringLiteral("Version"));
        const QDBusMessage reply = bus.call(call, QDBus::Block, 5000);
        QCOMPARE(reply.type(), QDBusMessage::ReplyMessage);
        QCOMPARE(reply.arguments().value(0).toString(), QStringLiteral(CRYOPOD_TEST_VERSION));

        // No more calls: the helper leaves after its idle timeout.
        QVERIFY(helper.waitForFinished(10000));
        QCOMPARE(helper.exitStatus(), QProcess::NormalExit);
        QCOMPARE(helper.exitCode(), 0);
        QDBusConnection::disconnectFromBus(QStringLiteral("test"));
    }

    void nonRootCannotOwnTheName()
    {
        // The shipped policy lets only root own the name: the same helper run
        // as nobody must fail to start its service.
        QProcess helper;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), m_bus.address());
        helper.setProcessEnvironment(env);
        helper.start(QStringLiteral("setpriv"),
                     {QStringLiteral("--reuid=65534"), QStringLiteral("--regid=65534"), QStringLiteral("--clear-groups"), QStringLiteral(HELPER_BINARY)});
        QVERIFY(helper.waitForFinished(10000));
        QCOMPARE(helper.exitCode(), 1);
        QVERIFY2(helper.readAllStandardError().contains("cannot own io.github.cryopod.Helper"), "expected a refusal to own the name");
    }

    void activationFile()
    {
        // What cmake --install puts into share/dbus-1/system-services.
        QFile file(QStringLiteral(HELPER_SERVICE_FILE));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QVERIFY(text.contains(QLatin1String("[D-BUS Service]")));
        QVERIFY(text.contains(QLatin1String("\nName=io.github.cryopod.Helper\n")));
        QVERIFY(text.contains(QLatin1String("\nUser=root\n")));
        QVERIFY2(text.contains(QLatin1String("\nExec=" HELPER_INSTALLED_PATH "\n")), qPrintable(text));
    }

    void busActivation()
    {
        // The same file, pointing at the build's helper: the bus starts the
        // helper on the first call, and the helper leaves when idle.
        QFile installed(QStringLiteral(HELPER_SERVICE_FILE));
        QVERIFY(installed.open(QIODevice::ReadOnly));
        QString text = QString::fromUtf8(installed.readAll());
        text.replace(QLatin1String("Exec=" HELPER_INSTALLED_PATH), QLatin1String("Exec=" HELPER_BINARY));
        QTemporaryDir services;
        QFile service(services.filePath(QStringLiteral("io.github.cryopod.Helper.service")));
        QVERIFY(service.open(QIODevice::WriteOnly));
        service.write(text.toUtf8());
        service.close();

        qputenv("CRYOPOD_HELPER_IDLE_MS", "1500"); // the daemon passes its environment on
        PrivateSystemBus bus({QStringLiteral(HELPER_BUS_POLICY)});
        bus.addServiceDirectory(services.path());
        QString error;
        QVERIFY2(bus.start(&error), qPrintable(error));
        qunsetenv("CRYOPOD_HELPER_IDLE_MS");

        QDBusConnection connection = QDBusConnection::connectToBus(bus.address(), QStringLiteral("activation"));
        QVERIFY(connection.isConnected());
        QVERIFY(!connection.interface()->isServiceRegistered(QStringLiteral("io.github.cryopod.Helper")));
        QDBusMessage call = QDBusMessage::createMethodCall(QStringLiteral("io.github.cryopod.Helper"),
                                                           QStringLiteral("/io/github/cryopod/Helper"),
                                                           QStringLiteral("io.github.cryopod.Helper1"),
                                                           QStringLiteral("Version"));
        const QDBusMessage reply = connection.call(call, QDBus::Block, 15000);
        QVERIFY2(reply.type() == QDBusMessage::ReplyMessage, qPrintable(reply.errorMessage()));
        QCOMPARE(reply.arguments().value(0).toString(), QStringLiteral(CRYOPOD_TEST_VERSION));
        QTRY_VERIFY_WITH_TIMEOUT(!connection.interface()->isServiceRegistered(QStringLiteral("io.github.cryopod.Helper")), 10000);
        QDBusConnection::disconnectFromBus(QStringLiteral("activation"));
    }

private:
    PrivateSystemBus m_bus{{QStringLiteral(HELPER_BUS_POLICY)}};
};

QTEST_GUILESS_MAIN(HelperBusTest)
#include "helperbustest.moc"
