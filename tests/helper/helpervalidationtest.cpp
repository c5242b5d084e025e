// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The helper's pure pieces: argument validation, /proc parsing, the access
// policy (ptrace rules, image credentials and limits), cgroup parsing and
// the path checks an image needs. Real fds and processes where they matter.

#include "accesspolicy.h"
#include "freezer.h"
#include "helpererror.h"
#include "imagecheck.h"
#include "processlist.h"
#include "processsnapshotcodec.h"
#include "procstatus.h"
#include "validation.h"

#include <QDir>
#include <QTest>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod::image;

namespace
{
const QString kInvalid = QString::fromLatin1(HelperErrorName::InvalidArgument);
const QString kUnsupported = QString::fromLatin1(HelperErrorName::Unsupported);

AccessPolicy::CallerCreds user1000()
{
    AccessPolicy::CallerCreds c;
    c.uid = 1000;
    c.gid = 1000;
    c.groups = {1000, 24, 27};
    c.capBnd = (uint64_t(1) << 41) - 1;
    for (auto &l : c.limits) {
        l.soft = 1024;
        l.hard = 4096;
    }
    return c;
}

AccessPolicy::TargetFacts ownTarget()
{
    AccessPolicy::TargetFacts t;
    t.pid = 4242;
    t.creds.uid = t.creds.euid = t.creds.suid = t.creds.fsuid = 1000;
    t.creds.gid = t.creds.egid = t.creds.sgid = t.creds.fsgid = 1000;
    t.creds.name = "editor";
    t.stat.state = 'S';
    t.procOwner = 1000;
    return t;
}

CredsRecord ownCreds()
{
    CredsRecord c;
    c.pid = 4242;
    c.uid = c.euid = c.suid = c.fsuid = 1000;
    c.gid = c.egid = c.sgid = c.fsgid = 1000;
    c.groups = {24};
    c.capBounding = (uint64_t(1) << 41) - 1;
    return c;
}
}

class HelperValidationTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pidRange()
    {
        QCOMPARE(Validation::checkPidRange(0, 100000).error().name, kInvalid);
        QCOMPARE(Validation::checkPidRange(-5, 100000).error().name, kInvalid);
        QCOMPARE(Validation::checkPidRange(100001, 100000).error().name, kInvalid);
        QCOMPARE(Validation::checkPidRange(1, 100000).error().name, kUnsupported);
        QCOMPARE(*Validation::checkPidRange(2, 100000), 2);
        QCOMPARE(*Validation::checkPidRange(100000, 100000), 100000);
        QVERIFY(Validation::systemPidMax() > 300);
    }

    // The engine's errno picks the D-Bus error name; the message keeps the
    // engine's words and the errno's text.
    void engineErrorNames()
    {
        const auto nameOf = [](int code) {
            return fromEngineError(cryopod::Error{code, "step: why"}).name;
        };
        QCOMPARE(nameOf(EEXIST), QString::fromLatin1(HelperErrorName::PidInUse));
        QCOMPARE(nameOf(ENOTSUP), kUnsupported);
        QCOMPARE(nameOf(ESRCH), QString::fromLatin1(HelperErrorName::NoSuchProcess));
        QCOMPARE(nameOf(ECANCELED), QString::fromLatin1(HelperErrorName::Cancelled));
        QCOMPARE(nameOf(EAGAIN), QString::fromLatin1(HelperErrorName::Busy));
        QCOMPARE(nameOf(EIO), QString::fromLatin1(HelperErrorName::Failed));
        QCOMPARE(nameOf(0), QString::fromLatin1(HelperErrorName::Failed));
        const HelperError e = fromEngineError(cryopod::Error{EAGAIN, "process 42 is a vfork child before its exec"});
        QVERIFY(e.message.startsWith(QLatin1String("process 42 is a vfork child before its exec: ")));
    }

    void pidExists()
    {
        QVERIFY(Validation::checkPidExists(::getpid()));
        // A zombie is no process to act on; a reaped one is gone.
        const pid_t child = ::fork();
        if (child == 0) {
            ::_exit(0);
        }
        QTRY_COMPARE_WITH_TIMEOUT(Validation::checkPidExists(child).has_value(), false, 5000);
        QCOMPARE(Validation::checkPidExists(child).error().name, QString::fromLatin1(HelperErrorName::NoSuchProcess));
        QVERIFY(Validation::checkPidExists(child).error().message.contains(QLatin1String("zombie")));
        ::waitpid(child, nullptr, 0);
        QCOMPARE(Validation::checkPidExists(child).error().name, QString::fromLatin1(HelperErrorName::NoSuchProcess));
    }

    void checkpointOptions()
    {
        auto defaults = Validation::parseCheckpointOptions({});
        QVERIFY(defaults);
        QCOMPARE(defaults->leaveRunning, true);
        QCOMPARE(defaults->compressionLevel, 1);
        QCOMPARE(defaults->compress, true);
        QCOMPARE(defaults->lowPause, true); // keep-running snapshots pause briefly by default

        auto set = Validation::parseCheckpointOptions({{QStringLiteral("leave-running"), false},
                                                       {QStringLiteral("compression-level"), 7u},
                                                       {QStringLiteral("compress"), false},
                                                       {QStringLiteral("low-pause"), false},
                                                       {QStringLiteral("workers"), qlonglong(2)},
                                                       {QStringLiteral("include-file-contents"), false}});
        QVERIFY(set);
        QCOMPARE(set->leaveRunning, false);
        QCOMPARE(set->compressionLevel, 7);
        QCOMPARE(set->workers, 2);
        QCOMPARE(set->compress, false);
        QCOMPARE(set->lowPause, false);

        auto unknown = Validation::parseCheckpointOptions({{QStringLiteral("leave-runing"), true}});
        QCOMPARE(unknown.error().name, kInvalid);
        QVERIFY(unknown.error().message.contains(QLatin1String("leave-runing")));

        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("leave-running"), 1}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("compression-level"), QStringLiteral("3")}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("compression-level"), 20}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("compression-level"), -8}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("compression-level"), quint64(1) << 63}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("workers"), 5}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("compress"), 0}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("low-pause"), QStringLiteral("yes")}}).error().name, kInvalid);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("include-file-contents"), true}}).error().name, kUnsupported);
    }

    void tcpEstablishedOption()
    {
        // Off unless asked for; a boolean only.
        QVERIFY(!Validation::parseCheckpointOptions({})->tcpEstablished);
        QVERIFY(Validation::parseCheckpointOptions({{QStringLiteral("tcp-established"), true}})->tcpEstablished);
        QVERIFY(!Validation::parseCheckpointOptions({{QStringLiteral("tcp-established"), false}})->tcpEstablished);
        QCOMPARE(Validation::parseCheckpointOptions({{QStringLiteral("tcp-established"), 1}}).error().name, kInvalid);
    }

    void detachedFdsOption()
    {
        // Only a list of distinct fd numbers (as the service converts "ai").
        auto three = Validation::parseCheckpointOptions({{QStringLiteral("detached-fds"), QVariant::fromValue(QList<int> {7, 3, 12})}});
        QVERIFY(three);
        QCOMPARE(three->detachedFds, (std::set<int> {3, 7, 12}));
        QVERIFY(Validation::parseCheckpointOptions({})->detachedFds.empty());
        const QList<int> tooMany(Validation::kMaxDetachedFds + 1, 0);
        for (const QVariant &bad :
             {QVariant::fromValue(QList<int> {}), QVariant::fromValue(QList<int> {4, 4}), QVariant::fromValue(QList<int> {-1}), QVariant::fromValue(tooMany),
              QVariant(5), QVariant(QStringList {QStringLiteral("5")}), QVariant::fromValue(QList<uint> {5u})}) {
            auto parsed = Validation::parseCheckpointOptions({{QStringLiteral("detached-fds"), bad}});
            QVERIFY2(!parsed, qPrintable(bad.toString()));
            QCOMPARE(parsed.error().name, kInvalid);
            QVERIFY(parsed.error().message.contains(QLatin1String("detached-fds")));
        }
    }

    void detachedFdsMustBeTheTargets()
    {
        // The fd table of this very process: 0..2 open, a fresh pipe open,
        // and a number nothing has.
        int ends[2];
        QVERIFY(::pipe(ends) == 0);
        const pid_t self = ::getpid();
        QVERIFY(Validation::checkDetachedFdsOpen(self, {0, ends[0]}, Validation::fdOpenInProcess));
        ::close(ends[1]);
        const int closed = ends[1];
        auto refused = Validation::checkDetachedFdsOpen(self, {ends[0], closed}, Validation::fdOpenInProcess);
        QVERIFY(!refused);
        QCOMPARE(refused.error().name, kInvalid);
        QVERIFY2(refused.error().message.contains(QStringLiteral("fd %1 is not open in process %2").arg(closed).arg(self)),
                 qPrintable(refused.error().message));
        ::close(ends[0]);
        // Another process's fds are looked up in that process, not here.
        QList<std::pair<pid_t, int>> asked;
        auto recording = [&](pid_t pid, int fd) {
            asked.append({pid, fd});
            return fd != 9;
        };
        QVERIFY(Validation::checkDetachedFdsOpen(4321, {3, 5}, recording));
        QCOMPARE(asked, (QList<std::pair<pid_t, int>> {{4321, 3}, {4321, 5}}));
        QVERIFY(!Validation::checkDetachedFdsOpen(4321, {9}, recording));
    }

    void restoreOptions()
    {
        auto frozen = Validation::parseRestoreOptions({{QStringLiteral("frozen"), true}, {QStringLiteral("pty"), QStringLiteral("refuse")}});
        QVERIFY(frozen);
        QCOMPARE(frozen->frozen, true);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("frozen"), QStringLiteral("yes")}}).error().name, kInvalid);
        QCOMPARE(frozen->pty, cryopod::engine::PtyMode::Refuse);
        // Without the option: refused, as a client that asks for none could not take a master.
        QCOMPARE(Validation::parseRestoreOptions({})->pty, cryopod::engine::PtyMode::Refuse);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("pty"), QStringLiteral("new")}})->pty, cryopod::engine::PtyMode::New);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("pty"), QStringLiteral("original")}})->pty, cryopod::engine::PtyMode::Original);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("pty"), QStringLiteral("inherit")}})->pty, cryopod::engine::PtyMode::Original);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("pty"), QStringLiteral("New")}}).error().name, kInvalid);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("pty"), QStringLiteral("sideways")}}).error().name, kInvalid);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("pty"), 1}}).error().name, kInvalid);
        QCOMPARE(Validation::parseRestoreOptions({{QStringLiteral("leave-running"), true}}).error().name, kInvalid);
    }

    void fdKinds()
    {
        using Validation::FdDirection;
        int p[2];
        QCOMPARE(::pipe2(p, O_CLOEXEC), 0);
        QVERIFY(Validation::checkImageFd(p[1], FdDirection::Write));
        QVERIFY(Validation::checkImageFd(p[0], FdDirection::Read));
        QCOMPARE(Validation::checkImageFd(p[0], FdDirection::Write).error().name, kInvalid);
        QCOMPARE(Validation::checkImageFd(p[1], FdDirection::Read).error().name, kInvalid);
        ::close(p[0]);
        ::close(p[1]);

        int s[2];
        QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
        QVERIFY(Validation::checkImageFd(s[0], FdDirection::Write));
        QVERIFY(Validation::checkImageFd(s[0], FdDirection::Read));
        ::close(s[0]);
        ::close(s[1]);

        const QByteArray file = QDir::tempPath().toLocal8Bit() + "/cryopod-validation-" + QByteArray::number(::getpid());
        const int wr = ::open(file.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const int rd = ::open(file.constData(), O_RDONLY | O_CLOEXEC);
        const int rw = ::open(file.constData(), O_RDWR | O_CLOEXEC);
        QVERIFY(wr >= 0 && rd >= 0 && rw >= 0);
        QVERIFY(Validation::checkImageFd(wr, FdDirection::Write));
        QCOMPARE(Validation::checkImageFd(wr, FdDirection::Read).error().name, kInvalid);
        QVERIFY(Validation::checkImageFd(rd, FdDirection::Read));
        QVERIFY(Validation::checkImageFd(rd, FdDirection::Write).error().message.contains(QLatin1String("not open for writing")));
        QVERIFY(Validation::checkImageFd(rw, FdDirection::Read));
        QVERIFY(Validation::checkImageFd(rw, FdDirection::Write));
        ::close(wr);
        ::close(rd);
        ::close(rw);
        ::unlink(file.constData());

        const int dir = ::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        QVERIFY(Validation::checkImageFd(dir, FdDirection::Read).error().message.contains(QLatin1String("a directory")));
        ::close(dir);
        const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        QVERIFY(Validation::checkImageFd(null, FdDirection::Write).error().message.contains(QLatin1String("a character device")));
        ::close(null);
        const int path = ::open("/etc/passwd", O_PATH | O_CLOEXEC);
        QVERIFY(Validation::checkImageFd(path, FdDirection::Read).error().message.contains(QLatin1String("O_PATH")));
        ::close(path);
        QCOMPARE(Validation::checkImageFd(-1, FdDirection::Read).error().name, kInvalid);
        QCOMPARE(Validation::checkImageFd(path, FdDirection::Read).error().name, kInvalid); // closed now
    }

    void parseStatus()
    {
        const std::string text =
            "Name:\tmy prog\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t77\nPid:\t77\nPPid:\t1\n"
            "Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\nGroups:\t24 27 1000 \n"
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000003000\nCapEff:\t0000000000001000\n"
            "CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";
        auto c = ProcStatus::parseStatus(text);
        QVERIFY(c);
        QCOMPARE(c->uid, 1000u);
        QCOMPARE(c->euid, 1001u);
        QCOMPARE(c->suid, 1002u);
        QCOMPARE(c->fsuid, 1003u);
        QCOMPARE(c->egid, 101u);
        QCOMPARE(c->groups, (std::vector<gid_t>{24, 27, 1000}));
        QCOMPARE(c->capPrm, uint64_t(0x3000));
        QCOMPARE(c->capBnd, uint64_t(0x1ffffffffff));
        QVERIFY(c->noNewPrivs);
        QCOMPARE(c->name, std::string("my prog"));
        QVERIFY(!ProcStatus::parseStatus("Name:\tx\nGid:\t1\t1\t1\t1\n"));
        QVERIFY(!ProcStatus::parseStatus(text.substr(0, text.find("CapInh"))));

        auto self = ProcStatus::ProcessDir::open(::getpid());
        QVERIFY(self);
        QCOMPARE(self->creds()->uid, ::getuid());
        QCOMPARE(self->creds()->gid, ::getgid());
        QCOMPARE(*self->owner(), ::geteuid()); // dumpable
    }

    void parseStatAndLimits()
    {
        auto s = ProcStatus::parseStat("123 (a) b) (c) t 1 123 123 0 -1 4194560 0 0");
        QVERIFY(s);
        QCOMPARE(s->state, 't');
        QCOMPARE(s->ppid, 1);
        QCOMPARE(s->flags, uint64_t(4194560));
        QVERIFY(!ProcStatus::parseStat("123 no paren"));

        auto self = ProcStatus::ProcessDir::open(::getpid());
        auto limits = self->limits();
        QVERIFY(limits);
        rlimit nofile{};
        ::getrlimit(RLIMIT_NOFILE, &nofile);
        QCOMPARE((*limits)[RLIMIT_NOFILE].soft, uint64_t(nofile.rlim_cur));
        QCOMPARE((*limits)[RLIMIT_NOFILE].hard, uint64_t(nofile.rlim_max));
        rlimit stack{};
        ::getrlimit(RLIMIT_STACK, &stack);
        QCOMPARE((*limits)[RLIMIT_STACK].soft, stack.rlim_cur == RLIM_INFINITY ? UINT64_MAX : uint64_t(stack.rlim_cur));
    }

    void processTree()
    {
        // A child with a grandchild: both in the tree, parents first.
        int sync[2];
        QCOMPARE(::pipe2(sync, O_CLOEXEC), 0);
        const pid_t child = ::fork();
        if (child == 0) {
            const pid_t grandchild = ::fork();
            if (grandchild == 0) {
                ::pause();
                ::_exit(0);
            }
            if (::write(sync[1], &grandchild, sizeof grandchild) < 0) {
                ::_exit(1);
            }
            ::pause();
            ::_exit(0);
        }
        pid_t grandchild = 0;
        QCOMPARE(::read(sync[0], &grandchild, sizeof grandchild), ssize_t(sizeof grandchild));
        const std::vector<pid_t> tree = ProcStatus::processTree(child);
        ::kill(grandchild, SIGKILL);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        ::close(sync[0]);
        ::close(sync[1]);
        QCOMPARE(tree, (std::vector<pid_t>{child, grandchild}));
    }

    void ptraceRules()
    {
        using AccessPolicy::Verdict;
        const auto caller = user1000();
        QCOMPARE(AccessPolicy::mayTrace(caller, ownTarget(), 0).verdict, Verdict::Allowed);
        QCOMPARE(AccessPolicy::mayTrace(caller, ownTarget(), 1).verdict, Verdict::Allowed);

        auto other = ownTarget();
        other.creds.uid = other.creds.euid = other.creds.suid = 0;
        other.procOwner = 0;
        auto d = AccessPolicy::mayTrace(caller, other, 0);
        QCOMPARE(d.verdict, Verdict::NeedsAdmin);
        QVERIFY(d.reasons.join(QString()).contains(QLatin1String("belongs to uid 0")));

        auto setuid = ownTarget();
        setuid.creds.euid = 0;
        setuid.procOwner = 0;
        d = AccessPolicy::mayTrace(caller, setuid, 0);
        QCOMPARE(d.verdict, Verdict::NeedsAdmin);
        QVERIFY(d.reasons.join(QString()).contains(QLatin1String("set-user-ID")));

        auto setgid = ownTarget();
        setgid.creds.egid = 42;
        QCOMPARE(AccessPolicy::mayTrace(caller, setgid, 0).verdict, Verdict::NeedsAdmin);

        auto undumpable = ownTarget();
        undumpable.procOwner = 0;
        d = AccessPolicy::mayTrace(caller, undumpable, 0);
        QCOMPARE(d.verdict, Verdict::NeedsAdmin);
        QVERIFY(d.reasons.join(QString()).contains(QLatin1String("not dumpable")));

        auto capable = ownTarget();
        capable.creds.capPrm = uint64_t(1) << 13; // CAP_NET_RAW
        d = AccessPolicy::mayTrace(caller, capable, 0);
        QCOMPARE(d.verdict, Verdict::NeedsAdmin);
        QVERIFY(d.reasons.join(QString()).contains(QLatin1String("CAP_NET_RAW")));
        auto capableCaller = caller;
        capableCaller.capPrm = uint64_t(1) << 13;
        QCOMPARE(AccessPolicy::mayTrace(capableCaller, capable, 0).verdict, Verdict::Allowed);

        QCOMPARE(AccessPolicy::mayTrace(caller, ownTarget(), 2).verdict, Verdict::NeedsAdmin);
        d = AccessPolicy::mayTrace(caller, ownTarget(), 3);
        QCOMPARE(d.verdict, Verdict::Refused);
        QCOMPARE(QString::fromLatin1(d.errorName), QString::fromLatin1(HelperErrorName::NotAuthorized));

        auto kthread = ownTarget();
        kthread.stat.flags = ProcStatus::kPfKthread;
        d = AccessPolicy::mayTrace(caller, kthread, 0);
        QCOMPARE(d.verdict, Verdict::Refused);
        QCOMPARE(QString::fromLatin1(d.errorName), kUnsupported);

        // CAP_SYS_PTRACE: what the kernel lets root do, except Yama's 3.
        auto root = caller;
        root.uid = 0;
        root.capEff = root.capPrm = (uint64_t(1) << 41) - 1;
        QCOMPARE(AccessPolicy::mayTrace(root, other, 2).verdict, Verdict::Allowed);
        QCOMPARE(AccessPolicy::mayTrace(root, other, 3).verdict, Verdict::Refused);
    }

    void imageCredentials()
    {
        const auto caller = user1000();
        QVERIFY(AccessPolicy::imageCredsExceed(caller, ownCreds()).isEmpty());

        auto root = ownCreds();
        root.uid = root.euid = root.suid = root.fsuid = 0;
        const QStringList reasons = AccessPolicy::imageCredsExceed(caller, root);
        QCOMPARE(reasons.size(), 4);
        QVERIFY(reasons.first().contains(QLatin1String("uid 0")));

        auto primaryFromGroups = ownCreds();
        primaryFromGroups.gid = primaryFromGroups.egid = 27; // a group the caller is in
        QVERIFY(AccessPolicy::imageCredsExceed(caller, primaryFromGroups).isEmpty());

        auto foreignGroup = ownCreds();
        foreignGroup.groups = {24, 0};
        QVERIFY(AccessPolicy::imageCredsExceed(caller, foreignGroup).join(QString()).contains(QLatin1String("supplementary group 0")));

        auto caps = ownCreds();
        caps.capPermitted = caps.capEffective = uint64_t(1) << 21; // CAP_SYS_ADMIN
        QVERIFY(AccessPolicy::imageCredsExceed(caller, caps).join(QString()).contains(QLatin1String("CAP_SYS_ADMIN")));

        auto bounding = ownCreds();
        auto narrowCaller = caller;
        narrowCaller.capBnd = 0xff;
        QVERIFY(!AccessPolicy::imageCredsExceed(narrowCaller, bounding).isEmpty());

        TaskRecord task;
        task.pid = 4242;
        for (Rlimit &r : task.rlimits) {
            r.cur = r.max = 4096;
        }
        QVERIFY(AccessPolicy::imageLimitsExceed(caller, task).isEmpty());
        task.rlimits[RLIMIT_NOFILE].max = 1 << 20;
        const QStringList limits = AccessPolicy::imageLimitsExceed(caller, task);
        QCOMPARE(limits.size(), 1);
        QVERIFY(limits.first().contains(QLatin1String("RLIMIT_NOFILE")));
    }

    void cgroupParsing()
    {
        const std::string mountinfo =
            "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
            "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
            "36 30 0:33 / /sys/fs/cgroup/free\\040zer rw,relatime - cgroup cgroup rw,freezer\n"
            "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        const Freezer::Mounts m = Freezer::parseMountinfo(mountinfo);
        QCOMPARE(m.v2, std::string("/sys/fs/cgroup/unified"));
        QCOMPARE(m.v1Freezer, std::string("/sys/fs/cgroup/free zer"));
        QCOMPARE(m.v1Root, std::string("/"));
        QVERIFY(Freezer::parseMountinfo("22 1 0:20 / /sys rw - sysfs sysfs rw\n").v2.empty());

        const std::string cgroup = "9:name=systemd:/user.slice\n6:freezer:/a/b\n4:memory,cpu:/x\n0::/user.slice/app.scope\n";
        QCOMPARE(Freezer::parseCgroupFile(cgroup, Freezer::Version::V1), std::string("/a/b"));
        QCOMPARE(Freezer::parseCgroupFile(cgroup, Freezer::Version::V2), std::string("/user.slice/app.scope"));
        QCOMPARE(Freezer::parseCgroupFile("1:cpu:/\n", Freezer::Version::V1), std::string());
    }

    void imagePathChecks()
    {
        ImageInfo info;
        info.rootPid = 4242;
        ImageProcess p;
        p.entry.pid = 4242;
        p.task = TaskRecord{};
        p.task->pid = 4242;
        p.task->cwd = "/home/u";
        p.task->exePath = "/usr/bin/editor";
        p.task->root = "/";
        p.mm = MmRecord{};
        p.mm->exePath = "/usr/bin/editor";
        auto vma = [](uint64_t start, VmaKind kind, const std::string &path, uint64_t ino, uint32_t prot) {
            ImageVma v;
            v.vma.start = start;
            v.vma.end = start + 0x1000;
            v.vma.kind = kind;
            v.vma.path = path;
            v.vma.dev = 8;
            v.vma.ino = ino;
            v.vma.prot = prot;
            return v;
        };
        p.vmas = {vma(0x400000, VmaKind::FilePrivate, "/usr/bin/editor", 11, kVmaRead | kVmaExec),
                  vma(0x401000, VmaKind::FilePrivate, "/usr/bin/editor", 11, kVmaRead),
                  vma(0x7f0000000000, VmaKind::FilePrivate, "/usr/lib/libc.so.6", 12, kVmaRead),
                  vma(0x7f0000001000, VmaKind::FileShared, "/home/u/shared", 13, kVmaRead | kVmaWrite),
                  vma(0x7f0000002000, VmaKind::Anonymous, "[heap]", 0, kVmaRead),
                  vma(0x7f0000003000, VmaKind::FileShared, "/home/u/mayw", 14, kVmaRead),
                  vma(0x7f0000004000, VmaKind::FileShared, "/dev/shm/sem.gone", 15, kVmaRead | kVmaWrite)};
        p.vmas[5].vma.flags = kVmaMayWrite; // read-only now, opened read-write
        p.vmas[6].vma.flags = kVmaMayWrite;
        p.vmas[6].vma.shm = 1; // deleted: made anew in its directory
        auto fd = [](int32_t n, FdKind kind, const std::string &path, uint32_t flags) {
            ImageFd f;
            f.fd.fd = n;
            f.fd.kind = kind;
            f.fd.path = path;
            f.fd.openFlags = flags;
            f.fd.dev = 8;
            f.fd.ino = 100 + uint64_t(n);
            f.fd.rdev = 0x103;
            return f;
        };
        p.fds = {fd(0, FdKind::CharDevice, "/dev/null", O_RDONLY),
                 fd(1, FdKind::CharDevice, "/dev/null", O_WRONLY),
                 fd(3, FdKind::Regular, "/home/u/notes", O_RDWR | O_APPEND),
                 fd(4, FdKind::Directory, "/home/u", O_RDONLY),
                 fd(5, FdKind::Regular, "/home/u/gone", O_RDWR)};
        p.fds.back().fd.unlinked = true;
        p.fds.back().fd.mode = S_IFREG | 04755;
        info.processes = {p};

        using Kind = AsCaller::PathCheck::Kind;
        const std::vector<AsCaller::PathCheck> checks = ImageCheck::pathChecks(info);
        auto find = [&](const std::string &path, Kind kind) -> const AsCaller::PathCheck * {
            for (const auto &c : checks) {
                if (c.path == path && c.kind == kind) {
                    return &c;
                }
            }
            return nullptr;
        };
        QVERIFY(find("/home/u", Kind::SearchDirectory));
        const AsCaller::PathCheck *exe = find("/usr/bin/editor", Kind::ReadOrExecute);
        QVERIFY(exe && exe->haveIdentity && exe->ino == 11);
        QCOMPARE(std::count_if(checks.begin(), checks.end(), [](const auto &c) { return c.path == "/usr/bin/editor"; }), 1); // deduplicated
        const AsCaller::PathCheck *lib = find("/usr/lib/libc.so.6", Kind::Open);
        QVERIFY(lib && lib->flags == O_RDONLY && lib->ino == 12);
        const AsCaller::PathCheck *shared = find("/home/u/shared", Kind::Open);
        QVERIFY(shared && shared->flags == O_RDWR);
        const AsCaller::PathCheck *mayWrite = find("/home/u/mayw", Kind::Open);
        QVERIFY(mayWrite && mayWrite->flags == O_RDWR && mayWrite->ino == 14);
        QVERIFY(find("/dev/shm", Kind::CreateIn));
        QVERIFY(!find("/dev/shm/sem.gone", Kind::Open));
        QVERIFY(!find("[heap]", Kind::Open));
        const AsCaller::PathCheck *null0 = nullptr;
        int devnulls = 0;
        for (const auto &c : checks) {
            if (c.path == "/dev/null") {
                ++devnulls;
                null0 = &c;
                QCOMPARE(c.kind, Kind::CharDevice);
                QCOMPARE(c.rdev, uint64_t(0x103));
            }
        }
        QCOMPARE(devnulls, 2); // read and write are different checks
        QVERIFY(null0);
        const AsCaller::PathCheck *notes = find("/home/u/notes", Kind::Open);
        QVERIFY(notes && (notes->flags & O_ACCMODE) == O_RDWR && (notes->flags & O_APPEND) && notes->ino == 103);
        const AsCaller::PathCheck *dir = find("/home/u", Kind::Open);
        QVERIFY(dir && (dir->flags & O_DIRECTORY));
        QVERIFY(find("/home/u", Kind::CreateIn)); // the unlinked file's directory

        const QStringList reasons = ImageCheck::policyReasons(info, user1000());
        QVERIFY2(reasons.join(QString()).contains(QLatin1String("set-id")), qPrintable(reasons.join(QLatin1Char('\n'))));

        info.processes.front().task->root = "/srv/jail";
        info.processes.front().entry.pid = 200;
        const QString more = ImageCheck::policyReasons(info, user1000()).join(QLatin1Char('\n'));
        QVERIFY(more.contains(QLatin1String("chroot")));
        QVERIFY(more.contains(QLatin1String("PID 200")));
    }

    // ---- ListProcesses: what the caller could read in /proc, no more

    void hidePidOption_data()
    {
        QTest::addColumn<QString>("options");
        QTest::addColumn<int>("expected");
        QTest::newRow("none") << QStringLiteral("rw") << int(ProcessList::HidePid::Off);
        QTest::newRow("0") << QStringLiteral("rw,hidepid=0") << int(ProcessList::HidePid::Off);
        QTest::newRow("off") << QStringLiteral("rw,hidepid=off,subset=pid") << int(ProcessList::HidePid::Off);
        QTest::newRow("1") << QStringLiteral("rw,hidepid=1") << int(ProcessList::HidePid::NoAccess);
        QTest::newRow("noaccess") << QStringLiteral("rw,hidepid=noaccess,gid=27") << int(ProcessList::HidePid::NoAccess);
        QTest::newRow("2") << QStringLiteral("hidepid=2,rw") << int(ProcessList::HidePid::Invisible);
        QTest::newRow("invisible") << QStringLiteral("rw,hidepid=invisible") << int(ProcessList::HidePid::Invisible);
        QTest::newRow("ptraceable") << QStringLiteral("rw,hidepid=ptraceable") << int(ProcessList::HidePid::Invisible);
        QTest::newRow("last wins") << QStringLiteral("hidepid=2,hidepid=0") << int(ProcessList::HidePid::Off);
        QTest::newRow("not hidepid") << QStringLiteral("rw,nohidepid=2") << int(ProcessList::HidePid::Off);
    }

    void hidePidOption()
    {
        QFETCH(QString, options);
        QFETCH(int, expected);
        QCOMPARE(int(ProcessList::parseHidePid(options)), expected);
    }

    void processListForCaller()
    {
        auto process = [](pid_t pid, uid_t uid, uid_t euid, const char *exe) {
            ProcessInfo p;
            p.pid = pid;
            p.ppid = pid - 1;
            p.uid = uid;
            p.euid = euid;
            p.name = QStringLiteral("p%1").arg(pid);
            p.executable = QString::fromLatin1(exe);
            return p;
        };
        ProcessSnapshot s;
        s.processes = {process(2, 0, 0, "/sbin/init"), process(3, 1000, 1000, "/usr/bin/own"), process(4, 1000, 0, "/usr/bin/setuid"),
                       process(5, 1001, 1001, "/usr/bin/other")};
        s.cpuCount = 2;

        const ProcessSnapshot root = ProcessList::forCaller(s, 0, ProcessList::HidePid::Invisible);
        QCOMPARE(root.processes.size(), 4);
        QCOMPARE(root.processes.at(3).executable, QStringLiteral("/usr/bin/other"));

        const ProcessSnapshot user = ProcessList::forCaller(s, 1000, ProcessList::HidePid::Off);
        QCOMPARE(user.processes.size(), 4);
        QCOMPARE(user.cpuCount, 2);
        QCOMPARE(user.processes.at(0).executable, QString()); // root's
        QCOMPARE(user.processes.at(1).executable, QStringLiteral("/usr/bin/own"));
        QCOMPARE(user.processes.at(2).executable, QString()); // set-uid: not the caller's
        QCOMPARE(user.processes.at(3).executable, QString());
        QCOMPARE(user.processes.at(3).name, QStringLiteral("p5")); // the rest stays

        for (auto mode : {ProcessList::HidePid::NoAccess, ProcessList::HidePid::Invisible}) {
            const ProcessSnapshot hidden = ProcessList::forCaller(s, 1000, mode);
            QCOMPARE(hidden.processes.size(), 1);
            QCOMPARE(hidden.processes.at(0).pid, 3);
        }
    }

    void processSnapshotCodecRoundTrip()
    {
        ProcessInfo p;
        p.pid = 42;
        p.ppid = 1;
        p.name = QStringLiteral("name with space");
        p.arguments = {QStringLiteral("/bin/x"), QStringLiteral("--flag"), QString()};
        p.argumentsRead = false;
        p.executable = QStringLiteral("/bin/x");
        p.uid = 1000;
        p.euid = 1001;
        p.userName = QStringLiteral("someone");
        p.state = 'T';
        p.kernelThread = false;
        p.rssBytes = 1ull << 40;
        p.cpuTimeNs = 123456789012ull;
        p.startTicks = 987654321ull;
        p.startTimeMs = 1764000000000;
        ProcessSnapshot s;
        s.processes = {p};
        s.cpuCount = 8;
        s.scanDurationUs = 77;
        QString error;
        const auto back = ProcessSnapshotCodec::decode(ProcessSnapshotCodec::encode(s), &error);
        QVERIFY2(back, qPrintable(error));
        QCOMPARE(back->cpuCount, 8);
        QCOMPARE(back->scanDurationUs, 77);
        QCOMPARE(back->processes.size(), 1);
        const ProcessInfo &q = back->processes.first();
        QCOMPARE(q.pid, p.pid);
        QCOMPARE(q.name, p.name);
        QCOMPARE(q.arguments, p.arguments);
        QCOMPARE(q.argumentsRead, false);
        QCOMPARE(q.uid, p.uid);
        QCOMPARE(q.euid, p.euid);
        QCOMPARE(q.state, 'T');
        QCOMPARE(q.rssBytes, p.rssBytes);
        QCOMPARE(q.cpuTimeNs, p.cpuTimeNs);
        QCOMPARE(q.startTicks, p.startTicks);
        QCOMPARE(q.startTimeMs, p.startTimeMs);
    }

    void processSnapshotCodecRefusesMalformed()
    {
        ProcessInfo p;
        p.pid = 5;
        ProcessSnapshot s;
        s.processes = {p};
        const QVariantMap good = ProcessSnapshotCodec::encode(s);
        QString error;
        QVERIFY(ProcessSnapshotCodec::decode(good, &error));

        QVariantMap noList = good;
        noList.remove(QStringLiteral("processes"));
        QVERIFY(!ProcessSnapshotCodec::decode(noList, &error));
        QVERIFY(error.contains(QLatin1String("process list")));

        QVariantMap entry = ProcessSnapshotCodec::encodeProcess(p);
        entry.insert(QStringLiteral("pid"), QStringLiteral("5")); // a string, not an int
        QVERIFY(!ProcessSnapshotCodec::decodeProcess(entry, &error));
        QVERIFY2(error.contains(QLatin1String("\"pid\"")), qPrintable(error));

        entry = ProcessSnapshotCodec::encodeProcess(p);
        entry.remove(QStringLiteral("startTicks"));
        QVERIFY(!ProcessSnapshotCodec::decodeProcess(entry, &error));
        QVERIFY2(error.contains(QLatin1String("missing")), qPrintable(error));

        entry = ProcessSnapshotCodec::encodeProcess(p);
        entry.insert(QStringLiteral("state"), QStringLiteral("RS"));
        QVERIFY(!ProcessSnapshotCodec::decodeProcess(entry, &error));

        ProcessSnapshot unsorted;
        ProcessInfo a = p, b = p;
        a.pid = 9;
        b.pid = 3;
        unsorted.processes = {a, b};
        QVERIFY(!ProcessSnapshotCodec::decode(ProcessSnapshotCodec::encode(unsorted), &error));
        QVERIFY(error.contains(QLatin1String("out of order")));
    }
};

QTEST_GUILESS_MAIN(HelperValidationTest)
#include "helpervalidationtest.moc"
