// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl checkpoint: freeze a process, stream its image into a file or
// stdout, then let it run on (or end it).

#include "commands.h"
#include "deferredsignals.h"
#include "helpercommands.h"

#include "cgroups.h"
#include "engine.h"

#include <QByteArray>
#include <QString>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <unistd.h>

namespace
{
const char checkpointUsage[] =
    "usage: cryopodctl checkpoint [--direct] PID -o IMAGE [--leave-running|--kill] [--full-pause] [--level N]\n"
    "                             [--tcp-established]\n"
    "\n"
    "Freezes process PID, writes its image to IMAGE (\"-\" for stdout) and then\n"
    "lets it run on, unchanged. Processes engine v1 cannot capture faithfully\n"
    "are refused before anything is written (see `cryopodctl report PID`).\n"
    "\n"
    "options:\n"
    "  --direct         run the engine in this process (root only); without\n"
    "                   it cryopod-helper does the work, as polkit allows\n"
    "  -o, --output IMAGE  where the image goes, \"-\" for stdout\n"
    "  --leave-running  resume the process afterwards (the default)\n"
    "  --kill           end the process once the image is completely written\n"
    "  --full-pause     keep it stopped for the whole dump; by default a process\n"
    "                   that runs on is stopped only while its state and a\n"
    "                   copy-on-write copy of its memory are taken\n"
    "  --level N        zstd level for page data (default 1)\n"
    "  --tcp-established  capture established TCP connections with TCP_REPAIR\n"
    "                   (restored as they were; the peer must still be there,\n"
    "                   the original must be stopped first); without it a\n"
    "                   process with one is refused\n"
    "  -h, --help       this text\n";

} // namespace

// ", low pause" / ", stopped for the whole dump: REASON" for the result line.
std::string Cryopodctl::pauseNote(bool lowPause, const std::string &fallback, bool asked)
{
    if (lowPause) {
        return ", low pause";
    }
    if (asked) {
        return ", stopped for the whole dump: " + fallback;
    }
    return {};
}

namespace
{
int usageError(const char *message)
{
    std::fprintf(stderr, "cryopodctl: checkpoint: %s\n\n%s", message, checkpointUsage);
    return 2;
}

int failure(const std::string &message)
{
    std::fprintf(stderr, "cryopodctl: checkpoint: %s\n", message.c_str());
    return 1;
}

std::string mib(uint64_t bytes)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
    return buf;
}

std::string commOf(pid_t pid)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/comm", int(pid));
    FILE *f = std::fopen(path, "re");
    if (!f) {
        return "?";
    }
    char buf[64] = {};
    const bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
    std::fclose(f);
    std::string comm = ok ? buf : "?";
    if (!comm.empty() && comm.back() == '\n') {
        comm.pop_back();
    }
    return comm;
}
} // namespace

