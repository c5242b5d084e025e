// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

// i18n() and its siblings come from the engine's KLocalizedQmlContext, a
// context object that qmllint cannot see.
// qmllint disable unqualified

import QtQuick
import org.kde.kirigami as Kirigami
import io.github.cryopod

// For the timeline: schedules of the target (0: of all) whose last run was
// skipped (the target was gone) or failed, and why. Read again every 30 s.
Kirigami.InlineMessage {
    id: message

    property int targetId: 0
    property int revision: 0

    objectName: "scheduleRunsMessage"
    type: Kirigami.MessageType.Warning
    position: Kirigami.InlineMessage.Position.Header
    text: revision >= 0 ? schedules.problemText(targetId) : ""
    visible: text.length > 0

    ScheduleModel {
        id: schedules
    }

    Timer {
        interval: 30000
        running: true
        repeat: true
        onTriggered: message.revision++
    }
}
