// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Shared by the GUI tests: the real window on a private Xvfb, loaded from
// the io.github.cryopod module as the cryopod executable loads it; QML
// warnings from our module collected; what is on screen found by its text;
// screenshots as test artifacts; waits for frames and conditions with
// timeouts generous enough for a machine busy with other builds.
#pragma once

#include "application.h"
#include "processmodel.h"
#include "snapshotactions.h"
#include "xvfbserver.h"

#include <QApplication>
#include <QCursor>
#include <QDir>
#include <QFile>
#include <QPointer>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QScreen>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <functional>

#include <sys/prctl.h>

namespace GuiTest
{
// For anything the window does (a scan, a frame, a transition, a helper
// job) on a loaded machine.
constexpr int kTimeout = 60000;

inline QStringList &qmlWarnings()
{
    static QStringList warnings;
    return warnings;
}

inline QtMessageHandler &previousHandler()
{
    static QtMessageHandler handler = nullptr;
    return handler;
}

inline void collectWarnings(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    // Warnings from our module's QML (not from Kirigami's or Qt's own files).
    const bool fromQml = (context.file && QByteArray(context.file).contains("io/github/cryopod/")) || message.contains(QLatin1String("io/github/cryopod/"));
    // KNotifications' complaints about our events (cryopod.notifyrc) too.
    const bool fromNotifications = message.contains(QLatin1String("notifyrc"));
    if (type != QtDebugMsg && type != QtInfoMsg && (fromQml || fromNotifications)) {
        qmlWarnings().append(message);
    }
    previousHandler()(type, context, message);
}

inline void installWarningCollector()
{
    previousHandler() = qInstallMessageHandler(collectWarnings);
}

inline void removeWarningCollector()
{
    qInstallMessageHandler(previousHandler());
}

// Every item in the tree below item that shows exactly text and is on screen.
inline QList<QQuickItem *> visibleTextItems(QQuickItem *item, const QString &text, const QRectF &windowRect)
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

// The first item named objectName in the visual tree below item (delegates
// of views have no QObject parent, so findChild() misses them).
inline QQuickItem *findItem(QQuickItem *item, const QString &objectName)
{
    if (item->objectName() == objectName) {
        return item;
    }
    const auto children = item->childItems();
    for (QQuickItem *child : children) {
        if (QQuickItem *found = findItem(child, objectName)) {
            return found;
        }
    }
    return nullptr;
}

// The opacity an item is drawn with: its own times its ancestors'.
inline qreal effectiveOpacity(const QQuickItem *item)
{
    qreal opacity = 1;
    for (; item; item = item->parentItem()) {
        opacity *= item->isVisible() ? item->opacity() : 0;
    }
    return opacity;
}

// A Kirigami.InlineMessage shown, its reveal finished and its text drawn in
// full (it fades in after the message has opened).
inline bool messageShown(QQuickItem *message)
{
    if (!message || !message->isVisible() || message->property("animating").toBool()) {
        return false;
    }
    const QString text = message->property("text").toString();
    const std::function<bool(QQuickItem *)> textDrawn = [&](QQuickItem *item) {
        if (item != message && item->property("text").toString() == text && effectiveOpacity(item) > 0.999) {
            return true;
        }
        const auto children = item->childItems();
        return std::any_of(children.cbegin(), children.cend(), textDrawn);
    };
    return !text.isEmpty() && textDrawn(message);
}

inline QRectF windowRect(QQuickWindow *window)
{
    return QRectF(0, 0, window->width(), window->height());
}

inline bool showsText(QQuickWindow *window, const QString &text)
{
    return !visibleTextItems(window->contentItem(), text, windowRect(window)).isEmpty();
}

// A fresh frame: what the scene shows has been laid out and rendered (and
// what Qt.callLater() queued before has run).
inline bool waitForFrame(QQuickWindow *window)
{
    QSignalSpy swapped(window, &QQuickWindow::frameSwapped);
    window->update();
    return swapped.wait(kTimeout);
}

// The object named objectName among the window's QObject descendants.
template<typename T = QObject>
T *findObject(QQuickWindow *window, const char *objectName)
{
    return window->findChild<T *>(QString::fromLatin1(objectName));
}

// The page on top of the window's layers, when it is named objectName.
inline QObject *currentPage(QQuickWindow *window, const char *objectName)
{
    auto *pageStack = window->property("pageStack").value<QObject *>();
    auto *layers = pageStack ? pageStack->property("layers").value<QObject *>() : nullptr;
    QObject *current = layers ? layers->property("currentItem").value<QObject *>() : nullptr;
    return current && current->objectName() == QLatin1String(objectName) ? current : nullptr;
}

// No page transition running in the window's page stack layers.
inline bool layersIdle(QQuickWindow *window)
{
    auto *pageStack = window->property("pageStack").value<QObject *>();
    auto *layers = pageStack ? pageStack->property("layers").value<QObject *>() : nullptr;
    return layers && !layers->property("busy").toBool();
}

// A Flickable (a list, a tree) at rest: a press on a moving one stops it
// instead of reaching the delegate under the pointer.
inline bool viewAtRest(QObject *view)
{
    return !view->property("moving").toBool() && !view->property("flicking").toBool() && !view->property("dragging").toBool();
}

// A left click in the middle of item.
inline void click(QQuickWindow *window, QQuickItem *item)
{
    const QPointF center = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    QTest::mouseClick(window, Qt::LeftButton, Qt::NoModifier, center.toPoint());
}

// The popups open in the window (dialogs, sheets, drawers), and whether
// one of them is modal: then a click outside them reaches none of the rest.
inline QList<QObject *> openPopups(QQuickWindow *window)
{
    QList<QObject *> open;
    const auto objects = window->findChildren<QObject *>();
    for (QObject *object : objects) {
        if (object->inherits("QQuickPopup") && object->property("visible").toBool()) {
            open.append(object);
        }
    }
    return open;
}

inline bool modalPopupOpen(QQuickWindow *window)
{
    const QList<QObject *> open = openPopups(window);
    return std::any_of(open.cbegin(), open.cend(), [](QObject *popup) {
        return popup->property("modal").toBool();
    });
}

// The topmost and deepest visible item at scenePoint (for a failure's
// message: what a click there would meet). Children may lie outside their
// parent unless it clips. The popups' layer (QQuickOverlay, over the whole
// window while any popup is open) counts only where a popup is, or while a
// modal one is open: elsewhere presses go through it.
inline QQuickItem *itemAt(QQuickWindow *window, const QPointF &scenePoint)
{
    const bool modal = modalPopupOpen(window);
    const std::function<QQuickItem *(QQuickItem *)> topmost = [&](QQuickItem *item) -> QQuickItem * {
        if (!item->isVisible()) {
            return nullptr;
        }
        const bool inside = item->contains(item->mapFromScene(scenePoint));
        if (item->clip() && !inside) {
            return nullptr;
        }
        QList<QQuickItem *> children = item->childItems();
        std::stable_sort(children.begin(), children.end(), [](const QQuickItem *a, const QQuickItem *b) {
            return a->z() < b->z();
        });
        for (auto it = children.crbegin(); it != children.crend(); ++it) {
            if (QQuickItem *found = topmost(*it)) {
                return found;
            }
        }
        if (item->inherits("QQuickOverlay") && !modal) {
            return nullptr;
        }
        return inside ? item : nullptr;
    };
    return topmost(window->contentItem());
}

// What is under a point of the window, for a failure's message: the chain
// of items from the content item down to the one itemAt() finds (class,
// "objectName", scene rectangle), and the popups open.
inline QString itemsAt(QQuickWindow *window, const QPointF &scenePoint)
{
    QStringList chain;
    for (QQuickItem *item = itemAt(window, scenePoint); item; item = item->parentItem()) {
        const QRectF rect = item->mapRectToScene(QRectF(0, 0, item->width(), item->height()));
        chain.prepend(QStringLiteral("%1%2[%3,%4 %5x%6]")
                          .arg(QString::fromLatin1(item->metaObject()->className()),
                               item->objectName().isEmpty() ? QString() : QStringLiteral(" \"%1\"").arg(item->objectName()))
                          .arg(rect.x())
                          .arg(rect.y())
                          .arg(rect.width())
                          .arg(rect.height()));
    }
    QStringList popups;
    const QList<QObject *> open = openPopups(window);
    for (QObject *popup : open) {
        popups.append(QStringLiteral("%1 \"%2\"%3").arg(QString::fromLatin1(popup->metaObject()->className()), popup->objectName(),
                                                        popup->property("modal").toBool() ? QStringLiteral(" (modal)") : QString()));
    }
    return chain.join(QLatin1String(" > ")) + QStringLiteral("; popups open: ") + (popups.isEmpty() ? QStringLiteral("none") : popups.join(QLatin1String(", ")));
}

// The middle of item, in the window.
inline QPointF sceneCenter(QQuickItem *item)
{
    return item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
}

// A click in the middle of item would reach it now: it is enabled and
// shown there, inside the window, and no modal popup (a dialog, a sheet)
// takes the click.
inline bool clickable(QQuickWindow *window, QQuickItem *item)
{
    return item->isVisible() && item->isEnabled() && QRectF(0, 0, window->width(), window->height()).contains(sceneCenter(item)) && !modalPopupOpen(window);
}

// The pointer away from the window: no hover, no tooltip in screenshots.
inline void movePointerAway(QQuickWindow *window)
{
    QCursor::setPos(window->screen(), QPoint(window->width() + 10, window->height() + 10));
}

inline bool saveScreenshot(QQuickWindow *window, const QString &name)
{
    QDir().mkpath(QStringLiteral(CRYOPOD_SCREENSHOT_DIR));
    const QString path = QStringLiteral(CRYOPOD_SCREENSHOT_DIR "/") + name;
    const QImage image = window->grabWindow();
    if (image.isNull() || !image.save(path)) {
        return false;
    }
    qInfo("screenshot: %s", qPrintable(path));
    return true;
}

// The model index of a tree view's row (column 0).
inline QModelIndex treeIndex(QObject *tree, int row)
{
    QModelIndex index;
    QMetaObject::invokeMethod(tree, "index", Q_RETURN_ARG(QModelIndex, index), Q_ARG(int, row), Q_ARG(int, 0));
    return index;
}

// The row of the tree's delegate that holds item (-1: none).
inline int delegateRow(QQuickItem *item)
{
    for (; item; item = item->parentItem()) {
        if (item->property("treeView").isValid()) {
            return item->property("row").toInt();
        }
    }
    return -1;
}

// Selects the process pid in the processes page's tree by one click on a
// label showing text in the delegate whose row holds pid (a cell that shows
// the text but stands for another row would select nothing or another
// process), until selected() says so. A click that lands while the
// delegates are being rebuilt (a checkpointability verdict arriving, seen
// in CI with "TreeViewDelegate.qml: Unable to assign [undefined]") selects
// nothing: the label is found again and clicked again, at most three times;
// every attempt after the first is logged with what lay under the pointer,
// and a screenshot of each miss is kept (processes-click-N.png). The caller
// stops the model's automatic scans first, so that no row moves under the
// pointer. Returns an empty string once selected, else what was seen.
inline QString selectTreeRow(QQuickWindow *window, QQuickItem *tree, const QString &text, int pid, const std::function<bool()> &selected)
{
    QPointF center;
    QString lastAttempt;
    for (int attempt = 1; attempt <= 3 && !selected(); ++attempt) {
        QMetaObject::invokeMethod(tree, "forceLayout");
        if (!waitForFrame(window) || !QTest::qWaitFor([tree] { return viewAtRest(tree); }, kTimeout)) {
            return QStringLiteral("the view did not come to rest");
        }
        const QList<QQuickItem *> labels = visibleTextItems(tree, text, windowRect(window));
        QStringList found;
        QQuickItem *label = nullptr;
        for (QQuickItem *candidate : labels) {
            const int row = delegateRow(candidate);
            const int rowPid = row >= 0 ? treeIndex(tree, row).data(ProcessModel::PidRole).toInt() : -1;
            const QPointF at = sceneCenter(candidate);
            found.append(QStringLiteral("row %1 pid %2 at %3,%4").arg(row).arg(rowPid).arg(at.x()).arg(at.y()));
            if (!label && rowPid == pid) {
                label = candidate;
            }
        }
        if (!label) {
            return QStringLiteral("no cell of pid %1's row among the labels showing \"%2\": %3").arg(pid).arg(text, found.join(QLatin1String("; ")));
        }
        center = sceneCenter(label);
        lastAttempt = QStringLiteral("labels: %1; under the pointer: %2").arg(found.join(QLatin1String("; ")), itemsAt(window, center));
        if (attempt > 1) {
            qInfo("click %d on pid %d's row at %g,%g: the one before selected nothing; %s", attempt, pid, center.x(), center.y(), qPrintable(lastAttempt));
        }
        QTest::mouseClick(window, Qt::LeftButton, Qt::NoModifier, center.toPoint());
        if (QTest::qWaitFor(selected, 5000)) {
            break;
        }
        saveScreenshot(window, QStringLiteral("processes-click-%1.png").arg(attempt));
    }
    if (selected()) {
        return {};
    }
    return QStringLiteral("not selected after three clicks, the last at %1,%2; the tree at rest: %3, contentY %4; %5")
        .arg(center.x())
        .arg(center.y())
        .arg(viewAtRest(tree))
        .arg(tree->property("contentY").toDouble())
        .arg(lastAttempt);
}

// Loads the main window into engine, 1280x800, shown and exposed.
inline QQuickWindow *loadMainWindow(QQmlApplicationEngine &engine)
{
    CryopodApp::setupEngine(engine);
    engine.loadFromModule(CryopodApp::qmlModule, CryopodApp::mainComponent);
    if (engine.rootObjects().size() != 1) {
        return nullptr;
    }
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
    if (!window) {
        return nullptr;
    }
    window->setGeometry(0, 0, 1280, 800);
    window->show();
    if (!QTest::qWaitForWindowExposed(window, kTimeout)) {
        return nullptr;
    }
    movePointerAway(window);
    return window;
}

// The fixture of a test of the whole window, for the test class to derive
// from (its test slots are its own): a temporary directory with the run's
// own store ($CRYOPOD_STORE), the window loaded from the module with its
// SnapshotActions, and the window's objects found by name.
// initTestCase: QVERIFY(startFixture(...)) first, QVERIFY(openWindow())
// once what the test starts before the window runs; cleanupTestCase:
// endFixture() (closeWindow() before, to close the window earlier).
class WindowTest : public QObject
{
protected:
    QTemporaryDir m_dir;
    QQmlApplicationEngine *m_engine = nullptr;
    QQuickWindow *m_window = nullptr;
    QPointer<SnapshotActions> m_actions;

