// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A program on a terminal, restored from the window onto a new pty and used
// in the terminal view, through the real helper and engine: an interactive
// bash leads a session on a pty this test made, sets a variable, is
// snapshotted and killed; Restore on its timeline asks where its terminal
// goes; "Restore in a Terminal View" brings it back on a new pty whose
// master the window holds; the Terminal page shows what bash prints, and
// keys typed into the window reach it (a command that reads the variable
// set before the snapshot, the view's size as the terminal's, Ctrl+C, Ctrl+D).
// Runs inside `scripts/run --no-build --exec` (private system bus, polkitd,
// bus-activated helper), in a temporary store; screenshots to <build>/screenshots/.

#include "../backend/testprocesses.h"
#include "guitestsupport.h"
#include "snapshotactions.h"
#include "terminalsession.h"

#include <QElapsedTimer>
#include <QFile>
#include <QPointer>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace GuiTest;

namespace
{
bool alive(qint64 pid)
{
    return ::kill(pid_t(pid), 0) == 0;
}

// Reads fd into seen until want is in it; false after timeoutMs.
bool expect(int fd, QByteArray &seen, const QByteArray &want, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    while (!seen.contains(want)) {
        const qint64 left = timeoutMs - timer.elapsed();
        if (left <= 0) {
            return false;
        }
        pollfd p {fd, POLLIN, 0};
        if (::poll(&p, 1, int(left)) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            return false;
        }
        seen.append(buffer, n);
    }
    // Consumed through the match: what came after it in the same read (the
    // next prompt, say) stays for the next expect.
    seen.remove(0, seen.indexOf(want) + want.size());
    return true;
}

// The visible text of the terminal view has a line that is exactly text.
bool viewHasLine(QQuickItem *view, const QString &text)
{
    const QStringList lines = view->property("text").toString().split(QLatin1Char('\n'));
    return std::any_of(lines.cbegin(), lines.cend(), [&](QString line) {
        while (line.endsWith(QLatin1Char(' '))) {
            line.chop(1);
        }
        return line == text;
    });
}

// Types text into the window, key by key.
void type(QQuickWindow *window, const QString &text)
{
    for (const QChar c : text) {
        QTest::keyClick(window, c.toLatin1());
    }
}

// Gone, or a zombie nobody has collected yet.
bool ended(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly)) {
        return true;
    }
    const QByteArray text = stat.readAll();
    const qsizetype paren = text.lastIndexOf(')');
    return paren > 0 && text.mid(paren + 2, 1) == "Z";
}

bool lastLineIsPrompt(QQuickItem *view)
{
    return view->property("text").toString().endsWith(QLatin1String("\n$ "));
}
} // namespace

class TerminalFlowTest : public WindowTest
{
    Q_OBJECT

    cryopod::UniqueFd m_master; // the original pty, ours
    QString m_slaveName;
    pid_t m_bash = -1;
    qint64 m_restoredPid = 0;
    qint64 m_snapshotId = 0;
    qint64 m_targetId = 0;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(startFixture(true));

