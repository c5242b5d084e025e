// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Checkpointability through the real helper: ReportModel (the report sheet)
// and ProcessModel's badge (ReportCache) for processes this test starts,
// judged by the engine in cryopod-helper. Runs inside `scripts/run
// --no-build --exec` (private system bus, polkitd, bus-activated helper from
// this build), as root, so the processes are the caller's own.
//
//   quiet:   sleep with /dev/null on 0-2 and nothing else   -> ok
//   parent:  sh with a child (sleep): a tree of two          -> ok
//   nocwd:   sleep whose working directory was removed      -> refused

#include "reportmodel.h"
#include "processmodel.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>

namespace
{
constexpr int kTimeout = 60000;

void startQuiet(QProcess &process, const QStringList &command, const QString &cwd = QString())
{
    process.setProgram(command.constFirst());
    process.setArguments(command.mid(1));
    process.setStandardInputFile(QProcess::nullDevice());
    process.setStandardOutputFile(QProcess::nullDevice());
    process.setStandardErrorFile(QProcess::nullDevice());
    process.setUnixProcessParameters(QProcess::UnixProcessFlag::CloseFileDescriptors | QProcess::UnixProcessFlag::ResetSignalHandlers);
    if (!cwd.isEmpty()) {
        process.setWorkingDirectory(cwd);
    }
    process.start();
}

bool refreshAndWait(ProcessModel &model)
{
    QSignalSpy refreshed(&model, &ProcessModel::refreshed);
    model.refresh();
    return refreshed.wait(kTimeout);
}

// Reads the badge's role (which asks the helper) until it is an answer.
QString verdictOf(ProcessModel &model, qint64 pid)
{
    QString verdict;
    // On a timeout the last answer ("pending") is what the test sees.
    [[maybe_unused]] const bool answered = QTest::qWaitFor(
        [&] {
            const QModelIndex index = model.indexForPid(int(pid)).siblingAtColumn(ProcessModel::CheckpointColumn);
            verdict = index.data(ProcessModel::CheckpointVerdictRole).toString();
            return verdict != QLatin1String("pending");
        },
        kTimeout);
    return verdict;
}
} // namespace

class ReportModelTest : public QObject
{
    Q_OBJECT

