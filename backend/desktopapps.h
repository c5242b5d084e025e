// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// DesktopApps: the applications the desktop knows, from the .desktop files
// (Desktop Entry Specification) under $XDG_DATA_HOME and $XDG_DATA_DIRS
// "applications/" (Flatpak's exports included when they are in
// XDG_DATA_DIRS, as Flatpak sets it up), and which app a process belongs
// to: by its Flatpak app id (from its cgroup), by its executable (the
// program of Exec= or TryExec=, by path or name, past "env VAR=..." and
// interpreters), or by StartupWMClass against its name. Plain Qt Core, no
// KService: the files are read by our own small reader (parseEntry).
#pragma once

#include "processinfo.h"

#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

class DesktopApps
{
public:
    struct App {
        QString id; // "org.kde.kate" (the file name without .desktop, subdirectories joined with '-')
        QString name; // Name=, localized
        QString icon; // Icon=: a theme name or an absolute path
        QString program; // Exec='s program (no arguments), as written
        QString tryExec;
        QString wmClass; // StartupWMClass=
        QString flatpakId; // X-Flatpak=
    };

    // Reads one .desktop file's [Desktop Entry]; nullopt when it is not a
    // shown application (Type other than Application, Hidden or NoDisplay
    // with no Exec, or no Name). locale: e.g. "de_DE" for Name[de_DE] / Name[de].
    static std::optional<App> parseEntry(const QByteArray &text, const QString &id, const QString &locale);

    // The application directories, most important first ($XDG_DATA_HOME,
    // then each of $XDG_DATA_DIRS, defaults as the specification says).
    static QStringList applicationDirs();

    // Reads every .desktop file of dirs (the first of the same id wins).
    void load(const QStringList &dirs, const QString &locale);
    // load(applicationDirs(), the system locale).
    void loadDefault();
    bool isLoaded() const
    {
        return m_loaded;
    }
    const QList<App> &apps() const
    {
        return m_apps;
    }

    // The app a process belongs to (its own executable, Flatpak id or
    // window class; not its parent's), or null.
    const App *match(const ProcessInfo &process) const;

    // Sets appId, appName and appIcon of each process: its own match, or
    // else that of its nearest ancestor that has one (a helper process of
    // an app belongs to it), with appOwn false.
    void annotate(QList<ProcessInfo> &processes) const;

private:
    QList<App> m_apps;
    QHash<QString, qsizetype> m_byPath; // resolved absolute program paths
    QHash<QString, qsizetype> m_byName; // program file names
    QHash<QString, qsizetype> m_byWmClass; // lower case
    QHash<QString, qsizetype> m_byFlatpak;
    bool m_loaded = false;
};
