// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// CryopodSettings: the user's choices for the GUI, kept with QSettings
// ($XDG_CONFIG_HOME/cryopod/cryopod.ini, by default ~/.config/...):
// where the store is, how hard it compresses, whether "Snapshot" keeps the
// process running or stops it, and how many snapshots of a program to keep.
// Every change is written at once. firstRun is true until the app was
// started (and the welcome shown) once.
#pragma once

#include <QObject>
#include <QSettings>
#include <QtQmlIntegration>

class CryopodSettings : public QObject
{
    Q_OBJECT
    QML_ELEMENT

    // The store's directory; "" for the default (SnapshotStore::defaultLocation()).
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY changed)
    // What "" means, for the form's placeholder.
    Q_PROPERTY(QString defaultStorePath READ defaultStorePath CONSTANT)
    // zstd level of the store's blobs, 1..19 (higher: smaller, slower).
    Q_PROPERTY(int compressionLevel READ compressionLevel WRITE setCompressionLevel NOTIFY changed)
    // Snapshot keeps the process running (true, the default) or ends it once
    // its snapshot is stored (false).
    Q_PROPERTY(bool keepRunning READ keepRunning WRITE setKeepRunning NOTIFY changed)
    // After a snapshot, keep this many of the program's newest unpinned
    // snapshots and delete older ones; 0 keeps all.
    Q_PROPERTY(int keepLast READ keepLast WRITE setKeepLast NOTIFY changed)
    Q_PROPERTY(bool firstRun READ isFirstRun NOTIFY changed)

public:
    static constexpr int kMinLevel = 1;
    static constexpr int kMaxLevel = 19;
    static constexpr int kMaxKeepLast = 1000;

    explicit CryopodSettings(QObject *parent = nullptr);

    QString storePath() const;
    void setStorePath(const QString &path);
    QString defaultStorePath() const;
    int compressionLevel() const;
    void setCompressionLevel(int level);
    bool keepRunning() const;
    void setKeepRunning(bool keep);
    int keepLast() const;
    void setKeepLast(int count);
    bool isFirstRun() const;

    // The welcome has been seen: firstRun is false from now on.
    Q_INVOKABLE void setWelcomed();
    // Every setting back to its default.
    Q_INVOKABLE void resetToDefaults();

Q_SIGNALS:
    void changed();

private:
    void write(const QString &key, const QVariant &value);

    QSettings m_settings;
};
