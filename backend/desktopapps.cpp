// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "desktopapps.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QLocale>
#include <QSet>

namespace
{
// Programs that run other programs: an app is not "every bash".
bool isLauncher(const QString &name)
{
    static const QSet<QString> launchers = {
        QStringLiteral("env"),       QStringLiteral("sh"),         QStringLiteral("bash"),   QStringLiteral("dash"),     QStringLiteral("zsh"),
        QStringLiteral("python"),    QStringLiteral("python3"),    QStringLiteral("perl"),   QStringLiteral("ruby"),     QStringLiteral("node"),
        QStringLiteral("java"),      QStringLiteral("flatpak"),    QStringLiteral("snap"),   QStringLiteral("xdg-open"), QStringLiteral("gjs"),
        QStringLiteral("kioclient"), QStringLiteral("kioclient5"), QStringLiteral("kstart"), QStringLiteral("kstart5"),  QStringLiteral("sudo"),
    };
    if (launchers.contains(name)) {
        return true;
    }
    // python3.13, perl5.40, ...
    for (const char *prefix : {"python", "perl", "ruby", "lua"}) {
        if (name.startsWith(QLatin1String(prefix)) && name.size() > qsizetype(qstrlen(prefix)) && (name[qstrlen(prefix)].isDigit())) {
            return true;
        }
    }
    return false;
}

// A value with the specification's escapes (\s \n \t \r \\) resolved.
QString unescape(const QByteArray &raw)
{
    const QString value = QString::fromUtf8(raw);
    QString out;
    out.reserve(value.size());
    for (qsizetype i = 0; i < value.size(); ++i) {
        if (value[i] == QLatin1Char('\\') && i + 1 < value.size()) {
            const QChar c = value[++i];
            out += c == QLatin1Char('s') ? QChar(QLatin1Char(' '))
                : c == QLatin1Char('n')  ? QChar(QLatin1Char('\n'))
                : c == QLatin1Char('t')  ? QChar(QLatin1Char('\t'))
                : c == QLatin1Char('r')  ? QChar(QLatin1Char('\r'))
                                         : c;
        } else {
            out += value[i];
        }
    }
    return out;
}

// Exec='s words: quoted with "..." (backslash escapes inside), else split at blanks.
QStringList execWords(const QString &exec)
{
    QStringList words;
    QString word;
    bool quoted = false;
    bool any = false;
    for (qsizetype i = 0; i < exec.size(); ++i) {
        const QChar c = exec[i];
        if (quoted) {
            if (c == QLatin1Char('\\') && i + 1 < exec.size()) {
                word += exec[++i];
            } else if (c == QLatin1Char('"')) {
                quoted = false;
            } else {
                word += c;
            }
        } else if (c == QLatin1Char('"')) {
            quoted = true;
            any = true;
        } else if (c.isSpace()) {
            if (any || !word.isEmpty()) {
                words.append(word);
            }
            word.clear();
            any = false;
        } else {
            word += c;
        }
    }
    if (any || !word.isEmpty()) {
        words.append(word);
    }
    return words;
}

// The program Exec= runs: past "env VAR=value ..." (and env's options).
QString programOf(const QString &exec)
{
    const QStringList words = execWords(exec);
    qsizetype i = 0;
    if (i < words.size() && QFileInfo(words[i]).fileName() == QLatin1String("env")) {
        ++i;
        while (i < words.size() && (words[i].contains(QLatin1Char('=')) || words[i].startsWith(QLatin1Char('-')))) {
            // -u NAME and -C DIR take the next word.
            const bool takesValue = words[i] == QLatin1String("-u") || words[i] == QLatin1String("--unset") || words[i] == QLatin1String("-C") ||
                words[i] == QLatin1String("--chdir");
            i += takesValue ? 2 : 1;
        }
    }
    return i < words.size() ? words[i] : QString();
}

// An absolute path for a program named without one, from $PATH.
QString resolve(const QString &program)
{
    if (program.isEmpty() || program.startsWith(QLatin1Char('/'))) {
        return program;
    }
    const QString path = qEnvironmentVariable("PATH", QStringLiteral("/usr/local/bin:/usr/bin:/bin"));
    for (const QString &dir : path.split(QLatin1Char(':'), Qt::SkipEmptyParts)) {
        const QFileInfo candidate(dir + QLatin1Char('/') + program);
        if (candidate.isFile() && candidate.isExecutable()) {
            return candidate.canonicalFilePath();
        }
    }
    return {};
}
} // namespace

