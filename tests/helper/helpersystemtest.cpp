// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The helper's pieces that need root and the real kernel, without the bus:
// file checks as another user (AsCaller), the image checks built on them,
// the cgroup freezer (v2 and v1) on real process trees, and the image
// streams' cancel (a relay blocked on a pipe nobody reads).

#include "ascaller.h"
#include "canceltoken.h"
#include "engine.h"
#include "freezer.h"
#include "imagecheck.h"
#include "imageinfo.h"
#include "imagestream.h"
#include "procstatus.h"
#include "testimage.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QFileInfo>
#include <QProcess>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace
{
constexpr uid_t kNobody = 65534;

void writeAll(int fd, const char *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        const ssize_t n = ::write(fd, data + off, size - off);
        if (n <= 0) {
            return;
        }
        off += size_t(n);
    }
}

AsCaller::FsCreds nobody()
{
    return AsCaller::FsCreds{kNobody, kNobody, {}};
}

AsCaller::PathCheck openCheck(const std::string &path, int flags, bool identity = true)
{
    AsCaller::PathCheck c;
    c.kind = AsCaller::PathCheck::Kind::Open;
    c.what = "test";
    c.path = path;
    c.flags = flags;
    struct stat st{};
    if (identity && ::stat(path.c_str(), &st) == 0) {
        c.haveIdentity = true;
        c.dev = st.st_dev;
        c.ino = st.st_ino;
    }
    return c;
}

AsCaller::PathVerdict::Kind verdict(const AsCaller::FsCreds &creds, const AsCaller::PathCheck &check)
{
    auto v = AsCaller::checkPaths(creds, {check});
    if (!v || v->size() != 1) {
        return AsCaller::PathVerdict::Kind::Failed;
    }
    return v->front().kind;
}

// A process tree that counts: the child and the grandchild each increment a
// counter in shared memory as fast as they can.
struct CountingTree {
    std::atomic<uint64_t> *counters = nullptr;
    pid_t child = 0;

    bool start()
    {
        void *shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) {
            return false;
        }
        counters = static_cast<std::atomic<uint64_t> *>(shared);
        child = ::fork();
        if (child == 0) {
            if (::fork() == 0) {
                for (;;) {
                    counters[1].fetch_add(1);
                }
            }
            for (;;) {
                counters[0].fetch_add(1);
            }
        }
        return child > 0;
    }
    bool moving(int index)
    {
        const uint64_t before = counters[index].load();
        QThread::msleep(150);
        return counters[index].load() != before;
    }
    void stop()
    {
        if (child > 0) {
            // The grandchild is reparented when the child dies: kill the tree.
            const std::vector<pid_t> pids = ProcStatus::processTree(child);
            for (pid_t p : pids) {
                ::kill(p, SIGKILL);
            }
            // We are their subreaper: reap them all (the grandchild once it
            // has been reparented to us), so no zombie stays in a cgroup.
            for (pid_t p : pids) {
                for (int i = 0; i < 200 && ::waitpid(p, nullptr, 0) < 0 && errno == ECHILD; ++i) {
                    QThread::msleep(10);
                }
            }
            child = 0;
        }
        if (counters) {
            ::munmap(counters, 4096);
            counters = nullptr;
        }
    }
    ~CountingTree()
    {
        stop();
    }
};

// A workload (tests/workloads/README.md) started as our child, with its
// STATEDIR; the test reaps whatever of it is left.
struct Workload {
    QTemporaryDir dir;
    pid_t root = 0;
    std::vector<pid_t> pids;

