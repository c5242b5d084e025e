// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cr_cycles: drives one workload through N checkpoint/restore cycles with
// cryopodctl and checks, after every step, that the process is where it must
// be. See README.md beside this file for the workload contract and the steps.
//
//   cr_cycles --cryopodctl PATH --cycles N --mode leave-running|kill|mixed
//             [--keep DIR] [--frozen] [--plain] [--min-runtime S]
//             [--timeout S] [--expect-fail] [--leak-check]
//             [--checkpoint-option OPT]... [--tcp-peer [--tcp-peer-sabotage]]
//             [--same-tcp-buffers] -- WORKLOAD ARGS...
//
// Plain C++ (no Qt), no exceptions: every step returns false with a message.

#include "tcppeer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <format>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace
{

using Clock = std::chrono::steady_clock;

enum class Mode { LeaveRunning, Kill, Mixed };

struct Options {
    std::string cryopodctl;
    int cycles = 10;
    Mode mode = Mode::Mixed;
    std::string keepDir;
    bool frozen = false;
    bool plain = false;
    double minRuntime = 0;
    double timeout = 50;
    bool expectFail = false;
    bool tree = false; // the workload is a process tree: check and clean up all of it
    bool treeChanges = false; // ... whose shape changes as it runs (a shell): not compared after a restore
    // --pty new|original: the workload runs on a pty we hold the master of,
    // leading its session with it as the controlling terminal; restores put
    // it on a new pty whose master cryopodctl sends us, or on the original.
    std::string pty;
    // After every restore: the same fds (numbers and kinds) in every process
    // of the tree as at ready, the same number of zombies in it, our own fd
    // table unchanged, and its mappings and resident memory not growing from
    // restore to restore (the stress tests).
    bool leakCheck = false;
    // How long the workload may take to verify itself after go (a long run
    // gives a workload that recomputes its work from the seed more to do).
    double finalTimeout = 10;
    // More options for every `cryopodctl checkpoint` (--tcp-established).
    std::vector<std::string> checkpointOptions;
    // The harness holds the other end of the workload's TCP connection
    // (tcppeer.h; wl_tcp with WL_TCP_PEER): a peer outside the tree, silent
    // during every checkpoint and restore, talking both ways after each.
    bool tcpPeer = false;
    // ... and it sends into the gap of the first cycle: the reset must be
    // reported (by the restore or by the workload), never silent.
    bool tcpPeerSabotage = false;
    // After every restore the TCP sockets of the tree have the buffer sizes
    // they had after the first one.
    bool sameTcpBuffers = false;
    std::vector<std::string> workload;
};

// Step timeouts, in seconds; each is also capped by the overall deadline.
constexpr double ReadyTimeout = 15;
constexpr double CryopodctlTimeout = 20;
constexpr double ReapTimeout = 5;
constexpr double ProgressTimeout = 3;

void say(const std::string &line)
{
    std::fprintf(stdout, "cr_cycles: %s\n", line.c_str());
    std::fflush(stdout);
}

std::string readFile(const std::string &path, size_t limit = 64 * 1024)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {};
    }
    std::string data(limit, '\0');
    in.read(data.data(), static_cast<std::streamsize>(limit));
    data.resize(static_cast<size_t>(in.gcount()));
    return data;
}

bool fileExists(const std::string &path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) {
        s.pop_back();
    }
    return s;
}

std::string describeStatus(int status)
{
    if (WIFEXITED(status)) {
        return std::format("exited with status {}", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return std::format("killed by signal {} ({}){}", WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
                           WCOREDUMP(status) ? ", core dumped" : "");
    }
    return std::format("wait status {:#x}", status);
}

// What /proc says about a process.
struct ProcInfo {
    bool exists = false;
    char state = '?';
    pid_t ppid = 0;
    pid_t tracer = 0;
    std::string comm;
    uint64_t runNs = 0; // schedstat: time on cpu
    uint64_t slices = 0; // schedstat: times scheduled in
    uint64_t switches = 0; // voluntary + nonvoluntary context switches
};

ProcInfo procInfo(pid_t pid)
{
    ProcInfo info;
    const std::string stat = readFile(std::format("/proc/{}/stat", pid));
    if (stat.empty()) {
        return info;
    }
    info.exists = true;
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open != std::string::npos && close != std::string::npos && close + 2 < stat.size()) {
        info.comm = stat.substr(open + 1, close - open - 1);
        info.state = stat[close + 2];
    }
    std::istringstream status(readFile(std::format("/proc/{}/status", pid)));
    std::string line;
    while (std::getline(status, line)) {
        auto value = [&line](const char *key) -> std::optional<uint64_t> {
            const size_t n = std::strlen(key);
            if (line.compare(0, n, key) != 0) {
                return std::nullopt;
            }
            return std::strtoull(line.c_str() + n, nullptr, 10);
        };
        if (auto v = value("PPid:")) {
            info.ppid = static_cast<pid_t>(*v);
        } else if (auto v = value("TracerPid:")) {
            info.tracer = static_cast<pid_t>(*v);
        } else if (auto v = value("voluntary_ctxt_switches:")) {
            info.switches += *v;
        } else if (auto v = value("nonvoluntary_ctxt_switches:")) {
            info.switches += *v;
        }
    }
    std::istringstream sched(readFile(std::format("/proc/{}/schedstat", pid)));
    uint64_t wait = 0;
    sched >> info.runNs >> wait >> info.slices;
    return info;
}

std::string stateName(char state)
{
    switch (state) {
    case 'R':
        return "R (running)";
    case 'S':
        return "S (sleeping)";
    case 'D':
        return "D (disk sleep)";
    case 'T':
        return "T (stopped)";
    case 't':
        return "t (tracing stop)";
    case 'Z':
        return "Z (zombie)";
    case 'X':
        return "X (dead)";
    default:
        return std::string(1, state);
    }
}

std::vector<pid_t> ownChildren()
{
    std::set<pid_t> children;
    const std::string dir = std::format("/proc/{}/task", getpid());
    for (const auto &task : std::filesystem::directory_iterator(dir, std::filesystem::directory_options::skip_permission_denied)) {
        std::istringstream in(readFile(task.path().string() + "/children"));
        pid_t pid;
        while (in >> pid) {
            children.insert(pid);
        }
    }
    return {children.begin(), children.end()};
}

// A process of a workload's tree as /proc shows it.
struct TreeEntry {
    pid_t ppid = 0;
    pid_t pgid = 0;
    pid_t sid = 0;
    char state = '?';
    friend bool operator==(const TreeEntry &a, const TreeEntry &b)
    {
        return a.ppid == b.ppid && a.pgid == b.pgid && a.sid == b.sid;
    }
};

