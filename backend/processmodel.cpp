// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "processmodel.h"

#include "backendlogging.h"
#include "helperprocesssource.h"
#include "processforest.h"
#include "processscanner.h"
#include "reportcache.h"

#include <QDateTime>
#include <QLocale>
#include <QSet>

#include <algorithm>

#include <unistd.h>

struct ProcessModel::Node {
    ProcessInfo info;
    double cpuPercent = 0;
    Node *parent = nullptr;
    int row = 0; // index in parent->children
    quint64 createdInPass = 0;
    std::vector<std::unique_ptr<Node>> children;
};

namespace
{
// The icon of a process until issue 8 maps processes to their applications.
QString iconNameFor(const ProcessInfo &info)
{
    if (!info.appIcon.isEmpty()) {
        return info.appIcon;
    }
    if (info.kernelThread) {
        return QStringLiteral("preferences-system-linux");
    }
    static const QSet<QString> shells = {
        QStringLiteral("bash"), QStringLiteral("sh"),  QStringLiteral("dash"), QStringLiteral("zsh"),
        QStringLiteral("fish"), QStringLiteral("ksh"), QStringLiteral("tcsh"),
    };
    if (shells.contains(info.name)) {
        return QStringLiteral("utilities-terminal");
    }
    return QStringLiteral("system-run");
}

// What the name column shows (name, icon, tool tip, frozen mark): a change
// re-sorts a tree sorted by name, which lays the rows out anew.
bool sameNameCell(const ProcessInfo &a, const ProcessInfo &b)
{
    return a.name == b.name && a.appName == b.appName && a.appOwn == b.appOwn && a.appIcon == b.appIcon && a.arguments == b.arguments && a.frozen == b.frozen;
}

bool sameData(const ProcessInfo &a, const ProcessInfo &b)
{
    return a.ppid == b.ppid && a.name == b.name && a.arguments == b.arguments && a.executable == b.executable && a.uid == b.uid && a.euid == b.euid &&
        a.userName == b.userName && a.state == b.state && a.rssBytes == b.rssBytes && a.cpuTimeNs == b.cpuTimeNs && a.frozen == b.frozen && a.appId == b.appId && a.appOwn == b.appOwn;
}
} // namespace

ProcessModel::ProcessModel(QObject *parent)
    : QAbstractItemModel(parent)
    , m_root(std::make_unique<Node>())
    , m_scanner(new ProcessScanner(defaultProcessSource(), this))
{
    connect(m_scanner, &ProcessScanner::snapshotReady, this, &ProcessModel::applySnapshot);
    connect(&m_timer, &QTimer::timeout, this, &ProcessModel::refresh);
    updateTimer();
    // The first scan, as soon as the event loop runs (after QML has set the
    // properties, or a test has turned automatic refreshes off).
    setCheckpointReports(true);
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (m_active) {
                refresh();
            }
        },
        Qt::QueuedConnection);
}

ProcessModel::~ProcessModel() = default;

ProcessModel::Node *ProcessModel::nodeOf(const QModelIndex &index) const
{
    return index.isValid() ? static_cast<Node *>(index.internalPointer()) : m_root.get();
}

QModelIndex ProcessModel::indexOf(Node *node, int column) const
{
    if (!node || node == m_root.get()) {
        return {};
    }
    return createIndex(node->row, column, node);
}

QModelIndex ProcessModel::index(int row, int column, const QModelIndex &parent) const
{
    if (row < 0 || column < 0 || column >= ColumnCount || (parent.isValid() && parent.column() != 0)) {
        return {};
    }
    const Node *parentNode = nodeOf(parent);
    if (size_t(row) >= parentNode->children.size()) {
        return {};
    }
    return createIndex(row, column, parentNode->children[size_t(row)].get());
}

QModelIndex ProcessModel::parent(const QModelIndex &child) const
{
    if (!child.isValid()) {
        return {};
    }
    return indexOf(nodeOf(child)->parent);
}

int ProcessModel::rowCount(const QModelIndex &parent) const
{
    if (parent.isValid() && parent.column() != 0) {
        return 0;
    }
    return int(nodeOf(parent)->children.size());
}