    std::string file(const char *name) const
    {
        return dir.filePath(QString::fromLatin1(name)).toStdString();
    }
    bool start(const char *program)
    {
        const std::string state = dir.path().toStdString();
        root = ::fork();
        if (root == 0) {
            const int null = ::open("/dev/null", O_RDWR);
            for (int fd = 0; fd < 3; ++fd) {
                ::dup2(null, fd);
            }
            ::close_range(3, ~0u, 0);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::signal(SIGPIPE, SIG_DFL);
            if (::chdir(state.c_str()) != 0) {
                _exit(126);
            }
            ::execl(program, program, state.c_str(), static_cast<char *>(nullptr));
            _exit(127);
        }
        for (int i = 0; i < 1000 && !QFileInfo::exists(QString::fromStdString(file("ready"))); ++i) {
            QThread::msleep(10);
        }
        pids = ProcStatus::processTree(root);
        return root > 0 && QFileInfo::exists(QString::fromStdString(file("ready")));
    }
    // utime + stime of every process of the tree, in clock ticks.
    uint64_t cpuTicks() const
    {
        uint64_t total = 0;
        for (pid_t p : pids) {
            QFile stat(QStringLiteral("/proc/%1/stat").arg(p));
            if (!stat.open(QIODevice::ReadOnly)) {
                continue;
            }
            const QByteArray text = stat.readAll();
            const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
            total += fields.value(11).toULongLong() + fields.value(12).toULongLong(); // fields 14 and 15
        }
        return total;
    }
    bool traced() const
    {
        for (pid_t p : pids) {
            QFile status(QStringLiteral("/proc/%1/status").arg(p));
            if (status.open(QIODevice::ReadOnly) && !status.readAll().contains("TracerPid:\t0\n")) {
                return true;
            }
        }
        return false;
    }
    // SIGKILL whatever is left and reap it (we are the subreaper).
    void kill()
    {
        for (pid_t p : pids) {
            ::kill(p, SIGKILL);
        }
        for (int i = 0; i < 500; ++i) {
            bool alive = false;
            for (pid_t p : pids) {
                ::waitpid(p, nullptr, WNOHANG);
                alive = alive || ::kill(p, 0) == 0;
            }
            if (!alive) {
                break;
            }
            QThread::msleep(10);
        }
        pids.clear();
        root = 0;
    }
    // Touches go and waits for the result the workload writes.
    QByteArray finish()
    {
        QFile go(QString::fromStdString(file("go")));
        if (!go.open(QIODevice::WriteOnly)) {
            return "no go file";
        }
        go.close();
        for (int i = 0; i < 1000 && !QFileInfo::exists(QString::fromStdString(file("result"))); ++i) {
            QThread::msleep(10);
        }
        QFile result(QString::fromStdString(file("result")));
        if (!result.open(QIODevice::ReadOnly)) {
            return "no result";
        }
        return result.readAll().trimmed();
    }
    // Restores IMAGE as this workload and lets it finish: its result, or
    // what went wrong.
    QByteArray restoreAndFinish(const std::string &image)
    {
        const int in = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            return "cannot open the image";
        }
        auto restored = cryopod::engine::restore(in, cryopod::engine::RestoreOptions{});
        ::close(in);
        if (!restored) {
            return QByteArray::fromStdString(restored.error().describe());
        }
        root = restored->root;
        pids = ProcStatus::processTree(root);
        const QByteArray result = finish();
        int status = 0;
        if (::waitpid(root, &status, 0) != root || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            return result + " (but the restored root did not exit 0)";
        }
        pids.clear();
        return result;
    }
    ~Workload()
    {
        kill();
    }
};

// The state of a frozen cgroup directory: cgroup.events "frozen 1" (v2),
// freezer.state FROZEN (v1).
bool cgroupDirFrozen(const std::string &dir)
{
    QFile events(QString::fromStdString(dir + "/cgroup.events"));
    if (events.open(QIODevice::ReadOnly)) {
        return events.readAll().contains("frozen 1");
    }
    QFile state(QString::fromStdString(dir + "/freezer.state"));
    return state.open(QIODevice::ReadOnly) && state.readAll().trimmed() == "FROZEN";
}
}

class HelperSystemTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0) {
            QSKIP("needs root (it changes credentials and cgroups)");
        }
        // Orphaned grandchildren come back to us.
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        // Writes to a pipe whose reader is gone fail with EPIPE (QtTest would
        // take SIGPIPE for a crash).
        ::signal(SIGPIPE, SIG_IGN);
    }

    void asCallerOpens()
    {
        using K = AsCaller::PathVerdict::Kind;
        QCOMPARE(verdict(nobody(), openCheck("/etc/shadow", O_RDONLY)), K::Denied);
        QCOMPARE(verdict(nobody(), openCheck("/etc/passwd", O_RDONLY)), K::Ok);
        QCOMPARE(verdict(nobody(), openCheck("/etc/passwd", O_RDWR)), K::Denied);
        auto wrongInode = openCheck("/etc/passwd", O_RDONLY);
        wrongInode.ino += 1;
        QCOMPARE(verdict(nobody(), wrongInode), K::Failed);
        QCOMPARE(verdict(nobody(), openCheck("/nonexistent/file", O_RDONLY, false)), K::Failed);
        // Root can: the same checks pass for uid 0 with root's groups.
        QCOMPARE(verdict(AsCaller::FsCreds{0, 0, {0}}, openCheck("/etc/shadow", O_RDONLY)), K::Ok);

        AsCaller::PathCheck search;
        search.kind = AsCaller::PathCheck::Kind::SearchDirectory;
        search.path = "/root";
        QFile::setPermissions(QStringLiteral("/root"), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
        QCOMPARE(verdict(nobody(), search), K::Denied);
        search.path = "/tmp";
        QCOMPARE(verdict(nobody(), search), K::Ok);

        AsCaller::PathCheck create;
        create.kind = AsCaller::PathCheck::Kind::CreateIn;
        create.path = "/tmp";
        QCOMPARE(verdict(nobody(), create), K::Ok);
        create.path = "/etc";
        QCOMPARE(verdict(nobody(), create), K::Denied);

        AsCaller::PathCheck device;
        device.kind = AsCaller::PathCheck::Kind::CharDevice;
        device.path = "/dev/null";
        device.accessMode = R_OK | W_OK;
        struct stat st{};
        QCOMPARE(::stat("/dev/null", &st), 0);
        device.rdev = st.st_rdev;
        QCOMPARE(verdict(nobody(), device), K::Ok);
        device.rdev += 1;
        QCOMPARE(verdict(nobody(), device), K::Failed);

        AsCaller::PathCheck exe;
        exe.kind = AsCaller::PathCheck::Kind::ReadOrExecute;
        exe.path = "/usr/bin/sleep";
        QCOMPARE(verdict(nobody(), exe), K::Ok);
    }

    void asCallerGroupsAndThreads()
    {
        QTemporaryDir dir;
        QFile::setPermissions(dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ExeOther);
        const std::string path = dir.filePath(QStringLiteral("group-only")).toStdString();
        QFile file(QString::fromStdString(path));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.close();
        QCOMPARE(::chown(path.c_str(), 0, 4242), 0);
        QCOMPARE(::chmod(path.c_str(), 0040), 0);
        using K = AsCaller::PathVerdict::Kind;
        QCOMPARE(verdict(nobody(), openCheck(path, O_RDONLY)), K::Denied);
        QCOMPARE(verdict(AsCaller::FsCreds{kNobody, kNobody, {4242}}, openCheck(path, O_RDONLY)), K::Ok);
        QCOMPARE(verdict(AsCaller::FsCreds{kNobody, 4242, {}}, openCheck(path, O_RDONLY)), K::Ok);

        // Only the checking thread changed: this one (and the process) is still root.
        const int fd = ::open("/etc/shadow", O_RDONLY | O_CLOEXEC);
        QVERIFY(fd >= 0);
        ::close(fd);
        std::atomic<bool> rootMeanwhile{false};
        auto r = AsCaller::run(nobody(), [&] {
            std::thread other([&] {
                const int f = ::open("/etc/shadow", O_RDONLY | O_CLOEXEC);
                rootMeanwhile = f >= 0;
                if (f >= 0) {
                    ::close(f);
                }
            });
            other.join();
        });
        QVERIFY(r);
        QVERIFY(!rootMeanwhile); // a thread started by the caller's thread inherits its credentials
        const int again = ::open("/etc/shadow", O_RDONLY | O_CLOEXEC);
        QVERIFY(again >= 0);
        ::close(again);
    }

    void imageChecksAsCaller()
    {
        QTemporaryDir dir;
        const std::string image = dir.filePath(QStringLiteral("image")).toStdString();
        AccessPolicy::CallerCreds caller;
        caller.uid = kNobody;
        caller.gid = kNobody;
        caller.capBnd = (uint64_t(1) << 41) - 1;
        for (auto &l : caller.limits) {
            l.hard = UINT64_MAX;
        }

        // The caller's own image: nothing needs more.
        TestImageSpec own;
        own.uid = kNobody;
        own.gid = kNobody;
        own.cwd = "/tmp";
        own.fds = {fdFor(0, "/dev/null", O_RDONLY), fdFor(1, "/etc/passwd", O_RDONLY)};
        QCOMPARE(QString::fromStdString(writeTestImage(image, own)), QString());
        auto info = cryopod::image::ImageInfo::readFile(image);
        QVERIFY2(info, info ? "" : info.error().describe().c_str());
        auto a = ImageCheck::assess(*info, caller, nobody());
        QVERIFY(a);
        QVERIFY2(a->adminReasons.isEmpty(), qPrintable(a->adminReasons.join(QLatin1Char('\n'))));
        QCOMPARE(a->rootPid, own.pid);

        // An edited image: uid 0, and /etc/shadow open.
        TestImageSpec edited = own;
        edited.uid = 0;
        edited.fds.push_back(fdFor(3, "/etc/shadow", O_RDONLY));
        QCOMPARE(QString::fromStdString(writeTestImage(image, edited)), QString());
        info = cryopod::image::ImageInfo::readFile(image);
        QVERIFY(info);
        a = ImageCheck::assess(*info, caller, nobody());
        QVERIFY(a);
        const QString reasons = a->adminReasons.join(QLatin1Char('\n'));
        QVERIFY2(reasons.contains(QLatin1String("uid 0")), qPrintable(reasons));
        QVERIFY2(reasons.contains(QLatin1String("/etc/shadow")), qPrintable(reasons));

        // A file replaced since: refused outright (the engine would, too).
        TestImageSpec replaced = own;
        replaced.fds[1].ino += 7;
        QCOMPARE(QString::fromStdString(writeTestImage(image, replaced)), QString());
        info = cryopod::image::ImageInfo::readFile(image);
        a = ImageCheck::assess(*info, caller, nobody());
        QVERIFY(!a);
        QCOMPARE(a.error().name, QString::fromLatin1(HelperErrorName::Failed));
    }

    void freezer_data()
    {
        QTest::addColumn<int>("version");
        QTest::newRow("cgroup v2") << int(Freezer::Version::V2);
        QTest::newRow("cgroup v1") << int(Freezer::Version::V1);
    }

    void freezer()
    {
        QFETCH(int, version);
        auto cgroups = Freezer::Cgroups::use(Freezer::Version(version));
        if (!cgroups) {
            QSKIP(cgroups.error().describe().c_str());
        }
        CountingTree tree;
        QVERIFY(tree.start());
        QTRY_COMPARE_WITH_TIMEOUT(ProcStatus::processTree(tree.child).size(), size_t(2), 5000);
        QVERIFY(tree.moving(0) && tree.moving(1));
        const std::string before = *cgroups->cgroupOf(tree.child);

        auto frozen = cgroups->freeze(tree.child);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        QCOMPARE(frozen->pids.size(), size_t(2));
        QVERIFY(!tree.moving(0) && !tree.moving(1));
        QVERIFY(*cgroups->isFrozen(tree.child));
        QVERIFY(frozen->created); // the test's cgroup holds more than the tree
        QCOMPARE(*cgroups->cgroupOf(tree.child), before + "/" + Freezer::kChildPrefix + std::to_string(tree.child));

        auto again = cgroups->freeze(tree.child);
        QVERIFY(!again);
        QCOMPARE(again.error().code, EALREADY);

        QVERIFY(cgroups->thaw(tree.child));
        QVERIFY(tree.moving(0) && tree.moving(1));
        QCOMPARE(*cgroups->cgroupOf(tree.child), before);
        QVERIFY(!QFileInfo::exists(QString::fromStdString(frozen->cgroup)));
        auto notFrozen = cgroups->thaw(tree.child);
        QVERIFY(!notFrozen);
        QCOMPARE(notFrozen.error().code, EINVAL);
    }

    void freezerWholeScope_data()
    {
        freezer_data();
    }

    void freezerWholeScope()
    {
        // A tree alone in its cgroup (an app's scope) is frozen in place.
        QFETCH(int, version);
        auto cgroups = Freezer::Cgroups::use(Freezer::Version(version));
        if (!cgroups) {
            QSKIP(cgroups.error().describe().c_str());
        }
        CountingTree tree;
        QVERIFY(tree.start());
        QTRY_COMPARE_WITH_TIMEOUT(ProcStatus::processTree(tree.child).size(), size_t(2), 5000);
        const std::string home = *cgroups->cgroupOf(tree.child);
        const std::string scope = home + "/cryopod-test-scope-" + std::to_string(::getpid());
        QCOMPARE(::mkdir(scope.c_str(), 0755), 0);
        for (pid_t p : ProcStatus::processTree(tree.child)) {
            QFile procs(QString::fromStdString(scope + "/cgroup.procs"));
            QVERIFY(procs.open(QIODevice::WriteOnly));
            procs.write(QByteArray::number(p));
        }
        QCOMPARE(*cgroups->cgroupOf(tree.child), scope);
        auto frozen = cgroups->freeze(tree.child);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        QVERIFY(!frozen->created);
        QCOMPARE(frozen->cgroup, scope);
        QVERIFY(!tree.moving(0) && !tree.moving(1));
        QVERIFY(cgroups->thaw(tree.child));
        QVERIFY(tree.moving(0) && tree.moving(1));
        QCOMPARE(*cgroups->cgroupOf(tree.child), scope); // never moved out
        tree.stop();
        bool removed = false;
        for (int i = 0; i < 250 && !removed; ++i) {
            removed = ::rmdir(scope.c_str()) == 0;
            if (!removed) {
                QThread::msleep(20);
            }
        }
        QVERIFY2(removed, std::strerror(errno));
    }

    void checkpointFrozen_data()
    {
        QTest::addColumn<int>("version");
        QTest::addColumn<QString>("program");
        QTest::addColumn<bool>("kill");
        for (const auto &[name, version] : {std::pair{"v2", Freezer::Version::V2}, std::pair{"v1", Freezer::Version::V1}}) {
            for (const auto &[workload, program] : {std::pair{"regloop", CRYOPOD_WL_REGLOOP}, std::pair{"tree", CRYOPOD_WL_TREE}}) {
                for (const bool kill : {false, true}) {
                    QTest::addRow("%s %s %s", name, workload, kill ? "kill" : "leave-running") << int(version) << QString::fromLatin1(program) << kill;
                }
            }
        }
    }

    void checkpointFrozen()
    {
        // A tree frozen by the cgroup freezer is checkpointed without
        // running an instruction: frozen again afterwards (or killed), and
        // the image restores a working copy.
        QFETCH(int, version);
        QFETCH(QString, program);
        QFETCH(bool, kill);
        auto cgroups = Freezer::Cgroups::use(Freezer::Version(version));
        if (!cgroups) {
            QSKIP(cgroups.error().describe().c_str());
        }
        Workload wl;
        QVERIFY(wl.start(program.toLocal8Bit().constData()));
        auto frozen = cgroups->freeze(wl.root);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        const std::string cgroup = frozen->cgroup;
        auto hold = cryopod::engine::freezerHold(wl.root);
        QVERIFY(hold);
        QCOMPARE(hold->cgroup, cgroup);

        QTemporaryDir images;
        const std::string image = images.filePath(QStringLiteral("image")).toStdString();
        cryopod::engine::CheckpointOptions options;
        options.leaveRunning = !kill;
        options.outsideFreezer = hold->hook;
        options.freezeTimeoutMs = 5000;
        {
            const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            QVERIFY(fd >= 0);
            QElapsedTimer took;
            took.start();
            auto r = cryopod::engine::checkpoint(wl.root, fd, options);
            ::close(fd);
            QVERIFY2(r, r ? "" : r.error().describe().c_str());
            QVERIFY2(took.elapsed() < 4000, "the checkpoint waited for the freeze timeout");
        }
        if (kill) {
            // Frozen again once the killed processes are gone (our child,
            // the root, is ours to reap; until then it may be exiting).

            QTRY_VERIFY_WITH_TIMEOUT(std::none_of(wl.pids.begin(), wl.pids.end(),
                                                  [](pid_t p) {
                                                      ::waitpid(p, nullptr, WNOHANG);
                                                      return ::kill(p, 0) == 0;
                                                  }),
                                     5000);
            wl.pids.clear();
            QTRY_VERIFY_WITH_TIMEOUT(cgroupDirFrozen(cgroup), 2000);
            if (frozen->created) {
                QCOMPARE(::rmdir(cgroup.c_str()), 0);
            }
        } else {
            QVERIFY(cgroupDirFrozen(cgroup));
            QVERIFY(*cgroups->isFrozen(wl.root));
            QVERIFY(!wl.traced());
            const uint64_t ticks = wl.cpuTicks();
            QThread::msleep(300);
            QCOMPARE(wl.cpuTicks(), ticks); // a CPU-bound workload would have run
            QVERIFY(*cgroups->isFrozen(wl.root));
            QVERIFY(cgroups->thaw(wl.root));
            wl.kill();
        }

        // The copy works: its own pids, checks its whole state.
        QCOMPARE(wl.restoreAndFinish(image), QByteArray("ok"));
    }

    void cryopodctlDirectOnAFrozenTree()
    {
        // cryopodctl checkpoint --direct holds a frozen tree as the helper
        // does: the image is written, the tree stays frozen, and the image
        // restores a working copy.
        auto cgroups = Freezer::Cgroups::detect();
        if (!cgroups) {
            QSKIP(cgroups.error().describe().c_str());
        }
        Workload wl;
        QVERIFY(wl.start(CRYOPOD_WL_TREE));
        auto frozen = cgroups->freeze(wl.root);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        QTemporaryDir images;
        const QString image = images.filePath(QStringLiteral("image"));
        QProcess ctl;
        ctl.start(QStringLiteral(CRYOPODCTL), {QStringLiteral("checkpoint"), QStringLiteral("--direct"), QString::number(wl.root), QStringLiteral("-o"), image});
        QVERIFY(ctl.waitForFinished(30000));
        QVERIFY2(ctl.exitCode() == 0, ctl.readAllStandardError().constData());
        QVERIFY(cgroupDirFrozen(frozen->cgroup));
        QVERIFY(*cgroups->isFrozen(wl.root));
        QVERIFY(!wl.traced());
        QVERIFY(cgroups->thaw(wl.root));
        wl.kill();

        QCOMPARE(wl.restoreAndFinish(image.toStdString()), QByteArray("ok"));
    }

    void checkpointFrozenFails_data()
    {
        QTest::addColumn<int>("version");
        QTest::addColumn<bool>("hold");
        for (const auto &[name, version] : {std::pair{"v2", Freezer::Version::V2}, std::pair{"v1", Freezer::Version::V1}}) {
            QTest::addRow("%s unwritable image", name) << int(version) << true;
            QTest::addRow("%s no hold", name) << int(version) << false;
        }
    }

    void checkpointFrozenFails()
    {
        // The image cannot be written (a pipe nobody reads); or the caller
        // gives no hook to thaw the tree for the capture, and the
        // checkpoint would wait for ever on its first injected system call
        // (a caller giving up then would leave that call's registers
        // behind): it refuses before freezing anything, naming the cgroup.
        // Either way the tree is left frozen, untraced and undamaged.
        QFETCH(int, version);
        QFETCH(bool, hold);
        auto cgroups = Freezer::Cgroups::use(Freezer::Version(version));
        if (!cgroups) {
            QSKIP(cgroups.error().describe().c_str());
        }
        Workload wl;
        QVERIFY(wl.start(CRYOPOD_WL_TREE));
        auto frozen = cgroups->freeze(wl.root);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        const auto held = cryopod::engine::heldByCgroupFreezer(wl.pids);
        QVERIFY(held);
        QCOMPARE(held->pid, wl.root);
        QCOMPARE(held->cgroup, frozen->cgroup);
        cryopod::engine::CheckpointOptions options;
        options.freezeTimeoutMs = 5000;
        if (hold) {
            auto found = cryopod::engine::freezerHold(wl.root);
            QVERIFY(found);
            QCOMPARE(found->cgroup, frozen->cgroup);
            options.outsideFreezer = found->hook;
        }
        int fds[2];
        QCOMPARE(::pipe2(fds, O_CLOEXEC), 0);
        ::close(fds[0]);
        QElapsedTimer took;
        took.start();
        auto r = cryopod::engine::checkpoint(wl.root, fds[1], options);
        ::close(fds[1]);
        QVERIFY(!r);
        qInfo("failed as expected: %s", r.error().describe().c_str());
        if (!hold) {
            QVERIFY2(took.elapsed() < 4000, "the checkpoint waited instead of refusing");
            QCOMPARE(r.error().code, EBUSY);
            QVERIFY2(r.error().describe().find("cgroup freezer holds it (" + frozen->cgroup + ")") != std::string::npos, r.error().describe().c_str());
        }
        QVERIFY(*cgroups->isFrozen(wl.root));
        QVERIFY(cgroupDirFrozen(frozen->cgroup));
        QVERIFY(!wl.traced());
        QCOMPARE(ProcStatus::processTree(wl.root), wl.pids);
        QVERIFY(cgroups->thaw(wl.root));
        QCOMPARE(wl.finish(), QByteArray("ok")); // the original itself: undamaged
        int status = 0;
        QCOMPARE(::waitpid(wl.root, &status, 0), wl.root);
        QVERIFY(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        wl.kill();
    }

    void relayCancel()
    {
        // The caller's fd is a pipe nobody reads: the relay blocks writing
        // into it, the "engine" blocks writing into the relay. Cancel must
        // free both, quickly.
        int caller[2];
        QCOMPARE(::pipe2(caller, O_CLOEXEC), 0);
        CancelToken token;
        std::atomic<uint64_t> progressBytes{0};
        auto relay = ImageStream::OutputRelay::start(caller[1], token, [&](uint64_t b) {
            progressBytes = b;
        });
        QVERIFY(relay);
        std::atomic<int> engineErrno{0};
        std::thread engine([fd = (*relay)->engineFd(), &engineErrno] {
            std::vector<char> chunk(1 << 20, 'x');
            for (int i = 0; i < 64; ++i) {
                if (::write(fd, chunk.data(), chunk.size()) < 0) {
                    engineErrno = errno;
                    return;
                }
            }
        });
        QTest::qWait(300);
        const int stillBlocked = engineErrno.load(); // 0: the engine is stuck writing
        QElapsedTimer timer;
        timer.start();
        token.cancel();
        engine.join();
        const ImageStream::Outcome out = (*relay)->finish();
        QVERIFY(timer.elapsed() < 2000);
        QCOMPARE(stillBlocked, 0);
        QCOMPARE(progressBytes.load(), uint64_t(0)); // nothing reached the caller's fd whole
        QCOMPARE(engineErrno.load(), EPIPE);
        QVERIFY(out.cancelled);
        QVERIFY(!out.error);
        ::close(caller[0]);
        ::close(caller[1]);
    }

    void relayDelivers()
    {
        int caller[2];
        QCOMPARE(::pipe2(caller, O_CLOEXEC), 0);
        CancelToken token;
        auto relay = ImageStream::OutputRelay::start(caller[1], token, {});
        QVERIFY(relay);
        std::atomic<uint64_t> received{0};
        std::thread reader([&] {
            char buf[65536];
            ssize_t n;
            while ((n = ::read(caller[0], buf, sizeof buf)) > 0) {
                received += uint64_t(n);
            }
        });
        std::vector<char> chunk(3 << 20, 'y');
        QCOMPARE(::write((*relay)->engineFd(), chunk.data(), chunk.size()), ssize_t(chunk.size()));
        const ImageStream::Outcome out = (*relay)->finish();
        ::close(caller[1]);
        reader.join();
        ::close(caller[0]);
        QCOMPARE(out.bytes, uint64_t(chunk.size()));
        QCOMPARE(received.load(), uint64_t(chunk.size()));
        QVERIFY(!out.cancelled && !out.error);
    }

    void receiveAndFeed()
    {
        // receive(): a caller that stops writing is interrupted by Cancel.
        int p[2];
        QCOMPARE(::pipe2(p, O_CLOEXEC), 0);
        std::vector<char> data(2 << 20);
        for (size_t i = 0; i < data.size(); ++i) {
            data[i] = char(i * 31);
        }
        std::thread writer([&] {
            writeAll(p[1], data.data(), data.size());
        });
        CancelToken stalled;
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            stalled.cancel();
        });
        auto r = ImageStream::receive(p[0], 64 << 20, stalled, {});
        canceller.join();
        writer.join();
        QVERIFY(!r);
        QCOMPARE(r.error().code, ECANCELED);

        // A complete one (the writer closes), then fed to an "engine".
        std::thread writer2([&] {
            writeAll(p[1], data.data(), data.size());
            ::close(p[1]);
        });
        CancelToken token;
        auto received = ImageStream::receive(p[0], 64 << 20, token, {});
        writer2.join();
        ::close(p[0]);
        QVERIFY(received);
        QCOMPARE(received->size, uint64_t(data.size()));
        std::vector<char> back(data.size());
        QCOMPARE(::pread(received->memfd.get(), back.data(), back.size(), 0), ssize_t(back.size()));
        QVERIFY(back == data);

        auto tooBig = [&] {
            int q[2];
            QVERIFY(::pipe2(q, O_CLOEXEC) == 0);
            std::thread w([&] {
                writeAll(q[1], data.data(), data.size());
                ::close(q[1]);
            });
            auto big = ImageStream::receive(q[0], 1 << 20, token, {});
            ::close(q[0]); // the writer's rest fails with EPIPE
            w.join();
            QVERIFY(!big);
            QCOMPARE(big.error().code, E2BIG);
        };
        tooBig();

        auto feeder = ImageStream::InputFeeder::start(received->memfd.get(), received->size, token, {});
        QVERIFY(feeder);
        uint64_t got = 0;
        char buf[65536];
        ssize_t n;
        while ((n = ::read((*feeder)->engineFd(), buf, sizeof buf)) > 0) {
            got += uint64_t(n);
        }
        const ImageStream::Outcome out = (*feeder)->finish();
        QCOMPARE(got, received->size);
        QCOMPARE(out.bytes, received->size);

        // Cancel while the engine does not read: the engine sees the end early
        // (a 16 MiB image: far more than the pipe holds).
        const uint64_t bigSize = 16 << 20;
        QCOMPARE(::ftruncate(received->memfd.get(), off_t(bigSize)), 0);
        CancelToken cancelMe;
        auto slow = ImageStream::InputFeeder::start(received->memfd.get(), bigSize, cancelMe, {});
        QVERIFY(slow);
        QTest::qWait(200);
        cancelMe.cancel();
        uint64_t partial = 0;
        while ((n = ::read((*slow)->engineFd(), buf, sizeof buf)) > 0) {
            partial += uint64_t(n);
        }
        const ImageStream::Outcome cut = (*slow)->finish();
        QVERIFY2(cut.cancelled, qPrintable(QStringLiteral("bytes %1 of %2, error %3").arg(cut.bytes).arg(bigSize).arg(QString::fromStdString(cut.error ? cut.error->describe() : std::string()))));
        QVERIFY(partial < bigSize);
    }
};

QTEST_GUILESS_MAIN(HelperSystemTest)
#include "helpersystemtest.moc"
