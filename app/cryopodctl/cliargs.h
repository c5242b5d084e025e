// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The arguments of one cryopodctl command, shared by the command files.
#pragma once

#include <QSet>
#include <QString>
#include <QStringList>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace Cryopodctl
{

inline void print(const QString &text, FILE *to = stdout)
{
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), to);
}

inline int failure(const char *command, const std::string &message)
{
    std::fprintf(stderr, "cryopodctl: %s: %s\n", command, message.c_str());
    return 1;
}

inline int usageError(const char *command, const QString &message, const char *usage)
{
    print(QStringLiteral("cryopodctl: %1: %2\n\n").arg(QLatin1String(command), message), stderr);
    std::fputs(usage, stderr);
    return 2;
}

// The arguments of one command: options with values, flags, positionals.
class Args
{
public:
    Args(const QStringList &args, const QStringList &valued, const QStringList &flags)
    {
        for (qsizetype i = 0; i < args.size(); ++i) {
            const QString &a = args[i];
            if (a == QLatin1String("-h") || a == QLatin1String("--help")) {
                help = true;
            } else if (valued.contains(a)) {
                if (++i >= args.size()) {
                    error = QStringLiteral("%1 needs a value").arg(a);
                    return;
                }
                values[a] = args[i];
            } else if (flags.contains(a)) {
                set.insert(a);
            } else if (a.startsWith(QLatin1String("--")) || (a.startsWith(QLatin1Char('-')) && a.size() > 1)) {
                error = QStringLiteral("unknown option '%1'").arg(a);
                return;
            } else {
                positional.append(a);
            }
        }
    }
    bool has(const char *flag) const
    {
        return set.contains(QLatin1String(flag));
    }
    std::optional<QString> value(const char *option) const
    {
        const auto it = values.find(QLatin1String(option));
        return it == values.end() ? std::nullopt : std::optional<QString>(it->second);
    }

    bool help = false;
    QString error;
    QStringList positional;
    std::map<QString, QString> values;
    QSet<QString> set;
};

} // namespace Cryopodctl
