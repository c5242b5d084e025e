// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "timelinemodel.h"

#include "backendlogging.h"
#include "snapshotstore.h"

#include <QDateTime>
#include <QLocale>
#include <QSet>

using cryopod::store::SnapshotInfo;
using cryopod::store::SnapshotStore;

namespace
{
QString q(const std::string &text)
{
    return QString::fromStdString(text);
}

bool sameRow(const SnapshotInfo &a, const SnapshotInfo &b)
{
    return a.id == b.id && a.label == b.label && a.note == b.note && a.pinned == b.pinned && a.targetLabel == b.targetLabel && a.status == b.status &&
        a.storedBytes == b.storedBytes;
}
} // namespace

QString TimelineModel::timingText(quint64 pauseNs, quint64 durationNs)
{
    const QLocale locale;
    // Under 10 s in tenths of a second, above in seconds.
    const double seconds = double(durationNs) / 1e9;
    const QString total = locale.toString(seconds, 'f', seconds < 10 ? 1 : 0);
    if (pauseNs == 0) {
        //: %1 seconds
        return tr("%1 s in all").arg(total);
    }
    //: %1 milliseconds the program was stopped, %2 seconds the snapshot took
    return tr("paused %1 ms, %2 s in all").arg(locale.toString(qRound64(double(pauseNs) / 1e6))).arg(total);
}

TimelineModel::TimelineModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

TimelineModel::~TimelineModel() = default;

int TimelineModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant TimelineModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const SnapshotInfo &s = m_rows[size_t(index.row())];
    const QLocale locale;
    switch (role) {
    case Qt::DisplayRole:
    case TimeTextRole:
        return locale.toString(QDateTime::fromMSecsSinceEpoch(s.createdAtNs / 1000000), QLocale::ShortFormat);
    case SnapshotIdRole:
        return qint64(s.id);
    case TargetIdRole:
        return qint64(s.targetId);
    case CreatedAtRole:
        return QDateTime::fromMSecsSinceEpoch(s.createdAtNs / 1000000);
    case LabelRole:
        return q(s.label);
    case NoteRole:
        return q(s.note);
    case PinnedRole:
        return s.pinned;
    case OriginRole:
        return q(s.origin);
    case RootPidRole:
        return int(s.rootPid);
    case CommandRole:
        return q(s.comm);
    case ExecutableRole:
        return q(s.exe);
    case TargetLabelRole:
        return q(s.targetLabel);
    case ImageBytesRole:
        return quint64(s.imageBytes);
    case RawBytesRole:
        return quint64(s.rawBytes);
    case StoredBytesRole:
        return quint64(s.storedBytes);
    case SizeTextRole:
        //: %1 what the snapshot added to the store, %2 the process's memory and state uncompressed
        return tr("%1 stored of %2")
            .arg(locale.formattedDataSize(qint64(s.storedBytes), 1, QLocale::DataSizeIecFormat),
                 locale.formattedDataSize(qint64(s.rawBytes), 1, QLocale::DataSizeIecFormat));
    case PauseMsRole:
        return double(s.pauseNs) / 1e6;
    case DurationMsRole:
        return double(s.durationNs) / 1e6;
    case ScheduleIdRole:
        return qint64(s.scheduleId);
    case TimingTextRole:
        return timingText(s.pauseNs, s.durationNs);
    }
    return {};
}

QHash<int, QByteArray> TimelineModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractListModel::roleNames();
    names.insert({
        {SnapshotIdRole, "snapshotId"},
        {TargetIdRole, "targetId"},
        {CreatedAtRole, "createdAt"},
        {TimeTextRole, "timeText"},
        {LabelRole, "label"},
        {NoteRole, "note"},
        {PinnedRole, "pinned"},
        {OriginRole, "origin"},
        {RootPidRole, "rootPid"},
        {CommandRole, "command"},
        {ExecutableRole, "executable"},
        {TargetLabelRole, "targetLabel"},
        {ImageBytesRole, "imageBytes"},
        {RawBytesRole, "rawBytes"},
        {StoredBytesRole, "storedBytes"},
        {SizeTextRole, "sizeText"},
        {PauseMsRole, "pauseMs"},
        {DurationMsRole, "durationMs"},
        {ScheduleIdRole, "scheduleId"},
        {TimingTextRole, "timingText"},
    });
    return names;
}

QString TimelineModel::storePath() const
{
    return m_storePath;
}

void TimelineModel::setStorePath(const QString &path)
{
    if (m_storePath == path) {
        return;
    }
    m_storePath = path;
    closeStore();
    Q_EMIT storePathChanged();
    reload();
}

qint64 TimelineModel::targetId() const
{
    return m_targetId;
}

void TimelineModel::setTargetId(qint64 id)
{
    if (m_targetId == id) {
        return;
    }
    m_targetId = id;
    Q_EMIT targetIdChanged();
    reload();
}

int TimelineModel::count() const
{
    return int(m_rows.size());
}