// Every descendant of root (not root itself), through /proc/PID/task/*/children.
std::map<pid_t, TreeEntry> descendants(pid_t root)
{
    std::map<pid_t, TreeEntry> out;
    std::vector<pid_t> queue{root};
    for (size_t i = 0; i < queue.size(); ++i) {
        const std::string dir = std::format("/proc/{}/task", queue[i]);
        std::error_code ec;
        for (const auto &task : std::filesystem::directory_iterator(dir, ec)) {
            std::istringstream in(readFile(task.path().string() + "/children"));
            pid_t child;
            while (in >> child) {
                if (out.contains(child)) {
                    continue;
                }
                const std::string stat = readFile(std::format("/proc/{}/stat", child));
                const auto close = stat.rfind(')');
                TreeEntry e;
                if (close != std::string::npos) {
                    std::istringstream fields(stat.substr(close + 2));
                    fields >> e.state >> e.ppid >> e.pgid >> e.sid;
                }
                out[child] = e;
                queue.push_back(child);
            }
        }
    }
    return out;
}

// What --leak-check compares: a process's fds as "number=kind" ("pipe",
// "socket", "anon_inode:[eventfd]", or the path), without the inode numbers
// a restore changes; its mapping count and resident KiB.
struct Footprint {
    std::map<pid_t, std::string> fds;
    size_t zombies = 0;
    size_t vmas = 0;
    uint64_t rssKiB = 0;
};

std::string fdKinds(pid_t pid)
{
    std::vector<std::pair<int, std::string>> list;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(std::format("/proc/{}/fd", pid), ec)) {
        std::error_code lec;
        std::string target = std::filesystem::read_symlink(e.path(), lec).string();
        if (target.starts_with("pipe:") || target.starts_with("socket:")) {
            target = target.substr(0, target.find(':'));
        }
        list.emplace_back(std::atoi(e.path().filename().c_str()), target);
    }
    std::sort(list.begin(), list.end());
    std::string out;
    for (const auto &[fd, target] : list) {
        out += std::format(" {}={}", fd, target);
    }
    return out;
}

size_t countFds(pid_t pid)
{
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(std::format("/proc/{}/fd", pid), ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        ++n;
    }
    return n;
}

std::string describeTree(const std::map<pid_t, TreeEntry> &tree)
{
    std::string out;
    for (const auto &[pid, e] : tree) {
        out += std::format(" {}(ppid {}, pgid {}, sid {}, {})", pid, e.ppid, e.pgid, e.sid, e.state);
    }
    return out.empty() ? " (none)" : out;
}

// A child process with an optional deadline.
struct Child {
    pid_t pid = -1;
    int pidfd = -1;
};

