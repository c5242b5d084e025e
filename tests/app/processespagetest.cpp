// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The real window, loaded from the io.github.cryopod module as the cryopod
// executable loads it, on a private Xvfb: it lists a process this test
// started, search finds it, the tree view shows each process once while
// processes come and go, and QML reports no warnings. Screenshots go to
// <build>/screenshots/ as test artifacts. It runs on loaded machines: no
// fixed sleeps, every wait is for a condition, with a generous timeout.

#include "../backend/testprocesses.h"
#include "guitestsupport.h"
#include "processmodel.h"

#include <QIcon>
#include <QImage>
#include <QItemSelectionModel>
#include <QPointer>
#include <QSet>

#include <sys/prctl.h>

using namespace TestProcesses;
using namespace GuiTest;

namespace
{
int treeDepth(QObject *tree, int row)
{
    int depth = -1;
    QMetaObject::invokeMethod(tree, "depth", Q_RETURN_ARG(int, depth), Q_ARG(int, row));
    return depth;
}
} // namespace

class ProcessesPageTest : public WindowTest
{
    Q_OBJECT

    QPointer<QObject> m_model;
    QPointer<QObject> m_tree;

    QQuickItem *treeItem() const
    {
        return qobject_cast<QQuickItem *>(m_tree.data());
    }

    // The toolbar recreates the search field when pages change.
    QObject *searchField() const
    {
        return m_window->findChild<QObject *>(QStringLiteral("searchField"));
    }
    pid_t m_probe = -1;
    QString m_probeName;

    void saveScreenshot(const QString &name)
    {
        QVERIFY(GuiTest::saveScreenshot(m_window, name));
    }

    void waitForFrame()
    {
        QVERIFY(GuiTest::waitForFrame(m_window));
    }

    // One more scan of /proc applied (requested now; a timer's may come first).
    void waitForRefresh()
    {
        QSignalSpy refreshed(m_model, SIGNAL(refreshed()));
        QMetaObject::invokeMethod(m_model, "refresh");
        QVERIFY(refreshed.wait(kTimeout));
    }

    bool layersIdle() const
    {
        return GuiTest::layersIdle(m_window);
    }

