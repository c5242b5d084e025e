// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The dump side of the engine on real processes: the report, the records a
// checkpoint writes (read back with ImageReader), refusals that write nothing,
// and that the target always runs on unchanged, also when a checkpoint fails.
#include "checkpoint.h"
#include "engine.h"
#include "imagereader.h"
#include "mem.h"
#include "procfs.h"
#include "pstree.h"
#include "records.h"
#include "report.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/syscall.h>
#include <grp.h>
#include <map>
#include <sys/mman.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::engine;

namespace
{

constexpr uint64_t kPage = 4096;

// One started dumptarget: killed and reaped when the test ends.
struct Target {
    pid_t pid = -1;
    std::string out; // its stdout and stderr
    std::map<std::string, uint64_t> ready;

    Target() = default;
    Target(const Target &) = delete;
    Target &operator=(const Target &) = delete;
    ~Target()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            int status = 0;
            while (::waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
            }
        }
    }
};

std::string fileContents(const std::string &path)
{
    auto text = procfs::readFile(path);
    return text ? *text : std::string();
}

// Starts dumptarget with only fds 0 (/dev/null), 1 and 2 (a file) open and
// waits for its "ready" line.
bool start(Target &t, const std::string &outPath, const std::vector<std::string> &args, uid_t uid = 0)
{
    t.out = outPath;
    std::vector<std::string> argvStrings{DUMPTARGET_PATH};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (std::string &s : argvStrings) {
        argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || null < 0) {
        return false;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::close_range(3, ~0u, 0);
        if (uid != 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0)) {
            ::_exit(126);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out);
    ::close(null);
    if (pid < 0) {
        return false;
    }
    t.pid = pid;
    for (int i = 0; i < 500; ++i) {
        const std::string text = fileContents(outPath);
        const size_t nl = text.find('\n');
        if (text.starts_with("ready") && nl != std::string::npos) {
            std::string line = text.substr(6, nl - 6);
            size_t pos = 0;
            while (pos < line.size()) {
                size_t end = line.find(' ', pos);
                if (end == std::string::npos) {
                    end = line.size();
                }
                const std::string item = line.substr(pos, end - pos);
                const size_t eq = item.find('=');
                if (eq != std::string::npos) {
                    t.ready[item.substr(0, eq)] = std::stoull(item.substr(eq + 1), nullptr, 16);
                }
                pos = end + 1;
            }
            return true;
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            t.pid = -1;
            qWarning("dumptarget exited early: %s", text.c_str());
            return false;
        }
        ::usleep(10000);
    }
    return false;
}

char stateOf(pid_t pid)
{
    auto st = procfs::readStat(pid);
    return st ? st->state() : '?';
}

uint64_t tracerOf(pid_t pid)
{
    auto status = procfs::readStatus(pid);
    if (!status) {
        return ~0ull;
    }
    auto tracer = procfs::statusNumbers(*status, "TracerPid");
    return tracer && !tracer->empty() ? (*tracer)[0] : ~0ull;
}

