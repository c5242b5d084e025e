// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// DesktopApps: .desktop files (written to temporary XDG directories) read
// by our reader, and matched to real processes this test starts: by
// executable, by a script's path, by StartupWMClass, through the parent
// (a helper of an app), and the ProcessModel's "only my apps" built on it.

#include "desktopapps.h"
#include "processmodel.h"
#include "processscanner.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

namespace
{
bool writeFile(const QString &path, const QByteArray &text)
{
    QDir().mkpath(QFileInfo(path).path());
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(text) == text.size();
}

// The children of pid, from /proc/PID/task/PID/children.
QList<pid_t> childrenOf(qint64 pid)
{
    QFile file(QStringLiteral("/proc/%1/task/%1/children").arg(pid));
    QList<pid_t> children;
    if (file.open(QIODevice::ReadOnly)) {
        for (const QByteArray &word : file.readAll().split(' ')) {
            if (!word.trimmed().isEmpty()) {
                children.append(pid_t(word.trimmed().toInt()));
            }
        }
    }
    return children;
}
} // namespace

class DesktopAppsTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_home; // XDG_DATA_HOME/applications
    QString m_system; // the first of XDG_DATA_DIRS /applications
    QString m_script;
    QString m_timer; // a copy of timeout under a name no ancestor of this test has
    QList<QProcess *> m_processes;

    QProcess *start(const QString &program, const QStringList &arguments)
    {
        auto *process = new QProcess(this);
        process->start(program, arguments);
        m_processes.append(process);
        if (!process->waitForStarted()) {
            return nullptr;
        }
        // The start is reported once the child has exec'd, but the kernel
        // sets the new program's arguments up a moment later: a reader of
        // /proc/PID/cmdline in between sees none (failed once in CI). Wait
        // for them.
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(process->processId()));
        const bool hasArguments = QTest::qWaitFor(
            [&cmdline] {
                cmdline.close();
                return cmdline.open(QIODevice::ReadOnly) && !cmdline.readAll().isEmpty();
            },
            10000);
        return hasArguments ? process : nullptr;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_home = m_dir.filePath(QStringLiteral("home/applications"));
        m_system = m_dir.filePath(QStringLiteral("system/applications"));
        qputenv("XDG_DATA_HOME", m_dir.filePath(QStringLiteral("home")).toUtf8());
        qputenv("XDG_DATA_DIRS", (m_dir.filePath(QStringLiteral("system")) + QStringLiteral(":/nonexistent")).toUtf8());
        m_script = m_dir.filePath(QStringLiteral("bin/notes-app"));
        QVERIFY(writeFile(m_script, "#!/bin/sh\nread x\n"));
        // The Timer app's program. Not timeout itself: this test may run under
        // timeout (CI does), and an ancestor's app is inherited by its children.
        m_timer = m_dir.filePath(QStringLiteral("bin/cryopod-test-timer"));
        QVERIFY(QFile::copy(QStringLiteral("/usr/bin/timeout"), m_timer));
        QVERIFY(QFile::setPermissions(m_timer, QFile::ReadOwner | QFile::ExeOwner | QFile::ReadUser | QFile::ExeUser));
        qputenv("PATH", (m_dir.filePath(QStringLiteral("bin")) + QLatin1Char(':') + qEnvironmentVariable("PATH")).toUtf8());
        // Apps by executable (a name on $PATH, with env and field codes).
        QVERIFY(writeFile(m_system + QStringLiteral("/org.example.Timer.desktop"),
                          "[Desktop Entry]\nType=Application\nName=Test Timer\nName[de]=Testuhr\nIcon=chronometer\n"
                          "Exec=env LANG=C cryopod-test-timer 60 %U\n\n[Desktop Action new]\nName=Other\nExec=other\n"));
        // A script run by sh: by its path.
        QVERIFY(writeFile(m_system + QStringLiteral("/kde/notes.desktop"),
                          "[Desktop Entry]\nType=Application\nName=Notes\\sApp\nIcon=knotes\nExec=\"" + m_script.toUtf8() + "\" --new\n"));
        // By window class only (its Exec is a program no process runs).
        QVERIFY(writeFile(m_system + QStringLiteral("/org.example.Reader.desktop"),
                          "[Desktop Entry]\nType=Application\nName=Reader\nIcon=reader\nExec=/opt/none/reader\nStartupWMClass=Cat\n"));
        // Overridden by the user's copy of the same id: the home one wins.
        QVERIFY(writeFile(m_home + QStringLiteral("/org.example.Shadowed.desktop"), "[Desktop Entry]\nType=Application\nName=Mine\nExec=mine\n"));
        QVERIFY(writeFile(m_system + QStringLiteral("/org.example.Shadowed.desktop"), "[Desktop Entry]\nType=Application\nName=Theirs\nExec=theirs\n"));
        // Not applications: skipped.
        QVERIFY(writeFile(m_system + QStringLiteral("/link.desktop"), "[Desktop Entry]\nType=Link\nName=A link\nURL=https://example.org\n"));
        QVERIFY(writeFile(m_system + QStringLiteral("/hidden.desktop"), "[Desktop Entry]\nType=Application\nName=Gone\nExec=gone\nHidden=true\n"));
        QVERIFY(writeFile(m_system + QStringLiteral("/shell.desktop"), "[Desktop Entry]\nType=Application\nName=A Shell\nExec=sh\n"));
    }

    void cleanupTestCase()
    {
        for (QProcess *process : std::as_const(m_processes)) {
            process->kill();
            process->waitForFinished();
        }
    }

    void parsesEntries()
    {
        const auto timer = DesktopApps::parseEntry("# comment\n[Desktop Entry]\nType=Application\nName=Timer\nName[de]=Uhr\nName[de_AT]=Wecker\n"
                                                   "Icon=chronometer\nExec=env A=1 -u B /usr/bin/timer --go %f\nTryExec=timer\n"
                                                   "StartupWMClass=TimerWin\nX-Flatpak=org.example.Timer\n[Desktop Action x]\nName=X\n",
                                                   QStringLiteral("org.example.Timer"), QStringLiteral("de_DE"));
        QVERIFY(timer);
        QCOMPARE(timer->id, QStringLiteral("org.example.Timer"));
        QCOMPARE(timer->name, QStringLiteral("Uhr")); // de_DE: falls back to de
        QCOMPARE(timer->icon, QStringLiteral("chronometer"));
        QCOMPARE(timer->program, QStringLiteral("/usr/bin/timer"));
        QCOMPARE(timer->tryExec, QStringLiteral("timer"));
        QCOMPARE(timer->wmClass, QStringLiteral("TimerWin"));
        QCOMPARE(timer->flatpakId, QStringLiteral("org.example.Timer"));
        const auto austrian =
            DesktopApps::parseEntry("[Desktop Entry]\nType=Application\nName=Timer\nName[de]=Uhr\nName[de_AT]=Wecker\nExec=t\n", {}, QStringLiteral("de_AT"));
        QCOMPARE(austrian->name, QStringLiteral("Wecker"));
        const auto english = DesktopApps::parseEntry("[Desktop Entry]\nType=Application\nName=Timer\nName[de]=Uhr\nExec=t\n", {}, QStringLiteral("en_US"));
        QCOMPARE(english->name, QStringLiteral("Timer"));
        const auto quoted = DesktopApps::parseEntry("[Desktop Entry]\nType=Application\nName=A\\sB\nExec=\"/opt/my app/run\" %u\n", {}, QStringLiteral("C"));
        QCOMPARE(quoted->name, QStringLiteral("A B"));
        QCOMPARE(quoted->program, QStringLiteral("/opt/my app/run"));
        QVERIFY(!DesktopApps::parseEntry("[Desktop Entry]\nType=Link\nName=L\n", {}, {}));
        QVERIFY(!DesktopApps::parseEntry("[Desktop Entry]\nType=Application\nName=H\nExec=h\nHidden=true\n", {}, {}));
        QVERIFY(!DesktopApps::parseEntry("[Desktop Entry]\nType=Application\nExec=nameless\n", {}, {}));
        QVERIFY(!DesktopApps::parseEntry("[Other]\nType=Application\nName=N\nExec=n\n", {}, {}));
        // A Flatpak export has no program of its own to match but its id.
        const auto flatpak = DesktopApps::parseEntry("[Desktop Entry]\nType=Application\nName=F\nX-Flatpak=org.f.F\n", {}, {});
        QVERIFY(flatpak);
        QCOMPARE(flatpak->flatpakId, QStringLiteral("org.f.F"));
    }

    void loadsTheXdgDirectories()
    {
        QCOMPARE(DesktopApps::applicationDirs(), (QStringList {m_home, m_system, QStringLiteral("/nonexistent/applications")}));
        DesktopApps apps;
        apps.loadDefault();
        QStringList ids;
        for (const DesktopApps::App &app : apps.apps()) {
            ids.append(app.id);
            if (app.id == QLatin1String("org.example.Shadowed")) {
                QCOMPARE(app.name, QStringLiteral("Mine"));
            }
        }
        ids.sort();
        QCOMPARE(ids,
                 (QStringList {QStringLiteral("kde-notes"), QStringLiteral("org.example.Reader"), QStringLiteral("org.example.Shadowed"),
                               QStringLiteral("org.example.Timer"), QStringLiteral("shell")}));
    }

    void matchesRealProcesses()
    {
        DesktopApps apps;
        apps.load({m_home, m_system}, QStringLiteral("C"));
        // The timer (an app by its executable) runs sleep (its helper).
        QProcess *timer = start(m_timer, {QStringLiteral("60"), QStringLiteral("sleep"), QStringLiteral("61")});
        QVERIFY(timer);
        QList<pid_t> children;
        QTRY_VERIFY((children = childrenOf(timer->processId())).size() == 1);
        const pid_t helper = children.first();
        QProcess *notes = start(QStringLiteral("sh"), {QStringLiteral("-c"), QStringLiteral("read x"), m_script});
        QVERIFY(notes);
        QProcess *notesScript = start(QStringLiteral("sh"), {m_script});
        QVERIFY(notesScript);
        QProcess *reader = start(QStringLiteral("cat"), {});
        QVERIFY(reader);

        ProcessSnapshot snapshot = ProcessScanner::scan();
        auto find = [&](qint64 pid) -> const ProcessInfo * {
            for (const ProcessInfo &p : std::as_const(snapshot.processes)) {
                if (p.pid == pid) {
                    return &p;
                }
            }
            return nullptr;
        };
        const ProcessInfo *timerInfo = find(timer->processId());
        QVERIFY(timerInfo);
        const DesktopApps::App *app = apps.match(*timerInfo);
        QVERIFY(app);
        QCOMPARE(app->id, QStringLiteral("org.example.Timer"));
        // The window class: cat's name is "cat", the class "Cat".
        const ProcessInfo *readerInfo = find(reader->processId());
        QVERIFY(readerInfo);
        QVERIFY(apps.match(*readerInfo));
        QCOMPARE(apps.match(*readerInfo)->id, QStringLiteral("org.example.Reader"));
        // "sh -c CMD": sh is no app; its own process is not the script's.
        const ProcessInfo *shInfo = find(notes->processId());
        QVERIFY(shInfo);
        QVERIFY(!apps.match(*shInfo));
        // This test itself matches nothing.
        QVERIFY(!apps.match(*find(::getpid())));

        apps.annotate(snapshot.processes);
        timerInfo = find(timer->processId());
        QCOMPARE(timerInfo->appId, QStringLiteral("org.example.Timer"));
        QCOMPARE(timerInfo->appName, QStringLiteral("Test Timer"));
        QCOMPARE(timerInfo->appIcon, QStringLiteral("chronometer"));
        QVERIFY(timerInfo->appOwn);
        // The helper belongs to its parent's app.
        const ProcessInfo *helperInfo = find(helper);
        QVERIFY(helperInfo);
        QCOMPARE(helperInfo->appId, QStringLiteral("org.example.Timer"));
        QVERIFY(!helperInfo->appOwn);
        // The script (sh SCRIPT) is the Notes app, by its path.
        const ProcessInfo *scriptInfo = find(notesScript->processId());
        QVERIFY(scriptInfo);
        QCOMPARE(scriptInfo->appId, QStringLiteral("kde-notes"));
        QCOMPARE(scriptInfo->appName, QStringLiteral("Notes App"));
        QVERIFY(scriptInfo->appOwn);
        QCOMPARE(find(::getpid())->appId, QString());
    }

    void scriptByPath()
    {
        // An interpreter's first argument names the program: as sh sees it.
        DesktopApps apps;
        apps.load({m_system}, QStringLiteral("C"));
        QProcess *script = start(QStringLiteral("sh"), {m_script});
        QVERIFY(script);
        const auto info = ProcessScanner::readProcess(pid_t(script->processId()));
        QVERIFY(info);
        QCOMPARE(info->arguments.value(1), m_script);
        QVERIFY(apps.match(*info));
        QCOMPARE(apps.match(*info)->id, QStringLiteral("kde-notes"));
    }

    void flatpakAppById()
    {
        DesktopApps apps;
        const QString dir = m_dir.filePath(QStringLiteral("flatpak/applications"));
        QVERIFY(writeFile(dir + QStringLiteral("/org.f.Editor.desktop"),
                          "[Desktop Entry]\nType=Application\nName=Editor\nIcon=org.f.Editor\nExec=/usr/bin/flatpak run --branch=stable org.f.Editor\n"
                          "X-Flatpak=org.f.Editor\n"));
        apps.load({dir}, QStringLiteral("C"));
        // What the scanner reads from a Flatpak's cgroup (app-flatpak-org.f.Editor-1234.scope).
        const auto self = ProcessScanner::readProcess(::getpid());
        QVERIFY(self);
        ProcessInfo inSandbox = *self;
        QVERIFY(!apps.match(inSandbox));
        inSandbox.flatpakAppId = QStringLiteral("org.f.Editor");
        QVERIFY(apps.match(inSandbox));
        QCOMPARE(apps.match(inSandbox)->name, QStringLiteral("Editor"));
        // "flatpak" itself is a launcher: a flatpak process is no Editor.
        ProcessInfo launcher = *self;
        launcher.executable = QStringLiteral("/usr/bin/flatpak");
        launcher.arguments = {QStringLiteral("/usr/bin/flatpak"), QStringLiteral("run"), QStringLiteral("org.f.Editor")};
        QVERIFY(!apps.match(launcher));
    }

    void onlyMyApps()
    {
        QProcess *timer = start(m_timer, {QStringLiteral("60"), QStringLiteral("sleep"), QStringLiteral("63")});
        QVERIFY(timer);
        QTRY_VERIFY(childrenOf(timer->processId()).size() == 1);
        const pid_t helper = childrenOf(timer->processId()).first();
        // The model's scanner reads the XDG directories set above.
        ProcessModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCheckpointReports(false);
        model.setShowOnlyMine(true);
        model.setShowOnlyApps(true);
        QSignalSpy refreshed(&model, &ProcessModel::refreshed);
        model.refresh();
        QVERIFY(refreshed.wait(30000));
        const QModelIndex timerRow = model.indexForPid(int(timer->processId()));
        QVERIFY(timerRow.isValid());
        QCOMPARE(timerRow.data(Qt::DisplayRole).toString(), QStringLiteral("Test Timer"));
        QCOMPARE(timerRow.data(ProcessModel::NameRole).toString(), QStringLiteral("cryopod-test-ti"));
        QCOMPARE(timerRow.data(ProcessModel::IconNameRole).toString(), QStringLiteral("chronometer"));
        QCOMPARE(timerRow.data(ProcessModel::AppNameRole).toString(), QStringLiteral("Test Timer"));
        const QModelIndex helperRow = model.indexForPid(helper);
        QVERIFY(helperRow.isValid());
        QCOMPARE(helperRow.data(Qt::DisplayRole).toString(), QStringLiteral("sleep")); // its own name, the app's icon
        QCOMPARE(helperRow.data(ProcessModel::IconNameRole).toString(), QStringLiteral("chronometer"));
        // Not an app: this test, and its parent.
        QVERIFY(!model.indexForPid(::getpid()).isValid());
        const int apps = model.processCount();
        // Every row belongs to an app.
        std::function<void(const QModelIndex &)> check = [&](const QModelIndex &parent) {
            for (int row = 0; row < model.rowCount(parent); ++row) {
                const QModelIndex index = model.index(row, 0, parent);
                QVERIFY(!index.data(ProcessModel::AppIdRole).toString().isEmpty());
                check(index);
            }
        };
        check({});
        // Back to all own processes: more, this test among them.
        model.setShowOnlyApps(false);
        QVERIFY(model.indexForPid(::getpid()).isValid());
        QVERIFY(model.processCount() > apps);
    }
};

QTEST_GUILESS_MAIN(DesktopAppsTest)
#include "desktopappstest.moc"
