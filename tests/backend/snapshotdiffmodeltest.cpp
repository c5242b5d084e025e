// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SnapshotDiffModel against a real store holding real snapshots: a running
// store_churn checkpointed by the engine before and after it rewrote part
// of its memory (and logged a line: its stdout moved on; the second image
// with its pages compressed), and a second process. Root, as the other tests that checkpoint.

#include "snapshotdiffmodel.h"
#include "../store/storetestsupport.h"
#include "imageinfo.h"
#include "snapshotdetailsmodel.h"
#include "snapshotstore.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace cryopod;
using StoreTestSupport::Churn;

class SnapshotDiffModelTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_storePath;
    Churn m_churn;
    Churn m_other;
    qint64 m_before = 0; // m_churn
    qint64 m_after = 0; // m_churn after a change
    qint64 m_otherId = 0; // m_other

    qint64 snapshot(const Churn &churn, const std::string &name, bool compress = false)
    {
        const std::string path = m_dir.filePath(QString::fromStdString(name)).toStdString();
        if (!churn.checkpointTo(path, compress)) {
            return 0;
        }
        auto store = store::SnapshotStore::open(m_storePath.toStdString());
        if (!store) {
            return 0;
        }
        auto id = (*store)->importImage(path);
        return id ? *id : 0;
    }

    // The model's rows for before/after, once loaded.
    static bool load(SnapshotDiffModel &model, qint64 before, qint64 after)
    {
        QSignalSpy loaded(&model, &SnapshotDiffModel::loaded);
        model.setBeforeId(before);
        model.setAfterId(after);
        return loaded.wait(60000) && !model.isLoading();
    }

    static QString role(const SnapshotDiffModel &model, int row, int role)
    {
        return model.index(row).data(role).toString();
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0) {
            QSKIP("checkpoints real processes: run as root");
        }
        StoreTestSupport::becomeSubreaper();
        QVERIFY(m_dir.isValid());
        m_storePath = m_dir.filePath(QStringLiteral("store"));
        QVERIFY(m_churn.start(m_dir.path().toStdString(), 4, 10.0, 31));
        QVERIFY(m_other.start(m_dir.path().toStdString(), 2, 10.0, 32));
        m_before = snapshot(m_churn, "before.img");
        QVERIFY(m_churn.change());
        // Its pages compressed this time (as a full-pause snapshot streams
        // them): the same regions, other bytes in the image.
        m_after = snapshot(m_churn, "after.img", true);
        m_otherId = snapshot(m_other, "other.img");
        QVERIFY(m_before > 0 && m_after > m_before && m_otherId > m_after);
    }

    void sameSnapshotHasNoDifference()
    {
        SnapshotDiffModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setStorePath(m_storePath);
        QVERIFY(load(model, m_before, m_before));
        QCOMPARE(model.errorString(), QString());
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(model.summary().startsWith(QStringLiteral("0 difference")));
        QVERIFY(model.summary().contains(QStringLiteral(" in 1 processes")));
    }

    void changedMemoryAndFile()
    {
        const auto a = SnapshotDetailsModel::readImage(m_storePath.toStdString(), m_before);
        const auto b = SnapshotDetailsModel::readImage(m_storePath.toStdString(), m_after);
        QVERIFY2(a.info && b.info, qPrintable(a.error + b.error));
        const image::ImageProcess *pa = a.info->process(m_churn.pid());
        const image::ImageProcess *pb = b.info->process(m_churn.pid());
        QVERIFY(pa && pb);

        SnapshotDiffModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setStorePath(m_storePath);
        QVERIFY(load(model, m_before, m_after));
        QCOMPARE(model.errorString(), QString());
        QVERIFY(model.rowCount() > 0);

        // The same process in both: not added or removed.
        int memoryRows = 0;
        bool stdoutMoved = false;
        for (int row = 0; row < model.rowCount(); ++row) {
            const QString section = role(model, row, SnapshotDiffModel::SectionRole);
            const QString change = role(model, row, SnapshotDiffModel::ChangeRole);
            QCOMPARE(model.index(row).data(SnapshotDiffModel::PidRole).toInt(), m_churn.pid());
            if (section == QLatin1String("processes")) {
                QCOMPARE(change, QStringLiteral("changed"));
            } else if (section == QLatin1String("memory")) {
                ++memoryRows;
                // Each row is a region whose record or saved bytes differ,
                // with the images' own numbers.
                const qint64 rawBefore = model.index(row).data(SnapshotDiffModel::BytesBeforeRole).toLongLong();
                const qint64 storedBefore = model.index(row).data(SnapshotDiffModel::StoredBeforeRole).toLongLong();
                const qint64 storedAfter = model.index(row).data(SnapshotDiffModel::StoredAfterRole).toLongLong();
                bool found = false;
                for (const image::ImageVma &va : pa->vmas) {
                    const QString where = QStringLiteral("0x%1 ").arg(va.vma.start, 0, 16);
                    if (!role(model, row, SnapshotDiffModel::TitleRole).contains(where)) {
                        continue;
                    }
                    found = true;
                    QCOMPARE(rawBefore, qint64(va.rawBytes));
                    QCOMPARE(storedBefore, qint64(va.storedBytes));
                    const auto vb = std::find_if(pb->vmas.begin(), pb->vmas.end(), [&](const image::ImageVma &v) { return v.vma.start == va.vma.start; });
                    if (vb != pb->vmas.end()) {
                        QCOMPARE(storedAfter, qint64(vb->storedBytes));
                        QVERIFY(!(vb->vma == va.vma && vb->rawBytes == va.rawBytes && vb->storedBytes == va.storedBytes));
                    }
                }
                QVERIFY2(found || change == QLatin1String("added"), qPrintable(role(model, row, SnapshotDiffModel::TitleRole)));
            } else if (section == QLatin1String("files")) {
                QCOMPARE(change, QStringLiteral("changed"));
                if (role(model, row, SnapshotDiffModel::TitleRole).startsWith(QStringLiteral("File descriptor 1 "))) {
                    const auto fdOf = [](const image::ImageProcess &p) {
                        return std::find_if(p.fds.begin(), p.fds.end(), [](const image::ImageFd &f) { return f.fd.fd == 1; })->fd.pos;
                    };
                    QVERIFY(fdOf(*pb) > fdOf(*pa)); // it logged "changed 1"
                    QVERIFY(role(model, row, SnapshotDiffModel::BeforeRole).contains(QStringLiteral("position %1").arg(fdOf(*pa))));
                    QVERIFY(role(model, row, SnapshotDiffModel::AfterRole).contains(QStringLiteral("position %1").arg(fdOf(*pb))));
                    stdoutMoved = true;
                }
            } else {
                QFAIL(qPrintable(QStringLiteral("unexpected %1 row: %2").arg(section, role(model, row, SnapshotDiffModel::TitleRole))));
            }
        }
        QVERIFY(stdoutMoved);
        // Every region that differs has its row (the churn buffer was rewritten).
        int differing = 0;
        for (const image::ImageVma &va : pa->vmas) {
            const auto vb = std::find_if(pb->vmas.begin(), pb->vmas.end(), [&](const image::ImageVma &v) { return v.vma.start == va.vma.start; });
            differing += vb == pb->vmas.end() || !(vb->vma == va.vma && vb->rawBytes == va.rawBytes && vb->storedBytes == va.storedBytes);
        }
        for (const image::ImageVma &vb : pb->vmas) {
            differing += std::none_of(pa->vmas.begin(), pa->vmas.end(), [&](const image::ImageVma &v) { return v.vma.start == vb.vma.start; });
        }
        QCOMPARE(memoryRows, differing);
        QVERIFY(memoryRows > 0);
    }

    void otherProcess()
    {
        SnapshotDiffModel model;
        model.setStorePath(m_storePath);
        QVERIFY(load(model, m_before, m_otherId));
        QCOMPARE(model.errorString(), QString());
        QCOMPARE(role(model, 0, SnapshotDiffModel::SectionRole), QStringLiteral("processes"));
        QCOMPARE(role(model, 1, SnapshotDiffModel::SectionRole), QStringLiteral("processes"));
        QSet<QString> seen;
        for (int row : {0, 1}) {
            const int pid = model.index(row).data(SnapshotDiffModel::PidRole).toInt();
            const QString change = role(model, row, SnapshotDiffModel::ChangeRole);
            QVERIFY(role(model, row, SnapshotDiffModel::TitleRole).startsWith(QStringLiteral("store_churn (process %1)").arg(pid)));
            if (pid == m_churn.pid()) {
                QCOMPARE(change, QStringLiteral("removed"));
                QVERIFY(role(model, row, SnapshotDiffModel::AfterRole).isEmpty());
                QVERIFY(model.index(row).data(SnapshotDiffModel::BytesBeforeRole).toLongLong() > 4 << 20);
            } else {
                QCOMPARE(pid, m_other.pid());
                QCOMPARE(change, QStringLiteral("added"));
                QVERIFY(role(model, row, SnapshotDiffModel::BeforeRole).isEmpty());
                QVERIFY(model.index(row).data(SnapshotDiffModel::BytesAfterRole).toLongLong() > 2 << 20);
            }
            seen.insert(change);
        }
        QCOMPARE(seen.size(), 2);
    }

    void missingSnapshot()
    {
        SnapshotDiffModel model;
        model.setStorePath(m_storePath);
        QVERIFY(load(model, m_before, 999));
        QVERIFY(!model.errorString().isEmpty());
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.summary(), QString());
    }
};

QTEST_GUILESS_MAIN(SnapshotDiffModelTest)
#include "snapshotdiffmodeltest.moc"
