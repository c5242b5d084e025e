// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SnapshotImageModel: what SnapshotDetailsModel and SnapshotDiffModel share.
// Both show rows read from stored snapshots' images, named by properties
// (the store's directory here, the snapshot ids in each model): every change
// of them reads again on a worker thread, one read at a time, and only the
// answer for the current properties is shown.
#pragma once

#include <QAbstractListModel>
#include <QThread>
#include <QtQmlIntegration>

#include <functional>
#include <memory>
#include <string>

class SnapshotImageModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ANONYMOUS

    // The store's directory; empty: SnapshotStore::defaultLocation().
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY storePathChanged)
    Q_PROPERTY(bool loading READ isLoading NOTIFY loadingChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY loaded)
    Q_PROPERTY(int count READ rowCount NOTIFY loaded)

public:
    ~SnapshotImageModel() override;

    QString storePath() const;
    void setStorePath(const QString &path);
    bool isLoading() const;
    QString errorString() const;

Q_SIGNALS:
    void storePathChanged();
    void loadingChanged();
    // The rows (or errorString) of the current properties are in.
    void loaded();

protected:
    explicit SnapshotImageModel(QObject *parent = nullptr);

    // What a read found: `setRows` puts its rows in the model (called
    // inside a model reset on the model's thread), or the error.
    struct Loaded {
        std::function<void()> setRows;
        QString error;
    };
    // The read of what the properties name now, run on the worker thread
    // with the store's directory; empty when they name nothing (the model
    // is then emptied).
    virtual std::function<Loaded(const std::string &storeDir)> reader() = 0;
    // Removes every row (inside a model reset).
    virtual void clearRows() = 0;
    // Reads again: to call whenever a property that names what is read
    // changed.
    void load();

private:
    void apply(const Loaded &result);

    QString m_storePath;
    bool m_loading = false;
    QString m_error;
    std::unique_ptr<QThread> m_worker;
    bool m_reloadWhenDone = false;
};