    template<typename T = QObject>
    T *find(const char *objectName) const
    {
        return findObject<T>(m_window, objectName);
    }

    // The page on top, when it is named objectName.
    QObject *page(const char *objectName) const
    {
        return currentPage(m_window, objectName);
    }

    QString storePath() const
    {
        return m_dir.filePath(QStringLiteral("store"));
    }

    // The test's start: it reaps what it starts and what restores leave to
    // it (a subreaper), QML warnings are collected, the store is its own.
    // throughHelper: it needs cryopod-helper on the private system bus of
    // scripts/run. False, with a warning saying why, when it cannot run.
    bool startFixture(bool throughHelper)
    {
        if (throughHelper && qEnvironmentVariableIsEmpty("DBUS_SYSTEM_BUS_ADDRESS")) {
            qWarning("run through scripts/run --no-build --exec (private system bus with the helper)");
            return false;
        }
        if (!m_dir.isValid()) {
            qWarning("no temporary directory: %s", qPrintable(m_dir.errorString()));
            return false;
        }
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        installWarningCollector();
        qputenv("CRYOPOD_STORE", QFile::encodeName(storePath()));
        return true;
    }

    // The window, shown and exposed, and its SnapshotActions.
    bool openWindow()
    {
        m_engine = new QQmlApplicationEngine(this);
        m_window = loadMainWindow(*m_engine);
        m_actions = m_window ? findObject<SnapshotActions>(m_window, "snapshotActions") : nullptr;
        return m_window && m_actions;
    }

