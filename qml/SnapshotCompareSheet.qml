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

// What differs between two snapshots (SnapshotDiffModel reads both images):
// processes, memory by region, open files, credentials; before and after.
Kirigami.Dialog {
    id: sheet

    required property TimelineModel timeline
    // Set before open(): the two snapshots, in either order.
    property var firstId: 0
    property var secondId: 0

    objectName: "snapshotCompareSheet"
    title: i18nc("@title:window", "Compare Snapshots %1 and %2", String(diff.beforeId), String(diff.afterId))
    standardButtons: Kirigami.Dialog.Close
    preferredWidth: Kirigami.Units.gridUnit * 44
    preferredHeight: Kirigami.Units.gridUnit * 32

    onOpened: diff.comparePair(sheet.firstId, sheet.secondId)
    onClosed: diff.comparePair(0, 0)

    SnapshotDiffModel {
        id: diff

        objectName: "snapshotDiffModel"
        storePath: sheet.timeline.storePath
    }

    ColumnLayout {
        spacing: 0

        QQC2.Label {
            Layout.fillWidth: true
            Layout.margins: Kirigami.Units.smallSpacing
            wrapMode: Text.Wrap
            text: i18nc("@info %1 and %2 times of two snapshots", "Before: %1 · After: %2", sheet.timeline.timeTextOf(diff.beforeId), sheet.timeline.timeTextOf(diff.afterId))
        }
        QQC2.Label {
            objectName: "compareSummary"
            Layout.fillWidth: true
            Layout.margins: Kirigami.Units.smallSpacing
            wrapMode: Text.Wrap
            opacity: 0.7
            visible: text.length > 0
            text: diff.summary
        }
        Kirigami.InlineMessage {
            Layout.fillWidth: true
            type: Kirigami.MessageType.Error
            visible: text.length > 0
            text: diff.errorString
        }

        ListView {
            id: list

            objectName: "snapshotDiffList"
            clip: true
            model: diff
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: Kirigami.Units.gridUnit * 12
            Layout.preferredHeight: Kirigami.Units.gridUnit * 24

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
                required property string change
                required property string before
                required property string after

                readonly property string changeText: row.change === "added" ? i18nc("@item a difference", "only after") : (row.change === "removed" ? i18nc("@item a difference", "only before") : i18nc("@item a difference", "changed"))

                width: ListView.view.width
                hoverEnabled: false
                Accessible.name: row.title + ", " + row.changeText + ": " + row.before + " → " + row.after

                contentItem: ColumnLayout {
                    spacing: 0

                    RowLayout {
                        Layout.fillWidth: true

                        QQC2.Label {
                            text: row.title
                            elide: Text.ElideMiddle
                            Layout.fillWidth: true
                        }
                        QQC2.Label {
                            text: row.changeText
                            color: row.change === "added" ? Kirigami.Theme.positiveTextColor : (row.change === "removed" ? Kirigami.Theme.negativeTextColor : Kirigami.Theme.neutralTextColor)
                        }
                    }
                    QQC2.Label {
                        visible: row.before.length > 0
                        text: i18nc("@item %1 the older snapshot's value", "before: %1", row.before)
                        opacity: 0.7
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    QQC2.Label {
                        visible: row.after.length > 0
                        text: i18nc("@item %1 the newer snapshot's value", "after: %1", row.after)
                        opacity: 0.7
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                }
            }

            Kirigami.PlaceholderMessage {
                anchors.centerIn: parent
                width: parent.width - Kirigami.Units.gridUnit * 4
                visible: !diff.loading && diff.errorString.length === 0 && list.count === 0
                text: i18nc("@info:placeholder", "No differences")
            }
            Kirigami.LoadingPlaceholder {
                anchors.centerIn: parent
                visible: diff.loading
                text: i18nc("@info:placeholder", "Reading both snapshots…")
            }
        }
    }
}
