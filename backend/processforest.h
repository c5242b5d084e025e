// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ProcessForest arranges a list of processes into trees by parent pid. A
// process whose parent is not in the list (filtered out, or the kernel's own
// roots) is a root. Shared by the item model and `cryopodctl ps`, so both show
// the same tree.
#pragma once

#include "processinfo.h"

#include <QHash>
#include <QList>

#include <functional>

class ProcessForest
{
public:
    // processes must outlive the forest.
    explicit ProcessForest(const QList<ProcessInfo> &processes);

    const QList<ProcessInfo> &processes() const
    {
        return m_processes;
    }
    // Indexes into processes(), in list order (pid order for a snapshot).
    const QList<qsizetype> &roots() const
    {
        return m_roots;
    }
    QList<qsizetype> children(qsizetype index) const
    {
        return m_children.value(index);
    }
    // Index of the parent in this forest, -1 for a root.
    qsizetype parentOf(qsizetype index) const
    {
        return m_parent.at(index);
    }
    qsizetype indexOf(pid_t pid) const
    {
        return m_indexOfPid.value(pid, -1);
    }

    // Every index, parents before their children (depth first, pre-order),
    // with its depth (0 for roots).
    void forEachDepthFirst(const std::function<void(qsizetype index, int depth)> &visit) const;

    // A user's own processes: those whose effective user is uid. Kernel
    // threads belong to no one, root included.
    static bool isOwnedBy(const ProcessInfo &process, uid_t uid)
    {
        return process.euid == uid && !process.kernelThread;
    }

    // Keeps the processes for which keep() is true; their ancestors need not be kept.
    static QList<ProcessInfo> filtered(const QList<ProcessInfo> &processes, const std::function<bool(const ProcessInfo &)> &keep);

private:
    const QList<ProcessInfo> &m_processes;
    QList<qsizetype> m_parent;
    QList<qsizetype> m_roots;
    QHash<qsizetype, QList<qsizetype>> m_children;
    QHash<pid_t, qsizetype> m_indexOfPid;
};
