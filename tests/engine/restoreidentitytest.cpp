// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A restore for an unprivileged caller (RestoreOptions::openAs, what the
// helper passes) uses every path of the image with the caller's rights, not
// the restorer's: an image naming a file the caller cannot read fails with a
// clear error and leaves nothing behind (no process, no zombie, no copy of an
// unlinked file), while the same image restores for root, and for the
// caller once the file is the caller's.
//
// The process is cryopod-restore-target --uid 65534: it creates data.bin
// (root's, mode 0640: unreadable for uid 65534) and maps it before it drops
// to uid 65534, so its image names a file its own uid cannot open.
#include "engine.h"

#include <QDir>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;

namespace
{
constexpr uid_t kNobody = 65534;

std::string readText(const std::string &path)
{
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

long lastTick(const std::string &log)
{
    std::istringstream in(readText(log));
    long last = -1;
    for (std::string line; std::getline(in, line);) {
        long n = 0;
        if (std::sscanf(line.c_str(), "tick %ld ok", &n) == 1) {
            last = n;
        }
    }
    return last;
}

long waitForTick(const std::string &log, long atLeast)
{
    for (int waited = 0; waited < 10000; waited += 20) {
        if (lastTick(log) >= atLeast) {
            break;
        }
        ::usleep(20 * 1000);
    }
    return lastTick(log);
}

bool alive(pid_t pid)
{
    return ::kill(pid, 0) == 0;
}

void killAndReap(pid_t pid)
{
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

struct ProcessGuard {
    pid_t pid = 0;
    ~ProcessGuard()
    {
        if (pid > 0) {
            killAndReap(pid);
        }
    }
};

Result<engine::RestoreResult> restoreFrom(const std::string &image, std::optional<engine::FsIdentity> openAs)
{
    const int fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
    engine::RestoreOptions options;
    options.openAs = std::move(openAs);
    auto r = engine::restore(fd, options);
    ::close(fd);
    return r;
}

engine::FsIdentity nobody()
{
    return engine::FsIdentity{kNobody, kNobody, {kNobody}};
}
} // namespace

class RestoreIdentityTest : public QObject
{
    Q_OBJECT

private:
    std::string m_target;

    pid_t startTarget(const std::string &log)
    {
        const pid_t pid = ::fork();
        if (pid == 0) {
            const int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::syscall(SYS_close_range, 3, ~0u, 0);
            const std::string uid = std::to_string(kNobody);
            char *argv[] = {const_cast<char *>(m_target.c_str()), const_cast<char *>(log.c_str()), const_cast<char *>("--uid"), const_cast<char *>(uid.c_str()),
                            nullptr};
            ::execv(m_target.c_str(), argv);
            ::_exit(127);
        }
        return pid;
    }

    // Temporary copies of unlinked files the restore made and did not remove.
    static QStringList strayFiles(const QTemporaryDir &dir)
    {
        QStringList stray;
        for (const QString &e : QDir(dir.path()).entryList(QDir::Files | QDir::Hidden)) {
            if (e == QLatin1String("gone.bin") || e.startsWith(QLatin1String(".cryopod-restore-"))) {
                stray << e;
            }
        }
        for (const QString &e : QDir(QStringLiteral("/tmp")).entryList(QDir::Files | QDir::Hidden)) {
            if (e.startsWith(QLatin1String(".cryopod-restore-"))) {
                stray << QStringLiteral("/tmp/") + e;
            }
        }
        return stray;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        QVERIFY2(::geteuid() == 0, "the engine tests run as root");
        char self[4096] = {};
        QVERIFY(::readlink("/proc/self/exe", self, sizeof self - 1) > 0);
        const std::string path(self);
        m_target = path.substr(0, path.rfind('/') + 1) + "cryopod-restore-target";
        QVERIFY2(::access(m_target.c_str(), X_OK) == 0, m_target.c_str());
    }

    void unreadableFileRefusedForCallerRestoredForRoot()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string base = dir.path().toStdString();
        ::chmod(base.c_str(), 0777); // the caller may create the unlinked file's copy here
        const std::string log = base + "/log";
        ::close(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666));
        ::chmod(log.c_str(), 0666);
        const std::string image = base + "/image";
        const std::string data = base + "/data.bin";

        const pid_t pid = startTarget(log);
        ProcessGuard guard{pid};
        QVERIFY(pid > 0);
        QVERIFY2(waitForTick(log, 2) >= 2, readText(log).c_str());
        {
            const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            auto r = engine::checkpoint(pid, fd, engine::CheckpointOptions{.leaveRunning = false});
            ::close(fd);
            QVERIFY2(r.has_value(), r ? "" : r.error().describe().c_str());
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
        QVERIFY(!alive(pid));
        struct stat st{};
        QCOMPARE(::stat(data.c_str(), &st), 0);
        QCOMPARE(st.st_uid, uid_t(0));
        QCOMPARE(st.st_mode & 0777, mode_t(0640)); // not readable for uid 65534

        // 1. For the unprivileged caller: refused, clearly, nothing left.
        auto asNobody = restoreFrom(image, nobody());
        QVERIFY(!asNobody.has_value());
        const std::string message = asNobody.error().describe();
        QVERIFY2(asNobody.error().code == EACCES, message.c_str());
        QVERIFY2(message.find("data.bin") != std::string::npos, message.c_str());
        QVERIFY2(message.find("caller's rights: uid 65534") != std::string::npos, message.c_str());
        QVERIFY2(message.find("Permission denied") != std::string::npos, message.c_str());
        QVERIFY(!alive(pid));
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, WNOHANG), -1); // reaped already: no zombie
        QCOMPARE(errno, ECHILD);
        QVERIFY2(strayFiles(dir).isEmpty(), qPrintable(strayFiles(dir).join(QLatin1Char(' '))));