int Cryopodctl::runCheckpoint(const QStringList &args)
{
    bool direct = false;
    bool kill = false;
    bool leaveRunning = false;
    bool fullPause = false;
    bool tcpEstablished = false;
    int level = 1;
    QString output;
    bool haveOutput = false;
    QString pidText;

    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString &arg = args[i];
        if (arg == QLatin1String("-h") || arg == QLatin1String("--help")) {
            std::fputs(checkpointUsage, stdout);
            return 0;
        } else if (arg == QLatin1String("--direct")) {
            direct = true;
        } else if (arg == QLatin1String("--kill")) {
            kill = true;
        } else if (arg == QLatin1String("--leave-running")) {
            leaveRunning = true;
        } else if (arg == QLatin1String("--full-pause")) {
            fullPause = true;
        } else if (arg == QLatin1String("--tcp-established")) {
            tcpEstablished = true;
        } else if (arg == QLatin1String("-o") || arg == QLatin1String("--output")) {
            if (++i >= args.size()) {
                return usageError("-o needs a file name (or - for stdout)");
            }
            output = args[i];
            haveOutput = true;
        } else if (arg == QLatin1String("--level")) {
            if (++i >= args.size()) {
                return usageError("--level needs a number");
            }
            bool ok = false;
            level = args[i].toInt(&ok);
            if (!ok || level < -7 || level > 22) {
                return usageError("--level must be a zstd level, -7 to 22");
            }
        } else if (arg.startsWith(QLatin1Char('-')) && arg != QLatin1String("-")) {
            const QByteArray bytes = arg.toLocal8Bit();
            std::fprintf(stderr, "cryopodctl: checkpoint: unknown option '%s'\n\n%s", bytes.constData(), checkpointUsage);
            return 2;
        } else if (pidText.isEmpty()) {
            pidText = arg;
        } else {
            return usageError("more than one PID given");
        }
    }
    if (pidText.isEmpty()) {
        return usageError("no PID given");
    }
    bool ok = false;
    const int pidValue = pidText.toInt(&ok);
    if (!ok || pidValue <= 0) {
        return usageError("PID must be a positive number");
    }
    if (!haveOutput || output.isEmpty()) {
        return usageError("no image file given (-o IMAGE, or -o - for stdout)");
    }
    if (kill && leaveRunning) {
        return usageError("--kill and --leave-running exclude each other");
    }
    if (!direct) {
        return Cryopodctl::checkpointThroughHelper(pidValue, output, kill, !fullPause, level, tcpEstablished);
    }

    const pid_t pid = pid_t(pidValue);
    const bool toStdout = output == QLatin1String("-");
    const QByteArray path = output.toLocal8Bit();
    int fd = STDOUT_FILENO;
    if (!toStdout) {
        fd = ::open(path.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            return failure("open " + path.toStdString() + ": " + std::strerror(errno));
        }
    }

    const std::string comm = commOf(pid);
    cryopod::engine::CheckpointOptions options;
    options.leaveRunning = !kill;
    options.lowPause = !fullPause;
    options.compressionLevel = level;
    options.tcpEstablished = tcpEstablished;
    // Ctrl-C and the like wait until the tree is released and the image
    // complete (or removed): see deferredsignals.h.
    std::optional<DeferredSignals> held(std::in_place);
    // A tree the cgroup freezer holds: thawed for the capture and frozen
    // again, as the helper does; it stays frozen.
    const std::optional<cryopod::engine::FreezerHold> hold = cryopod::engine::freezerHold(pid);
    if (hold) {
        options.outsideFreezer = hold->hook;
    }
    const auto result = cryopod::engine::checkpoint(pid, fd, options);
    if (result && hold && kill && !hold->cgroup.empty()) {
        (void)cryopod::engine::removeEmptiedFreezeCgroup(hold->cgroup); // the child cgroup Freeze made: empty now
    }

    if (!toStdout) {
        bool closed = ::close(fd) == 0;
        if (!result || !closed) {
            ::unlink(path.constData()); // no partial image left behind
            if (result) {
                return failure("close " + path.toStdString() + ": " + std::strerror(errno));
            }
        }
    }
    if (!result) {
        return failure(result.error().describe());
    }
    held.reset(); // a signal that came meanwhile ends us now

    char line[512];
    std::snprintf(line,
                  sizeof line,
                  "checkpointed %d (%s): image %s, raw %s, pause %llu ms, total %llu ms%s%s\n",
                  int(pid),
                  comm.c_str(),
                  mib(result->imageBytes).c_str(),
                  mib(result->rawBytes).c_str(),
                  static_cast<unsigned long long>(result->pauseNs / 1000000),
                  static_cast<unsigned long long>(result->totalNs / 1000000),
                  kill ? ", killed" : "",
                  pauseNote(result->lowPause, result->lowPauseFallback, !kill && !fullPause).c_str());
    std::fputs(line, toStdout ? stderr : stdout);
    return 0;
}
