// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Recurring snapshots end to end, in real time: an ordinary user adds a
// 1-second schedule with "keep the last 3" for a real workload (wl_heap),
// and `cryopodctl schedule run --for` (the timer-driven ScheduleService of
// `cryopod --background`) takes the snapshots through the real
// cryopod-helper on a private system bus with a real polkitd. Afterwards
// exactly the three newest snapshots the runs took are in the store, every
// older one was removed by retention, the store checks clean, and the
// workload still passes its own check. Then the workload goes and the next
// run is recorded as skipped, target gone. "freeze" mode (the tree stopped
// for the whole capture) takes its snapshots too.

#include "helpertestenv.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <set>
#include <unistd.h>

namespace
{
const QString kUser = QStringLiteral("cryopod-hlp-user");

QString readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()).trimmed() : QString();
}

QString output(const ClientRun &r)
{
    return r.lines.join(QLatin1Char('\n')) + QLatin1Char('\n') + r.stderrText;
}

QJsonArray jsonOf(const ClientRun &r)
{
    return QJsonDocument::fromJson(r.lines.join(QLatin1Char('\n')).toUtf8()).array();
}
} // namespace

class ScheduleEndToEndTest : public QObject
{
    Q_OBJECT

    HelperTestEnv m_env;

    ClientRun ctl(const QString &store, const QStringList &args, int timeoutMs = 60000)
    {
        return m_env.runAs(kUser, QStringLiteral(CRYOPODCTL), args + QStringList {QStringLiteral("--store"), store}, timeoutMs);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QString error;
        QVERIFY2(m_env.start(&error), qPrintable(error));
        QVERIFY2(m_env.startHelper(&error), qPrintable(error));
    }

