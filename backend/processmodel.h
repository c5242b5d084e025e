// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ProcessModel: the running processes as a tree (children under their parent
// process), refreshed periodically from a ProcessScanner on a worker thread.
// A refresh is applied incrementally, never with a model reset, so that
// selections and expanded rows survive: first the changed values of the
// processes that stay (dataChanged, while every row is still in place), then
// rows are inserted and removed. A process re-parented when its parent exits
// is removed and inserted under its new parent, with its subtree: never a row
// move, which Qt's QML TreeView and proxies mishandle between parents. CPU
// usage is derived from the CPU time consumed between two refreshes.
#pragma once

#include "processinfo.h"

#include <QAbstractItemModel>
#include <QHash>
#include <QTimer>
#include <QtQmlIntegration>

#include <memory>
#include <vector>

class ProcessScanner;
class ReportCache;

class ProcessModel : public QAbstractItemModel
{
    Q_OBJECT
    QML_ELEMENT

    // Milliseconds between automatic refreshes; 0 turns them off.
    Q_PROPERTY(int refreshInterval READ refreshInterval WRITE setRefreshInterval NOTIFY refreshIntervalChanged)
    // When false, nothing refreshes automatically (refresh() still works).
    Q_PROPERTY(bool active READ isActive WRITE setActive NOTIFY activeChanged)
    // Only the caller's own processes (ProcessForest::isOwnedBy): no other users', no kernel threads.
    Q_PROPERTY(bool showOnlyMine READ showOnlyMine WRITE setShowOnlyMine NOTIFY showOnlyMineChanged)
    // Only the caller's processes that belong to a desktop application (its
    // own .desktop file or an ancestor's: ProcessInfo::appId); wins over showOnlyMine.
    Q_PROPERTY(bool showOnlyApps READ showOnlyApps WRITE setShowOnlyApps NOTIFY showOnlyAppsChanged)
    // True until the first scan has been applied.
    Q_PROPERTY(bool loading READ isLoading NOTIFY loadingChanged)
    // Number of processes in the model (all levels).
    Q_PROPERTY(int processCount READ processCount NOTIFY processCountChanged)
    // Why the last scan failed ("" when it did not): /proc unreadable, or,
    // inside a Flatpak, the helper missing or refusing. The tree keeps what
    // the last good scan showed.
    Q_PROPERTY(QString scanError READ scanError NOTIFY scanErrorChanged)
    // Whether rows ask cryopod-helper for their checkpointability verdict
    // (lazily, when CheckpointVerdictRole is read); on by default.
    Q_PROPERTY(bool checkpointReports READ checkpointReports WRITE setCheckpointReports NOTIFY checkpointReportsChanged)

public:
    enum Column {
        NameColumn,
        PidColumn,
        UserColumn,
        CpuColumn,
        MemoryColumn,
        CheckpointColumn, // the checkpointability badge (ReportCache)
        ColumnCount,
    };
    Q_ENUM(Column)

    enum Role {
        NameRole = Qt::UserRole + 1,
        PidRole,
        ParentPidRole,
        UserNameRole,
        UidRole,
        CommandLineRole,
        ExecutableRole,
        StateRole,
        KernelThreadRole,
        MemoryRole, // bytes
        CpuPercentRole, // share of the whole machine, 0..100
        CpuTimeRole, // ms
        StartTimeRole, // QDateTime
        IconNameRole,
        SortRole, // the raw value of the cell's column, for sorting
        SortIndicatorRole, // header data: Qt::SortOrder of the sorted column (set by proxies)
        // "ok", "caveat", "refused", "pending" (asked), "unknown" (no answer)
        // or "" (reports off). Reading it asks the helper for the report.
        CheckpointVerdictRole,
        CheckpointSummaryRole, // the first reason, in words ("" when ok)
        FrozenRole, // bool: its cgroup's freezer holds it (ProcessInfo::frozen)
        AppNameRole, // the desktop application it belongs to ("" for none)
        AppIdRole, // that app's desktop file id
    };
    Q_ENUM(Role)

    explicit ProcessModel(QObject *parent = nullptr);
    ~ProcessModel() override;

    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    bool hasChildren(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    int refreshInterval() const;
    void setRefreshInterval(int milliseconds);
    bool isActive() const;
    void setActive(bool active);
    bool showOnlyMine() const;
    void setShowOnlyMine(bool only);
    bool showOnlyApps() const;
    void setShowOnlyApps(bool only);
    bool isLoading() const;
    int processCount() const;
    bool checkpointReports() const;
    void setCheckpointReports(bool on);

    // The row of a process (column 0), or an invalid index.
    Q_INVOKABLE QModelIndex indexForPid(int pid) const;

    // Asks the helper again for the verdict of a process (after the report
    // dialog showed a newer one, or a change to the process).
    Q_INVOKABLE void refreshCheckpointability(int pid);

    // Scans /proc on a worker thread and applies the result; refreshed()
    // follows once the details of new processes are in too. Requests while
    // a scan runs are coalesced.
    Q_INVOKABLE void refresh();
    QString scanError() const
    {
        return m_scanError;
    }

    // Applies a snapshot (what refresh() does with each scan). Public so that
    // tests and other scanners can feed the model directly.
    void applySnapshot(const ProcessSnapshot &snapshot);

Q_SIGNALS:
    void refreshIntervalChanged();
    void activeChanged();
    void showOnlyMineChanged();
    void showOnlyAppsChanged();
    void loadingChanged();
    void processCountChanged();
    void scanErrorChanged();
    void checkpointReportsChanged();
    // A snapshot has been applied, with every process's details (a scan's
    // new processes show before them: ProcessSnapshot::detailsPending).
    void refreshed();
    // A snapshot has been applied (a scan's, or a details pass's after it).
    void snapshotApplied();

private:
    struct Node;
    struct Key {
        pid_t pid = 0;
        quint64 startTicks = 0;
        friend bool operator==(const Key &, const Key &) = default;
        friend size_t qHash(const Key &key, size_t seed = 0)
        {
            return qHashMulti(seed, key.pid, key.startTicks);
        }
    };

    Node *nodeOf(const QModelIndex &index) const;
    QModelIndex indexOf(Node *node, int column = 0) const;
    void updateTimer();
    void reparentNode(Node *node, Node *newParent);
    void removeChild(Node *parent, int row);
    void forgetSubtree(Node *node);
    // dataChanged() for the columns firstColumn..lastColumn of changed.
    void emitDataChanged(const QList<Node *> &changed, int firstColumn, int lastColumn);

    std::unique_ptr<Node> m_root;
    QHash<Key, Node *> m_nodes;
    void reportUpdated(pid_t pid, quint64 startTicks);

    ProcessScanner *m_scanner = nullptr;
    ReportCache *m_reports = nullptr; // null while checkpointReports is off
    QTimer m_timer;
    ProcessSnapshot m_lastSnapshot;
    QString m_scanError;
    int m_refreshInterval = 2000;
    bool m_active = true;
    bool m_showOnlyMine = false;
    bool m_showOnlyApps = false;
    bool m_loading = true;
    bool m_checkpointReports = true;
    quint64 m_pass = 0; // applySnapshot() calls so far
};
