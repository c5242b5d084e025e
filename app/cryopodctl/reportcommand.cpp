// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl report: what can be checkpointed, and why not, without stopping
// anything.

#include "commands.h"

#include "engine.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <cstdio>

namespace
{
const char reportUsage[] =
    "usage: cryopodctl report PID [--json] [--tcp-established]\n"
    "\n"
    "Says whether process PID can be checkpointed by engine v1, and for each\n"
    "open fd and each problem, why not. The process is not stopped.\n"
    "\n"
    "options:\n"
    "  --json     machine-readable output\n"
    "  --tcp-established  as checkpoint --tcp-established would take it: an\n"
    "             established TCP connection is a caveat, not a refusal\n"
    "  -h, --help this text\n";

using cryopod::engine::Verdict;

QString verdictName(Verdict v)
{
    switch (v) {
    case Verdict::Ok:
        return QStringLiteral("ok");
    case Verdict::Caveat:
        return QStringLiteral("caveat");
    case Verdict::Refused:
        return QStringLiteral("refused");
    }
    return QStringLiteral("unknown");
}

QString fromStd(const std::string &s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

void print(const QString &text, FILE *out = stdout)
{
    const QByteArray bytes = text.toLocal8Bit();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), out);
}

QJsonObject toJson(const cryopod::engine::Report &report)
{
    QJsonArray processes;
    for (const auto &p : report.processes) {
        QJsonArray reasons;
        for (const auto &r : p.reasons) {
            reasons.append(fromStd(r));
        }
        QJsonArray fds;
        for (const auto &fd : p.fds) {
            fds.append(QJsonObject{
                {QStringLiteral("fd"), fd.fd},
                {QStringLiteral("target"), fromStd(fd.target)},
                {QStringLiteral("verdict"), verdictName(fd.verdict)},
                {QStringLiteral("reason"), fromStd(fd.reason)},
            });
        }
        processes.append(QJsonObject{
            {QStringLiteral("pid"), p.pid},
            {QStringLiteral("ppid"), p.ppid},
            {QStringLiteral("comm"), fromStd(p.comm)},
            {QStringLiteral("verdict"), verdictName(p.verdict)},
            {QStringLiteral("reasons"), reasons},
            {QStringLiteral("fds"), fds},
        });
    }
    return QJsonObject{
        {QStringLiteral("root"), report.root},
        {QStringLiteral("verdict"), verdictName(report.verdict)},
        {QStringLiteral("processes"), processes},
    };
}

QString toText(const cryopod::engine::Report &report)
{
    QString out;
    for (const auto &p : report.processes) {
        out += QStringLiteral("%1 (%2): %3\n").arg(p.pid).arg(fromStd(p.comm), verdictName(p.verdict));
        for (const auto &r : p.reasons) {
            out += QStringLiteral("  - %1\n").arg(fromStd(r));
        }
        for (const auto &fd : p.fds) {
            out += QStringLiteral("  fd %1 -> %2: %3").arg(fd.fd).arg(fromStd(fd.target), verdictName(fd.verdict));
            if (!fd.reason.empty()) {
                out += QStringLiteral(" (%1)").arg(fromStd(fd.reason));
            }
            out += QLatin1Char('\n');
        }
    }
    return out;
}
} // namespace

int Cryopodctl::runReport(const QStringList &args)
{
    bool json = false;
    bool tcpEstablished = false;
    QString pidText;
    for (const QString &arg : args) {
        if (arg == QLatin1String("-h") || arg == QLatin1String("--help")) {
            print(QString::fromLatin1(reportUsage));
            return 0;
        } else if (arg == QLatin1String("--json")) {
            json = true;
        } else if (arg == QLatin1String("--tcp-established")) {
            tcpEstablished = true;
        } else if (arg.startsWith(QLatin1Char('-'))) {
            print(QStringLiteral("cryopodctl: report: unknown option '%1'\n\n").arg(arg) + QString::fromLatin1(reportUsage), stderr);
            return 2;
        } else if (pidText.isEmpty()) {
            pidText = arg;
        } else {
            print(QStringLiteral("cryopodctl: report: more than one PID given\n\n") + QString::fromLatin1(reportUsage), stderr);
            return 2;
        }
    }
    bool ok = false;
    const int pid = pidText.toInt(&ok);
    if (!ok || pid <= 0) {
        print(QStringLiteral("cryopodctl: report: a PID is needed\n\n") + QString::fromLatin1(reportUsage), stderr);
        return 2;
    }
    const auto report = cryopod::engine::analyze(pid_t(pid), {}, tcpEstablished);
    if (!report) {
        print(QStringLiteral("cryopodctl: report: %1\n").arg(fromStd(report.error().describe())), stderr);
        return 1;
    }
    if (json) {
        print(QString::fromUtf8(QJsonDocument(toJson(*report)).toJson(QJsonDocument::Indented)));
    } else {
        print(toText(*report));
    }
    return 0;
}