    // The tree view's rows: each process at most once, each below its parent.
    void verifyViewRows()
    {
        // The view applies model changes once per frame: catch up first.
        QMetaObject::invokeMethod(m_tree, "forceLayout");
        const int rows = m_tree->property("rows").toInt();
        QVERIFY(rows > 0);
        QSet<int> pids;
        QList<int> pathPids; // pids of the last row seen at each depth
        for (int row = 0; row < rows; ++row) {
            const QModelIndex index = treeIndex(m_tree, row);
            QVERIFY2(index.isValid(), qPrintable(QStringLiteral("row %1 has no index").arg(row)));
            const int pid = index.data(ProcessModel::PidRole).toInt();
            QVERIFY2(!pids.contains(pid), qPrintable(QStringLiteral("pid %1 shown twice (row %2)").arg(pid).arg(row)));
            pids.insert(pid);
            const int depth = treeDepth(m_tree, row);
            QVERIFY(depth >= 0 && depth <= pathPids.size());
            if (depth > 0) {
                QCOMPARE(index.data(ProcessModel::ParentPidRole).toInt(), pathPids.at(depth - 1));
            }
            pathPids.resize(depth);
            pathPids.append(pid);
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(startFixture(false));
        // Named after this test process: another run of this test beside it
        // has its own probe (at most 15 bytes: the kernel's comm).
        m_probeName = QStringLiteral("cptgui-%1").arg(::getpid());
        m_probe = forkNamed(m_probeName.toLatin1().constData());
        QVERIFY(m_probe > 0);

        // Breeze icons are there (qt6-svg-plugins renders them).
        QVERIFY2(!QIcon::fromTheme(QStringLiteral("system-run")).isNull(), "no Breeze icons: is qt6-svg-plugins installed?");

        QVERIFY(openWindow());

        m_model = m_window->findChild<QObject *>(QStringLiteral("processModel"));
        m_tree = m_window->findChild<QObject *>(QStringLiteral("processTree"));
        QVERIFY(m_model && m_tree && searchField());
        QTRY_VERIFY_WITH_TIMEOUT(!m_model->property("loading").toBool(), kTimeout);
    }

    void cleanupTestCase()
    {
        closeWindow();
        killAndReap(m_probe);
        endFixture();
    }

    void testWindow()
    {
        QCOMPARE(m_window->title(), QStringLiteral("Cryopod"));
        // The header shows the column titles.
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        for (const char *title : {"Name", "PID", "User", "CPU", "Memory"}) {
            QVERIFY2(!visibleTextItems(m_window->contentItem(), QString::fromLatin1(title), windowRect).isEmpty(), title);
        }
        QVERIFY(!visibleTextItems(m_window->contentItem(), QStringLiteral("Processes"), windowRect).isEmpty());
        // Own processes by default: ours are root's, so the probe is there.
        QVERIFY(m_model->property("showOnlyMine").toBool());
        QTRY_VERIFY_WITH_TIMEOUT(m_tree->property("rows").toInt() > 3, kTimeout);
        verifyViewRows();
        // The first CPU values come with the second scan.
        waitForRefresh();
        waitForFrame();
        saveScreenshot(QStringLiteral("processes.png"));
    }

    void testSearchShowsProbe()
    {
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        searchField()->setProperty("text", m_probeName);
        // The probe's row, and only the rows of it and its ancestors.
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(treeItem(), m_probeName, windowRect).isEmpty(), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(treeItem(), QString::number(m_probe), windowRect).isEmpty(), kTimeout);
        waitForFrame();
        QVERIFY(!visibleTextItems(treeItem(), QString::number(::getpid()), windowRect).isEmpty());
        const int rows = m_tree->property("rows").toInt();
        QVERIFY(rows >= 2);
        const QModelIndex last = treeIndex(m_tree, rows - 1);
        QCOMPARE(last.data(ProcessModel::PidRole).toInt(), m_probe);
        verifyViewRows();
        saveScreenshot(QStringLiteral("processes-search.png"));

        // Nothing matches: the placeholder says so.
        searchField()->setProperty("text", QStringLiteral("no-such-process-xyz"));
        QTRY_COMPARE_WITH_TIMEOUT(m_tree->property("rows").toInt(), 0, kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(m_window->contentItem(), QStringLiteral("No processes match “no-such-process-xyz”"), windowRect).isEmpty(),
                                 kTimeout);
        searchField()->setProperty("text", QString());
        QTRY_VERIFY_WITH_TIMEOUT(m_tree->property("rows").toInt() > rows, kTimeout);
    }

    void testSelectionSurvivesRefresh()
    {
        // Show only the probe's branch, click its row.
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        searchField()->setProperty("text", m_probeName);
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(treeItem(), m_probeName, windowRect).isEmpty(), kTimeout);
        // No scan may land between the press and the release (the row would
        // move under the pointer): automatic refreshes off until the row is
        // selected, one in flight applied first. Then the search's expansion
        // (queued) has run and the view is laid out: the label is where the
        // click goes.
        m_model->setProperty("refreshInterval", 0);
        // Verdicts for the badges keep arriving meanwhile (reports on): they
        // change the badges' cells only, never the rows' layout
        // (ProcessModel::reportUpdated), so the click lands.
        QCOMPARE(m_model->property("checkpointReports").toBool(), true);
        waitForRefresh();
        waitForFrame();
        QTRY_VERIFY_WITH_TIMEOUT(viewAtRest(m_tree), kTimeout); // the shrunken content settles
        auto *selection = m_tree->property("selectionModel").value<QItemSelectionModel *>();
        QVERIFY(selection);
        // One click on the probe's label (GuiTest::selectTreeRow: clicked
        // again when a click lands while the delegates are being rebuilt).
        const QString failure = selectTreeRow(m_window, treeItem(), m_probeName, m_probe, [selection] {
            return selection->hasSelection();
        });
        QVERIFY2(failure.isEmpty(), qPrintable(failure + QStringLiteral("; current index valid: %1").arg(selection->currentIndex().isValid())));
        auto selectedPid = [selection] {
            const QModelIndexList rows = selection->selectedRows();
            return rows.size() == 1 ? rows.constFirst().data(ProcessModel::PidRole).toInt() : -1;
        };
        QCOMPARE(selectedPid(), m_probe);
        movePointerAway(m_window);
        m_model->setProperty("refreshInterval", 2000);

