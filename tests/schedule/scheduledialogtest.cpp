// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The schedule dialog in the real window on a private Xvfb (the GUI tests'
// world, tests/app/guitestsupport.h): opened from the Processes page for a
// process of this test, it previews what the retention keeps, and "Create
// Schedule" puts the schedule into the store (a temporary one) and installs
// the autostart entry; the timeline says when a schedule skipped its
// snapshot because the process was gone; the Schedules page pauses, edits
// (in the dialog in edit mode) and deletes a schedule; QML reports no warnings.
// Screenshots go to <build>/screenshots/.

#include "../backend/testprocesses.h"
#include "guitestsupport.h"

#include "schedulematch.h"
#include "schedulemodel.h"
#include "schedulerunner.h"
#include "schedulestore.h"
#include "scheduletestsupport.h"
#include "snapshotstore.h"
#include "storetestsupport.h"
#include "timelinemodel.h"

#include <QFile>

#include <QTemporaryDir>
#include <csignal>
#include <sys/wait.h>

using namespace GuiTest;
using namespace cryopod;
using namespace cryopod::schedule;
using namespace ScheduleTestSupport;

class ScheduleDialogTest : public WindowTest
{
    Q_OBJECT

    pid_t m_probe = -1;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(startFixture(false));
        qputenv("XDG_CONFIG_HOME", m_dir.filePath(QStringLiteral("config")).toLocal8Bit());
        m_probe = TestProcesses::forkNamed(QStringLiteral("cptsch-%1").arg(::getpid()).toLatin1().constData());
        QVERIFY(m_probe > 0);
        QVERIFY(openWindow());
    }

    void cleanupTestCase()
    {
        closeWindow();
        TestProcesses::killAndReap(m_probe);
        endFixture();
    }

    void createFromTheProcessesPage()
    {
        // Made when first opened, not with the page.
        QVERIFY(!m_window->findChild<QObject *>(QStringLiteral("scheduleDialog")));
        // what the Schedule… action does for the selected process
        QObject *processesPage = m_window->findChild<QObject *>(QStringLiteral("processesPage"));
        QVERIFY(processesPage);
        QVERIFY(QMetaObject::invokeMethod(processesPage, "openScheduleDialog", Q_ARG(int, int(m_probe)), Q_ARG(QString, QStringLiteral("probe"))));
        QObject *dialog = m_window->findChild<QObject *>(QStringLiteral("scheduleDialog"));
        QVERIFY(dialog);
        QObject *model = dialog->findChild<QObject *>(QStringLiteral("scheduleModel"));
        QVERIFY(model);
        QCOMPARE(dialog->property("pid").toInt(), int(m_probe));
        QTRY_VERIFY_WITH_TIMEOUT(dialog->property("opened").toBool(), kTimeout);
        QVERIFY(waitForFrame(m_window));
        // the rule option knows the executable (this test's)
        QVERIFY2(dialog->property("executable").toString().endsWith(QLatin1String("/schedule-dialog")), qPrintable(dialog->property("executable").toString()));
        // the default: every 15 minutes; 35 days of runs previewed
        QCOMPARE(dialog->property("when").toString(), QStringLiteral("every 15m"));
        QCOMPARE(dialog->property("whenProblem").toString(), QString());
        const QVariantMap preview = dialog->property("preview").toMap();
        QVERIFY(qAbs(preview.value(QStringLiteral("runs")).toInt() - 35 * 24 * 4) <= 1);
        const int kept = preview.value(QStringLiteral("kept")).toInt();
        QVERIFY2(kept > 24 && kept <= 5 + 24 + 7 + 4, qPrintable(QString::number(kept)));
        QVERIFY(showsText(m_window, preview.value(QStringLiteral("text")).toString()));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("schedule-dialog.png")));

        QObject *create = m_window->findChild<QObject *>(QStringLiteral("createScheduleAction"));
        QVERIFY(create && create->property("enabled").toBool());
        QMetaObject::invokeMethod(create, "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->property("opened").toBool(), kTimeout);

        auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
        QVERIFY(store);
        auto schedules = ScheduleStore((*store)->database()).list();
        QVERIFY(schedules);
        QCOMPARE(schedules->size(), size_t(1));
        const Schedule &s = schedules->front();
        QVERIFY(s.target.kind == ScheduleTarget::Kind::Process);
        QCOMPARE(s.target.pid, int32_t(m_probe));
        QCOMPARE(s.timing.describe(), std::string("every 15m"));
        QCOMPARE(s.retention.keepLast, 5);
        QCOMPARE(s.retention.hourly, 24);
        QCOMPARE(s.name, std::string("probe"));
        QVERIFY(s.mode == SnapshotMode::KeepRunning); // the mode box's default
        QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("config/autostart/io.github.cryopod.background.desktop"))));
        QCOMPARE(model->property("count").toInt(), 1);

        QCOMPARE(model->property("errorString").toString(), QString());
    }

    void timelineSaysWhatWasSkipped()
    {
        // a schedule whose process is gone, run once: a skipped run
        {
            auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
            QVERIFY(store);
            const auto gone = scheduleOfAGoneProcess("nightly", "daily 03:00");
            QVERIFY(gone);
            const Schedule &s = *gone;
            QVERIFY(ScheduleStore((*store)->database()).add(s));
            ProducerTaker taker([](const Schedule &) { return std::unique_ptr<store::ImageProducer>(); });
            ScheduleRunner runner(**store, taker, realTimeNs);
            auto runs = runner.runDue();
            QVERIFY(runs);
        }
        QMetaObject::invokeMethod(m_window->findChild<QObject *>(QStringLiteral("timelineDrawerAction")), "trigger");
        QQuickItem *message = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((message = m_window->findChild<QQuickItem *>(QStringLiteral("scheduleRunsMessage"))) != nullptr, kTimeout);
        const QString text = message->property("text").toString();
        QVERIFY2(text.contains(QStringLiteral("Schedule “nightly” skipped its snapshot")) && text.contains(QLatin1String("target gone: process")),
                 qPrintable(text));
        QTRY_VERIFY_WITH_TIMEOUT(messageShown(message), kTimeout);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("timeline-skipped-run.png")));
    }

    void timelineMarksScheduledSnapshots()
    {
        // a real image of a real process, stored as a schedule stores it
        StoreTestSupport::Churn churn;
        QVERIFY(churn.start(m_dir.path().toStdString(), 2, 1.0, 5));
        const std::string image = m_dir.filePath(QStringLiteral("churn.img")).toStdString();
        QVERIFY(churn.checkpointTo(image, false));
        {
            auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
            QVERIFY(store);
            store::IngestOptions options;
            options.origin = "schedule";
            auto id = (*store)->importImage(image, options);
            QVERIFY2(id, id ? "" : id.error().describe().c_str());
        }
        QQuickItem *list = findItem(m_window->contentItem(), QStringLiteral("timelineList"));
        QVERIFY(list);
        auto *model = list->property("model").value<TimelineModel *>();
        QVERIFY(model);
        QVERIFY(model->reload());
        QCOMPARE(model->rowCount(), 1);
        QCOMPARE(model->data(model->index(0), TimelineModel::OriginRole).toString(), QStringLiteral("schedule"));
        const QString time = model->data(model->index(0), TimelineModel::TimeTextRole).toString();
        QTRY_VERIFY_WITH_TIMEOUT(showsText(m_window, time + QStringLiteral(" (scheduled)")), kTimeout);
        QVERIFY(saveScreenshot(m_window, QStringLiteral("timeline-scheduled-snapshot.png")));
    }

    void schedulesPagePausesEditsAndDeletes()
    {
        QMetaObject::invokeMethod(m_window->findChild<QObject *>(QStringLiteral("schedulesDrawerAction")), "trigger");
        QQuickItem *list = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((list = findItem(m_window->contentItem(), QStringLiteral("schedulesList"))) != nullptr, kTimeout);
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 2, kTimeout); // the dialog's and "nightly"
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(showsText(m_window, QStringLiteral("probe — every 15m")));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("schedules-page.png")));
        auto store = store::SnapshotStore::open(m_dir.filePath(QStringLiteral("store")).toStdString());
        QVERIFY(store);
        ScheduleStore schedules((*store)->database());
        // the first row's switch pauses the first schedule
        QQuickItem *toggle = findItem(list, QStringLiteral("scheduleEnabledSwitch"));
        QVERIFY(toggle && toggle->property("checked").toBool());
        click(m_window, toggle);
        QTRY_VERIFY_WITH_TIMEOUT(!schedules.list()->front().enabled, kTimeout);
        QVERIFY(schedules.list()->back().enabled);
        QTRY_VERIFY_WITH_TIMEOUT(showsText(m_window, QStringLiteral("Active")), kTimeout);
        // and back
        QVERIFY(waitForFrame(m_window));
        toggle = findItem(list, QStringLiteral("scheduleEnabledSwitch"));
        QVERIFY(toggle && !toggle->property("checked").toBool());
        click(m_window, toggle);
        QTRY_VERIFY_WITH_TIMEOUT(schedules.list()->front().enabled, kTimeout);
        QVERIFY(schedules.list()->front().nextRunNs > realTimeNs());
        // its edit button opens the dialog filled from the schedule; saving
        // changes it in place
        const Schedule before = schedules.list()->front();
        QVERIFY(waitForFrame(m_window));
        QQuickItem *editButton = findItem(list, QStringLiteral("editScheduleButton"));
        QVERIFY(editButton);
        click(m_window, editButton);
        QObject *editDialog = m_window->findChild<QObject *>(QStringLiteral("editScheduleDialog"));
        QVERIFY(editDialog);
        QTRY_VERIFY_WITH_TIMEOUT(editDialog->property("opened").toBool(), kTimeout);
        QCOMPARE(editDialog->property("scheduleId").toLongLong(), qint64(before.id));
        QCOMPARE(editDialog->property("when").toString(), QStringLiteral("every 15m"));
        QObject *nameField = editDialog->findChild<QObject *>(QStringLiteral("scheduleNameField"));
        QObject *kindBox = editDialog->findChild<QObject *>(QStringLiteral("scheduleKindBox"));
        QObject *timeField = editDialog->findChild<QObject *>(QStringLiteral("scheduleTimeField"));
        QObject *keepLast = editDialog->findChild<QObject *>(QStringLiteral("keepLastField"));
        QObject *modeBox = editDialog->findChild<QObject *>(QStringLiteral("scheduleModeBox"));
        QVERIFY(nameField && kindBox && timeField && keepLast && modeBox);
        // The schedule's mode is shown; the edit freezes the program instead.
        QCOMPARE(modeBox->property("currentIndex").toInt(), 0);
        QCOMPARE(modeBox->property("currentValue").toInt(), int(ScheduleModel::KeepRunning));
        modeBox->setProperty("currentIndex", 1);
        QCOMPARE(modeBox->property("currentValue").toInt(), int(ScheduleModel::Freeze));
        QCOMPARE(nameField->property("text").toString(), QStringLiteral("probe"));
        QCOMPARE(keepLast->property("value").toInt(), 5);
        nameField->setProperty("text", QStringLiteral("probe edited"));
        kindBox->setProperty("currentIndex", 2);
        timeField->setProperty("text", QStringLiteral("04:45"));
        keepLast->setProperty("value", 9);
        QTRY_COMPARE_WITH_TIMEOUT(editDialog->property("when").toString(), QStringLiteral("daily 04:45"), kTimeout);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("schedule-edit-dialog.png")));
        QObject *save = editDialog->findChild<QObject *>(QStringLiteral("saveScheduleAction"));
        QVERIFY(save && save->property("enabled").toBool());
        QMetaObject::invokeMethod(save, "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(!editDialog->property("opened").toBool(), kTimeout);
        const Schedule after = schedules.list()->front();
        QCOMPARE(after.id, before.id);
        QCOMPARE(after.name, std::string("probe edited"));
        QCOMPARE(after.timing.describe(), std::string("daily at 04:45"));
        QCOMPARE(after.retention.keepLast, 9);
        QVERIFY(after.mode == SnapshotMode::Freeze);
        QVERIFY(before.mode == SnapshotMode::KeepRunning);
        QCOMPARE(after.retention.hourly, before.retention.hourly);
        QCOMPARE(after.target.pid, before.target.pid);
        QCOMPARE(after.target.startTimeNs, before.target.startTimeNs);
        QCOMPARE(after.createdAtNs, before.createdAtNs);
        QVERIFY(after.nextRunNs > realTimeNs());
        QTRY_VERIFY_WITH_TIMEOUT(showsText(m_window, QStringLiteral("probe edited — daily at 04:45")), kTimeout);
        // (the dialog's modal overlay gone: it would take the next click)
        QTRY_VERIFY_WITH_TIMEOUT(!editDialog->property("visible").toBool(), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        // and its delete button deletes it
        QVERIFY(waitForFrame(m_window));
        QQuickItem *remove = findItem(list, QStringLiteral("deleteScheduleButton"));
        QVERIFY(remove);
        click(m_window, remove);
        QTRY_COMPARE_WITH_TIMEOUT(schedules.list()->size(), size_t(1), kTimeout);
        QCOMPARE(schedules.list()->front().name, std::string("nightly"));
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 1, kTimeout);
    }

    void noQmlWarnings()
    {
        QVERIFY2(qmlWarnings().isEmpty(), qPrintable(qmlWarnings().join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    return GuiTest::runGuiTest<ScheduleDialogTest>(argc, argv);
}

#include "scheduledialogtest.moc"
