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

// The running snapshot or restore, at the top of a page: what it does, the
// helper's phase, a bar with bytes and time left, and Cancel. The window
// stays usable meanwhile (the work is on a worker thread and in the helper).
ColumnLayout {
    id: root

    required property SnapshotActions actions

    spacing: 0
    visible: root.actions.busy

    Kirigami.InlineMessage {
        id: message

        objectName: "operationMessage"
        Layout.fillWidth: true
        position: Kirigami.InlineMessage.Position.Header
        visible: root.actions.busy
        text: root.actions.step.length > 0 ? i18nc("@info %1 the operation, %2 its current step", "%1 %2…", root.actions.phase, root.actions.step)
                                          : root.actions.phase

        actions: [
            Kirigami.Action {
                objectName: "cancelOperationAction"
                text: i18nc("@action:button", "Cancel")
                icon.name: "dialog-cancel"
                enabled: root.actions.canCancel
                onTriggered: root.actions.cancel()
            }
        ]
    }

    // The bar (indeterminate until there is something to measure it by)
    // and the figures: bytes and time left.
    RowLayout {
        spacing: Kirigami.Units.largeSpacing
        Layout.fillWidth: true
        Layout.leftMargin: Kirigami.Units.largeSpacing
        Layout.rightMargin: Kirigami.Units.largeSpacing
        Layout.topMargin: Kirigami.Units.smallSpacing
        Layout.bottomMargin: Kirigami.Units.smallSpacing

        QQC2.ProgressBar {
            objectName: "operationProgressBar"
            from: 0
            to: 1
            value: Math.max(0, root.actions.progress)
            indeterminate: root.actions.progress < 0
            Accessible.name: message.text
            Layout.fillWidth: true
        }
        QQC2.Label {
            objectName: "operationProgressText"
            text: root.actions.progressText
            visible: text.length > 0
            font.features: {
                "tnum": 1
            }
        }
    }
}
