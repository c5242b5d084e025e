// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TimelineModel over a real snapshot store (SQLite index and packs in a
// temporary directory) holding real images (the image library's sample, a
// two-process tree), under QAbstractItemModelTester: the rows and roles,
// one target's snapshots, and changes applied as rows inserted, removed and
// changed, never a reset.

#include "timelinemodel.h"
#include "../image/sampleimage.h"
#include "snapshotstore.h"

#include <QAbstractItemModelTester>
#include <QDateTime>
#include <QLocale>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <fstream>

using namespace cryopod;
using namespace cryopod::store;

class TimelineModelTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::string m_image;
    int m_stores = 0;

    QString newStorePath()
    {
        return m_dir.filePath(QStringLiteral("store%1").arg(++m_stores));
    }

    // Stores the sample image as a snapshot of target (a process we name).
    int64_t addSnapshot(SnapshotStore &store, const std::string &label, int32_t pid = 4242, const std::string &exe = "/usr/bin/sample")
    {
        IngestOptions options;
        options.label = label;
        TargetInfo target;
        target.host = "testhost";
        target.uid = 1000;
        target.user = "tester";
        target.exe = exe;
        target.cmdline = exe;
        target.pid = pid;
        target.startTimeNs = 1'700'000'000'000'000'000 + pid;
        options.target = target;
        auto id = store.importImage(m_image, options);
        if (!id) {
            qWarning("import: %s", id.error().describe().c_str());
            return 0;
        }
        return *id;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const auto bytes = image::test::writeToBytes(image::test::SampleImage::make(16));
        m_image = m_dir.filePath(QStringLiteral("sample.img")).toStdString();
        std::ofstream out(m_image, std::ios::binary);
        out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
        QVERIFY(out.good());
    }

    void testRowsAndRoles()
    {
        const QString path = newStorePath();
        auto store = SnapshotStore::open(path.toStdString());
        QVERIFY(store);
        const int64_t first = addSnapshot(**store, "first");
        const int64_t second = addSnapshot(**store, "second");
        QVERIFY(first > 0 && second > first);

        TimelineModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy countChanged(&model, &TimelineModel::countChanged);
        model.setStorePath(path); // loads
        QCOMPARE(model.errorString(), QString());
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.count(), 2);
        QCOMPARE(countChanged.count(), 1);

        // Newest first.
        const QModelIndex top = model.index(0);
        QCOMPARE(top.data(TimelineModel::SnapshotIdRole).toLongLong(), second);
        QCOMPARE(top.data(TimelineModel::LabelRole).toString(), QStringLiteral("second"));
        QCOMPARE(model.index(1).data(TimelineModel::SnapshotIdRole).toLongLong(), first);
        QCOMPARE(model.rowOf(first), 1);
        QCOMPARE(model.rowOf(9999), -1);

        // The store's own values, not made up ones.
        auto info = (*store)->snapshot(second);
        QVERIFY(info);
        QCOMPARE(top.data(TimelineModel::TargetIdRole).toLongLong(), info->targetId);
        QCOMPARE(top.data(TimelineModel::ExecutableRole).toString(), QStringLiteral("/usr/bin/sample"));
        QCOMPARE(top.data(TimelineModel::OriginRole).toString(), QStringLiteral("import"));
        QCOMPARE(top.data(TimelineModel::ImageBytesRole).toULongLong(), info->imageBytes);
        QCOMPARE(top.data(TimelineModel::RawBytesRole).toULongLong(), info->rawBytes);
        QVERIFY(info->rawBytes > 16 * 4096);
        QCOMPARE(top.data(TimelineModel::StoredBytesRole).toULongLong(), info->storedBytes);
        QCOMPARE(top.data(TimelineModel::CreatedAtRole).toDateTime(), QDateTime::fromMSecsSinceEpoch(info->createdAtNs / 1000000));
        QCOMPARE(top.data(Qt::DisplayRole).toString(), top.data(TimelineModel::TimeTextRole).toString());
        const QLocale locale;
        QCOMPARE(model.index(1).data(TimelineModel::SizeTextRole).toString(),
                 QStringLiteral("%1 stored of %2")
                     .arg(locale.formattedDataSize(qint64(model.index(1).data(TimelineModel::StoredBytesRole).toULongLong()), 1, QLocale::DataSizeIecFormat),
                          locale.formattedDataSize(qint64(info->rawBytes), 1, QLocale::DataSizeIecFormat)));
        QVERIFY(!top.data(TimelineModel::PinnedRole).toBool());
        // The second of the same pages added (nearly) nothing to the store.
        QVERIFY(top.data(TimelineModel::StoredBytesRole).toULongLong() < model.index(1).data(TimelineModel::StoredBytesRole).toULongLong());
        QCOMPARE(model.roleNames().value(TimelineModel::SnapshotIdRole), QByteArray("snapshotId"));
        QCOMPARE(model.roleNames().value(TimelineModel::SizeTextRole), QByteArray("sizeText"));
    }

    void testOneTarget()
    {
        const QString path = newStorePath();
        auto store = SnapshotStore::open(path.toStdString());
        QVERIFY(store);
        const int64_t a1 = addSnapshot(**store, "a1", 100, "/usr/bin/a");
        const int64_t b1 = addSnapshot(**store, "b1", 200, "/usr/bin/b");
        const int64_t a2 = addSnapshot(**store, "a2", 100, "/usr/bin/a");
        QVERIFY(a1 && b1 && a2);
        const int64_t targetA = (*store)->snapshot(a1)->targetId;
        QCOMPARE((*store)->snapshot(a2)->targetId, targetA);
        QVERIFY((*store)->snapshot(b1)->targetId != targetA);

        TimelineModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setStorePath(path);
        QCOMPARE(model.rowCount(), 3);
        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        model.setTargetId(targetA);
        QCOMPARE(reset.count(), 0);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(0).data(TimelineModel::SnapshotIdRole).toLongLong(), a2);
        QCOMPARE(model.index(1).data(TimelineModel::SnapshotIdRole).toLongLong(), a1);
        model.setTargetId(0);
        QCOMPARE(model.rowCount(), 3);
    }

    void testChangesAreIncremental()
    {
        const QString path = newStorePath();
        auto store = SnapshotStore::open(path.toStdString());
        QVERIFY(store);
        const int64_t first = addSnapshot(**store, "first");
        const int64_t second = addSnapshot(**store, "second");

        TimelineModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setStorePath(path);
        QCOMPARE(model.rowCount(), 2);
        const QPersistentModelIndex firstRow = model.index(1);
        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

        // Another program (cryopodctl, the helper's job) adds a snapshot.
        const int64_t third = addSnapshot(**store, "third");
        QVERIFY(model.reload());
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(inserted.at(0).at(1).toInt(), 0);
        QCOMPARE(inserted.at(0).at(2).toInt(), 0);
        QCOMPARE(model.index(0).data(TimelineModel::SnapshotIdRole).toLongLong(), third);
        QVERIFY(firstRow.isValid());
        QCOMPARE(firstRow.row(), 2);

        // Label and pin through the model: the row changes in place.
        QVERIFY(model.setLabel(first, QStringLiteral("before the upgrade")));
        QVERIFY(model.setPinned(first, true));
        QCOMPARE(changed.count(), 2);
        QCOMPARE(firstRow.data(TimelineModel::LabelRole).toString(), QStringLiteral("before the upgrade"));
        QVERIFY(firstRow.data(TimelineModel::PinnedRole).toBool());
        QCOMPARE((*store)->snapshot(first)->label, std::string("before the upgrade"));
        QVERIFY((*store)->snapshot(first)->pinned);

        // A pinned snapshot is kept unless forced; the refusal is explained.
        QVERIFY(!model.remove(first));
        QVERIFY(!model.errorString().isEmpty());
        QCOMPARE(model.rowCount(), 3);
        QVERIFY(model.remove(second));
        QCOMPARE(removed.count(), 1);
        QCOMPARE(removed.at(0).at(1).toInt(), 1);
        QCOMPARE(model.rowCount(), 2);
        QVERIFY(!(*store)->snapshot(second));
        QVERIFY(model.remove(first, true));
        QCOMPARE(model.rowCount(), 1);
        QVERIFY(!firstRow.isValid());
        QCOMPARE(reset.count(), 0);
        QCOMPARE(model.errorString(), QString()); // cleared by the successful reload
    }

    void testUnreadableStore()
    {
        // A file where the store's directory should be: the error says so.
        const QString path = m_dir.filePath(QStringLiteral("not-a-directory"));
        {
            std::ofstream(path.toStdString()) << "x";
        }
        TimelineModel model;
        QSignalSpy error(&model, &TimelineModel::errorStringChanged);
        model.setStorePath(path);
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(error.count(), 1);
        QVERIFY2(model.errorString().startsWith(QLatin1String("Cannot open the snapshot store: ")), qPrintable(model.errorString()));
        QVERIFY(!model.reload());
    }
};

QTEST_GUILESS_MAIN(TimelineModelTest)
#include "timelinemodeltest.moc"
