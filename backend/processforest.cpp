// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "processforest.h"

#include <utility>

ProcessForest::ProcessForest(const QList<ProcessInfo> &processes)
    : m_processes(processes)
    , m_parent(processes.size(), -1)
{
    m_indexOfPid.reserve(processes.size());
    for (qsizetype i = 0; i < processes.size(); ++i) {
        m_indexOfPid.insert(processes.at(i).pid, i);
    }
    for (qsizetype i = 0; i < processes.size(); ++i) {
        const ProcessInfo &process = processes.at(i);
        if (process.ppid != process.pid) {
            m_parent[i] = m_indexOfPid.value(process.ppid, -1);
        }
    }

    // A scan is not atomic: with pids reused while it ran, parent links could
    // in theory form a cycle. Break any cycle by making the member we reached
    // first a root, so that every process is reachable from a root.
    enum Mark : char { Unvisited, OnPath, Done };
    QList<char> mark(processes.size(), Unvisited);
    QList<qsizetype> path;
    for (qsizetype start = 0; start < processes.size(); ++start) {
        path.clear();
        qsizetype at = start;
        while (at >= 0 && mark[at] == Unvisited) {
            mark[at] = OnPath;
            path.append(at);
            at = m_parent[at];
        }
        if (at >= 0 && mark[at] == OnPath) {
            m_parent[at] = -1;
        }
        for (qsizetype visited : std::as_const(path)) {
            mark[visited] = Done;
        }
    }

    for (qsizetype i = 0; i < processes.size(); ++i) {
        if (m_parent[i] < 0) {
            m_roots.append(i);
        } else {
            m_children[m_parent[i]].append(i);
        }
    }
}

void ProcessForest::forEachDepthFirst(const std::function<void(qsizetype, int)> &visit) const
{
    // Iterative, so that a very deep chain of processes cannot overflow the stack.
    QList<std::pair<qsizetype, int>> stack;
    for (qsizetype i = m_roots.size() - 1; i >= 0; --i) {
        stack.append({m_roots.at(i), 0});
    }
    while (!stack.isEmpty()) {
        const auto [index, depth] = stack.takeLast();
        visit(index, depth);
        const auto children = m_children.constFind(index);
        if (children != m_children.constEnd()) {
            for (qsizetype i = children->size() - 1; i >= 0; --i) {
                stack.append({children->at(i), depth + 1});
            }
        }
    }
}

QList<ProcessInfo> ProcessForest::filtered(const QList<ProcessInfo> &processes, const std::function<bool(const ProcessInfo &)> &keep)
{
    QList<ProcessInfo> result;
    result.reserve(processes.size());
    for (const ProcessInfo &process : processes) {
        if (keep(process)) {
            result.append(process);
        }
    }
    return result;
}