// ptySlave: the child leads a new session on that terminal (its controlling
// terminal, fds 0-2). passFd: given to the child as fd 3.
Child spawn(const std::vector<std::string> &argv, const std::string &cwd, const std::string &outPath, const std::string &errPath, std::string *error,
            const std::string &ptySlave = {}, int passFd = -1)
{
    int execPipe[2];
    if (pipe2(execPipe, O_CLOEXEC) != 0) {
        *error = std::format("pipe2: {}", std::strerror(errno));
        return {};
    }
    std::vector<char *> cargv;
    for (const auto &a : argv) {
        cargv.push_back(const_cast<char *>(a.c_str()));
    }
    cargv.push_back(nullptr);

    const pid_t pid = fork();
    if (pid < 0) {
        *error = std::format("fork: {}", std::strerror(errno));
        close(execPipe[0]);
        close(execPipe[1]);
        return {};
    }
    if (pid == 0) {
        // Clean slate: default signal dispositions, nothing blocked, fds 0-2
        // only (the rest close on exec), stdio to /dev/null or the files asked.
        for (int sig = 1; sig < NSIG; ++sig) {
            if (sig != SIGKILL && sig != SIGSTOP) {
                signal(sig, SIG_DFL);
            }
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        auto redirect = [](const std::string &path, int target, int flags) {
            const int fd = open(path.empty() ? "/dev/null" : path.c_str(), flags, 0644);
            if (fd < 0) {
                return false;
            }
            if (fd != target) {
                dup2(fd, target);
                close(fd);
            }
            return true;
        };
        bool ok = true;
        if (!ptySlave.empty()) {
            ok = setsid() > 0 && redirect(ptySlave, 0, O_RDWR) && ioctl(0, TIOCSCTTY, 0) == 0 && dup2(0, 1) == 1 && dup2(0, 2) == 2;
        } else {
            ok = redirect({}, 0, O_RDONLY) && redirect(outPath, 1, O_WRONLY | O_CREAT | O_TRUNC) && redirect(errPath, 2, O_WRONLY | O_CREAT | O_TRUNC);
        }
        if (ok && !cwd.empty() && chdir(cwd.c_str()) != 0) {
            ok = false;
        }
        if (ok) {
            syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
            if (passFd >= 0 && (passFd == 3 ? fcntl(3, F_SETFD, 0) : dup2(passFd, 3)) < 0) {
                _exit(127);
            }
            execvp(cargv[0], cargv.data());
        }
        const int err = errno;
        (void)!write(execPipe[1], &err, sizeof err);
        _exit(127);
    }
    close(execPipe[1]);
    int err = 0;
    ssize_t n;
    do {
        n = read(execPipe[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    close(execPipe[0]);
    if (n > 0) {
        *error = std::format("exec {}: {}", argv[0], std::strerror(err));
        waitpid(pid, nullptr, 0);
        return {};
    }
    Child child;
    child.pid = pid;
    child.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    return child;
}

// Waits for PID (a child of ours) to end; returns its wait status, or
// nullopt on timeout.
std::optional<int> waitChild(pid_t pid, double seconds)
{
    const auto deadline = Clock::now() + std::chrono::duration<double>(std::max(seconds, 0.0));
    while (true) {
        int status = 0;
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return std::nullopt;
        }
        if (Clock::now() >= deadline) {
            return std::nullopt;
        }
        usleep(2000);
    }
}

class Harness
{
public:
    explicit Harness(Options options)
        : m_opt(std::move(options))
    {
    }

    int run();

private:
    bool setUp();
    bool startWorkload();
    bool cycle(int index, bool leaveRunning);
    void removeSysvObjects();
    bool finish();
    bool runCryopodctl(const std::vector<std::string> &args, const std::string &tag, std::string *out, int passFd = -1);
    bool receiveMaster();
    bool checkRunning(const char *what, bool expectProgress);
    bool waitProgress(const char *what);
    bool checkNoStrayChildren();
    bool waitTreeGone(const std::map<pid_t, TreeEntry> &tree);
    bool checkTree();
    Footprint footprint();
    bool checkLeaks(int index);
    bool checkTcpBuffers(int index);
    void cleanUp();
    void printDiagnostics();
    double remaining() const;
    double cap(double seconds) const
    {
        return std::min(seconds, remaining());
    }
    bool fail(std::string message)
    {
        m_error = std::move(message);
        return false;
    }

    Options m_opt;
    std::string m_name;
    std::string m_stateDir;
    pid_t m_pid = -1;
    pid_t m_cmdPid = -1; // a running cryopodctl
    std::string m_step = "setup";
    std::string m_error;
    std::string m_lastErrPath; // stderr of the last cryopodctl
    std::string m_lastCommand;
    Clock::time_point m_start;
    Clock::time_point m_deadline;
    Clock::time_point m_workloadStart;
    struct stat m_ready {}; // STATEDIR/ready as the original wrote it
    std::map<pid_t, TreeEntry> m_tree; // --tree: the descendants at ready
    Footprint m_readyFootprint; // --leak-check: at ready
    std::optional<Footprint> m_firstRestore; // ... after the first restore
    size_t m_ownFds = 0; // ... our own fds at ready
    int m_master = -1; // --pty: the master of the pty the workload runs on
    int m_ptySocket[2] = {-1, -1}; // --pty new: cryopodctl sends the new master over [1]
    std::unique_ptr<TcpPeer> m_peer; // --tcp-peer
    bool m_sabotageReported = false; // --tcp-peer-sabotage: the reset was reported by the restore
    std::map<std::pair<pid_t, int>, TcpBuffers> m_firstBuffers; // --same-tcp-buffers: after the first restore
};

bool Harness::waitTreeGone(const std::map<pid_t, TreeEntry> &tree)
{
    // Orphans of the dead tree come to us (subreaper): reap them until none
    // of its pids is left and we have no child left (the original root is
    // reaped already, nothing else of ours runs now).
    const auto until = Clock::now() + std::chrono::duration<double>(cap(ReapTimeout));
    for (;;) {
        while (waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        std::string left;
        for (const pid_t child : ownChildren()) {
            // A child the original forked after we listed its tree.
            kill(child, SIGKILL);
            left += std::format(" {} ({}, our child)", child, stateName(procInfo(child).state));
        }
        for (const auto &[pid, e] : tree) {
            if (fileExists(std::format("/proc/{}", pid))) {
                left += std::format(" {} ({})", pid, stateName(procInfo(pid).state));
            }
        }
        if (left.empty()) {
            return true;
        }
        if (Clock::now() >= until) {
            return fail(std::format("processes of the original tree still exist:{}", left));
        }
        usleep(5000);
    }
}

bool Harness::checkTree()
{
    const auto now = descendants(m_pid);
    if (now != m_tree) {
        return fail(std::format("the restored tree differs: was{}, is{}", describeTree(m_tree), describeTree(now)));
    }
    return true;
}

Footprint Harness::footprint()
{
    Footprint f;
    std::vector<pid_t> pids {m_pid};
    for (const auto &[pid, e] : descendants(m_pid)) {
        if (e.state == 'Z') {
            ++f.zombies;
        } else {
            pids.push_back(pid);
        }
    }
    for (const pid_t pid : pids) {
        f.fds[pid] = fdKinds(pid);
        const std::string maps = readFile(std::format("/proc/{}/maps", pid), 16 << 20);
        f.vmas += size_t(std::count(maps.begin(), maps.end(), '\n'));
        std::istringstream status(readFile(std::format("/proc/{}/status", pid)));
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with("VmRSS:")) {
                f.rssKiB += std::strtoull(line.c_str() + 6, nullptr, 10);
            }
        }
    }
    return f;
}

bool Harness::checkLeaks(int index)
{
    const Footprint now = footprint();
    for (const auto &[pid, fds] : m_readyFootprint.fds) {
        const auto it = now.fds.find(pid);
        if (it == now.fds.end()) {
            return fail(std::format("leak check: pid {} of the tree is gone or a zombie", pid));
        }
        if (it->second != fds) {
            return fail(std::format("leak check: the fds of pid {} differ from ready: were{}, are{}", pid, fds, it->second));
        }
    }
    if (now.fds.size() != m_readyFootprint.fds.size() || now.zombies != m_readyFootprint.zombies) {
        return fail(std::format("leak check: the tree has {} processes and {} zombies, at ready {} and {}", now.fds.size(), now.zombies,
                                m_readyFootprint.fds.size(), m_readyFootprint.zombies));
    }
    if (const size_t own = countFds(getpid()); own != m_ownFds) {
        return fail(std::format("leak check: cr_cycles has {} fds, {} at ready:{}", own, m_ownFds, fdKinds(getpid())));
    }
    if (!m_firstRestore) {
        m_firstRestore = now;
    } else if (now.vmas > m_firstRestore->vmas + 8 || now.rssKiB > m_firstRestore->rssKiB + m_firstRestore->rssKiB / 4 + 16384) {
        return fail(std::format("leak check: after restore {} the tree has {} mappings and {} KiB resident, after the first {} and {} KiB", index, now.vmas,
                                now.rssKiB, m_firstRestore->vmas, m_firstRestore->rssKiB));
    }
    if (index == m_opt.cycles) {
        say(std::format("{}: leak check after {} restores: {} processes with the fds of ready, {} zombies as at ready, {} mappings and {} KiB resident (first "
                        "restore: {} and {} KiB), cr_cycles {} fds as at ready",
                        m_name, index, now.fds.size(), now.zombies, now.vmas, now.rssKiB, m_firstRestore->vmas, m_firstRestore->rssKiB, m_ownFds));
    }
    return true;
}

double Harness::remaining() const
{
    return std::chrono::duration<double>(m_deadline - Clock::now()).count();
}

bool Harness::setUp()
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        return fail(std::format("PR_SET_CHILD_SUBREAPER: {}", std::strerror(errno)));
    }
    std::string base = m_opt.keepDir.empty() ? std::string("/tmp") : m_opt.keepDir;
    std::error_code ec;
    std::filesystem::create_directories(base, ec);
    std::string tmpl = std::format("{}/cr_cycles.{}.XXXXXX", base, m_name);
    if (!mkdtemp(tmpl.data())) {
        return fail(std::format("mkdtemp {}: {}", tmpl, std::strerror(errno)));
    }
    m_stateDir = tmpl;
    chmod(m_stateDir.c_str(), 0755);
    return true;
}

