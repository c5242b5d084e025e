pragma ComponentBehavior: Bound
// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

// i18n() and its siblings come from the engine's KLocalizedQmlContext, a
// context object that qmllint cannot see.
// qmllint disable unqualified

import QtQml.Models
import QtQuick
import QtQuick.Controls as QQC2
import QtQuick.Layouts
import org.kde.kirigami as Kirigami
import io.github.cryopod

// One cell of the process tree: the name column with the tree branches and
// the process's icon, the other columns as text (numbers right-aligned).
// Hover and selection cover the whole row.
QQC2.TreeViewDelegate {
    id: cell

    // The row under the pointer, shared by the cells of a row (set by the view).
    required property int hoveredRow
    signal hoverChanged(int row, bool hovered)
    // The checkpointability badge was clicked: show the report.
    signal reportRequested(int pid, string name)

    // The style's delegate has a required column property; the generic
    // TreeViewDelegate that qmllint checks against does not declare it.
    readonly property int columnIndex: cell.column // qmllint disable missing-property
    readonly property bool numeric: cell.columnIndex === ProcessModel.PidColumn || cell.columnIndex === ProcessModel.CpuColumn || cell.columnIndex === ProcessModel.MemoryColumn
    readonly property bool rowSelected: cell.selected
    readonly property bool rowHovered: cell.hoveredRow === cell.row
    readonly property bool badge: cell.columnIndex === ProcessModel.CheckpointColumn
    // Read only by the badge's cell: reading it asks the helper for the report.
    readonly property string verdictText: {
        switch (cell.verdict) {
        case "ok":
            return i18nc("@item checkpointability", "Yes");
        case "caveat":
            return i18nc("@item checkpointability", "With caveats");
        case "refused":
            return i18nc("@item checkpointability", "No");
        case "pending":
            return i18nc("@item checkpointability being checked", "…");
        case "unknown":
            return i18nc("@item checkpointability", "Unknown");
        }
        return "";
    }
    readonly property string verdict: cell.badge ? (cell.model.checkpointVerdict ?? "") : ""

    icon.name: cell.columnIndex === ProcessModel.NameColumn ? cell.model.iconName : ""
    // The style's own padding in the tree column (branches and indentation),
    // even spacing elsewhere.
    leftPadding: cell.isTreeNode ? cell.leftMargin + cell.indentation * (cell.depth + 1) + cell.spacing : Kirigami.Units.largeSpacing
    rightPadding: Kirigami.Units.largeSpacing
    highlighted: cell.rowSelected

    // Screen readers hear what the badge shows and why.
    Accessible.name: cell.badge ? i18nc("@info accessible: %1 yes/no/with caveats, %2 the first reason", "Can be snapshotted: %1. %2", cell.verdictText, cell.model.checkpointSummary ?? "")
                                : (cell.model.display ?? "")
    QQC2.ToolTip.text: cell.badge ? (cell.model.checkpointSummary ?? "") : (cell.model.toolTip ?? "")
    QQC2.ToolTip.visible: (cell.columnIndex === ProcessModel.NameColumn || cell.badge) && cell.hovered && QQC2.ToolTip.text.length > 0
    QQC2.ToolTip.delay: Kirigami.Units.toolTipDelay

    // A click selects the row (the arrow keys move the current row, which the
    // view's selection follows).
    TapHandler {
        // Rows have no long-press action, and a press that the UI thread
        // holds past the default threshold (a frame rendered on a loaded
        // machine between press and release) would not count as a tap.
        longPressThreshold: 3600
        onTapped: {
            const index = cell.treeView.index(cell.row, 0);
            cell.treeView.selectionModel.setCurrentIndex(index, ItemSelectionModel.ClearAndSelect | ItemSelectionModel.Rows);
            if (cell.badge) {
                cell.reportRequested(cell.model.pid, cell.model.name);
            }
        }
    }

    HoverHandler {
        onHoveredChanged: cell.hoverChanged(cell.row, hovered)
    }

    background: Rectangle {
        color: {
            if (cell.rowSelected) {
                return Kirigami.Theme.highlightColor;
            }
            const base = cell.row % 2 === 1 ? Kirigami.Theme.alternateBackgroundColor : Kirigami.Theme.backgroundColor;
            return cell.rowHovered ? Kirigami.ColorUtils.tintWithAlpha(base, Kirigami.Theme.hoverColor, 0.2) : base;
        }
    }

    contentItem: RowLayout {
        spacing: cell.spacing

        VerdictIcon {
            visible: cell.badge && source !== ""
            verdict: cell.verdict
            Layout.alignment: Qt.AlignVCenter
        }
        Kirigami.Icon {
            visible: cell.icon.name !== ""
            source: cell.icon.name
            selected: cell.rowSelected
            Layout.alignment: Qt.AlignVCenter
            Layout.preferredWidth: Kirigami.Units.iconSizes.small
            Layout.preferredHeight: Kirigami.Units.iconSizes.small
        }
        Kirigami.Icon {
            visible: cell.columnIndex === ProcessModel.NameColumn && (cell.model.frozen ?? false)
            source: "cryopod-freeze"
            selected: cell.rowSelected
            Accessible.name: i18nc("@info accessible", "Frozen")
            Layout.alignment: Qt.AlignVCenter
            Layout.preferredWidth: Kirigami.Units.iconSizes.small
            Layout.preferredHeight: Kirigami.Units.iconSizes.small
        }
        QQC2.Label {
            text: cell.badge ? cell.verdictText
                : (cell.columnIndex === ProcessModel.NameColumn && (cell.model.frozen ?? false) ? i18nc("@item process name of a frozen process", "%1 (frozen)", cell.model.display ?? "")
                : (cell.model.display ?? ""))
            font.italic: cell.columnIndex === ProcessModel.NameColumn && (cell.model.frozen ?? false)
            elide: Text.ElideRight
            horizontalAlignment: cell.numeric ? Text.AlignRight : Text.AlignLeft
            verticalAlignment: Text.AlignVCenter
            color: cell.rowSelected ? Kirigami.Theme.highlightedTextColor : Kirigami.Theme.textColor
            font.features: cell.numeric ? {
                "tnum": 1
            } : {}
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
    }
}
