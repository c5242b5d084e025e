// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cr_ttybash CRYOPODCTL BASH: an interactive bash on a pseudo-terminal,
// checkpointed at its prompt and restored onto a new pty that
// `cryopodctl restore --direct` relays to its stdin/stdout.
//   1. bash -i leads a session on a pty we made (33x101); we type
//      `x=41; echo val=$((x+1))` into the master and wait for val=42;
//   2. checkpoint --kill; restore, relayed through pipes: we type a line
//      that shows x survived, that fd 0 is a terminal of 33 rows and 101
//      columns, that bash leads its session with a controlling terminal
//      and is its foreground group, and that a foreground job runs; the
//      typed line must come back once (readline's echo; twice would mean
//      the terminal lost its raw mode and echoed it too);
//   3. checkpoint --leave-running of the restored bash, kill it (the first
//      relay then ends with 128+9), restore again, type another line and
//      `exit 7`: the relay must end with 7.
// Exit 0 when all of it held.
//
// cr_ttybash CRYOPODCTL BASH --helper: the same through cryopod-helper (no
// --direct; as an ordinary user on the bus of $DBUS_SYSTEM_BUS_ADDRESS): the
// master comes over D-Bus; the restored bash is the helper's child, so the
// relays end with 0 instead of its status.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace
{

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string &message)
{
    std::fprintf(stderr, "cr_ttybash: FAIL: %s\n", message.c_str());
    // Whatever we started goes with us (we are their subreaper).
    ::kill(0, SIGKILL);
    std::exit(1);
}

void say(const std::string &line)
{
    std::fprintf(stdout, "cr_ttybash: %s\n", line.c_str());
    std::fflush(stdout);
}

// Reads fd into `seen` until `want` appears in it (or dies after `seconds`).
void expect(int fd, std::string &seen, const std::string &want, double seconds, const char *what)
{
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (seen.find(want) == std::string::npos) {
        const int left = int(std::chrono::duration<double, std::milli>(until - Clock::now()).count());
        if (left <= 0) {
            die(std::string(what) + ": no '" + want + "' within the time; got: '" + seen + "'");
        }
        pollfd p {fd, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) {
            continue;
        }
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            die(std::string(what) + ": end of output before '" + want + "'; got: '" + seen + "'");
        }
        seen.append(buf, size_t(n));
    }
}

void writeAll(int fd, const std::string &text)
{
    if (::write(fd, text.data(), text.size()) != ssize_t(text.size())) {
        die("write: " + std::string(std::strerror(errno)));
    }
}

// Runs argv with stdin and stdout as given (-1: /dev/null); newSessionOn: in
// a new session with `in` (a terminal) as its controlling terminal and stderr.
pid_t run(const std::vector<std::string> &argv, int in, int out, bool newSessionOn = false)
{
    const pid_t pid = ::fork();
    if (pid != 0) {
        return pid;
    }
    if (newSessionOn) {
        ::setsid();
        ::ioctl(in, TIOCSCTTY, 0);
    }
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(in >= 0 ? in : null, 0);
    ::dup2(out >= 0 ? out : null, 1);
    ::dup2(out >= 0 && newSessionOn ? out : null, 2);
    ::close_range(3, ~0u, 0);
    std::vector<char *> args;
    for (const std::string &a : argv) {
        args.push_back(const_cast<char *>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
}

int waitFor(pid_t pid, double seconds, const char *what)
{
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return status;
        }
        if (Clock::now() > until) {
            die(std::string(what) + ": still running after the time");
        }
        ::usleep(5000);
    }
}

// Waits until bash sleeps in a read (at its prompt).
void waitIdle(pid_t pid)
{
    for (int i = 0; i < 400; ++i) {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = std::fopen(path, "r");
        char line[512] = {};
        if (f) {
            (void)!std::fgets(line, sizeof line, f);
            std::fclose(f);
        }
        const char *p = std::strrchr(line, ')');
        if (p && p[2] == 'S') {
            ::usleep(100000);
            return;
        }
        ::usleep(10000);
    }
    die("bash never went back to its prompt");
}

int runCryopodctl(const std::vector<std::string> &argv, const char *what)
{
    const pid_t pid = run(argv, -1, -1);
    const int status = waitFor(pid, 30, what);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        die(std::string(what) + " failed (status " + std::to_string(status) + ")");
    }
    return 0;
}

struct Relay {
    pid_t pid = -1;
    int in = -1; // what we type
    int out = -1; // what the terminal shows
    std::string seen;
};

bool g_helper = false; // through cryopod-helper, not --direct

std::vector<std::string> ctl(const std::string &cryopodctl, std::vector<std::string> args)
{
    args.insert(args.begin(), cryopodctl);
    if (g_helper) {
        args.erase(std::find(args.begin(), args.end(), std::string("--direct")));
    }
    return args;
}

Relay restoreRelayed(const std::string &cryopodctl, const std::string &image)
{
    int toRelay[2], fromRelay[2];
    if (::pipe2(toRelay, O_CLOEXEC) != 0 || ::pipe2(fromRelay, O_CLOEXEC) != 0) {
        die("pipe");
    }
    Relay r;
    r.pid = run(ctl(cryopodctl, {"restore", "--direct", "-i", image}), toRelay[0], fromRelay[1]);
    ::close(toRelay[0]);
    ::close(fromRelay[1]);
    r.in = toRelay[1];
    r.out = fromRelay[0];
    expect(r.out, r.seen, "restored pid ", 30, "restore");
    return r;
}