bool Harness::startWorkload()
{
    m_step = "start workload";
    std::vector<std::string> argv = m_opt.workload;
    if (!m_opt.plain) {
        argv.push_back(m_stateDir);
    }
    std::string error;
    std::string slave;
    if (!m_opt.pty.empty()) {
        m_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        char name[64];
        if (m_master < 0 || grantpt(m_master) != 0 || unlockpt(m_master) != 0 || ptsname_r(m_master, name, sizeof name) != 0) {
            return fail(std::format("make a pty: {}", std::strerror(errno)));
        }
        slave = name;
    }
    if (m_opt.tcpPeer) {
        // The workload connects to us before ready; its streams come from WL_SEED.
        if (!getenv("WL_SEED")) {
            setenv("WL_SEED", "0x7c9d2e41", 1);
        }
        m_peer = std::make_unique<TcpPeer>();
        if (!m_peer->listen(std::strtoull(getenv("WL_SEED"), nullptr, 0), &error)) {
            return fail(error);
        }
        setenv("WL_TCP_PEER", std::to_string(m_peer->port()).c_str(), 1);
    }
    // Before the spawn: it returns once the program runs, and a plain
    // workload's own clock (sleep 1) starts at its exec.
    const Clock::time_point spawned = Clock::now();
    Child child = spawn(argv, m_stateDir, {}, {}, &error, slave);
    if (child.pid < 0) {
        return fail(error);
    }
    if (child.pidfd >= 0) {
        close(child.pidfd);
    }
    m_pid = child.pid;
    m_workloadStart = spawned;

    if (m_opt.plain) {
        // No contract: ready once it sleeps (or after a short while).
        m_step = "wait until the plain workload sleeps";
        const auto until = Clock::now() + std::chrono::milliseconds(500);
        while (Clock::now() < until && procInfo(m_pid).state != 'S') {
            usleep(5000);
        }
    } else {
        m_step = "wait for ready";
        const std::string ready = m_stateDir + "/ready";
        const auto until = Clock::now() + std::chrono::duration<double>(cap(ReadyTimeout));
        while (!fileExists(ready)) {
            int status;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                return fail(std::format("workload {} before writing ready", describeStatus(status)));
            }
            if (Clock::now() >= until) {
                return fail(std::format("no {} within {:.0f} s", ready, cap(ReadyTimeout)));
            }
            usleep(5000);
        }
        const std::string text = trimmed(readFile(ready));
        if (text != std::to_string(m_pid)) {
            return fail(std::format("ready says pid '{}', the workload is pid {}", text, m_pid));
        }
        ::stat(ready.c_str(), &m_ready);
    }
    std::string fds;
    std::vector<std::pair<int, std::string>> list;
    const std::string fdDir = std::format("/proc/{}/fd", m_pid);
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(fdDir, ec)) {
        std::error_code lec;
        list.emplace_back(std::atoi(e.path().filename().c_str()), std::filesystem::read_symlink(e.path(), lec).string());
    }
    std::sort(list.begin(), list.end());
    for (const auto &[fd, target] : list) {
        fds += std::format(" {}={}", fd, target);
    }
    say(std::format("{}: pid {} ready, state dir {}, fds:{}", m_name, m_pid, m_stateDir, fds));
    if (m_opt.tree) {
        m_tree = descendants(m_pid);
        say(std::format("{}: tree of {}:{}", m_name, m_pid, describeTree(m_tree)));
    }
    if (m_opt.tcpPeer) {
        m_step = "tcp peer: accept, talk, fall silent";
        std::string what;
        if (!m_peer->accept(cap(5), &error) || !m_peer->exchange(cap(10), &what, &error)) {
            return fail(error);
        }
        say(std::format("{}: {}", m_name, what));
    }
    if (m_opt.leakCheck) {
        m_readyFootprint = footprint();
        m_ownFds = countFds(getpid());
    }
    return true;
}

bool Harness::receiveMaster()
{
    char text[256] = {};
    iovec iov{text, sizeof text - 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(m_ptySocket[0], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) {
        return fail(std::format("cryopodctl sent no pty master: {}", std::strerror(errno)));
    }
    int master = -1;
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
            std::memcpy(&master, CMSG_DATA(c), sizeof master);
        }
    }
    char name[64];
    if (master < 0 || ptsname_r(master, name, sizeof name) != 0) {
        if (master >= 0) {
            close(master);
        }
        return fail(std::format("cryopodctl sent no pty master (message '{}')", trimmed(text)));
    }
    if (trimmed(text) != name) {
        close(master);
        return fail(std::format("cryopodctl says the new terminal is '{}', its master's is {}", trimmed(text), name));
    }
    // The previous pty is no one's any more.
    close(m_master);
    m_master = master;
    say(std::format("{}: restored onto the new pty {}", m_name, name));
    return true;
}

bool Harness::runCryopodctl(const std::vector<std::string> &args, const std::string &tag, std::string *out, int passFd)
{
    std::vector<std::string> argv{m_opt.cryopodctl};
    argv.insert(argv.end(), args.begin(), args.end());
    m_lastCommand.clear();
    for (const auto &a : argv) {
        m_lastCommand += (m_lastCommand.empty() ? "" : " ") + a;
    }
    const std::string outPath = std::format("{}/cryopodctl.{}.out", m_stateDir, tag);
    m_lastErrPath = std::format("{}/cryopodctl.{}.err", m_stateDir, tag);
    std::string error;
    Child child = spawn(argv, {}, outPath, m_lastErrPath, &error, {}, passFd);
    if (child.pid < 0) {
        return fail(error);
    }
    if (child.pidfd >= 0) {
        close(child.pidfd);
    }
    m_cmdPid = child.pid;
    const double limit = cap(CryopodctlTimeout);
    const auto status = waitChild(child.pid, limit);
    if (!status) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, nullptr, 0);
        m_cmdPid = -1;
        return fail(std::format("'{}' did not finish within {:.1f} s (killed)", m_lastCommand, limit));
    }
    m_cmdPid = -1;
    *out = readFile(outPath);
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        return fail(std::format("'{}' {}", m_lastCommand, describeStatus(*status)));
    }
    return true;
}

