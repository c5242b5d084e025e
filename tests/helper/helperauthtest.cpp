// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod-helper's authorization, validation and job handling on a real
// (private) system bus with a real polkitd, called by unprivileged users
// (helpertestclient under setpriv). Nothing here needs the engine to work:
// everything is decided before the engine runs, or the job is stopped while
// it waits for its image.

#include "helpertestenv.h"
#include "processscanner.h"
#include "testimage.h"

#include <QDBusConnection>
#include <QDBusMessage>
#include <QFile>
#include <QRandomGenerator>
#include <QTest>
#include <QXmlStreamReader>

#include <csignal>
#include <fcntl.h>
#include <unistd.h>

namespace
{
const QString kUser = QStringLiteral("cryopod-hlp-user");
const QString kUser2 = QStringLiteral("cryopod-hlp-user2");
const QString kAdmin = QStringLiteral("cryopod-hlp-admin");
const QString kNone = QStringLiteral("cryopod-hlp-none");
const QString kNoRule = QStringLiteral("cryopod-hlp-norule");
const QString kNotAuthorized = QStringLiteral("io.github.cryopod.Error.NotAuthorized");
const QString kInvalid = QStringLiteral("io.github.cryopod.Error.InvalidArgument");

uint statusUidOf(qint64 pid)
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

QString pidText(const ProcessPtr &p)
{
    return QString::number(p->processId());
}

// Member name -> signature "in:...;out:..." of an interface in introspection XML.
QMap<QString, QString> members(const QString &xml, const QString &interface)
{
    QMap<QString, QString> out;
    QXmlStreamReader reader(xml);
    bool inside = false;
    QString member, in, outArgs;
    bool signal = false;
    while (!reader.atEnd()) {
        reader.readNext();
        if (reader.isStartElement()) {
            const auto name = reader.name();
            if (name == QLatin1String("interface")) {
                inside = reader.attributes().value(QLatin1String("name")) == interface;
            } else if (inside && (name == QLatin1String("method") || name == QLatin1String("signal"))) {
                member = name.toString() + QLatin1Char(' ') + reader.attributes().value(QLatin1String("name")).toString();
                signal = name == QLatin1String("signal");
                in.clear();
                outArgs.clear();
            } else if (inside && name == QLatin1String("arg") && !member.isEmpty()) {
                const QString type = reader.attributes().value(QLatin1String("type")).toString();
                // A signal's arguments have no direction (Qt writes "out").
                if (!signal && reader.attributes().value(QLatin1String("direction")) == QLatin1String("out")) {
                    outArgs += type;
                } else {
                    in += type;
                }
            }
        } else if (reader.isEndElement()) {
            const auto name = reader.name();
            if (inside && (name == QLatin1String("method") || name == QLatin1String("signal")) && !member.isEmpty()) {
                out.insert(member, in + QLatin1String("->") + outArgs);
                member.clear();
            } else if (name == QLatin1String("interface")) {
                inside = false;
            }
        }
    }
    return out;
}
}

class HelperAuthTest : public QObject
{
    Q_OBJECT

private:
    HelperTestEnv m_env;
    QStringList m_runnerDirs;

    ProcessPtr target(const QString &user)
    {
        auto p = m_env.startProcess(user, QStringLiteral(HELPER_TARGET), {QStringLiteral("1")});
        return p;
    }

    QString introspect(const QString &path)
    {
        QDBusConnection bus = QDBusConnection::connectToBus(m_env.address(), QStringLiteral("authtest"));
        QDBusMessage call = QDBusMessage::createMethodCall(QStringLiteral("io.github.cryopod.Helper"),
                                                           path,
                                                           QStringLiteral("org.freedesktop.DBus.Introspectable"),
                                                           QStringLiteral("Introspect"));
        const QDBusMessage reply = bus.call(call, QDBus::Block, 5000);
        return reply.arguments().value(0).toString();
    }

