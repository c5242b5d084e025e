// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Checkpoint, kill, restore, and check the process goes on exactly where it
// was: same pid, same memory map, same fds, credentials, limits, signal state,
// and its own verification of its memory and files (cryopod-restore-target)
// keeps passing with its tick counter continuing without a gap. Failures
// (pid in use, truncated image, replaced file) must leave nothing behind.
#include "engine.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;

namespace
{
std::string readText(const std::string &path)
{
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string readLink(const std::string &path)
{
    char buf[4096];
    const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// The state a faithful restore must reproduce, as /proc shows it.
std::map<std::string, std::string> snapshot(pid_t pid)
{
    const std::string proc = "/proc/" + std::to_string(pid);
    std::map<std::string, std::string> out;
    out["maps"] = readText(proc + "/maps");
    out["limits"] = readText(proc + "/limits");
    out["cwd"] = readLink(proc + "/cwd");
    out["exe"] = readLink(proc + "/exe");
    out["comm"] = readText(proc + "/comm");
    std::istringstream status(readText(proc + "/status"));
    for (std::string line; std::getline(status, line);) {
        static const char *const keep[] = {"Name:", "Umask:", "Tgid:", "Pid:", "Uid:", "Gid:", "Groups:", "NoNewPrivs:", "Seccomp:", "SigBlk:", "SigIgn:",
                                           "SigCgt:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "VmSize:", "VmExe:", "VmLib:", "VmStk:"};
        for (const char *k : keep) {
            if (line.starts_with(k)) {
                out[k] = line;
            }
        }
    }
    for (int fd = 0; fd < 16; ++fd) {
        const std::string link = readLink(proc + "/fd/" + std::to_string(fd));
        if (link.empty()) {
            continue;
        }
        std::istringstream info(readText(proc + "/fdinfo/" + std::to_string(fd)));
        std::string pos, flags;
        for (std::string line; std::getline(info, line);) {
            if (line.starts_with("pos:") || line.starts_with("flags:")) {
                (line.starts_with("pos:") ? pos : flags) = line;
            }
        }
        if (link.ends_with("/log")) {
            pos = "(appended to while running)"; // O_APPEND log: its offset moves with every tick
        }
        out["fd " + std::to_string(fd)] = link + " | " + pos + " | " + flags;
    }
    // [heap] and [stack] as the kernel derives them from PR_SET_MM_MAP, and
    // the mm fields themselves (stat fields 26-28, 45-51).
    std::istringstream stat(readText(proc + "/stat"));
    std::string field;
    std::vector<std::string> fields;
    while (stat >> field) {
        fields.push_back(field);
    }
    std::string mm;
    for (int n : {26, 27, 28, 45, 46, 47, 48, 49, 50, 51}) {
        mm += (size_t(n) <= fields.size() ? fields[size_t(n - 1)] : std::string("?")) + " ";
    }
    out["mm fields"] = mm;
    return out;
}

bool alive(pid_t pid)
{
    return ::kill(pid, 0) == 0;
}

std::string describe(const Error &e)
{
    return e.describe();
}

// Kills and reaps a pid when the test function is left, whichever way (a
// failed QVERIFY returns early): no test leaves a process behind. The pid is
// ours to reap: our child, or re-parented to us (we are a subreaper).
struct ProcessGuard {
    pid_t pid = 0;
    ~ProcessGuard()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
};
} // namespace

class RestoreRoundTripTest : public QObject
{
    Q_OBJECT

private:
    std::string m_target;

    pid_t startTarget(const QTemporaryDir &dir, const std::vector<std::string> &extra = {})
    {
        const std::string log = logOf(dir);
        ::close(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666));
        ::chmod(log.c_str(), 0666);
        const pid_t pid = ::fork();
        if (pid == 0) {
            const int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::syscall(SYS_close_range, 3, ~0u, 0);
            std::vector<char *> argv{const_cast<char *>(m_target.c_str()), const_cast<char *>(log.c_str())};
            for (const std::string &a : extra) {
                argv.push_back(const_cast<char *>(a.c_str()));
            }
            argv.push_back(nullptr);
            ::execv(m_target.c_str(), argv.data());
            ::_exit(127);
        }
        return pid;
    }

    static std::string logOf(const QTemporaryDir &dir)
    {
        return dir.path().toStdString() + "/log";
    }

    // Waits until the log has a line "tick N ok" with N >= atLeast; returns the highest N.
    static long waitForTick(const std::string &log, long atLeast, int timeoutMs = 10000)
    {
        for (int waited = 0; waited < timeoutMs; waited += 20) {
            const long last = lastTick(log);
            if (last >= atLeast) {
                return last;
            }
            ::usleep(20 * 1000);
        }
        return lastTick(log);
    }

    static long lastTick(const std::string &log)
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

    // Checkpoints pid into `image`; the original is killed (and reaped) unless leaveRunning.
    static bool checkpointTo(pid_t pid, const std::string &image, bool leaveRunning)
    {
        const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        engine::CheckpointOptions options;
        options.leaveRunning = leaveRunning;
        auto r = engine::checkpoint(pid, fd, options);
        ::close(fd);
        if (!r) {
            qWarning("checkpoint: %s", r.error().describe().c_str());
            return false;
        }
        if (!leaveRunning) {
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
        return true;
    }

    static Result<engine::RestoreResult> restoreFrom(const std::string &image, bool frozen = false)
    {
        const int fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
        engine::RestoreOptions options;
        options.frozen = frozen;
        auto r = engine::restore(fd, options);
        ::close(fd);
        return r;
    }

    // Nothing but our own files in the directory: no temporary copies left.
    static QStringList strayFiles(const QTemporaryDir &dir)
    {
        QStringList stray;
        const std::string path = dir.path().toStdString();
        for (const char *name : {"gone.bin"}) {
            if (::access((path + "/" + name).c_str(), F_OK) == 0) {
                stray << QString::fromLatin1(name);
            }
        }
        const QStringList entries = QDir(dir.path()).entryList(QDir::Files | QDir::Hidden);
        for (const QString &e : entries) {
            if (e.startsWith(QLatin1String(".cryopod-restore-"))) {
                stray << e;
            }
        }
        return stray;
    }

    void roundTrip(const std::vector<std::string> &extra)
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        ::chmod(dir.path().toLocal8Bit().constData(), 0777);
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir, extra);
        ProcessGuard guard{pid};
        QVERIFY(pid > 0);
        QVERIFY2(waitForTick(log, 2) >= 2, readText(log).c_str());
        const auto before = snapshot(pid);

        QVERIFY(checkpointTo(pid, image, false));
        QVERIFY(!alive(pid));
        const long lastBefore = lastTick(log);

        auto restored = restoreFrom(image);
        QVERIFY2(restored.has_value(), restored ? "" : describe(restored.error()).c_str());
        QCOMPARE(restored->root, pid);
        QVERIFY(alive(pid));
        const auto after = snapshot(pid);
        for (const auto &[key, value] : before) {
            const auto it = after.find(key);
            QVERIFY2(it != after.end(), key.c_str());
            QVERIFY2(it->second == value, (key + "\nbefore: " + value + "\nafter:  " + it->second).c_str());
        }
        QCOMPARE(after.size(), before.size());

        // It goes on: the next ticks, no gap, no repetition, nothing corrupt.
        QVERIFY2(waitForTick(log, lastBefore + 3) >= lastBefore + 3, readText(log).c_str());
        const std::string text = readText(log);
        QVERIFY2(text.find("CORRUPT") == std::string::npos, text.c_str());
        QVERIFY2(text.find("tick " + std::to_string(lastBefore + 1) + " ok\n") != std::string::npos, text.c_str());
        size_t count = 0;
        for (size_t at = 0; (at = text.find("tick " + std::to_string(lastBefore) + " ok\n", at)) != std::string::npos; ++at) {
            ++count;
        }
        QCOMPARE(count, size_t(1));

        // Its handlers, its alternate signal stack.
        QCOMPARE(::kill(pid, SIGUSR1), 0);
        QCOMPARE(::kill(pid, SIGUSR2), 0);
        waitForTick(log, lastTick(log) + 2);
        const std::string signals = readText(log);
        QVERIFY2(signals.find("usr1\n") != std::string::npos, signals.c_str());
        QVERIFY2(signals.find("usr2 onstack\n") != std::string::npos, signals.c_str());
        QVERIFY2(signals.find("CORRUPT") == std::string::npos, signals.c_str());
        QVERIFY(strayFiles(dir).isEmpty());
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        QVERIFY2(::geteuid() == 0, "the engine tests run as root");
        const std::string self = readLink("/proc/self/exe");
        m_target = self.substr(0, self.rfind('/') + 1) + "cryopod-restore-target";
        QVERIFY2(::access(m_target.c_str(), X_OK) == 0, m_target.c_str());
    }

    void roundTripAsRoot()
    {
        roundTrip({});
    }

    void roundTripAsAnotherUser()
    {
        roundTrip({"--uid", "65534"});
    }

    void roundTripWithReducedCapabilities()
    {
        roundTrip({"--caps"});
    }

    // The command line: usage errors, the missing helper path, and a real
    // restore from stdin, whose process outlives the command (re-parented to
    // us, the subreaper).
    void commandLine()
    {
        const std::string self = readLink("/proc/self/exe");
        const QString ctl = QString::fromStdString(self.substr(0, self.rfind('/') + 1) + "cryopodctl");
        QVERIFY(QFile::exists(ctl));
        QProcess usage;
        usage.start(ctl, {QStringLiteral("restore"), QStringLiteral("--direct")});
        QVERIFY(usage.waitForFinished());
        QCOMPARE(usage.exitCode(), 2);
        QVERIFY(usage.readAllStandardError().startsWith("cryopodctl: restore: "));

        QTemporaryDir dir;
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir);
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        QVERIFY(checkpointTo(pid, image, false));

        QProcess noHelper;
        noHelper.start(ctl, {QStringLiteral("restore"), QStringLiteral("-i"), QString::fromStdString(image)});
        QVERIFY(noHelper.waitForFinished());
        QCOMPARE(noHelper.exitCode(), 1);
        QVERIFY(noHelper.readAllStandardError().contains("helper"));
        QVERIFY(!alive(pid));

        QProcess restore;
        restore.setStandardInputFile(QString::fromStdString(image));
        restore.start(ctl, {QStringLiteral("restore"), QStringLiteral("--direct"), QStringLiteral("-i"), QStringLiteral("-")});
        QVERIFY(restore.waitForFinished(60000));
        const QByteArray err = restore.readAllStandardError();
        QVERIFY2(restore.exitCode() == 0, err.constData());
        QCOMPARE(restore.readAllStandardOutput(), QByteArray("restored pid " + QByteArray::number(pid) + "\n"));
        const long last = lastTick(log);
        QVERIFY(waitForTick(log, last + 2) >= last + 2);
        QVERIFY(readText(log).find("CORRUPT") == std::string::npos);

        // The same image again while the pid is taken: exit 1, the holder named.
        QProcess again;
        again.start(ctl, {QStringLiteral("restore"), QStringLiteral("--direct"), QStringLiteral("-i"), QString::fromStdString(image)});
        QVERIFY(again.waitForFinished(60000));
        QCOMPARE(again.exitCode(), 1);
        const QByteArray againErr = again.readAllStandardError();
        QVERIFY2(againErr.startsWith("cryopodctl: restore: ") && againErr.contains("is in use by process"), againErr.constData());
    }

