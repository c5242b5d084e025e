// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotimagemodel.h"

#include "snapshotstore.h"

using namespace cryopod;

SnapshotImageModel::SnapshotImageModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

SnapshotImageModel::~SnapshotImageModel()
{
    if (m_worker) {
        m_worker->wait();
    }
}

QString SnapshotImageModel::storePath() const
{
    return m_storePath;
}

void SnapshotImageModel::setStorePath(const QString &path)
{
    if (m_storePath != path) {
        m_storePath = path;
        Q_EMIT storePathChanged();
        load();
    }
}

bool SnapshotImageModel::isLoading() const
{
    return m_loading;
}

QString SnapshotImageModel::errorString() const
{
    return m_error;
}

void SnapshotImageModel::load()
{
    if (m_worker) {
        m_reloadWhenDone = true; // the running read's answer is for earlier properties
        return;
    }
    const std::function<Loaded(const std::string &)> read = reader();
    if (!read) {
        apply(Loaded {});
        return;
    }
    if (!m_loading) {
        m_loading = true;
        Q_EMIT loadingChanged();
    }
    const std::string dir = m_storePath.isEmpty() ? store::SnapshotStore::defaultLocation() : m_storePath.toStdString();
    m_worker.reset(QThread::create([this, dir, read] {
        const Loaded result = read(dir);
        QMetaObject::invokeMethod(this, [this, result] {
            m_worker->wait();
            m_worker.reset();
            if (m_reloadWhenDone) {
                m_reloadWhenDone = false;
                load();
                return;
            }
            apply(result);
        });
    }));
    m_worker->start();
}

void SnapshotImageModel::apply(const Loaded &result)
{
    beginResetModel();
    if (result.setRows) {
        result.setRows();
    } else {
        clearRows();
    }
    endResetModel();
    m_error = result.error;
    if (m_loading) {
        m_loading = false;
        Q_EMIT loadingChanged();
    }
    Q_EMIT loaded();
}
