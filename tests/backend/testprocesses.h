// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Real processes for the tests of the process scanner, model and CLI:
//
//   test (child subreaper)
//   └─ parent     "cpt-parent", root
//      ├─ child   "cpt-child", root, sleeping
//      ├─ nobody  "cpt-nobody", uid/gid 65534 (nobody)
//      └─ sleeper /bin/sleep 3600 (exec'd)
//
// Everything is started with fork() and raw system calls (the test process
// has threads, so the children call nothing that allocates) and killed and
// reaped by stop(). Tests run as root.
#pragma once

#include <QtTest>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace TestProcesses
{
constexpr uid_t nobodyUid = 65534;

inline bool readAll(int fd, void *buffer, size_t size, int timeoutMs = 10000)
{
    auto *bytes = static_cast<char *>(buffer);
    size_t done = 0;
    while (done < size) {
        pollfd pfd{fd, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, timeoutMs);
        if (ready <= 0) {
            if (ready < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        const ssize_t n = ::read(fd, bytes + done, size - done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        done += size_t(n);
    }
    return true;
}

// Makes this process the reaper of its orphaned descendants (PID 1 here does
// not reap them promptly).
inline void becomeSubreaper()
{
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

// Kills and reaps a process of ours (a child, or an orphan we inherited).
inline void killAndReap(pid_t pid)
{
    if (pid <= 0) {
        return;
    }
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

// True once /proc no longer lists pid (it exited and was reaped).
inline bool isGone(pid_t pid)
{
    return ::kill(pid, 0) < 0 && errno == ESRCH;
}

// In a child: die with the parent (the forking thread), so that a test that
// dies leaves nothing behind.
inline void dieWithParent(pid_t parent)
{
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
        ::_exit(1);
    }
}

// fork()s a child that names itself, optionally drops to nobody, reports
// readiness on the pipe and sleeps until killed. Returns its pid, or -1.
// withParent: it is killed when its parent dies.
inline pid_t forkNamed(const char *name, bool asNobody = false, bool withParent = true)
{
    const pid_t self = ::getpid();
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) < 0) {
        return -1;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (withParent) {
            dieWithParent(self);
        }
        ::close(ready[0]);
        if (asNobody && (::setgroups(0, nullptr) < 0 || ::setgid(nobodyUid) < 0 || ::setuid(nobodyUid) < 0)) {
            ::_exit(3);
        }
        ::prctl(PR_SET_NAME, name);
        const char ok = 'k';
        (void)!::write(ready[1], &ok, 1);
        ::close(ready[1]);
        for (;;) {
            ::pause();
        }
    }
    ::close(ready[1]);
    char ok = 0;
    const bool started = pid > 0 && readAll(ready[0], &ok, 1) && ok == 'k';
    ::close(ready[0]);
    if (!started && pid > 0) {
        killAndReap(pid);
        return -1;
    }
    return started ? pid : -1;
}

// A child that burns CPU until killed.
inline pid_t forkBusy(const char *name)
{
    const pid_t self = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        dieWithParent(self);
        ::prctl(PR_SET_NAME, name);
        volatile unsigned long spin = 0;
        for (;;) {
            spin = spin + 1;
        }
    }
    return pid;
}

// The tree described above.
struct Tree {
    pid_t parent = -1;
    pid_t child = -1;
    pid_t nobody = -1;
    pid_t sleeper = -1;

    bool start()
    {
        int info[2];
        if (::pipe2(info, O_CLOEXEC) < 0) {
            return false;
        }
        const pid_t self = ::getpid();
        parent = ::fork();
        if (parent == 0) {
            dieWithParent(self);
            ::close(info[0]);
            ::prctl(PR_SET_NAME, "cpt-parent");
            // The children outlive the parent when a test kills it (they are
            // re-parented to the test), so they are not tied to it.
            pid_t pids[3] = {forkNamed("cpt-child", false, false), forkNamed("cpt-nobody", true, false), -1};
            // exec() closes the CLOEXEC pipe: EOF on it means sleep is running.
            int execed[2];
            if (::pipe2(execed, O_CLOEXEC) == 0) {
                pids[2] = ::fork();
                if (pids[2] == 0) {
                    char *const argv[] = {const_cast<char *>("sleep"), const_cast<char *>("3600"), nullptr};
                    ::execv("/bin/sleep", argv);
                    ::_exit(127);
                }
                ::close(execed[1]);
                char byte;
                while (::read(execed[0], &byte, 1) < 0 && errno == EINTR) {
                }
                ::close(execed[0]);
            }
            (void)!::write(info[1], pids, sizeof pids);
            ::close(info[1]);
            // Reap whatever of ours exits; sleep when nothing is left.
            for (;;) {
                if (::wait(nullptr) < 0 && errno == ECHILD) {
                    ::pause();
                }
            }
        }
        ::close(info[1]);
        pid_t pids[3] = {-1, -1, -1};
        const bool ok = parent > 0 && readAll(info[0], pids, sizeof pids);
        ::close(info[0]);
        child = pids[0];
        nobody = pids[1];
        sleeper = pids[2];
        return ok && child > 0 && nobody > 0 && sleeper > 0;
    }

    // Kills everything. Children of the parent that outlive it are
    // re-parented to us (the subreaper), so we reap them too.
    void stop()
    {
        for (pid_t pid : {child, nobody, sleeper}) {
            if (pid > 0) {
                ::kill(pid, SIGKILL);
            }
        }
        killAndReap(parent);
        // Once the parent is reaped, each child was either reaped by it or
        // re-parented to us: waitpid() reaps the latter, ECHILD the former.
        for (pid_t pid : {child, nobody, sleeper}) {
            if (pid > 0) {
                while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
                }
            }
        }
        parent = child = nobody = sleeper = -1;
    }
};

// Waits (up to timeoutMs) until pid is gone from /proc.
inline bool waitGone(pid_t pid, int timeoutMs = 5000)
{
    QElapsedTimer timer;
    timer.start();
    while (!isGone(pid)) {
        // Reap it if it is ours (a zombie child or inherited orphan).
        ::waitpid(pid, nullptr, WNOHANG);
        if (timer.elapsed() > timeoutMs) {
            return false;
        }
        QTest::qWait(10);
    }
    return true;
}
} // namespace TestProcesses