    // The job objects the helper exports now.
    int jobCount()
    {
        const QString xml = introspect(QStringLiteral("/io/github/cryopod/Helper/job"));
        return int(xml.count(QLatin1String("<node name=")));
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

    void introspectionMatchesXml()
    {
        QFile file(QStringLiteral(HELPER_INTERFACE_XML));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString xml = QString::fromUtf8(file.readAll());
        const QString live = introspect(QStringLiteral("/io/github/cryopod/Helper"));
        QCOMPARE(members(live, QStringLiteral("io.github.cryopod.Helper1")), members(xml, QStringLiteral("io.github.cryopod.Helper1")));
        QVERIFY(members(xml, QStringLiteral("io.github.cryopod.Helper1")).size() == 7);

        // A job object: start a restore that waits for its image, look, cancel.
        const QString dir = m_env.userDirectory(kUser);
        const QString image = dir + QStringLiteral("/x.img");
        QFile::copy(QStringLiteral("/etc/hostname"), image);
        auto client = m_env.startClient(kUser, {QStringLiteral("restore"), image, QStringLiteral("--fd"), QStringLiteral("pipe"), QStringLiteral("--stall")});
        QTRY_VERIFY_WITH_TIMEOUT(QString::fromLocal8Bit(client->peek(4096)).contains(QLatin1String("job /")), 10000);
        const QString line = QString::fromLocal8Bit(client->readLine()).trimmed();
        const QString path = line.section(QLatin1Char(' '), 1, 1);
        const QString jobXml = introspect(path);
        QCOMPARE(members(jobXml, QStringLiteral("io.github.cryopod.Job1")), members(xml, QStringLiteral("io.github.cryopod.Job1")));
        QCOMPARE(members(xml, QStringLiteral("io.github.cryopod.Job1")).size(), 3);
        client->kill();
        client->waitForFinished(5000);
    }

    void versionForEveryone()
    {
        const ClientRun run = m_env.runClient(kNone, {QStringLiteral("version")});
        QVERIFY2(run.ok(), qPrintable(run.lines.join(QLatin1Char('\n')) + run.stderrText));
        QCOMPARE(run.value(QStringLiteral("version")), QStringLiteral(CRYOPOD_TEST_VERSION));
    }

    // The app inside a Flatpak lists the host's processes through the
    // helper (HelperProcessSource, run by helpertestclient as the user): the
    // same tree as a direct scan of /proc, with only what the user could read
    // there (no executable of another user's process).
    void listProcessesAsTheCallerCouldRead()
    {
        auto own = target(kUser);
        QVERIFY(own);
        const TestUser u = m_env.user(kUser);
        QTRY_VERIFY_WITH_TIMEOUT(statusUidOf(own->processId()) == u.uid, 5000);
        const ProcessSnapshot before = ProcessScanner::scan();
        const ClientRun run = m_env.runClient(kUser, {QStringLiteral("list-processes")});
        const ProcessSnapshot after = ProcessScanner::scan();
        QVERIFY2(run.ok(), qPrintable(run.lines.join(QLatin1Char('\n')).right(2000) + run.stderrText));

        QHash<int, QStringList> listed;
        for (const QString &line : run.lines) {
            if (line.startsWith(QLatin1String("process "))) {
                const QStringList f = line.split(QLatin1Char(' '));
                QCOMPARE(f.size(), 9);
                listed.insert(f.at(1).toInt(), f);
            }
        }
        QCOMPARE(run.value(QStringLiteral("count")).toInt(), listed.size());
        QHash<int, ProcessInfo> afterByPid;
        for (const ProcessInfo &p : after.processes) {
            afterByPid.insert(p.pid, p);
        }
        int compared = 0, othersWithExe = 0;
        for (const ProcessInfo &p : before.processes) {
            const auto later = afterByPid.constFind(p.pid);
            if (later == afterByPid.cend() || !later->isSameProcess(p) || later->ppid != p.ppid || later->name != p.name || later->euid != p.euid) {
                continue; // exited, replaced, re-parented or renamed (kworkers are) while the scans ran
            }
            QVERIFY2(listed.contains(p.pid), qPrintable(QStringLiteral("process %1 (%2) is missing from the helper's list").arg(p.pid).arg(p.name)));
            const QStringList &f = listed.value(p.pid);
            QCOMPARE(f.at(2).toInt(), int(p.ppid));
            QCOMPARE(f.at(3).toUInt(), uint(p.uid));
            QCOMPARE(f.at(4).toUInt(), uint(p.euid));
            QCOMPARE(f.at(5).toULongLong(), p.startTicks);
            QCOMPARE(f.at(6) == QLatin1String("1"), p.kernelThread);
            const QString name = QString(p.name).replace(QLatin1Char(' '), QLatin1Char('_'));
            if (p.kernelThread && p.name.startsWith(QLatin1String("kworker/"))) {
                // A kworker's name ends in the work queue it runs at this
                // moment ("kworker/1:2-events", "-rcu_gp", and back between
                // the two scans): only the worker's own part is stable.
                QCOMPARE(f.at(7).section(QLatin1Char('-'), 0, 0), name.section(QLatin1Char('-'), 0, 0));
            } else {
                QCOMPARE(f.at(7), name);
            }
            const bool ownProcess = p.uid == u.uid && p.euid == u.uid;
            if (ownProcess) {
                QCOMPARE(f.at(8), p.executable.isEmpty() ? QStringLiteral("-") : p.executable);
            } else {
                QCOMPARE(f.at(8), QStringLiteral("-"));
                othersWithExe += p.executable.isEmpty() ? 0 : 1;
            }
            ++compared;
        }
        QVERIFY2(compared > 20, qPrintable(QStringLiteral("only %1 processes compared").arg(compared)));
        QVERIFY2(othersWithExe > 0, "no process of another user with an executable: the filter was not exercised");
        QVERIFY(listed.contains(int(own->processId())));
        QCOMPARE(listed.value(int(own->processId())).at(8), QStringLiteral(HELPER_TARGET));

        // Still authorized per call: a rule that refuses refuses this too.
        const ClientRun refused = m_env.runClient(kNone, {QStringLiteral("list-processes")});
        QVERIFY(!refused.ok());
        QVERIFY2(refused.result().contains(QLatin1String("NotAuthorized")), qPrintable(refused.result()));
    }

    void ownProcessReport()
    {
        auto t = target(kUser);
        const ClientRun run = m_env.runClient(kUser, {QStringLiteral("report"), pidText(t)});
        QVERIFY2(run.ok(), qPrintable(run.lines.join(QLatin1Char('\n')) + run.stderrText));
        QCOMPARE(run.value(QStringLiteral("root")), pidText(t));
        QVERIFY(!run.value(QStringLiteral("verdict")).isEmpty());
    }

    void rootProcessRefused()
    {
        auto t = target(QString());
        for (const QString &method : {QStringLiteral("report"), QStringLiteral("freeze"), QStringLiteral("thaw")}) {
            const ClientRun run = m_env.runClient(kUser, {method, pidText(t)});
            QCOMPARE(run.errorName(), kNotAuthorized);
            QVERIFY2(run.result().contains(QLatin1String("-other")), qPrintable(run.result()));
            QVERIFY2(run.result().contains(QLatin1String("belongs to uid 0")), qPrintable(run.result()));
        }
        const QString dir = m_env.userDirectory(kUser);
        const ClientRun cp = m_env.runClient(kUser, {QStringLiteral("checkpoint"), pidText(t), dir + QStringLiteral("/root.img")});
        QCOMPARE(cp.errorName(), kNotAuthorized);
        QVERIFY2(cp.result().contains(QLatin1String("io.github.cryopod.checkpoint-other")), qPrintable(cp.result()));
        QVERIFY(!cp.has(QStringLiteral("job "))); // refused before any job exists
        QCOMPARE(QFileInfo(dir + QStringLiteral("/root.img")).size(), 0);
        QCOMPARE(processState(t->processId()) == 't', false);

        // Another ordinary user's process is no better.
        auto other = target(kUser2);
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("report"), pidText(other)}).errorName(), kNotAuthorized);

        // An administrator (the -other action granted) may.
        const ClientRun admin = m_env.runClient(kAdmin, {QStringLiteral("report"), pidText(t)});
        QVERIFY2(admin.ok(), qPrintable(admin.result()));
    }

    void unreadableUnlinkedFileNeedsAdmin()
    {
        // A user's process holding a write-only fd to a root-only file that
        // was unlinked: its image would hold the file's contents, which the
        // user could not read. (The fd is opened by root before setpriv.)
        const TestUser u = m_env.user(kUser);
        const QString secret = m_env.userDirectory(QStringLiteral("cryopod-hlp-admin")) + QStringLiteral("/../secret-%1").arg(::getpid());
        auto launch = [&](const QString &redirect) {
            const QString script = QStringLiteral("umask 077; echo secret > %1; exec %2%1; rm %1; exec setpriv --reuid=%3 --regid=%4 --init-groups %5 1")
                                       .arg(secret, redirect)
                                       .arg(u.uid)
                                       .arg(u.gid)
                                       .arg(QStringLiteral(HELPER_TARGET));
            return m_env.startProcess(QString(), QStringLiteral("/bin/sh"), {QStringLiteral("-c"), script});
        };
        auto writeOnly = launch(QStringLiteral("3>>"));
        QTRY_VERIFY_WITH_TIMEOUT(statusUidOf(writeOnly->processId()) == u.uid, 5000);
        const QString dir = m_env.userDirectory(kUser);
        ClientRun r = m_env.runClient(kUser, {QStringLiteral("checkpoint"), pidText(writeOnly), dir + QStringLiteral("/u.img")});
        QCOMPARE(r.errorName(), kNotAuthorized);
        QVERIFY2(r.result().contains(QLatin1String("unlinked")) && r.result().contains(QLatin1String("checkpoint-other")), qPrintable(r.result()));

        // Open for reading and writing: the user could read it through the fd.
        auto readable = launch(QStringLiteral("3<>"));
        QTRY_VERIFY_WITH_TIMEOUT(statusUidOf(readable->processId()) == u.uid, 5000);
        r = m_env.runClient(kUser, {QStringLiteral("checkpoint"), pidText(readable), dir + QStringLiteral("/r.img")});
        QVERIFY2(r.errorName() != kNotAuthorized, qPrintable(r.result()));
    }

    void ruleGrantingNothing()
    {
        // cryopod-hlp-none: the rule answers "no" to every action; its own
        // process, its own image, nothing goes through.
        auto t = target(kNone);
        const QString dir = m_env.userDirectory(kNone);
        const QString image = dir + QStringLiteral("/own.img");
        TestImageSpec spec;
        spec.uid = m_env.user(kNone).uid;
        spec.gid = m_env.user(kNone).gid;
        QCOMPARE(QString::fromStdString(writeTestImage(image.toStdString(), spec)), QString());
        ::chown(image.toLocal8Bit().constData(), spec.uid, spec.gid);
        const QList<QStringList> calls = {
            {QStringLiteral("report"), pidText(t)},
            {QStringLiteral("freeze"), pidText(t)},
            {QStringLiteral("thaw"), pidText(t)},
            {QStringLiteral("checkpoint"), pidText(t), dir + QStringLiteral("/cp.img")},
            {QStringLiteral("restore"), image},
        };
        for (const QStringList &args : calls) {
            const ClientRun run = m_env.runClient(kNone, args);
            QVERIFY2(run.errorName() == kNotAuthorized, qPrintable(args.first() + QLatin1String(": ") + run.lines.join(QLatin1Char('\n'))));
            QVERIFY(!run.has(QStringLiteral("job ")));
        }
        // And authorization comes first: a bad argument is not even looked at.
        const ClientRun bogus = m_env.runClient(kNone, {QStringLiteral("checkpoint"), pidText(t), dir + QStringLiteral("/cp.img"), QStringLiteral("--opt"), QStringLiteral("bogus=b:true")});
        QCOMPARE(bogus.errorName(), kNotAuthorized);
        QCOMPARE(m_env.runClient(kNone, {QStringLiteral("report"), QStringLiteral("0")}).errorName(), kNotAuthorized);
    }

    void policyDefaultsOutsideASession()
    {
        // No rule for this user: the policy's defaults apply, and a caller in
        // no active local session (as everyone in the build root) gets nothing.
        auto t = target(kNoRule);
        const ClientRun run = m_env.runClient(kNoRule, {QStringLiteral("report"), pidText(t)});
        QCOMPARE(run.errorName(), kNotAuthorized);
        QVERIFY2(run.result().contains(QLatin1String("io.github.cryopod.report")), qPrintable(run.result()));
    }

    void argumentValidation()
    {
        auto t = target(kUser);
        const QString dir = m_env.userDirectory(kUser);
        const QString out = dir + QStringLiteral("/v.img");
        auto checkpoint = [&](QStringList extra) {
            QStringList args{QStringLiteral("checkpoint"), pidText(t), out};
            args << extra;
            return m_env.runClient(kUser, args);
        };
        ClientRun r = checkpoint({QStringLiteral("--opt"), QStringLiteral("bogus=b:true")});
        QCOMPARE(r.errorName(), kInvalid);
        QVERIFY(r.result().contains(QLatin1String("bogus")));
        QCOMPARE(checkpoint({QStringLiteral("--opt"), QStringLiteral("leave-running=s:yes")}).errorName(), kInvalid);
        QCOMPARE(checkpoint({QStringLiteral("--opt"), QStringLiteral("compression-level=i:99")}).errorName(), kInvalid);
        QCOMPARE(checkpoint({QStringLiteral("--opt"), QStringLiteral("include-file-contents=b:true")}).errorName(),
                 QStringLiteral("io.github.cryopod.Error.Unsupported"));
        for (const QString &kind : {QStringLiteral("dir"), QStringLiteral("devnull"), QStringLiteral("readonly"), QStringLiteral("opath")}) {
            r = checkpoint({QStringLiteral("--fd"), kind});
            QVERIFY2(r.errorName() == kInvalid, qPrintable(kind + QLatin1String(": ") + r.result()));
        }
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("checkpoint"), QStringLiteral("0"), out}).errorName(), kInvalid);
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("checkpoint"), QStringLiteral("1"), out}).errorName(), QStringLiteral("io.github.cryopod.Error.Unsupported"));
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("report"), QStringLiteral("99999999")}).errorName(), kInvalid);

        // A pid that does not exist (a reaped child of ours).
        auto gone = target(kUser);
        const QString gonePid = pidText(gone);
        gone->kill();
        gone->waitForFinished(5000);
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("report"), gonePid}).errorName(), QStringLiteral("io.github.cryopod.Error.NoSuchProcess"));

        QFile::copy(QStringLiteral("/etc/hostname"), dir + QStringLiteral("/in.img"));
        ::chown((dir + QStringLiteral("/in.img")).toLocal8Bit().constData(), m_env.user(kUser).uid, m_env.user(kUser).gid);
        for (const QString &kind : {QStringLiteral("writeonly"), QStringLiteral("dir")}) {
            r = m_env.runClient(kUser, {QStringLiteral("restore"), dir + QStringLiteral("/in.img"), QStringLiteral("--fd"), kind});
            QVERIFY2(r.errorName() == kInvalid, qPrintable(kind + QLatin1String(": ") + r.result()));
        }
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("restore"), dir + QStringLiteral("/in.img"), QStringLiteral("--opt"), QStringLiteral("bogus=i:1")}).errorName(), kInvalid);
    }

    void garbageIsBadImage()
    {
        const QString dir = m_env.userDirectory(kUser);
        const QString garbage = dir + QStringLiteral("/garbage.img");
        QFile file(garbage);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QByteArray bytes(256 * 1024, Qt::Uninitialized);
        QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), bytes.size() / 4);
        file.write(bytes);
        file.close();
        ::chown(garbage.toLocal8Bit().constData(), m_env.user(kUser).uid, m_env.user(kUser).gid);
        for (const QString &kind : {QStringLiteral("file"), QStringLiteral("pipe")}) {
            const ClientRun r = m_env.runClient(kUser, {QStringLiteral("restore"), garbage, QStringLiteral("--fd"), kind});
            QVERIFY2(r.errorName() == QStringLiteral("io.github.cryopod.Error.BadImage"), qPrintable(kind + QLatin1String(": ") + r.lines.join(QLatin1Char('\n'))));
            QVERIFY(r.has(QStringLiteral("job "))); // the image is the job's to read
            QVERIFY(r.has(QStringLiteral("progress receive")));
        }
    }

    void editedImagesRefused()
    {
        const TestUser u = m_env.user(kUser);
        const QString dir = m_env.userDirectory(kUser);
        auto write = [&](const QString &name, const TestImageSpec &spec) {
            const QString path = dir + QLatin1Char('/') + name;
            const std::string error = writeTestImage(path.toStdString(), spec);
            ::chown(path.toLocal8Bit().constData(), u.uid, u.gid);
            return error.empty() ? path : QString();
        };
        TestImageSpec own;
        own.uid = u.uid;
        own.gid = u.gid;
        own.cwd = "/tmp";
        own.fds = {fdFor(0, "/dev/null", O_RDONLY)};

        TestImageSpec root = own;
        root.uid = 0;
        ClientRun r = m_env.runClient(kUser, {QStringLiteral("restore"), write(QStringLiteral("root.img"), root)});
        QCOMPARE(r.errorName(), kNotAuthorized);
        QVERIFY2(r.result().contains(QLatin1String("uid 0")) && r.result().contains(QLatin1String("restore-other")), qPrintable(r.result()));

        TestImageSpec shadow = own;
        shadow.fds.push_back(fdFor(3, "/etc/shadow", O_RDONLY));
        r = m_env.runClient(kUser, {QStringLiteral("restore"), write(QStringLiteral("shadow.img"), shadow)});
        QCOMPARE(r.errorName(), kNotAuthorized);
        QVERIFY2(r.result().contains(QLatin1String("/etc/shadow")), qPrintable(r.result()));

        TestImageSpec groups = own;
        groups.groups = {0};
        r = m_env.runClient(kUser, {QStringLiteral("restore"), write(QStringLiteral("groups.img"), groups)});
        QCOMPARE(r.errorName(), kNotAuthorized);

        TestImageSpec caps = own;
        caps.capPermitted = uint64_t(1) << 21;
        r = m_env.runClient(kUser, {QStringLiteral("restore"), write(QStringLiteral("caps.img"), caps)});
        QCOMPARE(r.errorName(), kNotAuthorized);
        QVERIFY(r.result().contains(QLatin1String("CAP_SYS_ADMIN")));

        TestImageSpec rootDir = own;
        rootDir.cwd = "/root";
        QFile::setPermissions(QStringLiteral("/root"), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
        r = m_env.runClient(kUser, {QStringLiteral("restore"), write(QStringLiteral("cwd.img"), rootDir)});
        QCOMPARE(r.errorName(), kNotAuthorized);

        // The user's own image gets past every check (to the engine, which
        // may then refuse this hand-made image for reasons of its own, but
        // never as NotAuthorized).
        r = m_env.runClient(kUser, {QStringLiteral("restore"), write(QStringLiteral("own.img"), own)});
        QVERIFY2(r.errorName() != kNotAuthorized && r.errorName() != QStringLiteral("io.github.cryopod.Error.BadImage"), qPrintable(r.result()));

        // An administrator may restore the root image past the checks.
        const QString adminDir = m_env.userDirectory(kAdmin);
        const QString adminCopy = adminDir + QStringLiteral("/root.img");
        QVERIFY(QFile::copy(dir + QStringLiteral("/root.img"), adminCopy));
        ::chown(adminCopy.toLocal8Bit().constData(), m_env.user(kAdmin).uid, m_env.user(kAdmin).gid);
        r = m_env.runClient(kAdmin, {QStringLiteral("restore"), adminCopy});
        QVERIFY2(r.errorName() != kNotAuthorized, qPrintable(r.result()));
    }

    void freezeAndThawOwn()
    {
        auto t = target(kUser);
        ClientRun r = m_env.runClient(kUser, {QStringLiteral("freeze"), pidText(t)});
        QVERIFY2(r.ok(), qPrintable(r.lines.join(QLatin1Char('\n'))));
        const QString cgroup = r.value(QStringLiteral("cgroup"));
        QVERIFY(cgroup.contains(QLatin1String("cryopod-freeze-") + pidText(t)));
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("freeze"), pidText(t)}).errorName(), QStringLiteral("io.github.cryopod.Error.Failed"));
        // Another user may not thaw it.
        QCOMPARE(m_env.runClient(kUser2, {QStringLiteral("thaw"), pidText(t)}).errorName(), kNotAuthorized);
        r = m_env.runClient(kUser, {QStringLiteral("thaw"), pidText(t)});
        QVERIFY2(r.ok(), qPrintable(r.lines.join(QLatin1Char('\n'))));
        QVERIFY(!QFileInfo::exists(cgroup));
        QCOMPARE(m_env.runClient(kUser, {QStringLiteral("thaw"), pidText(t)}).errorName(), kInvalid);
    }

    void cancelAndDisconnect()
    {
        const QString dir = m_env.userDirectory(kUser);
        const QString image = dir + QStringLiteral("/part.img");
        QFile::copy(QStringLiteral("/etc/hostname"), image);
        ::chown(image.toLocal8Bit().constData(), m_env.user(kUser).uid, m_env.user(kUser).gid);

        // Cancel: a restore waiting for the rest of its image stops.
        QElapsedTimer timer;
        timer.start();
        ClientRun r = m_env.runClient(kUser,
                                      {QStringLiteral("restore"), image, QStringLiteral("--fd"), QStringLiteral("pipe"), QStringLiteral("--stall"), QStringLiteral("--cancel-on"), QStringLiteral("receive")});
        QCOMPARE(r.errorName(), QStringLiteral("io.github.cryopod.Error.Cancelled"));
        QVERIFY(timer.elapsed() < 10000);
        QTRY_COMPARE_WITH_TIMEOUT(jobCount(), 0, 5000);

        // Only the job's caller may cancel it; signals reach only the caller.
        QDBusConnection bus = QDBusConnection::connectToBus(m_env.address(), QStringLiteral("eavesdropper"));
        QVERIFY(bus.connect(QString(), QString(), QStringLiteral("io.github.cryopod.Job1"), QStringLiteral("Progress"), this, SLOT(overheard())));
        m_overheard = 0;
        auto client = m_env.startClient(kUser, {QStringLiteral("restore"), image, QStringLiteral("--fd"), QStringLiteral("pipe"), QStringLiteral("--stall")});
        QTRY_VERIFY_WITH_TIMEOUT(QString::fromLocal8Bit(client->peek(65536)).contains(QLatin1String("progress receive")), 10000);
        const QString out = QString::fromLocal8Bit(client->peek(65536));
        const QString path = out.section(QLatin1String("job "), 1).section(QLatin1Char('\n'), 0, 0).trimmed();
        QVERIFY(path.startsWith(QLatin1String("/io/github/cryopod/Helper/job/")));
        QDBusMessage cancel = QDBusMessage::createMethodCall(QStringLiteral("io.github.cryopod.Helper"), path, QStringLiteral("io.github.cryopod.Job1"), QStringLiteral("Cancel"));
        const QDBusMessage refused = bus.call(cancel, QDBus::Block, 5000);
        QCOMPARE(refused.errorName(), kNotAuthorized);
        QCOMPARE(jobCount(), 1);

        // The caller goes away: its job is cancelled and removed.
        ::kill(pid_t(client->processId()), SIGKILL);
        client->waitForFinished(5000);
        QTRY_COMPARE_WITH_TIMEOUT(jobCount(), 0, 5000);
        QVERIFY(m_env.helperRunning());
        QCOMPARE(m_overheard, 0);
    }

    void idleExitWaitsForJobs()
    {
        QString error;
        QVERIFY2(m_env.startHelper(&error, 1500), qPrintable(error));
        const QString dir = m_env.userDirectory(kUser);
        const QString image = dir + QStringLiteral("/part.img");
        QFile::copy(QStringLiteral("/etc/hostname"), image);
        ::chown(image.toLocal8Bit().constData(), m_env.user(kUser).uid, m_env.user(kUser).gid);
        auto client = m_env.startClient(kUser, {QStringLiteral("restore"), image, QStringLiteral("--fd"), QStringLiteral("pipe"), QStringLiteral("--stall")});
        QTRY_VERIFY_WITH_TIMEOUT(QString::fromLocal8Bit(client->peek(65536)).contains(QLatin1String("progress receive")), 10000);
        QTest::qWait(3000);
        QVERIFY(m_env.helperRunning()); // a job runs: no idle exit
        client->kill();
        client->waitForFinished(5000);
        QTRY_VERIFY_WITH_TIMEOUT(!m_env.helperRunning(), 10000);
        QVERIFY2(m_env.startHelper(&error), qPrintable(error));
    }

public Q_SLOTS:
    void overheard()
    {
        ++m_overheard;
    }

private:
    int m_overheard = 0;
};

QTEST_GUILESS_MAIN(HelperAuthTest)
#include "helperauthtest.moc"
