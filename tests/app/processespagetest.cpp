// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The real window, loaded from the io.github.cryopod module as the cryopod
// executable loads it, on a private Xvfb: it lists a process this test
// started, search finds it, the tree view shows each process once while
// processes come and go, and QML reports no warnings. Screenshots go to
// <build>/screenshots/ as test artifacts.

#include "../backend/testprocesses.h"
#include "application.h"
#include "processmodel.h"
#include "xvfbserver.h"

#include <QApplication>
#include <QCursor>
#include <QDir>
#include <QIcon>
#include <QItemSelectionModel>
#include <QPointer>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QScreen>
#include <QSet>
#include <QSignalSpy>
#include <QTest>

#include <sys/prctl.h>

using namespace TestProcesses;

namespace
{
QStringList g_qmlWarnings;
QtMessageHandler g_previousHandler = nullptr;

void collectWarnings(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    // Warnings from our module's QML (not from Kirigami's or Qt's own files).
    const bool fromQml = (context.file && QByteArray(context.file).contains("io/github/cryopod/")) || message.contains(QLatin1String("io/github/cryopod/"));
    if (type != QtDebugMsg && type != QtInfoMsg && fromQml) {
        g_qmlWarnings.append(message);
    }
    g_previousHandler(type, context, message);
}

// Every text item in the window that shows exactly text and is on screen.
QList<QQuickItem *> visibleTextItems(QQuickItem *item, const QString &text, const QRectF &windowRect)
{
    QList<QQuickItem *> found;
    if (!item->isVisible() || item->opacity() == 0) {
        return found;
    }
    if (item->property("text").toString() == text) {
        const QRectF rect = item->mapRectToScene(QRectF(0, 0, item->width(), item->height()));
        if (rect.width() > 0 && rect.height() > 0 && windowRect.contains(rect.center())) {
            found.append(item);
        }
    }
    const auto children = item->childItems();
    for (QQuickItem *child : children) {
        found += visibleTextItems(child, text, windowRect);
    }
    return found;
}

QModelIndex treeIndex(QObject *tree, int row)
{
    QModelIndex index;
    QMetaObject::invokeMethod(tree, "index", Q_RETURN_ARG(QModelIndex, index), Q_ARG(int, row), Q_ARG(int, 0));
    return index;
}

int treeDepth(QObject *tree, int row)
{
    int depth = -1;
    QMetaObject::invokeMethod(tree, "depth", Q_RETURN_ARG(int, depth), Q_ARG(int, row));
    return depth;
}
} // namespace

class ProcessesPageTest : public QObject
{
    Q_OBJECT

    QQmlApplicationEngine *m_engine = nullptr;
    QQuickWindow *m_window = nullptr;
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

