// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ProcessFilterModel: sorting and searching over a ProcessModel. A search
// matches a process by name, command line or pid; the ancestors of a match
// stay visible, so that the tree keeps its shape. It also carries the
// (translated) column titles and the sort indicator for a header view.
#pragma once

#include <QSortFilterProxyModel>
#include <QtQmlIntegration>

class ProcessFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT
    QML_ELEMENT

    Q_PROPERTY(QString filterString READ filterString WRITE setFilterString NOTIFY filterStringChanged)
    // Column to sort by (ProcessModel::Column), -1 for the source model's order.
    Q_PROPERTY(int sortColumn READ sortColumn WRITE setSortColumn NOTIFY sortChanged)
    Q_PROPERTY(Qt::SortOrder sortOrder READ sortOrder WRITE setSortOrder NOTIFY sortChanged)
    // Titles for headerData(), by column; set by the GUI with its translations.
    Q_PROPERTY(QStringList columnTitles READ columnTitles WRITE setColumnTitles NOTIFY columnTitlesChanged)

public:
    explicit ProcessFilterModel(QObject *parent = nullptr);

    QString filterString() const;
    void setFilterString(const QString &filter);
    void setSortColumn(int column);
    void setSortOrder(Qt::SortOrder order);
    QStringList columnTitles() const;
    void setColumnTitles(const QStringList &titles);

    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // The row of a process (column 0), or an invalid index when it is not
    // shown. The source model must be a ProcessModel. Never maps a row under a
    // hidden parent (see the .cpp).
    Q_INVOKABLE QModelIndex indexForPid(int pid) const;

    // Sorts by column; sorting again by the same column flips the order.
    // Numbers start with the largest first, text in alphabetical order.
    Q_INVOKABLE void toggleSort(int column);

Q_SIGNALS:
    void filterStringChanged();
    void sortChanged();
    void columnTitlesChanged();

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    QString m_filterString;
    QStringList m_columnTitles;
};
