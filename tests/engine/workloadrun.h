// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Engine tests driving a target by the workload contract
// (tests/workloads/README.md): only fds 0-2, all /dev/null; the state
// directory as its last argument; ready, go and result files there.
#pragma once

#include "engine.h"

#include <QFile>
#include <QString>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace workloadrun
{
// Starts program [mode] STATEDIR in its own session, in STATEDIR.
inline pid_t start(const char *program, const QString &stateDir, const char *mode = nullptr)
{
    const QByteArray dir = stateDir.toLocal8Bit();
    const pid_t pid = fork();
    if (pid == 0) {
        setsid();
        const int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        close_range(3, ~0u, 0);
        if (chdir(dir.constData()) != 0) {
            _exit(126);
        }
        if (mode) {
            execl(program, program, mode, dir.constData(), static_cast<char *>(nullptr));
        } else {
            execl(program, program, dir.constData(), static_cast<char *>(nullptr));
        }
        _exit(127);
    }
    return pid;
}

// Kills the workload's whole process group (start() made it a session of
// its own) and reaps what comes to us (the tests are child subreapers);
// true once no process of the group is left.
inline bool killTree(pid_t pid)
{
    ::kill(-pid, SIGKILL);
    for (int i = 0; i < 500; ++i) {
        while (waitpid(-1, nullptr, __WALL | WNOHANG) > 0) {
        }
        if (::kill(-pid, 0) != 0 && errno == ESRCH) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

inline QString readText(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()).trimmed() : QString();
}

// Writes go and waits for pid (our child): true when it exits 0 with result "ok".
inline bool goAndVerify(const QString &stateDir, pid_t pid, QString *why)
{
    QFile go(stateDir + QStringLiteral("/go"));
    go.open(QIODevice::WriteOnly);
    go.close();
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        *why = QStringLiteral("waitpid failed");
        return false;
    }
    const QString result = readText(stateDir + QStringLiteral("/result"));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || result != QLatin1String("ok")) {
        *why = QStringLiteral("the workload says: %1").arg(result);
        return false;
    }
    return true;
}

// Restores image; the copy (our child, same pid) gets go and must report ok.
inline bool restoreAndVerify(const QString &image, const QString &stateDir, pid_t pid, QString *why)
{
    QFile::remove(stateDir + QStringLiteral("/result"));
    QFile::remove(stateDir + QStringLiteral("/go"));
    const int fd = open(image.toLocal8Bit().constData(), O_RDONLY | O_CLOEXEC);
    auto restored = cryopod::engine::restore(fd, {});
    close(fd);
    if (!restored) {
        *why = QString::fromStdString(restored.error().describe());
        return false;
    }
    if (restored->root != pid) {
        *why = QStringLiteral("restored as %1, not %2").arg(restored->root).arg(pid);
        return false;
    }
    if (!goAndVerify(stateDir, pid, why)) {
        why->prepend(QStringLiteral("restored: "));
        return false;
    }
    return true;
}
} // namespace workloadrun
