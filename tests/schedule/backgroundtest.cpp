// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// `cryopod --background` as a program, on a private session bus (real
// dbus-daemon), offscreen: it runs the store's schedules (a schedule whose
// target has gone is recorded as skipped, no helper needed), shows its
// tray icon as a StatusNotifierItem on the bus with the next run in its
// tooltip, a failing schedule is recorded, backed off and notified
// (KNotification to the session's notification server), and a second
// runner of the same store refuses to start. The desktop's side (Plasma's
// StatusNotifierWatcher, a notification server) is played by this test.
// cryopodctl schedule add installs the autostart entry that starts it.

#include "autostart.h"
#include "schedulematch.h"
#include "schedulestore.h"
#include "scheduletestsupport.h"
#include "snapshotstore.h"

#include <QDBusArgument>
#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDBusMessage>
#include <QDBusVariant>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <ctime>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::schedule;
using namespace ScheduleTestSupport;

// The tray's side of the desktop: Plasma's StatusNotifierWatcher (a kded
// module of plasma-workspace, not in the build root), as far as a
// KStatusNotifierItem needs it to put itself on the bus: a host is
// registered, items register with it.
class Watcher : public QObject
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "org.kde.StatusNotifierWatcher")
    Q_PROPERTY(bool IsStatusNotifierHostRegistered READ hostRegistered)
    Q_PROPERTY(int ProtocolVersion READ protocolVersion)
    Q_PROPERTY(QStringList RegisteredStatusNotifierItems READ items)
public:
    bool hostRegistered() const
    {
        return true;
    }
    int protocolVersion() const
    {
        return 0;
    }
    QStringList items() const
    {
        return m_items;
    }
    QStringList m_items;
public Q_SLOTS:
    void RegisterStatusNotifierItem(const QString &service)
    {
        m_items.append(service);
        Q_EMIT StatusNotifierItemRegistered(service);
    }
    void RegisterStatusNotifierHost(const QString &)
    {
    }
Q_SIGNALS:
    void StatusNotifierItemRegistered(const QString &service);
    void StatusNotifierHostRegistered();
};

// The notification server of the desktop (org.freedesktop.Notifications,
// Desktop Notifications Specification), as far as KNotification uses it:
// it records what it is asked to show.
class NotificationServer : public QObject
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "org.freedesktop.Notifications")
public:
    struct Shown {
        QString app;
        QString summary;
        QString body;
    };
    QList<Shown> shown;
public Q_SLOTS:
    uint Notify(const QString &app, uint, const QString &, const QString &summary, const QString &body, const QStringList &, const QVariantMap &, int)
    {
        shown.append({app, summary, body});
        return uint(shown.size());
    }
    QStringList GetCapabilities()
    {
        return {QStringLiteral("body")};
    }
    QString GetServerInformation(QString &vendor, QString &version, QString &specVersion)
    {
        vendor = QStringLiteral("cryopod-test");
        version = QStringLiteral("1");
        specVersion = QStringLiteral("1.2");
        return QStringLiteral("background-test");
    }
    void CloseNotification(uint)
    {
    }
Q_SIGNALS:
    void NotificationClosed(uint id, uint reason);
    void ActionInvoked(uint id, const QString &action);
};

class BackgroundTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_bus;
    QString m_address;
    Watcher m_watcher;
    NotificationServer m_notifications;

    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("CRYOPOD_STORE"), m_dir.filePath(QStringLiteral("store")));
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), m_dir.filePath(QStringLiteral("config")));
        env.insert(QStringLiteral("XDG_DATA_DIRS"), m_dir.filePath(QStringLiteral("data")) + QStringLiteral(":/usr/local/share:/usr/share"));
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("DBUS_SESSION_BUS_ADDRESS"), m_address);
        // no helper: nothing here needs one
        env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), QStringLiteral("unix:path=") + m_dir.filePath(QStringLiteral("no-bus")));
        return env;
    }

