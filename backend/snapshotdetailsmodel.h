// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SnapshotDetailsModel: what one stored snapshot holds, read from its image
// (rebuilt from the store and read by backend/image's ImageInfo, the only
// code that parses image bytes) on a worker thread: its process tree,
// memory by region, open files and credentials, one row each, grouped by
// section ("processes", "memory", "files", "credentials").
#pragma once

#include "snapshotimagemodel.h"

#include <QtQmlIntegration>

#include <memory>
#include <string>

namespace cryopod::image
{
struct ImageInfo;
}

class SnapshotDetailsModel : public SnapshotImageModel
{
    Q_OBJECT
    QML_ELEMENT

    // The snapshot to show; setting it reads its image (0: nothing).
    Q_PROPERTY(qint64 snapshotId READ snapshotId WRITE setSnapshotId NOTIFY snapshotIdChanged)

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

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    qint64 snapshotId() const;
    void setSnapshotId(qint64 id);

Q_SIGNALS:
    void snapshotIdChanged();

protected:
    std::function<Loaded(const std::string &storeDir)> reader() override;
    void clearRows() override;

private:
    struct Result {
        QList<Row> rows;
        QString error;
    };
    // On a worker thread.
    static Result read(const std::string &storeDir, qint64 id);

    qint64 m_id = 0;
    QList<Row> m_rows;
};
