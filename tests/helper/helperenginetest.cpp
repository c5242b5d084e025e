// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Checkpoint and restore through cryopod-helper, by unprivileged users, with
// the real engine: a user's own workload survives a checkpoint/restore
// cycle; a cancelled checkpoint, a vanished caller and a killed helper all
// leave the target running (not stopped); twenty jobs of two users at once
// all complete.

#include "helpertestenv.h"
#include "imageinfo.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include <csignal>
#include <unistd.h>

namespace
{
const QString kUser = QStringLiteral("cryopod-hlp-user");
const QString kUser2 = QStringLiteral("cryopod-hlp-user2");

QString pidText(const ProcessPtr &p)
{
    return QString::number(p->processId());
}

QString readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()).trimmed() : QString();
}

uint statusUid(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly)) {
        return uint(-1);
    }
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("Uid:")) {
            return line.mid(4).trimmed().split('\t').value(0).toUInt();
        }
    }
    return uint(-1);
}

// Other processes running the target's executable: the low-pause copies
// of it (none of them its child).
QList<qint64> copiesOf(qint64 target)
{
    const QString exe = QFile::symLinkTarget(QStringLiteral("/proc/%1/exe").arg(target));
    QList<qint64> found;
    const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs);
    for (const QString &entry : entries) {
        bool number = false;
        const qint64 pid = entry.toLongLong(&number);
        if (number && pid != target && !exe.isEmpty() && QFile::symLinkTarget(QStringLiteral("/proc/%1/exe").arg(pid)) == exe) {
            found.append(pid);
        }
    }
    return found;
}

bool stopped(qint64 pid)
{
    const char s = processState(pid);
    return s == 't' || s == 'T';
}
}

class HelperEngineTest : public QObject
{
    Q_OBJECT

private:
    HelperTestEnv m_env;

    ProcessPtr bigTarget(const QString &user, int mib)
    {
        return m_env.startProcess(user, QStringLiteral(HELPER_TARGET), {QString::number(mib)});
    }

