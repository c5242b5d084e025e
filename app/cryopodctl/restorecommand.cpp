// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl restore: rebuild a process from an image, with its original PID,
// as a child of this command (re-parented when the command exits).

#include "commands.h"
#include "deferredsignals.h"
#include "helpercommands.h"
#include "ptyrelay.h"

#include "engine.h"

#include <QByteArray>
#include <QString>

#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <string>
#include <unistd.h>

namespace
{
const char restoreUsage[] =
    "usage: cryopodctl restore [--direct] -i IMAGE [--frozen] [--pty new|original] [--pty-send FD]\n"
    "\n"
    "Reads the image IMAGE (\"-\" for stdin) and restores the process with its\n"
    "original PID, where it was when it was checkpointed. On any failure\n"
    "nothing is left behind and the message names the step that failed.\n"
    "\n"
    "options:\n"
    "  --direct         run the engine in this process (root only); without\n"
    "                   it cryopod-helper does the work, as polkit allows\n"
    "  -i, --input IMAGE  the image, \"-\" for stdin\n"
    "  --frozen         leave the restored process stopped (SIGSTOP); resume\n"
    "                   it with kill -CONT\n"
    "  --pty new|original  a program that ran on a pseudo-terminal: on a new\n"
    "                   pty (the default; this command relays it to its own\n"
    "                   stdin/stdout, raw when stdin is a terminal, until the\n"
    "                   program exits, and exits with its status), or on the\n"
    "                   original /dev/pts/N when it still exists\n"
    "  --pty-send FD    instead of relaying: send the new ptys' masters over\n"
    "                   the unix socket FD (SCM_RIGHTS; the message holds the\n"
    "                   lines \"PATH ORIGINAL\") and exit\n"
    "  -h, --help       this text\n";

int usageError(const char *message)
{
    std::fprintf(stderr, "cryopodctl: restore: %s\n\n%s", message, restoreUsage);
    return 2;
}

int failure(const std::string &message)
{
    std::fprintf(stderr, "cryopodctl: restore: %s\n", message.c_str());
    return 1;
}
} // namespace

int Cryopodctl::runRestore(const QStringList &args)
{
    bool direct = false;
    bool frozen = false;
    QString input;
    bool haveInput = false;
    cryopod::engine::PtyMode pty = cryopod::engine::PtyMode::New;
    int sendTo = -1;

    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString &arg = args[i];
        if (arg == QLatin1String("-h") || arg == QLatin1String("--help")) {
            std::fputs(restoreUsage, stdout);
            return 0;
        } else if (arg == QLatin1String("--direct")) {
            direct = true;
        } else if (arg == QLatin1String("--frozen")) {
            frozen = true;
        } else if (arg == QLatin1String("--pty")) {
            if (++i >= args.size() || (args[i] != QLatin1String("new") && args[i] != QLatin1String("original"))) {
                return usageError("--pty needs new or original");
            }
            pty = args[i] == QLatin1String("new") ? cryopod::engine::PtyMode::New : cryopod::engine::PtyMode::Original;
        } else if (arg == QLatin1String("--pty-send")) {
            bool ok = false;
            sendTo = ++i < args.size() ? args[i].toInt(&ok) : -1;
            if (!ok || sendTo < 0) {
                return usageError("--pty-send needs an fd number");
            }
        } else if (arg == QLatin1String("-i") || arg == QLatin1String("--input")) {
            if (++i >= args.size()) {
                return usageError("-i needs a file name (or - for stdin)");
            }
            if (haveInput) {
                return usageError("more than one image given");
            }
            input = args[i];
            haveInput = true;
        } else {
            const QByteArray bytes = arg.toLocal8Bit();
            std::fprintf(stderr, "cryopodctl: restore: unexpected argument '%s'\n\n%s", bytes.constData(), restoreUsage);
            return 2;
        }
    }
    if (!haveInput || input.isEmpty()) {
        return usageError("no image given (-i IMAGE, or -i - for stdin)");
    }
    if (!direct) {
        return Cryopodctl::restoreThroughHelper(input, frozen, pty, sendTo);
    }

    int fd = STDIN_FILENO;
    if (input != QLatin1String("-")) {
        const QByteArray path = input.toLocal8Bit();
        fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return failure(cryopod::Error{errno, "open " + path.toStdString()}.describe());
        }
    }
    cryopod::engine::RestoreOptions options;
    options.frozen = frozen;
    options.pty = pty;
    std::optional<DeferredSignals> held(std::in_place); // until the restore finished or undid itself
    auto result = cryopod::engine::restore(fd, options);
    if (fd != STDIN_FILENO) {
        ::close(fd);
    }
    if (!result) {
        return failure(result.error().describe());
    }
    held.reset();
    std::printf("restored pid %d\n", int(result->root));
    std::vector<int> masters;
    for (const cryopod::engine::RestoredTerminal &t : result->terminals) {
        std::fprintf(stderr, "cryopodctl: restore: terminal %s (was %s)\n", t.path.c_str(), t.originalPath.c_str());
        if (t.master) {
            masters.push_back(t.master.get());
        }
    }
    std::fflush(stdout);
    return Cryopodctl::handOverPtys(int(result->root), masters, sendTo, result->terminals.empty() ? std::string() : result->terminals.front().path);
}
