// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The snapshot flow through the real window, the real helper and the real
// engine: start a workload (wl_heap) -> find it in the tree -> Snapshot ->
// the timeline shows the snapshot -> kill the workload -> Restore -> the
// workload continues with its pid and finishes correctly (its own checks of
// its heap pass). A second Restore while it runs fails, and the helper's
// message is shown inline. Runs inside `scripts/run --no-build --exec`,
// which provides the private system bus, polkitd and a bus-activated
// cryopod-helper from the build (DBUS_SYSTEM_BUS_ADDRESS). The store is a
// temporary one ($CRYOPOD_STORE). Screenshots go to <build>/screenshots/.

#include "../backend/testprocesses.h"
#include "guitestsupport.h"
#include "snapshotactions.h"

#include <QFile>
#include <QPointer>
#include <QProcess>
#include <QTemporaryDir>

#include <csignal>

using namespace GuiTest;

namespace
{
QString readText(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()).trimmed() : QString();
}

bool alive(qint64 pid)
{
    return ::kill(pid_t(pid), 0) == 0;
}
} // namespace

class SnapshotFlowTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_stateDir;
    QProcess m_workload;
    qint64 m_pid = 0;
    qint64 m_restoredPid = 0;
    qint64 m_snapshotId = 0;
    qint64 m_targetId = 0;
    QQmlApplicationEngine *m_engine = nullptr;
    QQuickWindow *m_window = nullptr;
    QPointer<SnapshotActions> m_actions;

    template<typename T = QObject>
    T *find(const char *objectName) const
    {
        return m_window->findChild<T *>(QString::fromLatin1(objectName));
    }

    QObject *page(const char *objectName) const
    {
        auto *pageStack = m_window->property("pageStack").value<QObject *>();
        auto *layers = pageStack ? pageStack->property("layers").value<QObject *>() : nullptr;
        QObject *current = layers ? layers->property("currentItem").value<QObject *>() : nullptr;
        return current && current->objectName() == QLatin1String(objectName) ? current : nullptr;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!qEnvironmentVariableIsEmpty("DBUS_SYSTEM_BUS_ADDRESS"), "run through scripts/run --no-build --exec (private system bus with the helper)");
        QVERIFY(m_dir.isValid());
        TestProcesses::becomeSubreaper();
        installWarningCollector();
        qputenv("CRYOPOD_STORE", m_dir.filePath(QStringLiteral("store")).toLocal8Bit());

        // The workload, under the contract of tests/workloads/README.md.
        m_stateDir = m_dir.filePath(QStringLiteral("state"));
        QVERIFY(QDir().mkpath(m_stateDir));
        m_workload.setWorkingDirectory(m_stateDir);
        m_workload.setStandardInputFile(QProcess::nullDevice());
        m_workload.setStandardOutputFile(QProcess::nullDevice());
        m_workload.setStandardErrorFile(QProcess::nullDevice());
        m_workload.setUnixProcessParameters(QProcess::UnixProcessFlag::CloseFileDescriptors | QProcess::UnixProcessFlag::ResetSignalHandlers);
        m_workload.start(QStringLiteral(WL_HEAP), {m_stateDir});
        QVERIFY(m_workload.waitForStarted(kTimeout));
        m_pid = m_workload.processId();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(m_stateDir + QStringLiteral("/ready")), kTimeout);
        QCOMPARE(readText(m_stateDir + QStringLiteral("/ready")).toLongLong(), m_pid);

        m_engine = new QQmlApplicationEngine(this);
        m_window = loadMainWindow(*m_engine);
        QVERIFY(m_window);
        m_actions = find<SnapshotActions>("snapshotActions");
        QVERIFY(m_actions);
        auto *model = find("processModel");
        QVERIFY(model);
        QTRY_VERIFY_WITH_TIMEOUT(!model->property("loading").toBool(), kTimeout);
    }

    void cleanupTestCase()
    {
        delete m_engine;
        m_engine = nullptr;
        if (m_restoredPid > 0 && alive(m_restoredPid)) {
            ::kill(pid_t(m_restoredPid), SIGKILL);
        }
        if (m_workload.state() != QProcess::NotRunning) {
            m_workload.kill();
            m_workload.waitForFinished(kTimeout);
        }
        removeWarningCollector();
    }

    void testSnapshotFromTheProcessesPage()
    {
        // Find the workload and select its row.
        find("searchField")->setProperty("text", QStringLiteral("wl_heap"));
        auto *tree = find<QQuickItem>("processTree");
        QVERIFY(tree);
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(tree, QString::number(m_pid), windowRect(m_window)).isEmpty(), kTimeout);
        // No scan between press and release (see processespagetest).
        auto *model = find("processModel");
        model->setProperty("refreshInterval", 0);
        QSignalSpy refreshed(model, SIGNAL(refreshed()));
        QMetaObject::invokeMethod(model, "refresh");
        QVERIFY(refreshed.wait(kTimeout));
        QVERIFY(waitForFrame(m_window));
        QTRY_VERIFY_WITH_TIMEOUT(viewAtRest(tree), kTimeout);
        QMetaObject::invokeMethod(tree, "forceLayout");
        const QList<QQuickItem *> labels = visibleTextItems(tree, QString::number(m_pid), windowRect(m_window));
        QVERIFY(!labels.isEmpty());
        click(m_window, labels.constFirst());
        auto *processesPage = m_window->findChild<QObject *>(QStringLiteral("processesPage"));
        QVERIFY(processesPage);
        QTRY_COMPARE_WITH_TIMEOUT(processesPage->property("selectedPid").toLongLong(), m_pid, kTimeout);
        movePointerAway(m_window);
        model->setProperty("refreshInterval", 2000);

        // Snapshot, with a label, from the dialog.
        auto *snapshotAction = find("snapshotAction");
        QVERIFY(snapshotAction && snapshotAction->property("enabled").toBool());
        QMetaObject::invokeMethod(snapshotAction, "trigger");
        auto *dialog = find("snapshotDialog");
        QVERIFY(dialog);
        QTRY_VERIFY_WITH_TIMEOUT(dialog->property("opened").toBool(), kTimeout);
        find("snapshotLabelField")->setProperty("text", QStringLiteral("before the test"));
        QSignalSpy taken(m_actions.data(), &SnapshotActions::snapshotTaken);
        QSignalSpy busy(m_actions.data(), &SnapshotActions::busyChanged);
        QMetaObject::invokeMethod(find("takeSnapshotAction"), "trigger");
        QVERIFY(m_actions->isBusy()); // on a worker thread: the window goes on
        QVERIFY(find("snapshotBusyMessage")->property("visible").toBool());
        QVERIFY2(taken.wait(5 * kTimeout), qPrintable(m_actions->errorString()));
        QVERIFY(!m_actions->isBusy());
        QCOMPARE(busy.count(), 2);
        m_snapshotId = taken.at(0).at(0).toLongLong();
        m_targetId = taken.at(0).at(1).toLongLong();
        QVERIFY(m_snapshotId > 0 && m_targetId > 0);
        // It keeps running: neither stopped nor frozen.
        QVERIFY(alive(m_pid));
        const QString state = readText(QStringLiteral("/proc/%1/stat").arg(m_pid)).section(QLatin1Char(')'), -1).trimmed().left(1);
        QVERIFY2(state == QLatin1String("S") || state == QLatin1String("R"),
                 qPrintable(state + QLatin1Char(' ') + readText(QStringLiteral("/proc/%1/cgroup").arg(m_pid))));
        auto *takenMessage = find<QQuickItem>("snapshotTakenMessage");
        QTRY_VERIFY_WITH_TIMEOUT(messageShown(takenMessage), kTimeout);
        QCOMPARE(takenMessage->property("text").toString(), QStringLiteral("Snapshot %1 taken.").arg(m_snapshotId));
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("snapshot-taken.png")));
    }

    void testTimelineShowsTheSnapshot()
    {
        QVERIFY(m_snapshotId > 0);
        QMetaObject::invokeMethod(find("openTakenTimelineAction"), "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(page("timelinePage"), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        QObject *timeline = page("timelinePage");
        QCOMPARE(timeline->property("targetId").toLongLong(), m_targetId);
        QCOMPARE(timeline->property("title").toString(), QStringLiteral("Timeline of wl_heap"));
        auto *list = timeline->findChild<QObject *>(QStringLiteral("timelineList"));
        QVERIFY(list);
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 1, kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(findItem(m_window->contentItem(), QStringLiteral("restoreButton")), kTimeout);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("timeline.png")));
    }

    void testTimelineOfTheSelectedProcess()
    {
        // Back on the Processes page, the selected row's Timeline action
        // finds the process's target in the store.
        QVERIFY(m_targetId > 0);
        QMetaObject::invokeMethod(find("processesAction"), "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window) && !page("timelinePage"), kTimeout);
        auto *timelineAction = find("timelineAction");
        QVERIFY(timelineAction && timelineAction->property("enabled").toBool());
        QMetaObject::invokeMethod(timelineAction, "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(page("timelinePage"), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        QCOMPARE(page("timelinePage")->property("targetId").toLongLong(), m_targetId);
        auto *list = page("timelinePage")->findChild<QObject *>(QStringLiteral("timelineList"));
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 1, kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(findItem(m_window->contentItem(), QStringLiteral("restoreButton")), kTimeout);
        QVERIFY(waitForFrame(m_window));
    }

    void testRestoreAfterKill()
    {
        QVERIFY(m_snapshotId > 0);
        m_workload.kill();
        QVERIFY2(m_workload.waitForFinished(kTimeout),
                 qPrintable(QStringLiteral("still there after SIGKILL: %1").arg(readText(QStringLiteral("/proc/%1/status").arg(m_pid)).left(400))));
        QTRY_VERIFY_WITH_TIMEOUT(!alive(m_pid), kTimeout);

        auto *restore = findItem(m_window->contentItem(), QStringLiteral("restoreButton"));
        QVERIFY(restore && restore->isEnabled());
        QSignalSpy restored(m_actions.data(), &SnapshotActions::restored);
        click(m_window, restore);
        movePointerAway(m_window);
        QVERIFY2(restored.wait(5 * kTimeout), qPrintable(m_actions->errorString()));
        m_restoredPid = restored.at(0).at(1).toLongLong();
        QCOMPARE(m_restoredPid, m_pid); // the same pid
        QVERIFY(alive(m_restoredPid));
        QTRY_VERIFY_WITH_TIMEOUT(messageShown(find<QQuickItem>("timelineRestoredMessage")), kTimeout);

        // A second restore while it runs: its pid is taken, and the helper's
        // message is shown inline.
        QSignalSpy failed(m_actions.data(), &SnapshotActions::failed);
        click(m_window, restore);
        movePointerAway(m_window);
        QVERIFY(failed.wait(5 * kTimeout));
        const QString error = m_actions->errorString();
        QVERIFY2(error.contains(QLatin1String("cryopod-helper")), qPrintable(error));
        auto *message = find<QQuickItem>("timelineErrorMessage");
        QTRY_VERIFY_WITH_TIMEOUT(messageShown(message), kTimeout);
        QCOMPARE(message->property("text").toString(), error);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("timeline-restore-error.png")));

        // The restored workload checks its heap and finishes: all there.
        QFile go(m_stateDir + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(m_stateDir + QStringLiteral("/result")), kTimeout);
        QCOMPARE(readText(m_stateDir + QStringLiteral("/result")), QStringLiteral("ok"));
    }

    void testNoQmlWarnings()
    {
        QVERIFY2(qmlWarnings().isEmpty(), qPrintable(qmlWarnings().join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    return runGuiTest<SnapshotFlowTest>(argc, argv);
}

#include "snapshotflowtest.moc"