int ProcessModel::columnCount(const QModelIndex &) const
{
    return ColumnCount;
}

bool ProcessModel::hasChildren(const QModelIndex &parent) const
{
    return rowCount(parent) > 0;
}

QVariant ProcessModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) {
        return {};
    }
    const Node *node = nodeOf(index);
    const ProcessInfo &info = node->info;
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn:
            // An app's own process by the app's name: "Kate", not "kate".
            return info.appOwn ? info.appName : info.name;
        case PidColumn:
            return QString::number(info.pid);
        case UserColumn:
            return info.userName;
        case CpuColumn:
            // Blank rather than a column of zeros, as KDE's system monitors do.
            return node->cpuPercent < 0.05 ? QString() : QLocale().toString(node->cpuPercent, 'f', 1) + QLatin1Char('%');
        case MemoryColumn:
            return info.rssBytes == 0 ? QString() : QLocale().formattedDataSize(qint64(info.rssBytes), 1, QLocale::DataSizeIecFormat);
        case CheckpointColumn:
            return QString(); // the delegate shows the badge (CheckpointVerdictRole)
        }
        return {};
    case Qt::ToolTipRole:
        // The full command line; nothing for kernel threads and zombies, which have none.
        return info.arguments.isEmpty() ? QString() : info.arguments.join(QLatin1Char(' '));
    case NameRole:
        return info.name;
    case PidRole:
        return int(info.pid);
    case ParentPidRole:
        return int(info.ppid);
    case UserNameRole:
        return info.userName;
    case UidRole:
        return uint(info.euid);
    case CommandLineRole:
        return info.arguments.join(QLatin1Char(' '));
    case ExecutableRole:
        return info.executable;
    case StateRole:
        return QString(QLatin1Char(info.state));
    case KernelThreadRole:
        return info.kernelThread;
    case MemoryRole:
        return info.rssBytes;
    case CpuPercentRole:
        return node->cpuPercent;
    case CpuTimeRole:
        return info.cpuTimeNs / 1000000;
    case StartTimeRole:
        return QDateTime::fromMSecsSinceEpoch(info.startTimeMs);
    case IconNameRole:
        return iconNameFor(info);
    case FrozenRole:
        return info.frozen;
    case AppNameRole:
        return info.appName;
    case AppIdRole:
        return info.appId;
    case CheckpointVerdictRole:
    case CheckpointSummaryRole: {
        if (!m_reports) {
            return QString();
        }
        const ReportCache::Key key {info.pid, info.startTicks};
        ReportCache::Entry entry = m_reports->entry(key);
        if (info.kernelThread || info.state == 'Z') {
            // What the engine refuses without looking further (report.cpp);
            // no helper call for each of them.
            entry.verdict = ReportCache::Verdict::Refused;
            entry.summary = info.kernelThread ? tr("A kernel thread cannot be snapshotted.") : tr("The process has exited (a zombie).");
        } else if (role == CheckpointVerdictRole) {
            m_reports->request(key);
            entry = m_reports->entry(key);
        }
        return role == CheckpointVerdictRole ? ReportCache::verdictName(entry.verdict) : entry.summary;
    }
    case SortRole:
        switch (index.column()) {
        case NameColumn:
            return info.name;
        case PidColumn:
            return int(info.pid);
        case UserColumn:
            return info.userName;
        case CpuColumn:
            return node->cpuPercent;
        case MemoryColumn:
            return info.rssBytes;
        case CheckpointColumn:
            // Known verdicts only (sorting asks no one): can, caveats, cannot, unknown.
            return m_reports ? int(m_reports->entry(ReportCache::Key {info.pid, info.startTicks}).verdict) : 0;
        }
        return {};
    }
    return {};
}