private Q_SLOTS:
    void initTestCase()
    {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        m_bus.setProgram(QStringLiteral("dbus-daemon"));
        m_bus.setArguments({QStringLiteral("--session"), QStringLiteral("--nofork"), QStringLiteral("--print-address=1")});
        m_bus.start();
        QVERIFY2(m_bus.waitForStarted(10000), qPrintable(m_bus.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(m_bus.canReadLine(), 10000);
        m_address = QString::fromUtf8(m_bus.readLine()).trimmed();
        QVERIFY(!m_address.isEmpty());
        QDBusConnection bus = QDBusConnection::connectToBus(m_address, QStringLiteral("background-test"));
        QVERIFY(bus.isConnected());
        QVERIFY(bus.registerObject(QStringLiteral("/StatusNotifierWatcher"), &m_watcher, QDBusConnection::ExportAllContents));
        QVERIFY(bus.registerService(QStringLiteral("org.kde.StatusNotifierWatcher")));
        QVERIFY(bus.registerObject(QStringLiteral("/org/freedesktop/Notifications"), &m_notifications, QDBusConnection::ExportAllContents));
        QVERIFY(bus.registerService(QStringLiteral("org.freedesktop.Notifications")));
        // the events of cryopod.notifyrc where an installed one is looked for
        QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("data/knotifications6"))));
        QVERIFY(QFile::copy(QStringLiteral(NOTIFYRC), m_dir.filePath(QStringLiteral("data/knotifications6/cryopod.notifyrc"))));
    }

    void cleanupTestCase()
    {
        m_bus.kill();
        m_bus.waitForFinished(5000);
    }

    void addInstallsTheAutostartEntry()
    {
        QProcess ctl;
        ctl.setProcessEnvironment(environment());
        ctl.start(QStringLiteral(CRYOPODCTL),
                  {QStringLiteral("schedule"), QStringLiteral("add"), QString::number(::getpid()), QStringLiteral("--every"), QStringLiteral("1h")});
        QVERIFY(ctl.waitForFinished(30000));
        const QString out = QString::fromUtf8(ctl.readAllStandardOutput());
        QVERIFY2(ctl.exitCode() == 0, qPrintable(out + QString::fromUtf8(ctl.readAllStandardError())));
        const QString entry = m_dir.filePath(QStringLiteral("config/autostart/io.github.cryopod.background.desktop"));
        QVERIFY2(out.contains(entry), qPrintable(out));
        QFile file(entry);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QVERIFY(text.contains(QLatin1String("\nExec=cryopod --background\n")));
        file.close();
        // a valid desktop entry
        QProcess validate;
        validate.start(QStringLiteral("desktop-file-validate"), {entry});
        if (validate.waitForStarted(5000)) {
            QVERIFY(validate.waitForFinished(10000));
            QVERIFY2(validate.exitCode() == 0, validate.readAllStandardOutput().constData());
        }
        // a second schedule leaves the entry (and a user's edits) alone
        QVERIFY(file.open(QIODevice::Append));
        file.write("X-Edited-By-User=true\n");
        file.close();
        ctl.start(QStringLiteral(CRYOPODCTL),
                  {QStringLiteral("schedule"), QStringLiteral("add"), QString::number(::getpid()), QStringLiteral("--every"), QStringLiteral("2h")});
        QVERIFY(ctl.waitForFinished(30000));
        QCOMPARE(ctl.exitCode(), 0);
        QVERIFY(!QString::fromUtf8(ctl.readAllStandardOutput()).contains(QLatin1String("autostart")));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(file.readAll().contains("X-Edited-By-User=true"));
        file.close();
    }

    void runsSchedulesWithATrayIcon()
    {
        // a schedule due now whose process is gone
        int64_t scheduleId = 0;
        {
            auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
            QVERIFY(store);
            ScheduleStore schedules((*store)->database());
            const auto existing = schedules.list();
            QVERIFY(existing);
            for (const Schedule &s : *existing) {
                QVERIFY(schedules.remove(s.id));
            }
            const auto gone = scheduleOfAGoneProcess("gone", "every 1h");
            QVERIFY(gone);
            const Schedule &s = *gone;
            scheduleId = *schedules.add(s);
        }
        // and one that fails: its process runs, but there is no helper to snapshot it
        const pid_t live = ::fork();
        if (live == 0) {
            ::pause();
            ::_exit(0);
        }
        auto killLive = qScopeGuard([live] {
            ::kill(live, SIGKILL);
            ::waitpid(live, nullptr, 0);
        });
        int64_t failingId = 0;
        {
            auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
            QVERIFY(store);
            Schedule s;
            s.name = "no helper";
            s.target = *ScheduleMatch::processTarget(live);
            s.timing = *ScheduleTiming::parse("every 1m");
            s.createdAtNs = realTimeNs();
            s.nextRunNs = s.createdAtNs - 1;
            failingId = *ScheduleStore((*store)->database()).add(s);
        }
        QProcess runner;
        runner.setProcessEnvironment(environment());
        runner.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        runner.start(QStringLiteral(CRYOPOD_BINARY), {QStringLiteral("--background")});
        QVERIFY(runner.waitForStarted(10000));
        auto stop = qScopeGuard([&] {
            runner.terminate();
            if (!runner.waitForFinished(5000)) {
                runner.kill();
                runner.waitForFinished(5000);
            }
        });

        // the skipped run is on record
        auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
        QVERIFY(store);
        ScheduleStore schedules((*store)->database());
        QTRY_VERIFY_WITH_TIMEOUT(!schedules.runs(scheduleId)->empty(), 30000);
        const ScheduleRun run = schedules.runs(scheduleId)->front();
        QVERIFY(run.outcome == ScheduleRun::Outcome::Skipped);
        QVERIFY2(run.message.starts_with("target gone"), run.message.c_str());
        QVERIFY(schedules.get(scheduleId)->nextRunNs > realTimeNs());

        // the failure: recorded, backed off, notified
        QTRY_VERIFY_WITH_TIMEOUT(!schedules.runs(failingId)->empty(), 30000);
        const ScheduleRun failed = schedules.runs(failingId)->front();
        QVERIFY(failed.outcome == ScheduleRun::Outcome::Failed);
        QVERIFY2(failed.message.find("cryopod-helper") != std::string::npos, failed.message.c_str());
        QCOMPARE(schedules.get(failingId)->failures, 1);
        QVERIFY(schedules.get(failingId)->nextRunNs >= failed.atNs + 60 * int64_t(1000000000));
        QTRY_VERIFY_WITH_TIMEOUT(!m_notifications.shown.isEmpty(), 30000);
        QCOMPARE(m_notifications.shown.first().summary, QStringLiteral("Scheduled snapshot failed"));
        QVERIFY2(m_notifications.shown.first().body.contains(QLatin1String("no helper: ")), qPrintable(m_notifications.shown.first().body));

        // the tray icon, on the session bus
        QDBusConnection bus = QDBusConnection::connectToBus(m_address, QStringLiteral("background-test"));
        QVERIFY(bus.isConnected());
        QString service;
        QTRY_VERIFY_WITH_TIMEOUT(!m_watcher.m_items.isEmpty(), 20000);
        service = m_watcher.m_items.last();
        // (KF6 registers its connection's unique name)
        QCOMPARE(qint64(bus.interface()->servicePid(service).value()), runner.processId());
        auto property = [&](const QString &name) {
            QDBusMessage get = QDBusMessage::createMethodCall(service, QStringLiteral("/StatusNotifierItem"), QStringLiteral("org.freedesktop.DBus.Properties"),
                                                              QStringLiteral("Get"));
            get << QStringLiteral("org.kde.StatusNotifierItem") << name;
            const QDBusMessage reply = bus.call(get, QDBus::Block, 10000);
            return reply.arguments().value(0).value<QDBusVariant>().variant();
        };
        QCOMPARE(property(QStringLiteral("Title")).toString(), QStringLiteral("Cryopod scheduled snapshots"));
        QCOMPARE(property(QStringLiteral("Status")).toString(), QStringLiteral("Active"));
        // ToolTip: (icon name, icon pixmaps a(iiay), title, text)
        const QDBusArgument tip = property(QStringLiteral("ToolTip")).value<QDBusArgument>();
        QString icon;
        QString title;
        QString text;
        tip.beginStructure();
        tip >> icon;
        tip.beginArray();
        while (!tip.atEnd()) {
            int w = 0;
            int h = 0;
            QByteArray data;
            tip.beginStructure();
            tip >> w >> h >> data;
            tip.endStructure();
        }
        tip.endArray();
        tip >> title >> text;
        tip.endStructure();
        QVERIFY2(text.startsWith(QLatin1String("Next snapshot: ")), qPrintable(text));

        // one runner per store
        QProcess second;
        second.setProcessEnvironment(environment());
        second.start(QStringLiteral(CRYOPOD_BINARY), {QStringLiteral("--background")});
        QVERIFY(second.waitForFinished(30000));
        QCOMPARE(second.exitCode(), 1);
        const QString error = QString::fromUtf8(second.readAllStandardError());
        QVERIFY2(error.contains(QStringLiteral("already run by process %1").arg(runner.processId())), qPrintable(error));
        // nor does `cryopodctl schedule run` beside it
        QProcess ctl;
        ctl.setProcessEnvironment(environment());
        ctl.start(QStringLiteral(CRYOPODCTL), {QStringLiteral("schedule"), QStringLiteral("run")});
        QVERIFY(ctl.waitForFinished(30000));
        QCOMPARE(ctl.exitCode(), 1);
        const QString ctlError = QString::fromUtf8(ctl.readAllStandardError());
        QVERIFY2(ctlError.contains(QStringLiteral("already run by process %1").arg(runner.processId())), qPrintable(ctlError));
        QCOMPARE(runner.state(), QProcess::Running);
    }
};

QTEST_GUILESS_MAIN(BackgroundTest)
#include "backgroundtest.moc"