size_t count(const std::string &haystack, const std::string &needle)
{
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && std::string(argv[3]) == "--helper")) {
        std::fprintf(stderr, "usage: cr_ttybash CRYOPODCTL BASH [--helper]\n");
        return 2;
    }
    g_helper = argc == 4;
    const std::string cryopodctl = argv[1];
    const std::string bash = argv[2];
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_IGN);
    char dirTemplate[] = "/tmp/cr_ttybash.XXXXXX";
    if (!::mkdtemp(dirTemplate)) {
        die("mkdtemp");
    }
    const std::string dir = dirTemplate;

    const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char slaveName[64];
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0 || ::ptsname_r(master, slaveName, sizeof slaveName) != 0) {
        die("make a pty");
    }
    winsize ws {};
    ws.ws_row = 33;
    ws.ws_col = 101;
    ::ioctl(master, TIOCSWINSZ, &ws);
    const int slave = ::open(slaveName, O_RDWR | O_NOCTTY | O_CLOEXEC);
    ::setenv("PS1", "$ ", 1);
    ::setenv("TERM", "dumb", 1);
    ::setenv("HOME", dir.c_str(), 1);
    ::unsetenv("HISTFILE");
    ::unsetenv("PROMPT_COMMAND");
    if (::chdir(dir.c_str()) != 0) {
        die("chdir");
    }
    const pid_t shell = run({bash, "--norc", "--noprofile", "-i"}, slave, slave, true);
    ::close(slave);
    std::string seen;
    expect(master, seen, "$ ", 10, "bash's first prompt");
    writeAll(master, "x=41; echo val=$((x+1))\n");
    expect(master, seen, "val=42", 10, "bash before the checkpoint");
    waitIdle(shell);
    say("bash " + std::to_string(shell) + " on " + slaveName + " answered val=42");

    // 2. --kill, then restored onto a new pty relayed through pipes.
    const std::string image1 = dir + "/image.1";
    runCryopodctl(ctl(cryopodctl, {"checkpoint", "--direct", std::to_string(shell), "-o", image1, "--kill"}), "checkpoint --kill");
    const int killed = waitFor(shell, 5, "the original bash after --kill");
    if (!WIFSIGNALED(killed)) {
        die("the original bash was not killed by the checkpoint");
    }
    Relay first = restoreRelayed(cryopodctl, image1);
    writeAll(first.in,
             "read -r -a s < /proc/$$/stat; sleep 0.1; echo again=$((x+1)) size=$(stty size) tty=$([ -t 0 ] && echo yes) "
             "leader=$(( s[5] == $$ )) ctty=$(( s[6] != 0 )) fg=$(( s[7] == $$ )) job=$?\n");
    expect(first.out, first.seen, "again=42 size=33 101 tty=yes leader=1 ctty=1 fg=1 job=0", 10, "the restored bash");
    // The line's end (readline scrolls a long line sideways on a dumb terminal).
    if (count(first.seen, "job=$?") != 1) {
        die("the typed line came back " + std::to_string(count(first.seen, "job=$?")) + " times (the terminal's raw mode was lost?): '" + first.seen + "'");
    }
    if (first.seen.find("no job control") != std::string::npos) {
        die("the restored bash has no job control: '" + first.seen + "'");
    }
    say("restored bash answered through the relay: again=42, 33x101, its own session, controlling terminal, foreground");

    // 3. --leave-running of the restored bash; kill it; restore again.
    writeAll(first.in, "y=$((x+2)); echo ready-$((y*2))\n");
    expect(first.out, first.seen, "ready-86", 10, "the restored bash");
    waitIdle(shell);
    const std::string image2 = dir + "/image.2";
    runCryopodctl(ctl(cryopodctl, {"checkpoint", "--direct", std::to_string(shell), "-o", image2, "--leave-running"}), "checkpoint --leave-running");
    writeAll(first.in, "echo still-$((y+1))\n");
    expect(first.out, first.seen, "still-44", 10, "the bash left running");
    ::kill(shell, SIGKILL);
    const int firstEnd = waitFor(first.pid, 10, "the first relay after its bash was killed");
    if (!WIFEXITED(firstEnd) || WEXITSTATUS(firstEnd) != (g_helper ? 0 : 128 + SIGKILL)) {
        die("the first relay ended with status " + std::to_string(firstEnd) + (g_helper ? ", not exit 0" : ", not exit 137"));
    }
    Relay second = restoreRelayed(cryopodctl, image2);
    writeAll(second.in, "echo third=$((y+1))\n");
    expect(second.out, second.seen, "third=44", 10, "the bash restored again");
    writeAll(second.in, "exit 7\n");
    const int secondEnd = waitFor(second.pid, 10, "the second relay after exit 7");
    if (!WIFEXITED(secondEnd) || WEXITSTATUS(secondEnd) != (g_helper ? 0 : 7)) {
        die("the second relay ended with status " + std::to_string(secondEnd) + (g_helper ? ", not exit 0" : ", not exit 7"));
    }
    say("the second restore answered third=44 and the relay ended with bash's exit 7");
    ::close(master);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    say("ok");
    return 0;
}