QVariant ProcessModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) {
        return QAbstractItemModel::headerData(section, orientation, role);
    }
    // Untranslated fallbacks: the GUI sets translated titles on its proxy.
    switch (section) {
    case NameColumn:
        return QStringLiteral("Name");
    case PidColumn:
        return QStringLiteral("PID");
    case UserColumn:
        return QStringLiteral("User");
    case CpuColumn:
        return QStringLiteral("CPU");
    case MemoryColumn:
        return QStringLiteral("Memory");
    case CheckpointColumn:
        return QStringLiteral("Snapshot");
    }
    return {};
}

QHash<int, QByteArray> ProcessModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractItemModel::roleNames();
    names.insert({
        {NameRole, "name"},
        {PidRole, "pid"},
        {ParentPidRole, "parentPid"},
        {UserNameRole, "userName"},
        {UidRole, "uid"},
        {CommandLineRole, "commandLine"},
        {ExecutableRole, "executable"},
        {StateRole, "processState"},
        {KernelThreadRole, "kernelThread"},
        {MemoryRole, "memory"},
        {CpuPercentRole, "cpuPercent"},
        {CpuTimeRole, "cpuTime"},
        {StartTimeRole, "startTime"},
        {IconNameRole, "iconName"},
        {AppNameRole, "appName"},
        {AppIdRole, "appId"},
        {SortRole, "sortValue"},
        {CheckpointVerdictRole, "checkpointVerdict"},
        {CheckpointSummaryRole, "checkpointSummary"},
        {FrozenRole, "frozen"},
        // The name qqc2-desktop-style's header looks for.
        {SortIndicatorRole, "sort"},
    });
    return names;
}

int ProcessModel::refreshInterval() const
{
    return m_refreshInterval;
}

void ProcessModel::setRefreshInterval(int milliseconds)
{
    milliseconds = std::max(0, milliseconds);
    if (m_refreshInterval == milliseconds) {
        return;
    }
    m_refreshInterval = milliseconds;
    updateTimer();
    Q_EMIT refreshIntervalChanged();
}

bool ProcessModel::isActive() const
{
    return m_active;
}

void ProcessModel::setActive(bool active)
{
    if (m_active == active) {
        return;
    }
    m_active = active;
    updateTimer();
    // Shown again (or for the first time): current figures now, not at the
    // next tick.
    if (m_active && m_refreshInterval > 0) {
        refresh();
    }
    Q_EMIT activeChanged();
}

bool ProcessModel::showOnlyApps() const
{
    return m_showOnlyApps;
}

void ProcessModel::setShowOnlyApps(bool only)
{
    if (m_showOnlyApps == only) {
        return;
    }
    m_showOnlyApps = only;
    if (!m_loading) {
        applySnapshot(m_lastSnapshot);
    }
    Q_EMIT showOnlyAppsChanged();
}

bool ProcessModel::showOnlyMine() const
{
    return m_showOnlyMine;
}

void ProcessModel::setShowOnlyMine(bool only)
{
    if (m_showOnlyMine == only) {
        return;
    }
    m_showOnlyMine = only;
    // Re-filter what we have now (incrementally, like a refresh) rather than
    // waiting for the next scan.
    if (!m_loading) {
        applySnapshot(m_lastSnapshot);
    }
    Q_EMIT showOnlyMineChanged();
}

bool ProcessModel::isLoading() const
{
    return m_loading;
}

int ProcessModel::processCount() const
{
    return int(m_nodes.size());
}

bool ProcessModel::checkpointReports() const
{
    return m_checkpointReports;
}

void ProcessModel::setCheckpointReports(bool on)
{
    if (on && !m_reports) {
        m_reports = new ReportCache(this);
        connect(m_reports, &ReportCache::updated, this, [this](const ReportCache::Key &key) { reportUpdated(key.pid, key.startTicks); });
    } else if (!on && m_reports) {
        delete m_reports;
        m_reports = nullptr;
    }
    if (m_checkpointReports == on) {
        return;
    }
    m_checkpointReports = on;
    if (!m_nodes.isEmpty()) {
        emitDataChanged(QList<Node *>(m_nodes.cbegin(), m_nodes.cend()), CheckpointColumn, CheckpointColumn);
    }
    Q_EMIT checkpointReportsChanged();
}

