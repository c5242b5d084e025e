// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Terminals in the checkpointability report and the restore side's choices
// (tty.h), on real processes and real ptys: a program on a pty slave is fine
// (a caveat when typed input waits in it), /dev/tty, a pty master and a
// session led outside the tree are named; the pty modes refuse and find
// what they should.

#include "tty.h"
#include "engine.h"

#include <QFile>
#include <QTest>

#include <csignal>
#include <fcntl.h>
#include <functional>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::engine;

namespace
{

// A child that runs `setup` and then sleeps until killed; ready once it
// wrote a byte to the pipe.
class Sleeper
{
public:
    explicit Sleeper(const std::function<void()> &setup)
    {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            return;
        }
        m_pid = ::fork();
        if (m_pid == 0) {
            // Nothing of the test's (its event loop's fds) but the pipe.
            ::close(p[0]);
            if (p[1] > 3) {
                ::close_range(3, unsigned(p[1]) - 1, 0);
            }
            ::close_range(unsigned(p[1]) + 1, ~0u, 0);
            setup();
            (void)!::write(p[1], "x", 1);
            ::close(p[1]);
            for (;;) {
                ::pause();
            }
        }
        ::close(p[1]);
        char c;
        (void)!::read(p[0], &c, 1);
        ::close(p[0]);
    }
    ~Sleeper()
    {
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, nullptr, 0);
        }
    }
    pid_t pid() const
    {
        return m_pid;
    }

private:
    pid_t m_pid = -1;
};

struct Pty {
    int master = -1;
    std::string slave;
    Pty()
    {
        master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        char name[64];
        if (master >= 0 && ::grantpt(master) == 0 && ::unlockpt(master) == 0 && ::ptsname_r(master, name, sizeof name) == 0) {
            slave = name;
        }
    }
    ~Pty()
    {
        ::close(master);
    }
};

// In a child: a new session with `slave` as its controlling terminal on fds 0-2.
void sessionOn(const std::string &slave)
{
    ::setsid();
    const int fd = ::open(slave.c_str(), O_RDWR);
    ::ioctl(fd, TIOCSCTTY, 0);
    ::dup2(fd, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (fd > 2) {
        ::close(fd);
    }
}

const ProcessReport &only(const Report &report)
{
    return report.processes.front();
}

const FdReport *fdOf(const ProcessReport &p, int fd)
{
    for (const FdReport &f : p.fds) {
        if (f.fd == fd) {
            return &f;
        }
    }
    return nullptr;
}

} // namespace

class TtyTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void ttyNrDecodes()
    {
        // new_encode_dev(136:4) and (136:300): minor bits above 8 go to bits 20+.
        QCOMPARE(decodeTtyNr((136u << 8) | 4u), makedev(136, 4));
        QCOMPARE(decodeTtyNr((136u << 8) | (300u & 0xff) | ((300u & ~0xffu) << 12)), makedev(136, 300));
        QVERIFY(isPtySlave(makedev(136, 0)) && isPtySlave(makedev(143, 255)));
        QVERIFY(!isPtySlave(makedev(5, 2)) && !isPtySlave(makedev(4, 1)) && !isPtySlave(makedev(1, 3)));
    }

    void programOnAPtyIsFine()
    {
        Pty pty;
        QVERIFY(!pty.slave.empty());
        Sleeper s([&] { sessionOn(pty.slave); });
        auto report = analyze(s.pid());
        QVERIFY2(report, report ? "" : report.error().describe().c_str());
        QVERIFY2(report->verdict == Verdict::Ok, report->summary().c_str());
        const FdReport *zero = fdOf(only(*report), 0);
        QVERIFY(zero);
        QCOMPARE(zero->target, pty.slave);

        // Typed input the program has not read: named, not carried.
        QCOMPARE(::write(pty.master, "abc\n", 4), 4);
        QTRY_VERIFY_WITH_TIMEOUT(analyze(s.pid())->verdict == Verdict::Caveat, 2000);
        report = analyze(s.pid());
        QVERIFY2(QString::fromStdString(fdOf(only(*report), 0)->reason).contains(QLatin1String("4 bytes typed")), fdOf(only(*report), 0)->reason.c_str());
    }

    void devTtyAndMastersAreRefused()
    {
        Pty pty;
        Sleeper s([&] {
            sessionOn(pty.slave);
            const int tty = ::open("/dev/tty", O_RDWR);
            ::dup2(tty, 5);
            const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
            ::dup2(master, 6);
        });
        auto report = analyze(s.pid());
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const FdReport *tty = fdOf(only(*report), 5);
        const FdReport *master = fdOf(only(*report), 6);
        QVERIFY(tty && master);
        QCOMPARE(tty->verdict, Verdict::Refused);
        QVERIFY2(QString::fromStdString(tty->reason).contains(QLatin1String("/dev/tty")), tty->reason.c_str());
        QCOMPARE(master->verdict, Verdict::Refused);
        QVERIFY2(QString::fromStdString(master->reason).contains(QLatin1String("master side of a pseudo-terminal")), master->reason.c_str());
        QCOMPARE(fdOf(only(*report), 0)->verdict, Verdict::Ok);
    }

    void sessionLedOutsideTheTreeIsNamed()
    {
        Pty pty;
        // The leader (outside) and its child (the tree): the child keeps the
        // terminal's fds but would lose it as controlling terminal.
        Sleeper leader([&] {
            sessionOn(pty.slave);
            if (::fork() == 0) {
                ::close_range(3, ~0u, 0);
                for (;;) {
                    ::pause();
                }
            }
        });
        QFile children(QStringLiteral("/proc/%1/task/%1/children").arg(leader.pid()));
        QVERIFY(children.open(QIODevice::ReadOnly));
        const pid_t child = pid_t(children.readAll().trimmed().toInt());
        QVERIFY(child > 0);
        auto report = analyze(child);
        QVERIFY(report);
        QVERIFY2(report->verdict == Verdict::Caveat, report->summary().c_str());
        const std::string reasons = only(*report).reasons.empty() ? std::string() : only(*report).reasons.front();
        QVERIFY2(QString::fromStdString(reasons).contains(QLatin1String("leader is outside the checkpoint")), reasons.c_str());
        ::kill(child, SIGKILL);
    }

    void ptyModes()
    {
        Pty pty;
        struct stat st {};
        QVERIFY(::stat(pty.slave.c_str(), &st) == 0);
        image::TerminalRecord record;
        record.rdev = st.st_rdev;
        record.path = pty.slave;
        record.cc.assign(image::kTermiosCcBytes, 0);
        record.cc[6] = 1; // VMIN
        record.cflag = 0xbf;
        record.rows = 40;
        record.cols = 120;

        auto refused = openTerminals({record}, PtyMode::Refuse, std::nullopt);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ENOTSUP);
        QVERIFY(openTerminals({}, PtyMode::Refuse, std::nullopt));

        // A new pty: another device, the window size of the image, its master ours.
        auto made = openTerminals({record}, PtyMode::New, std::nullopt);
        QVERIFY2(made, made ? "" : made.error().describe().c_str());
        QCOMPARE(made->size(), size_t(1));
        const TerminalSetup &fresh = made->front();
        QVERIFY(fresh.restored.master);
        QVERIFY(fresh.rdev != record.rdev);
        QCOMPARE(fresh.restored.originalPath, pty.slave);
        winsize ws {};
        QVERIFY(::ioctl(fresh.restored.master.get(), TIOCGWINSZ, &ws) == 0);
        QCOMPARE(int(ws.ws_row), 40);
        QCOMPARE(int(ws.ws_col), 120);

        // The original one: found while it exists, refused once it is gone.
        auto original = openTerminals({record}, PtyMode::Original, std::nullopt);
        QVERIFY2(original, original ? "" : original.error().describe().c_str());
        QCOMPARE(original->front().restored.path, pty.slave);
        QVERIFY(!original->front().restored.master);
        image::TerminalRecord gone = record;
        gone.path = fresh.restored.path; // a pty, but another device than the record's
        auto other = openTerminals({gone}, PtyMode::Original, std::nullopt);
        QVERIFY(!other);
        QCOMPARE(other.error().code, ESTALE);
        ::close(pty.master);
        pty.master = -1;
        auto closed = openTerminals({record}, PtyMode::Original, std::nullopt);
        QVERIFY(!closed);
    }

    // What waits in a pty at a checkpoint: output the program wrote that the
    // master side has not read, and typed input the program has not read.
    // Neither can be read from outside without taking it from its reader
    // (no tty has a peek; the output sits in the master's buffer, which is
    // the terminal emulator's), so neither is carried: on a new pty both are
    // gone; the original pty still holds both (the input as long as a
    // process outside, as a shell, keeps the slave open).
    void queuedDataStaysWithTheOriginalPty()
    {
        Pty pty;
        QVERIFY(!pty.slave.empty());
        const std::string output = "written, not read by the master"; // no newline: ONLCR would make it CR LF
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close_range(3, ~0u, 0);
            sessionOn(pty.slave);
            (void)!::write(1, output.data(), output.size());
            ::execl("/bin/sleep", "sleep", "600", static_cast<char *>(nullptr));
            ::_exit(127);
        }
        QVERIFY(pid > 0);
        // A shell outside the tree keeps the slave open too.
        const int held = ::open(pty.slave.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        QVERIFY(held >= 0);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::symLinkTarget(QStringLiteral("/proc/%1/exe").arg(pid)).endsWith(QLatin1String("/sleep")), 5000);
        const std::string typed = "typed, not read\n";
        QCOMPARE(::write(pty.master, typed.data(), typed.size()), ssize_t(typed.size()));
        auto queued = [](int fd) {
            int n = -1;
            return ::ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
        };
        QTRY_COMPARE_WITH_TIMEOUT(queued(held), int(typed.size()), 2000);
        QTRY_VERIFY_WITH_TIMEOUT(queued(pty.master) >= int(output.size() + typed.size()), 2000); // the output and the echo
        auto report = analyze(pid);
        QVERIFY(report);
        const FdReport *zero = fdOf(only(*report), 0);
        QVERIFY(zero);
        QCOMPARE(zero->verdict, Verdict::Caveat);
        QVERIFY2(zero->reason.find(std::to_string(typed.size()) + " bytes typed into the terminal are not read yet: they are not carried") != std::string::npos,
                 zero->reason.c_str());

        const int image = ::memfd_create("tty-image", MFD_CLOEXEC);
        CheckpointOptions options;
        options.leaveRunning = false;
        auto done = checkpoint(pid, image, options);
        QVERIFY2(done, done ? "" : done.error().describe().c_str());
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, 0), pid);
        QCOMPARE(::lseek(image, 0, SEEK_SET), off_t(0));
        RestoreOptions restoreOptions;
        restoreOptions.pty = PtyMode::New;
        auto restored = restore(image, restoreOptions);
        ::close(image);
        QVERIFY2(restored, restored ? "" : restored.error().describe().c_str());
        QCOMPARE(restored->terminals.size(), size_t(1));
        const int master = restored->terminals.front().master.get();
        // The new pty: nothing to read for the relay, nothing typed for the program.
        pollfd p {master, POLLIN, 0};
        QCOMPARE(::poll(&p, 1, 300), 0);
        const int newSlave = ::open(restored->terminals.front().path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        QVERIFY(newSlave >= 0);
        QCOMPARE(queued(newSlave), 0);
        ::close(newSlave);
        // The original pty: both still there.
        QCOMPARE(queued(held), int(typed.size()));
        std::string left(4096, '\0');
        const ssize_t n = ::read(pty.master, left.data(), left.size());
        QVERIFY(n > 0);
        left.resize(size_t(n));
        QVERIFY2(left.starts_with(output), left.c_str());
        ::close(held);
        ::kill(pid, SIGKILL);
        QCOMPARE(::waitpid(pid, &status, 0), pid);
    }
};

QTEST_GUILESS_MAIN(TtyTest)

#include "ttytest.moc"
