// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// gui_responsiveness: the GUI's figures of issue 8, each printed next to its
// limit:
//   1. the process tree's refresh with 2,000 (more) processes of a user
//      (nobody: a desktop's processes are its user's): the /proc
//      scan (worker thread) and applying it to ProcessModel (UI thread),
//      < 50 ms each;
//   2. the timeline of a store with 10,000 snapshots: TimelineModel::reload
//      on a freshly opened store, < 200 ms;
//   3. app start to first frame: QApplication, the Main window from the
//      io.github.cryopod module, first frame swapped, < 1 s (on a private
//      Xvfb, Mesa llvmpipe).
// A program, not a test: run it as root (the timeline's snapshots are
// imports of one real image that the engine takes of a child) on a quiet
// machine.
//
// usage: gui_responsiveness [--processes N] [--snapshots N] [--keep DIR] [--no-exec-wait]
// --no-exec-wait: scan right after forking the processes, while they are
// still being exec'd (as the bench did before 2026-12-03 23:00).

#include "application.h"
#include "desktopapps.h"
#include "engine.h"
#include "processmodel.h"
#include "processscanner.h"
#include "snapshotstore.h"
#include "timelinemodel.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QTemporaryDir>

#include "../tests/app/xvfbserver.h" // after Qt's headers, as in the GUI tests

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace
{
[[noreturn]] void die(const std::string &message)
{
    std::fprintf(stderr, "gui_responsiveness: %s\n", message.c_str());
    std::fflush(nullptr);
    ::_exit(1); // not through the destructors of a half-used QApplication
}

// CPU time of this process (all its threads) and of the calling thread.
double processCpuMs()
{
    timespec t {};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

double threadCpuMs()
{
    timespec t {};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

void line(const char *what, double ms, double limitMs)
{
    std::printf("%-58s %9.2f ms   limit %6.0f ms   %s\n", what, ms, limitMs, ms < limitMs ? "ok" : "OVER");
}

// A child running `sleep` with /dev/null on 0-2 and no other fd: a fresh
// program, not a copy of this one's mappings.
// asUser: under that uid and gid (as a desktop's processes are its user's,
// not root's).
// Its fds from 3 on are closed by its exec: waitForExecs() knows by that
// when every child started since its ExecWait has become `sleep`.
pid_t spawnIdle(uid_t asUser = 0)
{
    const pid_t pid = ::fork();
    if (pid < 0) {
        die(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        if (asUser != 0 && (::setresgid(asUser, asUser, asUser) != 0 || ::setresuid(asUser, asUser, asUser) != 0)) {
            ::_exit(126);
        }
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // after the ids: changing them clears it
        const int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; ++fd) {
            ::dup2(null, fd);
        }
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        ::execl("/bin/sleep", "sleep", "3600", static_cast<char *>(nullptr));
        ::_exit(127);
    }
    return pid;
}

// The children started while it exists hold its pipe's write end until
// their exec: its read end sees the end of the pipe when all of them run
// `sleep` (a scan then measures the scan, not the scan beside hundreds of
// execs still under way).
class ExecWait
{
public:
    ExecWait()
    {
        if (::pipe2(m_fds, O_CLOEXEC) != 0) {
            die(std::string("pipe: ") + std::strerror(errno));
        }
    }
    ~ExecWait()
    {
        for (int fd : m_fds) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    ExecWait(const ExecWait &) = delete;
    ExecWait &operator=(const ExecWait &) = delete;

    void waitForExecs()
    {
        ::close(m_fds[1]);
        m_fds[1] = -1;
        for (;;) {
            char byte;
            const ssize_t n = ::read(m_fds[0], &byte, 1);
            if (n == 0) {
                return;
            }
            if (n < 0 && errno != EINTR) {
                die(std::string("read: ") + std::strerror(errno));
            }
        }
    }

private:
    int m_fds[2] = {-1, -1};
};

void reap(std::vector<pid_t> &pids)
{
    for (pid_t pid : pids) {
        ::kill(pid, SIGKILL);
    }
    for (pid_t pid : pids) {
        ::waitpid(pid, nullptr, 0);
    }
    pids.clear();
}

// 1. The tree: a scan and its application, the second time (every row known:
// what each refresh does), and once with 10 % of the processes replaced.
// waitForExecs: scan once the started processes run `sleep` (else while
// they are still being forked and exec'd beside the scan).
void processTree(int count, bool waitForExecs)
{
    std::vector<pid_t> children;
    children.reserve(size_t(count));
    // A user's processes (nobody's here): /proc/PID is theirs, so a cached
    // scan need not read their status (root's are read every time).
    constexpr uid_t kUser = 65534;
    auto spawn = [&](int n) {
        ExecWait execs;
        for (int i = 0; i < n; ++i) {
            children.push_back(spawnIdle(kUser));
        }
        if (waitForExecs) {
            execs.waitForExecs();
        }
    };
    spawn(count);
    ProcessModel model;
    model.setActive(false);
    model.setCheckpointReports(false);
    QElapsedTimer timer;
    double scanMs = 0, coldScanMs = 0, firstApplyMs = 0, applyMs = 0, churnApplyMs = 0, churnScanMs = 0;
    // As the GUI scans: one source on the worker thread, which keeps what a
    // scan read for the next (ProcfsProcessSource); the first scan reads everything.
    ProcfsProcessSource source;
    // The details of new processes (arguments, executable, cgroup, uids)
    // that a scan leaves to the passes after it: their number, the longest
    // and the time of all.
    struct Passes {
        int count = 0;
        double longestMs = 0;
        double totalMs = 0;
    };
    auto readDetails = [&source](ProcessSnapshot &snapshot) {
        Passes passes;
        while (source.hasPendingDetails()) {
            QElapsedTimer pass;
            pass.start();
            snapshot = source.readPendingDetails();
            const double ms = pass.nsecsElapsed() / 1e6;
            ++passes.count;
            passes.longestMs = std::max(passes.longestMs, ms);
            passes.totalMs += ms;
        }
        return passes;
    };
    timer.start();
    ProcessSnapshot snapshot = source.scan();
    const double firstScanMs = timer.nsecsElapsed() / 1e6;
    const Passes firstDetails = readDetails(snapshot);
    timer.restart();
    model.applySnapshot(snapshot);
    firstApplyMs = timer.nsecsElapsed() / 1e6;
    Passes steadyDetails;
    for (int i = 0; i < 5; ++i) {
        timer.restart();
        snapshot = source.scan();
        scanMs = i == 0 ? timer.nsecsElapsed() / 1e6 : std::min(scanMs, timer.nsecsElapsed() / 1e6);
        const Passes passes = readDetails(snapshot); // the every-10th-scan re-reads
        steadyDetails.longestMs = std::max(steadyDetails.longestMs, passes.longestMs);
        steadyDetails.count += passes.count;
        steadyDetails.totalMs += passes.totalMs;
        timer.restart();
        model.applySnapshot(snapshot);
        applyMs = i == 0 ? timer.nsecsElapsed() / 1e6 : std::min(applyMs, timer.nsecsElapsed() / 1e6);
        timer.restart();
        (void)ProcessScanner::scan(); // without a cache: every file of every process
        coldScanMs = i == 0 ? timer.nsecsElapsed() / 1e6 : std::min(coldScanMs, timer.nsecsElapsed() / 1e6);
    }
    std::vector<pid_t> replaced(children.end() - count / 10, children.end());
    children.resize(children.size() - replaced.size());
    reap(replaced);
    spawn(count / 10);
    timer.restart();
    snapshot = source.scan();
    churnScanMs = timer.nsecsElapsed() / 1e6;
    const int churnPending = snapshot.detailsPending;
    const Passes churnDetails = readDetails(snapshot);
    timer.restart();
    snapshot = source.scan();
    const double afterChurnScanMs = timer.nsecsElapsed() / 1e6;
    // What the worker does after each scan: which app each process belongs
    // to (the desktop files read once before).
    DesktopApps apps;
    apps.loadDefault();
    double annotateMs = 0;
    for (int i = 0; i < 5; ++i) {
        ProcessSnapshot copy = snapshot;
        timer.restart();
        apps.annotate(copy.processes);
        annotateMs = i == 0 ? timer.nsecsElapsed() / 1e6 : std::min(annotateMs, timer.nsecsElapsed() / 1e6);
        if (i == 4) {
            snapshot = std::move(copy);
        }
    }
    timer.restart();
    model.applySnapshot(snapshot);
    churnApplyMs = timer.nsecsElapsed() / 1e6;
    std::printf("1. process tree: %lld processes in the model (%d started for the bench)\n", static_cast<long long>(model.processCount()), count);
    auto passesLine = [](const char *what, const Passes &passes) {
        std::printf("%-58s %d pass(es), %.2f ms in all, the longest %.2f ms   limit 50 ms   %s\n", what, passes.count, passes.totalMs, passes.longestMs,
                    passes.longestMs < 50 ? "ok" : "OVER");
    };
    line("   /proc scan (worker thread, as the GUI refreshes), best of 5", scanMs, 50);
    passesLine("   its details passes (re-reads), 5 scans:", steadyDetails);
    line("   the same, 10 % of the processes new", churnScanMs, 50);
    std::printf("   (%d processes' details left to the passes)\n", churnPending);
    passesLine("   their details passes:", churnDetails);
    line("   the scan after that one", afterChurnScanMs, 50);
    line("   the same, the first scan (stat and owner of each)", firstScanMs, 50);
    passesLine("   its details passes (the other files):", firstDetails);
    line("   /proc scan without the cache, best of 5", coldScanMs, 50);
    line("   matching the processes to apps (worker, after each scan)", annotateMs, 50);
    line("   apply to ProcessModel (UI thread), unchanged tree", applyMs, 50);
    line("   apply to ProcessModel, 10 % of the processes replaced", churnApplyMs, 50);
    line("   apply to ProcessModel, first fill (once, at start)", firstApplyMs, 50);
    reap(children);
}

// 2. The timeline: a store of `count` snapshots (imports of one image).
void timeline(int count, const QString &dir)
{
    const pid_t child = spawnIdle();
    const std::string image = QString(dir + QStringLiteral("/idle.cryopod")).toStdString();
    {
        const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            die(std::string("create ") + image + ": " + std::strerror(errno));
        }
        cryopod::engine::CheckpointOptions options;
        auto taken = cryopod::engine::checkpoint(child, fd, options);
        ::close(fd);
        std::vector<pid_t> done {child};
        reap(done);
        if (!taken) {
            die("checkpoint of the idle child: " + taken.error().describe() + " (run as root)");
        }
    }
    const std::string storeDir = QString(dir + QStringLiteral("/store")).toStdString();
    {
        auto store = cryopod::store::SnapshotStore::open(storeDir);
        if (!store) {
            die(store.error().describe());
        }
        QElapsedTimer timer;
        timer.start();
        for (int i = 0; i < count; ++i) {
            auto id = (*store)->importImage(image);
            if (!id) {
                die("import: " + id.error().describe());
            }
        }
        std::printf("2. timeline: %d snapshots imported in %.1f s (setup, not measured)\n", count, timer.nsecsElapsed() / 1e9);
    }
    double first = 0, best = 1e30;
    int rows = 0;
    for (int i = 0; i < 5; ++i) {
        TimelineModel model; // opens the store on its first reload
        model.setStorePath(QString::fromStdString(storeDir));
        QElapsedTimer timer;
        timer.start();
        if (!model.reload()) {
            die(model.errorString().toStdString());
        }
        const double ms = timer.nsecsElapsed() / 1e6;
        first = i == 0 ? ms : first;
        best = std::min(best, ms);
        rows = model.count();
    }
    std::printf("   %d rows\n", rows);
    line("   TimelineModel::reload, store just opened (first run)", first, 200);
    line("   TimelineModel::reload, store just opened (best of 5)", best, 200);
}

// 3. Start to first frame, in this process (QApplication already exists
// for the whole bench: measured from creating the engine, plus the
// QApplication's own start measured before).
// applicationCpuMs: the CPU time the QApplication and its set-up took.
void startUp(double applicationMs, double applicationCpuMs)
{
    QElapsedTimer timer;
    timer.start();
    const double cpuAtStart = processCpuMs();
    QQmlApplicationEngine engine;
    CryopodApp::setupEngine(engine);
    engine.loadFromModule(CryopodApp::qmlModule, CryopodApp::mainComponent);
    if (engine.rootObjects().isEmpty()) {
        die("the Main window did not load");
    }
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
    const double loadedMs = timer.nsecsElapsed() / 1e6;
    const double loadedCpuMs = processCpuMs() - cpuAtStart;
    bool swapped = false;
    // Where the first frame's time goes: the scene graph's start, the
    // synchronisation of the items into it (on the render thread, with the
    // GUI thread blocked), the rendering (shaders compiled, glyphs rasterised).
    double initializedMs = -1, syncStartMs = -1, syncEndMs = -1, renderStartMs = -1, renderEndMs = -1;
    auto mark = [&timer](double &at) {
        if (at < 0) {
            at = timer.nsecsElapsed() / 1e6;
        }
    };
    QObject::connect(window, &QQuickWindow::sceneGraphInitialized, window, [&] { mark(initializedMs); }, Qt::DirectConnection);
    QObject::connect(window, &QQuickWindow::beforeSynchronizing, window, [&] { mark(syncStartMs); }, Qt::DirectConnection);
    QObject::connect(window, &QQuickWindow::afterSynchronizing, window, [&] { mark(syncEndMs); }, Qt::DirectConnection);
    QObject::connect(window, &QQuickWindow::beforeRendering, window, [&] { mark(renderStartMs); }, Qt::DirectConnection);
    QObject::connect(window, &QQuickWindow::afterRendering, window, [&] { mark(renderEndMs); }, Qt::DirectConnection);
    QObject::connect(window, &QQuickWindow::frameSwapped, window, [&] { swapped = true; });
    window->show();
    const double shownMs = timer.nsecsElapsed() / 1e6;
    while (!swapped && timer.elapsed() < 30000) {
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    }
    const double frameMs = timer.nsecsElapsed() / 1e6;
    const double frameCpuMs = processCpuMs() - cpuAtStart;
    const double frameThreadCpuMs = threadCpuMs();
    std::printf("3. app start: QApplication and set-up %.1f ms, Main loaded %.1f ms, first frame %.1f ms\n", applicationMs, loadedMs, frameMs);
    std::printf("   after the load: shown %.1f, scene graph up %.1f, sync %.1f-%.1f, render %.1f-%.1f, swapped %.1f ms\n", shownMs, initializedMs, syncStartMs,
                syncEndMs, renderStartMs, renderEndMs, frameMs);
    std::printf("   CPU time of the start (all threads): QApplication and set-up %.1f ms, to Main loaded %.1f ms, to the first frame %.1f ms (of it the main thread %.1f ms)\n",
                applicationCpuMs, applicationCpuMs + loadedCpuMs, applicationCpuMs + frameCpuMs, frameThreadCpuMs);
    line("   start to first frame (QApplication to frameSwapped)", applicationMs + frameMs, 1000);
}
} // namespace

int main(int argc, char **argv)
{
    int processes = 2000;
    int snapshots = 10000;
    QString keep;
    bool waitForExecs = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--processes" && i + 1 < argc) {
            processes = std::atoi(argv[++i]);
        } else if (arg == "--snapshots" && i + 1 < argc) {
            snapshots = std::atoi(argv[++i]);
        } else if (arg == "--no-exec-wait") {
            waitForExecs = false;
        } else if (arg == "--keep" && i + 1 < argc) {
            keep = QString::fromLocal8Bit(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: gui_responsiveness [--processes N] [--snapshots N] [--keep DIR] [--no-exec-wait]\n");
            return 2;
        }
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);

    XvfbServer xvfb;
    if (!xvfb.start()) {
        die("no Xvfb");
    }
    qputenv("DISPLAY", xvfb.display());
    qputenv("QT_QPA_PLATFORM", "xcb");
    qputenv("QT_QUICK_CONTROLS_STYLE", "org.kde.desktop");
    QTemporaryDir config;
    qputenv("XDG_CONFIG_HOME", QFile::encodeName(config.path()));
    QElapsedTimer started;
    started.start();
    const double cpuBefore = processCpuMs();
    QApplication app(argc, argv);
    const double constructorMs = started.nsecsElapsed() / 1e6;
    CryopodApp::initialize(app);
    const double applicationMs = started.nsecsElapsed() / 1e6;
    const double applicationCpuMs = processCpuMs() - cpuBefore;
    std::printf("0. QApplication constructed in %.1f ms, CryopodApp::initialize %.1f ms\n", constructorMs, applicationMs - constructorMs);

    QTemporaryDir temporary;
    const QString dir = keep.isEmpty() ? temporary.path() : keep;
    startUp(applicationMs, applicationCpuMs);
    processTree(processes, waitForExecs);
    timeline(snapshots, dir);
    return 0;
}
