// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SnapshotDiffModel: what differs between two stored snapshots, read from
// their images (SnapshotDetailsModel::readImage, on a worker thread): the
// processes that came or went or changed (name, executable, parent,
// threads, memory saved), the memory regions by process and start address
// (mapped size, protection, bytes saved raw and stored in the image), the
// open files by process and fd (what, kind, position) and the credentials.
// One row per difference; nothing that is the same.
#pragma once

#include "snapshotimagemodel.h"

#include <QtQmlIntegration>

#include <memory>

namespace cryopod::image
{
struct ImageInfo;
}

class SnapshotDiffModel : public SnapshotImageModel
{
    Q_OBJECT
    QML_ELEMENT

    // The older ("before") and the newer ("after") snapshot; both > 0 to compare.
    Q_PROPERTY(qint64 beforeId READ beforeId WRITE setBeforeId NOTIFY idsChanged)
    Q_PROPERTY(qint64 afterId READ afterId WRITE setAfterId NOTIFY idsChanged)
    // "3 processes, 41 memory regions, 12 files compared": what was looked at.
    Q_PROPERTY(QString summary READ summary NOTIFY loaded)

public:
    enum Role {
        SectionRole = Qt::UserRole + 1, // "processes", "memory", "files", "credentials"
        ChangeRole, // "added", "removed", "changed"
        PidRole,
        TitleRole,
        BeforeRole, // the text of the older snapshot ("" when added)
        AfterRole, // of the newer ("" when removed)
        BytesBeforeRole, // memory and processes: raw bytes saved
        BytesAfterRole,
        StoredBeforeRole, // memory: bytes in the image
        StoredAfterRole,
    };
    Q_ENUM(Role)

    enum class Change {
        Added,
        Removed,
        Changed,
    };

    struct Row {
        QString section;
        Change change = Change::Changed;
        int pid = 0;
        QString title;
        QString before;
        QString after;
        qint64 bytesBefore = 0;
        qint64 bytesAfter = 0;
        qint64 storedBefore = 0;
        qint64 storedAfter = 0;
    };

    struct Diff {
        QList<Row> rows;
        int processes = 0; // compared (in either)
        int regions = 0;
        int files = 0;
    };
    // The differences of after against before, in order: processes, memory
    // (the largest change of bytes saved first), files, credentials.
    static Diff compare(const cryopod::image::ImageInfo &before, const cryopod::image::ImageInfo &after);

    explicit SnapshotDiffModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    qint64 beforeId() const;
    void setBeforeId(qint64 id);
    qint64 afterId() const;
    void setAfterId(qint64 id);
    QString summary() const;
    // Compares two snapshots, the older (the smaller id) as before.
    Q_INVOKABLE void comparePair(qint64 one, qint64 other);

Q_SIGNALS:
    void idsChanged();

protected:
    std::function<Loaded(const std::string &storeDir)> reader() override;
    void clearRows() override;

private:
    struct Result {
        Diff diff;
        QString error;
    };
    static Result read(const std::string &storeDir, qint64 before, qint64 after);

    qint64 m_before = 0;
    qint64 m_after = 0;
    Diff m_diff;
};
