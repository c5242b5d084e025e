// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "processfiltermodel.h"

#include "processmodel.h"

ProcessFilterModel::ProcessFilterModel(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setRecursiveFilteringEnabled(true);
    setDynamicSortFilter(true);
    setSortRole(ProcessModel::SortRole);
    setSortCaseSensitivity(Qt::CaseInsensitive);
    sort(ProcessModel::NameColumn, Qt::AscendingOrder);
}

QString ProcessFilterModel::filterString() const
{
    return m_filterString;
}

void ProcessFilterModel::setFilterString(const QString &filter)
{
    const QString trimmed = filter.trimmed();
    if (m_filterString == trimmed) {
        return;
    }
    m_filterString = trimmed;
    invalidateRowsFilter();
    Q_EMIT filterStringChanged();
}

void ProcessFilterModel::setSortColumn(int column)
{
    if (column == sortColumn()) {
        return;
    }
    sort(column, sortOrder());
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ProcessModel::ColumnCount - 1);
    Q_EMIT sortChanged();
}

void ProcessFilterModel::setSortOrder(Qt::SortOrder order)
{
    if (order == sortOrder()) {
        return;
    }
    sort(sortColumn(), order);
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ProcessModel::ColumnCount - 1);
    Q_EMIT sortChanged();
}

void ProcessFilterModel::toggleSort(int column)
{
    if (column == sortColumn()) {
        setSortOrder(sortOrder() == Qt::AscendingOrder ? Qt::DescendingOrder : Qt::AscendingOrder);
        return;
    }
    const bool numeric = column == ProcessModel::CpuColumn || column == ProcessModel::MemoryColumn;
    sort(column, numeric ? Qt::DescendingOrder : Qt::AscendingOrder);
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ProcessModel::ColumnCount - 1);
    Q_EMIT sortChanged();
}

QModelIndex ProcessFilterModel::indexForPid(int pid) const
{
    const auto *processes = qobject_cast<const ProcessModel *>(sourceModel());
    if (!processes) {
        return {};
    }
    // Mapped from the top down, stopping at the first hidden ancestor: Qt's
    // mapFromSource() builds its row map of the source parent even when that
    // parent is filtered out, and it does not keep such a map up to date when
    // rows are inserted under the hidden parent (recursive filtering). Once the
    // parent showed, the next insertion under it was refused as "invalid
    // inserted rows" and the proxy lost track of its rows.
    QList<QModelIndex> chain;
    for (QModelIndex index = processes->indexForPid(pid); index.isValid(); index = index.parent()) {
        chain.prepend(index);
    }
    QModelIndex mapped;
    for (const QModelIndex &source : std::as_const(chain)) {
        mapped = mapFromSource(source); // maps source.parent(), shown (or the root)
        if (!mapped.isValid()) {
            return {};
        }
    }
    return mapped;
}

QStringList ProcessFilterModel::columnTitles() const
{
    return m_columnTitles;
}

void ProcessFilterModel::setColumnTitles(const QStringList &titles)
{
    if (m_columnTitles == titles) {
        return;
    }
    m_columnTitles = titles;
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ProcessModel::ColumnCount - 1);
    Q_EMIT columnTitlesChanged();
}

QVariant ProcessFilterModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal) {
        if (role == Qt::DisplayRole && section >= 0 && section < m_columnTitles.size()) {
            return m_columnTitles.at(section);
        }
        if (role == ProcessModel::SortIndicatorRole) {
            return section == sortColumn() ? QVariant::fromValue(int(sortOrder())) : QVariant();
        }
    }
    return QSortFilterProxyModel::headerData(section, orientation, role);
}

bool ProcessFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (m_filterString.isEmpty()) {
        return true;
    }
    const QModelIndex index = sourceModel()->index(sourceRow, 0, sourceParent);
    if (index.data(ProcessModel::NameRole).toString().contains(m_filterString, Qt::CaseInsensitive)
        || index.data(ProcessModel::AppNameRole).toString().contains(m_filterString, Qt::CaseInsensitive)) {
        return true;
    }
    if (QString::number(index.data(ProcessModel::PidRole).toInt()).startsWith(m_filterString)) {
        return true;
    }
    return index.data(ProcessModel::CommandLineRole).toString().contains(m_filterString, Qt::CaseInsensitive);
}

bool ProcessFilterModel::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const QVariant a = left.data(ProcessModel::SortRole);
    const QVariant b = right.data(ProcessModel::SortRole);
    if (a.typeId() == QMetaType::QString) {
        const int order = QString::compare(a.toString(), b.toString(), Qt::CaseInsensitive);
        if (order != 0) {
            return order < 0;
        }
    } else {
        const QPartialOrdering order = QVariant::compare(a, b);
        if (order == QPartialOrdering::Less || order == QPartialOrdering::Greater) {
            return order == QPartialOrdering::Less;
        }
    }
    // Ties in pid order, so that equal rows do not swap places on refresh.
    return left.data(ProcessModel::PidRole).toInt() < right.data(ProcessModel::PidRole).toInt();
}