    void saveScreenshot(const QString &name)
    {
        QDir().mkpath(QStringLiteral(CRYOPOD_SCREENSHOT_DIR));
        const QString path = QStringLiteral(CRYOPOD_SCREENSHOT_DIR "/") + name;
        const QImage image = m_window->grabWindow();
        QVERIFY(!image.isNull());
        QVERIFY(image.save(path));
        qInfo("screenshot: %s", qPrintable(path));
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
        becomeSubreaper();
        g_previousHandler = qInstallMessageHandler(collectWarnings);
        m_probe = forkNamed("cpt-gui-probe");
        QVERIFY(m_probe > 0);

        // Breeze icons are there (qt6-svg-plugins renders them).
        QVERIFY2(!QIcon::fromTheme(QStringLiteral("system-run")).isNull(), "no Breeze icons: is qt6-svg-plugins installed?");

        m_engine = new QQmlApplicationEngine(this);
        CryopodApp::setupEngine(*m_engine);
        m_engine->loadFromModule(CryopodApp::qmlModule, CryopodApp::mainComponent);
        QCOMPARE(m_engine->rootObjects().size(), 1);
        m_window = qobject_cast<QQuickWindow *>(m_engine->rootObjects().constFirst());
        QVERIFY(m_window);
        m_window->setGeometry(0, 0, 1280, 800);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window));
        // The pointer away from the window: no hover, no tooltip in screenshots.
        QCursor::setPos(m_window->screen(), QPoint(m_window->width() + 10, m_window->height() + 10));

        m_model = m_window->findChild<QObject *>(QStringLiteral("processModel"));
        m_tree = m_window->findChild<QObject *>(QStringLiteral("processTree"));
        QVERIFY(m_model && m_tree && searchField());
        QTRY_VERIFY_WITH_TIMEOUT(!m_model->property("loading").toBool(), 10000);
    }

    void cleanupTestCase()
    {
        delete m_engine;
        m_engine = nullptr;
        killAndReap(m_probe);
        qInstallMessageHandler(g_previousHandler);
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
        QVERIFY(m_tree->property("rows").toInt() > 3);
        verifyViewRows();
        QTest::qWait(500); // icons and the first CPU values
        saveScreenshot(QStringLiteral("processes.png"));
    }

    void testSearchShowsProbe()
    {
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        searchField()->setProperty("text", QStringLiteral("cpt-gui-probe"));
        // The probe's row, and only the rows of it and its ancestors.
        QTRY_VERIFY_WITH_TIMEOUT(!visibleTextItems(treeItem(), QStringLiteral("cpt-gui-probe"), windowRect).isEmpty(), 5000);
        QTRY_VERIFY(!visibleTextItems(treeItem(), QString::number(m_probe), windowRect).isEmpty());
        QVERIFY(!visibleTextItems(treeItem(), QString::number(::getpid()), windowRect).isEmpty());
        const int rows = m_tree->property("rows").toInt();
        QVERIFY(rows >= 2);
        const QModelIndex last = treeIndex(m_tree, rows - 1);
        QCOMPARE(last.data(ProcessModel::PidRole).toInt(), m_probe);
        verifyViewRows();
        saveScreenshot(QStringLiteral("processes-search.png"));

        // Nothing matches: the placeholder says so.
        searchField()->setProperty("text", QStringLiteral("no-such-process-xyz"));
        QTRY_COMPARE(m_tree->property("rows").toInt(), 0);
        QTRY_VERIFY(!visibleTextItems(m_window->contentItem(), QStringLiteral("No processes match “no-such-process-xyz”"), windowRect).isEmpty());
        searchField()->setProperty("text", QString());
        QTRY_VERIFY(m_tree->property("rows").toInt() > rows);
    }

    void testSelectionSurvivesRefresh()
    {
        // Show only the probe's branch, click its row.
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        searchField()->setProperty("text", QStringLiteral("cpt-gui-probe"));
        QList<QQuickItem *> labels;
        QTRY_VERIFY(!(labels = visibleTextItems(treeItem(), QStringLiteral("cpt-gui-probe"), windowRect)).isEmpty());
        QTest::qWait(100);
        const QPointF center = labels.constFirst()->mapToScene(QPointF(labels.constFirst()->width() / 2, labels.constFirst()->height() / 2));
        QTest::mouseClick(m_window, Qt::LeftButton, Qt::NoModifier, center.toPoint());
        auto *selection = m_tree->property("selectionModel").value<QItemSelectionModel *>();
        QVERIFY(selection);
        QTest::qWait(200);
        QTRY_VERIFY(selection->hasSelection());
        auto selectedPid = [selection] {
            const QModelIndexList rows = selection->selectedRows();
            return rows.size() == 1 ? rows.constFirst().data(ProcessModel::PidRole).toInt() : -1;
        };
        QCOMPARE(selectedPid(), m_probe);
        QCursor::setPos(m_window->screen(), QPoint(m_window->width() + 10, m_window->height() + 10));

        // Refreshes (rows changed, others inserted and removed around it) keep it.
        searchField()->setProperty("text", QString());
        QSignalSpy refreshed(m_model, SIGNAL(refreshed()));
        QMetaObject::invokeMethod(m_model, "refresh");
        QVERIFY(refreshed.wait(10000));
        QMetaObject::invokeMethod(m_model, "refresh");
        QVERIFY(refreshed.wait(10000));
        QCOMPARE(selectedPid(), m_probe);
        selection->clear();
    }

    void testAboutPage()
    {
        auto *about = m_window->findChild<QObject *>(QStringLiteral("aboutAction"));
        auto *processes = m_window->findChild<QObject *>(QStringLiteral("processesAction"));
        QVERIFY(about && processes);
        QMetaObject::invokeMethod(about, "trigger");
        const QRectF windowRect(0, 0, m_window->width(), m_window->height());
        QTRY_VERIFY(!visibleTextItems(m_window->contentItem(), QStringLiteral("Snapshot running programs and bring them back exactly where they were"), windowRect).isEmpty());
        QTest::qWait(1000); // the layer's transition
        saveScreenshot(QStringLiteral("about.png"));
        QMetaObject::invokeMethod(processes, "trigger");
        QTRY_VERIFY(!visibleTextItems(m_window->contentItem(), QStringLiteral("PID"), windowRect).isEmpty());
        // The same page and model as before, not a new one.
        QVERIFY(!m_model.isNull() && !m_tree.isNull());
        QCOMPARE(m_window->findChild<QObject *>(QStringLiteral("processModel")), m_model.data());
        QTRY_VERIFY(m_tree->property("rows").toInt() > 3);
    }

    void testViewFollowsChurn()
    {
        // Processes appear, exit and are re-parented while the page refreshes
        // four times a second: the view's rows stay a faithful tree.
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
                while (::waitpid(-1, nullptr, WNOHANG) > 0) {
                }
            }
        }
        QVERIFY(churner > 0);
        m_model->setProperty("refreshInterval", 250);
        for (int i = 0; i < 16; ++i) {
            QTest::qWait(250);
            while (::waitpid(-1, nullptr, WNOHANG) > 0) {
            }
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
        QVERIFY2(g_qmlWarnings.isEmpty(), qPrintable(g_qmlWarnings.join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    // Our own X server, whatever DISPLAY the caller has.
    XvfbServer xvfb;
    if (!xvfb.start()) {
        return 1;
    }
    qputenv("DISPLAY", xvfb.display());
    qputenv("QT_QPA_PLATFORM", "xcb");
    qunsetenv("WAYLAND_DISPLAY");
    qputenv("QT_QUICK_CONTROLS_STYLE", "org.kde.desktop");
    QApplication app(argc, argv);
    CryopodApp::initialize(app);
    ProcessesPageTest test;
    return QTest::qExec(&test, argc, argv);
}

#include "processespagetest.moc"