bool Harness::waitProgress(const char *what)
{
    // Progress: the process got cpu time or was scheduled since the first
    // look. Sleepers wake every 200 ms at most, spinners always run. A tree
    // progresses when any of its processes does (a shell just waits), or
    // when a process starts in it. Each process is compared with itself: a
    // sum over the tree falls when a process that ran much exits, and then
    // stayed below the first look for seconds while a make tree went on.
    auto look = [this] {
        std::map<pid_t, ProcInfo> infos;
        infos[m_pid] = procInfo(m_pid);
        if (m_opt.tree && infos[m_pid].exists) {
            for (const auto &[pid, e] : descendants(m_pid)) {
                infos[pid] = procInfo(pid);
            }
        }
        return infos;
    };
    auto progressed = [](const std::map<pid_t, ProcInfo> &first, const std::map<pid_t, ProcInfo> &now) {
        for (const auto &[pid, info] : now) {
            const auto before = first.find(pid);
            if (!info.exists) {
                continue;
            }
            if (before == first.end() || !before->second.exists) {
                return true;
            }
            if (info.runNs > before->second.runNs || info.slices > before->second.slices || info.switches > before->second.switches) {
                return true;
            }
        }
        return false;
    };
    const std::map<pid_t, ProcInfo> first = look();
    const double limit = cap(ProgressTimeout);
    const auto until = Clock::now() + std::chrono::duration<double>(limit);
    while (Clock::now() < until) {
        usleep(10000);
        const std::map<pid_t, ProcInfo> now = look();
        if (!now.at(m_pid).exists) {
            return fail(std::format("{} pid {} vanished", what, m_pid));
        }
        if (progressed(first, now)) {
            return true;
        }
    }
    // Each process as it is now, with where it sleeps in the kernel, so that
    // a restore that left one asleep for good can be told from a slow tree.
    std::string processes;
    for (const auto &[pid, info] : look()) {
        if (info.exists) {
            std::string wchan = readFile(std::format("/proc/{}/wchan", pid));
            processes += std::format("; {} ({}) {}{}, cpu {} ns, scheduled {} times, {} switches", pid, info.comm, stateName(info.state),
                                     wchan.empty() || wchan == "0" ? std::string() : " in " + wchan, info.runNs, info.slices, info.switches);
        }
    }
    return fail(std::format("{} pid {} made no progress in {:.1f} s, nor did any process of its tree, and none started{}", what, m_pid, limit, processes));
}

bool Harness::checkRunning(const char *what, bool expectProgress)
{
    const ProcInfo info = procInfo(m_pid);
    if (!info.exists) {
        return fail(std::format("{} pid {} does not exist", what, m_pid));
    }
    if (info.state == 'T' || info.state == 't' || info.state == 'Z' || info.state == 'X') {
        return fail(std::format("{} pid {} is in state {}", what, m_pid, stateName(info.state)));
    }
    if (info.tracer != 0) {
        return fail(std::format("{} pid {} is still traced by pid {}", what, m_pid, info.tracer));
    }
    if (expectProgress && !m_opt.plain) {
        return waitProgress(what);
    }
    return true;
}

bool Harness::checkNoStrayChildren()
{
    // Reap zombies cryopodctl left to us; anything else alive besides the
    // workload is a leftover of the engine.
    const auto until = Clock::now() + std::chrono::milliseconds(1000);
    std::vector<pid_t> stray;
    do {
        stray.clear();
        for (pid_t child : ownChildren()) {
            if (child == m_pid) {
                continue;
            }
            if (waitpid(child, nullptr, WNOHANG) == child) {
                continue;
            }
            stray.push_back(child);
        }
        if (stray.empty()) {
            return true;
        }
        usleep(10000);
    } while (Clock::now() < until);
    std::string list;
    for (pid_t p : stray) {
        const ProcInfo info = procInfo(p);
        list += std::format(" {} ({}, state {})", p, info.comm, stateName(info.state));
    }
    return fail(std::format("cryopodctl left processes behind:{}", list));
}

