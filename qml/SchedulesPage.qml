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

// The schedules (docs/schedules.md): what each snapshots, when, what it
// keeps, its next and last run; edit, pause/resume and delete. New ones come from
// Schedule… on the Processes and Timeline pages.
Kirigami.ScrollablePage {
    id: page

    objectName: "schedulesPage"
    title: i18nc("@title page", "Schedules")

    actions: [
        Kirigami.Action {
            text: i18nc("@action:button", "Refresh")
            icon.name: "view-refresh"
            onTriggered: scheduleModel.reload()
        }
    ]

    header: Kirigami.InlineMessage {
        position: Kirigami.InlineMessage.Position.Header
        type: Kirigami.MessageType.Error
        visible: text.length > 0
        text: scheduleModel.errorString
    }

    ListView {
        id: list

        objectName: "schedulesList"
        model: ScheduleModel {
            id: scheduleModel

            objectName: "schedulesModel"
        }
        Component.onCompleted: scheduleModel.reload()

        delegate: QQC2.ItemDelegate {
            id: row

            required property var scheduleId
            required property string name
            required property string targetText
            required property string whenText
            required property string retentionText
            required property bool active
            required property string nextRunText
            required property string lastRunText

            width: ListView.view.width

            contentItem: RowLayout {
                spacing: Kirigami.Units.largeSpacing

                Kirigami.Icon {
                    source: "chronometer"
                    opacity: row.active ? 1 : 0.5
                    Layout.preferredWidth: Kirigami.Units.iconSizes.medium
                    Layout.preferredHeight: Kirigami.Units.iconSizes.medium
                }
                ColumnLayout {
                    spacing: 0
                    Layout.fillWidth: true

                    QQC2.Label {
                        text: i18nc("@item schedule: %1 name, %2 when", "%1 — %2", row.name, row.whenText)
                        font.bold: true
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    QQC2.Label {
                        text: i18nc("@item schedule details: %1 target, %2 retention, %3 next run", "%1 · retention: %2 · next: %3", row.targetText, row.retentionText, row.nextRunText)
                        opacity: 0.7
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    QQC2.Label {
                        visible: row.lastRunText.length > 0
                        text: i18nc("@item schedule's last run", "Last run: %1", row.lastRunText)
                        opacity: 0.7
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                }
                QQC2.Switch {
                    objectName: "scheduleEnabledSwitch"
                    checked: row.active
                    text: i18nc("@option:check a schedule runs", "Active")
                    onToggled: scheduleModel.setEnabled(row.scheduleId, checked)
                }
                QQC2.ToolButton {
                    objectName: "editScheduleButton"
                    icon.name: "document-edit"
                    text: i18nc("@action:button", "Edit Schedule")
                    display: QQC2.AbstractButton.IconOnly
                    QQC2.ToolTip.text: i18nc("@info:tooltip", "Change when it runs, what it keeps, its name")
                    QQC2.ToolTip.visible: hovered
                    onClicked: {
                        editDialog.scheduleId = row.scheduleId;
                        editDialog.open();
                    }
                }
                QQC2.ToolButton {
                    objectName: "deleteScheduleButton"
                    icon.name: "edit-delete"
                    text: i18nc("@action:button", "Delete Schedule")
                    display: QQC2.AbstractButton.IconOnly
                    QQC2.ToolTip.text: i18nc("@info:tooltip", "Delete the schedule (its snapshots stay)")
                    QQC2.ToolTip.visible: hovered
                    onClicked: scheduleModel.remove(row.scheduleId)
                }
            }
        }

        Kirigami.PlaceholderMessage {
            anchors.centerIn: parent
            width: parent.width - Kirigami.Units.gridUnit * 4
            visible: list.count === 0
            icon.name: "chronometer" // qmllint disable unresolved-type missing-property
            text: i18nc("@info:placeholder", "No schedules")
            explanation: i18nc("@info:placeholder", "Select a process on the Processes page and choose Schedule… to snapshot it again and again, keeping the newest.")
        }
    }

    ScheduleDialog {
        id: editDialog

        objectName: "editScheduleDialog"
        onScheduled: scheduleModel.reload()
    }
}
