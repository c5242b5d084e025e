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

// Whether a process (and its tree) can be snapshotted, and why not: the
// engine's report, per process and per open file, in words.
Kirigami.Dialog {
    id: sheet

    // Set before open(): the process to report on.
    property int pid
    property string name
    readonly property ReportModel report: reportModel

    objectName: "reportSheet"
    title: i18nc("@title:window %1 a program's name", "Can %1 be snapshotted?", name)
    standardButtons: Kirigami.Dialog.Close
    preferredWidth: Kirigami.Units.gridUnit * 34
    preferredHeight: Kirigami.Units.gridUnit * 26

    customFooterActions: [
        Kirigami.Action {
            text: i18nc("@action:button", "Check Again")
            icon.name: "view-refresh"
            enabled: !reportModel.loading
            onTriggered: reportModel.reload()
        }
    ]

    onOpened: {
        if (reportModel.pid === sheet.pid) {
            reportModel.reload();
        } else {
            reportModel.pid = sheet.pid;
        }
    }
    onClosed: reportModel.pid = 0

    ReportModel {
        id: reportModel

        objectName: "reportModel"
    }

    ColumnLayout {
        spacing: Kirigami.Units.smallSpacing

        Kirigami.InlineMessage {
            id: verdictMessage

            objectName: "reportVerdictMessage"
            Layout.fillWidth: true
            Layout.margins: Kirigami.Units.smallSpacing
            visible: reportModel.verdict.length > 0 || reportModel.errorString.length > 0
            type: reportModel.errorString.length > 0 || reportModel.verdict === "refused" ? Kirigami.MessageType.Error
                : reportModel.verdict === "caveat" ? Kirigami.MessageType.Warning : Kirigami.MessageType.Positive
            text: reportModel.errorString.length > 0 ? reportModel.errorString
                : reportModel.verdict === "ok" ? i18nc("@info", "Yes: everything below can be snapshotted and restored as it is.")
                : reportModel.verdict === "caveat" ? i18nc("@info", "Yes, with caveats: a snapshot can be taken, but some things will differ after a restore.")
                : i18nc("@info", "No: something below cannot be snapshotted.")
        }
        ListView {
            id: list

            objectName: "reportList"
            clip: true
            model: reportModel
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: Kirigami.Units.gridUnit * 10
            Layout.preferredHeight: Kirigami.Units.gridUnit * 18

            section.property: "section"
            section.delegate: Kirigami.ListSectionHeader {
                required property string section

                width: ListView.view.width
                text: section
            }

            delegate: QQC2.ItemDelegate {
                id: row

                required property string kind
                required property string description
                required property string verdict
                required property string reason

                width: ListView.view.width
                // The process's own verdict, and the files that are not simply fine.
                visible: row.kind === "process" || row.verdict !== "ok"
                height: visible ? implicitHeight : 0
                hoverEnabled: false
                down: false
                Accessible.name: row.reason.length > 0 ? i18nc("@info accessible: %1 what, %2 why", "%1: %2", row.description, row.reason) : row.description

                contentItem: RowLayout {
                    spacing: Kirigami.Units.largeSpacing

                    VerdictIcon {
                        verdict: row.verdict
                        Layout.alignment: Qt.AlignTop
                    }
                    ColumnLayout {
                        spacing: 0
                        Layout.fillWidth: true

                        QQC2.Label {
                            text: row.description
                            font.bold: row.kind === "process"
                            wrapMode: Text.Wrap
                            Layout.fillWidth: true
                        }
                        QQC2.Label {
                            text: row.reason.length > 0 ? row.reason
                                : (row.kind === "process" ? i18nc("@info", "Nothing stands in the way.") : "")
                            visible: text.length > 0
                            wrapMode: Text.Wrap
                            opacity: 0.8
                            Layout.fillWidth: true
                        }
                    }
                }
            }

            Kirigami.LoadingPlaceholder {
                anchors.centerIn: parent
                visible: reportModel.loading
                text: i18nc("@info:placeholder", "Asking the engine…")
            }
        }
    }
}