bool Harness::cycle(int index, bool leaveRunning)
{
    const std::string modeName = leaveRunning ? "leave-running" : "kill";
    m_step = std::format("cycle {}/{} ({}): pre-checkpoint check", index, m_opt.cycles, modeName);
    {
        int status;
        if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
            return fail(std::format("the workload {} before the checkpoint", describeStatus(status)));
        }
    }
    if (!checkRunning("workload", false)) {
        return false;
    }

    m_step = std::format("cycle {}/{} ({}): checkpoint", index, m_opt.cycles, modeName);
    const std::string image = std::format("{}/image.{}", m_stateDir, index);
    std::string out;
    auto t0 = Clock::now();
    std::vector<std::string> checkpointArgs{"checkpoint", "--direct", std::to_string(m_pid), "-o", image, leaveRunning ? "--leave-running" : "--kill"};
    checkpointArgs.insert(checkpointArgs.end(), m_opt.checkpointOptions.begin(), m_opt.checkpointOptions.end());
    if (!runCryopodctl(checkpointArgs, std::format("{}.checkpoint", index), &out)) {
        return false;
    }
    const double checkpointSec = std::chrono::duration<double>(Clock::now() - t0).count();
    struct stat st;
    if (::stat(image.c_str(), &st) != 0 || st.st_size == 0) {
        return fail(std::format("cryopodctl exited 0 but {} is {}", image, ::stat(image.c_str(), &st) != 0 ? "missing" : "empty"));
    }

    if (leaveRunning) {
        m_step = std::format("cycle {}/{} ({}): original after checkpoint", index, m_opt.cycles, modeName);
        if (!checkRunning("original after --leave-running", true)) {
            return false;
        }
        m_step = std::format("cycle {}/{} ({}): kill the original", index, m_opt.cycles, modeName);
        if (m_opt.tree) {
            // Everything stopped first, the root first: a root that saw a
            // child die before its own SIGKILL landed would go on (a shell
            // writing its result and exiting 1), and a process that forks
            // meanwhile would leave an orphan.
            kill(m_pid, SIGSTOP);
            std::set<pid_t> stopped;
            for (bool more = true; more;) {
                more = false;
                for (const auto &[pid, e] : descendants(m_pid)) {
                    if (stopped.insert(pid).second) {
                        kill(pid, SIGSTOP);
                        more = true;
                    }
                }
            }
            kill(m_pid, SIGKILL);
            for (const pid_t pid : stopped) {
                kill(pid, SIGKILL);
            }
        }
        if (m_opt.tcpPeer) {
            // A plain kill would close its end with a reset or FIN to us:
            // stopped the way checkpoint --kill stops a tree, repair mode first.
            std::string error;
            if (!quietTcpConnections(m_pid, &error)) {
                return fail(error);
            }
        }
        kill(m_pid, SIGKILL);
        const auto status = waitChild(m_pid, cap(ReapTimeout));
        if (!status) {
            return fail(std::format("original pid {} not reaped within {:.0f} s after SIGKILL (state {})", m_pid, ReapTimeout, stateName(procInfo(m_pid).state)));
        }
        if (!WIFSIGNALED(*status) || WTERMSIG(*status) != SIGKILL) {
            return fail(std::format("original {} instead of dying from SIGKILL", describeStatus(*status)));
        }
    } else {
        m_step = std::format("cycle {}/{} ({}): reap the original", index, m_opt.cycles, modeName);
        const auto status = waitChild(m_pid, cap(ReapTimeout));
        if (!status) {
            return fail(std::format("cryopodctl --kill returned but pid {} is still alive (state {})", m_pid, stateName(procInfo(m_pid).state)));
        }
        if (!WIFSIGNALED(*status)) {
            return fail(std::format("after --kill the original {} (expected death by a signal)", describeStatus(*status)));
        }
    }
    if (m_opt.tree) {
        m_step = std::format("cycle {}/{} ({}): the original tree gone", index, m_opt.cycles, modeName);
        if (!waitTreeGone(m_tree)) {
            return false;
        }
    }
    if (leaveRunning) {
        // What the original holds by id goes with it too, as the user would
        // remove it (a --kill checkpoint removes it itself).
        removeSysvObjects();
    }
    m_step = std::format("cycle {}/{} ({}): pid free", index, m_opt.cycles, modeName);
    if (kill(m_pid, 0) == 0 || errno != ESRCH || fileExists(std::format("/proc/{}", m_pid))) {
        return fail(std::format("pid {} is still in use after the original was reaped", m_pid));
    }

    if (m_opt.tcpPeerSabotage && index == 1) {
        m_step = std::format("cycle {}/{} ({}): tcp peer sends into the gap", index, m_opt.cycles, modeName);
        std::string error;
        if (!m_peer->sendIntoGap(cap(3), &error)) {
            return fail(error);
        }
        say(std::format("{}: the peer sent into the gap and was reset, as expected", m_name));
    }
    m_step = std::format("cycle {}/{} ({}): restore", index, m_opt.cycles, modeName);
    t0 = Clock::now();
    std::vector<std::string> restoreArgs{"restore", "--direct", "-i", image};
    if (m_opt.frozen) {
        restoreArgs.push_back("--frozen");
    }
    int passFd = -1;
    if (m_opt.pty == "new") {
        if (m_ptySocket[0] < 0 && socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, m_ptySocket) != 0) {
            return fail(std::format("socketpair: {}", std::strerror(errno)));
        }
        restoreArgs.insert(restoreArgs.end(), {"--pty-send", "3"});
        passFd = m_ptySocket[1];
    } else if (m_opt.pty == "original") {
        restoreArgs.insert(restoreArgs.end(), {"--pty", "original"});
    }
    const bool restoreOk = runCryopodctl(restoreArgs, std::format("{}.restore", index), &out, passFd);
    if (!restoreOk && m_opt.tcpPeerSabotage && !procInfo(m_pid).exists) {
        // The restored connection met the reset: fine if the restore says so.
        const std::string err = readFile(m_lastErrPath);
        if (err.find("reset") != std::string::npos || err.find("Broken pipe") != std::string::npos) {
            say(std::format("{}: the restore failed on the reset, as expected: {}", m_name, trimmed(err)));
            m_sabotageReported = true;
            return true;
        }
        return fail(std::format("{} (the restore failed after the peer's reset, without naming it)", m_error));
    }
    if (!restoreOk || (m_opt.pty == "new" && !receiveMaster())) {
        // The engine must leave nothing behind; if it did, it is ours now.
        if (procInfo(m_pid).exists) {
            m_error += std::format(" (and pid {} exists after the failed restore)", m_pid);
        }
        return false;
    }
    const double restoreSec = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto pos = out.find("restored pid ");
    if (pos == std::string::npos) {
        return fail(std::format("cryopodctl restore printed no 'restored pid N' (stdout: '{}')", trimmed(out)));
    }
    const long restored = std::strtol(out.c_str() + pos + 13, nullptr, 10);
    if (restored != m_pid) {
        if (restored > 0 && procInfo(static_cast<pid_t>(restored)).exists) {
            kill(static_cast<pid_t>(restored), SIGKILL);
        }
        return fail(std::format("restored pid {} instead of {}", restored, m_pid));
    }
    m_step = std::format("cycle {}/{} ({}): restored process", index, m_opt.cycles, modeName);
    const ProcInfo info = procInfo(m_pid);
    if (!info.exists) {
        return fail(std::format("restored pid {} does not exist after cryopodctl exited", m_pid));
    }
    if (info.ppid != getpid()) {
        return fail(std::format("restored pid {} has parent {}, expected the subreaper {} after cryopodctl exited", m_pid, info.ppid, getpid()));
    }
    if (m_opt.frozen) {
        if (info.state != 'T' && info.state != 't') {
            return fail(std::format("restored with --frozen but pid {} is in state {}", m_pid, stateName(info.state)));
        }
        usleep(100000);
        const ProcInfo later = procInfo(m_pid);
        if (later.runNs != info.runNs) {
            return fail(std::format("restored with --frozen but pid {} ran ({} ns -> {} ns)", m_pid, info.runNs, later.runNs));
        }
        if (m_opt.tree) {
            // Every process of the tree, zombies aside, is stopped too.
            for (const auto &[pid, e] : descendants(m_pid)) {
                if (e.state != 'Z' && e.state != 'T' && e.state != 't') {
                    return fail(std::format("restored with --frozen but pid {} of the tree is in state {}", pid, stateName(e.state)));
                }
            }
            for (const auto &[pid, e] : descendants(m_pid)) {
                kill(pid, SIGCONT);
            }
        }
        kill(m_pid, SIGCONT);
        usleep(5000);
    }
    if (!checkRunning("restored", true)) {
        return false;
    }
    if (m_opt.tree && !m_opt.treeChanges && !checkTree()) {
        return false;
    }
    if (!m_opt.plain) {
        // A copy that started over instead of going on would write ready again.
        struct stat ready;
        if (::stat((m_stateDir + "/ready").c_str(), &ready) != 0 || ready.st_ino != m_ready.st_ino || ready.st_mtim.tv_sec != m_ready.st_mtim.tv_sec
            || ready.st_mtim.tv_nsec != m_ready.st_mtim.tv_nsec) {
            return fail("STATEDIR/ready was written again: the restored process started over instead of resuming");
        }
    }
    if (!checkNoStrayChildren()) {
        return false;
    }
    if (m_opt.leakCheck && !checkLeaks(index)) {
        return false;
    }
    if (m_opt.sameTcpBuffers && !checkTcpBuffers(index)) {
        return false;
    }
    if (m_opt.tcpPeer && !m_opt.tcpPeerSabotage) {
        m_step = std::format("cycle {}/{} ({}): tcp peer talks to the restored copy", index, m_opt.cycles, modeName);
        std::string what, error;
        if (!m_peer->exchange(cap(10), &what, &error)) {
            return fail(error);
        }
        say(std::format("{}: {}", m_name, what));
    }
    if (m_opt.keepDir.empty()) {
        unlink(image.c_str());
    }
    say(std::format("{}: cycle {}/{} {}: checkpoint {:.3f} s, image {} KiB, restore {:.3f} s, pid {} running", m_name, index, m_opt.cycles, modeName,
                    checkpointSec, (st.st_size + 1023) / 1024, restoreSec, m_pid));
    return true;
}