    // Waits for a line starting with prefix in a running client's output.
    bool waitForLine(QProcess *client, const QString &prefix, int timeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < timeoutMs) {
            const QString out = QString::fromLocal8Bit(client->peek(1 << 20));
            for (const QString &line : out.split(QLatin1Char('\n'))) {
                if (line.startsWith(prefix)) {
                    return true;
                }
            }
            if (client->state() == QProcess::NotRunning) {
                return false;
            }
            client->waitForReadyRead(100);
        }
        return false;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QString error;
        QVERIFY2(m_env.start(&error), qPrintable(error));
        QVERIFY2(m_env.startHelper(&error), qPrintable(error));
    }

    void init()
    {
        if (!m_env.helperRunning()) {
            QString error;
            QVERIFY2(m_env.startHelper(&error), qPrintable(error));
        }
    }

    void ownWorkloadCheckpointAndRestore()
    {
        const TestUser u = m_env.user(kUser);
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = pidText(workload);

        // Checkpoint, ending the original once the image is complete.
        const QString image = state + QStringLiteral("/heap.img");
        ClientRun cp = m_env.runClient(kUser, {QStringLiteral("checkpoint"), pid, image, QStringLiteral("--opt"), QStringLiteral("leave-running=b:false")});
        QVERIFY2(cp.ok(), qPrintable(cp.lines.join(QLatin1Char('\n')) + cp.stderrText));
        QCOMPARE(cp.value(QStringLiteral("root-pid")), pid);
        QVERIFY(cp.has(QStringLiteral("progress write")));
        QCOMPARE(cp.value(QStringLiteral("image-bytes")).toLongLong(), QFileInfo(image).size());
        QVERIFY(workload->waitForFinished(10000));
        auto info = cryopod::image::ImageInfo::readFile(image.toStdString());
        QVERIFY2(info, info ? "" : info.error().describe().c_str());
        QCOMPARE(QString::number(info->rootPid), pid);

        // Restore, as the same user; the copy runs as that user.
        ClientRun rs = m_env.runClient(kUser, {QStringLiteral("restore"), image});
        QVERIFY2(rs.ok(), qPrintable(rs.lines.join(QLatin1Char('\n')) + rs.stderrText));
        QCOMPARE(rs.value(QStringLiteral("root-pid")), pid);
        QVERIFY(rs.has(QStringLiteral("progress restore")));
        QCOMPARE(statusUid(pid.toLongLong()), uint(u.uid));

        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));
    }

    void frozenCheckpointThroughTheHelper_data()
    {
        QTest::addColumn<bool>("kill");
        QTest::newRow("leave-running") << false;
        QTest::newRow("kill") << true;
    }

    void frozenCheckpointThroughTheHelper()
    {
        // Freeze, then Checkpoint: done without waiting for the freeze
        // timeout; the workload stays frozen (or is killed and its cgroup
        // removed), and the image restores a working copy.
        QFETCH(bool, kill);
        const QString state = m_env.userDirectory(kUser);
        QFile::remove(state + QStringLiteral("/ready"));
        QFile::remove(state + QStringLiteral("/go"));
        QFile::remove(state + QStringLiteral("/result"));
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = pidText(workload);
        ClientRun fr = m_env.runClient(kUser, {QStringLiteral("freeze"), pid});
        QVERIFY2(fr.ok(), qPrintable(fr.lines.join(QLatin1Char('\n')) + fr.stderrText));
        const QString cgroup = fr.value(QStringLiteral("cgroup"));
        const QString stateFile =
            QFile::exists(cgroup + QStringLiteral("/cgroup.events")) ? QStringLiteral("/cgroup.events") : QStringLiteral("/freezer.state");
        auto frozen = [&] {
            const QString text = readFile(cgroup + stateFile);
            return text.contains(QLatin1String("frozen 1")) || text == QLatin1String("FROZEN");
        };
        QVERIFY(frozen());

        const QString image = state + QStringLiteral("/frozen.img");
        QStringList args = {QStringLiteral("checkpoint"), pid, image};
        if (kill) {
            args << QStringLiteral("--opt") << QStringLiteral("leave-running=b:false");
        }
        QElapsedTimer took;
        took.start();
        ClientRun cp = m_env.runClient(kUser, args);
        QVERIFY2(cp.ok(), qPrintable(cp.lines.join(QLatin1Char('\n')) + cp.stderrText));
        QVERIFY2(took.elapsed() < 8000, "the checkpoint waited for the freeze timeout");
        QCOMPARE(cp.value(QStringLiteral("image-bytes")).toLongLong(), QFileInfo(image).size());
        if (kill) {
            QVERIFY(workload->waitForFinished(10000));
            QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(cgroup), 5000);
        } else {
            QVERIFY(frozen());
            QVERIFY(readFile(QStringLiteral("/proc/%1/status").arg(pid)).contains(QLatin1String("TracerPid:\t0")));
            // Cancelled mid-write, it says what it left: frozen as it was.
            const ClientRun cancelled = m_env.runClient(kUser,
                                                        {QStringLiteral("checkpoint"),
                                                         pid,
                                                         QStringLiteral("-"),
                                                         QStringLiteral("--fd"),
                                                         QStringLiteral("pipe"),
                                                         QStringLiteral("--stall"),
                                                         QStringLiteral("--cancel-on"),
                                                         QStringLiteral("write")});
            QCOMPARE(cancelled.errorName(), QStringLiteral("io.github.cryopod.Error.Cancelled"));
            QVERIFY2(cancelled.lines.join(QLatin1Char('\n')).contains(QLatin1String("it stays frozen, unchanged")), qPrintable(cancelled.lines.join(QLatin1Char('\n'))));
            QVERIFY(frozen());
            QVERIFY(readFile(QStringLiteral("/proc/%1/status").arg(pid)).contains(QLatin1String("TracerPid:\t0")));
            ClientRun th = m_env.runClient(kUser, {QStringLiteral("thaw"), pid});
            QVERIFY2(th.ok(), qPrintable(th.lines.join(QLatin1Char('\n')) + th.stderrText));
            ::kill(pid.toInt(), SIGKILL);
            QVERIFY(workload->waitForFinished(10000));
        }

        ClientRun rs = m_env.runClient(kUser, {QStringLiteral("restore"), image});
        QVERIFY2(rs.ok(), qPrintable(rs.lines.join(QLatin1Char('\n')) + rs.stderrText));
        QCOMPARE(rs.value(QStringLiteral("root-pid")), pid);
        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));
    }

