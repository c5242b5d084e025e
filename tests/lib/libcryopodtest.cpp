// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// libcryopod against the real helper on a private system bus with polkitd and
// unprivileged test users (tests/helper's HelperTestEnv): a C program that
// checkpoints itself every second is killed, restored from its latest
// checkpoint with cryopod_restart() and finishes with the right result (its
// checkpoint calls returned their ids in the original and 0 in the copy);
// checkpoint and restart of another process; the report; and the errors,
// each with its errno and message.

#include "helpertestenv.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTest>
#include <QThread>

#include <csignal>
#include <cstdint>

namespace
{
const QString kUser = QStringLiteral("cryopod-hlp-user");
const QString kNobody = QStringLiteral("cryopod-hlp-none");

QString readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()).trimmed() : QString();
}

// What lib_selfcheckpoint computes, computed here on its own.
QString expectedAccumulator(long blocks, int blockSize)
{
    auto mix = [](uint64_t x) {
        x += 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return x ^ (x >> 31);
    };
    uint64_t acc = 0;
    for (uint64_t n = 0; n < uint64_t(blocks) * uint64_t(blockSize); ++n) {
        acc = acc * 6364136223846793005ull + mix(n);
    }
    return QStringLiteral("%1").arg(acc, 16, 16, QLatin1Char('0'));
}

// No process and no zombie: the pid is free for a restore.
bool gone(qint64 pid)
{
    return !QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid));
}

bool alive(qint64 pid)
{
    const char s = processState(pid);
    return s != 0 && s != 'Z';
}
} // namespace

class LibCryopodTest : public QObject
{
    Q_OBJECT

private:
    HelperTestEnv m_env;

    ClientRun tool(const QString &user, const QStringList &args)
    {
        return m_env.runAs(user, QStringLiteral(LIBCRYOPOD_TOOL), args);
    }

    static QString describe(const ClientRun &run)
    {
        return run.lines.join(QLatin1Char('\n')) + QLatin1Char('\n') + run.stderrText;
    }

    // "error ENAME message" of a failed tool run.
    static void expectError(const ClientRun &run, const QString &errnoName, const QString &messagePart)
    {
        QCOMPARE(run.exitCode, 1);
        const QString line = run.lines.value(0);
        QVERIFY2(line.startsWith(QStringLiteral("error ") + errnoName + QLatin1Char(' ')), qPrintable(describe(run)));
        QVERIFY2(line.contains(messagePart), qPrintable(describe(run)));
        // The same line went to logfd (stderr) too.
        QVERIFY2(run.stderrText.contains(messagePart), qPrintable(describe(run)));
    }