bool Harness::finish()
{
    if (m_opt.plain) {
        m_step = "final: wait for the plain workload to exit";
        const double limit = remaining();
        const auto status = waitChild(m_pid, limit);
        if (!status) {
            return fail(std::format("pid {} did not exit within {:.1f} s (state {})", m_pid, limit, stateName(procInfo(m_pid).state)));
        }
        const double ran = std::chrono::duration<double>(Clock::now() - m_workloadStart).count();
        if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
            return fail(std::format("workload {}", describeStatus(*status)));
        }
        if (ran < m_opt.minRuntime) {
            return fail(std::format("workload exited after {:.2f} s, expected at least {:.2f} s", ran, m_opt.minRuntime));
        }
        say(std::format("{}: final: exit 0 after {:.2f} s", m_name, ran));
        return true;
    }
    m_step = "final: go, wait for the workload's verdict";
    const std::string go = m_stateDir + "/go";
    const int fd = open(go.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail(std::format("create {}: {}", go, std::strerror(errno)));
    }
    close(fd);
    if (m_opt.tcpPeer) {
        m_step = "final: tcp peer finishes the conversation";
        std::string error;
        const bool talked = m_peer->converse(cap(m_opt.finalTimeout), &error);
        if (m_opt.tcpPeerSabotage) {
            if (talked || !m_peer->wasReset()) {
                return fail(std::format("the peer was reset in the gap, yet after the restore the connection {}",
                                        talked ? std::string("went on") : "failed otherwise: " + error));
            }
            say(std::format("{}: after the restore the peer's connection is reset, as expected: {}", m_name, error));
        } else if (!talked) {
            return fail(error);
        }
    }
    const double limit = cap(m_opt.finalTimeout);
    const auto status = waitChild(m_pid, limit);
    if (!status) {
        return fail(std::format("workload pid {} did not exit within {:.1f} s of go (state {})", m_pid, limit, stateName(procInfo(m_pid).state)));
    }
    const std::string result = trimmed(readFile(m_stateDir + "/result"));
    if (m_opt.tcpPeerSabotage && result.find("reset") == std::string::npos) {
        return fail(std::format("after the peer's reset the workload {} without naming a reset: '{}'", describeStatus(*status), result));
    }
    if (m_opt.expectFail) {
        if (WIFEXITED(*status) && WEXITSTATUS(*status) == 1 && result.starts_with("FAIL:")) {
            say(std::format("{}: final: the workload noticed the sabotage, as expected: {}", m_name, result));
            return true;
        }
        return fail(std::format("expected the workload to report FAIL and exit 1; it {}, result '{}'", describeStatus(*status), result));
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        return fail(std::format("workload {}, result: {}", describeStatus(*status), result.empty() ? "(none)" : result));
    }
    if (result != "ok") {
        return fail(std::format("workload exited 0 but result is '{}'", result));
    }
    say(std::format("{}: final: exit 0, result ok", m_name));
    return true;
}

// The buffer sizes of the tree's TCP sockets: after the first restore, as
// they will stay (a restore locks them); later restores keep them.
bool Harness::checkTcpBuffers(int index)
{
    m_step = std::format("cycle {}/{}: TCP buffer sizes", index, m_opt.cycles);
    std::map<std::pair<pid_t, int>, TcpBuffers> now;
    std::string error;
    std::vector<pid_t> pids {m_pid};
    for (const auto &[pid, e] : descendants(m_pid)) {
        pids.push_back(pid);
    }
    for (const pid_t pid : pids) {
        if (!tcpBuffersOf(pid, &now, &error)) {
            return fail(error);
        }
    }
    std::string text;
    for (const auto &[key, b] : now) {
        text += std::format(" {}/fd {}: rcvbuf {} sndbuf {};", key.first, key.second, b.rcvbuf, b.sndbuf);
    }
    say(std::format("{}: cycle {}: TCP buffers{}", m_name, index, text));
    if (m_firstBuffers.empty()) {
        m_firstBuffers = now;
        return true;
    }
    if (now != m_firstBuffers) {
        std::string first;
        for (const auto &[key, b] : m_firstBuffers) {
            first += std::format(" {}/fd {}: rcvbuf {} sndbuf {};", key.first, key.second, b.rcvbuf, b.sndbuf);
        }
        return fail(std::format("the TCP buffer sizes changed since the first restore: now{} then{}", text, first));
    }
    return true;
}

void Harness::printDiagnostics()
{
    say(std::format("{}: FAILED at step '{}': {}", m_name, m_step, m_error));
    if (!m_lastErrPath.empty() && fileExists(m_lastErrPath)) {
        const std::string err = trimmed(readFile(m_lastErrPath));
        say(std::format("last command: {}", m_lastCommand));
        say(std::format("its stderr: {}", err.empty() ? "(empty)" : ""));
        if (!err.empty()) {
            std::fprintf(stdout, "%s\n", err.c_str());
        }
    }
    if (!m_stateDir.empty()) {
        const std::string result = trimmed(readFile(m_stateDir + "/result"));
        say(std::format("workload result: {}", result.empty() ? "(none)" : result));
    }
    if (m_pid > 0) {
        const ProcInfo info = procInfo(m_pid);
        if (info.exists) {
            say(std::format("pid {} ({}): state {}, parent {}, tracer {}", m_pid, info.comm, stateName(info.state), info.ppid, info.tracer));
        }
    }
    if (m_opt.keepDir.empty()) {
        say("(rerun with --keep DIR to keep the state dir and images)");
    } else {
        say(std::format("state dir kept: {}", m_stateDir));
    }
}

// The SysV IPC objects the workload lists in STATEDIR/sysv ("shm|msg|sem ID
// KEY" per line), each removed while it still has that key.
void Harness::removeSysvObjects()
{
    std::istringstream in(readFile(m_stateDir + "/sysv"));
    std::string kind;
    int id = -1;
    long long key = 0;
    while (in >> kind >> id >> key) {
        if (kind == "shm") {
            shmid_ds ds{};
            if (shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == key_t(key)) {
                shmctl(id, IPC_RMID, nullptr);
            }
        } else if (kind == "msg") {
            msqid_ds ds{};
            if (msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_perm.__key == key_t(key)) {
                msgctl(id, IPC_RMID, nullptr);
            }
        } else if (kind == "sem") {
            semid_ds ds{};
            if (semctl(id, 0, IPC_STAT, &ds) == 0 && ds.sem_perm.__key == key_t(key)) {
                semctl(id, 0, IPC_RMID);
            }
        }
    }
}