std::optional<DesktopApps::App> DesktopApps::parseEntry(const QByteArray &text, const QString &id, const QString &locale)
{
    const QString language = locale.section(QLatin1Char('_'), 0, 0);
    const QByteArray exactKey = QByteArrayLiteral("Name[") + locale.toUtf8() + ']';
    const QByteArray languageKey = QByteArrayLiteral("Name[") + language.toUtf8() + ']';
    bool inEntry = false;
    QHash<QByteArray, QByteArray> values;
    for (QByteArray line : text.split('\n')) {
        line = line.trimmed();
        if (line.isEmpty() || line.startsWith('#')) {
            continue;
        }
        if (line.startsWith('[')) {
            if (inEntry) {
                break; // only the first group, [Desktop Entry], is ours
            }
            inEntry = line == "[Desktop Entry]";
            continue;
        }
        if (!inEntry) {
            continue;
        }
        const qsizetype eq = line.indexOf('=');
        if (eq <= 0) {
            continue;
        }
        const QByteArray key = line.left(eq).trimmed();
        if (!values.contains(key)) {
            values.insert(key, line.mid(eq + 1).trimmed());
        }
    }
    auto value = [&](const char *key) { return unescape(values.value(QByteArray(key))); };
    auto flag = [&](const char *key) { return values.value(QByteArray(key)) == "true"; };
    if (values.value("Type") != "Application" || flag("Hidden")) {
        return std::nullopt;
    }
    App app;
    app.id = id;
    app.name = unescape(values.value(exactKey, values.value(languageKey, values.value("Name"))));
    app.icon = value("Icon");
    app.program = programOf(value("Exec"));
    app.tryExec = value("TryExec");
    app.wmClass = value("StartupWMClass");
    app.flatpakId = value("X-Flatpak");
    if (app.name.isEmpty() || (app.program.isEmpty() && app.flatpakId.isEmpty())) {
        return std::nullopt;
    }
    // NoDisplay entries (helpers, handlers) still name the program they run.
    return app;
}

QStringList DesktopApps::applicationDirs()
{
    QString home = qEnvironmentVariable("XDG_DATA_HOME");
    if (home.isEmpty()) {
        home = QDir::homePath() + QStringLiteral("/.local/share");
    }
    QString dirs = qEnvironmentVariable("XDG_DATA_DIRS");
    if (dirs.isEmpty()) {
        dirs = QStringLiteral("/usr/local/share:/usr/share");
    }
    QStringList result {home + QStringLiteral("/applications")};
    for (const QString &dir : dirs.split(QLatin1Char(':'), Qt::SkipEmptyParts)) {
        result.append(dir + QStringLiteral("/applications"));
    }
    result.removeDuplicates();
    return result;
}

void DesktopApps::load(const QStringList &dirs, const QString &locale)
{
    m_apps.clear();
    m_byPath.clear();
    m_byName.clear();
    m_byWmClass.clear();
    m_byFlatpak.clear();
    QSet<QString> seen;
    for (const QString &dir : dirs) {
        QDirIterator it(dir, {QStringLiteral("*.desktop")}, QDir::Files, QDirIterator::Subdirectories | QDirIterator::FollowSymlinks);
        while (it.hasNext()) {
            const QString path = it.next();
            QString id = path.mid(dir.size() + 1);
            id.chop(8); // ".desktop"
            id.replace(QLatin1Char('/'), QLatin1Char('-'));
            if (seen.contains(id)) {
                continue; // an earlier directory's file of the same id wins
            }
            seen.insert(id);
            QFile file(path);
            if (!file.open(QIODevice::ReadOnly)) {
                continue;
            }
            const auto app = parseEntry(file.read(256 * 1024), id, locale);
            if (!app) {
                continue;
            }
            const qsizetype index = m_apps.size();
            m_apps.append(*app);
            for (const QString &program : {app->program, app->tryExec}) {
                const QString name = QFileInfo(program).fileName();
                if (name.isEmpty() || isLauncher(name)) {
                    continue;
                }
                const QString resolved = resolve(program);
                if (!resolved.isEmpty()) {
                    m_byPath.insert(resolved, index);
                }
                if (!m_byName.contains(name)) {
                    m_byName.insert(name, index);
                }
            }
            if (!app->wmClass.isEmpty()) {
                m_byWmClass.insert(app->wmClass.toLower(), index);
            }
            if (!app->flatpakId.isEmpty()) {
                m_byFlatpak.insert(app->flatpakId, index);
            }
        }
    }
    m_loaded = true;
}