    void oneSecondScheduleKeepsTheLastThree()
    {
        const QString state = m_env.userDirectory(kUser);
        const QString store = state + QStringLiteral("/store");
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = QString::number(workload->processId());

        ClientRun add = ctl(store,
                            {QStringLiteral("schedule"), QStringLiteral("add"), pid, QStringLiteral("--every"), QStringLiteral("1s"),
                             QStringLiteral("--keep-last"), QStringLiteral("3")});
        QVERIFY2(add.exitCode == 0, qPrintable(output(add)));
        QVERIFY2(add.has(QStringLiteral("schedule 1: process ") + pid), qPrintable(output(add)));

        // ten seconds of the runner: a snapshot about every second
        ClientRun run = ctl(store, {QStringLiteral("schedule"), QStringLiteral("run"), QStringLiteral("--for"), QStringLiteral("10")}, 120000);
        QVERIFY2(run.exitCode == 0, qPrintable(output(run)));

        ClientRun runs = ctl(store, {QStringLiteral("schedule"), QStringLiteral("runs"), QStringLiteral("1"), QStringLiteral("--json")});
        QVERIFY2(runs.exitCode == 0, qPrintable(output(runs)));
        const QJsonArray recorded = jsonOf(runs);
        int taken = 0;
        int removed = 0;
        std::vector<qint64> newest; // snapshot ids of the runs, newest first, as far as they are left
        for (const QJsonValue &v : recorded) {
            const QJsonObject r = v.toObject();
            QVERIFY2(r.value(QStringLiteral("outcome")).toString() == QLatin1String("taken"), qPrintable(output(runs)));
            ++taken;
            removed += r.value(QStringLiteral("removed")).toInt();
            if (!r.value(QStringLiteral("snapshot")).isNull()) {
                newest.push_back(r.value(QStringLiteral("snapshot")).toInteger());
            }
        }
        qInfo("%d runs in 10 s, %d snapshots removed by retention", taken, removed);
        QVERIFY2(taken >= 4, qPrintable(output(run))); // more than the policy keeps
        QCOMPARE(removed, taken - 3);
        // the runs whose snapshots are left are the three newest
        QCOMPARE(newest.size(), size_t(3));
        for (size_t i = 0; i < newest.size(); ++i) {
            QCOMPARE(recorded[qsizetype(i)].toObject().value(QStringLiteral("snapshot")).toInteger(), newest[i]);
        }

        ClientRun list = ctl(store, {QStringLiteral("list"), QStringLiteral("--json")});
        QVERIFY2(list.exitCode == 0, qPrintable(output(list)));
        const QJsonArray snapshots = jsonOf(list);
        std::set<qint64> inStore;
        for (const QJsonValue &v : snapshots) {
            const QJsonObject s = v.toObject();
            QCOMPARE(s.value(QStringLiteral("origin")).toString(), QStringLiteral("schedule"));
            QCOMPARE(s.value(QStringLiteral("pid")).toInt(), workload->processId());
            inStore.insert(s.value(QStringLiteral("id")).toInteger());
        }
        QCOMPARE(inStore, std::set<qint64>(newest.begin(), newest.end()));
        ClientRun check = ctl(store, {QStringLiteral("store"), QStringLiteral("check")});
        QVERIFY2(check.exitCode == 0 && check.has(QStringLiteral("store is intact")), qPrintable(output(check)));

        // the workload was never left stopped and is intact
        const char state0 = processState(workload->processId());
        QVERIFY(state0 != 't' && state0 != 'T');
        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));
        // it ends after its check
        QTRY_COMPARE_WITH_TIMEOUT(workload->state(), QProcess::NotRunning, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(processState(pid.toLongLong()), '\0', 10000);

        // gone: the next run is skipped, and says so
        QTest::qWait(1100);
        ClientRun after = ctl(store, {QStringLiteral("schedule"), QStringLiteral("run")});
        QVERIFY2(after.exitCode == 0, qPrintable(output(after)));
        QVERIFY2(after.has(QStringLiteral("schedule 1: skipped: target gone: process ") + pid), qPrintable(output(after)));
        ClientRun last = ctl(store, {QStringLiteral("schedule"), QStringLiteral("runs"), QStringLiteral("1"), QStringLiteral("--limit"), QStringLiteral("1")});
        QVERIFY2(last.lines.value(0).contains(QLatin1String("skipped")) && last.lines.value(0).contains(QLatin1String("target gone")),
                 qPrintable(output(last)));
        QCOMPARE(jsonOf(ctl(store, {QStringLiteral("list"), QStringLiteral("--json")})).size(), 3);
    }

    void freezeModeTakesSnapshots()
    {
        const QString state = m_env.userDirectory(kUser); // a new one
        const QString store = state + QStringLiteral("/store");
        auto workload = m_env.startProcess(kUser, QStringLiteral(WL_HEAP), {state}, state);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/ready")), 15000);
        const QString pid = QString::number(workload->processId());
        ClientRun add = ctl(store,
                            {QStringLiteral("schedule"), QStringLiteral("add"), pid, QStringLiteral("--every"), QStringLiteral("1s"), QStringLiteral("--mode"),
                             QStringLiteral("freeze")});
        QVERIFY2(add.exitCode == 0, qPrintable(output(add)));
        ClientRun run = ctl(store, {QStringLiteral("schedule"), QStringLiteral("run"), QStringLiteral("--for"), QStringLiteral("3")}, 60000);
        QVERIFY2(run.exitCode == 0, qPrintable(output(run)));
        const QJsonArray recorded = jsonOf(ctl(store, {QStringLiteral("schedule"), QStringLiteral("runs"), QStringLiteral("1"), QStringLiteral("--json")}));
        QVERIFY2(recorded.size() >= 2, qPrintable(output(run)));
        for (const QJsonValue &v : recorded) {
            QCOMPARE(v.toObject().value(QStringLiteral("outcome")).toString(), QStringLiteral("taken"));
        }
        const char s = processState(workload->processId());
        QVERIFY(s != 't' && s != 'T');
        QFile go(state + QStringLiteral("/go"));
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(state + QStringLiteral("/result")), 20000);
        QCOMPARE(readFile(state + QStringLiteral("/result")), QStringLiteral("ok"));
    }
};

QTEST_GUILESS_MAIN(ScheduleEndToEndTest)
#include "scheduleendtoendtest.moc"