// The one child of pid (0: none or several).
pid_t onlyChild(pid_t pid)
{
    const std::string children = fileContents("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    char *end = nullptr;
    const long child = std::strtol(children.c_str(), &end, 10);
    return child > 0 && std::string(end).find_first_not_of(' ') == std::string::npos ? pid_t(child) : 0;
}

uint64_t cpuTicks(pid_t pid)
{
    auto st = procfs::readStat(pid);
    return st ? st->number(14) + st->number(15) : 0;
}

// Running on: not stopped, not traced, and making progress (its output grows
// for --then tick, its CPU time for --then spin).
// PAGEMAP_SCAN that names guard regions (category 1 << 8, Linux 6.15): an
// older kernel refuses the category.
bool kernelScansGuardRegions()
{
    const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    pm_scan_arg arg{};
    arg.size = sizeof arg;
    arg.return_mask = PAGE_IS_PRESENT | (1u << 8);
    const bool ok = fd >= 0 && ::ioctl(fd, PAGEMAP_SCAN, &arg) == 0;
    if (fd >= 0) {
        ::close(fd);
    }
    return ok;
}

bool runsOn(const Target &t, bool spinning)
{
    const char state = stateOf(t.pid);
    if (state == 't' || state == 'T' || state == 'Z' || state == 'X') {
        qWarning("target %d is in state %c", t.pid, state);
        return false;
    }
    if (tracerOf(t.pid) != 0) {
        qWarning("target %d is still traced", t.pid);
        return false;
    }
    const size_t size0 = fileContents(t.out).size();
    const uint64_t ticks0 = cpuTicks(t.pid);
    for (int i = 0; i < 100; ++i) {
        ::usleep(20000);
        if (spinning ? cpuTicks(t.pid) > ticks0 + 2 : fileContents(t.out).size() > size0 + 2) {
            return true;
        }
    }
    qWarning("target %d makes no progress", t.pid);
    return false;
}

struct Image {
    image::Header header;
    std::vector<image::Section> sections;

    template<typename T>
    std::vector<const T *> all() const
    {
        std::vector<const T *> out;
        for (const auto &s : sections) {
            if (const T *r = std::get_if<T>(&s)) {
                out.push_back(r);
            }
        }
        return out;
    }
    template<typename T>
    const T *one() const
    {
        const auto v = all<T>();
        return v.size() == 1 ? v.front() : nullptr;
    }
};

Result<Image> readImage(int fd)
{
    if (::lseek(fd, 0, SEEK_SET) != 0) {
        return sysError("lseek");
    }
    auto reader = image::ImageReader::open(fd);
    if (!reader) {
        return std::unexpected(reader.error());
    }
    Image img;
    img.header = (*reader)->header();
    for (;;) {
        auto section = (*reader)->next();
        if (!section) {
            return std::unexpected(section.error());
        }
        const bool end = std::holds_alternative<image::EndRecord>(*section);
        img.sections.push_back(std::move(*section));
        if (end) {
            return img;
        }
    }
}

// A child process that holds `tid` as its pid (clone3 with set_tid) and
// pauses until killed; returns its pid, or -1.
long holdTid(pid_t tid)
{
    int64_t setTid = tid;
    CloneArgs args;
    args.exitSignal = SIGCHLD;
    args.setTid = reinterpret_cast<uint64_t>(&setTid);
    args.setTidSize = 1;
    const long holder = ::syscall(SYS_clone3, &args, sizeof args);
    if (holder == 0) {
        for (;;) {
            ::pause();
        }
    }
    return holder;
}

int tempImageFd()
{
    return ::memfd_create("cryopod-test-image", MFD_CLOEXEC);
}

// checkpoint() of pid, left running, into a memfd; `imageBytes`: how much
// was written (-1: unknown).
Result<CheckpointResult> checkpointLeftRunning(pid_t pid, off_t &imageBytes)
{
    const int fd = tempImageFd();
    CheckpointOptions options;
    options.leaveRunning = true;
    auto result = checkpoint(pid, fd, options);
    struct stat st{};
    imageBytes = ::fstat(fd, &st) == 0 ? st.st_size : off_t(-1);
    ::close(fd);
    return result;
}

uint64_t patternWord(uint64_t page, uint64_t word)
{
    uint64_t x = (page << 20) ^ word ^ 0x9e3779b97f4a7c15ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

// Word w of page p of process i's region in dumptarget's tree mode.
uint64_t treeWord(uint64_t index, uint64_t page, uint64_t word)
{
    return patternWord(page + (index << 24), word) ^ (index * 0x0101010101010101ull);
}

// The processes of a dumptarget tree (the root first): the children are
// killed (and, being the root's, reaped by the Target) when the test ends.
struct TreeTarget {
    Target root;
    std::vector<pid_t> pids;
    uint64_t mem = 0;
    uint64_t regionBytes = 0;

    TreeTarget() = default;
    TreeTarget(const TreeTarget &) = delete;
    TreeTarget &operator=(const TreeTarget &) = delete;
    ~TreeTarget()
    {
        for (size_t i = 1; i < pids.size(); ++i) {
            ::kill(pids[i], SIGKILL);
        }
    }
    bool start(const std::string &out, int children, int kib, const std::string &then)
    {
        if (!::start(root, out, {"tree", std::to_string(children), std::to_string(kib), "--then", then})) {
            return false;
        }
        mem = root.ready["mem"];
        regionBytes = root.ready["memsize"];
        pids = {root.pid};
        for (int i = 1; i <= children; ++i) {
            pids.push_back(pid_t(root.ready["child" + std::to_string(i)]));
        }
        return mem != 0 && regionBytes == uint64_t(kib) << 10 && std::ranges::all_of(pids, [](pid_t p) { return p > 0; });
    }
    // Every process of the tree running, none stopped or traced.
    bool runsOn() const
    {
        for (pid_t pid : pids) {
            const char state = stateOf(pid);
            if (state == 't' || state == 'T' || state == 'Z' || state == 'X' || state == '?' || tracerOf(pid) != 0) {
                qWarning("process %d of the tree: state %c, tracer %llu", pid, state, static_cast<unsigned long long>(tracerOf(pid)));
                return false;
            }
        }
        return ::runsOn(root, false);
    }
};

// user_regs_struct indexes.
constexpr size_t kR15 = offsetof(user_regs_struct, r15) / 8, kR14 = offsetof(user_regs_struct, r14) / 8, kR13 = offsetof(user_regs_struct, r13) / 8,
                 kR12 = offsetof(user_regs_struct, r12) / 8, kRip = offsetof(user_regs_struct, rip) / 8, kFsBase = offsetof(user_regs_struct, fs_base) / 8;

} // namespace

class CheckpointTest : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string dir() const
    {
        return m_dir.path().toStdString();
    }
    std::string outFile(const char *name) const
    {
        return dir() + "/" + name + ".out";
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0) {
            QSKIP("the engine needs root");
        }
        QVERIFY(m_dir.isValid());
        QCOMPARE(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        ::signal(SIGPIPE, SIG_DFL); // checkpoint() must cope without our help
    }

    void reportOfPlainProcess()
    {
        Target t;
        QVERIFY(start(t, outFile("plain"), {"plain"}));
        auto report = analyze(t.pid);
        QVERIFY2(report, report ? "" : report.error().describe().c_str());
        QVERIFY2(report->verdict == Verdict::Ok, report->summary().c_str());
        QCOMPARE(report->processes.size(), size_t(1));
        const ProcessReport &p = report->processes.front();
        QCOMPARE(p.pid, t.pid);
        QCOMPARE(p.ppid, ::getpid());
        QCOMPARE(p.comm, std::string("dumptarget"));
        QVERIFY(p.reasons.empty());
        QCOMPARE(p.fds.size(), size_t(3));
        QCOMPARE(p.fds[0].target, std::string("/dev/null"));
        QCOMPARE(p.fds[1].target, outFile("plain"));
        for (const FdReport &fd : p.fds) {
            QCOMPARE(fd.verdict, Verdict::Ok);
        }
        QVERIFY(report->summary().empty());
        QCOMPARE(stateOf(t.pid), 'S'); // analysis does not stop it
    }

    void reportNamesPipe()
    {
        Target t;
        QVERIFY(start(t, outFile("pipe"), {"pipe"}));
        // Both ends in the process: fine.
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Ok);
        QCOMPARE(report->processes.front().fds.size(), size_t(5));
        // Once another process (this one) has it open, it leaks outside.
        const int outside = ::open(("/proc/" + std::to_string(t.pid) + "/fd/3").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        QVERIFY(outside >= 0);
        report = analyze(t.pid);
        ::close(outside);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const ProcessReport &p = report->processes.front();
        QCOMPARE(p.fds.size(), size_t(5));
        QCOMPARE(p.fds[3].verdict, Verdict::Refused);
        QVERIFY2(p.fds[3].reason.starts_with("fd 3 is a pipe (pipe:["), p.fds[3].reason.c_str());
        const std::string holder = "also open in process " + std::to_string(::getpid()) + " (";
        QVERIFY2(p.fds[3].reason.find(holder) != std::string::npos, p.fds[3].reason.c_str());
        QVERIFY(p.fds[3].reason.ends_with("outside the checkpoint: a pipe shared with a process outside the checkpoint cannot be restored"));
        QCOMPARE(p.fds[4].verdict, Verdict::Refused);
        QVERIFY(report->summary().find("fd 4 is a pipe") != std::string::npos);
    }

    void reportAcceptsThreads()
    {
        Target t;
        QVERIFY(start(t, outFile("threads"), {"threads"}));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Ok);
        QVERIFY2(report->processes.front().reasons.empty(), report->summary().c_str());
    }

    // What threads may hold of their own that the engine restores per
    // process is named, per thread.
    void reportNamesThreadsOfTheirOwn_data()
    {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QString>("expected");
        QTest::newRow("creds") << QStringLiteral("threadcreds") << QStringLiteral(" has its own Gid (0 4242 0 4242, the process 0 0 0 0)");
        QTest::newRow("files") << QStringLiteral("threadfiles") << QStringLiteral(" has a file descriptor table of its own (unshare(CLONE_FILES))");
        QTest::newRow("namespace") << QStringLiteral("threadns") << QStringLiteral(" runs in another uts namespace (uts:[");
        QTest::newRow("seccomp strict") << QStringLiteral("threadstrict") << QStringLiteral(" runs in seccomp strict mode");
    }

    // The scans of the whole system skip processes without an address space
    // (procfs::WithoutMm): kernel threads and zombies, never a live process.
    void withoutMmTellsKernelThreadsAndZombies()
    {
        const procfs::WithoutMm withoutMm = procfs::WithoutMm::find();
        QVERIFY(!withoutMm(::getpid()));
        auto kthreadd = procfs::readStat(2);
        if (!kthreadd || !kthreadd->kernelThread()) {
            QVERIFY(!withoutMm(2)); // tells nothing without a kthreadd
            QSKIP("pid 2 is not kthreadd in this pid namespace");
        }
        QVERIFY(withoutMm(2));
        const pid_t child = ::fork();
        if (child == 0) {
            ::_exit(0);
        }
        QVERIFY(child > 0);
        QVERIFY(QTest::qWaitFor([&] {
            return stateOf(child) == 'Z';
        }));
        const bool zombieWithoutMm = withoutMm(child);
        QCOMPARE(::waitpid(child, nullptr, 0), child);
        QVERIFY(zombieWithoutMm);
    }

    void reportNamesAnExitedMainThread()
    {
        Target t;
        QVERIFY(start(t, outFile("leaderexit"), {"leaderexit"}));
        QVERIFY(QTest::qWaitFor([&] {
            return stateOf(t.pid) == 'Z';
        }));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const std::vector<std::string> expected{"its main thread has exited (pthread_exit) while 1 other thread runs on: not supported"};
        QCOMPARE(report->processes.front().reasons, expected);
    }
    void reportNamesThreadsOfTheirOwn()
    {
        QFETCH(QString, mode);
        QFETCH(QString, expected);
        Target t;
        QVERIFY(start(t, outFile(mode.toStdString().c_str()), {mode.toStdString()}));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const std::string want = "thread " + std::to_string(t.ready["tid"]) + expected.toStdString();
        QVERIFY2(report->summary().find(want) != std::string::npos, (report->summary() + " lacks: " + want).c_str());
    }

    void reportNamesSocketsAndEventfd()
    {
        Target t;
        QVERIFY(start(t, outFile("sockets"), {"sockets"}));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const auto &fds = report->processes.front().fds;
        QCOMPARE(fds.size(), size_t(8));
        auto reasonOf = [&fds](int fd) {
            return fds[size_t(fd)].reason;
        };
        const std::string port = std::to_string(t.ready["port"]);
        // A listener is restored (format 5), but not with a connection waiting...
        QCOMPARE(fds[3].verdict, Verdict::Refused);
        QVERIFY2(reasonOf(3).starts_with("fd 3 is a TCP socket listening on 127.0.0.1:" + port +
                                         " with 1 connection(s) waiting to be accepted: they cannot be restored"),
                 reasonOf(3).c_str());
        // ... and a TCP connection is not restored at all.
        QCOMPARE(fds[7].verdict, Verdict::Refused);
        QVERIFY2(reasonOf(7).starts_with("fd 7 is a TCP connection from 127.0.0.1:") &&
                     reasonOf(7).find("to 127.0.0.1:" + port + ": established TCP connections cannot be restored (that needs TCP_REPAIR") != std::string::npos,
                 reasonOf(7).c_str());
        // ... unless the user asks for TCP_REPAIR (format 7): then a caveat.
        auto optedIn = analyze(t.pid, {}, true);
        QVERIFY(optedIn);
        const FdReport &seven = optedIn->processes.front().fds[7];
        QCOMPARE(seven.verdict, Verdict::Caveat);
        QVERIFY2(seven.reason.find(": restored with TCP_REPAIR") != std::string::npos, seven.reason.c_str());
        QCOMPARE(optedIn->processes.front().fds[3].verdict, Verdict::Refused); // the waiting connection still is
        // A socket pair inside the process is restored (engine v2)...
        QCOMPARE(fds[4].verdict, Verdict::Ok);
        QCOMPARE(fds[5].verdict, Verdict::Ok);
        // ... unless a process outside has one of them open too.
        const int pidfd = int(::syscall(SYS_pidfd_open, t.pid, 0));
        const int shared = int(::syscall(SYS_pidfd_getfd, pidfd, 5, 0));
        QVERIFY(pidfd >= 0 && shared >= 0);
        auto again = analyze(t.pid);
        ::close(shared);
        ::close(pidfd);
        QVERIFY(again);
        const FdReport &five = again->processes.front().fds[5];
        QCOMPARE(five.verdict, Verdict::Refused);
        QVERIFY2(five.reason.starts_with("fd 5 is a unix socket (socket:[") && five.reason.find("also open in process " + std::to_string(::getpid())) != std::string::npos
                     && five.reason.ends_with("a socket shared with a process outside the checkpoint cannot be restored"),
                 five.reason.c_str());
        QCOMPARE(again->processes.front().fds[4].verdict, Verdict::Ok);
        QCOMPARE(fds[6].verdict, Verdict::Ok); // eventfds are restored (engine v2)
        QVERIFY2(reasonOf(6).empty(), reasonOf(6).c_str());
    }

    // Files of /proc (format 8): read-only ones of the process itself and
    // of the system are reopened at restore (one read partway: a caveat);
    // one of a process outside the tree and one open for writing are
    // refused, saying why.
    void reportNamesProcFiles()
    {
        Target t;
        QVERIFY(start(t, outFile("procfiles"), {"procfiles"}));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const auto &fds = report->processes.front().fds;
        QCOMPARE(fds.size(), size_t(7));
        const std::string self = "/proc/" + std::to_string(t.pid);
        const std::string test = std::to_string(::getpid());
        QCOMPARE(fds[3].target, self + "/maps"); // /proc/self resolved
        QCOMPARE(fds[3].verdict, Verdict::Ok);
        QVERIFY2(fds[3].reason.empty(), fds[3].reason.c_str());
        QCOMPARE(fds[4].verdict, Verdict::Caveat);
        QVERIFY2(fds[4].reason.starts_with("fd 4 (/proc/meminfo) is a file of /proc read up to offset 10: reopened at restore and positioned there"),
                 fds[4].reason.c_str());
        QCOMPARE(fds[5].verdict, Verdict::Refused);
        QVERIFY2(fds[5].reason.starts_with("fd 5 (/proc/" + test + "/status) is a file of /proc: it belongs to process " + test + " (")
                     && fds[5].reason.find(") outside the checkpoint: a restored copy would find another process at that pid, or none") != std::string::npos,
                 fds[5].reason.c_str());
        QCOMPARE(fds[6].verdict, Verdict::Refused);
        QVERIFY2(fds[6].reason.starts_with("fd 6 (" + self + "/comm) is a file of /proc: open for writing: only read-only fds on /proc are reopened"),
                 fds[6].reason.c_str());
        QVERIFY(report->summary().find("fd 5 (/proc/" + test + "/status)") != std::string::npos);
        QCOMPARE(stateOf(t.pid), 'S'); // analysis does not stop it
    }

    // A process with a SysV semaphore undo list (SEM_UNDO) that changed a
    // semaphore last: its adjustments cannot be read, the report says so (a
    // caveat). A process without a list (reportOfPlainProcess) or with the
    // list every threaded process has (reportAcceptsThreads) has no such line.
    void reportNamesSemUndo()
    {
        Target t;
        QVERIFY(start(t, outFile("semundo"), {"semundo"}));
        const int semid = int(t.ready["semid"]);
        auto report = analyze(t.pid);
        QCOMPARE(::semctl(semid, 0, IPC_RMID), 0);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Caveat);
        const std::vector<std::string> &reasons = report->processes.front().reasons;
        QCOMPARE(reasons.size(), size_t(1));
        QVERIFY2(reasons[0].starts_with("has a SysV semaphore undo list and changed semaphore 0 of SysV semaphore set " + std::to_string(semid)
                                        + " (key 0x00000000) last: adjustments it may hold under SEM_UNDO (semadj) cannot be read"),
                 reasons[0].c_str());
    }

    // Detached fds (libcryopod's own, when a program checkpoints itself):
    // whatever they are (here a TCP connection and the listener that has not
    // accepted it, which would be refused), a caveat in the report, and in the restored process the read
    // end of a pipe whose writer is gone; the other fds are restored as ever.
    // Only fds open in the process can be detached.
    void detachedFdsRestoreAsHungUpPipes()
    {
        Target t;
        QVERIFY(start(t, outFile("detached"), {"sockets", "--then", "tick"}));
        auto report = analyze(t.pid, {3, 7}); // the listener and the connection to it it has not accepted
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Caveat);
        const FdReport &three = report->processes.front().fds[3];
        QCOMPARE(three.verdict, Verdict::Caveat);
        QVERIFY2(three.reason.starts_with("fd 3 (socket:[") &&
                     three.reason.ends_with("is detached: the restored process finds the read end of a pipe whose writer is gone there"),
                 three.reason.c_str());
        auto notOpen = analyze(t.pid, {3, 42});
        QVERIFY(!notOpen);
        QCOMPARE(notOpen.error().code, EBADF);
        QVERIFY2(notOpen.error().describe().find("fd 42 to detach is not open in process " + std::to_string(t.pid)) != std::string::npos,
                 notOpen.error().describe().c_str());

        const int fd = tempImageFd();
        QVERIFY(fd >= 0);
        CheckpointOptions options;
        options.leaveRunning = false;
        options.detachedFds = {3, 7};
        auto result = checkpoint(t.pid, fd, options);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        int status = 0;
        QCOMPARE(::waitpid(t.pid, &status, 0), t.pid);
        const pid_t pid = t.pid;
        t.pid = -1;
        QCOMPARE(::lseek(fd, 0, SEEK_SET), off_t(0));
        auto restored = restore(fd, RestoreOptions{});
        ::close(fd);
        QVERIFY2(restored, restored ? "" : restored.error().describe().c_str());
        QCOMPARE(restored->root, pid);
        t.pid = pid;
        const std::string fdDir = "/proc/" + std::to_string(pid) + "/fd/";
        QVERIFY2(procfs::readLink(fdDir + "3").value_or("").starts_with("pipe:["), procfs::readLink(fdDir + "3").value_or("?").c_str());
        QVERIFY(procfs::readLink(fdDir + "4").value_or("").starts_with("socket:["));
        const int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
        const int detached = int(::syscall(SYS_pidfd_getfd, pidfd, 3, 0));
        QVERIFY(pidfd >= 0 && detached >= 0);
        QCOMPARE(::fcntl(detached, F_GETFL) & O_ACCMODE, O_RDONLY);
        char byte = 0;
        QCOMPARE(::read(detached, &byte, 1), ssize_t(0)); // end-of-file: no writer
        ::close(detached);
        ::close(pidfd);
        QVERIFY(runsOn(t, false));
    }

    // Format 5's sockets, watches and locks: what is restored with a caveat
    // and what is refused, each named.
    void reportNamesNetworkCaveats()
    {
        Target t;
        QVERIFY(start(t, outFile("netcaveats"), {"netcaveats"}));
        auto report = analyze(t.pid);
        const std::string dir = "/tmp/dumptarget-" + std::to_string(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Refused);
        const auto &fds = report->processes.front().fds;
        QCOMPARE(fds.size(), size_t(8));
        const std::string port = std::to_string(t.ready["port"]);
        QCOMPARE(fds[3].verdict, Verdict::Caveat);
        QVERIFY2(fds[3].reason.starts_with("fd 3 is a UDP socket at 127.0.0.1:" + port + " with datagrams waiting (a receive queue of ") &&
                     fds[3].reason.ends_with(" bytes): the restored socket starts with an empty queue (they are dropped)"),
                 fds[3].reason.c_str());
        QCOMPARE(fds[4].verdict, Verdict::Caveat);
        QVERIFY2(fds[4].reason.starts_with("fd 4 is an inotify instance with ") &&
                     fds[4].reason.ends_with(" bytes of events waiting: the restored one starts with none"),
                 fds[4].reason.c_str());
        QCOMPARE(fds[5].verdict, Verdict::Refused);
        QVERIFY2(fds[5].reason.find("listening on " + dir + ".sock with 1 connection(s) waiting to be accepted: they cannot be restored") != std::string::npos,
                 fds[5].reason.c_str());
        // Its client: connected to a socket no fd holds yet (in fd 5's queue).
        QCOMPARE(fds[6].verdict, Verdict::Refused);
        QVERIFY2(
            fds[6].reason.ends_with("connected to a listening socket that has not accepted the connection yet: it cannot be restored; try again once it has"),
            fds[6].reason.c_str());
        QCOMPARE(fds[7].verdict, Verdict::Refused);
        QVERIFY2(fds[7].reason.find("holds a LEASE (lease or delegation): not supported") != std::string::npos, fds[7].reason.c_str());
        ::unlink((dir + ".d/file").c_str());
        ::rmdir((dir + ".d").c_str());
        ::unlink((dir + ".sock").c_str());
    }

    void refusedCheckpointWritesNothing_data()
    {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QString>("expected");
        QTest::newRow("sockets") << QStringLiteral("sockets") << QStringLiteral("fd 3 is a TCP socket listening on 127.0.0.1:");
        QTest::newRow("thread creds") << QStringLiteral("threadcreds") << QStringLiteral("has its own Gid");
        QTest::newRow("thread namespace") << QStringLiteral("threadns") << QStringLiteral("runs in another uts namespace");
        QTest::newRow("thread seccomp strict") << QStringLiteral("threadstrict") << QStringLiteral("runs in seccomp strict mode");
        QTest::newRow("sysv shm") << QStringLiteral("sysvshm") << QStringLiteral("only a part of SysV shared memory segment");
    }
    void refusedCheckpointWritesNothing()
    {
        QFETCH(QString, mode);
        QFETCH(QString, expected);
        Target t;
        QVERIFY(start(t, outFile("refused"), {mode.toStdString(), "--then", "tick"}));
        const int fd = tempImageFd();
        QVERIFY(fd >= 0);
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY(!result);
        const std::string message = result.error().describe();
        QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
        QVERIFY2(message.find(std::to_string(t.pid) + " (dumptarget)") != std::string::npos, message.c_str());
        struct stat st{};
        QCOMPARE(::fstat(fd, &st), 0);
        QCOMPARE(st.st_size, off_t(0));
        ::close(fd);
        QVERIFY(runsOn(t, false));
    }

    // A memfd that a process outside the tree holds too (a child of this
    // test) is refused, naming that process; nothing is written, the target
    // runs on.
    void memfdSharedOutsideIsRefused()
    {
        Target t;
        QVERIFY(start(t, outFile("memfd"), {"memfd", "--then", "tick"}));
        const std::string link = "/proc/" + std::to_string(t.pid) + "/fd/3";
        int ready[2];
        QCOMPARE(::pipe2(ready, O_CLOEXEC), 0);
        const pid_t holder = ::fork();
        if (holder == 0) {
            const int held = ::open(link.c_str(), O_RDONLY | O_CLOEXEC);
            const char c = held >= 0 ? 'y' : 'n';
            (void)::write(ready[1], &c, 1);
            ::pause();
            ::_exit(0);
        }
        QVERIFY(holder > 0);
        ::close(ready[1]);
        char c = 0;
        QCOMPARE(::read(ready[0], &c, 1), ssize_t(1));
        ::close(ready[0]);
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        ::kill(holder, SIGKILL);
        ::waitpid(holder, nullptr, 0);
        QCOMPARE(c, 'y');
        QVERIFY(fd >= 0);
        QVERIFY(!result);
        const std::string message = result.error().describe();
        // Refused by the report before anything is frozen (the checkpoint's
        // link step refuses the same, should the report miss it).
        QVERIFY2(message.find(std::to_string(t.pid) + " (dumptarget) cannot be checkpointed: memfd dumptarget mapped at ") != std::string::npos,
                 message.c_str());
        QVERIFY2(message.find("is shared with process " + std::to_string(holder) + " (") != std::string::npos, message.c_str());
        QVERIFY2(message.find("outside the checkpoint") != std::string::npos, message.c_str());
        QCOMPARE(result.error().code, ENOTSUP);
        struct stat st{};
        QCOMPARE(::fstat(fd, &st), 0);
        QCOMPARE(st.st_size, off_t(0));
        ::close(fd);
        QVERIFY(runsOn(t, false));
    }

    void vforkChildBeforeExec_data()
    {
        QTest::addColumn<int>("childMs");
        QTest::addColumn<bool>("passes");
        // The child execs while the checkpoint tries again: it succeeds.
        QTest::newRow("execs soon") << 300 << true;
        // It does not within the second the checkpoint waits: refused with
        // EAGAIN, nothing written, the target untouched.
        QTest::newRow("execs late") << 5000 << false;
    }

    void vforkChildBeforeExec()
    {
        QFETCH(int, childMs);
        QFETCH(bool, passes);
        Target t;
        QVERIFY(start(t, outFile("vfork"), {"plain", "--then", "vfork" + std::to_string(childMs)}));
        // Its vfork child is there and shares its address space.
        pid_t child = 0;
        QTRY_VERIFY_WITH_TIMEOUT((child = onlyChild(t.pid)) > 0, 5000);
        QCOMPARE(::syscall(SYS_kcmp, t.pid, child, 1 /* KCMP_VM */, 0, 0), 0L);
        off_t written = -1;
        auto result = checkpointLeftRunning(t.pid, written);
        if (passes) {
            QVERIFY2(result, result ? "" : result.error().describe().c_str());
            QVERIFY(written > 0);
            QCOMPARE(procfs::readStat(child)->fields[1], std::string("sleep")); // it went on to its exec
        } else {
            QVERIFY(!result);
            const std::string message = result.error().describe();
            QVERIFY2(message.find(std::to_string(child) + " (dumptarget) cannot be checkpointed: shares its address space with process " + std::to_string(t.pid)
                                  + " (dumptarget): a vfork child that has not called exec yet")
                         != std::string::npos,
                     message.c_str());
            QCOMPARE(result.error().code, EAGAIN);
            QCOMPARE(written, off_t(0));
            QCOMPARE(stateOf(child), 'S');
            QCOMPARE(tracerOf(child), uint64_t(0));
            QCOMPARE(tracerOf(t.pid), uint64_t(0));
        }
        ::kill(child, SIGKILL);
        QVERIFY(runsOn(t, false));
        // The child comes to us (the subreaper) once the target is gone: reap it.
        ::kill(t.pid, SIGKILL);
        ::waitpid(t.pid, nullptr, 0);
        t.pid = -1;
        QTRY_VERIFY_WITH_TIMEOUT(::waitpid(child, nullptr, WNOHANG) == child || ::kill(child, 0) != 0, 5000);
    }

    // A child made by clone(CLONE_VM) that lasts (its parent is not in
    // vfork()) is no vfork child: in its parent's tree it passes (format 9
    // captures the address space once); alone, its sharer is outside the
    // checkpoint: refused at once (ENOTSUP), not retried as a passing state.
    void cloneVmChildIsNoVforkChild()
    {
        Target t;
        QVERIFY(start(t, outFile("clonevm"), {"plain", "--then", "clonevm"}));
        pid_t child = 0;
        QTRY_VERIFY_WITH_TIMEOUT((child = onlyChild(t.pid)) > 0, 5000);
        QCOMPARE(::syscall(SYS_kcmp, t.pid, child, 1 /* KCMP_VM */, 0, 0), 0L);
        auto tree = analyze(t.pid);
        QVERIFY2(tree, tree ? "" : tree.error().describe().c_str());
        QVERIFY2(tree->verdict == Verdict::Ok, tree->summary().c_str());
        QVERIFY(!tree->passing());
        auto alone = analyze(child);
        QVERIFY2(alone, alone ? "" : alone.error().describe().c_str());
        QCOMPARE(alone->verdict, Verdict::Refused);
        QVERIFY(!alone->passing());
        const std::string expected = "shares its address space with process " + std::to_string(t.pid) +
            " (dumptarget) outside the checkpoint (CLONE_VM): it cannot be shared again after a restore";
        QVERIFY2(alone->summary().find(expected) != std::string::npos, alone->summary().c_str());
        off_t written = -1;
        const auto start = std::chrono::steady_clock::now();
        auto result = checkpointLeftRunning(child, written);
        QVERIFY(!result);
        QCOMPARE(result.error().code, ENOTSUP);
        QVERIFY2(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(900), "the refusal was retried as a passing state");
        QCOMPARE(written, off_t(0));
        QCOMPARE(tracerOf(child), uint64_t(0));
        QCOMPARE(tracerOf(t.pid), uint64_t(0));
        QVERIFY(runsOn(t, false));
        ::kill(child, SIGKILL);
        ::kill(t.pid, SIGKILL);
        ::waitpid(t.pid, nullptr, 0);
        t.pid = -1;
        QTRY_VERIFY_WITH_TIMEOUT(::waitpid(child, nullptr, WNOHANG) == child || ::kill(child, 0) != 0, 5000);
    }

    // The precheck of a checkpoint reads maps, not smaps: what only smaps
    // show (here hugetlb memory) is refused by the second analysis, with the
    // tree frozen. The refusal still reads word for word as the analysis's,
    // and the target runs on untouched. In a tree, the root's second half
    // (on the capture's second thread) refuses while the tracer is still in
    // the children's first halves: it stops there, and every process runs on.
    void refusalOfWhatOnlySmapsShow_data()
    {
        QTest::addColumn<QString>("then");
        QTest::newRow("one process") << QStringLiteral("tick");
        QTest::newRow("a root refused before its children are captured") << QStringLiteral("fork3");
    }
    void refusalOfWhatOnlySmapsShow()
    {
        QFETCH(QString, then);
        const std::string knob = "/proc/sys/vm/nr_hugepages";
        auto pagesNow = [&knob]() -> unsigned long {
            auto text = procfs::readFile(knob);
            return text ? std::stoul(*text) : 0;
        };
        auto setPages = [&knob](unsigned long n) {
            const std::string text = std::to_string(n);
            const int fd = ::open(knob.c_str(), O_WRONLY | O_CLOEXEC);
            const bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
            if (fd >= 0) {
                ::close(fd);
            }
            return ok;
        };
        const unsigned long had = pagesNow();
        if (!setPages(had + 1) || pagesNow() < had + 1) {
            setPages(had);
            QSKIP("no huge page could be reserved here (vm.nr_hugepages)");
        }
        struct Reserved {
            std::function<bool(unsigned long)> set;
            unsigned long had;
            ~Reserved()
            {
                set(had);
            }
        } reserved{setPages, had};
        Target t;
        QVERIFY(start(t, outFile("hugetlb"), {"hugetlb", "--then", then.toStdString()}));
        auto children = procfs::listChildren(t.pid);
        QVERIFY(children);
        QCOMPARE(children->size(), then == QLatin1String("fork3") ? size_t(3) : size_t(0));
        auto report = analyze(t.pid);
        QVERIFY2(report, report ? "" : report.error().describe().c_str());
        QCOMPARE(report->verdict, Verdict::Refused);
        const std::string expected = refusalMessage(*report);
        QVERIFY2(expected.find("hugetlb memory is not supported") != std::string::npos, expected.c_str());
        off_t written = -1;
        auto result = checkpointLeftRunning(t.pid, written);
        QVERIFY(!result);
        QCOMPARE(result.error().code, ENOTSUP);
        QCOMPARE(result.error().message, expected);
        QCOMPARE(written, off_t(0));
        QCOMPARE(tracerOf(t.pid), uint64_t(0));
        QCOMPARE(stateOf(t.pid), 'S');
        QVERIFY(runsOn(t, false));
        for (const pid_t child : *children) {
            QCOMPARE(tracerOf(child), uint64_t(0));
            QCOMPARE(stateOf(child), 'S');
        }
        // The children die with the root and come to this process (the
        // subreaper) to be reaped.
        ::kill(t.pid, SIGKILL);
        int status = 0;
        QCOMPARE(::waitpid(t.pid, &status, 0), t.pid);
        t.pid = -1;
        for (const pid_t child : *children) {
            QCOMPARE(::waitpid(child, &status, __WALL), child);
        }
    }

    void registersAndLayout()
    {
        Target t;
        QVERIFY(start(t, outFile("spin"), {"plain", "--then", "spin"}));
        ::usleep(50000); // let it reach the loop
        auto maps = procfs::readMaps(t.pid); // before: the checkpoint must leave no trace in them
        QVERIFY(maps);
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QCOMPARE(result->root, t.pid);
        QVERIFY(result->imageBytes > 0);
        QVERIFY(result->pauseNs > 0 && result->pauseNs <= result->totalNs);
        QCOMPARE(off_t(result->imageBytes), ::lseek(fd, 0, SEEK_END));
        QVERIFY(runsOn(t, true));

        auto img = readImage(fd);
        ::close(fd);
        QVERIFY2(img, img ? "" : img.error().describe().c_str());
        QCOMPARE(img->header.arch, std::string("x86_64"));
        QCOMPARE(img->header.pageSize, uint32_t(4096));

        // Stream order: tree, task, creds, signals, timers, thread, mm, files, pages..., end.
        std::vector<size_t> order;
        for (const auto &s : img->sections) {
            order.push_back(s.index());
        }
        const std::vector<size_t> expectedHead = {0, 1, 3, 4, 11, 2, 5, 6};
        QVERIFY(order.size() >= expectedHead.size() + 1);
        QCOMPARE(std::vector<size_t>(order.begin(), order.begin() + 8), expectedHead);
        QCOMPARE(order.back(), size_t(9));

        const auto *thread = img->one<image::ThreadRecord>();
        QVERIFY(thread);
        QCOMPARE(thread->tid, t.pid);
        QCOMPARE(thread->name, std::string("dumptarget"));
        QCOMPARE(thread->regs.gpr[kR12], 0x1111111111111111ull);
        QCOMPARE(thread->regs.gpr[kR13], 0x2222222222222222ull);
        QCOMPARE(thread->regs.gpr[kR14], 0x3333333333333333ull);
        QCOMPARE(thread->regs.gpr[kR15], 0x4444444444444444ull);
        QVERIFY(thread->regs.gpr[kFsBase] != 0); // glibc's TLS
        QCOMPARE(thread->fpregs.size(), size_t(512));
        uint64_t xmm8[2];
        std::memcpy(xmm8, thread->fpregs.data() + 160 + 8 * 16, 16);
        QCOMPARE(xmm8[0], 0x0123456789abcdefull);
        QCOMPARE(xmm8[1], 0xfedcba9876543210ull);
        QVERIFY(thread->xstate.size() >= 576);
        QVERIFY(std::memcmp(thread->xstate.data() + 160 + 8 * 16, xmm8, 16) == 0);

        // Every VMA of /proc/PID/maps (read now: nothing changed since).
        const auto *mm = img->one<image::MmRecord>();
        QVERIFY(mm);
        QCOMPARE(mm->vmas.size(), maps->size());
        bool sawStack = false, sawVdso = false, sawVvar = false, sawExe = false;
        for (size_t i = 0; i < maps->size(); ++i) {
            const auto &v = mm->vmas[i];
            const auto &m = (*maps)[i];
            QCOMPARE(v.start, m.start);
            QCOMPARE(v.end, m.end);
            QCOMPARE(v.prot, uint32_t((m.read ? 1 : 0) | (m.write ? 2 : 0) | (m.exec ? 4 : 0)));
            QCOMPARE(v.path, m.path);
            const bool rip = thread->regs.gpr[kRip] >= v.start && thread->regs.gpr[kRip] < v.end;
            if (rip) {
                QCOMPARE(v.kind, image::VmaKind::FilePrivate);
                QVERIFY(v.prot & image::kVmaExec);
                sawExe = v.path == mm->exePath;
            }
            if (m.path == "[stack]") {
                sawStack = true;
                QVERIFY(v.flags & image::kVmaGrowsDown);
                QCOMPARE(v.kind, image::VmaKind::Anonymous);
            }
            if (m.path == "[vdso]") {
                sawVdso = true;
                QCOMPARE(v.kind, image::VmaKind::Vdso);
            }
            if (m.path == "[vvar]") {
                sawVvar = true;
                QCOMPARE(v.kind, image::VmaKind::Vvar);
            }
            if (m.path == "[vvar_vclock]") {
                QCOMPARE(v.kind, image::VmaKind::VvarVclock);
            }
            if (v.kind == image::VmaKind::FilePrivate) {
                struct stat st{};
                QCOMPARE(::stat(m.path.c_str(), &st), 0);
                QCOMPARE(v.ino, uint64_t(st.st_ino));
                QCOMPARE(v.dev, uint64_t(st.st_dev));
                QCOMPARE(v.pgoff, m.offset);
            }
        }
        QVERIFY(sawStack && sawVdso && sawVvar && sawExe);
        QVERIFY(mm->vdsoHash != 0);
        QCOMPARE(mm->exePath, std::string(DUMPTARGET_PATH));
        auto stat = procfs::readStat(t.pid);
        QVERIFY(stat);
        QCOMPARE(mm->startCode, stat->number(26));
        QCOMPARE(mm->startStack, stat->number(28));
        QCOMPARE(mm->startBrk, stat->number(47));
        QCOMPARE(mm->envEnd, stat->number(51));
        QVERIFY(mm->brk >= mm->startBrk);
        QVERIFY(mm->auxv.size() >= 2 && mm->auxv.size() % 2 == 0);
        QCOMPARE(mm->auxv[mm->auxv.size() - 2], uint64_t(0));

        const auto *tree = img->one<image::ProcessTreeRecord>();
        QVERIFY(tree);
        QCOMPARE(tree->rootPid, t.pid);
        QCOMPARE(tree->processes.size(), size_t(1));
        QCOMPARE(tree->processes[0].ppid, ::getpid());
        QCOMPARE(tree->processes[0].tids, std::vector<int32_t>{t.pid});

        auto after = procfs::readMaps(t.pid);
        QVERIFY(after);
        QCOMPARE(after->size(), maps->size());
        for (size_t i = 0; i < maps->size(); ++i) {
            QCOMPARE((*after)[i].start, (*maps)[i].start);
            QCOMPARE((*after)[i].end, (*maps)[i].end);
        }
    }

    void stoppedTargetStaysStopped()
    {
        Target t;
        QVERIFY(start(t, outFile("stopped"), {"plain", "--then", "tick"}));
        QCOMPARE(::kill(t.pid, SIGSTOP), 0);
        QVERIFY(QTest::qWaitFor([&] {
            return stateOf(t.pid) == 'T';
        }));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QCOMPARE(report->verdict, Verdict::Caveat);
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        ::close(fd);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        // Still stopped by job control, no longer traced; SIGCONT lets it go on.
        QTest::qWait(100);
        QCOMPARE(stateOf(t.pid), 'T');
        QCOMPARE(tracerOf(t.pid), uint64_t(0));
        QCOMPARE(::kill(t.pid, SIGCONT), 0);
        QVERIFY(runsOn(t, false));
    }

    // Which pages are there comes from PAGEMAP_SCAN where the kernel can
    // name guard regions through it (6.15), else from pagemap's entries:
    // both give the same pages.
    void memoryPages_data()
    {
        QTest::addColumn<bool>("scan");
        QTest::newRow("PAGEMAP_SCAN") << true;
        QTest::newRow("pagemap read") << false;
    }
    void memoryPages()
    {
        QFETCH(bool, scan);
        const std::string mapped = dir() + "/mapped.bin";
        {
            std::string bytes(2 * kPage, 'F');
            QVERIFY(::close(::open(mapped.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)) == 0);
            const int f = ::open(mapped.c_str(), O_WRONLY);
            QCOMPARE(::write(f, bytes.data(), bytes.size()), ssize_t(bytes.size()));
            ::close(f);
        }
        Target t;
        QVERIFY(start(t, outFile("memory"), {"memory", "24", mapped, "--then", "tick"}));
        const uint64_t mem = t.ready["mem"], memSize = t.ready["memsize"], filemap = t.ready["filemap"];
        QVERIFY(mem && memSize == (24u << 20) && filemap);

        // Small batches so that the batching and the writer thread are exercised.
        const int fd = tempImageFd();
        PagesOptions pages;
        pages.batchBytes = 1 << 20;
        pages.pagemapScan = scan;
        PagesStats stats;
        auto result = checkpointWith(t.pid, fd, CheckpointOptions{}, pages, &stats);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(runsOn(t, false));
        QCOMPARE(stats.pagemapScans > 0, scan && kernelScansGuardRegions());
        auto img = readImage(fd);
        ::close(fd);
        QVERIFY2(img, img ? "" : img.error().describe().c_str());

        std::map<uint64_t, const uint8_t *> pageAt;
        uint64_t stored = 0;
        for (const auto *p : img->all<image::PagesRecord>()) {
            QCOMPARE(p->pid, t.pid);
            size_t offset = 0;
            for (const auto &run : p->runs) {
                for (uint32_t i = 0; i < run.pages; ++i) {
                    QVERIFY2(pageAt.emplace(run.vaddr + i * kPage, p->data.data() + offset).second, "a page stored twice");
                    offset += kPage;
                }
            }
            QCOMPARE(offset, p->data.size());
            stored += p->data.size() / kPage;
        }
        QCOMPARE(stored, result->pagesSaved);
        QVERIFY(img->all<image::PagesRecord>().size() > 2);
        const auto *end = img->one<image::EndRecord>();
        QVERIFY(end);
        QCOMPARE(end->pagesStored, stored);

        // The pattern: every page, but the zero pages are holes.
        const uint64_t pages24 = memSize / kPage;
        for (uint64_t p = 0; p < pages24; ++p) {
            const auto it = pageAt.find(mem + p * kPage);
            if (p % 16 == 15) {
                QVERIFY2(it == pageAt.end(), "a zero page was stored");
                continue;
            }
            QVERIFY2(it != pageAt.end(), qPrintable(QStringLiteral("page %1 missing").arg(p)));
            if (p < pages24 / 2) {
                uint64_t w[512];
                std::memcpy(w, it->second, kPage);
                for (size_t i = 0; i < 512; i += 97) {
                    QCOMPARE(w[i], patternWord(p, i));
                }
            } else {
                uint64_t first = 0;
                std::memcpy(&first, it->second, 8);
                QCOMPARE(first, p);
            }
        }
        // The private file mapping: the written page (copy-on-write) is
        // saved, the one only read is not (restore maps the file).
        QVERIFY(pageAt.count(filemap));
        QCOMPARE(pageAt[filemap][100], uint8_t(0x5a));
        QVERIFY(!pageAt.count(filemap + kPage));
        // A copy-on-write page of the file made all zero: saved, not a hole
        // (a hole there would be the file's bytes again on restore).
        const uint64_t filezero = t.ready["filezero"];
        QVERIFY(filezero && pageAt.count(filezero));
        QVERIFY(std::all_of(pageAt[filezero], pageAt[filezero] + kPage, [](uint8_t b) {
            return b == 0;
        }));
        // The read-only shared mapping of the file: recorded, no pages.
        const uint64_t shared = t.ready["shared"];
        QVERIFY(shared && !pageAt.count(shared));
        // The PROT_NONE page (read through /proc/PID/mem).
        const uint64_t protnone = t.ready["protnone"];
        QVERIFY(protnone && pageAt.count(protnone));
        QCOMPARE(pageAt[protnone][0], uint8_t(0xa7));
        QCOMPARE(pageAt[protnone][4095], uint8_t(0xa7));
        QVERIFY(!pageAt.count(protnone + kPage));
        // Around a guard region: the data pages, not the guard.
        if (const uint64_t guard = t.ready["guard"]) {
            QCOMPARE(stats.guardPages, uint64_t(1));
            QVERIFY(pageAt.count(guard) && pageAt.count(guard + 2 * kPage));
            QCOMPARE(pageAt[guard + 2 * kPage][0], uint8_t(0x3c));
            QVERIFY(!pageAt.count(guard + kPage));
        }
        // Every other page of the sparse mapping, each once (a page stored
        // twice fails above), none of the others.
        const uint64_t sparse = t.ready["sparse"], sparsePages = t.ready["sparsepages"];
        QVERIFY(sparse && sparsePages > 2 * 4096);
        for (uint64_t i = 0; i < sparsePages; ++i) {
            const auto page = pageAt.find(sparse + i * kPage);
            QVERIFY2((page != pageAt.end()) == (i % 2 == 0), qPrintable(QStringLiteral("sparse page %1").arg(i)));
            if (i % 2 == 0) {
                QCOMPARE(page->second[0], uint8_t(0x40 + i % 64));
                QCOMPARE(page->second[4095], uint8_t(0x40 + i % 64));
            }
        }
        // Nothing outside anonymous and private file VMAs.
        const auto *mm = img->one<image::MmRecord>();
        QVERIFY(mm);
        const auto sharedVma = std::find_if(mm->vmas.begin(), mm->vmas.end(), [shared](const image::VmaRecord &v) {
            return v.start == shared;
        });
        QVERIFY(sharedVma != mm->vmas.end());
        QCOMPARE(sharedVma->kind, image::VmaKind::FileShared);
        QCOMPARE(sharedVma->prot, image::kVmaRead);
        QCOMPARE(sharedVma->path, mapped);
        for (const auto &[addr, data] : pageAt) {
            const auto vma = std::find_if(mm->vmas.begin(), mm->vmas.end(), [addr](const image::VmaRecord &v) {
                return addr >= v.start && addr < v.end;
            });
            QVERIFY(vma != mm->vmas.end());
            QVERIFY(vma->kind == image::VmaKind::Anonymous || vma->kind == image::VmaKind::FilePrivate);
        }
        // Anonymous memory only read: the shared zero page, a hole not even
        // read (pagemap shows frame numbers to root).
        const uint64_t zeroRead = t.ready["zeroread"];
        QVERIFY(zeroRead);
        for (uint64_t p = 0; p < 8; ++p) {
            QVERIFY(!pageAt.count(zeroRead + p * kPage));
        }
        // Not even read where the kernel maps its shared zero page on a
        // read fault; found by their contents (the check above) where it
        // gives every fault a page of its own (seen on 6.18.44-fc).
        if (::geteuid() == 0 && engine::sharedZeroPfn() != 0) {
            QVERIFY(stats.zeroMappedPages >= 8);
        } else {
            QCOMPARE(stats.zeroMappedPages, uint64_t(0));
        }
        QVERIFY(result->rawBytes >= stored * kPage);
        QVERIFY(result->imageBytes < result->rawBytes); // compressed
    }

    void filesAndUnlinkedData()
    {
        const std::string files = dir() + "/files";
        QCOMPARE(::mkdir(files.c_str(), 0755), 0);
        {
            const int f = ::open((files + "/read.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            QCOMPARE(::write(f, "0123456789", 10), ssize_t(10));
            ::close(f);
        }
        Target t;
        QVERIFY(start(t, outFile("files"), {"files", files, "--then", "tick"}));
        auto report = analyze(t.pid);
        QVERIFY(report);
        QVERIFY2(report->verdict == Verdict::Ok, report->summary().c_str());

        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(runsOn(t, false));
        auto img = readImage(fd);
        ::close(fd);
        QVERIFY(img);
        const auto *rec = img->one<image::FilesRecord>();
        QVERIFY(rec);
        QCOMPARE(rec->fds.size(), size_t(8));
        std::map<int, const image::FdRecord *> byFd;
        for (const auto &f : rec->fds) {
            byFd[f.fd] = &f;
        }
        QCOMPARE(byFd[3]->kind, image::FdKind::Regular);
        QCOMPARE(byFd[3]->path, files + "/read.txt");
        QCOMPARE(byFd[3]->pos, uint64_t(5));
        QCOMPARE(byFd[3]->openFlags & O_ACCMODE, uint32_t(O_RDONLY));
        QCOMPARE(byFd[3]->size, uint64_t(10));
        QVERIFY(!byFd[3]->cloexec);
        QVERIFY(!byFd[3]->unlinked);
        QCOMPARE(byFd[4]->openFlags & (O_ACCMODE | O_APPEND), uint32_t(O_WRONLY | O_APPEND));
        QCOMPARE(byFd[5]->path, files + "/unlinked.txt");
        QVERIFY(byFd[5]->unlinked);
        QCOMPARE(byFd[5]->pos, uint64_t(3));
        QCOMPARE(byFd[5]->openFlags & O_ACCMODE, uint32_t(O_RDWR));
        QCOMPARE(byFd[6]->kind, image::FdKind::Directory);
        QCOMPARE(byFd[6]->path, files);
        QCOMPARE(byFd[7]->kind, image::FdKind::CharDevice);
        QCOMPARE(byFd[7]->path, std::string("/dev/null"));
        QCOMPARE(byFd[7]->rdev, uint64_t(makedev(1, 3)));
        QVERIFY(byFd[7]->cloexec);
        QCOMPARE(byFd[7]->openFlags & O_CLOEXEC, 0u);
        const auto data = img->all<image::FileDataRecord>();
        QCOMPARE(data.size(), size_t(1));
        QCOMPARE(data[0]->fd, 5);
        const std::string secret(data[0]->data.begin(), data[0]->data.end());
        QCOMPARE(secret, std::string("secret contents of an unlinked file"));
    }

    // With SIGTRAP ignored, or pending, the capture's injection takes no
    // trap stops (a trap would reset the disposition, or the pending one
    // would arrive): both stay as they were, in the image and in the
    // process.
    void signalsAndAltstack_data()
    {
        QTest::addColumn<QString>("trap");
        QTest::newRow("SIGTRAP default") << QString();
        QTest::newRow("SIGTRAP ignored") << QStringLiteral("ignored");
        QTest::newRow("SIGTRAP pending") << QStringLiteral("pending");
    }
    void signalsAndAltstack()
    {
        QFETCH(QString, trap);
        Target t;
        std::vector<std::string> args{"signals"};
        if (!trap.isEmpty()) {
            args.push_back(trap.toStdString());
        }
        QVERIFY(start(t, outFile("signals"), args));
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        auto img = readImage(fd);
        ::close(fd);
        QVERIFY(img);
        const auto *sig = img->one<image::SignalsRecord>();
        QVERIFY(sig);
        std::map<uint32_t, image::SigactionEntry> actions;
        for (const auto &a : sig->actions) {
            actions[a.signo] = a;
        }
        QVERIFY(actions.count(SIGUSR1));
        QCOMPARE(actions[SIGUSR1].handler, t.ready["handler"]);
        QCOMPARE(actions[SIGUSR1].flags & (SA_RESTART | SA_SIGINFO), uint64_t(SA_RESTART | SA_SIGINFO));
        QVERIFY(actions[SIGUSR1].restorer != 0); // glibc's __restore_rt
        QCOMPARE(actions[SIGUSR1].mask, uint64_t(1) << (SIGUSR2 - 1));
        QVERIFY(actions.count(SIGPIPE));
        QCOMPARE(actions[SIGPIPE].handler, uint64_t(1)); // SIG_IGN
        QVERIFY(!actions.count(SIGTERM));
        QCOMPARE(actions.count(SIGTRAP), size_t(trap == QLatin1String("ignored") ? 1 : 0));
        if (trap == QLatin1String("ignored")) {
            QCOMPARE(actions[SIGTRAP].handler, uint64_t(1)); // SIG_IGN
        }
        const auto *thread = img->one<image::ThreadRecord>();
        QVERIFY(thread);
        const uint64_t trapBit = uint64_t(1) << (SIGTRAP - 1);
        QCOMPARE(thread->sigmask, (uint64_t(1) << (SIGHUP - 1)) | (trap == QLatin1String("pending") ? trapBit : 0));
        QCOMPARE(thread->pending.size(), size_t(trap == QLatin1String("pending") ? 1 : 0));
        if (trap == QLatin1String("pending")) {
            QCOMPARE(thread->pending.front().signo, uint32_t(SIGTRAP));
        }
        auto status = procfs::readStatus(t.pid);
        QVERIFY(status);
        auto ignored = procfs::statusHex(*status, "SigIgn");
        auto pending = procfs::statusHex(*status, "SigPnd");
        QVERIFY(ignored && pending);
        QCOMPARE(*ignored & trapBit, trap == QLatin1String("ignored") ? trapBit : 0);
        QCOMPARE(*pending, trap == QLatin1String("pending") ? trapBit : 0);
        QCOMPARE(thread->altstackSp, t.ready["altstack"]);
        QCOMPARE(thread->altstackSize, uint64_t(64 * 1024));
        QCOMPARE(thread->altstackFlags, 0u);
        QVERIFY(thread->clearChildTid != 0); // glibc sets it at start-up

        // It was in pause(): after the checkpoint it still is, and its handler
        // still runs.
        QVERIFY(QTest::qWaitFor([&] {
            return stateOf(t.pid) == 'S';
        }));
        QCOMPARE(tracerOf(t.pid), uint64_t(0));
        QCOMPARE(::kill(t.pid, SIGUSR1), 0);
        QVERIFY(QTest::qWaitFor([&] {
            return fileContents(t.out).find("usr1") != std::string::npos;
        }));
    }

    // Every thread gets its record: tid, name, mask, clear_child_tid and
    // robust list (from injection and get_robust_list), fs base (TLS).
    void everyThreadCaptured()
    {
        Target t;
        QVERIFY(start(t, outFile("threads"), {"threads", "--then", "tick"}));
        const pid_t worker = pid_t(t.ready["tid"]);
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        auto img = readImage(fd);
        ::close(fd);
        QVERIFY(img);
        const auto *tree = img->one<image::ProcessTreeRecord>();
        QVERIFY(tree);
        QCOMPARE(tree->processes.front().tids, (std::vector<int32_t>{t.pid, worker}));
        const auto threads = img->all<image::ThreadRecord>();
        QCOMPARE(threads.size(), size_t(2));
        const image::ThreadRecord &leader = *threads[0];
        const image::ThreadRecord &second = *threads[1];
        QCOMPARE(leader.tid, t.pid);
        QCOMPARE(second.tid, worker);
        QCOMPARE(second.pid, t.pid);
        QCOMPARE(leader.name, std::string("dumptarget"));
        QCOMPARE(second.name, std::string("worker"));
        QCOMPARE(second.sigmask & (uint64_t(1) << (SIGUSR2 - 1)), uint64_t(1) << (SIGUSR2 - 1));
        QCOMPARE(leader.sigmask & (uint64_t(1) << (SIGUSR2 - 1)), uint64_t(0));
        for (const image::ThreadRecord *thread : threads) {
            QVERIFY(thread->clearChildTid != 0);
            QVERIFY(thread->robustListHead != 0);
            QCOMPARE(thread->robustListLen, uint64_t(24));
            QVERIFY(thread->regs.gpr[kFsBase] != 0);
        }
        // glibc keeps each thread's robust list head in its thread descriptor,
        // which the fs base points at.
        QVERIFY(leader.robustListHead != second.robustListHead);
        QVERIFY(leader.regs.gpr[kFsBase] != second.regs.gpr[kFsBase]);
        QVERIFY(second.robustListHead > second.regs.gpr[kFsBase] && second.robustListHead < second.regs.gpr[kFsBase] + 4096);
        QVERIFY(runsOn(t, false));
        QCOMPARE(stateOf(worker), 'S');
    }

    // A restore that cannot give a thread its tid fails naming the holder and
    // leaves nothing behind; once the tid is free the same image restores
    // both threads, with their tids and names, and the process runs on.
    void threadTidInUseThenRestored()
    {
        Target t;
        QVERIFY(start(t, outFile("threads-restore"), {"threads", "--then", "tick"}));
        const pid_t pid = t.pid;
        const pid_t worker = pid_t(t.ready["tid"]);
        const int fd = tempImageFd();
        QVERIFY(fd >= 0);
        CheckpointOptions options;
        options.leaveRunning = false;
        auto result = checkpoint(pid, fd, options);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, 0), pid);
        t.pid = -1;

        // A process holding the worker's tid (clone3 set_tid, fork-like).
        const long holder = holdTid(worker);
        QCOMPARE(holder, long(worker));
        Target holderGuard;
        holderGuard.pid = pid_t(holder);

        QCOMPARE(::lseek(fd, 0, SEEK_SET), off_t(0));
        auto failed = restore(fd, RestoreOptions{});
        QVERIFY(!failed);
        QCOMPARE(failed.error().code, EEXIST);
        const std::string message = failed.error().describe();
        QVERIFY2(message.find("pid " + std::to_string(worker) + " is in use by process " + std::to_string(worker)) != std::string::npos, message.c_str());
        QCOMPARE(::kill(pid, 0), -1); // the leader is gone, and reaped
        QCOMPARE(errno, ESRCH);
        QCOMPARE(::waitpid(pid, &status, WNOHANG), -1);

        ::kill(pid_t(holder), SIGKILL);
        QCOMPARE(::waitpid(pid_t(holder), &status, 0), pid_t(holder));
        holderGuard.pid = -1;
        QCOMPARE(::lseek(fd, 0, SEEK_SET), off_t(0));
        auto restored = restore(fd, RestoreOptions{});
        ::close(fd);
        QVERIFY2(restored, restored ? "" : restored.error().describe().c_str());
        QCOMPARE(restored->root, pid);
        t.pid = pid; // ours again: the restored process is our child
        auto tids = procfs::listThreads(pid);
        QVERIFY(tids);
        QCOMPARE(*tids, (std::vector<pid_t>{pid, worker}));
        QCOMPARE(fileContents("/proc/" + std::to_string(pid) + "/task/" + std::to_string(worker) + "/comm"), std::string("worker\n"));
        QVERIFY(runsOn(t, false));
        QCOMPARE(stateOf(worker), 'S');
    }

    // A restore failing after it created some threads (the last tid is
    // taken) kills and reaps the process and every thread it made.
    void failureAfterSomeThreadsLeavesNothing()
    {
        Target t;
        QVERIFY(start(t, outFile("threads3"), {"threads3", "--then", "tick"}));
        const pid_t pid = t.pid;
        const pid_t tids[] = {pid_t(t.ready["tid"]), pid_t(t.ready["tid2"]), pid_t(t.ready["tid3"])};
        const int fd = tempImageFd();
        CheckpointOptions options;
        options.leaveRunning = false;
        auto result = checkpoint(pid, fd, options);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, 0), pid);
        t.pid = -1;

        const pid_t last = *std::max_element(std::begin(tids), std::end(tids));
        const long holder = holdTid(last);
        QCOMPARE(holder, long(last));
        Target holderGuard;
        holderGuard.pid = pid_t(holder);

        QCOMPARE(::lseek(fd, 0, SEEK_SET), off_t(0));
        auto failed = restore(fd, RestoreOptions{});
        ::close(fd);
        QVERIFY(!failed);
        QCOMPARE(failed.error().code, EEXIST);
        for (const pid_t tid : {pid, tids[0], tids[1], tids[2]}) {
            if (tid == last) {
                continue;
            }
            QVERIFY2(::kill(tid, 0) == -1 && errno == ESRCH, ("thread " + std::to_string(tid) + " was left behind").c_str());
            QVERIFY(!QFile::exists(QString::fromStdString("/proc/" + std::to_string(tid))));
        }
        QCOMPARE(::waitpid(-1, &status, WNOHANG), 0); // only the holder is a child, alive: no zombie
    }

    // Credentials are per thread in the kernel: every restored thread must
    // get the process's, not the restorer's.
    void threadsGetTheProcessCredentials()
    {
        Target t;
        QVERIFY(start(t, outFile("threads-nobody"), {"threads", "--then", "tick"}, 65534));
        const pid_t pid = t.pid;
        const pid_t worker = pid_t(t.ready["tid"]);
        const int fd = tempImageFd();
        CheckpointOptions options;
        options.leaveRunning = false;
        auto result = checkpoint(pid, fd, options);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, 0), pid);
        t.pid = -1;
        QCOMPARE(::lseek(fd, 0, SEEK_SET), off_t(0));
        auto restored = restore(fd, RestoreOptions{});
        ::close(fd);
        QVERIFY2(restored, restored ? "" : restored.error().describe().c_str());
        t.pid = pid;
        for (const pid_t tid : {pid, worker}) {
            auto st = procfs::readStatus(pid, tid);
            QVERIFY(st);
            QCOMPARE(st->at("Uid"), std::string("65534\t65534\t65534\t65534"));
            QCOMPARE(st->at("Gid"), std::string("65534\t65534\t65534\t65534"));
            QCOMPARE(st->at("Groups"), std::string());
            QCOMPARE(st->at("CapEff"), std::string("0000000000000000"));
            QCOMPARE(st->at("CapPrm"), std::string("0000000000000000"));
        }
        QVERIFY(runsOn(t, false));
    }

    void taskAndCreds()
    {
        const std::string cwd = dir() + "/cwd";
        QCOMPARE(::mkdir(cwd.c_str(), 0755), 0);
        Target t;
        QVERIFY(start(t, outFile("task"), {"task", cwd, "--then", "tick"}));
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(runsOn(t, false));
        auto img = readImage(fd);
        ::close(fd);
        QVERIFY(img);
        const auto *task = img->one<image::TaskRecord>();
        QVERIFY(task);
        QCOMPARE(task->pid, t.pid);
        QCOMPARE(task->comm, std::string("dumptask"));
        QCOMPARE(task->umask, 027u);
        QCOMPARE(task->cwd, cwd);
        QCOMPARE(task->root, std::string("/"));
        QCOMPARE(task->exePath, std::string(DUMPTARGET_PATH));
        QCOMPARE(task->rlimits[RLIMIT_NOFILE].cur, uint64_t(100));
        rlimit own{};
        ::getrlimit(RLIMIT_STACK, &own);
        QCOMPARE(task->rlimits[RLIMIT_STACK].max, uint64_t(own.rlim_max));
        QCOMPARE(task->exitSignal, SIGCHLD);
        const auto *creds = img->one<image::CredsRecord>();
        QVERIFY(creds);
        QCOMPARE(creds->uid, 0u);
        QCOMPARE(creds->euid, 0u);
        QCOMPARE(creds->fsgid, 0u);
        auto status = procfs::readStatus(t.pid);
        QVERIFY(status);
        QCOMPARE(creds->capBounding, *procfs::statusHex(*status, "CapBnd"));
        QCOMPARE(creds->capEffective, *procfs::statusHex(*status, "CapEff"));
        QVERIFY(!creds->noNewPrivs);
        QCOMPARE(creds->securebits, 0u);
    }

    void anotherUsersProcess()
    {
        // Root here lacks CAP_SYS_RESOURCE: nothing may depend on it (prlimit
        // on another user's process would).
        Target t;
        QVERIFY(start(t, outFile("nobody"), {"plain", "--then", "tick"}, 65534));
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(runsOn(t, false));
        auto img = readImage(fd);
        ::close(fd);
        QVERIFY(img);
        const auto *creds = img->one<image::CredsRecord>();
        QVERIFY(creds);
        QCOMPARE(creds->uid, 65534u);
        QCOMPARE(creds->suid, 65534u);
        QCOMPARE(creds->fsgid, 65534u);
        QVERIFY(creds->groups.empty());
        QCOMPARE(creds->capEffective, uint64_t(0));
        const auto *task = img->one<image::TaskRecord>();
        QVERIFY(task);
        rlimit own{};
        ::getrlimit(RLIMIT_NOFILE, &own);
        QCOMPARE(task->rlimits[RLIMIT_NOFILE].cur, uint64_t(own.rlim_cur));
        QCOMPARE(task->rlimits[RLIMIT_NOFILE].max, uint64_t(own.rlim_max));
        QCOMPARE(task->rlimits[RLIMIT_CPU].cur, uint64_t(RLIM_INFINITY));
    }

    void interruptedSleepRestarts()
    {
        // Ticking in nanosleep: frozen mid-sleep, injected into, released;
        // the sleep must restart by itself, not fail.
        Target t;
        QVERIFY(start(t, outFile("tick"), {"plain", "--then", "tick"}));
        for (int i = 0; i < 5; ++i) {
            const int fd = tempImageFd();
            auto result = checkpoint(t.pid, fd, CheckpointOptions{});
            ::close(fd);
            QVERIFY2(result, result ? "" : result.error().describe().c_str());
        }
        QVERIFY(runsOn(t, false));
        QVERIFY(fileContents(t.out).find("dumptarget:") == std::string::npos); // no error from write/nanosleep
    }

    void failureMidwayLeavesTargetRunning()
    {
        Target t;
        const std::string mapped = dir() + "/mapped2.bin";
        QCOMPARE(::close(::open(mapped.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)), 0);
        QCOMPARE(::truncate(mapped.c_str(), 2 * kPage), 0);
        QVERIFY(start(t, outFile("midway"), {"memory", "32", mapped, "--then", "tick"}));

        // A closed pipe: the very first write fails (EPIPE, no SIGPIPE death).
        {
            int p[2];
            QCOMPARE(::pipe2(p, O_CLOEXEC), 0);
            ::close(p[0]);
            auto result = checkpoint(t.pid, p[1], CheckpointOptions{});
            ::close(p[1]);
            QVERIFY(!result);
            QCOMPARE(result.error().code, EPIPE);
            QVERIFY(runsOn(t, false));
        }
        // A reader that goes away after 256 KiB: fails among the pages.
        {
            int p[2];
            QCOMPARE(::pipe2(p, O_CLOEXEC), 0);
            std::atomic<size_t> got{0};
            std::thread reader([&] {
                char buf[65536];
                while (got < 256 * 1024) {
                    const ssize_t n = ::read(p[0], buf, sizeof buf);
                    if (n <= 0) {
                        break;
                    }
                    got += size_t(n);
                }
                ::close(p[0]);
            });
            auto result = checkpoint(t.pid, p[1], CheckpointOptions{});
            reader.join();
            ::close(p[1]);
            QVERIFY(!result);
            QVERIFY(got >= 256 * 1024);
            QVERIFY2(result.error().describe().find("write image") != std::string::npos, result.error().describe().c_str());
            QVERIFY(runsOn(t, false));
        }
        // And then a checkpoint still works.
        const int fd = tempImageFd();
        auto result = checkpoint(t.pid, fd, CheckpointOptions{});
        ::close(fd);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(runsOn(t, false));
    }

    // The page dump of a tree goes through one pipeline (mem.h PageDump):
    // process k+1 is read while process k is written. With batches of 64
    // pages every process has many, and with a pipe as the image's fd the
    // writer is slow: every page of every process must still be in the
    // image, in its own process's records, those in the tree's order, and
    // the records must be exactly those of the dump without the pipeline
    // (each process written before the next is read), frozen and low pause.
    void treePagesThroughOnePipeline()
    {
        TreeTarget t;
        QVERIFY(t.start(outFile("treepages"), 4, 1536, "tick"));
        const uint64_t regionPages = t.regionBytes / kPage;

        struct Dump {
            std::vector<image::PagesRecord> pages;
            uint64_t pagesSaved = 0;
            PagesStats stats;
        };
        auto dump = [&](bool pipeline, bool lowPause) -> Result<Dump> {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) {
                return sysError("pipe");
            }
            ::fcntl(p[1], F_SETPIPE_SZ, 4096); // the writer waits for the reader again and again
            const int fd = tempImageFd();
            std::thread copier([&] {
                char buf[16384];
                ssize_t n;
                while ((n = ::read(p[0], buf, sizeof buf)) > 0) {
                    (void)!::write(fd, buf, size_t(n));
                }
            });
            PagesOptions pages;
            pages.batchBytes = 64 * kPage;
            pages.acrossProcesses = pipeline;
            CheckpointOptions options;
            options.lowPause = lowPause;
            Dump out;
            auto result = checkpointWith(t.root.pid, p[1], options, pages, &out.stats);
            ::close(p[1]);
            copier.join();
            ::close(p[0]);
            if (!result) {
                ::close(fd);
                return std::unexpected(result.error());
            }
            if (result->lowPause != lowPause) {
                ::close(fd);
                return fail("low pause " + std::string(result->lowPause ? "taken" : "not taken: " + result->lowPauseFallback), EINVAL);
            }
            auto img = readImage(fd);
            ::close(fd);
            if (!img) {
                return std::unexpected(img.error());
            }
            for (const auto *pr : img->all<image::PagesRecord>()) {
                out.pages.push_back(*pr);
            }
            out.pagesSaved = result->pagesSaved;
            return out;
        };

        // The records: by process in the tree's order, each process's pages
        // ascending, none twice, all of its region there but the zero pages,
        // every byte as the process wrote it.
        auto checkRecords = [&t, regionPages](const Dump &d) {
            size_t process = 0;
            uint64_t lastAddr = 0, stored = 0;
            std::vector<uint64_t> regionPagesSeen(t.pids.size());
            for (const image::PagesRecord &record : d.pages) {
                if (record.pid != t.pids[process]) {
                    const auto next = std::find(t.pids.begin() + long(process) + 1, t.pids.end(), record.pid);
                    QVERIFY2(next != t.pids.end(), qPrintable(QStringLiteral("pages of %1 out of the tree's order").arg(record.pid)));
                    process = size_t(next - t.pids.begin());
                    lastAddr = 0;
                }
                size_t offset = 0;
                for (const image::PageRun &run : record.runs) {
                    for (uint32_t i = 0; i < run.pages; ++i, offset += kPage) {
                        const uint64_t addr = run.vaddr + i * kPage;
                        QVERIFY2(addr > lastAddr || lastAddr == 0, "pages of a process not ascending");
                        lastAddr = addr;
                        if (addr < t.mem || addr >= t.mem + t.regionBytes * t.pids.size()) {
                            continue; // the program's own memory (stack, libc)
                        }
                        const uint64_t region = (addr - t.mem) / t.regionBytes, page = (addr - t.mem) % t.regionBytes / kPage;
                        QCOMPARE(region, uint64_t(process));
                        QVERIFY(page % 16 != 15); // a hole
                        uint64_t w[512];
                        std::memcpy(w, record.data.data() + offset, kPage);
                        for (size_t k = 0; k < 512; k += 31) {
                            QCOMPARE(w[k], treeWord(process, page, k));
                        }
                        ++regionPagesSeen[process];
                    }
                }
                QCOMPARE(offset, record.data.size());
                stored += record.data.size() / kPage;
            }
            QCOMPARE(stored, d.pagesSaved);
            for (size_t i = 0; i < t.pids.size(); ++i) {
                QCOMPARE(regionPagesSeen[i], regionPages - regionPages / 16);
            }
        };

        for (const bool lowPause : {false, true}) {
            auto piped = dump(true, lowPause);
            QVERIFY2(piped, piped ? "" : piped.error().describe().c_str());
            QVERIFY(t.runsOn());
            // Every process has several batches of its region alone.
            QVERIFY2(piped->stats.batches >= 5 * (regionPages * 15 / 16) / 64, std::to_string(piped->stats.batches).c_str());
            checkRecords(*piped);
            if (QTest::currentTestFailed()) {
                return;
            }

            // The same records as without the pipeline, for the children
            // (waiting in pause(): their layout does not change; the root
            // ticks on between the two dumps). The bytes outside the
            // regions may differ (the kernel updates a thread's rseq area
            // when it runs on another CPU).
            auto plain = dump(false, lowPause);
            QVERIFY2(plain, plain ? "" : plain.error().describe().c_str());
            QVERIFY(t.runsOn());
            checkRecords(*plain);
            if (QTest::currentTestFailed()) {
                return;
            }
            auto childRecords = [&t](const Dump &d) {
                std::vector<const image::PagesRecord *> out;
                for (const image::PagesRecord &r : d.pages) {
                    if (r.pid != t.root.pid) {
                        out.push_back(&r);
                    }
                }
                return out;
            };
            const auto a = childRecords(*piped), b = childRecords(*plain);
            QCOMPARE(a.size(), b.size());
            for (size_t i = 0; i < a.size(); ++i) {
                QCOMPARE(a[i]->pid, b[i]->pid);
                QVERIFY(a[i]->runs == b[i]->runs);
                QCOMPARE(a[i]->data.size(), b[i]->data.size());
            }
        }
    }

    // The reader checksums a batch of an uncompressed image when the writer
    // is still busy with the one before (PagesOptions::readerChecksums).
    // Forced to every batch, and to none: the image reads back (every
    // section's checksum verified) with every page of the tree's regions.
    void readerChecksums()
    {
        TreeTarget t;
        QVERIFY(t.start(outFile("readersums"), 2, 512, "tick"));
        const uint64_t regionPages = t.regionBytes / kPage;
        using Who = PagesOptions::ReaderChecksums;
        for (const Who who : {Who::Always, Who::Never}) {
            const int fd = tempImageFd();
            PagesOptions pages;
            pages.batchBytes = 64 * kPage; // the smallest batch: several per process
            pages.readerChecksums = who;
            CheckpointOptions options;
            options.compress = false;
            PagesStats stats;
            auto result = checkpointWith(t.root.pid, fd, options, pages, &stats);
            QVERIFY2(result, result ? "" : result.error().describe().c_str());
            QVERIFY(t.runsOn());
            auto img = readImage(fd);
            ::close(fd);
            QVERIFY2(img, img ? "" : img.error().describe().c_str());
            const auto records = img->all<image::PagesRecord>();
            QVERIFY(records.size() > 2 * t.pids.size());
            QCOMPARE(stats.readerChecksums, who == Who::Always ? uint64_t(records.size()) : 0u);
            std::vector<uint64_t> seen(t.pids.size());
            for (const image::PagesRecord *record : records) {
                const auto index = size_t(std::find(t.pids.begin(), t.pids.end(), record->pid) - t.pids.begin());
                QVERIFY(index < t.pids.size());
                size_t offset = 0;
                for (const image::PageRun &run : record->runs) {
                    for (uint32_t i = 0; i < run.pages; ++i, offset += kPage) {
                        const uint64_t addr = run.vaddr + i * kPage;
                        if (index == 0 || addr < t.mem + t.regionBytes * index || addr >= t.mem + t.regionBytes * (index + 1)) {
                            continue; // the root ticks on; the children's own stacks and libc
                        }
                        const uint64_t page = (addr - t.mem) % t.regionBytes / kPage;
                        uint64_t w[512];
                        std::memcpy(w, record->data.data() + offset, kPage);
                        for (size_t k = 0; k < 512; k += 31) {
                            QCOMPARE(w[k], treeWord(index, page, k));
                        }
                        ++seen[index];
                    }
                }
            }
            for (size_t i = 1; i < t.pids.size(); ++i) {
                QCOMPARE(seen[i], regionPages - regionPages / 16);
            }
        }
    }

    // A process of the tree that dies while the pipeline reads the tree (the
    // kernel frees its memory: pagemap and process_vm_readv fail): the
    // checkpoint fails naming that process, the writer thread is stopped,
    // every other process runs on. A reader of the image that goes away
    // mid-tree (the writer fails) ends it the same way.
    void treePageReadFailsMidDump()
    {
        TreeTarget t;
        QVERIFY(t.start(outFile("treefail"), 4, 2048, "tick"));
        PagesOptions pages;
        pages.batchBytes = 64 * kPage;
        CheckpointOptions options;
        options.compress = false; // the image's offsets follow the pages

        // The image's reader stops after 2.5 MiB: the writer is in the
        // second child's pages and waits, the reader (a few batches ahead
        // at most) too; meanwhile the fourth child is killed. Then the rest
        // is read.
        const pid_t victim = t.pids[4];
        {
            int p[2];
            QCOMPARE(::pipe2(p, O_CLOEXEC), 0);
            std::atomic<bool> killed {false};
            std::thread reader([&] {
                char buf[65536];
                size_t got = 0;
                ssize_t n;
                while ((n = ::read(p[0], buf, sizeof buf)) > 0) {
                    got += size_t(n);
                    if (!killed && got >= (5u << 19)) {
                        ::usleep(100 * 1000);
                        ::kill(victim, SIGKILL);
                        for (int i = 0; i < 200 && stateOf(victim) != 'Z' && stateOf(victim) != '?'; ++i) {
                            ::usleep(5000);
                        }
                        killed = true;
                    }
                }
                ::close(p[0]);
            });
            auto result = checkpointWith(t.root.pid, p[1], options, pages);
            ::close(p[1]);
            reader.join();
            QVERIFY(killed);
            QVERIFY(!result);
            const std::string message = result.error().describe();
            QVERIFY2(message.find("pages of " + std::to_string(victim)) != std::string::npos, message.c_str());
            t.pids.pop_back(); // the victim is gone
            QVERIFY(t.runsOn());
        }
        // The reader closes the pipe after 2.5 MiB: the writer fails (EPIPE).
        {
            int p[2];
            QCOMPARE(::pipe2(p, O_CLOEXEC), 0);
            std::thread reader([&] {
                char buf[65536];
                size_t got = 0;
                ssize_t n;
                while (got < (5u << 19) && (n = ::read(p[0], buf, sizeof buf)) > 0) {
                    got += size_t(n);
                }
                ::close(p[0]);
            });
            auto result = checkpointWith(t.root.pid, p[1], options, pages);
            reader.join();
            ::close(p[1]);
            QVERIFY(!result);
            QCOMPARE(result.error().code, EPIPE);
            const std::string message = result.error().describe();
            QVERIFY2(message.find("write image") != std::string::npos && message.find("pages of ") != std::string::npos, message.c_str());
            QVERIFY(t.runsOn());
        }
        // And then the tree (with the victim a zombie of the root) is
        // checkpointed whole.
        const int fd = tempImageFd();
        auto result = checkpointWith(t.root.pid, fd, options, pages);
        ::close(fd);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        QVERIFY(t.runsOn());
    }

    void killMode()
    {
        Target t;
        QVERIFY(start(t, outFile("kill"), {"plain", "--then", "tick"}));
        const int fd = tempImageFd();
        CheckpointOptions options;
        options.leaveRunning = false;
        auto result = checkpoint(t.pid, fd, options);
        QVERIFY2(result, result ? "" : result.error().describe().c_str());
        int status = 0;
        QCOMPARE(::waitpid(t.pid, &status, __WALL), t.pid);
        t.pid = -1;
        QVERIFY(WIFSIGNALED(status));
        QCOMPARE(WTERMSIG(status), SIGKILL);
        auto img = readImage(fd); // complete before the kill
        ::close(fd);
        QVERIFY2(img, img ? "" : img.error().describe().c_str());
    }

    void vanishedProcess()
    {
        Target t;
        QVERIFY(start(t, outFile("gone"), {"plain"}));
        const pid_t pid = t.pid;
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        t.pid = -1;
        const int fd = tempImageFd();
        auto result = checkpoint(pid, fd, CheckpointOptions{});
        QVERIFY(!result);
        QCOMPARE(result.error().code, ESRCH);
        struct stat st{};
        ::fstat(fd, &st);
        QCOMPARE(st.st_size, off_t(0));
        ::close(fd);
    }
};

QTEST_GUILESS_MAIN(CheckpointTest)
#include "checkpointtest.moc"