    QProcess m_quiet;
    QProcess m_parent;
    QProcess m_nocwd;
    QTemporaryDir m_dir;

private Q_SLOTS:
    void initTestCase()
    {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        QVERIFY2(qEnvironmentVariableIsSet("DBUS_SYSTEM_BUS_ADDRESS"), "run inside scripts/run (the private system bus and the helper)");
        startQuiet(m_quiet, {QStringLiteral("/bin/sleep"), QStringLiteral("3600")});
        startQuiet(m_parent, {QStringLiteral("/bin/sh"), QStringLiteral("-c"), QStringLiteral("sleep 3600 & wait")});
        const QString gone = m_dir.filePath(QStringLiteral("gone"));
        QVERIFY(QDir().mkpath(gone));
        startQuiet(m_nocwd, {QStringLiteral("/bin/sleep"), QStringLiteral("3600")}, gone);
        QVERIFY(m_quiet.waitForStarted() && m_parent.waitForStarted() && m_nocwd.waitForStarted());
        QVERIFY(QDir(gone).removeRecursively());
        // sh has started its child.
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                QFile children(QStringLiteral("/proc/%1/task/%1/children").arg(m_parent.processId()));
                return children.open(QIODevice::ReadOnly) && !children.readAll().trimmed().isEmpty();
            }(),
            kTimeout);
    }

    void cleanupTestCase()
    {
        // sh's child first: killed after its parent it would outlive the test.
        QFile children(QStringLiteral("/proc/%1/task/%1/children").arg(m_parent.processId()));
        if (children.open(QIODevice::ReadOnly)) {
            const QList<QByteArray> pids = children.readAll().trimmed().split(' ');
            for (const QByteArray &pid : pids) {
                if (const pid_t child = pid_t(pid.toInt()); child > 0) {
                    ::kill(child, SIGKILL);
                    ::waitpid(child, nullptr, 0); // reparented to us (a subreaper) once sh is gone, or sh reaps it
                }
            }
        }
        for (QProcess *process : {&m_quiet, &m_parent, &m_nocwd}) {
            process->kill();
            process->waitForFinished();
        }
    }

    void testQuietProcessCanBeSnapshotted()
    {
        ReportModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&model, &ReportModel::reportChanged);
        model.setPid(int(m_quiet.processId()));
        QVERIFY(model.isLoading());
        QVERIFY(changed.wait(kTimeout));
        QVERIFY2(model.errorString().isEmpty(), qPrintable(model.errorString()));
        QVERIFY(!model.isLoading());
        QCOMPARE(model.verdict(), QStringLiteral("ok"));
        // The process, then its three fds, all on /dev/null.
        QCOMPARE(model.rowCount(), 4);
        const QModelIndex process = model.index(0);
        QCOMPARE(process.data(ReportModel::KindRole).toString(), QStringLiteral("process"));
        QCOMPARE(process.data(ReportModel::ProcessPidRole).toLongLong(), m_quiet.processId());
        QCOMPARE(process.data(ReportModel::ProcessNameRole).toString(), QStringLiteral("sleep"));
        QCOMPARE(process.data(ReportModel::VerdictRole).toString(), QStringLiteral("ok"));
        QCOMPARE(process.data(ReportModel::ReasonRole).toString(), QString());
        for (int fd = 0; fd < 3; ++fd) {
            const QModelIndex row = model.index(1 + fd);
            QCOMPARE(row.data(ReportModel::KindRole).toString(), QStringLiteral("fd"));
            QCOMPARE(row.data(ReportModel::FdRole).toInt(), fd);
            QCOMPARE(row.data(ReportModel::TargetRole).toString(), QStringLiteral("/dev/null"));
            QCOMPARE(row.data(ReportModel::DescriptionRole).toString(), QStringLiteral("File descriptor %1: nothing (/dev/null)").arg(fd));
            QCOMPARE(row.data(ReportModel::SectionRole).toString(), QStringLiteral("sleep (process %1)").arg(m_quiet.processId()));
        }
        QCOMPARE(model.roleNames().value(ReportModel::ReasonRole), QByteArray("reason"));
    }

    // The engine checkpoints a process with all its descendants: the child is
    // a process of the report, not a reason against the parent.
    void testChildIsInTheTree()
    {
        ReportModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&model, &ReportModel::reportChanged);
        model.setPid(int(m_parent.processId()));
        QVERIFY(changed.wait(kTimeout));
        QVERIFY2(model.errorString().isEmpty(), qPrintable(model.errorString()));
        QCOMPARE(model.verdict(), QStringLiteral("ok"));
        const QModelIndex process = model.index(0);
        QCOMPARE(process.data(ReportModel::ProcessNameRole).toString(), QStringLiteral("sh"));
        QCOMPARE(process.data(ReportModel::VerdictRole).toString(), QStringLiteral("ok"));
        bool childListed = false;
        for (int i = 0; i < model.rowCount(); ++i) {
            const QModelIndex row = model.index(i);
            childListed |= row.data(ReportModel::KindRole).toString() == QLatin1String("process")
                && row.data(ReportModel::ProcessNameRole).toString() == QLatin1String("sleep");
        }
        QVERIFY2(childListed, "the child (sleep) is not a process of the report");
    }

    void testRemovedWorkingDirectoryIsRefused()
    {
        ReportModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&model, &ReportModel::reportChanged);
        model.setPid(int(m_nocwd.processId()));
        QVERIFY(changed.wait(kTimeout));
        QCOMPARE(model.verdict(), QStringLiteral("refused"));
        const QString reason = model.index(0).data(ReportModel::ReasonRole).toString();
        QVERIFY2(reason.contains(QLatin1String("working directory")) && reason.contains(QLatin1String("removed")), qPrintable(reason));

        // Another pid: the rows are that process's; pid 0: none.
        model.setPid(int(m_quiet.processId()));
        QVERIFY(model.isLoading());
        QVERIFY(changed.wait(kTimeout));
        QCOMPARE(model.verdict(), QStringLiteral("ok"));
        model.setPid(0);
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.verdict(), QString());
    }

    void testNoSuchProcess()
    {
        // A pid that is not running: the helper's message, no rows.
        QProcess gone;
        startQuiet(gone, {QStringLiteral("/bin/sleep"), QStringLiteral("3600")});
        QVERIFY(gone.waitForStarted(kTimeout));
        const qint64 pid = gone.processId();
        gone.kill();
        QVERIFY(gone.waitForFinished(kTimeout)); // and reaped
        ReportModel model;
        QSignalSpy changed(&model, &ReportModel::reportChanged);
        model.setPid(int(pid));
        QVERIFY(changed.wait(kTimeout));
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(!model.errorString().isEmpty());
    }

    void testBadgesInTheProcessTree()
    {
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy verdicts(&model, &QAbstractItemModel::dataChanged);
        QVERIFY(refreshAndWait(model));

        // Asked for when read, answered later (the UI thread never waits).
        const QModelIndex quiet = model.indexForPid(int(m_quiet.processId())).siblingAtColumn(ProcessModel::CheckpointColumn);
        QVERIFY(quiet.isValid());
        QCOMPARE(quiet.data(ProcessModel::CheckpointVerdictRole).toString(), QStringLiteral("pending"));
        QCOMPARE(verdictOf(model, m_quiet.processId()), QStringLiteral("ok"));
        QVERIFY(!verdicts.isEmpty());
        QCOMPARE(model.indexForPid(int(m_quiet.processId())).data(ProcessModel::CheckpointSummaryRole).toString(), QString());

        QCOMPARE(verdictOf(model, m_parent.processId()), QStringLiteral("ok")); // with its child, a tree
        QCOMPARE(verdictOf(model, m_nocwd.processId()), QStringLiteral("refused"));
        QVERIFY(model.indexForPid(int(m_nocwd.processId())).data(ProcessModel::CheckpointSummaryRole).toString().contains(QLatin1String("working directory")));

        // Sorting by the badge column puts the known verdicts in order.
        QVERIFY(model.indexForPid(int(m_quiet.processId())).siblingAtColumn(ProcessModel::CheckpointColumn).data(ProcessModel::SortRole).toInt() <
                model.indexForPid(int(m_nocwd.processId())).siblingAtColumn(ProcessModel::CheckpointColumn).data(ProcessModel::SortRole).toInt());

        // Asked again on demand (after the report sheet): the answer comes back.
        verdicts.clear();
        model.refreshCheckpointability(int(m_nocwd.processId()));
        QCOMPARE(verdictOf(model, m_nocwd.processId()), QStringLiteral("refused"));

        // Off: no verdicts, no calls.
        model.setCheckpointReports(false);
        QCOMPARE(model.indexForPid(int(m_quiet.processId())).data(ProcessModel::CheckpointVerdictRole).toString(), QString());
    }

    void testKernelThreadsAreRefusedWithoutAsking()
    {
        ProcessModel model;
        model.setActive(false);
        model.setShowOnlyMine(false);
        QVERIFY(refreshAndWait(model));
        const QModelIndex kthreadd = model.indexForPid(2);
        if (!kthreadd.isValid() || !kthreadd.data(ProcessModel::KernelThreadRole).toBool()) {
            QSKIP("no kthreadd (pid 2) in this pid namespace");
        }
        QCOMPARE(kthreadd.data(ProcessModel::CheckpointVerdictRole).toString(), QStringLiteral("refused"));
        QCOMPARE(kthreadd.data(ProcessModel::CheckpointSummaryRole).toString(), QStringLiteral("A kernel thread cannot be snapshotted."));
    }
};

QTEST_GUILESS_MAIN(ReportModelTest)

#include "reportmodeltest.moc"