        // bash -i leading its own session on a pty of ours, as in a terminal window.
        m_master = cryopod::UniqueFd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
        char name[64] = {};
        QVERIFY(m_master && ::grantpt(m_master.get()) == 0 && ::unlockpt(m_master.get()) == 0 && ::ptsname_r(m_master.get(), name, sizeof name) == 0);
        m_slaveName = QString::fromLatin1(name);
        winsize size {};
        size.ws_row = 33;
        size.ws_col = 101;
        QCOMPARE(::ioctl(m_master.get(), TIOCSWINSZ, &size), 0);
        // Everything the child needs is made before fork(): this process has
        // threads, so the child may only make async-signal-safe calls.
        const std::string home = QFile::encodeName(m_dir.path()).toStdString();
        std::vector<std::string> environment {"PS1=$ ", "TERM=dumb", "HOME=" + home};
        for (char **e = environ; *e; ++e) {
            const std::string_view entry(*e);
            if (!entry.starts_with("PS1=") && !entry.starts_with("TERM=") && !entry.starts_with("HOME=") && !entry.starts_with("HISTFILE=") &&
                !entry.starts_with("PROMPT_COMMAND=") && !entry.starts_with("BASH_ENV=") && !entry.starts_with("ENV=")) {
                environment.emplace_back(entry);
            }
        }
        std::vector<char *> envp;
        for (std::string &entry : environment) {
            envp.push_back(entry.data());
        }
        envp.push_back(nullptr);
        const char *argv[] = {"bash", "--norc", "--noprofile", "-i", nullptr};
        m_bash = ::fork();
        QVERIFY(m_bash >= 0);
        if (m_bash == 0) {
            ::setsid();
            const int slave = ::open(name, O_RDWR); // the controlling terminal
            if (slave < 0 || ::chdir(home.c_str()) != 0) {
                ::_exit(126);
            }
            ::dup2(slave, 0);
            ::dup2(slave, 1);
            ::dup2(slave, 2);
            ::close_range(3, ~0u, 0); // only the terminal: nothing outside the tree
            ::execve(CRYOPOD_BASH_PATH, const_cast<char **>(argv), envp.data());
            ::_exit(127);
        }
        QByteArray seen;
        if (!expect(m_master.get(), seen, "$ ", kTimeout)) {
            int status = 0;
            const pid_t gone = ::waitpid(m_bash, &status, WNOHANG);
            QFAIL(qPrintable(QStringLiteral("no prompt from bash (%1), output \"%2\"")
                                 .arg(gone == m_bash ? QStringLiteral("it exited, status %1").arg(status) : QStringLiteral("still running"),
                                      QString::fromLocal8Bit(seen))));
        }
        const char *command = "x=41; echo val=$((x+1))\n";
        QCOMPARE(::write(m_master.get(), command, std::strlen(command)), ssize_t(std::strlen(command)));
        QVERIFY2(expect(m_master.get(), seen, "val=42", kTimeout), seen.constData());
        QVERIFY2(expect(m_master.get(), seen, "$ ", kTimeout), seen.constData());