void ProcessModel::reportUpdated(pid_t pid, quint64 startTicks)
{
    Node *node = m_nodes.value(Key {pid, startTicks}, nullptr);
    if (node) {
        // The badge's cell only: a verdict arriving must not re-sort a tree
        // sorted by another column (the proxy would lay every row out again,
        // and a click between press and release on a row was lost).
        Q_EMIT dataChanged(indexOf(node, CheckpointColumn), indexOf(node, CheckpointColumn), {CheckpointVerdictRole, CheckpointSummaryRole, SortRole});
    }
}

void ProcessModel::refreshCheckpointability(int pid)
{
    if (!m_reports) {
        return;
    }
    for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
        if (it.key().pid == pid) {
            m_reports->forget(ReportCache::Key {it.key().pid, it.key().startTicks});
            reportUpdated(it.key().pid, it.key().startTicks);
        }
    }
}

QModelIndex ProcessModel::indexForPid(int pid) const
{
    for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
        if (it.key().pid == pid) {
            return indexOf(it.value());
        }
    }
    return {};
}

void ProcessModel::refresh()
{
    m_scanner->requestScan();
}

void ProcessModel::updateTimer()
{
    if (m_active && m_refreshInterval > 0) {
        m_timer.start(m_refreshInterval);
    } else {
        m_timer.stop();
    }
}

void ProcessModel::reparentNode(Node *node, Node *newParent)
{
    // A removal and an insertion, never a row move: Qt 6.8's QML TreeView
    // (QQmlTreeModelToTableModel) and the proxies in front of it mishandle
    // rows moved between parents (misplaced rows, and a crash under load).
    // The node and its subtree keep their objects (and their entries in
    // m_nodes); views see them leave and come back.
    Node *oldParent = node->parent;
    const int oldRow = node->row;
    beginRemoveRows(indexOf(oldParent), oldRow, oldRow);
    std::unique_ptr<Node> owned = std::move(oldParent->children[size_t(oldRow)]);
    oldParent->children.erase(oldParent->children.begin() + oldRow);
    for (size_t i = size_t(oldRow); i < oldParent->children.size(); ++i) {
        oldParent->children[i]->row = int(i);
    }
    endRemoveRows();

    const int newRow = int(newParent->children.size());
    beginInsertRows(indexOf(newParent), newRow, newRow);
    owned->parent = newParent;
    owned->row = newRow;
    newParent->children.push_back(std::move(owned));
    endInsertRows();
}

void ProcessModel::forgetSubtree(Node *node)
{
    m_nodes.remove(Key {node->info.pid, node->info.startTicks});
    for (const auto &child : node->children) {
        forgetSubtree(child.get());
    }
}

void ProcessModel::removeChild(Node *parent, int row)
{
    beginRemoveRows(indexOf(parent), row, row);
    forgetSubtree(parent->children[size_t(row)].get());
    parent->children.erase(parent->children.begin() + row);
    for (size_t i = size_t(row); i < parent->children.size(); ++i) {
        parent->children[i]->row = int(i);
    }
    endRemoveRows();
}

void ProcessModel::emitDataChanged(const QList<Node *> &changed, int firstColumn, int lastColumn)
{
    // One signal per parent, spanning its changed rows.
    QHash<Node *, std::pair<int, int>> spans;
    for (Node *node : changed) {
        auto it = spans.find(node->parent);
        if (it == spans.end()) {
            spans.insert(node->parent, {node->row, node->row});
        } else {
            it->first = std::min(it->first, node->row);
            it->second = std::max(it->second, node->row);
        }
    }
    for (auto it = spans.cbegin(); it != spans.cend(); ++it) {
        Node *parent = it.key();
        Q_EMIT dataChanged(indexOf(parent->children[size_t(it->first)].get(), firstColumn), indexOf(parent->children[size_t(it->second)].get(), lastColumn));
    }
}