    void frozenStaysStopped()
    {
        QTemporaryDir dir;
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir);
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        QVERIFY(checkpointTo(pid, image, false));
        const long lastBefore = lastTick(log);
        auto restored = restoreFrom(image, true);
        QVERIFY2(restored.has_value(), restored ? "" : describe(restored.error()).c_str());
        ::usleep(400 * 1000);
        const std::string stat = readText("/proc/" + std::to_string(pid) + "/stat");
        QVERIFY2(stat.find(") T ") != std::string::npos, stat.c_str());
        QCOMPARE(lastTick(log), lastBefore);
        QCOMPARE(::kill(pid, SIGCONT), 0);
        QVERIFY(waitForTick(log, lastBefore + 2) >= lastBefore + 2);
        QVERIFY(readText(log).find("CORRUPT") == std::string::npos);
    }

    void pidInUseIsRefusedAndLeavesNothing()
    {
        QTemporaryDir dir;
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir);
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        QVERIFY(checkpointTo(pid, image, true)); // the original keeps running, holding the pid
        auto restored = restoreFrom(image);
        QVERIFY(!restored.has_value());
        QCOMPARE(restored.error().code, EEXIST);
        const std::string message = restored.error().describe();
        QVERIFY2(message.find("pid " + std::to_string(pid) + " is in use by process " + std::to_string(pid) + " (cryopod-restore)") != std::string::npos,
                 message.c_str());
        QVERIFY(strayFiles(dir).isEmpty());
        // The original is untouched and goes on.
        const long last = lastTick(log);
        QVERIFY(waitForTick(log, last + 2) >= last + 2);
    }

    void truncatedImageLeavesNothing()
    {
        QTemporaryDir dir;
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir);
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        QVERIFY(checkpointTo(pid, image, false));
        struct stat st{};
        QCOMPARE(::stat(image.c_str(), &st), 0);
        // Cut inside the page data: the process exists by then and must go.
        const std::string cut = image + ".cut";
        {
            std::ifstream in(image, std::ios::binary);
            std::ofstream out(cut, std::ios::binary);
            std::vector<char> bytes(size_t(st.st_size) * 3 / 4);
            in.read(bytes.data(), std::streamsize(bytes.size()));
            out.write(bytes.data(), std::streamsize(bytes.size()));
        }
        auto restored = restoreFrom(cut);
        QVERIFY(!restored.has_value());
        QVERIFY2(restored.error().describe().find("truncated") != std::string::npos, restored.error().describe().c_str());
        QVERIFY(!alive(pid));
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, WNOHANG), -1); // reaped already: no zombie
        QCOMPARE(errno, ECHILD);
        QVERIFY(strayFiles(dir).isEmpty());
        // The whole image still restores afterwards.
        auto again = restoreFrom(image);
        QVERIFY2(again.has_value(), again ? "" : describe(again.error()).c_str());
        QVERIFY(waitForTick(log, lastTick(log) + 1) > 0);
    }

    void replacedFileIsRefused()
    {
        QTemporaryDir dir;
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir);
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        QVERIFY(checkpointTo(pid, image, false));
        // Another file at the mapped file's path (same contents; created
        // before the old one goes, so it cannot reuse its inode number).
        const std::string data = dir.path().toStdString() + "/data.bin";
        const std::string contents = readText(data);
        {
            std::ofstream out(data + ".new", std::ios::binary);
            out << contents;
        }
        QCOMPARE(::rename((data + ".new").c_str(), data.c_str()), 0);
        auto restored = restoreFrom(image);
        QVERIFY(!restored.has_value());
        const std::string message = restored.error().describe();
        QVERIFY2(message.find("data.bin") != std::string::npos && message.find("replaced") != std::string::npos, message.c_str());
        QVERIFY(!alive(pid));
        QVERIFY(strayFiles(dir).isEmpty());
    }

    void replacedFifoIsRefused()
    {
        QTemporaryDir dir;
        const std::string log = logOf(dir);
        const std::string image = dir.path().toStdString() + "/image";
        const pid_t pid = startTarget(dir, {"--fifo"});
        ProcessGuard guard{pid};
        QVERIFY(waitForTick(log, 1) >= 1);
        QVERIFY(checkpointTo(pid, image, false));
        // Another FIFO at its path (made before the old one goes, so that it
        // cannot reuse its inode number).
        const std::string fifo = dir.path().toStdString() + "/fifo";
        QCOMPARE(::mkfifo((fifo + ".new").c_str(), 0600), 0);
        QCOMPARE(::rename((fifo + ".new").c_str(), fifo.c_str()), 0);
        auto restored = restoreFrom(image);
        QVERIFY(!restored.has_value());
        QCOMPARE(restored.error().code, ESTALE);
        const std::string message = restored.error().describe();
        QVERIFY2(message.find("FIFO " + fifo) != std::string::npos && message.find("not the FIFO of the checkpoint") != std::string::npos, message.c_str());
        QVERIFY(!alive(pid));
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, WNOHANG), -1); // reaped already: no zombie
        QVERIFY(strayFiles(dir).isEmpty());
        // Gone altogether: refused as well, nothing created.
        QCOMPARE(::unlink(fifo.c_str()), 0);
        restored = restoreFrom(image);
        QVERIFY(!restored.has_value());
        QCOMPARE(restored.error().code, ENOENT);
        QVERIFY(!alive(pid));
        QVERIFY(::access(fifo.c_str(), F_OK) != 0);
    }
};

QTEST_GUILESS_MAIN(RestoreRoundTripTest)

#include "restoreroundtriptest.moc"
