// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod-helper on a real (private) system bus: owns its name under the
// shipped bus policy, answers Version(), exits when idle.

#include "privatesystembus.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDBusMessage>
#include <QProcess>
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

private:
    PrivateSystemBus m_bus{{QStringLiteral(HELPER_BUS_POLICY)}};
};

QTEST_GUILESS_MAIN(HelperBusTest)
#include "helperbustest.moc"