        // Refreshes (rows changed, others inserted and removed around it) keep it.
        searchField()->setProperty("text", QString());
        waitForRefresh();
        waitForRefresh();
        QCOMPARE(selectedPid(), m_probe);
        selection->clear();
    }

    void testActionIcons()
    {
        // Cryopod's own action icons are found by name (from the resources
        // here; installed, from hicolor) and are valid SVG.
        for (const char *name : {"cryopod-snapshot", "cryopod-freeze", "cryopod-thaw", "cryopod-restore"}) {
            const QIcon icon = QIcon::fromTheme(QString::fromLatin1(name));
            QVERIFY2(!icon.isNull(), name);
            QVERIFY2(!icon.pixmap(32, 32).isNull(), name);
            QImage image(QStringLiteral(":/icons/actions/%1.svg").arg(QString::fromLatin1(name)));
            QVERIFY2(!image.isNull(), name);
        }
    }

    void testAboutPage()
    {
        auto *about = m_window->findChild<QObject *>(QStringLiteral("aboutAction"));
        auto *processes = m_window->findChild<QObject *>(QStringLiteral("processesAction"));
        QVERIFY(about && processes);
        QMetaObject::invokeMethod(about, "trigger");
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        QTRY_VERIFY_WITH_TIMEOUT(
            !visibleTextItems(m_window->contentItem(), QStringLiteral("Snapshot running programs and bring them back exactly where they were"), windowRect)
                 .isEmpty(),
            kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(), kTimeout); // the layer's transition
        waitForFrame();
        saveScreenshot(QStringLiteral("about.png"));
        QMetaObject::invokeMethod(processes, "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(m_window->contentItem(), QStringLiteral("PID"), windowRect).isEmpty(), kTimeout);
        // The same page and model as before, not a new one.
        QVERIFY(!m_model.isNull() && !m_tree.isNull());
        QCOMPARE(m_window->findChild<QObject *>(QStringLiteral("processModel")), m_model.data());
        QTRY_VERIFY_WITH_TIMEOUT(m_tree->property("rows").toInt() > 3, kTimeout);
    }

    void testViewFollowsChurn()
    {
        // Processes appear, exit and are re-parented while the page refreshes
        // four times a second: after each refresh the view's rows are a
        // faithful tree.
        const pid_t self = ::getpid();
        const pid_t churner = ::fork();
        if (churner == 0) {
            dieWithParent(self);
            ::prctl(PR_SET_NAME, "cpt-churner");
            for (unsigned i = 0;; ++i) {
                if (::fork() == 0) {
                    if (::fork() == 0) {
                        ::usleep(30000 + (i % 5) * 40000);
                        ::_exit(0);
                    }
                    ::usleep((i % 3) * 30000);
                    ::_exit(0);
                }
                ::usleep(20000);
                while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
            }
        }
        QVERIFY(churner > 0);
        m_model->setProperty("refreshInterval", 250);
        QSignalSpy refreshed(m_model, SIGNAL(refreshed()));
        for (int i = 0; i < 16; ++i) {
            QVERIFY(refreshed.wait(kTimeout));
            while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
            verifyViewRows();
            // Also through a search, and while switching owners.
            if (i == 4) {
                searchField()->setProperty("text", QStringLiteral("cpt-"));
            } else if (i == 8) {
                searchField()->setProperty("text", QString());
                m_model->setProperty("showOnlyMine", false);
            } else if (i == 12) {
                m_model->setProperty("showOnlyMine", true);
            }
        }
        killAndReap(churner);
        m_model->setProperty("refreshInterval", 2000);
        QVERIFY(m_model->property("showOnlyMine").toBool());
    }

    void testNoQmlWarnings()
    {
        QVERIFY2(qmlWarnings().isEmpty(), qPrintable(qmlWarnings().join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    return runGuiTest<ProcessesPageTest>(argc, argv);
}

#include "processespagetest.moc"
