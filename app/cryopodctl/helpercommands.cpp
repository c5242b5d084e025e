// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helpercommands.h"
#include "ptyrelay.h"

#include "helperclient.h"
#include "helperengine.h"

#include <QDBusConnection>
#include <QDBusError>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace
{

QString mib(qulonglong bytes)
{
    return QStringLiteral("%1 MiB").arg(double(bytes) / (1024.0 * 1024.0), 0, 'f', 1);
}

int fail(const char *command, const QString &message)
{
    std::fprintf(stderr, "cryopodctl: %s: %s\n", command, qPrintable(message));
    return 1;
}

// Runs the call to its end; shows progress on a terminal.
bool run(HelperCall *call)
{
    if (::isatty(STDERR_FILENO)) {
        QObject::connect(call, &HelperCall::progress, call, [](const QString &phase, quint64 done, quint64 total) {
            if (total) {
                std::fprintf(stderr, "\r%-8s %s of %s   ", qPrintable(phase), qPrintable(mib(done)), qPrintable(mib(total)));
            } else {
                std::fprintf(stderr, "\r%-8s %s   ", qPrintable(phase), qPrintable(mib(done)));
            }
        });
    }
    while (!call->waitForFinished(60 * 60 * 1000)) {
    }
    if (::isatty(STDERR_FILENO)) {
        std::fputs("\r\033[K", stderr);
    }
    return call->ok();
}

const char kDirectHint[] = "as root, --direct runs the engine in this process instead";

QString describe(const HelperCall *call)
{
    QString text = QStringLiteral("%1 (%2)").arg(call->errorMessage(), call->errorName().section(QLatin1Char('.'), -1));
    if (!call->errorName().startsWith(QLatin1String("io.github.cryopod."))) {
        // The helper is not there (not installed, not activatable, crashed).
        text += QStringLiteral("; is cryopod-helper installed? ") + QLatin1String(kDirectHint);
    }
    return text;
}

bool connected(const char *command)
{
    if (!QDBusConnection::systemBus().isConnected()) {
        fail(command,
             QStringLiteral("cannot reach the system bus to talk to cryopod-helper: %1 (as root, --direct runs the engine in this process instead)")
                 .arg(QDBusConnection::systemBus().lastError().message()));
        return false;
    }
    return true;
}

} // namespace

int Cryopodctl::checkpointThroughHelper(int pid, const QString &output, bool kill, bool lowPause, int level, bool tcpEstablished)
{
    if (!connected("checkpoint")) {
        return 1;
    }
    const bool toStdout = output == QLatin1String("-");
    const QByteArray path = output.toLocal8Bit();
    int fd = STDOUT_FILENO;
    if (!toStdout) {
        fd = ::open(path.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            return fail("checkpoint", QStringLiteral("open %1: %2").arg(output, QString::fromLocal8Bit(std::strerror(errno))));
        }
    }
    HelperClient client;
    QVariantMap options;
    options.insert(QStringLiteral("leave-running"), !kill);
    options.insert(QStringLiteral("low-pause"), lowPause);
    options.insert(QStringLiteral("compression-level"), level);
    if (tcpEstablished) {
        options.insert(QStringLiteral("tcp-established"), true);
    }
    HelperCall *call = client.checkpoint(pid, options, fd);
    const bool ok = run(call);
    if (!toStdout) {
        ::close(fd);
        if (!ok) {
            ::unlink(path.constData()); // no partial image left behind
        }
    }
    if (!ok) {
        return fail("checkpoint", describe(call));
    }
    const QVariantMap r = call->result();
    const std::string note = pauseNote(r.value(QStringLiteral("low-pause")).toBool(),
                                       r.value(QStringLiteral("low-pause-fallback")).toString().toStdString(),
                                       !kill && lowPause);
    const QString line = QStringLiteral("checkpointed %1: image %2, raw %3, pause %4 ms, total %5 ms%6%7\n")
                             .arg(pid)
                             .arg(mib(r.value(QStringLiteral("image-bytes")).toULongLong()), mib(r.value(QStringLiteral("raw-bytes")).toULongLong()))
                             .arg(r.value(QStringLiteral("pause-ns")).toULongLong() / 1000000)
                             .arg(r.value(QStringLiteral("total-ns")).toULongLong() / 1000000)
                             .arg(kill ? QStringLiteral(", killed") : QString(), QString::fromStdString(note));
    std::fputs(qPrintable(line), toStdout ? stderr : stdout);
    return 0;
}

int Cryopodctl::handOverPtys(int root, const std::vector<int> &masters, int sendTo, const std::string &path)
{
    if (masters.empty()) {
        return 0;
    }
    if (sendTo >= 0) {
        auto sent = sendFds(sendTo, masters, path + "\n");
        if (!sent) {
            return fail("restore", QString::fromStdString(sent.error().describe()));
        }
        return 0;
    }
    auto status = relayPty(masters.front(), pid_t(root));
    if (!status) {
        return fail("restore", QString::fromStdString(status.error().describe()));
    }
    return exitCodeOf(*status);
}

int Cryopodctl::restoreThroughHelper(const QString &input, bool frozen, cryopod::engine::PtyMode pty, int sendTo)
{

    if (!connected("restore")) {
        return 1;
    }
    int fd = STDIN_FILENO;
    if (input != QLatin1String("-")) {
        fd = ::open(input.toLocal8Bit().constData(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return fail("restore", QStringLiteral("open %1: %2").arg(input, QString::fromLocal8Bit(std::strerror(errno))));
        }
    }
    HelperClient client;
    QVariantMap options;
    options.insert(QStringLiteral("frozen"), frozen);
    options.insert(QStringLiteral("pty"), pty == cryopod::engine::PtyMode::Original ? QStringLiteral("original") : QStringLiteral("new"));
    HelperCall *call = client.restore(fd, options);
    const bool ok = run(call);
    if (fd != STDIN_FILENO) {
        ::close(fd);
    }
    if (!ok) {
        return fail("restore", describe(call));
    }
    const int root = call->result().value(QStringLiteral("root-pid")).toInt();
    std::printf("restored pid %d\n", root);
    std::fflush(stdout);
    std::vector<HelperEngine::Terminal> terminals = HelperEngine::terminalsOf(call->result());
    std::vector<int> masters;
    for (const HelperEngine::Terminal &t : terminals) {
        std::fprintf(stderr, "cryopodctl: restore: terminal %s (was %s)\n", t.path.c_str(), t.originalPath.c_str());
        if (t.master) {
            masters.push_back(t.master.get());
        }
    }
    return handOverPtys(root, masters, sendTo, terminals.empty() ? std::string() : terminals.front().path);
}
