pragma ComponentBehavior: Bound
// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

// i18n() and its siblings come from the engine's KLocalizedQmlContext, a
// context object that qmllint cannot see.
// qmllint disable unqualified

import QtQuick
import QtQuick.Controls as QQC2
import QtQuick.Layouts
import org.kde.kirigami as Kirigami
import io.github.cryopod

// The snapshots of one target (or of all), newest first: time, label, sizes
// and pause; Restore, pin and delete per snapshot. The work is done by the
// shared SnapshotActions (through cryopod-helper) and the TimelineModel.
Kirigami.ScrollablePage {
    id: page

    required property SnapshotActions snapshotActions
    // 0: every target's snapshots.
    property alias targetId: timelineModel.targetId
    // What the page is about, for its title ("" for every target).
    property string targetName
    // The snapshot picked to compare with the current one (0: none).
    property var compareSnapshotId: 0

    // Picks (or unpicks) a snapshot to compare with the current one.
    function pickForComparing(snapshotId: var) {
        page.compareSnapshotId = page.compareSnapshotId === snapshotId ? 0 : snapshotId;
    }

    // Restores a snapshot; when its program still runs, asks first whether
    // to replace it.
    function restore(snapshotId: var, command: string) {
        const running = page.snapshotActions.runningPidOf(snapshotId);
        if (running > 0) {
            replaceDialog.snapshotId = snapshotId;
            replaceDialog.pid = running;
            replaceDialog.command = command;
            replaceDialog.open();
            return;
        }
        page.snapshotActions.restore(snapshotId, false);
    }

    objectName: "timelinePage"
    title: targetName.length > 0 ? i18nc("@title page, %1 a program's name", "Timeline of %1", targetName) : i18nc("@title page", "Timeline")

    actions: [
        Kirigami.Action {
            objectName: "timelineScheduleAction"
            text: i18nc("@action:button", "Schedule…")
            icon.name: "chronometer"
            tooltip: i18nc("@info:tooltip", "Snapshot this program again and again, keeping the newest")
            enabled: page.targetId > 0
            onTriggered: {
                scheduleDialog.targetId = page.targetId;
                scheduleDialog.pid = 0;
                scheduleDialog.name = page.targetName;
                scheduleDialog.executable = "";
                scheduleDialog.open();
            }
        },
        Kirigami.Action {
            objectName: "compareAction"
            text: i18nc("@action:button", "Compare")
            icon.name: "kompare"
            tooltip: i18nc("@info:tooltip", "What differs between the selected snapshot and the one picked to compare (Ctrl+click on the time axis, or its Compare button)")
            enabled: page.compareSnapshotId > 0 && list.currentIndex >= 0 && timelineModel.snapshotIdAt(list.currentIndex) !== page.compareSnapshotId
            onTriggered: {
                compareSheet.firstId = timelineModel.snapshotIdAt(list.currentIndex);
                compareSheet.secondId = page.compareSnapshotId;
                compareSheet.open();
            }
        },
        Kirigami.Action {
            text: i18nc("@action:button", "Refresh")
            icon.name: "view-refresh"
            onTriggered: timelineModel.reload()
        }
    ]

    header: ColumnLayout {
        spacing: 0

        TimelineAxisView {
            id: axisView

            objectName: "timelineAxis"
            Layout.fillWidth: true
            Layout.margins: Kirigami.Units.smallSpacing
            visible: list.count > 0
            axis: TimelineAxis {
                id: timelineAxis

                timeline: timelineModel
            }
            currentIndex: list.currentIndex
            compareSnapshotId: page.compareSnapshotId
            onPicked: (row, compare) => {
                if (compare) {
                    page.pickForComparing(timelineModel.snapshotIdAt(row));
                    return;
                }
                list.currentIndex = row;
                list.positionViewAtIndex(row, ListView.Contain);
            }
        }

        ScheduleRunsMessage {
            Layout.fillWidth: true
            targetId: page.targetId
        }

        OperationProgress {
            objectName: "timelineBusyMessage"
            actions: page.snapshotActions
            Layout.fillWidth: true
        }
        Kirigami.InlineMessage {
            objectName: "timelineErrorMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Error
            visible: text.length > 0
            text: page.snapshotActions.errorString.length > 0 ? page.snapshotActions.errorString : timelineModel.errorString
            showCloseButton: true
            onVisibleChanged: {
                if (!visible) {
                    page.snapshotActions.clearError();
                }
            }
        }
        Kirigami.InlineMessage {
            id: restoredMessage

            objectName: "timelineRestoredMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Positive
            showCloseButton: true
            visible: false
        }
    }

    Connections {
        target: page.snapshotActions

        function onSnapshotTaken() {
            timelineModel.reload();
        }
        function onFailed() {
            restoredMessage.visible = false;
        }
        function onCancelled(message) {
            restoredMessage.type = Kirigami.MessageType.Information;
            restoredMessage.text = message;
            restoredMessage.visible = true;
        }
        function onExported(snapshotId, path) {
            restoredMessage.type = Kirigami.MessageType.Positive;
            restoredMessage.text = i18nc("@info", "Snapshot %1 exported to %2.", String(snapshotId), path);
            restoredMessage.visible = true;
        }
        function onTerminalChoiceNeeded(snapshotId, replaceRunning, originalPath, originalExists) {
            terminalDialog.snapshotId = snapshotId;
            terminalDialog.replaceRunning = replaceRunning;
            terminalDialog.originalPath = originalPath;
            terminalDialog.originalExists = originalExists;
            terminalDialog.open();
        }
        function onRestored(snapshotId, pid) {
            restoredMessage.type = Kirigami.MessageType.Positive;
            restoredMessage.text = i18nc("@info", "Snapshot %1 restored: it runs again as process %2.", String(snapshotId), String(pid));
            restoredMessage.visible = true;
            timelineModel.reload();
        }
    }

    ScheduleDialog {
        id: scheduleDialog
    }

    SnapshotCompareSheet {
        id: compareSheet

        timeline: timelineModel
    }

    SnapshotDetailsSheet {
        id: detailsSheet

        timeline: timelineModel
        snapshotActions: page.snapshotActions
    }

    Kirigami.PromptDialog {
        id: replaceDialog

        property var snapshotId: 0
        property int pid
        property string command

        objectName: "replaceRunningDialog"
        title: i18nc("@title:window", "%1 Is Still Running", command)
        subtitle: i18nc("@info", "Process %1 runs the program of this snapshot and has its process ID, which the restored program needs. Replace it: the running process is stopped at once (anything it has not saved is lost), then the snapshot is restored in its place.", String(pid))
        standardButtons: Kirigami.Dialog.Cancel
        customFooterActions: [
            Kirigami.Action {
                objectName: "replaceAndRestoreAction"
                text: i18nc("@action:button", "Stop It and Restore")
                icon.name: "cryopod-restore"
                onTriggered: {
                    page.snapshotActions.restore(replaceDialog.snapshotId, true);
                    replaceDialog.close();
                }
            }
        ]
    }

    // The snapshot's program ran on a terminal: where it goes now.
    Kirigami.PromptDialog {
        id: terminalDialog

        property var snapshotId: 0
        property bool replaceRunning
        property string originalPath
        property bool originalExists

        objectName: "terminalChoiceDialog"
        title: i18nc("@title:window", "Restore a Program That Ran on a Terminal")
        subtitle: terminalDialog.originalExists ? i18nc("@info", "It ran on the terminal %1. Restore it onto a new terminal shown here in Cryopod, where you see what it prints and type to it; or onto %1, which still exists (for example a terminal window that is still open).", terminalDialog.originalPath) : i18nc("@info", "It ran on the terminal %1, which no longer exists. Restore it onto a new terminal shown here in Cryopod, where you see what it prints and type to it.", terminalDialog.originalPath)
        standardButtons: Kirigami.Dialog.Cancel
        customFooterActions: [
            Kirigami.Action {
                objectName: "restoreOnNewTerminalAction"
                text: i18nc("@action:button", "Restore in a Terminal View")
                icon.name: "utilities-terminal"
                onTriggered: {
                    page.snapshotActions.restore(terminalDialog.snapshotId, terminalDialog.replaceRunning, "new");
                    terminalDialog.close();
                }
            },
            Kirigami.Action {
                objectName: "restoreOnOriginalTerminalAction"
                text: i18nc("@action:button, %1 a terminal device", "Restore on %1", terminalDialog.originalPath)
                icon.name: "cryopod-restore"
                visible: terminalDialog.originalExists
                onTriggered: {
                    page.snapshotActions.restore(terminalDialog.snapshotId, terminalDialog.replaceRunning, "original");
                    terminalDialog.close();
                }
            }
        ]
    }

    ListView {
        id: list

        objectName: "timelineList"
        model: TimelineModel {
            id: timelineModel

            storePath: page.snapshotActions.storePath
        }
        Component.onCompleted: timelineModel.reload()
        onCurrentIndexChanged: timelineAxis.ensureVisible(list.currentIndex)

        delegate: QQC2.ItemDelegate {
            id: row

            required property int index
            required property var snapshotId
            required property string timeText
            required property string label
            required property string note
            required property string command
            required property int rootPid
            required property bool pinned
            required property string sizeText
            required property string timingText
            required property string origin

            width: ListView.view.width
            highlighted: ListView.isCurrentItem
            onClicked: list.currentIndex = index
            Accessible.name: i18nc("@info accessible name of a snapshot", "Snapshot of %1 taken %2", row.command, row.timeText)

            contentItem: RowLayout {
                spacing: Kirigami.Units.largeSpacing

                Kirigami.Icon {
                    source: row.pinned ? "pin" : (row.origin === "schedule" ? "chronometer" : "camera-photo")
                    Layout.preferredWidth: Kirigami.Units.iconSizes.medium
                    Layout.preferredHeight: Kirigami.Units.iconSizes.medium
                }
                ColumnLayout {
                    spacing: 0
                    Layout.fillWidth: true

                    QQC2.Label {
                        text: (row.label.length > 0 ? i18nc("@item time and label of a snapshot", "%1 — %2", row.timeText, row.label) : row.timeText)
                            + (row.origin === "schedule" ? i18nc("@item a snapshot a schedule took", " (scheduled)") : "")
                        font.bold: true
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    QQC2.Label {
                        text: i18nc("@item details of a snapshot: %1 program, %2 pid, %3 sizes, %4 pause and total time",
                                    "%1 (process %2) · %3 · %4", row.command, String(row.rootPid), row.sizeText, row.timingText)
                        opacity: 0.7
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                }
                QQC2.ToolButton {
                    objectName: "detailsButton"
                    icon.name: "documentinfo"
                    text: i18nc("@action:button", "Details")
                    display: QQC2.AbstractButton.IconOnly
                    QQC2.ToolTip.text: i18nc("@info:tooltip", "What the snapshot holds; label, note and export")
                    QQC2.ToolTip.visible: hovered
                    onClicked: {
                        detailsSheet.snapshotId = row.snapshotId;
                        detailsSheet.label = row.label;
                        detailsSheet.note = row.note;
                        detailsSheet.summary = row.sizeText + " · " + row.timingText;
                        detailsSheet.open();
                    }
                }
                QQC2.ToolButton {
                    objectName: "compareButton"
                    icon.name: "kompare"
                    text: i18nc("@action:button", "Compare")
                    display: QQC2.AbstractButton.IconOnly
                    checkable: true
                    checked: row.snapshotId === page.compareSnapshotId
                    QQC2.ToolTip.text: i18nc("@info:tooltip", "Pick to compare with the selected snapshot")
                    QQC2.ToolTip.visible: hovered
                    onClicked: page.pickForComparing(row.snapshotId)
                }
                QQC2.ToolButton {
                    icon.name: row.pinned ? "window-unpin" : "pin"
                    text: row.pinned ? i18nc("@action:button", "Unpin") : i18nc("@action:button", "Pin")
                    display: QQC2.AbstractButton.IconOnly
                    QQC2.ToolTip.text: text
                    QQC2.ToolTip.visible: hovered
                    onClicked: timelineModel.setPinned(row.snapshotId, !row.pinned)
                }
                QQC2.ToolButton {
                    icon.name: "edit-delete"
                    text: i18nc("@action:button", "Delete")
                    display: QQC2.AbstractButton.IconOnly
                    enabled: !row.pinned
                    QQC2.ToolTip.text: text
                    QQC2.ToolTip.visible: hovered
                    onClicked: timelineModel.remove(row.snapshotId)
                }
                QQC2.Button {
                    objectName: "restoreButton"
                    icon.name: "cryopod-restore"
                    text: i18nc("@action:button", "Restore")
                    enabled: !page.snapshotActions.busy
                    onClicked: page.restore(row.snapshotId, row.command)
                }
            }
        }

        Kirigami.PlaceholderMessage {
            anchors.centerIn: parent
            width: parent.width - Kirigami.Units.gridUnit * 4
            visible: list.count === 0
            icon.name: "view-history" // qmllint disable unresolved-type missing-property
            text: i18nc("@info:placeholder", "No snapshots yet")
            explanation: i18nc("@info:placeholder", "Select a process on the Processes page and choose Snapshot: it keeps running, and you can bring it back from here exactly as it was.")
        }
    }
}