QString TimelineModel::errorString() const
{
    return m_error;
}

void TimelineModel::setError(const QString &error)
{
    if (!error.isEmpty()) {
        qCWarning(lcTimeline) << error;
    }
    if (m_error != error) {
        m_error = error;
        Q_EMIT errorStringChanged();
    }
}

void TimelineModel::closeStore()
{
    m_store.reset();
}

SnapshotStore *TimelineModel::store()
{
    if (!m_store) {
        const std::string dir = m_storePath.isEmpty() ? SnapshotStore::defaultLocation() : m_storePath.toStdString();
        auto opened = SnapshotStore::open(dir);
        if (!opened) {
            setError(tr("Cannot open the snapshot store: %1").arg(q(opened.error().describe())));
            return nullptr;
        }
        m_store = std::move(*opened);
    }
    return m_store.get();
}

bool TimelineModel::reload()
{
    SnapshotStore *s = store();
    if (!s) {
        return false;
    }
    cryopod::store::SnapshotFilter filter;
    filter.targetId = m_targetId;
    filter.newestFirst = true;
    auto listed = s->list(filter);
    if (!listed) {
        setError(tr("Cannot read the snapshot store: %1").arg(q(listed.error().describe())));
        return false;
    }
    std::vector<SnapshotInfo> fresh = std::move(*listed);
    const int countBefore = count();

    // Rows that are gone, bottom up, in runs.
    QSet<qint64> freshIds;
    for (const SnapshotInfo &s : fresh) {
        freshIds.insert(s.id);
    }
    for (int row = int(m_rows.size()) - 1; row >= 0;) {
        if (freshIds.contains(m_rows[size_t(row)].id)) {
            --row;
            continue;
        }
        int first = row;
        while (first > 0 && !freshIds.contains(m_rows[size_t(first - 1)].id)) {
            --first;
        }
        beginRemoveRows({}, first, row);
        m_rows.erase(m_rows.begin() + first, m_rows.begin() + row + 1);
        endRemoveRows();
        row = first - 1;
    }

    // What is left is in the new order (both are newest first, ties by id,
    // and a snapshot's time never changes): insert the new rows in runs
    // before the next old one, and report the changed ones.
    size_t row = 0;
    for (size_t i = 0; i < fresh.size();) {
        if (row < m_rows.size() && m_rows[row].id == fresh[i].id) {
            if (!sameRow(m_rows[row], fresh[i])) {
                m_rows[row] = fresh[i];
                Q_EMIT dataChanged(index(int(row)), index(int(row)));
            }
            ++row;
            ++i;
            continue;
        }
        size_t end = i;
        while (end < fresh.size() && !(row < m_rows.size() && m_rows[row].id == fresh[end].id)) {
            ++end;
        }
        beginInsertRows({}, int(row), int(row + (end - i)) - 1);
        m_rows.insert(m_rows.begin() + qsizetype(row), fresh.begin() + qsizetype(i), fresh.begin() + qsizetype(end));
        endInsertRows();
        row += end - i;
        i = end;
    }
    setError(QString());
    if (count() != countBefore) {
        Q_EMIT countChanged();
    }
    return true;
}

int TimelineModel::rowOf(qint64 snapshotId) const
{
    for (size_t row = 0; row < m_rows.size(); ++row) {
        if (m_rows[row].id == snapshotId) {
            return int(row);
        }
    }
    return -1;
}

qint64 TimelineModel::snapshotIdAt(int row) const
{
    return row >= 0 && size_t(row) < m_rows.size() ? m_rows[size_t(row)].id : 0;
}

QString TimelineModel::timeTextOf(qint64 snapshotId) const
{
    const int row = rowOf(snapshotId);
    return row < 0 ? QString() : index(row).data(TimeTextRole).toString();
}

bool TimelineModel::change(const QString &what, const std::function<cryopod::Result<void>(SnapshotStore &)> &apply)
{
    SnapshotStore *s = store();
    if (!s) {
        return false;
    }
    if (auto r = apply(*s); !r) {
        setError(what.arg(q(r.error().describe())));
        return false;
    }
    return reload();
}

bool TimelineModel::setLabel(qint64 snapshotId, const QString &label)
{
    return change(tr("Cannot change the label: %1"), [&](SnapshotStore &s) { return s.setLabel(snapshotId, label.toStdString()); });
}

bool TimelineModel::setNote(qint64 snapshotId, const QString &note)
{
    return change(tr("Cannot change the note: %1"), [&](SnapshotStore &s) { return s.setNote(snapshotId, note.toStdString()); });
}

bool TimelineModel::setPinned(qint64 snapshotId, bool pinned)
{
    return change(tr("Cannot change the pin: %1"), [&](SnapshotStore &s) { return s.setPinned(snapshotId, pinned); });
}

bool TimelineModel::remove(qint64 snapshotId, bool force)
{
    return change(tr("Cannot delete the snapshot: %1"), [&](SnapshotStore &s) { return s.remove(snapshotId, force); });
}
