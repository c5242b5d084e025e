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

// One snapshot: its label and note (saved to the store), Export, and what
// its image holds (processes, memory by region, open files, credentials).
Kirigami.Dialog {
    id: sheet

    required property TimelineModel timeline
    required property SnapshotActions snapshotActions
    // Set before open().
    property var snapshotId: 0
    property string label
    property string note
    // Its sizes, pause and total time, as the timeline shows them.
    property string summary

    objectName: "snapshotDetailsSheet"
    title: i18nc("@title:window", "Snapshot %1", String(sheet.snapshotId))
    standardButtons: Kirigami.Dialog.Close
    preferredWidth: Kirigami.Units.gridUnit * 40
    preferredHeight: Kirigami.Units.gridUnit * 32

    customFooterActions: [
        Kirigami.Action {
            objectName: "saveSnapshotTextAction"
            text: i18nc("@action:button", "Save Label and Note")
            icon.name: "document-save"
            enabled: labelField.text !== sheet.label || noteField.text !== sheet.note
            onTriggered: {
                if (labelField.text !== sheet.label && sheet.timeline.setLabel(sheet.snapshotId, labelField.text)) {
                    sheet.label = labelField.text;
                }
                if (noteField.text !== sheet.note && sheet.timeline.setNote(sheet.snapshotId, noteField.text)) {
                    sheet.note = noteField.text;
                }
            }
        },
        Kirigami.Action {
            objectName: "exportSnapshotAction"
            text: i18nc("@action:button", "Export…")
            icon.name: "document-export"
            enabled: !sheet.snapshotActions.busy
            onTriggered: exportDialog.open()
        }
    ]

    onOpened: {
        labelField.text = sheet.label;
        noteField.text = sheet.note;
        details.snapshotId = sheet.snapshotId;
    }
    onClosed: details.snapshotId = 0

    SnapshotDetailsModel {
        id: details

        objectName: "snapshotDetailsModel"
        storePath: sheet.snapshotActions.storePath
    }

    Kirigami.PromptDialog {
        id: exportDialog

        objectName: "exportDialog"
        title: i18nc("@title:window", "Export Snapshot %1", String(sheet.snapshotId))
        subtitle: i18nc("@info", "The image file can be inspected with cryopodctl inspect and imported into another store.")
        standardButtons: Kirigami.Dialog.Cancel
        customFooterActions: [
            Kirigami.Action {
                objectName: "confirmExportAction"
                text: i18nc("@action:button", "Export")
                icon.name: "document-export"
                enabled: exportPath.text.length > 0
                onTriggered: {
                    sheet.snapshotActions.exportSnapshot(sheet.snapshotId, exportPath.text);
                    exportDialog.close();
                }
            }
        ]

        QQC2.TextField {
            id: exportPath

            objectName: "exportPathField"
            placeholderText: i18nc("@info:placeholder", "/path/to/snapshot.cryopod")
            Accessible.name: i18nc("@label:textbox", "File to write")
        }
    }

    ColumnLayout {
        spacing: 0

        Kirigami.FormLayout {
            Layout.fillWidth: true

            QQC2.Label {
                objectName: "snapshotSummaryLabel"
                Kirigami.FormData.label: i18nc("@label", "Snapshot:")
                text: sheet.summary
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }

            QQC2.TextField {
                id: labelField

                objectName: "snapshotLabelEdit"
                Kirigami.FormData.label: i18nc("@label:textbox", "Label:")
                Layout.fillWidth: true
            }
            QQC2.TextArea {
                id: noteField

                objectName: "snapshotNoteEdit"
                Kirigami.FormData.label: i18nc("@label:textbox", "Note:")
                wrapMode: TextEdit.Wrap
                Layout.fillWidth: true
                Layout.minimumHeight: Kirigami.Units.gridUnit * 3
            }
        }
        Kirigami.InlineMessage {
            Layout.fillWidth: true
            type: Kirigami.MessageType.Error
            visible: text.length > 0
            text: sheet.timeline.errorString.length > 0 ? sheet.timeline.errorString : details.errorString
        }

        ListView {
            id: list

            objectName: "snapshotDetailsList"
            clip: true
            model: details
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: Kirigami.Units.gridUnit * 12
            Layout.preferredHeight: Kirigami.Units.gridUnit * 22

            section.property: "section"
            section.delegate: Kirigami.ListSectionHeader {
                required property string section

                width: ListView.view.width
                text: {
                    switch (section) {
                    case "processes":
                        return i18nc("@title:group", "Process tree");
                    case "memory":
                        return i18nc("@title:group", "Memory by region");
                    case "files":
                        return i18nc("@title:group", "Open files");
                    case "credentials":
                        return i18nc("@title:group", "Credentials");
                    }
                    return section;
                }
            }

            delegate: QQC2.ItemDelegate {
                id: row

                required property string title
                required property string detail

                width: ListView.view.width
                hoverEnabled: false
                Accessible.name: row.title + ": " + row.detail

                contentItem: ColumnLayout {
                    spacing: 0

                    QQC2.Label {
                        text: row.title
                        elide: Text.ElideMiddle
                        Layout.fillWidth: true
                    }
                    QQC2.Label {
                        text: row.detail
                        opacity: 0.7
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                }
            }

            Kirigami.LoadingPlaceholder {
                anchors.centerIn: parent
                visible: details.loading
                text: i18nc("@info:placeholder", "Reading the snapshot…")
            }
        }
    }
}