void ProcessModel::applySnapshot(const ProcessSnapshot &snapshot)
{
    if (m_scanError != snapshot.error) {
        m_scanError = snapshot.error;
        Q_EMIT scanErrorChanged();
    }
    if (!snapshot.error.isEmpty()) {
        // A failed scan says nothing about the processes: keep the tree.
        qCWarning(lcProcessModel) << "scan failed:" << snapshot.error;
        if (m_loading) {
            m_loading = false;
            Q_EMIT loadingChanged();
        }
        Q_EMIT refreshed();
        return;
    }
    const quint64 pass = ++m_pass;

    // CPU usage between the previous scan and this one, as a share of all CPUs.
    const bool rescan = snapshot.monotonicNs != m_lastSnapshot.monotonicNs;
    const qint64 elapsedNs = snapshot.monotonicNs - m_lastSnapshot.monotonicNs;
    QHash<Key, quint64> previousCpu;
    QHash<Key, double> previousPercent;
    for (const ProcessInfo &info : std::as_const(m_lastSnapshot.processes)) {
        previousCpu.insert(Key {info.pid, info.startTicks}, info.cpuTimeNs);
    }
    for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
        previousPercent.insert(it.key(), it.value()->cpuPercent);
    }
    auto cpuPercentOf = [&](const ProcessInfo &info, const Key &key) -> double {
        if (!rescan) {
            return previousPercent.value(key, 0.0);
        }
        const auto before = previousCpu.constFind(key);
        if (before == previousCpu.constEnd() || elapsedNs <= 0 || info.cpuTimeNs < *before) {
            return 0.0;
        }
        const double share = double(info.cpuTimeNs - *before) / (double(elapsedNs) * std::max(1, snapshot.cpuCount)) * 100.0;
        return std::clamp(share, 0.0, 100.0);
    };

    const uid_t me = ::getuid();
    auto isMine = [me](const ProcessInfo &info) { return ProcessForest::isOwnedBy(info, me); };
    // "Only my apps": my processes that belong to a desktop application
    // (DesktopApps: their own or an ancestor's .desktop file).
    auto isMyApp = [me](const ProcessInfo &info) { return ProcessForest::isOwnedBy(info, me) && !info.appId.isEmpty(); };
    const QList<ProcessInfo> visible = m_showOnlyApps ? ProcessForest::filtered(snapshot.processes, isMyApp)
        : m_showOnlyMine                              ? ProcessForest::filtered(snapshot.processes, isMine)
                                                      : snapshot.processes;
    const ProcessForest forest(visible);
    QSet<Key> keep;
    keep.reserve(visible.size());
    for (const ProcessInfo &info : visible) {
        keep.insert(Key {info.pid, info.startTicks});
    }

    const int countBefore = processCount();

    // First the new values of the processes that stay, while every row is
    // still where views and proxies have it; then the rows that come, move
    // and go.
    // Each column's signal only for the rows whose cells changed: a sorting
    // proxy re-sorts (and the view lays out every row again, losing a click
    // in progress) only when the sorted column changed.
    QList<Node *> changed; // the numbers: pid, user, CPU, memory
    QList<Node *> renamed; // the name cell
    QList<Node *> stateChanged; // the badge (a zombie or kernel thread is refused)
    for (const ProcessInfo &scanned : visible) {
        const Key key {scanned.pid, scanned.startTicks};
        Node *node = m_nodes.value(key, nullptr);
        if (!node) {
            continue;
        }
        ProcessInfo info = scanned;
        if (!info.argumentsRead) {
            info.arguments = node->info.arguments; // not read this time: as before
        }
        const double cpuPercent = cpuPercentOf(info, key);
        if (!sameData(node->info, info) || node->cpuPercent != cpuPercent) {
            if (!sameNameCell(node->info, info)) {
                renamed.append(node);
            }
            if (node->info.state != info.state) {
                stateChanged.append(node);
            }
            node->info = info;
            node->cpuPercent = cpuPercent;
            changed.append(node);
        }
    }
    emitDataChanged(renamed, NameColumn, NameColumn);
    emitDataChanged(changed, PidColumn, MemoryColumn);
    emitDataChanged(stateChanged, CheckpointColumn, CheckpointColumn);

    // New processes are inserted with their new descendants already attached,
    // consecutive siblings in one batch.
    Node *batchParent = nullptr;
    std::vector<std::unique_ptr<Node>> batch;
    auto flush = [&] {
        if (batch.empty()) {
            return;
        }
        const int first = int(batchParent->children.size());
        beginInsertRows(indexOf(batchParent), first, first + int(batch.size()) - 1);
        for (auto &node : batch) {
            node->parent = batchParent;
            node->row = int(batchParent->children.size());
            batchParent->children.push_back(std::move(node));
        }
        endInsertRows();
        batch.clear();
        batchParent = nullptr;
    };
    auto buildSubtree = [&](auto &self, qsizetype index) -> std::unique_ptr<Node> {
        const ProcessInfo &info = visible.at(index);
        const Key key {info.pid, info.startTicks};
        auto node = std::make_unique<Node>();
        node->info = info;
        node->cpuPercent = cpuPercentOf(info, key);
        node->createdInPass = pass;
        m_nodes.insert(key, node.get());
        for (qsizetype childIndex : forest.children(index)) {
            const ProcessInfo &child = visible.at(childIndex);
            if (m_nodes.contains(Key {child.pid, child.startTicks})) {
                continue; // an existing process: re-parented here when its turn comes
            }
            auto childNode = self(self, childIndex);
            childNode->parent = node.get();
            childNode->row = int(node->children.size());
            node->children.push_back(std::move(childNode));
        }
        return node;
    };

    // Top-down (parents before children): every process's new parent is in
    // place before the process itself is inserted or re-parented under it,
    // and a process never goes below one of its own descendants.
    forest.forEachDepthFirst([&](qsizetype index, int) {
        const ProcessInfo &info = visible.at(index);
        const Key key {info.pid, info.startTicks};
        const qsizetype parentIndex = forest.parentOf(index);
        Node *parent = m_root.get();
        if (parentIndex >= 0) {
            const ProcessInfo &parentInfo = visible.at(parentIndex);
            parent = m_nodes.value(Key {parentInfo.pid, parentInfo.startTicks}, nullptr);
            Q_ASSERT(parent);
        }
        Node *node = m_nodes.value(key, nullptr);
        if (!node) {
            if (batchParent != parent) {
                flush();
                batchParent = parent;
            }
            batch.push_back(buildSubtree(buildSubtree, index));
            return;
        }
        if (node->createdInPass == pass) {
            return; // inserted with its new parent's subtree
        }
        if (node->parent != parent) {
            flush();
            reparentNode(node, parent);
        }
    });
    flush();

    // Processes that are gone (or filtered out). Their surviving descendants
    // have all been re-parented above, so whole subtrees go.
    QList<Node *> gone;
    for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
        if (!keep.contains(it.key())) {
            gone.append(it.value());
        }
    }
    const QSet<Node *> goneSet(gone.cbegin(), gone.cend());
    QList<Node *> topmost;
    for (Node *node : std::as_const(gone)) {
        if (!goneSet.contains(node->parent)) {
            topmost.append(node);
        }
    }
    // Removing a subtree deletes its nodes: only topmost ones are touched, and
    // their rows are read at the time of removal.
    for (Node *node : std::as_const(topmost)) {
        removeChild(node->parent, node->row);
    }

    if (m_reports) {
        m_reports->retain([this](const ReportCache::Key &key) { return m_nodes.contains(Key {key.pid, key.startTicks}); });
    }
    m_lastSnapshot = snapshot;
    qCDebug(lcProcessModel) << "applied a snapshot of" << snapshot.processes.size() << "processes:" << visible.size() << "shown," << gone.size() << "removed,"
                            << changed.size() << "changed; scan took" << snapshot.scanDurationUs << "us";
    if (processCount() != countBefore) {
        Q_EMIT processCountChanged();
    }
    if (m_loading) {
        m_loading = false;
        Q_EMIT loadingChanged();
    }
    Q_EMIT snapshotApplied();
    // The tree shows as soon as it is read; refreshed() waits for the
    // details of its new processes (arguments, apps), which follow.
    if (snapshot.detailsPending == 0) {
        Q_EMIT refreshed();
    }
}