    void closeWindow()
    {
        delete m_engine;
        m_engine = nullptr;
        m_window = nullptr;
    }

    void endFixture()
    {
        closeWindow();
        removeWarningCollector();
    }
};

// main() of a GUI test: our own X server, whatever DISPLAY the caller has,
// the KDE style, then the test object.
// prepare (optional) runs before the application is made, with the run's
// XDG_CONFIG_HOME: for settings that must be in place before (a color
// scheme in kdeglobals); screenWidth/Height: Xvfb's screen, in pixels.
template<typename Test>
int runGuiTest(int argc, char **argv, const std::function<bool(const QString &configDir)> &prepare = {}, int screenWidth = 1280, int screenHeight = 800)
{
    XvfbServer xvfb;
    if (!xvfb.start(screenWidth, screenHeight)) {
        return 1;
    }
    qputenv("DISPLAY", xvfb.display());
    qputenv("QT_QPA_PLATFORM", "xcb");
    qunsetenv("WAYLAND_DISPLAY");
    qputenv("QT_QUICK_CONTROLS_STYLE", "org.kde.desktop");
    // The user's settings (CryopodSettings) of this run only.
    QTemporaryDir config;
    if (!config.isValid()) {
        return 1;
    }
    qputenv("XDG_CONFIG_HOME", QFile::encodeName(config.path()));
    // The notification events (app/cryopod/cryopod.notifyrc) where
    // KNotifications looks for them once installed.
    const QString data = config.filePath(QStringLiteral("data"));
    QDir().mkpath(data + QStringLiteral("/knotifications6"));
    if (!QFile::copy(QStringLiteral(CRYOPOD_NOTIFYRC), data + QStringLiteral("/knotifications6/cryopod.notifyrc"))) {
        return 1;
    }
    const QByteArray dataDirs = qgetenv("XDG_DATA_DIRS");
    const QByteArray dirs = QFile::encodeName(data) + ':' + (dataDirs.isEmpty() ? QByteArray("/usr/local/share:/usr/share") : dataDirs);
    qputenv("XDG_DATA_DIRS", dirs);
    if (prepare && !prepare(config.path())) {
        return 1;
    }
    QApplication app(argc, argv);
    CryopodApp::initialize(app);
    Test test;
    return QTest::qExec(&test, argc, argv);
}
} // namespace GuiTest
