// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Low-pause checkpoints (docs/low-pause.md) of workloads that keep writing
// at full speed: many snapshots in a row, each one restored and checked by
// the workload itself to hold one instant (wl_versions: every element the
// same pass; wl_shmversions: the same in shared anonymous memory; wl_memfd:
// the same in a memfd that a parent and its child share; wl_sysvshm: the
// same in a SysV shared memory segment they share; wl_threads:
// threads writing during the snapshot; wl_waitloop, wl_waitnone: programs
// that wait for children and must never see a copy; wl_pipeeof: a reader
// that expects EOF; wl_firsttouch: mappings that get their first pages
// between the precheck and the freeze). And the
// frozen dump with its reason where no copy is taken.
#include "engine.h"
#include "workloadrun.h"

#include <QDir>
#include <QFile>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <fcntl.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;

using namespace workloadrun;

class LowPauseTest : public QObject
{
    Q_OBJECT

    void snapshotsInARow(const char *program, int count)
    {
        QTemporaryDir state;
        QVERIFY(state.isValid());
        const pid_t pid = start(program, state.path());
        QVERIFY(pid > 0);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state.filePath(QStringLiteral("ready"))), 20000);
        QTest::qWait(200);
        QTemporaryDir images;
        QStringList taken;
        for (int i = 0; i < count; ++i) {
            const QString image = images.filePath(QStringLiteral("%1.cryopod").arg(i));
            const int fd = open(image.toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            QVERIFY(fd >= 0);
            engine::CheckpointOptions options;
            options.lowPause = qEnvironmentVariableIsEmpty("LP_OFF");
            options.compress = i % 2 == 0; // both kinds of image
            auto result = engine::checkpoint(pid, fd, options);
            close(fd);
            QVERIFY2(result, result ? "" : result.error().describe().c_str());
            QVERIFY2(result->lowPause || !options.lowPause, result->lowPauseFallback.c_str());
            QVERIFY(result->pauseNs < result->totalNs);
            QCOMPARE(::kill(pid, 0), 0); // runs on
            taken << image;
            QTest::qWait(30);
        }
        QVERIFY(killTree(pid));
        // A SysV segment outlives the killed original (unless it was removed):
        // it goes as cr_cycles removes it, so that its id and key are free.
        QFile sysv(state.filePath(QStringLiteral("sysv")));
        if (sysv.open(QIODevice::ReadOnly)) {
            for (const QByteArray &line : sysv.readAll().split('\n')) {
                const QList<QByteArray> fields = line.split(' ');
                if (fields.size() == 3 && fields[0] == "shm") {
                    shmid_ds ds{};
                    const int id = fields[1].toInt();
                    if (shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == key_t(fields[2].toInt())) {
                        shmctl(id, IPC_RMID, nullptr);
                    }
                }
            }
        }
        for (const QString &image : std::as_const(taken)) {
            QString why;
            QVERIFY2(restoreAndVerify(image, state.path(), pid, &why), qPrintable(image + QStringLiteral(": ") + why));
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Restored workloads are our children; a lost one would be reaped by us.
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    }

    // A 32 MiB array rewritten pass after pass with no pause: every snapshot
    // restores to one pass (the workload checks every element).
    void versionsWhileItWrites()
    {
        snapshotsInARow(WL_VERSIONS, 6);
    }

    // The same array in MAP_SHARED anonymous memory: the copy of the address
    // space shares it with the running program, so it must be saved during
    // the pause (shmem.h); the pass counter is private and comes from the copy.
    void sharedVersionsWhileItWrites()
    {
        snapshotsInARow(WL_SHMVERSIONS, 4);
    }

    // A parent and its child sharing memfds (mapped shared and private, and
    // by fd only) while the parent rewrites a versions array in one of them:
    // the memfds are saved during the pause, as shared anonymous memory.
    void memfdTreeWhileItWrites()
    {
        snapshotsInARow(WL_MEMFD, 4);
    }

    // The same in a SysV shared memory segment that a parent and its child
    // attach (sysvipc.h): saved during the pause like the other shared memory.
    void sysvShmTreeWhileItWrites()
    {
        snapshotsInARow(WL_SYSVSHM, 4);
    }

    // Mappings written for the first time between the look at the running
    // process (its smaps, read before the freeze) and the freeze: the page
    // dump passes a mapping by as empty only by the counts of the copy
    // (adoptCopyLayout), never by those read before. With the early counts it
    // loses pages in every run of this test.
    void firstTouchDuringTheSnapshot()
    {
        snapshotsInARow(WL_FIRSTTOUCH, 6);
    }

    // Threads computing and writing while the snapshots are taken.
    void threadsWhileTheyRun()
    {
        snapshotsInARow(WL_THREADS, 3);
    }

    // A child subreaper reaping with waitid(__WALL) in a loop, its tree
    // changing all the time: no copy ever reaches its wait().
    void waitLoopOfASubreaper()
    {
        snapshotsInARow(WL_WAITLOOP, 6);
    }

    // A program without children asking for them in every way (waitpid,
    // waitid __WALL, a blocking wait(), its children file) and counting
    // SIGCHLD: it never sees the copy nor the intermediate process.
    void waitWithoutChildren()
    {
        snapshotsInARow(WL_WAITNONE, 6);
    }

    // Writers ending one after the other while the snapshots are taken: the
    // reader sees EOF as soon as each is gone (no copy holds a write end).
    void readerExpectingEof()
    {
        snapshotsInARow(WL_PIPEEOF, 6);
    }

    // Where no copy is taken the checkpoint is a frozen one and says why.
    void fallbackSaysWhy()
    {
        const size_t big = (256u << 20) + (8u << 20);
        const pid_t pid = fork();
        if (pid == 0) {
            // Only /dev/null first: under load a checkpoint may come before the memory is touched.
            const int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            close_range(3, ~0u, 0);
            auto *p = static_cast<char *>(mmap(nullptr, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
            madvise(p, big, MADV_DONTFORK);
            for (size_t i = 0; i < big; i += 4096) {
                p[i] = 1;
            }
            for (;;) {
                pause();
            }
        }
        auto reap = qScopeGuard([pid] {
            ::kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        });
        // Until every page of the DONTFORK mapping (VmFlags "dc") is resident:
        // a fixed wait was too short at load 14.
        const auto dontforkResidentKiB = [pid] {
            QFile smaps(QStringLiteral("/proc/%1/smaps").arg(pid));
            qulonglong rss = 0, found = 0;
            if (smaps.open(QIODevice::ReadOnly)) {
                for (const QByteArray &line : smaps.readAll().split('\n')) {
                    if (line.startsWith("Rss:")) {
                        rss = line.mid(4).trimmed().split(' ').value(0).toULongLong();
                    } else if (line.startsWith("VmFlags:") && line.split(' ').contains("dc")) {
                        found += rss;
                    }
                }
            }
            return found;
        };
        QTRY_VERIFY_WITH_TIMEOUT(dontforkResidentKiB() >= big / 1024, 60000);
        QTemporaryDir images;
        const QString image = images.filePath(QStringLiteral("big.cryopod"));
        const int fd = open(image.toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        engine::CheckpointOptions options;
        options.lowPause = true;
        auto result = engine::checkpoint(pid, fd, options);
        close(fd);
        reap.dismiss();
        ::kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(!result->lowPause);
        QVERIFY2(result->lowPauseFallback.find("MADV_DONTFORK or MADV_WIPEONFORK") != std::string::npos, result->lowPauseFallback.c_str());

        // --kill: nothing runs on, so no copy either.
        QTemporaryDir state;
        const pid_t wl = start(WL_VERSIONS, state.path());
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state.filePath(QStringLiteral("ready"))), 20000);
        const int fd2 = open(images.filePath(QStringLiteral("kill.cryopod")).toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        options.leaveRunning = false;
        auto killed = engine::checkpoint(wl, fd2, options);
        close(fd2);
        QVERIFY2(killed, killed ? "" : killed.error().describe().c_str());
        QVERIFY(!killed->lowPause);
        QVERIFY2(killed->lowPauseFallback.find("killed") != std::string::npos, killed->lowPauseFallback.c_str());
        waitpid(wl, nullptr, 0);
    }
};

QTEST_GUILESS_MAIN(LowPauseTest)
#include "lowpausetest.moc"