void DesktopApps::loadDefault()
{
    load(applicationDirs(), QLocale::system().name());
}

const DesktopApps::App *DesktopApps::match(const ProcessInfo &process) const
{
    if (process.kernelThread) {
        return nullptr;
    }
    auto found = [this](const QHash<QString, qsizetype> &hash, const QString &key) -> const App * {
        const auto it = hash.constFind(key);
        return it == hash.constEnd() ? nullptr : &m_apps[*it];
    };
    if (!process.flatpakAppId.isEmpty()) {
        if (const App *app = found(m_byFlatpak, process.flatpakAppId)) {
            return app;
        }
        if (const App *app = found(m_byName, process.flatpakAppId)) {
            return app;
        }
    }
    const QString exeName = QFileInfo(process.executable).fileName();
    if (!process.executable.isEmpty() && !isLauncher(exeName)) {
        if (const App *app = found(m_byPath, process.executable)) {
            return app;
        }
        if (const App *app = found(m_byName, exeName)) {
            return app;
        }
    }
    // A script: the interpreter's first argument names the program.
    const qsizetype script = exeName.isEmpty() || isLauncher(exeName) ? 1 : 0;
    if (script < process.arguments.size()) {
        const QString word = process.arguments[script];
        if (const App *app = found(m_byPath, word)) {
            return app;
        }
        const QString name = QFileInfo(word).fileName();
        if (!isLauncher(name)) {
            if (const App *app = found(m_byName, name)) {
                return app;
            }
        }
    }
    return found(m_byWmClass, process.name.toLower());
}

void DesktopApps::annotate(QList<ProcessInfo> &processes) const
{
    QHash<pid_t, qsizetype> indexOfPid;
    indexOfPid.reserve(processes.size());
    QList<const App *> own(processes.size(), nullptr);
    for (qsizetype i = 0; i < processes.size(); ++i) {
        indexOfPid.insert(processes[i].pid, i);
        own[i] = match(processes[i]);
    }
    // The nearest ancestor's app, memoized (-1: not yet known).
    QList<const App *> inherited(processes.size(), nullptr);
    QList<bool> known(processes.size(), false);
    for (qsizetype i = 0; i < processes.size(); ++i) {
        // Walk up to the first process with a known answer or a match.
        QList<qsizetype> path;
        qsizetype at = i;
        const App *app = nullptr;
        while (at >= 0 && !known[at] && path.size() < 4096) {
            if (own[at]) {
                app = own[at];
                break;
            }
            path.append(at);
            at = indexOfPid.value(processes[at].ppid, -1);
        }
        if (!app && at >= 0 && known[at]) {
            app = inherited[at];
        }
        for (qsizetype p : path) {
            inherited[p] = app;
            known[p] = true;
        }
        if (own[i]) {
            inherited[i] = own[i];
            known[i] = true;
        }
    }
    for (qsizetype i = 0; i < processes.size(); ++i) {
        ProcessInfo &p = processes[i];
        const App *app = inherited[i];
        p.appOwn = own[i] != nullptr;
        p.appId = app ? app->id : QString();
        p.appName = app ? app->name : QString();
        p.appIcon = app ? app->icon : QString();
    }
}
