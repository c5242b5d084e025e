// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl: the command-line face of Cryopod. Wiring only: every command
// lives in its own file and calls the backend, image or engine libraries.

#include "commands.h"

#include <QCoreApplication>
#include <QTextStream>

#include <cstdio>
#include <functional>
#include <map>

namespace
{
struct Command {
    std::function<int(const QStringList &)> run;
    const char *synopsis;
};

const std::map<QString, Command> &commands()
{
    static const std::map<QString, Command> table = {
        {QStringLiteral("ps"), {Cryopodctl::runPs, "ps [--all] [--flat]              the process tree"}},
        {QStringLiteral("report"), {Cryopodctl::runReport, "report PID [--json]              what can be checkpointed, and why not"}},
        {QStringLiteral("checkpoint"),
         {Cryopodctl::runCheckpoint, "checkpoint [--direct] PID -o IMAGE [--leave-running|--kill] [--level N]"}},
        {QStringLiteral("restore"), {Cryopodctl::runRestoreDispatch, "restore ID [--frozen] | restore [--direct] -i IMAGE [--frozen]"}},
        {QStringLiteral("snapshot"), {Cryopodctl::runSnapshot, "snapshot PID [--label L] [--note N]     checkpoint into the snapshot store"}},
        {QStringLiteral("list"), {Cryopodctl::runList, "list [--target ID] [--since T] [--json]  the timeline of snapshots"}},
        {QStringLiteral("show"), {Cryopodctl::runShow, "show ID [--json]                 one snapshot"}},
        {QStringLiteral("diff"), {Cryopodctl::runDiff, "diff ID1 ID2                     what changed between two snapshots"}},
        {QStringLiteral("export"), {Cryopodctl::runExport, "export ID FILE                   a snapshot as one image file"}},
        {QStringLiteral("import"), {Cryopodctl::runImport, "import FILE [--label L]          an image file into the store"}},
        {QStringLiteral("delete"), {Cryopodctl::runDelete, "delete ID... [--force]           delete snapshots and reclaim their space"}},
        {QStringLiteral("edit"), {Cryopodctl::runEdit, "edit ID [--label L] [--note N] [--pin|--unpin]"}},
        {QStringLiteral("store"), {Cryopodctl::runStore, "store check|gc|stats|path         maintain the snapshot store"}},
        {QStringLiteral("schedule"), {Cryopodctl::runSchedule, "schedule add|list|pause|resume|remove|runs|preview|run   recurring snapshots"}},
        {QStringLiteral("inspect"), {Cryopodctl::runInspect, "inspect IMAGE [--json]           header, tree, credentials, memory, fds"}},
    };
    return table;
}

void printUsage(FILE *out)
{
    std::fprintf(out, "usage: cryopodctl COMMAND [ARGS...]\n\ncommands:\n");
    for (const auto &[name, command] : commands()) {
        std::fprintf(out, "  %s\n", command.synopsis);
    }
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("cryopodctl"));
    QCoreApplication::setApplicationVersion(QStringLiteral(CRYOPOD_VERSION_STRING));

    QStringList args = QCoreApplication::arguments().mid(1);
    if (args.isEmpty()) {
        printUsage(stderr);
        return 2;
    }
    const QString name = args.takeFirst();
    if (name == QLatin1String("--help") || name == QLatin1String("-h") || name == QLatin1String("help")) {
        printUsage(stdout);
        return 0;
    }
    if (name == QLatin1String("--version")) {
        std::printf("cryopodctl %s\n", CRYOPOD_VERSION_STRING);
        return 0;
    }
    const auto it = commands().find(name);
    if (it == commands().end()) {
        std::fprintf(stderr, "cryopodctl: unknown command '%s'\n\n", qPrintable(name));
        printUsage(stderr);
        return 2;
    }
    return it->second.run(args);
}
