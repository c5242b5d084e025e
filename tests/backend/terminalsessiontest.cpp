// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TerminalSession on a real pseudo-terminal with a real program on it: an
// interactive /bin/sh that leads its own session with the pty as its
// controlling terminal, as a restored program does. What sh and the
// programs it runs print shows up as lines (escape sequences interpreted or
// dropped), what is typed reaches them (Ctrl+C interrupts the foreground job,
// Ctrl+D ends input, the arrows arrive as their sequences), the window size
// reaches the terminal, the scrollback stays bounded, and the end of the
// program is reported.

#include "terminalsession.h"

#include <QSignalSpy>
#include <QTest>

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

using cryopod::UniqueFd;

namespace
{
constexpr int kTimeout = 30000;

struct Shell {
    pid_t pid = -1;
    std::unique_ptr<TerminalSession> session;
};

// /bin/sh -i on a new pty; the session holds the master.
Shell startShell()
{
    Shell shell;
    UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    char name[64] = {};
    if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0 || ::ptsname_r(master.get(), name, sizeof name) != 0) {
        return shell;
    }
    winsize size {};
    size.ws_col = 80;
    size.ws_row = 24;
    ::ioctl(master.get(), TIOCSWINSZ, &size);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setsid();
        const int slave = ::open(name, O_RDWR); // the session's controlling terminal
        if (slave < 0) {
            ::_exit(126);
        }
        ::dup2(slave, 0);
        ::dup2(slave, 1);
        ::dup2(slave, 2);
        ::close_range(3, ~0u, 0);
        ::setenv("PS1", "$ ", 1);
        ::setenv("TERM", "dumb", 1);
        ::unsetenv("ENV");
        ::signal(SIGINT, SIG_DFL);
        ::execl("/bin/sh", "sh", "-i", static_cast<char *>(nullptr));
        ::_exit(127);
    }
    shell.pid = pid;
    shell.session = std::make_unique<TerminalSession>(std::move(master), QString::fromLatin1(name));
    return shell;
}

// A line of the session is exactly text (trailing blanks aside).
bool hasLine(const TerminalSession &session, const QString &text)
{
    const QStringList lines = session.lines();
    return std::any_of(lines.cbegin(), lines.cend(), [&](const QString &line) {
        QString trimmed = line;
        while (trimmed.endsWith(QLatin1Char(' '))) {
            trimmed.chop(1);
        }
        return trimmed == text;
    });
}

int countLines(const TerminalSession &session, const QString &text)
{
    const QStringList lines = session.lines();
    return int(std::count(lines.cbegin(), lines.cend(), text));
}

// Reaps pid once it has ended (status set); false while it runs.
bool reaped(pid_t &pid, int &status)
{
    if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
    }
    return pid == -1;
}

bool atPrompt(const TerminalSession &session)
{
    return session.lines().constLast() == QLatin1String("$ ");
}
} // namespace

class TerminalSessionTest : public QObject
{
    Q_OBJECT

