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

// A new recurring snapshot (docs/schedules.md): of this process (pid) or of
// whichever of the user's processes runs the executable; when; how many
// snapshots to keep, with a preview of what the policy keeps after a month
// of runs and, from the timeline (targetId), of the target's snapshots now.
// With scheduleId set, it edits that schedule in place (its name, when and
// retention; the target stays), its fields filled from the schedule.
Kirigami.Dialog {
    id: dialog

    // The process to snapshot (0: none running; a rule on `executable` then).
    property int pid: 0
    property string name
    property string executable
    // The target whose snapshots the preview shows (0: none).
    property int targetId: 0
    // The schedule to edit (0: make a new one).
    property int scheduleId: 0
    readonly property bool editing: scheduleId > 0
    property string targetText

    readonly property string when: {
        switch (kindBox.currentIndex) {
        case 0:
            return "every " + everyField.value + ["m", "h"][unitBox.currentIndex];
        case 1:
            return "hourly " + minuteField.value;
        case 2:
            return "daily " + timeField.text;
        default:
            return "weekly " + ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][dayBox.currentIndex] + " " + timeField.text;
        }
    }
    readonly property string whenProblem: schedules.checkWhen(when)
    readonly property var preview: schedules.previewRetention(when, lastField.value, hourlyField.value, dailyField.value, weeklyField.value, monthlyField.value, 35)
    readonly property var targetPreview: targetId > 0 ? schedules.previewForTarget(targetId, lastField.value, hourlyField.value, dailyField.value, weeklyField.value, monthlyField.value, capField.value) : []

    // A schedule was made or changed (its id).
    signal scheduled(int scheduleId)

    objectName: "scheduleDialog"
    title: editing ? i18nc("@title:window %1 a schedule's name", "Edit Schedule %1", name)
                   : i18nc("@title:window %1 a program", "Schedule Snapshots of %1", name)
    standardButtons: Kirigami.Dialog.Cancel
    preferredWidth: Kirigami.Units.gridUnit * 30

    customFooterActions: [
        Kirigami.Action {
            objectName: "createScheduleAction"
            visible: !dialog.editing
            text: i18nc("@action:button", "Create Schedule")
            icon.name: "chronometer"
            enabled: dialog.whenProblem.length === 0 && (processButton.checked ? dialog.pid > 0 : dialog.executable.length > 0)
            onTriggered: {
                const id = processButton.checked
                    ? schedules.addForProcess(dialog.pid, dialog.name, dialog.when, lastField.value, hourlyField.value, dailyField.value, weeklyField.value, monthlyField.value, capField.value, modeBox.currentValue)
                    : schedules.addRule(dialog.executable, argsField.text, dialog.name, dialog.when, lastField.value, hourlyField.value, dailyField.value, weeklyField.value, monthlyField.value, capField.value, modeBox.currentValue);
                if (id > 0) {
                    dialog.scheduled(id);
                    dialog.close();
                }
            }
        },
        Kirigami.Action {
            objectName: "saveScheduleAction"
            visible: dialog.editing
            text: i18nc("@action:button", "Save Schedule")
            icon.name: "document-save"
            enabled: dialog.whenProblem.length === 0
            onTriggered: {
                if (schedules.update(dialog.scheduleId, nameField.text, dialog.when, lastField.value, hourlyField.value, dailyField.value, weeklyField.value, monthlyField.value, capField.value, modeBox.currentValue)) {
                    dialog.scheduled(dialog.scheduleId);
                    dialog.close();
                }
            }
        }
    ]

    ScheduleModel {
        id: schedules

        objectName: "scheduleModel"
    }

    onOpened: {
        if (editing) {
            const info = schedules.scheduleInfo(scheduleId);
            name = info.name ?? "";
            nameField.text = name;
            targetText = info.target ?? "";
            kindBox.currentIndex = info.kind ?? 0;
            everyField.value = info.every ?? 15;
            unitBox.currentIndex = info.unit ?? 0;
            minuteField.value = info.minute ?? 0;
            timeField.text = info.time ?? "03:00";
            dayBox.currentIndex = info.day ?? 0;
            lastField.value = info.keepLast ?? 0;
            hourlyField.value = info.hourly ?? 0;
            dailyField.value = info.daily ?? 0;
            weeklyField.value = info.weekly ?? 0;
            monthlyField.value = info.monthly ?? 0;
            capField.value = Math.ceil(info.maxGiB ?? 0);
            modeBox.currentIndex = modeBox.indexOfValue(info.mode ?? ScheduleModel.KeepRunning);
            return;
        }
        if (targetId > 0 && pid <= 0) {
            const info = schedules.targetInfo(targetId);
            pid = info.pid ?? 0;
            executable = info.exe ?? "";
        }
        if (pid > 0 && executable.length === 0) {
            executable = schedules.executableOf(pid);
        }
    }

    ColumnLayout {
        spacing: Kirigami.Units.smallSpacing

        Kirigami.InlineMessage {
            Layout.fillWidth: true
            type: Kirigami.MessageType.Error
            visible: text.length > 0
            text: schedules.errorString.length > 0 ? schedules.errorString : dialog.whenProblem
        }

        Kirigami.FormLayout {
            Layout.fillWidth: true

            QQC2.TextField {
                id: nameField

                objectName: "scheduleNameField"
                Kirigami.FormData.label: i18nc("@label:textbox", "Name:")
                visible: dialog.editing
            }
            QQC2.Label {
                Kirigami.FormData.label: i18nc("@label", "Snapshot:")
                visible: dialog.editing
                text: dialog.targetText
            }
            QQC2.RadioButton {
                id: processButton

                Kirigami.FormData.label: i18nc("@label", "Snapshot:")
                visible: !dialog.editing
                text: i18nc("@option:radio", "This process (%1)", String(dialog.pid))
                enabled: dialog.pid > 0
                checked: dialog.pid > 0
            }
            QQC2.RadioButton {
                id: ruleButton

                visible: !dialog.editing
                text: i18nc("@option:radio %1 an executable", "Any of my processes running %1", dialog.executable)
                enabled: dialog.executable.length > 0
                checked: dialog.pid <= 0
            }
            QQC2.TextField {
                id: argsField

                visible: ruleButton.checked && !dialog.editing
                placeholderText: i18nc("@info:placeholder", "Arguments matching (regular expression, optional)")
            }

            RowLayout {
                Kirigami.FormData.label: i18nc("@label", "When:")
                QQC2.ComboBox {
                    id: kindBox

                    objectName: "scheduleKindBox"
                    model: [i18nc("@item:inlistbox", "Every"), i18nc("@item:inlistbox", "Hourly"), i18nc("@item:inlistbox", "Daily"), i18nc("@item:inlistbox", "Weekly")]
                }
                QQC2.SpinBox {
                    id: everyField

                    visible: kindBox.currentIndex === 0
                    from: 1
                    to: 999
                    value: 15
                }
                QQC2.ComboBox {
                    id: unitBox

                    visible: kindBox.currentIndex === 0
                    model: [i18nc("@item:inlistbox", "minutes"), i18nc("@item:inlistbox", "hours")]
                }
                QQC2.SpinBox {
                    id: minuteField

                    visible: kindBox.currentIndex === 1
                    from: 0
                    to: 59
                    QQC2.ToolTip.text: i18nc("@info:tooltip", "Minute of the hour")
                }
                QQC2.ComboBox {
                    id: dayBox

                    visible: kindBox.currentIndex === 3
                    model: [Qt.locale().dayName(1), Qt.locale().dayName(2), Qt.locale().dayName(3), Qt.locale().dayName(4), Qt.locale().dayName(5), Qt.locale().dayName(6), Qt.locale().dayName(0)]
                }
                QQC2.TextField {
                    id: timeField

                    objectName: "scheduleTimeField"
                    visible: kindBox.currentIndex >= 2
                    text: "03:00"
                    inputMask: "99:99"
                }
            }

            QQC2.ComboBox {
                id: modeBox

                objectName: "scheduleModeBox"
                Kirigami.FormData.label: i18nc("@label:listbox", "While taking it:")
                textRole: "text"
                valueRole: "value"
                model: [
                    {
                        value: ScheduleModel.KeepRunning,
                        text: i18nc("@item:inlistbox snapshot mode", "Keep the program running (short pause)")
                    },
                    {
                        value: ScheduleModel.Freeze,
                        text: i18nc("@item:inlistbox snapshot mode", "Freeze the program for the whole snapshot")
                    }
                ]
                QQC2.ToolTip.text: modeBox.currentValue === ScheduleModel.Freeze
                    ? i18nc("@info:tooltip", "The program stays stopped until its memory is saved: slower for it, but nothing changes while it is taken.")
                    : i18nc("@info:tooltip", "The program is stopped only while its state and a copy of its memory are taken, then runs on.")
                QQC2.ToolTip.visible: hovered
                Accessible.name: i18nc("@label:listbox", "How the program runs while a snapshot is taken")
            }

            QQC2.SpinBox {
                id: lastField

                objectName: "keepLastField"
                Kirigami.FormData.label: i18nc("@label:spinbox", "Keep the last:")
                from: 0
                to: 1000
                value: 5
            }
            QQC2.SpinBox {
                id: hourlyField

                Kirigami.FormData.label: i18nc("@label:spinbox", "Hourly:")
                from: 0
                to: 1000
                value: 24
            }
            QQC2.SpinBox {
                id: dailyField

                Kirigami.FormData.label: i18nc("@label:spinbox", "Daily:")
                from: 0
                to: 1000
                value: 7
            }
            QQC2.SpinBox {
                id: weeklyField

                Kirigami.FormData.label: i18nc("@label:spinbox", "Weekly:")
                from: 0
                to: 1000
                value: 4
            }
            QQC2.SpinBox {
                id: monthlyField

                Kirigami.FormData.label: i18nc("@label:spinbox", "Monthly:")
                from: 0
                to: 1000
                value: 0
            }
            QQC2.SpinBox {
                id: capField

                Kirigami.FormData.label: i18nc("@label:spinbox", "At most (GiB, 0: no limit):")
                from: 0
                to: 100000
                value: 0
            }
        }

        QQC2.Label {
            objectName: "retentionPreview"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: dialog.preview.text ?? ""
        }

        QQC2.Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            visible: dialog.targetPreview.length > 0
            text: i18nc("@info", "This policy applied to the snapshots of %1 so far (a schedule only ever removes the snapshots it took):", dialog.name)
        }

        Repeater {
            model: dialog.targetPreview

            delegate: QQC2.Label {
                required property var modelData

                Layout.fillWidth: true
                elide: Text.ElideRight
                opacity: modelData.keep ? 1 : 0.5
                text: modelData.keep ? i18nc("@info %1 time, %2 why", "%1 — kept (%2)", modelData.timeText, modelData.reasons)
                                     : i18nc("@info %1 time", "%1 — would be removed", modelData.timeText)
            }
        }
    }
}
