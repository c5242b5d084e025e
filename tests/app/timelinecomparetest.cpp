// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The timeline's time axis and Compare through the real window: a store of
// real snapshots (store_churn checkpointed by the engine before and after it
// rewrote part of its memory, and a third one later); on its timeline the
// axis zooms with the keyboard (+, -, 0) and Ctrl+wheel and moves with the
// wheel; a click on a marker selects a snapshot, Ctrl+click picks the one to
// compare with; Compare opens the sheet, which shows what a
// SnapshotDiffModel of its own computes for the same pair. Root (it
// checkpoints a real process directly, without the helper).

#include <QtTest> // first: xvfbserver.h needs all of Qt Core before it (as testprocesses.h gives the other tests)

#include "../store/storetestsupport.h"
#include "guitestsupport.h"
#include "snapshotdiffmodel.h"
#include "snapshotstore.h"
#include "timelinemodel.h"

#include <QDateTime>
#include <QWheelEvent>

#include <cmath>
#include <sqlite3.h>
#include <unistd.h>

using namespace GuiTest;
using StoreTestSupport::Churn;

class TimelineCompareTest : public WindowTest
{
    Q_OBJECT

    QString m_storePath;
    Churn m_churn;
    QList<qint64> m_ids; // oldest first
    qint64 m_targetId = 0;

    qint64 snapshot(const std::string &name, bool compress)
    {
        const std::string path = m_dir.filePath(QString::fromStdString(name)).toStdString();
        if (!m_churn.checkpointTo(path, compress)) {
            return 0;
        }
        auto store = cryopod::store::SnapshotStore::open(m_storePath.toStdString());
        if (!store) {
            return 0;
        }
        auto id = (*store)->importImage(path);
        if (!id) {
            return 0;
        }
        if (auto info = (*store)->snapshot(*id)) {
            m_targetId = info->targetId;
        }
        return *id;
    }

    QObject *axis() const
    {
        auto *view = find("timelineAxis");
        return view ? view->property("axis").value<QObject *>() : nullptr;
    }

    static void wheel(QQuickWindow *window, QQuickItem *item, int delta, Qt::KeyboardModifiers modifiers)
    {
        const QPointF local(item->width() / 2, item->height() / 2);
        const QPointF scene = item->mapToScene(local);
        QWheelEvent event(scene, window->mapToGlobal(scene.toPoint()), QPoint(), QPoint(0, delta), Qt::NoButton, modifiers, Qt::NoScrollPhase, false);
        QGuiApplication::sendEvent(window, &event);
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0) {
            QSKIP("checkpoints a real process: run as root");
        }
        QVERIFY(startFixture(false));
        m_storePath = storePath();
        QVERIFY(m_churn.start(m_dir.path().toStdString(), 4, 10.0, 41));
        m_ids.append(snapshot("one.img", false));
        QVERIFY(m_churn.change());
        m_ids.append(snapshot("two.img", true));
        m_ids.append(snapshot("three.img", false));
        QVERIFY(m_ids.at(0) > 0 && m_ids.at(1) > m_ids.at(0) && m_ids.at(2) > m_ids.at(1));
        QVERIFY(m_targetId > 0);
        // Hours apart (as a schedule takes them), so that the axis can zoom
        // (its narrowest view is an hour) and their markers are apart.
        sqlite3 *db = nullptr;
        QCOMPARE(sqlite3_open((m_storePath + QStringLiteral("/index.sqlite")).toUtf8().constData(), &db), SQLITE_OK);
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        const qint64 hoursAgo[] = {6, 3, 1};
        for (int i = 0; i < 3; ++i) {
            const QByteArray sql =
                QStringLiteral("UPDATE snapshots SET created_at = %1 WHERE id = %2").arg((now - hoursAgo[i] * 3600000) * 1000000).arg(m_ids.at(i)).toUtf8();
            QCOMPARE(sqlite3_exec(db, sql.constData(), nullptr, nullptr, nullptr), SQLITE_OK);
        }
        sqlite3_close(db);