    Shell m_shell;

private Q_SLOTS:
    void init()
    {
        m_shell = startShell();
        QVERIFY(m_shell.pid > 0 && m_shell.session);
        QVERIFY(m_shell.session->isRunning());
        QCOMPARE(m_shell.session->columns(), 80); // the pty's own size at the start
        QCOMPARE(m_shell.session->rows(), 24);
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(*m_shell.session), kTimeout);
    }

    void cleanup()
    {
        m_shell.session.reset(); // hangs up: sh gets SIGHUP
        if (m_shell.pid > 0) {
            ::kill(m_shell.pid, SIGKILL);
            ::waitpid(m_shell.pid, nullptr, 0);
        }
    }

    void typedCommandRuns()
    {
        TerminalSession &s = *m_shell.session;
        QSignalSpy changed(&s, &TerminalSession::textChanged);
        s.sendText(QStringLiteral("echo hel''lo\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("hello")), kTimeout);
        QVERIFY(hasLine(s, QStringLiteral("$ echo hel''lo"))); // the terminal's echo
        QVERIFY(changed.count() > 0);
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        // The cursor is after the last prompt.
        QCOMPARE(s.cursorPosition(), int(s.text().size()));
    }

    void backspaceErases()
    {
        TerminalSession &s = *m_shell.session;
        s.sendText(QStringLiteral("echo abX"));
        QVERIFY(s.sendKey(Qt::Key_Backspace, Qt::NoModifier));
        s.sendText(QStringLiteral("c"));
        QVERIFY(s.sendKey(Qt::Key_Return, Qt::NoModifier));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("abc")), kTimeout);
        QVERIFY(hasLine(s, QStringLiteral("$ echo abc"))); // the X erased on screen as well
    }

    void escapeSequences()
    {
        TerminalSession &s = *m_shell.session;
        // Colours dropped; cursor back and erase to the end of line; CR
        // overwrites; an OSC title dropped; a tab to column 8.
        s.sendText(QStringLiteral("printf '\\033[1;31mred\\033[0m plain\\n'; printf 'abcdef\\033[3D\\033[K|\\n'; printf 'xyz\\rA\\n'; "
                                  "printf '\\033]0;a title\\007after\\n'; printf 'a\\tb\\n'; printf 'one\\033[2Gx\\n'; echo done\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("done")), kTimeout);
        QVERIFY2(hasLine(s, QStringLiteral("red plain")), qPrintable(s.text()));
        QVERIFY2(hasLine(s, QStringLiteral("abc|")), qPrintable(s.text()));
        QVERIFY2(hasLine(s, QStringLiteral("Ayz")), qPrintable(s.text()));
        QVERIFY2(hasLine(s, QStringLiteral("after")), qPrintable(s.text()));
        QVERIFY2(hasLine(s, QStringLiteral("a       b")), qPrintable(s.text()));
        QVERIFY2(hasLine(s, QStringLiteral("oxe")), qPrintable(s.text()));
        QVERIFY(!s.text().contains(QChar(0x1b)));
        // UTF-8, also when split between reads (the decoder keeps state).
        s.sendText(QStringLiteral("printf 'gr\\303\\274\\303\\237e\\n'\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("grüße")), kTimeout);
    }

    void controlKeysReachTheProgram()
    {
        TerminalSession &s = *m_shell.session;
        // Ctrl+C interrupts the foreground job, not the shell.
        s.sendText(QStringLiteral("sleep 100; echo not-interrupted\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("$ sleep 100; echo not-interrupted")), kTimeout);
        QTest::qWait(300); // sleep runs
        QVERIFY(s.sendKey(Qt::Key_C, Qt::ControlModifier));
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        QVERIFY(!hasLine(s, QStringLiteral("not-interrupted")));
        // The arrows arrive as their sequences (cat -v shows them; the
        // terminal echoes ESC as ^[), Ctrl+D ends cat's input.
        s.sendText(QStringLiteral("cat -v\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("$ cat -v")), kTimeout);
        QVERIFY(s.sendKey(Qt::Key_Up, Qt::NoModifier));
        QVERIFY(s.sendKey(Qt::Key_Left, Qt::NoModifier));
        QVERIFY(s.sendKey(Qt::Key_Return, Qt::NoModifier));
        QTRY_COMPARE_WITH_TIMEOUT(countLines(s, QStringLiteral("^[[A^[[D")), 2, kTimeout); // the echo, then cat's line
        QVERIFY(s.sendKey(Qt::Key_D, Qt::ControlModifier));
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        // A modifier alone sends nothing.
        QVERIFY(!s.sendKey(Qt::Key_Shift, Qt::ShiftModifier));
    }

    void windowSizeReachesTheTerminal()
    {
        TerminalSession &s = *m_shell.session;
        QSignalSpy resized(&s, &TerminalSession::windowSizeChanged);
        s.setWindowSize(100, 30);
        QCOMPARE(resized.count(), 1);
        QCOMPARE(s.columns(), 100);
        QCOMPARE(s.rows(), 30);
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        s.sendText(QStringLiteral("stty size\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("30 100")), kTimeout);
        s.setWindowSize(0, 10); // ignored
        QCOMPARE(resized.count(), 1);
        // Long output wraps at the window's width. Typed before the prompt,
        // the output would start behind it and wrap elsewhere.
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        s.sendText(QStringLiteral("printf '%0150d\\n' 0\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QString(50, QLatin1Char('0'))), kTimeout);
        QVERIFY(hasLine(s, QString(100, QLatin1Char('0'))));
    }

    void scrollbackIsBounded()
    {
        TerminalSession &s = *m_shell.session;
        s.setMaxLines(200);
        s.sendText(QStringLiteral("i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo line$i; done\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("line3000")), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        QVERIFY(s.lines().size() <= 200);
        QVERIFY(hasLine(s, QStringLiteral("line2900")));
        QVERIFY(!hasLine(s, QStringLiteral("line1")));
        // Clear screen (as `clear` sends it) keeps working after the trim.
        s.sendText(QStringLiteral("printf '\\033[H\\033[2Jtop\\n'\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("top")), kTimeout);
        QVERIFY(s.lines().size() <= 200);
    }

    void endOfProgramIsReported()
    {
        TerminalSession &s = *m_shell.session;
        QSignalSpy finished(&s, &TerminalSession::finished);
        QSignalSpy running(&s, &TerminalSession::runningChanged);
        s.sendText(QStringLiteral("echo bye\r"));
        QTRY_VERIFY_WITH_TIMEOUT(hasLine(s, QStringLiteral("bye")), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(atPrompt(s), kTimeout);
        QVERIFY(s.sendKey(Qt::Key_D, Qt::ControlModifier)); // end of input: sh exits
        QVERIFY(finished.wait(kTimeout));
        QCOMPARE(finished.count(), 1);
        QCOMPARE(running.count(), 1);
        QVERIFY(!s.isRunning());
        QVERIFY(s.errorString().isEmpty());
        int status = 0;
        QTRY_VERIFY_WITH_TIMEOUT(reaped(m_shell.pid, status), kTimeout);
        QVERIFY(WIFEXITED(status));
        QVERIFY(hasLine(s, QStringLiteral("bye"))); // what it printed stays
        // Typing now is an error, said in words.
        s.sendText(QStringLiteral("x"));
        QVERIFY(!s.errorString().isEmpty());
    }

    void closeHangsUp()
    {
        TerminalSession &s = *m_shell.session;
        QSignalSpy finished(&s, &TerminalSession::finished);
        s.close();
        QCOMPARE(finished.count(), 1);
        QVERIFY(!s.isRunning());
        // The shell got the hangup and ended.
        int status = 0;
        QTRY_VERIFY_WITH_TIMEOUT(reaped(m_shell.pid, status), kTimeout);
        QVERIFY2((WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP) || WIFEXITED(status), qPrintable(QString::number(status)));
    }
};

QTEST_GUILESS_MAIN(TerminalSessionTest)

#include "terminalsessiontest.moc"
