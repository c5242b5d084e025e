// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SnapshotDetailsModel: what one stored snapshot holds, read from its image
// (rebuilt from the store and read by backend/image's ImageInfo, the only
// code that parses image bytes) on a worker thread: its process tree,
// memory by region, open files and credentials, one row each, grouped by
// section ("processes", "memory", "files", "credentials").
#pragma once

#include <QAbstractListModel>
#include <QThread>
#include <QtQmlIntegration>

#include <memory>
#include <string>

namespace cryopod::image
{
struct ImageInfo;
}

class SnapshotDetailsModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT

    // The store's directory; empty: SnapshotStore::defaultLocation().
    Q_PROPERTY(QString storePath READ storePath WRITE setStorePath NOTIFY storePathChanged)
    // The snapshot to show; setting it reads its image (0: nothing).
    Q_PROPERTY(qint64 snapshotId READ snapshotId WRITE setSnapshotId NOTIFY snapshotIdChanged)
    Q_PROPERTY(bool loading READ isLoading NOTIFY loadingChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY loaded)
    Q_PROPERTY(int count READ rowCount NOTIFY loaded)

public:
    enum Role {
        SectionRole = Qt::UserRole + 1, // "processes", "memory", "files", "credentials"
        PidRole, // the process the row is about
        TitleRole,
        DetailRole,
        BytesRole, // memory rows: bytes of the region saved in the image
    };
    Q_ENUM(Role)

    struct Row {
        QString section;
        int pid = 0;
        QString title;
        QString detail;
        qint64 bytes = 0;
    };

    // A stored snapshot's image, rebuilt from the store and read (blocking:
    // on a worker thread); info is null and error says why when it cannot be.
    struct ImageRead {
        std::shared_ptr<const cryopod::image::ImageInfo> info;
        QString error;
    };
    static ImageRead readImage(const std::string &storeDir, qint64 id);

    explicit SnapshotDetailsModel(QObject *parent = nullptr);
    ~SnapshotDetailsModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString storePath() const;
    void setStorePath(const QString &path);
    qint64 snapshotId() const;
    void setSnapshotId(qint64 id);
    bool isLoading() const;
    QString errorString() const;

Q_SIGNALS:
    void storePathChanged();
    void snapshotIdChanged();
    void loadingChanged();
    // The rows (or errorString) of snapshotId are in.
    void loaded();

private:
    struct Result {
        qint64 id = 0;
        QList<Row> rows;
        QString error;
    };
    // On a worker thread.
    static Result read(const std::string &storeDir, qint64 id);
    void load();
    void apply(const Result &result);

    QString m_storePath;
    qint64 m_id = 0;
    bool m_loading = false;
    QString m_error;
    QList<Row> m_rows;
    std::unique_ptr<QThread> m_worker;
    bool m_reloadWhenDone = false;
};