        QVERIFY(openWindow());
    }

    void cleanupTestCase()
    {
        closeWindow();
        if (m_restoredPid > 0 && alive(m_restoredPid)) {
            ::kill(pid_t(m_restoredPid), SIGKILL);
        }
        if (m_bash > 0) {
            ::kill(m_bash, SIGKILL);
            ::waitpid(m_bash, nullptr, 0);
        }
        endFixture();
    }

    void testSnapshotAndKill()
    {
        QSignalSpy taken(m_actions.data(), &SnapshotActions::snapshotTaken);
        QVERIFY(m_actions->snapshot(int(m_bash), QStringLiteral("bash on a terminal")));
        QVERIFY2(taken.wait(5 * kTimeout), qPrintable(m_actions->errorString()));
        m_snapshotId = taken.at(0).at(0).toLongLong();
        m_targetId = taken.at(0).at(1).toLongLong();
        QVERIFY(m_snapshotId > 0 && m_targetId > 0);
        QVERIFY(alive(m_bash));
        QCOMPARE(::kill(m_bash, SIGKILL), 0);
        int status = 0;
        QCOMPARE(::waitpid(m_bash, &status, 0), m_bash);
        m_bash = -1;
    }

    void testRestoreAsksWhereTheTerminalGoes()
    {
        QVERIFY(m_snapshotId > 0);
        QMetaObject::invokeMethod(m_window, "showTimeline", Q_ARG(QVariant, QVariant(m_targetId)), Q_ARG(QString, QStringLiteral("bash")));
        QTRY_VERIFY_WITH_TIMEOUT(page("timelinePage"), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        // The list loaded and its snapshot selected: a click before that
        // reaches a button with nothing to restore yet.
        auto *list = page("timelinePage")->findChild<QObject *>(QStringLiteral("timelineList"));
        QVERIFY(list);
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 1, kTimeout);
        QQuickItem *restore = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((restore = findItem(m_window->contentItem(), QStringLiteral("restoreButton"))) && restore->isEnabled(), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        // Where the click goes: the button, with nothing over it, in the
        // same place a frame later (a click reaches what is there now).
        const auto steady = [this, restore] {
            const QPointF before = sceneCenter(restore);
            return clickable(m_window, restore) && waitForFrame(m_window) && sceneCenter(restore) == before && clickable(m_window, restore);
        };
        QTRY_VERIFY2_WITH_TIMEOUT(steady(), qPrintable(itemsAt(m_window, sceneCenter(restore))), kTimeout);

        // Restore: the image has a terminal, so the window asks first and
        // nothing is restored yet.
        QSignalSpy restored(m_actions.data(), &SnapshotActions::restored);
        QSignalSpy choice(m_actions.data(), &SnapshotActions::terminalChoiceNeeded);
        QSignalSpy failed(m_actions.data(), &SnapshotActions::failed);
        QSignalSpy busy(m_actions.data(), &SnapshotActions::busyChanged);
        auto *replaceDialog = find("replaceRunningDialog");
        QVERIFY(replaceDialog);
        const QPointF at = sceneCenter(restore);
        const QString under = itemsAt(m_window, at);
        click(m_window, restore);
        const QString underAfter = itemsAt(m_window, at);
        movePointerAway(m_window);
        // The window's answer to the click: the choice, or something else
        // that says what went wrong (below the test function's 300 s).
        const bool answered = QTest::qWaitFor(
            [&] {
                return choice.count() > 0 || failed.count() > 0 || restored.count() > 0 || replaceDialog->property("opened").toBool();
            },
            3 * kTimeout);
        QVERIFY2(answered && choice.count() == 1,
                 qPrintable(QStringLiteral("no terminal choice after the click at %1,%2: busy changes %3, error \"%4\", replace dialog %5; under the "
                                           "point before the click: %6; after: %7")
                                .arg(at.x())
                                .arg(at.y())
                                .arg(busy.count())
                                .arg(m_actions->errorString())
                                .arg(replaceDialog->property("opened").toBool())
                                .arg(under, underAfter)));
        QCOMPARE(choice.at(0).at(2).toString(), m_slaveName);
        QCOMPARE(choice.at(0).at(3).toBool(), true); // we still hold its master: the original is there
        QCOMPARE(restored.count(), 0);
        auto *dialog = find("terminalChoiceDialog");
        QVERIFY(dialog);
        QTRY_VERIFY_WITH_TIMEOUT(dialog->property("opened").toBool(), kTimeout);
        QVERIFY(dialog->property("subtitle").toString().contains(m_slaveName));
        QVERIFY(find("restoreOnOriginalTerminalAction")->property("visible").toBool());
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("restore-terminal-choice.png")));

        // A new terminal, in the window.
        QSignalSpy opened(m_actions.data(), &SnapshotActions::terminalOpened);
        QMetaObject::invokeMethod(find("restoreOnNewTerminalAction"), "trigger");
        QVERIFY2(restored.wait(5 * kTimeout), qPrintable(m_actions->errorString()));
        QCOMPARE(opened.count(), 1);
        m_restoredPid = restored.at(0).at(1).toLongLong();
        QVERIFY(m_restoredPid > 0);
        QVERIFY(alive(m_restoredPid));
        auto *session = opened.at(0).at(0).value<TerminalSession *>();
        QVERIFY(session);
        QVERIFY(session->isRunning());
        QVERIFY(session->ttyName().startsWith(QLatin1String("/dev/pts/")));
        QVERIFY(session->ttyName() != m_slaveName);
        // bash is on the new pty.
        QCOMPARE(QFile::symLinkTarget(QStringLiteral("/proc/%1/fd/0").arg(m_restoredPid)), session->ttyName());
    }

    void testTerminalViewShowsAndTypes()
    {
        QVERIFY(m_restoredPid > 0);
        QTRY_VERIFY_WITH_TIMEOUT(page("terminalPage"), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        auto *terminalPage = page("terminalPage");
        QCOMPARE(terminalPage->property("title").toString(), QStringLiteral("Terminal of Process %1").arg(m_restoredPid));
        auto *view = findItem(m_window->contentItem(), QStringLiteral("terminalText"));
        QVERIFY(view);
        QTRY_VERIFY_WITH_TIMEOUT(view->hasActiveFocus(), kTimeout); // typing goes there at once
        auto *session = terminalPage->property("session").value<TerminalSession *>();
        QVERIFY(session);

        // The view's size is the terminal's (not the 33x101 of the image).
        QTRY_VERIFY_WITH_TIMEOUT(session->columns() != 101 || session->rows() != 33, kTimeout);
        const QString size = QStringLiteral("%1 %2").arg(session->rows()).arg(session->columns());

        // Keys typed into the window reach bash, which still has x from
        // before the snapshot; its answer is shown.
        QTest::keyClick(m_window, Qt::Key_Return); // a fresh prompt (the restored bash waits in its read)
        QTRY_VERIFY_WITH_TIMEOUT(lastLineIsPrompt(view), kTimeout);
        type(m_window, QStringLiteral("echo again=$((x+1)); stty size"));
        QTest::keyClick(m_window, Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(viewHasLine(view, QStringLiteral("again=42")), kTimeout);
        QTRY_VERIFY2_WITH_TIMEOUT(viewHasLine(view, size), qPrintable(view->property("text").toString()), kTimeout);
        QVERIFY(!view->property("text").toString().contains(QChar(0x1b)));

        // Ctrl+C from the keyboard interrupts a foreground job; backspace and
        // the arrows edit the line.
        // Typed before the prompt, the keys would be echoed by the line
        // discipline and then again by readline's redraw.
        QTRY_VERIFY_WITH_TIMEOUT(lastLineIsPrompt(view), kTimeout);
        type(m_window, QStringLiteral("sleep 100; echo not-interrupted"));
        QTest::keyClick(m_window, Qt::Key_Return);
        QTRY_VERIFY2_WITH_TIMEOUT(viewHasLine(view, QStringLiteral("$ sleep 100; echo not-interrupted")), qPrintable(view->property("text").toString()), kTimeout);
        QTest::qWait(500);
        QTest::keyClick(m_window, Qt::Key_C, Qt::ControlModifier);
        QTRY_VERIFY_WITH_TIMEOUT(lastLineIsPrompt(view), kTimeout);
        QVERIFY(!viewHasLine(view, QStringLiteral("not-interrupted")));
        type(m_window, QStringLiteral("echo ab"));
        QTest::keyClick(m_window, Qt::Key_Left);
        type(m_window, QStringLiteral("X"));
        QTest::keyClick(m_window, Qt::Key_End);
        type(m_window, QStringLiteral("cd"));
        QTest::keyClick(m_window, Qt::Key_Backspace);
        QTest::keyClick(m_window, Qt::Key_Return);
        QTRY_VERIFY2_WITH_TIMEOUT(viewHasLine(view, QStringLiteral("aXbc")), qPrintable(view->property("text").toString()), kTimeout);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("terminal.png")));

        // Ctrl+D: bash ends; the page says so and keeps what it printed.
        QTRY_VERIFY_WITH_TIMEOUT(lastLineIsPrompt(view), kTimeout);
        QTest::keyClick(m_window, Qt::Key_D, Qt::ControlModifier);
        QTRY_VERIFY_WITH_TIMEOUT(!session->isRunning(), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(messageShown(findItem(m_window->contentItem(), QStringLiteral("terminalEndedMessage"))), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(ended(m_restoredPid), kTimeout);
        QVERIFY(viewHasLine(view, QStringLiteral("again=42")));
        QVERIFY(waitForFrame(m_window));
        QVERIFY(saveScreenshot(m_window, QStringLiteral("terminal-ended.png")));

        // Close Terminal: the page goes, the session with it.
        QPointer<TerminalSession> gone(session);
        QMetaObject::invokeMethod(find("closeTerminalAction"), "trigger");
        QTRY_VERIFY_WITH_TIMEOUT(page("timelinePage") && layersIdle(m_window), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(gone.isNull(), kTimeout);
    }

    void testNoQmlWarnings()
    {
        QVERIFY2(qmlWarnings().isEmpty(), qPrintable(qmlWarnings().join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    return runGuiTest<TerminalFlowTest>(argc, argv);
}

#include "terminalflowtest.moc"
