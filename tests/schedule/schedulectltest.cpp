// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl schedule as a user meets it: add (a process of this test, a
// rule), list (text and JSON), pause, resume, edit, remove, runs, preview, and a
// clear error with exit status 2 for every kind of bad input (1 when the
// input is fine but the world says no: no such process, no such schedule).

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace
{
struct Run {
    int status = -1;
    QString out;
    QString err;
};
} // namespace

class ScheduleCtlTest : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    pid_t m_child = 0;

    Run ctl(const QStringList &args)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("CRYOPOD_STORE"), m_dir.filePath(QStringLiteral("store")));
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), m_dir.filePath(QStringLiteral("config")));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(CRYOPODCTL), QStringList {QStringLiteral("schedule")} + args);
        if (!p.waitForFinished(60000)) {
            return {};
        }
        return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
    }

private Q_SLOTS:
    void initTestCase()
    {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        m_child = ::fork();
        if (m_child == 0) {
            ::pause();
            ::_exit(0);
        }
    }

    void cleanupTestCase()
    {
        ::kill(m_child, SIGKILL);
        ::waitpid(m_child, nullptr, 0);
    }

    void badInput_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("message");
        const QString pid = QString::number(m_child);
        QTest::newRow("no when") << QStringList {QStringLiteral("add"), pid} << 2 << "say when";
        QTest::newRow("two whens") << QStringList {QStringLiteral("add"),  pid, QStringLiteral("--every"), QStringLiteral("5m"), QStringLiteral("--daily"),
                                                   QStringLiteral("03:00")}
                                   << 2 << "only one of";
        QTest::newRow("zero interval") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--every"), QStringLiteral("0")} << 2
                                       << "not a positive interval";
        QTest::newRow("bad unit") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--every"), QStringLiteral("3w")} << 2 << "unit of an interval";
        QTest::newRow("bad time") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--daily"), QStringLiteral("24:00")} << 2 << "not a time of day";
        QTest::newRow("bad weekday") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--weekly"), QStringLiteral("someday"), QStringLiteral("10:00")}
                                     << 2 << "not a day of the week";
        QTest::newRow("weekly without time") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--weekly")} << 2 << "--weekly needs a day and a time";
        QTest::newRow("no target") << QStringList {QStringLiteral("add"), QStringLiteral("--every"), QStringLiteral("5m")} << 2 << "give a PID";
        QTest::newRow("not a pid") << QStringList {QStringLiteral("add"), QStringLiteral("abc"), QStringLiteral("--every"), QStringLiteral("5m")} << 2
                                   << "'abc' is not a PID";
        QTest::newRow("no process") << QStringList {QStringLiteral("add"), QStringLiteral("999999999"), QStringLiteral("--every"), QStringLiteral("5m")} << 1
                                    << "is not running";
        QTest::newRow("negative count") << QStringList {QStringLiteral("add"),          pid,
                                                        QStringLiteral("--every"),      QStringLiteral("5m"),
                                                        QStringLiteral("--keep-daily"), QStringLiteral("-2")}
                                        << 2 << "--keep-daily needs a count";
        QTest::newRow("bad size") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--every"), QStringLiteral("5m"), QStringLiteral("--max-size"),
                                                  QStringLiteral("12Q")}
                                  << 2 << "--max-size needs a size";
        QTest::newRow("bad mode") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--every"), QStringLiteral("5m"), QStringLiteral("--mode"),
                                                  QStringLiteral("fast")}
                                  << 2 << "--mode is 'running' or 'freeze'";
        QTest::newRow("relative exe") << QStringList {QStringLiteral("add"), QStringLiteral("--exe"), QStringLiteral("python3"), QStringLiteral("--every"),
                                                      QStringLiteral("5m")}
                                      << 2 << "absolute path";
        QTest::newRow("bad regex") << QStringList {QStringLiteral("add"),    QStringLiteral("--exe"), QStringLiteral("/usr/bin/python3"),
                                                   QStringLiteral("--args"), QStringLiteral("(x"),    QStringLiteral("--every"),
                                                   QStringLiteral("5m")}
                                   << 2 << "not a regular expression";
        QTest::newRow("rule with pid") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--exe"), QStringLiteral("/bin/x"), QStringLiteral("--every"),
                                                       QStringLiteral("5m")}
                                       << 2 << "takes no PID";
        QTest::newRow("args without rule") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--args"), QStringLiteral("x"), QStringLiteral("--every"),
                                                           QStringLiteral("5m")}
                                           << 2 << "--args belongs to a rule";
        QTest::newRow("unknown option") << QStringList {QStringLiteral("add"), pid, QStringLiteral("--evry"), QStringLiteral("5m")} << 2
                                        << "unknown option '--evry'";
        QTest::newRow("pause without id") << QStringList {QStringLiteral("pause")} << 2 << "pause needs one schedule id";
        QTest::newRow("resume bad id") << QStringList {QStringLiteral("resume"), QStringLiteral("x1")} << 2 << "resume needs one schedule id";
        QTest::newRow("remove missing") << QStringList {QStringLiteral("remove"), QStringLiteral("4242")} << 1 << "there is no such schedule";
        QTest::newRow("preview missing") << QStringList {QStringLiteral("preview"), QStringLiteral("4242")} << 1 << "there is no schedule 4242";
        QTest::newRow("edit without id") << QStringList {QStringLiteral("edit"), QStringLiteral("--every"), QStringLiteral("5m")} << 2
                                         << "edit needs one schedule id";
        QTest::newRow("edit nothing") << QStringList {QStringLiteral("edit"), QStringLiteral("1")} << 2 << "say what to change";
        QTest::newRow("edit two whens") << QStringList {QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--hourly"), QStringLiteral("--daily"),
                                                        QStringLiteral("03:00")}
                                        << 2 << "only one of";
        QTest::newRow("edit bad time") << QStringList {QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--daily"), QStringLiteral("25:00")} << 2
                                       << "not a time of day";
        QTest::newRow("edit bad count") << QStringList {QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--keep-last"), QStringLiteral("x")} << 2
                                        << "--keep-last needs a count";
        QTest::newRow("edit bad mode") << QStringList {QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--mode"), QStringLiteral("frozen")} << 2
                                       << "--mode is 'running' or 'freeze'";
        QTest::newRow("edit target") << QStringList {QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--exe"), QStringLiteral("/bin/x")} << 2
                                     << "unknown option '--exe'";
        QTest::newRow("edit extra") << QStringList {QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("2"), QStringLiteral("--every"),
                                                    QStringLiteral("5m")}
                                    << 2 << "unexpected '2'";
        QTest::newRow("edit missing") << QStringList {QStringLiteral("edit"), QStringLiteral("4242"), QStringLiteral("--every"), QStringLiteral("5m")} << 1
                                      << "there is no schedule 4242";
        QTest::newRow("unknown command") << QStringList {QStringLiteral("frobnicate")} << 2 << "unknown schedule command 'frobnicate'";
    }

    void badInput()
    {
        QFETCH(QStringList, args);
        QFETCH(int, status);
        QFETCH(QString, message);
        const Run r = ctl(args);
        QCOMPARE(r.status, status);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QVERIFY(r.out.isEmpty());
    }

    void addListPauseResumeRemove()
    {
        Run r = ctl({QStringLiteral("list")});
        QCOMPARE(r.status, 0);
        QVERIFY(r.out.contains(QLatin1String("no schedules")));
        r = ctl({QStringLiteral("add"), QString::number(m_child), QStringLiteral("--every"), QStringLiteral("90s"), QStringLiteral("--keep-last"),
                 QStringLiteral("3"), QStringLiteral("--keep-daily"), QStringLiteral("7"), QStringLiteral("--max-size"), QStringLiteral("1.5G"),
                 QStringLiteral("--name"), QStringLiteral("probe")});
        QVERIFY2(r.status == 0, qPrintable(r.err));
        QVERIFY2(r.out.startsWith(QStringLiteral("schedule 1: process %1 (").arg(m_child)), qPrintable(r.out));
        QVERIFY2(r.out.contains(QLatin1String("every 90s, retention: 3 last, 7 daily, at most 1.50 GiB")), qPrintable(r.out));
        r = ctl({QStringLiteral("add"), QStringLiteral("--exe"), QStringLiteral("/usr/bin/python3"), QStringLiteral("--args"), QStringLiteral("train\\.py"),
                 QStringLiteral("--weekly"), QStringLiteral("fri"), QStringLiteral("18:30"), QStringLiteral("--paused")});
        QVERIFY2(r.status == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains(QLatin1String("/usr/bin/python3 matching /train\\.py/ of uid")) && r.out.contains(QLatin1String("weekly on Fri at 18:30")) &&
                     r.out.contains(QLatin1String("(paused)")),
                 qPrintable(r.out));

        r = ctl({QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(r.status, 0);
        QJsonArray list = QJsonDocument::fromJson(r.out.toUtf8()).array();
        QCOMPARE(list.size(), 2);
        QCOMPARE(list[0].toObject().value(QStringLiteral("name")).toString(), QStringLiteral("probe"));
        QCOMPARE(list[0].toObject().value(QStringLiteral("pid")).toInt(), m_child);
        QCOMPARE(list[0].toObject().value(QStringLiteral("enabled")).toBool(), true);
        QCOMPARE(list[1].toObject().value(QStringLiteral("targetKind")).toString(), QStringLiteral("rule"));
        QCOMPARE(list[1].toObject().value(QStringLiteral("enabled")).toBool(), false);

        QCOMPARE(ctl({QStringLiteral("pause"), QStringLiteral("1")}).out, QStringLiteral("schedule 1 paused\n"));
        QCOMPARE(ctl({QStringLiteral("resume"), QStringLiteral("2")}).out, QStringLiteral("schedule 2 resumed\n"));
        list = QJsonDocument::fromJson(ctl({QStringLiteral("list"), QStringLiteral("--json")}).out.toUtf8()).array();
        QCOMPARE(list[0].toObject().value(QStringLiteral("enabled")).toBool(), false);
        QCOMPARE(list[1].toObject().value(QStringLiteral("enabled")).toBool(), true);

        r = ctl({QStringLiteral("preview"), QStringLiteral("1")});
        QCOMPARE(r.status, 0);
        QVERIFY2(r.out.contains(QLatin1String("0 of 0 kept")), qPrintable(r.out));
        r = ctl({QStringLiteral("runs")});
        QCOMPARE(r.status, 0);
        QCOMPARE(r.out, QString());

        // edit in place: what it says changes, the rest stays
        r = ctl({QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--weekly"), QStringLiteral("tue"), QStringLiteral("07:15"),
                 QStringLiteral("--keep-last"), QStringLiteral("9"), QStringLiteral("--name"), QStringLiteral("renamed"), QStringLiteral("--mode"),
                 QStringLiteral("running")});
        QVERIFY2(r.status == 0, qPrintable(r.err));
        QVERIFY2(r.out.startsWith(QStringLiteral("schedule 1: process %1 (").arg(m_child)), qPrintable(r.out));
        QVERIFY2(r.out.contains(QLatin1String("weekly on Tue at 07:15, retention: 9 last, 7 daily, at most 1.50 GiB")) &&
                     r.out.contains(QLatin1String("(paused)")),
                 qPrintable(r.out));
        QJsonObject edited = QJsonDocument::fromJson(ctl({QStringLiteral("list"), QStringLiteral("--json")}).out.toUtf8()).array()[0].toObject();
        QCOMPARE(edited.value(QStringLiteral("id")).toInt(), 1);
        QCOMPARE(edited.value(QStringLiteral("name")).toString(), QStringLiteral("renamed"));
        QCOMPARE(edited.value(QStringLiteral("pid")).toInt(), m_child);
        QCOMPARE(edited.value(QStringLiteral("when")).toString(), QStringLiteral("weekly on Tue at 07:15"));
        QCOMPARE(edited.value(QStringLiteral("enabled")).toBool(), false);
        const QDateTime next = QDateTime::fromString(edited.value(QStringLiteral("nextRun")).toString(), Qt::ISODateWithMs);
        QVERIFY(next > QDateTime::currentDateTime());
        QCOMPARE(next.date().dayOfWeek(), 2);
        QCOMPARE(next.time(), QTime(7, 15));
        // a bad value changes nothing
        r = ctl({QStringLiteral("edit"), QStringLiteral("1"), QStringLiteral("--name"), QStringLiteral("never"), QStringLiteral("--max-size"),
                 QStringLiteral("lots")});
        QCOMPARE(r.status, 2);
        QCOMPARE(QJsonDocument::fromJson(ctl({QStringLiteral("list"), QStringLiteral("--json")}).out.toUtf8()).array()[0].toObject(), edited);
        // --hourly with its minute
        r = ctl({QStringLiteral("edit"), QStringLiteral("2"), QStringLiteral("--hourly"), QStringLiteral("20")});
        QVERIFY2(r.status == 0 && r.out.contains(QLatin1String("hourly at :20")), qPrintable(r.out + r.err));

        QCOMPARE(ctl({QStringLiteral("remove"), QStringLiteral("1")}).out, QStringLiteral("schedule 1 removed\n"));
        list = QJsonDocument::fromJson(ctl({QStringLiteral("list"), QStringLiteral("--json")}).out.toUtf8()).array();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list[0].toObject().value(QStringLiteral("id")).toInt(), 2);
    }
};

QTEST_GUILESS_MAIN(ScheduleCtlTest)
#include "schedulectltest.moc"