        QVERIFY(openWindow());
        QMetaObject::invokeMethod(m_window, "showTimeline", Q_ARG(QVariant, QVariant(m_targetId)), Q_ARG(QString, QStringLiteral("store_churn")));
        QTRY_VERIFY_WITH_TIMEOUT(page("timelinePage") && layersIdle(m_window), kTimeout);
        auto *list = page("timelinePage")->findChild<QObject *>(QStringLiteral("timelineList"));
        QVERIFY(list);
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 3, kTimeout);
        QVERIFY(waitForFrame(m_window));
    }

    void cleanupTestCase()
    {
        endFixture();
    }

    void testZoomWithKeyboardAndWheel()
    {
        QObject *a = axis();
        QVERIFY(a);
        auto *view = find<QQuickItem>("timelineAxis");
        auto *plot = find<QQuickItem>("timelineAxisPlot");
        QVERIFY(view && plot && view->isVisible());
        QTRY_VERIFY_WITH_TIMEOUT(a->property("width").toReal() > 0, kTimeout);
        const qint64 fitSpan = a->property("viewSpan").toLongLong();
        QVERIFY(fitSpan > 0);
        const QString fitText = a->property("spanText").toString();

        // Keyboard focus: a click on the axis (away from the markers).
        click(m_window, plot);
        movePointerAway(m_window);
        QTRY_VERIFY_WITH_TIMEOUT(view->hasActiveFocus(), kTimeout);

        QTest::keyClick(m_window, Qt::Key_Plus);
        QTRY_VERIFY_WITH_TIMEOUT(qAbs(a->property("viewSpan").toLongLong() - fitSpan / 2) <= 1, kTimeout);
        QTest::keyClick(m_window, Qt::Key_Plus);
        QTRY_VERIFY_WITH_TIMEOUT(qAbs(a->property("viewSpan").toLongLong() - fitSpan / 4) <= 1, kTimeout);
        QVERIFY(a->property("spanText").toString() != fitText);
        // The markers off the view are hidden: fewer than three shown.
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("timeline-zoomed.png")));
        const qint64 startBefore = a->property("viewStart").toLongLong();
        QTest::keyClick(m_window, Qt::Key_Right);
        QTRY_VERIFY_WITH_TIMEOUT(a->property("viewStart").toLongLong() > startBefore, kTimeout);
        QTest::keyClick(m_window, Qt::Key_Minus);
        QTRY_VERIFY_WITH_TIMEOUT(qAbs(a->property("viewSpan").toLongLong() - fitSpan / 2) <= 1, kTimeout);
        QTest::keyClick(m_window, Qt::Key_0);
        QTRY_COMPARE_WITH_TIMEOUT(a->property("viewSpan").toLongLong(), fitSpan, kTimeout);

        // Ctrl+wheel up zooms in by 2^(120/480) around the pointer; the
        // wheel alone moves the view.
        wheel(m_window, plot, 120, Qt::ControlModifier);
        QTRY_VERIFY_WITH_TIMEOUT(a->property("viewSpan").toLongLong() < fitSpan, kTimeout);
        const double factor = double(fitSpan) / double(a->property("viewSpan").toLongLong());
        QVERIFY2(qAbs(factor - std::pow(2.0, 0.25)) < 0.01, qPrintable(QString::number(factor)));
        const qint64 start = a->property("viewStart").toLongLong();
        wheel(m_window, plot, -120, Qt::NoModifier);
        QTRY_VERIFY_WITH_TIMEOUT(a->property("viewStart").toLongLong() != start, kTimeout);
        QTest::keyClick(m_window, Qt::Key_Home);
        QTRY_COMPARE_WITH_TIMEOUT(a->property("viewSpan").toLongLong(), fitSpan, kTimeout);
    }

    void testCompareTwoSnapshots()
    {
        QObject *timeline = page("timelinePage");
        QVERIFY(timeline);
        auto *list = timeline->findChild<QObject *>(QStringLiteral("timelineList"));
        auto *model = qobject_cast<QAbstractItemModel *>(list->property("model").value<QObject *>());
        QVERIFY(model);
        // Rows newest first: the oldest (before the change) and the middle one.
        int oldestRow = -1;
        int middleRow = -1;
        for (int row = 0; row < model->rowCount(); ++row) {
            const qint64 id = model->index(row, 0).data(TimelineModel::SnapshotIdRole).toLongLong();
            oldestRow = id == m_ids.at(0) ? row : oldestRow;
            middleRow = id == m_ids.at(1) ? row : middleRow;
        }
        QVERIFY(oldestRow >= 0 && middleRow >= 0);

        // A click on the oldest marker selects it; Ctrl+click picks the other.
        auto *oldest = findItem(m_window->contentItem(), QStringLiteral("timelineMarker%1").arg(oldestRow));
        auto *middle = findItem(m_window->contentItem(), QStringLiteral("timelineMarker%1").arg(middleRow));
        QVERIFY(oldest && middle && oldest->isVisible() && middle->isVisible());
        click(m_window, oldest);
        QTRY_COMPARE_WITH_TIMEOUT(list->property("currentIndex").toInt(), oldestRow, kTimeout);
        const QPointF at = middle->mapToScene(QPointF(middle->width() / 2, middle->height() / 2));
        QTest::mouseClick(m_window, Qt::LeftButton, Qt::ControlModifier, at.toPoint());
        movePointerAway(m_window);
        QTRY_COMPARE_WITH_TIMEOUT(timeline->property("compareSnapshotId").toLongLong(), m_ids.at(1), kTimeout);
        QCOMPARE(list->property("currentIndex").toInt(), oldestRow); // the selection stays

        // Compare: the sheet reads both images and lists the differences.
        auto *compare = find("compareAction");
        QVERIFY(compare);
        QTRY_VERIFY_WITH_TIMEOUT(compare->property("enabled").toBool(), kTimeout);
        QMetaObject::invokeMethod(compare, "trigger");
        auto *sheet = timeline->findChild<QObject *>(QStringLiteral("snapshotCompareSheet"));
        QVERIFY(sheet);
        QTRY_VERIFY_WITH_TIMEOUT(sheet->property("opened").toBool(), kTimeout);
        auto *diff = sheet->findChild<QAbstractItemModel *>(QStringLiteral("snapshotDiffModel"));
        QVERIFY(diff);
        QTRY_VERIFY_WITH_TIMEOUT(!diff->property("loading").toBool() && !diff->property("summary").toString().isEmpty(), 5 * kTimeout);
        QCOMPARE(diff->property("errorString").toString(), QString());
        QCOMPARE(diff->property("beforeId").toLongLong(), m_ids.at(0));
        QCOMPARE(diff->property("afterId").toLongLong(), m_ids.at(1));
        QCOMPARE(sheet->property("title").toString(), QStringLiteral("Compare Snapshots %1 and %2").arg(m_ids.at(0)).arg(m_ids.at(1)));

        // What it shows is what the model computes on its own for that pair.
        SnapshotDiffModel expected;
        expected.setStorePath(m_storePath);
        QSignalSpy loaded(&expected, &SnapshotDiffModel::loaded);
        expected.comparePair(m_ids.at(0), m_ids.at(1));
        QVERIFY(loaded.wait(5 * kTimeout));
        QVERIFY(expected.rowCount() > 0); // the memory store_churn rewrote, at least
        QCOMPARE(diff->rowCount(), expected.rowCount());
        QCOMPARE(diff->property("summary").toString(), expected.summary());
        QTRY_VERIFY_WITH_TIMEOUT(showsText(m_window, expected.summary()), kTimeout);
        auto *shownList = sheet->findChild<QObject *>(QStringLiteral("snapshotDiffList"));
        QVERIFY(shownList);
        QCOMPARE(shownList->property("count").toInt(), expected.rowCount());
        bool memoryChanged = false;
        for (int row = 0; row < expected.rowCount(); ++row) {
            const QModelIndex index = expected.index(row);
            memoryChanged = memoryChanged ||
                (index.data(SnapshotDiffModel::SectionRole).toString() == QLatin1String("memory") &&
                 index.data(SnapshotDiffModel::ChangeRole).toString() == QLatin1String("changed"));
        }
        QVERIFY(memoryChanged);
        // The first row's title is on screen.
        QTRY_VERIFY_WITH_TIMEOUT(showsText(m_window, expected.index(0).data(SnapshotDiffModel::TitleRole).toString()), kTimeout);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("timeline-compare.png")));
        QMetaObject::invokeMethod(sheet, "close");
        QTRY_VERIFY_WITH_TIMEOUT(!sheet->property("visible").toBool(), kTimeout);
    }

    void testNoQmlWarnings()
    {
        QVERIFY2(qmlWarnings().isEmpty(), qPrintable(qmlWarnings().join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    return runGuiTest<TimelineCompareTest>(argc, argv);
}

#include "timelinecomparetest.moc"