void Harness::cleanUp()
{
    // Kill only what we started: a running cryopodctl, then every child of
    // ours (the workload, copies re-parented to us), then reap them all.
    if (m_cmdPid > 0) {
        kill(m_cmdPid, SIGKILL);
        waitpid(m_cmdPid, nullptr, 0);
        m_cmdPid = -1;
    }
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < until) {
        const auto children = ownChildren();
        if (children.empty()) {
            break;
        }
        for (pid_t child : children) {
            kill(child, SIGKILL);
        }
        for (pid_t child : children) {
            waitChild(child, 0.2);
        }
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!m_stateDir.empty()) {
        removeSysvObjects();
    }
    if (m_opt.keepDir.empty() && !m_stateDir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(m_stateDir, ec);
    }
}

int Harness::run()
{
    m_start = Clock::now();
    m_deadline = m_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m_opt.timeout));
    // The program, or the wl_ script an interpreter runs, names the run.
    m_name = std::filesystem::path(m_opt.workload.front()).filename().string();
    for (const auto &arg : m_opt.workload) {
        if (arg.find("wl_") != std::string::npos) {
            m_name = std::filesystem::path(arg).filename().string();
        }
    }
    int passed = 0;
    bool ok = setUp() && startWorkload();
    for (int i = 1; ok && i <= m_opt.cycles; ++i) {
        const bool leaveRunning = m_opt.mode == Mode::LeaveRunning || (m_opt.mode == Mode::Mixed && i % 2 == 1);
        ok = cycle(i, leaveRunning);
        passed += ok ? 1 : 0;
        if (m_sabotageReported) {
            break; // nothing was restored: no workload to let go
        }
    }
    if (ok && !m_sabotageReported) {
        ok = finish();
        passed += ok ? 1 : 0;
    }
    if (!ok) {
        printDiagnostics();
    }
    cleanUp();
    const double total = std::chrono::duration<double>(Clock::now() - m_start).count();
    say(std::format("{}: {} after {} cycles in {:.2f} s", m_name, ok ? "PASS" : "FAIL", ok ? m_opt.cycles : passed, total));
    std::fprintf(stdout, "cr_cycles: %d passed, %d failed\n", passed, ok ? 0 : 1);
    return ok ? 0 : 1;
}

[[noreturn]] void usage(const char *message)
{
    if (message) {
        std::fprintf(stderr, "cr_cycles: %s\n", message);
    }
    std::fprintf(stderr,
                 "usage: cr_cycles --cryopodctl PATH --cycles N --mode leave-running|kill|mixed\n"
                 "                 [--keep DIR] [--frozen] [--plain] [--min-runtime S] [--timeout S]\n"
                 "                 [--expect-fail] [--tree | --tree-changes] [--pty new|original] [--leak-check] [--final-timeout S]\n"
                 "                 [--checkpoint-option OPT]... [--tcp-peer [--tcp-peer-sabotage]] [--same-tcp-buffers]\n"
                 "                 -- WORKLOAD ARGS...\n");
    std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
    Options opt;
    int i = 1;
    auto value = [&](const char *name) -> std::string {
        if (i + 1 >= argc) {
            usage(std::format("{} needs a value", name).c_str());
        }
        return argv[++i];
    };
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        } else if (arg == "--cryopodctl") {
            opt.cryopodctl = value("--cryopodctl");
        } else if (arg == "--cycles") {
            opt.cycles = std::atoi(value("--cycles").c_str());
        } else if (arg == "--mode") {
            const std::string m = value("--mode");
            if (m == "leave-running") {
                opt.mode = Mode::LeaveRunning;
            } else if (m == "kill") {
                opt.mode = Mode::Kill;
            } else if (m == "mixed") {
                opt.mode = Mode::Mixed;
            } else {
                usage("--mode is leave-running, kill or mixed");
            }
        } else if (arg == "--keep") {
            opt.keepDir = value("--keep");
        } else if (arg == "--frozen") {
            opt.frozen = true;
        } else if (arg == "--plain") {
            opt.plain = true;
        } else if (arg == "--min-runtime") {
            opt.minRuntime = std::atof(value("--min-runtime").c_str());
        } else if (arg == "--timeout") {
            opt.timeout = std::atof(value("--timeout").c_str());
        } else if (arg == "--expect-fail") {
            opt.expectFail = true;
        } else if (arg == "--tree") {
            opt.tree = true;
        } else if (arg == "--pty") {
            opt.pty = value("--pty");
            if (opt.pty != "new" && opt.pty != "original") {
                usage("--pty needs new or original");
            }
        } else if (arg == "--final-timeout") {
            opt.finalTimeout = std::atof(value("--final-timeout").c_str());
        } else if (arg == "--leak-check") {
            opt.leakCheck = true;
        } else if (arg == "--checkpoint-option") {
            opt.checkpointOptions.push_back(value("--checkpoint-option"));
        } else if (arg == "--tcp-peer") {
            opt.tcpPeer = true;
        } else if (arg == "--tcp-peer-sabotage") {
            opt.tcpPeer = true;
            opt.tcpPeerSabotage = true;
        } else if (arg == "--same-tcp-buffers") {
            opt.sameTcpBuffers = true;
        } else if (arg == "--tree-changes") {
            opt.tree = true;
            opt.treeChanges = true;
        } else if (arg == "--help" || arg == "-h") {
            usage(nullptr);
        } else {
            usage(std::format("unknown option {}", arg).c_str());
        }
    }
    for (; i < argc; ++i) {
        opt.workload.push_back(argv[i]);
    }
    if (opt.workload.empty()) {
        usage("no workload given");
    }
    if (opt.cycles < 0 || (opt.cycles > 0 && opt.cryopodctl.empty())) {
        usage("--cycles N > 0 needs --cryopodctl PATH");
    }
    if (opt.timeout <= 0) {
        usage("--timeout must be positive");
    }
    // The workload runs in STATEDIR: make relative paths (the program, a
    // script for an interpreter) absolute.
    for (auto &arg : opt.workload) {
        std::error_code ec;
        if (arg.find('/') != std::string::npos && arg[0] != '/' && std::filesystem::exists(arg, ec)) {
            arg = std::filesystem::absolute(arg, ec).lexically_normal().string();
        }
    }
    if (opt.cryopodctl.find('/') != std::string::npos && opt.cryopodctl[0] != '/') {
        std::error_code ec;
        opt.cryopodctl = std::filesystem::absolute(opt.cryopodctl, ec).lexically_normal().string();
    }
    std::signal(SIGPIPE, SIG_IGN);
    return Harness(std::move(opt)).run();
}
