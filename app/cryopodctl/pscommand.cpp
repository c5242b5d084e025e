// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl ps: the process tree the GUI shows, from the same scanner.

#include "commands.h"

#include "processforest.h"
#include "processscanner.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <cstdio>

#include <unistd.h>

namespace
{
const char psUsage[] =
    "usage: cryopodctl ps [--all] [--flat]\n"
    "\n"
    "Prints the running processes as a tree, each under its parent, with\n"
    "PID, USER (the effective user), RSS (resident memory) and NAME.\n"
    "\n"
    "By default only your own processes are listed: those whose effective\n"
    "user is you, kernel threads excluded. That holds for root too, who sees\n"
    "root's processes. A process whose parent is not listed starts a tree of\n"
    "its own.\n"
    "\n"
    "options:\n"
    "  --all     the processes of every user\n"
    "  --flat    one process per line in PID order, no tree\n"
    "  -h, --help  this text\n";

// "812K", "12.3M", "1.2G": ps-like, compact.
QString compactSize(quint64 bytes)
{
    static const char units[] = {'K', 'M', 'G', 'T'};
    double value = double(bytes) / 1024.0;
    int unit = 0;
    while (value >= 1024.0 && unit < 3) {
        value /= 1024.0;
        ++unit;
    }
    if (bytes == 0) {
        return QStringLiteral("0");
    }
    return (value < 10.0 && unit > 0 ? QString::number(value, 'f', 1) : QString::number(qRound64(value))) + QLatin1Char(units[unit]);
}

QString displayName(const ProcessInfo &process)
{
    // Kernel threads in brackets, as ps shows them.
    return process.kernelThread ? QLatin1Char('[') + process.name + QLatin1Char(']') : process.name;
}

QString row(const ProcessInfo &process, const QString &treePrefix)
{
    QString user = process.userName;
    if (user.size() > 10) {
        user = user.left(9) + QLatin1Char('+');
    }
    return QStringLiteral("%1 %2 %3  %4%5\n")
        .arg(process.pid, 7)
        .arg(user, -10)
        .arg(compactSize(process.rssBytes), 6)
        .arg(treePrefix, displayName(process));
}

void print(const QString &text)
{
    const QByteArray bytes = text.toLocal8Bit();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
}
} // namespace

int Cryopodctl::runPs(const QStringList &args)
{
    bool all = false;
    bool flat = false;
    for (const QString &arg : args) {
        if (arg == QLatin1String("--all")) {
            all = true;
        } else if (arg == QLatin1String("--flat")) {
            flat = true;
        } else if (arg == QLatin1String("--help") || arg == QLatin1String("-h")) {
            std::fputs(psUsage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "cryopodctl ps: unknown option '%s'\n\n%s", qPrintable(arg), psUsage);
            return 2;
        }
    }

    const ProcessSnapshot snapshot = ProcessScanner::scan();
    if (!snapshot.error.isEmpty()) {
        std::fprintf(stderr, "cryopodctl ps: cannot list processes: %s\n", qPrintable(snapshot.error));
        return 1;
    }
    const uid_t me = ::getuid();
    const QList<ProcessInfo> processes = all ? snapshot.processes : ProcessForest::filtered(snapshot.processes, [me](const ProcessInfo &process) {
        return ProcessForest::isOwnedBy(process, me);
    });

    QString out = QStringLiteral("%1 %2 %3  %4\n").arg(QStringLiteral("PID"), 7).arg(QStringLiteral("USER"), -10).arg(QStringLiteral("RSS"), 6).arg(QStringLiteral("NAME"));
    if (flat) {
        for (const ProcessInfo &process : processes) {
            out += row(process, QString());
        }
        print(out);
        return 0;
    }

    // Box-drawing branches, three columns per level. (Qt runs with a UTF-8
    // locale: it switches a C/POSIX locale to C.UTF-8.)
    const QString branch = QStringLiteral("├─ ");
    const QString lastBranch = QStringLiteral("└─ ");
    const QString through = QStringLiteral("│  ");
    const QString blank = QStringLiteral("   ");

    const ProcessForest forest(processes);
    struct Pending {
        qsizetype index;
        QString prefix; // drawn for this process's own line
        QString childPrefix; // inherited by its children
    };
    QList<Pending> stack;
    for (qsizetype i = forest.roots().size() - 1; i >= 0; --i) {
        stack.append({forest.roots().at(i), QString(), QString()});
    }
    while (!stack.isEmpty()) {
        const Pending item = stack.takeLast();
        out += row(processes.at(item.index), item.prefix);
        const QList<qsizetype> children = forest.children(item.index);
        for (qsizetype i = children.size() - 1; i >= 0; --i) {
            const bool last = i == children.size() - 1;
            stack.append({children.at(i), item.childPrefix + (last ? lastBranch : branch), item.childPrefix + (last ? blank : through)});
        }
    }
    print(out);
    return 0;
}
