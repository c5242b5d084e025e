// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// helpertestclient: one caller of cryopod-helper for the tests, run as an
// unprivileged user under setpriv (or as root). It uses HelperClient (the
// backend's D-Bus client) on the bus given by --address and prints what
// happens, one line per event:
//   job PATH
//   progress PHASE DONE TOTAL
//   result ok KEY=VALUE...        | result error NAME MESSAGE
//   pipe-bytes N eof              (checkpoint into a pipe: what arrived)
// Exit status: 0 ok, 1 the helper said no or failed, 2 usage, 3 timeout.
//
//   helpertestclient --address ADDR [--timeout S] [--no-interactive] COMMAND
//     version | report PID | freeze PID | thaw PID
//     checkpoint PID OUT [--fd KIND] [--opt K=T:V]... [--stall]
//                [--cancel-on PHASE] [--exit-on PHASE] [--cancel-on-sigusr1]
//         OUT a file to create, or - when --fd pipe/dir/...
//         KIND file (default) | pipe | dir | devnull | readonly | opath
//     restore IN [--fd KIND] [--opt K=T:V]... [--cancel-on PHASE] [--exit-on PHASE]
//         KIND file (default) | pipe | writeonly | dir
//     checkpoint-many OUTDIR PID...   (all at once; one result line per pid)
//     list-processes   the tree through HelperProcessSource (what the app uses
//         inside a Flatpak): one line per process,
//         process PID PPID UID EUID START_TICKS KTHREAD NAME EXE
//         then "result ok count=N" or "result error MESSAGE"

#include "helperclient.h"
#include "helperprocesssource.h"