#ifdef CR_TTYBASH
    void ptyThroughTheHelper()
    {
        // An interactive bash of the user on a pty, checkpointed and restored
        // twice by cryopodctl through the helper: the restore's new pty
        // master comes back in Finished (to the caller only) and cryopodctl
        // relays it; typed input before and after (tests/workloads/cr_ttybash.cpp).
        ClientRun run = m_env.runAs(kUser, QStringLiteral(CR_TTYBASH), {QStringLiteral(CRYOPODCTL), QStringLiteral(CRYOPOD_BASH_PATH), QStringLiteral("--helper")},
                                    120000);
        QVERIFY2(run.exitCode == 0 && run.has(QStringLiteral("cr_ttybash: ok")), qPrintable(run.lines.join(QLatin1Char('\n')) + run.stderrText));
        QVERIFY(run.has(QStringLiteral("cr_ttybash: restored bash answered through the relay")));
    }
#endif

    void cryopodctlThroughTheHelper()
    {
        // The user story: an ordinary user checkpoints and restores
        // its own workload with cryopodctl, which talks to the helper.
        const QString state = m_env.userDirectory(kUser);
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = pidText(workload);
        const QString image = state + QStringLiteral("/ctl.img");
        ClientRun cp = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), {QStringLiteral("checkpoint"), pid, QStringLiteral("-o"), image, QStringLiteral("--kill")});
        QVERIFY2(cp.exitCode == 0, qPrintable(cp.lines.join(QLatin1Char('\n')) + cp.stderrText));
        QVERIFY(cp.has(QStringLiteral("checkpointed ") + pid));
        QVERIFY(workload->waitForFinished(10000));
        ClientRun rs = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), {QStringLiteral("restore"), QStringLiteral("-i"), image});
        QVERIFY2(rs.exitCode == 0, qPrintable(rs.lines.join(QLatin1Char('\n')) + rs.stderrText));
        QVERIFY(rs.has(QStringLiteral("restored pid ") + pid));
        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));

        // A root-owned process: refused, and no image is left behind.
        auto rootTarget = bigTarget(QString(), 1);
        const QString refusedImage = state + QStringLiteral("/root.img");
        ClientRun refused = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), {QStringLiteral("checkpoint"), pidText(rootTarget), QStringLiteral("-o"), refusedImage});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.stderrText.contains(QLatin1String("NotAuthorized")), qPrintable(refused.stderrText));
        QVERIFY(!QFile::exists(refusedImage));
    }

    void storeThroughTheHelper()
    {
        // Issue 7's user story: an ordinary user keeps snapshots in a store of
        // its own; cryopodctl streams the helper's image into it and back.
        const QString state = m_env.userDirectory(kUser);
        const QString store = state + QStringLiteral("/store");
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = pidText(workload);
        const QStringList storeArg{QStringLiteral("--store"), store};
        ClientRun first = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("snapshot"), pid, QStringLiteral("--label"), QStringLiteral("one")} + storeArg);
        QVERIFY2(first.exitCode == 0, qPrintable(first.lines.join(QLatin1Char('\n')) + first.stderrText));
        QVERIFY2(first.has(QStringLiteral("snapshot 1 of ") + pid), qPrintable(first.lines.join(QLatin1Char('\n'))));
        ClientRun second = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("snapshot"), pid} + storeArg);
        QVERIFY2(second.exitCode == 0, qPrintable(second.stderrText));
        QVERIFY(second.has(QStringLiteral("snapshot 2 of ") + pid));
        // the store belongs to the user, not to the helper
        QCOMPARE(QFileInfo(store).ownerId(), uint(m_env.user(kUser).uid));

        // A root-owned process is refused and the store is untouched.
        auto rootTarget = bigTarget(QString(), 1);
        ClientRun refused = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("snapshot"), pidText(rootTarget)} + storeArg);
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.stderrText.contains(QLatin1String("NotAuthorized")), qPrintable(refused.stderrText));
        ClientRun check = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("store"), QStringLiteral("check")} + storeArg);
        QVERIFY2(check.exitCode == 0 && check.has(QStringLiteral("store is intact")), qPrintable(check.lines.join(QLatin1Char('\n')) + check.stderrText));
        ClientRun list = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("list"), QStringLiteral("--json")} + storeArg);
        QCOMPARE(list.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(list.lines.join(QLatin1Char('\n')).toUtf8()).array().size(), 2);

        // The original goes; snapshot 1 comes back with its pid, as the user.
        workload->kill();
        QVERIFY(workload->waitForFinished(10000));
        ClientRun rs = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("restore"), QStringLiteral("1")} + storeArg);
        QVERIFY2(rs.exitCode == 0, qPrintable(rs.lines.join(QLatin1Char('\n')) + rs.stderrText));
        QVERIFY(rs.has(QStringLiteral("restored pid ") + pid));
        QCOMPARE(statusUid(pid.toLongLong()), uint(m_env.user(kUser).uid));
        // While it runs its pid is taken: restoring snapshot 2 fails with the helper's reason.
        ClientRun again = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), QStringList{QStringLiteral("restore"), QStringLiteral("2")} + storeArg);
        QCOMPARE(again.exitCode, 1);
        QVERIFY2(again.stderrText.contains(QLatin1String("PidInUse")), qPrintable(again.stderrText));
        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));
    }

    void cancelMidCheckpoint()
    {
        auto t = bigTarget(kUser, 48);
        QTest::qWait(500); // it fills its memory
        const ClientRun r = m_env.runClient(kUser,
                                            {QStringLiteral("checkpoint"),
                                             pidText(t),
                                             QStringLiteral("-"),
                                             QStringLiteral("--fd"),
                                             QStringLiteral("pipe"),
                                             QStringLiteral("--stall"),
                                             QStringLiteral("--cancel-on"),
                                             QStringLiteral("write")});
        QCOMPARE(r.errorName(), QStringLiteral("io.github.cryopod.Error.Cancelled"));
        QVERIFY2(r.has(QStringLiteral("pipe-bytes ")) && r.lines.last().endsWith(QLatin1String(" eof")), qPrintable(r.lines.join(QLatin1Char('\n'))));
        QCOMPARE(t->state(), QProcess::Running);
        QTRY_VERIFY_WITH_TIMEOUT(!stopped(t->processId()), 3000);
        QTest::qWait(300);
        QVERIFY(!stopped(t->processId()));
    }

    // Cancelled while the pages are saved from the copy: the copy goes
    // with the job and the target runs on.
    void cancelWhileSavingFromTheCopy()
    {
        auto t = bigTarget(kUser, 48);
        QTest::qWait(500);
        auto client = m_env.startClient(kUser,
                                        {QStringLiteral("checkpoint"),
                                         pidText(t),
                                         QStringLiteral("-"),
                                         QStringLiteral("--fd"),
                                         QStringLiteral("pipe"),
                                         QStringLiteral("--stall"),
                                         QStringLiteral("--opt"),
                                         QStringLiteral("low-pause=b:true"),
                                         QStringLiteral("--cancel-on-sigusr1")});
        QVERIFY(waitForLine(client.get(), QStringLiteral("progress write"), 30000));
        QList<qint64> copies;
        QTRY_VERIFY_WITH_TIMEOUT(!(copies = copiesOf(t->processId())).isEmpty(), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(!stopped(t->processId()), 5000); // the save phase: the target runs
        for (qint64 copy : std::as_const(copies)) {
            QVERIFY(stopped(copy));
        }
        QCOMPARE(::kill(pid_t(client->processId()), SIGUSR1), 0);
        QVERIFY(client->waitForFinished(30000));
        const QString out = QString::fromLocal8Bit(client->readAllStandardOutput());
        QVERIFY2(out.contains(QLatin1String("io.github.cryopod.Error.Cancelled")), qPrintable(out));
        for (qint64 copy : std::as_const(copies)) {
            QTRY_VERIFY_WITH_TIMEOUT(processState(copy) == 0 || processState(copy) == 'Z', 5000);
        }
        QTRY_VERIFY_WITH_TIMEOUT(copiesOf(t->processId()).isEmpty(), 5000);
        QTest::qWait(300);
        QVERIFY(!stopped(t->processId()));
        QCOMPARE(t->state(), QProcess::Running);
    }

    void callerVanishesMidCheckpoint()
    {
        auto t = bigTarget(kUser, 48);
        QTest::qWait(500);
        const ClientRun r = m_env.runClient(
            kUser,
            {QStringLiteral("checkpoint"), pidText(t), QStringLiteral("-"), QStringLiteral("--fd"), QStringLiteral("pipe"), QStringLiteral("--stall"), QStringLiteral("--exit-on"), QStringLiteral("write")});
        QVERIFY2(r.has(QStringLiteral("exiting")), qPrintable(r.lines.join(QLatin1Char('\n'))));
        QTRY_VERIFY_WITH_TIMEOUT(!stopped(t->processId()), 5000);
        QTest::qWait(300);
        QVERIFY(!stopped(t->processId()));
        QCOMPARE(t->state(), QProcess::Running);
        QVERIFY(m_env.helperRunning());
    }

    void helperKilledMidCheckpoint_data()
    {
        QTest::addColumn<bool>("lowPause");
        QTest::addColumn<int>("signal");
        QTest::newRow("stopped for the whole dump, SIGKILL") << false << int(SIGKILL);
        QTest::newRow("low pause (the default), SIGKILL") << true << int(SIGKILL);
        QTest::newRow("stopped for the whole dump, SIGTERM") << false << int(SIGTERM);
        QTest::newRow("low pause (the default), SIGTERM") << true << int(SIGTERM);
    }

    // SIGKILL: the kernel lets the target go. SIGTERM (a service manager
    // stopping the helper): the helper cancels the job, the caller hears
    // Cancelled, and the helper exits once the job has let the target go.
    void helperKilledMidCheckpoint()
    {
        QFETCH(bool, lowPause);
        QFETCH(int, signal);
        auto t = bigTarget(kUser, 48);
        QTest::qWait(500);
        auto client = m_env.startClient(kUser,
                                        {QStringLiteral("checkpoint"),
                                         pidText(t),
                                         QStringLiteral("-"),
                                         QStringLiteral("--fd"),
                                         QStringLiteral("pipe"),
                                         QStringLiteral("--stall"),
                                         QStringLiteral("--opt"),
                                         QStringLiteral("low-pause=b:") + (lowPause ? QStringLiteral("true") : QStringLiteral("false"))});
        QVERIFY(waitForLine(client.get(), QStringLiteral("progress write"), 30000));
        QList<qint64> copies;
        if (lowPause) {
            // Mid-write the target runs on; a stopped copy of it holds its memory...
            QTRY_VERIFY_WITH_TIMEOUT(!(copies = copiesOf(t->processId())).isEmpty(), 5000);
            QTRY_VERIFY_WITH_TIMEOUT(!stopped(t->processId()), 5000); // once the metadata is written
            for (qint64 copy : copies) {
                QVERIFY(stopped(copy));
            }
        } else {
            // Mid-write, the engine holds the target stopped...
            QTRY_VERIFY_WITH_TIMEOUT(stopped(t->processId()), 5000);
        }
        if (signal == SIGKILL) {
            m_env.killHelper();
        } else {
            QCOMPARE(::kill(pid_t(m_env.helperPid()), signal), 0);
            QVERIFY(client->waitForFinished(30000));
            const QString out = QString::fromLocal8Bit(client->readAllStandardOutput());
            QVERIFY2(out.contains(QLatin1String("io.github.cryopod.Error.Cancelled")), qPrintable(out));
            QTRY_VERIFY_WITH_TIMEOUT(!m_env.helperRunning(), 10000);
            QCOMPARE(m_env.helperExitCode(), 0); // it quit, not killed by the signal
        }
        // ...and the target is let go (the copy killed) when the helper ends.
        QTRY_VERIFY_WITH_TIMEOUT(!stopped(t->processId()), 5000);
        for (qint64 copy : copies) {
            QTRY_VERIFY_WITH_TIMEOUT(processState(copy) == 0 || processState(copy) == 'Z', 5000);
        }
        QTest::qWait(300);
        QVERIFY(!stopped(t->processId()));
        QCOMPARE(t->state(), QProcess::Running);
        client->kill();
        client->waitForFinished(5000);
    }

    void measureHelperOverhead()
    {
        // Not a check: timings for the record (CRYOPOD_HELPER_MEASURE=MIB).
        const int mib = qEnvironmentVariableIntValue("CRYOPOD_HELPER_MEASURE");
        if (mib <= 0) {
            QSKIP("set CRYOPOD_HELPER_MEASURE=MIB to measure");
        }
        auto t = bigTarget(kUser, mib);
        QTest::qWait(1000 + mib * 10);
        const QString dir = m_env.userDirectory(kUser);
        for (int round = 0; round < 3; ++round) {
            QElapsedTimer timer;
            timer.start();
            ClientRun viaHelper = m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), {QStringLiteral("checkpoint"), pidText(t), QStringLiteral("-o"), dir + QStringLiteral("/h.img")});
            const qint64 helperMs = timer.restart();
            ClientRun direct = m_env.runAs(QString(), QStringLiteral(CRYOPODCTL), {QStringLiteral("checkpoint"), QStringLiteral("--direct"), pidText(t), QStringLiteral("-o"), dir + QStringLiteral("/d.img")});
            const qint64 directMs = timer.elapsed();
            QVERIFY2(viaHelper.exitCode == 0 && direct.exitCode == 0, qPrintable(viaHelper.stderrText + direct.stderrText));
            qInfo("%d MiB: via helper (as user) %lld ms, direct (root) %lld ms; images %lld / %lld bytes; helper: %s; direct: %s",
                  mib,
                  helperMs,
                  directMs,
                  QFileInfo(dir + QStringLiteral("/h.img")).size(),
                  QFileInfo(dir + QStringLiteral("/d.img")).size(),
                  qPrintable(viaHelper.lines.join(QLatin1Char(' '))),
                  qPrintable(direct.lines.join(QLatin1Char(' '))));
        }
    }

    void twentyJobsOfTwoUsers()
    {
        QElapsedTimer elapsed;
        elapsed.start();
        std::vector<ProcessPtr> targets;
        QStringList pids[2];
        const QString users[2] = {kUser, kUser2};
        for (int u = 0; u < 2; ++u) {
            for (int i = 0; i < 10; ++i) {
                targets.push_back(bigTarget(users[u], 1));
                pids[u] << pidText(targets.back());
            }
        }
        QTest::qWait(300);
        QString dirs[2];
        ProcessPtr clients[2];
        for (int u = 0; u < 2; ++u) {
            dirs[u] = m_env.userDirectory(users[u]);
            QStringList args{QStringLiteral("--timeout"), QStringLiteral("120"), QStringLiteral("checkpoint-many"), dirs[u]};
            args << pids[u];
            clients[u] = m_env.startClient(users[u], args);
        }
        for (int u = 0; u < 2; ++u) {
            QVERIFY(clients[u]->waitForFinished(150000));
            const QString out = QString::fromLocal8Bit(clients[u]->readAllStandardOutput());
            QCOMPARE(out.count(QLatin1String("result ok")), 10);
            QCOMPARE(clients[u]->exitCode(), 0);
            for (const QString &pid : std::as_const(pids[u])) {
                const QString image = dirs[u] + QLatin1Char('/') + pid + QStringLiteral(".img");
                auto info = cryopod::image::ImageInfo::readFile(image.toStdString());
                QVERIFY2(info, info ? "" : info.error().describe().c_str());
                QCOMPARE(QString::number(info->rootPid), pid);
            }
        }
        qInfo("20 checkpoint jobs of two users: %lld ms in all", elapsed.elapsed());
        for (auto &t : targets) {
            QCOMPARE(t->state(), QProcess::Running);
            QVERIFY(!stopped(t->processId()));
        }
    }
};

QTEST_GUILESS_MAIN(HelperEngineTest)
#include "helperenginetest.moc"
