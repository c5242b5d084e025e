// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TimelineAxis over a TimelineModel of a real store whose snapshots (the
// image library's sample) are dated over weeks (their created_at set in the
// store's index): where each one is placed, the scale's clamps, zooming
// about a point, the ticks for hours, days and months, and keeping a
// selected snapshot in view.

#include "timelineaxis.h"
#include "../image/sampleimage.h"
#include "snapshotstore.h"
#include "timelinemodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <fstream>

#include <sqlite3.h>

using namespace cryopod;
using namespace cryopod::store;

namespace
{
constexpr qint64 kHour = TimelineAxis::kHour;
constexpr qint64 kDay = TimelineAxis::kDay;
} // namespace

class TimelineAxisTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_storePath;
    // The snapshots' times (ms), oldest first, as set in the store.
    QList<qint64> m_times;
    const qint64 m_base = QDateTime(QDate(2026, 3, 2), QTime(9, 30)).toMSecsSinceEpoch();

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const auto bytes = image::test::writeToBytes(image::test::SampleImage::make(4));
        const std::string imagePath = m_dir.filePath(QStringLiteral("sample.img")).toStdString();
        {
            std::ofstream out(imagePath, std::ios::binary);
            out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
            QVERIFY(out.good());
        }
        m_storePath = m_dir.filePath(QStringLiteral("store"));
        QList<int64_t> ids;
        {
            auto store = SnapshotStore::open(m_storePath.toStdString());
            QVERIFY(store);
            for (int i = 0; i < 4; ++i) {
                auto id = (*store)->importImage(imagePath, IngestOptions {});
                QVERIFY2(id, id ? "" : id.error().describe().c_str());
                ids.append(*id);
            }
        }
        // 09:30, 10:00 the same day, two days later, three weeks later.
        m_times = {m_base, m_base + 30 * 60 * 1000, m_base + 2 * kDay, m_base + 21 * kDay};
        sqlite3 *db = nullptr;
        QCOMPARE(sqlite3_open((m_storePath + QStringLiteral("/index.sqlite")).toUtf8().constData(), &db), SQLITE_OK);
        for (int i = 0; i < ids.size(); ++i) {
            const QByteArray sql = QStringLiteral("UPDATE snapshots SET created_at = %1 WHERE id = %2").arg(m_times[i] * 1000000).arg(ids[i]).toUtf8();
            QCOMPARE(sqlite3_exec(db, sql.constData(), nullptr, nullptr, nullptr), SQLITE_OK);
        }
        sqlite3_close(db);
    }

    void placesSnapshotsByTime()
    {
        TimelineModel timeline;
        TimelineAxis axis;
        QAbstractItemModelTester tester(&axis, QAbstractItemModelTester::FailureReportingMode::QtTest);
        axis.setWidth(1000);
        axis.setTimeline(&timeline);
        timeline.setStorePath(m_storePath);
        QCOMPARE(axis.rowCount(), 4);
        // The first load shows them all, none on an edge.
        QVERIFY(axis.viewStart() < m_times.first());
        QVERIFY(axis.viewStart() + axis.viewSpan() > m_times.last());
        for (int row = 0; row < 4; ++row) {
            const QModelIndex index = axis.index(row, 0);
            // The timeline's roles pass through; newest first.
            QCOMPARE(index.data(TimelineModel::CreatedAtRole).toDateTime().toMSecsSinceEpoch(), m_times[3 - row]);
            const qreal x = index.data(TimelineAxis::AxisXRole).toReal();
            QVERIFY(x > 0 && x < 1000);
            QVERIFY(index.data(TimelineAxis::OnAxisRole).toBool());
            QCOMPARE(x, qreal(m_times[3 - row] - axis.viewStart()) * 1000 / qreal(axis.viewSpan()));
        }
        // Later is to the right, and the spacing follows the time.
        const qreal x0 = axis.index(3, 0).data(TimelineAxis::AxisXRole).toReal();
        const qreal x1 = axis.index(2, 0).data(TimelineAxis::AxisXRole).toReal();
        const qreal x2 = axis.index(1, 0).data(TimelineAxis::AxisXRole).toReal();
        const qreal x3 = axis.index(0, 0).data(TimelineAxis::AxisXRole).toReal();
        QVERIFY(x0 < x1 && x1 < x2 && x2 < x3);
        QCOMPARE(qRound((x3 - x0) / (x2 - x0) * 100), qRound(21.0 / 2 * 100));
        QCOMPARE(axis.rowAt(x2 + 3, 5), 1);
        QCOMPARE(axis.rowAt(x2 + 30, 5), -1);

        // Zoomed in to the morning: the two of that morning are in view, the
        // others are not, and their x says which side they are on.
        QSignalSpy changed(&axis, &QAbstractItemModel::dataChanged);
        axis.setView(m_base - kHour, 3 * kHour);
        QCOMPARE(changed.count(), 1);
        QVERIFY(axis.index(3, 0).data(TimelineAxis::OnAxisRole).toBool());
        QVERIFY(axis.index(2, 0).data(TimelineAxis::OnAxisRole).toBool());
        QVERIFY(!axis.index(1, 0).data(TimelineAxis::OnAxisRole).toBool());
        QVERIFY(axis.index(1, 0).data(TimelineAxis::AxisXRole).toReal() > 1000);
        QCOMPARE(axis.index(3, 0).data(TimelineAxis::AxisXRole).toReal(), 1000.0 / 3);
        QCOMPARE(axis.index(2, 0).data(TimelineAxis::AxisXRole).toReal(), 1000.0 / 2);

        // Selecting the snapshot three weeks on moves the view to it, not the zoom.
        axis.ensureVisible(0);
        QCOMPARE(axis.viewSpan(), 3 * kHour);
        QVERIFY(axis.index(0, 0).data(TimelineAxis::OnAxisRole).toBool());
        QVERIFY(!axis.index(3, 0).data(TimelineAxis::OnAxisRole).toBool());
        // Zooming out to a month brings them all back.
        axis.fit();
        for (int row = 0; row < 4; ++row) {
            QVERIFY(axis.index(row, 0).data(TimelineAxis::OnAxisRole).toBool());
        }
    }

    void zoomKeepsTheAnchorAndClamps()
    {
        TimelineAxis axis;
        axis.setWidth(800);
        axis.setView(m_base, 2 * kDay);
        const qint64 under = axis.timeAt(200);
        axis.zoomAt(4, 200);
        QCOMPARE(axis.viewSpan(), kDay / 2);
        QVERIFY(qAbs(axis.timeAt(200) - under) <= 1);
        // Hours at the finest...
        for (int i = 0; i < 10; ++i) {
            axis.zoomAt(2, 200);
        }
        QCOMPARE(axis.viewSpan(), TimelineAxis::kMinSpan);
        QVERIFY(!axis.canZoomIn());
        QVERIFY(qAbs(axis.timeAt(200) - under) <= 1);
        // ...to a year at the coarsest.
        for (int i = 0; i < 20; ++i) {
            axis.zoom(0.5);
        }
        QCOMPARE(axis.viewSpan(), TimelineAxis::kMaxSpan);
        QVERIFY(!axis.canZoomOut());
        QVERIFY(axis.canZoomIn());
        axis.zoom(0); // no change for nonsense
        QCOMPARE(axis.viewSpan(), TimelineAxis::kMaxSpan);
        // Panning by the width moves by the span.
        const qint64 start = axis.viewStart();
        axis.pan(800);
        QCOMPARE(axis.viewStart(), start + TimelineAxis::kMaxSpan);
    }

    void ticks_data()
    {
        QTest::addColumn<qint64>("span");
        QTest::addColumn<qint64>("step");
        QTest::addColumn<QString>("firstLabel");
        QTest::addColumn<bool>("hasMajor");
        // 1000 px: ticks at least 70 px apart.
        QTest::newRow("3 hours") << 3 * kHour << 15 * TimelineAxis::kMinute << QStringLiteral("08:30") << false;
        QTest::newRow("2 days") << 2 * kDay << 6 * kHour << QStringLiteral("12:00") << true;
        QTest::newRow("5 weeks") << 35 * kDay << 7 * kDay << QStringLiteral("9") << true; // Mondays, from 08:30 on Monday 2 March; 6 April is major
        QTest::newRow("a year") << 365 * kDay << 30 * kDay << QStringLiteral("Apr") << true; // 2027 is major
    }

    void ticks()
    {
        QFETCH(qint64, span);
        QFETCH(qint64, step);
        QFETCH(QString, firstLabel);
        QFETCH(bool, hasMajor);
        QLocale::setDefault(QLocale::c());
        TimelineAxis axis;
        axis.setWidth(1000);
        axis.setView(m_base - kHour, span);
        QCOMPARE(axis.tickStep(), step);
        const QList<TimelineAxis::Tick> ticks = axis.tickList();
        QVERIFY(ticks.size() >= 3);
        QVERIFY(ticks.size() <= 1000 / TimelineAxis::kMinTickSpacing + 2);
        bool major = false;
        for (int i = 0; i < ticks.size(); ++i) {
            const TimelineAxis::Tick &tick = ticks[i];
            QVERIFY(tick.timeMs >= axis.viewStart() && tick.timeMs < axis.viewStart() + span);
            QCOMPARE(tick.x, axis.xOf(tick.timeMs));
            QVERIFY(!tick.label.isEmpty());
            major = major || tick.major;
            if (i > 0) {
                QVERIFY(tick.x - ticks[i - 1].x >= TimelineAxis::kMinTickSpacing * 0.9); // a short month or a DST day
            }
            const QDateTime t = QDateTime::fromMSecsSinceEpoch(tick.timeMs);
            // Aligned to the step in local time.
            if (step < kDay) {
                QCOMPARE(t.time().msecsSinceStartOfDay() % step, 0);
            } else {
                QCOMPARE(t.time(), QTime(0, 0));
                if (step == 7 * kDay) {
                    QCOMPARE(t.date().dayOfWeek(), 1);
                } else if (step >= 30 * kDay) {
                    QCOMPARE(t.date().day(), 1);
                }
            }
        }
        QCOMPARE(major, hasMajor);
        QCOMPARE(ticks.first().label, firstLabel);
        // The same as QML gets them.
        const QVariantList list = axis.ticks();
        QCOMPARE(list.size(), ticks.size());
        QCOMPARE(list.first().toMap().value(QStringLiteral("label")).toString(), ticks.first().label);
        QCOMPARE(list.first().toMap().value(QStringLiteral("x")).toReal(), ticks.first().x);
    }
};

QTEST_GUILESS_MAIN(TimelineAxisTest)
#include "timelineaxistest.moc"
