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

// The running processes as a tree, with search and an owner filter, and
// the actions on the selected process: Snapshot (through the shared
// SnapshotActions) and Timeline.
Kirigami.Page {
    id: page

    required property SnapshotActions snapshotActions
    required property CryopodSettings settings
    property string searchText
    // The selected process.
    readonly property alias selectedPid: treeView.selectedPid

    // Asks the window to show a target's timeline (targetId -1: none yet).
    signal timelineRequested(var targetId, string name)

    // The dialogs, made when first opened (not at start): the report
    // sheet, the snapshot dialog, the schedule dialog.
    property ReportSheet reportSheet: null
    // (a PromptDialog with pid and name)
    property var snapshotDialog: null
    property ScheduleDialog scheduleDialog: null

    // Opens the checkpointability report of a process.
    function showReport(pid: int, name: string) {
        if (!page.reportSheet) {
            page.reportSheet = reportSheetComponent.createObject(page) as ReportSheet;
        }
        page.reportSheet.pid = pid;
        page.reportSheet.name = name;
        page.reportSheet.open();
    }

    // Asks for a label and takes a snapshot of a process.
    function openSnapshotDialog(pid: int, name: string) {
        if (!page.snapshotDialog) {
            page.snapshotDialog = snapshotDialogComponent.createObject(page);
        }
        page.snapshotDialog.pid = pid;
        page.snapshotDialog.name = name;
        page.snapshotDialog.open();
    }

    // Schedules snapshots of a process.
    function openScheduleDialog(pid: int, name: string) {
        if (!page.scheduleDialog) {
            page.scheduleDialog = scheduleDialogComponent.createObject(page) as ScheduleDialog;
        }
        page.scheduleDialog.pid = pid;
        page.scheduleDialog.name = name;
        page.scheduleDialog.executable = "";
        page.scheduleDialog.open();
    }

    objectName: "processesPage"
    title: i18nc("@title page", "Processes")
    padding: 0
    Kirigami.ColumnView.fillWidth: true

    titleDelegate: RowLayout {
        spacing: Kirigami.Units.largeSpacing

        Kirigami.Heading {
            text: page.title
            level: 1
            elide: Text.ElideRight
            Layout.leftMargin: Kirigami.Units.smallSpacing
        }
        Kirigami.SearchField {
            objectName: "searchField"
            placeholderText: i18nc("@info:placeholder", "Search by name, command or PID…")
            Layout.fillWidth: true
            Layout.maximumWidth: Kirigami.Units.gridUnit * 18
            Layout.minimumWidth: Kirigami.Units.gridUnit * 8
            onTextChanged: page.searchText = text
            // The toolbar recreates this field (e.g. after another page was
            // shown on top): it starts with the search in effect.
            Component.onCompleted: text = page.searchText
        }
    }

    actions: [
        Kirigami.Action {
            objectName: "snapshotAction"
            text: i18nc("@action:button", "Snapshot")
            icon.name: "cryopod-snapshot"
            tooltip: i18nc("@info:tooltip", "Save the selected process as it is now; it keeps running")
            enabled: treeView.selectedPid > 0 && !page.snapshotActions.busy
            onTriggered: page.openSnapshotDialog(treeView.selectedPid, treeView.selectedName)
        },
        Kirigami.Action {
            objectName: "scheduleAction"
            text: i18nc("@action:button", "Schedule…")
            icon.name: "chronometer"
            tooltip: i18nc("@info:tooltip", "Snapshot the selected process again and again, keeping the newest")
            enabled: treeView.selectedPid > 0
            onTriggered: page.openScheduleDialog(treeView.selectedPid, treeView.selectedName)
        },
        Kirigami.Action {
            objectName: "freezeAction"
            text: treeView.selectedFrozen ? i18nc("@action:button", "Thaw") : i18nc("@action:button", "Freeze")
            icon.name: treeView.selectedFrozen ? "cryopod-thaw" : "cryopod-freeze"
            tooltip: treeView.selectedFrozen ? i18nc("@info:tooltip", "Let the selected process and its children run again")
                                             : i18nc("@info:tooltip", "Pause the selected process and its children until you thaw them")
            enabled: treeView.selectedPid > 0
            onTriggered: {
                if (treeView.selectedFrozen) {
                    page.snapshotActions.thaw(treeView.selectedPid);
                } else {
                    page.snapshotActions.freeze(treeView.selectedPid);
                }
            }
        },
        Kirigami.Action {
            objectName: "reportAction"
            text: i18nc("@action:button", "Snapshot Report")
            icon.name: "documentinfo"
            tooltip: i18nc("@info:tooltip", "What the engine says about the selected process and its open files")
            enabled: treeView.selectedPid > 0
            onTriggered: page.showReport(treeView.selectedPid, treeView.selectedName)
        },
        Kirigami.Action {
            objectName: "timelineAction"
            text: i18nc("@action:button", "Timeline")
            icon.name: "view-history"
            tooltip: i18nc("@info:tooltip", "The snapshots of the selected process")
            enabled: treeView.selectedPid > 0
            onTriggered: {
                const target = page.snapshotActions.targetIdOf(treeView.selectedPid);
                page.timelineRequested(target > 0 ? target : -1, treeView.selectedName);
            }
        },
        Kirigami.Action {
            objectName: "showAction"
            text: processModel.showOnlyApps ? i18nc("@action:button", "Show: Own Applications") : (processModel.showOnlyMine ? i18nc("@action:button", "Show: Own Processes") : i18nc("@action:button", "Show: All Processes"))
            icon.name: processModel.showOnlyApps ? "applications-all" : (processModel.showOnlyMine ? "view-process-own" : "view-process-all")

            Kirigami.Action {
                objectName: "showOwnAppsAction"
                text: i18nc("@item:inmenu", "Own Applications")
                icon.name: "applications-all"
                checkable: true
                checked: processModel.showOnlyApps
                onTriggered: {
                    processModel.showOnlyMine = true;
                    processModel.showOnlyApps = true;
                }
            }
            Kirigami.Action {
                text: i18nc("@item:inmenu", "Own Processes")
                icon.name: "view-process-own"
                checkable: true
                checked: processModel.showOnlyMine && !processModel.showOnlyApps
                onTriggered: {
                    processModel.showOnlyApps = false;
                    processModel.showOnlyMine = true;
                }
            }
            Kirigami.Action {
                text: i18nc("@item:inmenu", "All Processes")
                icon.name: "view-process-all"
                checkable: true
                checked: !processModel.showOnlyMine && !processModel.showOnlyApps
                onTriggered: {
                    processModel.showOnlyApps = false;
                    processModel.showOnlyMine = false;
                }
            }
        }
    ]

    // The window has shown its first frame: only then the first scan, so
    // that the tree's rows are not made, laid out and rendered before the
    // window first shows (it shows "Reading processes…" meanwhile).
    property bool windowShown: false
    Connections {
        target: page.Window.window
        enabled: !page.windowShown

        function onFrameSwapped() {
            page.windowShown = true;
        }
    }

    ProcessModel {
        id: processModel

        objectName: "processModel"
        showOnlyMine: true
        // No refreshes while the page is not shown.
        active: page.visible && page.windowShown
    }

    ProcessFilterModel {
        id: filterModel

        sourceModel: processModel
        filterString: page.searchText
        columnTitles: [
            i18nc("@title:column", "Name"),
            i18nc("@title:column process id", "PID"),
            i18nc("@title:column", "User"),
            i18nc("@title:column", "CPU"),
            i18nc("@title:column", "Memory"),
            i18nc("@title:column can it be snapshotted", "Snapshot")
        ]
    }

    header: ColumnLayout {
        spacing: 0

        // What the app does, until the user has read it once.
        Kirigami.InlineMessage {
            objectName: "welcomeMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Information
            visible: page.settings.firstRun
            text: i18nc("@info first run", "Welcome to Cryopod. It saves a running program exactly as it is — memory, open files, process IDs — and brings it back later from its timeline. Select a program below and choose Snapshot; the Snapshot column says whether it can be saved and why not.")
            actions: [
                Kirigami.Action {
                    objectName: "welcomeDoneAction"
                    text: i18nc("@action:button", "Got It")
                    icon.name: "dialog-ok"
                    onTriggered: page.settings.setWelcomed()
                }
            ]
        }
        // Why the process list could not be read (inside a Flatpak: the
        // helper, which lists the host's processes, is missing or refused).
        Kirigami.InlineMessage {
            objectName: "scanErrorMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Error
            visible: processModel.scanError.length > 0
            text: processModel.scanError
        }

        // Progress of the running snapshot or restore, with Cancel.
        OperationProgress {
            objectName: "snapshotBusyMessage"
            actions: page.snapshotActions
            Layout.fillWidth: true
        }
        // The helper's or the store's message, as it came.
        Kirigami.InlineMessage {
            objectName: "snapshotErrorMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Error
            visible: page.snapshotActions.errorString.length > 0
            text: page.snapshotActions.errorString
            showCloseButton: true
            onVisibleChanged: {
                if (!visible) {
                    page.snapshotActions.clearError();
                }
            }
        }
        Kirigami.InlineMessage {
            id: cancelledMessage

            objectName: "snapshotCancelledMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Information
            showCloseButton: true
            visible: false
        }
        Kirigami.InlineMessage {
            id: takenMessage

            property var targetId: 0
            property string name

            objectName: "snapshotTakenMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Positive
            showCloseButton: true
            visible: false

            actions: [
                Kirigami.Action {
                    objectName: "openTakenTimelineAction"
                    text: i18nc("@action:button", "Open Timeline")
                    icon.name: "view-history"
                    onTriggered: {
                        takenMessage.visible = false;
                        page.timelineRequested(takenMessage.targetId, takenMessage.name);
                    }
                }
            ]
        }
    }

    Connections {
        target: page.snapshotActions

        function onSnapshotTaken(snapshotId, targetId) {
            takenMessage.targetId = targetId;
            takenMessage.text = i18nc("@info %2 pause and total time", "Snapshot %1 taken (%2).", String(snapshotId), page.snapshotActions.lastTimingText);
            takenMessage.visible = true;
        }
        function onFailed() {
            takenMessage.visible = false;
        }
        function onFreezeChanged() {
            processModel.refresh();
        }
        function onCancelled(message) {
            takenMessage.visible = false;
            cancelledMessage.text = message;
            cancelledMessage.visible = true;
        }
    }

    Component {
        id: scheduleDialogComponent

        ScheduleDialog {}
    }

    Component {
        id: snapshotDialogComponent

        Kirigami.PromptDialog {
            id: snapshotDialog

            property int pid
            property string name

            objectName: "snapshotDialog"
            title: i18nc("@title:window", "Snapshot %1", name)
            subtitle: i18nc("@info", "A label helps you find the snapshot of process %1 later.", String(pid))
            standardButtons: Kirigami.Dialog.Cancel
            customFooterActions: [
                Kirigami.Action {
                    objectName: "takeSnapshotAction"
                    text: i18nc("@action:button", "Take Snapshot")
                    icon.name: "cryopod-snapshot"
                    onTriggered: {
                        takenMessage.name = snapshotDialog.name;
                        page.snapshotActions.snapshot(snapshotDialog.pid, labelField.text, keepRunningBox.checked);
                        snapshotDialog.close();
                    }
                }
            ]

            ColumnLayout {
                spacing: Kirigami.Units.smallSpacing

                QQC2.TextField {
                    id: labelField

                    objectName: "snapshotLabelField"
                    placeholderText: i18nc("@info:placeholder", "Label (optional)")
                    Accessible.name: i18nc("@label:textbox", "Label")
                    Layout.fillWidth: true
                }
                QQC2.CheckBox {
                    id: keepRunningBox

                    objectName: "keepRunningCheckBox"
                    text: i18nc("@option:check", "Keep it running (else it is stopped once its snapshot is stored)")
                }
            }
            onOpened: {
                labelField.text = "";
                keepRunningBox.checked = page.settings.keepRunning;
                labelField.forceActiveFocus();
            }
        }
    }

    Component {
        id: reportSheetComponent

        ReportSheet {
            id: reportSheet

            onClosed: processModel.refreshCheckpointability(reportSheet.pid)
        }
    }

    ProcessTreeView {
        id: treeView

        anchors.fill: parent
        onReportRequested: (pid, name) => page.showReport(pid, name)
        model: filterModel
        loaded: !processModel.loading
        visible: !processModel.loading
    }

    Kirigami.LoadingPlaceholder {
        anchors.centerIn: parent
        visible: processModel.loading
        text: i18nc("@info:placeholder", "Reading processes…")
    }

    Kirigami.PlaceholderMessage {
        anchors.centerIn: parent
        width: parent.width - Kirigami.Units.gridUnit * 4
        visible: !processModel.loading && treeView.rows === 0
        // Kirigami's icon group is a private type that qmllint cannot resolve.
        icon.name: page.searchText.length > 0 ? "edit-find" : "view-process-tree" // qmllint disable unresolved-type missing-property
        text: page.searchText.length > 0 ? i18nc("@info:placeholder", "No processes match “%1”", page.searchText) : i18nc("@info:placeholder", "No processes to show")
        explanation: page.searchText.length > 0 ? i18nc("@info:placeholder", "Search looks at process names, command lines and PIDs.")
            : (processModel.showOnlyMine ? i18nc("@info:placeholder", "None of the running processes belong to you.") : "")
    }
}