#include <QCoreApplication>
#include <QDBusArgument>
#include <QDBusConnection>
#include <QDBusError>
#include <QFile>
#include <QSocketNotifier>
#include <QTimer>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace
{

void say(const QString &line)
{
    std::fputs(line.toLocal8Bit().constData(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

QString flat(QString text)
{
    return text.replace(QLatin1Char('\n'), QLatin1Char(' '));
}

QString describe(const QVariant &value)
{
    if (value.canConvert<QDBusArgument>()) {
        return QStringLiteral("<complex>");
    }
    if (value.metaType().id() == QMetaType::QVariantList || value.metaType().id() == QMetaType::QStringList) {
        return value.toStringList().join(QLatin1Char(','));
    }
    return flat(value.toString());
}

void printResult(const HelperCall *call)
{
    if (!call->ok()) {
        say(QStringLiteral("result error %1 %2").arg(call->errorName(), flat(call->errorMessage())));
        return;
    }
    QStringList parts{QStringLiteral("result ok")};
    const QVariantMap result = call->result();
    for (auto it = result.cbegin(); it != result.cend(); ++it) {
        parts << QStringLiteral("%1=%2").arg(it.key(), describe(it.value()));
    }
    say(parts.join(QLatin1Char(' ')));
}

bool parseOption(const QString &text, QVariantMap &options)
{
    // key=T:value, T one of b i u x t s
    const qsizetype eq = text.indexOf(QLatin1Char('='));
    if (eq <= 0 || text.size() < eq + 3 || text.at(eq + 2) != QLatin1Char(':')) {
        return false;
    }
    const QString key = text.left(eq);
    const QChar type = text.at(eq + 1);
    const QString value = text.mid(eq + 3);
    if (type == QLatin1Char('b')) {
        options.insert(key, value == QLatin1String("true"));
    } else if (type == QLatin1Char('i')) {
        options.insert(key, value.toInt());
    } else if (type == QLatin1Char('u')) {
        options.insert(key, value.toUInt());
    } else if (type == QLatin1Char('x')) {
        options.insert(key, value.toLongLong());
    } else if (type == QLatin1Char('t')) {
        options.insert(key, value.toULongLong());
    } else if (type == QLatin1Char('s')) {
        options.insert(key, value);
    } else {
        return false;
    }
    return true;
}

struct JobOptions {
    QString fdKind = QStringLiteral("file");
    QVariantMap options;
    bool stall = false;
    QString cancelOn;
    QString exitOn;
    bool cancelOnSigusr1 = false; // the test picks the moment
};

int g_sigusr1Pipe[2] = {-1, -1};

// Reads what is left in the pipe until its end (the helper closed its copy)
// or 5 s without data.
void drainPipe(int fd)
{
    uint64_t total = 0;
    bool eof = false;
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) {
            break;
        }
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            eof = n == 0;
            break;
        }
        total += uint64_t(n);
    }
    say(QStringLiteral("pipe-bytes %1 %2").arg(total).arg(eof ? QStringLiteral("eof") : QStringLiteral("open")));
}

void hookJob(HelperCall *call, const JobOptions &job)
{
    QObject::connect(call, &HelperCall::jobStarted, call, [](const QString &path) {
        say(QStringLiteral("job %1").arg(path));
    });
    QObject::connect(call, &HelperCall::progress, call, [call, job](const QString &phase, quint64 done, quint64 total) {
        say(QStringLiteral("progress %1 %2 %3").arg(phase).arg(done).arg(total));
        if (!job.exitOn.isEmpty() && phase == job.exitOn) {
            say(QStringLiteral("exiting"));
            ::_exit(4); // gone from the bus without a word
        }
        if (!job.cancelOn.isEmpty() && phase == job.cancelOn) {
            say(QStringLiteral("cancelling"));
            call->cancel();
        }
    });
    if (job.cancelOnSigusr1 && ::pipe2(g_sigusr1Pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
        struct sigaction sa{};
        sa.sa_handler = [](int) {
            const char byte = 1;
            (void)!::write(g_sigusr1Pipe[1], &byte, 1);
        };
        ::sigaction(SIGUSR1, &sa, nullptr);
        auto *notifier = new QSocketNotifier(g_sigusr1Pipe[0], QSocketNotifier::Read, call);
        QObject::connect(notifier, &QSocketNotifier::activated, call, [call, notifier] {
            char byte = 0;
            (void)!::read(g_sigusr1Pipe[0], &byte, 1);
            notifier->setEnabled(false);
            say(QStringLiteral("cancelling"));
            call->cancel();
        });
    }
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList args = app.arguments().mid(1);
    QString address;
    int timeoutS = 60;
    bool interactive = true;
    while (!args.isEmpty() && args.first().startsWith(QLatin1String("--"))) {
        const QString flag = args.takeFirst();
        if (flag == QLatin1String("--address") && !args.isEmpty()) {
            address = args.takeFirst();
        } else if (flag == QLatin1String("--timeout") && !args.isEmpty()) {
            timeoutS = args.takeFirst().toInt();
        } else if (flag == QLatin1String("--no-interactive")) {
            interactive = false;
        } else {
            std::fprintf(stderr, "helpertestclient: unknown flag %s\n", qPrintable(flag));
            return 2;
        }
    }
    if (address.isEmpty() || args.isEmpty()) {
        std::fprintf(stderr, "usage: helpertestclient --address ADDR COMMAND ARGS...\n");
        return 2;
    }
    QDBusConnection bus = QDBusConnection::connectToBus(address, QStringLiteral("helpertestclient"));
    if (!bus.isConnected()) {
        std::fprintf(stderr, "helpertestclient: cannot connect: %s\n", qPrintable(bus.lastError().message()));
        return 2;
    }
    HelperClient client(bus);
    client.setInteractive(interactive);
    client.setCallTimeout(timeoutS * 1000);

    const QString command = args.takeFirst();
    JobOptions job;
    QStringList positional;
    while (!args.isEmpty()) {
        const QString a = args.takeFirst();
        if (a == QLatin1String("--fd") && !args.isEmpty()) {
            job.fdKind = args.takeFirst();
        } else if (a == QLatin1String("--opt") && !args.isEmpty()) {
            if (!parseOption(args.takeFirst(), job.options)) {
                std::fprintf(stderr, "helpertestclient: bad --opt\n");
                return 2;
            }
        } else if (a == QLatin1String("--stall")) {
            job.stall = true;
        } else if (a == QLatin1String("--cancel-on") && !args.isEmpty()) {
            job.cancelOn = args.takeFirst();
        } else if (a == QLatin1String("--exit-on") && !args.isEmpty()) {
            job.exitOn = args.takeFirst();
        } else if (a == QLatin1String("--cancel-on-sigusr1")) {
            job.cancelOnSigusr1 = true;
        } else {
            positional << a;
        }
    }

    QTimer::singleShot(timeoutS * 1000, &app, [] {
        say(QStringLiteral("timeout"));
        ::_exit(3);
    });

    if (command == QLatin1String("list-processes")) {
        // Blocking, on this thread, like the scanner's worker thread does.
        HelperProcessSource source(bus, timeoutS * 1000);
        const ProcessSnapshot snapshot = source.scan();
        if (!snapshot.error.isEmpty()) {
            say(QStringLiteral("result error ") + snapshot.error);
            return 1;
        }
        for (const ProcessInfo &p : snapshot.processes) {
            say(QStringLiteral("process %1 %2 %3 %4 %5 %6 %7 %8")
                    .arg(p.pid)
                    .arg(p.ppid)
                    .arg(p.uid)
                    .arg(p.euid)
                    .arg(p.startTicks)
                    .arg(p.kernelThread ? 1 : 0)
                    .arg(QString(p.name).replace(QLatin1Char(' '), QLatin1Char('_')), p.executable.isEmpty() ? QStringLiteral("-") : p.executable));
        }
        say(QStringLiteral("result ok count=%1").arg(snapshot.processes.size()));
        return 0;
    }

    QList<HelperCall *> calls;
    int pipeRead = -1;
    std::thread writer;

    if (command == QLatin1String("version")) {
        calls << client.version();
    } else if (command == QLatin1String("report") || command == QLatin1String("freeze") || command == QLatin1String("thaw")) {
        if (positional.size() != 1) {
            return 2;
        }
        const int pid = positional.first().toInt();
        calls << (command == QLatin1String("report") ? client.report(pid) : command == QLatin1String("freeze") ? client.freeze(pid) : client.thaw(pid));
    } else if (command == QLatin1String("checkpoint")) {
        if (positional.size() != 2) {
            return 2;
        }
        const int pid = positional.at(0).toInt();
        int fd = -1;
        if (job.fdKind == QLatin1String("file")) {
            fd = ::open(positional.at(1).toLocal8Bit().constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        } else if (job.fdKind == QLatin1String("pipe")) {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) == 0) {
                pipeRead = p[0];
                fd = p[1];
            }
        } else if (job.fdKind == QLatin1String("dir")) {
            fd = ::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else if (job.fdKind == QLatin1String("devnull")) {
            fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        } else if (job.fdKind == QLatin1String("readonly")) {
            fd = ::open(positional.at(1).toLocal8Bit().constData(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
        } else if (job.fdKind == QLatin1String("opath")) {
            fd = ::open("/tmp", O_PATH | O_CLOEXEC);
        }
        if (fd < 0) {
            std::fprintf(stderr, "helpertestclient: cannot make the fd: %s\n", std::strerror(errno));
            return 2;
        }
        HelperCall *call = client.checkpoint(pid, job.options, fd);
        ::close(fd); // the helper has its own copy; the pipe ends when it closes it
        hookJob(call, job);
        calls << call;
    } else if (command == QLatin1String("restore")) {
        if (positional.size() != 1) {
            return 2;
        }
        const QByteArray path = positional.first().toLocal8Bit();
        int fd = -1;
        if (job.fdKind == QLatin1String("file")) {
            fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
        } else if (job.fdKind == QLatin1String("writeonly")) {
            fd = ::open(path.constData(), O_WRONLY | O_CLOEXEC);
        } else if (job.fdKind == QLatin1String("dir")) {
            fd = ::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else if (job.fdKind == QLatin1String("pipe")) {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) == 0) {
                fd = p[0];
                const int out = p[1];
                writer = std::thread([out, path, stall = job.stall] {
                    QFile file(QString::fromLocal8Bit(path));
                    if (file.open(QIODevice::ReadOnly)) {
                        const QByteArray data = file.readAll();
                        qsizetype off = 0;
                        while (off < data.size()) {
                            const ssize_t n = ::write(out, data.constData() + off, size_t(data.size() - off));
                            if (n <= 0) {
                                break;
                            }
                            off += n;
                        }
                    }
                    if (stall) {
                        ::pause(); // the helper waits for the rest of the image
                    }
                    ::close(out);
                });
                writer.detach();
            }
        }
        if (fd < 0) {
            std::fprintf(stderr, "helpertestclient: cannot make the fd: %s\n", std::strerror(errno));
            return 2;
        }
        HelperCall *call = client.restore(fd, job.options);
        ::close(fd);
        hookJob(call, job);
        calls << call;
    } else if (command == QLatin1String("checkpoint-many")) {
        if (positional.size() < 2) {
            return 2;
        }
        const QString dir = positional.takeFirst();
        for (const QString &pidText : std::as_const(positional)) {
            const QByteArray path = (dir + QLatin1Char('/') + pidText + QLatin1String(".img")).toLocal8Bit();
            const int fd = ::open(path.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0) {
                return 2;
            }
            HelperCall *call = client.checkpoint(pidText.toInt(), job.options, fd);
            ::close(fd);
            calls << call;
        }
    } else {
        std::fprintf(stderr, "helpertestclient: unknown command %s\n", qPrintable(command));
        return 2;
    }

    int failures = 0;
    int open = int(calls.size());
    for (HelperCall *call : std::as_const(calls)) {
        QObject::connect(call, &HelperCall::finished, &app, [&, call] {
            printResult(call);
            failures += call->ok() ? 0 : 1;
            if (--open == 0) {
                if (pipeRead >= 0) {
                    drainPipe(pipeRead);
                }
                app.exit(failures ? 1 : 0);
            }
        });
    }
    if (pipeRead >= 0 && !job.stall) {
        // A reader that keeps up: the helper's writes never block for long.
        std::thread([pipeRead] {
            char buf[65536];
            while (::read(pipeRead, buf, sizeof buf) > 0) {
            }
        }).detach();
        pipeRead = -1;
    }
    return app.exec();
}
