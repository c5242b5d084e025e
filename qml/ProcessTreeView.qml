pragma ComponentBehavior: Bound
// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

import QtQuick
import QtQuick.Controls as QQC2
import QtQuick.Layouts
import org.kde.kirigami as Kirigami
import io.github.cryopod

// A sortable tree table of processes: a header with one column per
// ProcessModel column, the name column taking the space the others leave.
FocusScope {
    id: root

    required property ProcessFilterModel model
    // Set once the model holds its first scan: the tree then opens fully.
    property bool loaded: false
    readonly property alias rows: tree.rows
    // The selected process (0 and "" when none).
    readonly property int selectedPid: tree.selectionModel.hasSelection && tree.selectionModel.currentIndex.valid
        ? root.model.data(tree.selectionModel.currentIndex, ProcessModel.PidRole) : 0
    // A row's checkpointability badge was clicked.
    signal reportRequested(int pid, string name)

    readonly property bool selectedFrozen: selectedPid > 0 && root.model.data(tree.selectionModel.currentIndex, ProcessModel.FrozenRole)
    readonly property string selectedName: selectedPid > 0 ? root.model.data(tree.selectionModel.currentIndex, ProcessModel.NameRole) : ""

    // The name column takes what the fixed-width columns leave.
    function columnWidth(column: int): real {
        switch (column) {
        case ProcessModel.NameColumn:
            return Math.max(Kirigami.Units.gridUnit * 12, tree.width - columnWidth(ProcessModel.PidColumn) - columnWidth(ProcessModel.UserColumn)
                            - columnWidth(ProcessModel.CpuColumn) - columnWidth(ProcessModel.MemoryColumn) - columnWidth(ProcessModel.CheckpointColumn));
        case ProcessModel.PidColumn:
            return Kirigami.Units.gridUnit * 5;
        case ProcessModel.UserColumn:
            return Kirigami.Units.gridUnit * 7;
        case ProcessModel.CpuColumn:
            return Kirigami.Units.gridUnit * 5;
        case ProcessModel.MemoryColumn:
            return Kirigami.Units.gridUnit * 6;
        case ProcessModel.CheckpointColumn:
            return Kirigami.Units.gridUnit * 8;
        }
        return 0;
    }

    function expandAll() {
        tree.expandRecursively();
    }

    function expandProcesses(pids) {
        for (const pid of pids) {
            const row = tree.rowAtIndex(root.model.indexForPid(pid));
            if (row >= 0) {
                tree.expandRecursively(row, -1);
            }
        }
    }

    onLoadedChanged: {
        if (loaded) {
            expandAll();
        }
    }

    Kirigami.Theme.colorSet: Kirigami.Theme.View
    Kirigami.Theme.inherit: false

    Rectangle {
        anchors.fill: parent
        color: Kirigami.Theme.backgroundColor
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        QQC2.HorizontalHeaderView {
            id: header

            objectName: "processHeader"
            syncView: tree
            clip: true
            Layout.fillWidth: true

            TapHandler {
                onTapped: eventPoint => {
                    const cell = header.cellAtPosition(header.contentItem.mapFromItem(header, eventPoint.position), true);
                    if (cell.x >= 0) {
                        root.model.toggleSort(cell.x);
                    }
                }
            }
        }

        QQC2.ScrollView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            // No horizontal scrolling: the name column gives way instead.
            QQC2.ScrollBar.horizontal.policy: QQC2.ScrollBar.AlwaysOff

            TreeView {
                id: tree

                objectName: "processTree"
                model: root.model
                clip: true
                focus: true
                alternatingRows: true
                boundsBehavior: Flickable.StopAtBounds
                // Clicks select rows through the delegates (the view's own
                // pointer handling would clear that selection again).
                pointerNavigationEnabled: false
                selectionBehavior: TableView.SelectRows
                selectionMode: TableView.SingleSelection
                selectionModel: ItemSelectionModel {
                    // The current row, set by clicks and the arrow keys, is the selection.
                    onCurrentChanged: (current, previous) => {
                        if (current.valid) {
                            select(current, ItemSelectionModel.ClearAndSelect | ItemSelectionModel.Rows);
                        }
                    }
                }

                columnWidthProvider: column => root.columnWidth(column)
                onWidthChanged: forceLayout()

                // The row under the pointer, for the delegates' row-wide hover.
                property int hoveredRow: -1

                rowHeightProvider: () => Kirigami.Units.gridUnit + Kirigami.Units.smallSpacing * 2

                delegate: ProcessCellDelegate {
                    hoveredRow: tree.hoveredRow
                    onReportRequested: (pid, name) => root.reportRequested(pid, name)
                    onHoverChanged: (row, hovered) => {
                        if (hovered) {
                            tree.hoveredRow = row;
                        } else if (tree.hoveredRow === row) {
                            tree.hoveredRow = -1;
                        }
                    }
                }

                Connections {
                    target: root.model

                    // Results of a new search open fully, as does the tree
                    // when the search is cleared.
                    function onFilterStringChanged() {
                        Qt.callLater(root.expandAll);
                    }

                    // New processes show up open (as the whole tree does at
                    // first), and so does a process that gets its first
                    // children. Later, once the view has taken the new rows
                    // in: expanding from within this signal shows them twice.
                    function onRowsInserted(parent, first, last) {
                        const pids = [];
                        if (parent.valid && root.model.rowCount(parent) === last - first + 1) {
                            pids.push(root.model.data(parent, ProcessModel.PidRole));
                        }
                        for (let row = first; row <= last; ++row) {
                            const index = root.model.index(row, 0, parent);
                            if (root.model.hasChildren(index)) {
                                pids.push(root.model.data(index, ProcessModel.PidRole));
                            }
                        }
                        if (pids.length > 0) {
                            Qt.callLater(() => root.expandProcesses(pids));
                        }
                    }
                }
            }
        }
    }
}