        // 2. The same image for root: restored, and it goes on.
        const long lastBefore = lastTick(log);
        auto asRoot = restoreFrom(image, std::nullopt);
        QVERIFY2(asRoot.has_value(), asRoot ? "" : asRoot.error().describe().c_str());
        QCOMPARE(asRoot->root, pid);
        QVERIFY2(waitForTick(log, lastBefore + 2) >= lastBefore + 2, readText(log).c_str());
        QVERIFY(readText(log).find("CORRUPT") == std::string::npos);
        killAndReap(pid);
        QVERIFY(strayFiles(dir).isEmpty());

        // 3. Once the file is the caller's, the caller's restore works too:
        //    the identity only takes away what the caller may not do. The
        //    copy of the unlinked file is the caller's (created as the caller).
        QCOMPARE(::chown(data.c_str(), kNobody, kNobody), 0);
        const long lastRoot = lastTick(log);
        auto again = restoreFrom(image, nobody());
        QVERIFY2(again.has_value(), again ? "" : again.error().describe().c_str());
        QCOMPARE(again->root, pid);
        QVERIFY2(waitForTick(log, lastRoot + 2) >= lastRoot + 2, readText(log).c_str());
        QVERIFY(readText(log).find("CORRUPT") == std::string::npos);
        // The process itself is as it was: uid 65534, not root.
        const std::string proc = readText("/proc/" + std::to_string(pid) + "/status");
        QVERIFY2(proc.find("Uid:\t65534\t65534\t65534\t65534") != std::string::npos, proc.c_str());
        QVERIFY(strayFiles(dir).isEmpty());
    }

    // An unlinked file's copy is created with the caller's rights: where the
    // file was is a directory the caller may not write to, so the copy goes
    // to /tmp (the fallback), owned by the caller, rather than into that
    // directory as root.
    void unlinkedCopyIsTheCallers()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string base = dir.path().toStdString();
        ::chmod(base.c_str(), 0777);
        const std::string log = base + "/log";
        ::close(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666));
        ::chmod(log.c_str(), 0666);
        const std::string image = base + "/image";
        const pid_t pid = startTarget(log);
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        {
            const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            auto r = engine::checkpoint(pid, fd, engine::CheckpointOptions{.leaveRunning = false});
            ::close(fd);
            QVERIFY2(r.has_value(), r ? "" : r.error().describe().c_str());
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
        QCOMPARE(::chown((base + "/data.bin").c_str(), kNobody, kNobody), 0);
        // The directory is root's and closed to others now: root could
        // create gone.bin there, the caller cannot.
        QCOMPARE(::chmod(base.c_str(), 0755), 0);
        auto restored = restoreFrom(image, nobody());
        // The cwd stays searchable (0755), so the restore works; the copy
        // went elsewhere (/tmp) and is gone again.
        QVERIFY2(restored.has_value(), restored ? "" : restored.error().describe().c_str());
        QVERIFY(::access((base + "/gone.bin").c_str(), F_OK) != 0);
        const std::string fdDir = "/proc/" + std::to_string(pid) + "/fd";
        bool sawCopy = false;
        for (const QString &e : QDir(QString::fromStdString(fdDir)).entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot)) {
            char target[4096] = {};
            const std::string link = fdDir + "/" + e.toStdString();
            if (::readlink(link.c_str(), target, sizeof target - 1) > 0 && std::strstr(target, ".cryopod-restore-") != nullptr) {
                sawCopy = true;
                struct stat st{};
                QCOMPARE(::stat(link.c_str(), &st), 0);
                QCOMPARE(st.st_uid, kNobody);
                QVERIFY2(std::strncmp(target, "/tmp/", 5) == 0, target);
            }
        }
        QVERIFY(sawCopy);
        const long last = lastTick(log);
        QVERIFY2(waitForTick(log, last + 2) >= last + 2, readText(log).c_str());
        QVERIFY(readText(log).find("CORRUPT") == std::string::npos);
        QVERIFY(strayFiles(dir).isEmpty());
    }
};

QTEST_GUILESS_MAIN(RestoreIdentityTest)

#include "restoreidentitytest.moc"