    // A program (C or Python) computing BLOCKS blocks of blockSize steps that
    // checkpoints itself every second: killed after its second checkpoint,
    // restarted from its latest, it finishes with the right result.
    void selfCheckpointCycle(const QString &program, const QStringList &programArgs, long blocks, int blockSize, const QStringList &extra = {})
    {
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, program, programArgs + QStringList {state, QString::number(blocks)} + extra, state);
        const qint64 pid = workload->processId();
        // Two checkpoints made, then it dies.
        // "ckpt-K.img ID BLOCK" or "snapshot-K ID BLOCK": K.
        auto latestNumber = [&] {
            return readFile(state + QStringLiteral("/latest"))
                .section(QLatin1Char(' '), 0, 0)
                .section(QLatin1Char('-'), 1)
                .section(QLatin1Char('.'), 0, 0)
                .toInt();
        };
        QTRY_VERIFY2_WITH_TIMEOUT(latestNumber() >= 2, qPrintable(readFile(state + QStringLiteral("/log"))), 30000);
        QVERIFY2(!QFile::exists(state + QStringLiteral("/result")), qPrintable(readFile(state + QStringLiteral("/result"))));
        ::kill(pid_t(pid), SIGKILL);
        QVERIFY(workload->waitForFinished(10000));
        const QStringList latest = readFile(state + QStringLiteral("/latest")).split(QLatin1Char(' '));
        QCOMPARE(latest.size(), 3);
        const long idAtCheckpoint = latest[1].toLong();
        QVERIFY(idAtCheckpoint > 0);
        if (latest[0].startsWith(QLatin1String("snapshot-"))) {
            // From the store, as the app's timeline would.
            const ClientRun rs = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), {QStringLiteral("restore"), latest[1]});
            QVERIFY2(rs.exitCode == 0, qPrintable(describe(rs)));
            QVERIFY2(rs.has(QStringLiteral("restored pid %1").arg(pid)), qPrintable(describe(rs)));
        } else {
            // Restored from the latest checkpoint by another program of the user.
            const ClientRun rs = tool(kUser, {QStringLiteral("restart"), state + QLatin1Char('/') + latest[0]});
            QVERIFY2(rs.exitCode == 0, qPrintable(describe(rs)));
            QCOMPARE(rs.lines.value(0), QStringLiteral("pid %1").arg(pid));
            QVERIFY2(rs.stderrText.contains(QLatin1String("cryopod: restart: restore")), qPrintable(rs.stderrText)); // progress on logfd
        }

        // The copy runs on from inside cryopod_checkpoint(), which returned 0
        // there, and finishes the computation.
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 60000);
        const QString result = readFile(state + QStringLiteral("/result"));
        QVERIFY2(result.startsWith(QLatin1String("ok ")), qPrintable(result + QLatin1Char('\n') + readFile(state + QStringLiteral("/log"))));
        const QStringList fields = result.split(QLatin1Char(' '));
        QCOMPARE(fields.value(1), expectedAccumulator(blocks, blockSize));
        QCOMPARE(fields.value(2), QStringLiteral("restored=1"));
        QTRY_VERIFY_WITH_TIMEOUT(!alive(pid), 10000);

        // The ids in the original, 0 exactly once in the copy (for the
        // checkpoint it was restored from), ids again for the copy's own.
        const QString log = readFile(state + QStringLiteral("/log"));
        const QStringList returns = log.split(QLatin1Char('\n')).filter(QRegularExpression(QStringLiteral("^(original|copy): ")));
        // K: the checkpoint restored (2, or 3 if one more completed before the kill).
        const int k = latest[0].section(QLatin1Char('-'), 1).section(QLatin1Char('.'), 0, 0).toInt();
        QVERIFY(k >= 2);
        QVERIFY2(returns.size() >= k + 1, qPrintable(log));
        for (int i = 1; i < k; ++i) {
            QVERIFY2(returns[i - 1].startsWith(QStringLiteral("original: checkpoint %1 id ").arg(i)), qPrintable(log));
        }
        QCOMPARE(returns.value(k - 1), QStringLiteral("original: checkpoint %1 id %2 at block %3").arg(k).arg(idAtCheckpoint).arg(latest[2]));
        QCOMPARE(returns.value(k), QStringLiteral("copy: checkpoint %1 returned 0 at block %2").arg(k).arg(latest[2]));
        // The copy's own checkpoints: ids again.
        for (int i = k + 1; i < returns.size(); ++i) {
            QVERIFY2(returns[i].startsWith(QStringLiteral("original: checkpoint %1 id ").arg(i)), qPrintable(log));
        }
        QCOMPARE(log.count(QLatin1String("returned 0")), 1);
        if (!latest[0].startsWith(QLatin1String("snapshot-"))) {
            QVERIFY2(log.contains(QLatin1String("cryopod: checkpoint: capture")), qPrintable(log)); // progress on logfd
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        QString error;
        QVERIFY2(m_env.start(&error), qPrintable(error));
        QVERIFY2(m_env.startHelper(&error), qPrintable(error));
        // Workloads started by startProcess() inherit these.
        qputenv("DBUS_SYSTEM_BUS_ADDRESS", m_env.address().toUtf8());
        qputenv("PYTHONPATH", QByteArrayLiteral(PYTHON_BINDINGS));
        qputenv("CRYOPOD_LIBRARY", QByteArrayLiteral(LIBCRYOPOD));
        qputenv("CRYOPOD_CTL", QByteArrayLiteral(CRYOPODCTL));
    }

    void init()
    {
        if (!m_env.helperRunning()) {
            QString error;
            QVERIFY2(m_env.startHelper(&error), qPrintable(error));
        }
    }

    void selfCheckpointKilledAndRestarted()
    {
        selfCheckpointCycle(QStringLiteral(LIB_SELFCHECKPOINT), {}, 1200, 20000); // about 6 s: 4 ms of sleep a block
    }

    void selfSnapshotIntoTheStoreKilledAndRestored()
    {
        // The story: snapshots into the user's store every second
        // (cryopod_snapshot), killed, restored from its latest snapshot.
        const QString data = m_env.userDirectory(kUser);
        qputenv("XDG_DATA_HOME", data.toUtf8());
        selfCheckpointCycle(QStringLiteral(LIB_SELFCHECKPOINT), {}, 1200, 20000, {QStringLiteral("store")});
        const ClientRun list = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), {QStringLiteral("list"), QStringLiteral("--json")});
        QVERIFY2(list.exitCode == 0, qPrintable(describe(list)));
        QVERIFY2(list.lines.join(QString()).contains(QLatin1String("lib_selfcheckpoint")), qPrintable(describe(list)));
        qunsetenv("XDG_DATA_HOME");
    }

    void selfCheckpointTenCycles()
    {
        // Ten restores in a row, alternating: killed (SIGKILL) after a
        // checkpoint that left it running, and ended by the helper after a
        // checkpoint with CRYOPOD_KILL; each time restarted from that
        // checkpoint. The computation still ends with the right result.
        const QString state = m_env.userDirectory(kUser);
        const long blocks = 5000;
        auto workload = m_env.startProcess(kUser, QStringLiteral(LIB_SELFCHECKPOINT), {state, QString::number(blocks)}, state);
        const qint64 pid = workload->processId();
        auto count = [&](const QString &what) { return readFile(state + QStringLiteral("/log")).count(what); };
        for (int cycle = 1; cycle <= 10; ++cycle) {
            const bool killMode = cycle % 2 == 0;
            QString image;
            if (killMode) {
                QFile::remove(state + QStringLiteral("/pending"));
                QFile flag(state + QStringLiteral("/kill-next"));
                QVERIFY(flag.open(QIODevice::WriteOnly));
                flag.close();
                QTRY_VERIFY_WITH_TIMEOUT(gone(pid), 30000); // ended by the helper, image complete
                QFile::remove(state + QStringLiteral("/kill-next"));
                const QString pending = readFile(state + QStringLiteral("/pending")).section(QLatin1Char(' '), 0, 0);
                image = state + QLatin1Char('/') + pending;
                // That checkpoint never returned in the original.
                const QString number = pending.section(QLatin1Char('-'), 1).section(QLatin1Char('.'), 0, 0);
                QVERIFY(!readFile(state + QStringLiteral("/log")).contains(QStringLiteral("original: checkpoint %1 id").arg(number)));
            } else {
                const int originals = count(QStringLiteral("original: checkpoint"));
                QTRY_VERIFY_WITH_TIMEOUT(count(QStringLiteral("original: checkpoint")) > originals, 30000);
                ::kill(pid_t(pid), SIGKILL);
                if (cycle == 1) {
                    QVERIFY(workload->waitForFinished(10000)); // our child: reaped here
                }
                QTRY_VERIFY_WITH_TIMEOUT(gone(pid), 10000); // (the copies are the helper's children)
                image = state + QLatin1Char('/') + readFile(state + QStringLiteral("/latest")).section(QLatin1Char(' '), 0, 0);
            }
            QVERIFY2(!QFile::exists(state + QStringLiteral("/result")), qPrintable(readFile(state + QStringLiteral("/result"))));
            const ClientRun rs = tool(kUser, {QStringLiteral("restart"), image});
            QVERIFY2(rs.exitCode == 0, qPrintable(QStringLiteral("cycle %1: ").arg(cycle) + describe(rs)));
            QCOMPARE(rs.lines.value(0), QStringLiteral("pid %1").arg(pid));
            QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("returned 0")), cycle, 10000);
        }
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 120000);
        const QStringList fields = readFile(state + QStringLiteral("/result")).split(QLatin1Char(' '));
        QCOMPARE(fields.value(0), QStringLiteral("ok"));
        QCOMPARE(fields.value(1), expectedAccumulator(blocks, 20000));
        QCOMPARE(fields.value(2), QStringLiteral("restored=10"));
    }

    void sabotagedCopyFails()
    {
        // The same computation whose copy flips one bit after the restore:
        // the result must differ (the check above can fail).
        qputenv("LIB_SABOTAGE", "1");
        const QString state = m_env.userDirectory(kUser);
        const long blocks = 800;
        auto workload = m_env.startProcess(kUser, QStringLiteral(LIB_SELFCHECKPOINT), {state, QString::number(blocks)}, state);
        qunsetenv("LIB_SABOTAGE");
        const qint64 pid = workload->processId();
        QTRY_VERIFY_WITH_TIMEOUT(readFile(state + QStringLiteral("/log")).contains(QLatin1String("original: checkpoint 1 ")), 30000);
        ::kill(pid_t(pid), SIGKILL);
        // Reaped, not only dead: a zombie still holds the pid the restore needs.
        QVERIFY(workload->waitForFinished(10000));
        QTRY_VERIFY_WITH_TIMEOUT(gone(pid), 10000);
        const ClientRun rs =
            tool(kUser, {QStringLiteral("restart"), state + QLatin1Char('/') + readFile(state + QStringLiteral("/latest")).section(QLatin1Char(' '), 0, 0)});
        QVERIFY2(rs.exitCode == 0, qPrintable(describe(rs)));
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 60000);
        const QStringList fields = readFile(state + QStringLiteral("/result")).split(QLatin1Char(' '));
        QCOMPARE(fields.value(0), QStringLiteral("ok"));
        QCOMPARE(fields.value(2), QStringLiteral("restored=1"));
        QVERIFY(fields.value(1) != expectedAccumulator(blocks, 20000));
    }

    void pythonSelfCheckpointKilledAndRestarted()
    {
        // The same in Python, through the bindings' Checkpointer.
        selfCheckpointCycle(QStringLiteral("python3"), {QStringLiteral("-S"), QStringLiteral(LIB_SELFCHECKPOINT_PY)}, 700, 2000);
    }

    void checkpointIdsOutliveTheHelper()
    {
        // A checkpoint id names one checkpoint for good: the next helper
        // (restarted, as after its idle exit) hands out larger ids, not 1 again.
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = QString::number(workload->processId());
        auto checkpointId = [&](const QString &name) -> long {
            const ClientRun cp = tool(kUser, {QStringLiteral("checkpoint"), pid, state + name});
            return cp.exitCode == 0 && cp.lines.value(0).startsWith(QLatin1String("id ")) ? cp.lines.value(0).mid(3).toLong() : -1;
        };
        const long first = checkpointId(QStringLiteral("/ids-1.img"));
        const long second = checkpointId(QStringLiteral("/ids-2.img"));
        QVERIFY2(first > 0 && second > first, qPrintable(QStringLiteral("%1, %2").arg(first).arg(second)));
        m_env.stopHelper();
        QString error;
        QVERIFY2(m_env.startHelper(&error), qPrintable(error));
        const long third = checkpointId(QStringLiteral("/ids-3.img"));
        QVERIFY2(third > second, qPrintable(QStringLiteral("%1 after %2").arg(third).arg(second)));
        QVERIFY(alive(workload->processId()));
        ::kill(pid_t(workload->processId()), SIGKILL);
    }

    void checkpointAndRestartAnotherProcess()
    {
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = QString::number(workload->processId());
        const QString image = state + QStringLiteral("/heap.img");
        const ClientRun cp = tool(kUser, {QStringLiteral("checkpoint"), pid, image, QStringLiteral("kill")});
        QVERIFY2(cp.exitCode == 0, qPrintable(describe(cp)));
        QVERIFY(cp.lines.value(0).startsWith(QLatin1String("id ")));
        QVERIFY(cp.lines.value(0).mid(3).toLong() > 0);
        QVERIFY(workload->waitForFinished(10000));
        QVERIFY(QFileInfo(image).size() > 0);

        const ClientRun rs = tool(kUser, {QStringLiteral("restart"), image, QStringLiteral("frozen")});
        QVERIFY2(rs.exitCode == 0, qPrintable(describe(rs)));
        QCOMPARE(rs.lines.value(0), QStringLiteral("pid ") + pid);
        QTRY_VERIFY_WITH_TIMEOUT(processState(pid.toLongLong()) == 'T', 5000); // CRYOPOD_RESTART_FROZEN
        ::kill(pid.toInt(), SIGCONT);
        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));
    }

    void reportOfAProcessAndOfItself()
    {
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = QString::number(workload->processId());
        const ClientRun r = tool(kUser, {QStringLiteral("report"), pid});
        QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
        QCOMPARE(r.lines.value(0), QStringLiteral("checkpointable 1"));
        const QJsonObject report = QJsonDocument::fromJson(r.lines.value(1).mid(5).toUtf8()).object();
        QCOMPARE(report.value(QLatin1String("root")).toInt(), pid.toInt());
        QCOMPARE(report.value(QLatin1String("verdict")).toString(), QStringLiteral("ok"));
        QCOMPARE(report.value(QLatin1String("processes")).toArray().first().toObject().value(QLatin1String("pid")).toInt(), pid.toInt());

        // pid 0: the tool itself, whose stdout is a pipe to this test (refused,
        // a pipe to a process outside) and whose bus connection is the
        // library's own (a caveat: a self-checkpoint detaches it).
        const ClientRun self = tool(kUser, {QStringLiteral("report"), QStringLiteral("0")});
        QVERIFY2(self.exitCode == 0, qPrintable(describe(self)));
        QCOMPARE(self.lines.value(0), QStringLiteral("checkpointable 0"));
        const QJsonObject own = QJsonDocument::fromJson(self.lines.value(1).mid(5).toUtf8()).object();
        bool sawConnection = false;
        for (const QJsonValue &fd : own.value(QLatin1String("processes")).toArray().first().toObject().value(QLatin1String("fds")).toArray()) {
            if (fd.toObject().value(QLatin1String("reason")).toString().contains(QLatin1String("libcryopod's own bus connection"))) {
                sawConnection = true;
                QCOMPARE(fd.toObject().value(QLatin1String("verdict")).toString(), QStringLiteral("caveat"));
            }
        }
        QVERIFY2(sawConnection, qPrintable(self.lines.value(1)));
        ::kill(pid_t(workload->processId()), SIGKILL);
    }

    void errors()
    {
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = QString::number(workload->processId());
        const QString image = state + QStringLiteral("/err.img");

        // No bus (so no helper) at that address.
        expectError(tool(kUser, {QStringLiteral("--bus"), QStringLiteral("unix:path=/nonexistent/bus"), QStringLiteral("checkpoint"), pid, image}),
                    QStringLiteral("ENOENT"), QStringLiteral("cannot reach cryopod-helper"));
        // A user polkit grants nothing.
        const QString nobodyDir = m_env.userDirectory(kNobody);
        auto nobodys = m_env.startProcess(kNobody, QStringLiteral(WL_HEAP), {nobodyDir}, nobodyDir);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(nobodyDir + QStringLiteral("/ready")), 15000);
        expectError(tool(kNobody, {QStringLiteral("checkpoint"), QString::number(nobodys->processId()), nobodyDir + QStringLiteral("/x.img")}),
                    QStringLiteral("EPERM"), QStringLiteral("NotAuthorized"));
        // Bad fds: not open, open read-only.
        expectError(tool(kUser, {QStringLiteral("checkpoint-fd"), pid, QStringLiteral("57")}), QStringLiteral("EBADF"), QStringLiteral("fd 57 is not open"));
        expectError(tool(kUser, {QStringLiteral("checkpoint-readonly"), pid, image}), QStringLiteral("EBADF"), QStringLiteral("not open for writing"));
        // A process the caller may not touch (root's), one that does not exist.
        auto rootTarget = m_env.startProcess(QString(), QStringLiteral(HELPER_TARGET), {QStringLiteral("1")});
        expectError(tool(kUser, {QStringLiteral("checkpoint"), QString::number(rootTarget->processId()), image}), QStringLiteral("EPERM"),
                    QStringLiteral("NotAuthorized"));
        QVERIFY(alive(rootTarget->processId()));
        qint64 unused = readFile(QStringLiteral("/proc/sys/kernel/pid_max")).toLongLong() - 1;
        while (unused > 300 && QFileInfo::exists(QStringLiteral("/proc/%1").arg(unused))) {
            --unused;
        }
        expectError(tool(kUser, {QStringLiteral("checkpoint"), QString::number(unused), image}), QStringLiteral("ESRCH"), QStringLiteral("NoSuchProcess"));
        // What the engine does not capture (here a removed working directory):
        // ENOTSUP with the engine's reason, and the process runs on.
        const QString goneDir = state + QStringLiteral("/gone");
        QVERIFY(QDir().mkpath(goneDir));
        auto cwdless = m_env.startProcess(kUser, QStringLiteral("/bin/sleep"), {QStringLiteral("600")}, goneDir);
        QTRY_COMPARE_WITH_TIMEOUT(QFileInfo(QStringLiteral("/proc/%1/cwd").arg(cwdless->processId())).symLinkTarget(), goneDir, 15000);
        QVERIFY(QDir().rmdir(goneDir));
        expectError(tool(kUser, {QStringLiteral("checkpoint"), QString::number(cwdless->processId()), image}), QStringLiteral("EOPNOTSUPP"),
                    QStringLiteral("its working directory %1 was removed").arg(goneDir));
        QVERIFY(alive(cwdless->processId()));
        const QString stat = readFile(QStringLiteral("/proc/%1/stat").arg(cwdless->processId()));
        QVERIFY2(!stat.contains(QLatin1String(") t ")) && !stat.contains(QLatin1String(") T ")), qPrintable(stat)); // not left stopped
        ::kill(pid_t(cwdless->processId()), SIGKILL);
        // Restart: a copy beside the original, not an image.
        QFile garbage(state + QStringLiteral("/garbage.img"));
        QVERIFY(garbage.open(QIODevice::WriteOnly));
        garbage.write(QByteArray(4096, 'x'));
        garbage.close();
        expectError(tool(kUser, {QStringLiteral("restart"), garbage.fileName(), QStringLiteral("copy")}),
                    QStringLiteral("EOPNOTSUPP"), // ENOTSUP, the same number
                    QStringLiteral("CRYOPOD_RESTART_COPY is not supported"));
        expectError(tool(kUser, {QStringLiteral("restart"), garbage.fileName()}), QStringLiteral("EINVAL"), QStringLiteral("BadImage"));
        // The workload was never touched.
        QVERIFY(alive(workload->processId()));
        ::kill(pid_t(workload->processId()), SIGKILL);
        ::kill(pid_t(nobodys->processId()), SIGKILL);
    }
};

QTEST_GUILESS_MAIN(LibCryopodTest)
#include "libcryopodtest.moc"
