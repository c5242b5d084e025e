// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Several leave-running checkpoints in a row of a process whose threads
// sleep (relative nanosleep, absolute clock_nanosleep): the original must run
// on untouched, and every image must restore to a process whose sleeps go on
// as if nothing happened. From the second checkpoint on, a relative sleep is
// inside restart_syscall (the kernel's restart of the sleep the first one
// interrupted), whose restart block the restored thread does not have.
// The process itself says whether any sleep saw EINTR, ended early or failed.
// Frozen and low-pause checkpoints both.
#include "engine.h"
#include "workloadrun.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;

using namespace workloadrun;

class LeaveRunningTest : public QObject
{
    Q_OBJECT

    // count checkpoints of the running target (alternately frozen and low
    // pause), then go: the original must report ok; then each image is
    // restored, gets go and must report ok.
    void checkpointsInARow(const char *program, const char *mode, int count, int gapMs)
    {
        QTemporaryDir state;
        QVERIFY(state.isValid());
        const pid_t pid = start(program, state.path(), mode);
        QVERIFY(pid > 0);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state.filePath(QStringLiteral("ready"))), 20000);
        QTest::qWait(150); // every sleeper inside its sleep
        QTemporaryDir images;
        QStringList taken;
        for (int i = 0; i < count; ++i) {
            const QString image = images.filePath(QStringLiteral("%1.cryopod").arg(i));
            const int fd = open(image.toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            QVERIFY(fd >= 0);
            engine::CheckpointOptions options;
            options.leaveRunning = true;
            options.lowPause = i % 2 == 1;
            auto result = engine::checkpoint(pid, fd, options);
            close(fd);
            if (!result) {
                ::kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
            QVERIFY2(result, result ? "" : result.error().describe().c_str());
            QCOMPARE(::kill(pid, 0), 0); // runs on
            taken << image;
            QTest::qWait(gapMs);
        }
        QString why;
        QVERIFY2(goAndVerify(state.path(), pid, &why), qPrintable(QStringLiteral("the original: ") + why));
        for (const QString &image : std::as_const(taken)) {
            QVERIFY2(restoreAndVerify(image, state.path(), pid, &why), qPrintable(image + QStringLiteral(": ") + why));
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Restored targets are our children; a lost one would be reaped by us.
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    }

    void relativeSleep()
    {
        checkpointsInARow(SLEEPTARGET_PATH, "rel", 4, 30);
    }

    void absoluteSleep()
    {
        checkpointsInARow(SLEEPTARGET_PATH, "abs", 4, 30);
    }

    // Followers sleeping while the leader waits: syscalls are injected into
    // each of them.
    void sleepingThreads()
    {
        checkpointsInARow(SLEEPTARGET_PATH, "threads", 4, 30);
    }

    // Back to back: the next freeze finds the sleepers inside restart_syscall.
    void backToBack()
    {
        checkpointsInARow(SLEEPTARGET_PATH, "threads", 4, 0);
    }

    // The threads workload (its sleeper counts EINTR; every thread checks
    // its own state) on its own verdict.
    void threadsWorkload()
    {
        checkpointsInARow(WL_THREADS, nullptr, 3, 30);
    }

    // Raw nanosleep, poll with a timeout and a futex wait with a timeout, back
    // to back: from the second checkpoint on each is inside restart_syscall,
    // and the image must name the call behind it (regs.cpp), or the restored
    // thread sees EINTR.
    void restartBlockCallsBackToBack()
    {
        checkpointsInARow(WL_RESTARTCALLS, nullptr, 4, 0);
    }
};

QTEST_GUILESS_MAIN(LeaveRunningTest)
#include "leaverunningtest.moc"
