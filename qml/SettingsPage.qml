pragma ComponentBehavior: Bound
// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

// i18n() and its siblings come from the engine's KLocalizedQmlContext, a
// context object that qmllint cannot see.
// qmllint disable unqualified

import QtQuick
import org.kde.kirigami as Kirigami
import org.kde.kirigamiaddons.formcard as FormCard
import io.github.cryopod

// Where snapshots are kept and how, what Snapshot does, how many to keep.
// Every change is saved at once (CryopodSettings).
FormCard.FormCardPage {
    id: page

    required property CryopodSettings settings

    // The fields follow the settings (also after Reset) without bindings,
    // which the fields' own writes back would make loops.
    function showSettings() {
        storeField.text = page.settings.storePath;
        levelBox.value = page.settings.compressionLevel;
        keepLastBox.value = page.settings.keepLast;
    }

    objectName: "settingsPage"
    title: i18nc("@title page", "Settings")
    Component.onCompleted: page.showSettings()

    Connections {
        target: page.settings

        function onChanged() {
            page.showSettings();
        }
    }

    FormCard.FormHeader {
        title: i18nc("@title:group", "Snapshot store")
    }
    FormCard.FormCard {
        FormCard.FormTextFieldDelegate {
            id: storeField

            objectName: "storePathField"
            label: i18nc("@label:textbox", "Store location")
            placeholderText: page.settings.defaultStorePath
            onEditingFinished: page.settings.storePath = text
        }
        FormCard.FormDelegateSeparator {}
        FormCard.FormTextDelegate {
            text: i18nc("@info", "Empty: the default location. A store holds the snapshots of one user; a new location starts empty.")
            textItem.wrapMode: Text.Wrap
        }
        FormCard.FormDelegateSeparator {}
        FormCard.FormSpinBoxDelegate {
            id: levelBox

            objectName: "compressionLevelSpinBox"
            label: i18nc("@label:spinbox", "Compression level (1 fastest – 19 smallest)")
            from: 1 // CryopodSettings::kMinLevel
            to: 19 // CryopodSettings::kMaxLevel
            onValueChanged: page.settings.compressionLevel = value
        }
    }

    FormCard.FormHeader {
        title: i18nc("@title:group", "Snapshot")
    }
    FormCard.FormCard {
        FormCard.FormRadioDelegate {
            objectName: "keepRunningRadio"
            text: i18nc("@option:radio", "Keep the program running")
            description: i18nc("@info", "It is paused only while its state is captured.")
            checked: page.settings.keepRunning
            onToggled: {
                if (checked) {
                    page.settings.keepRunning = true;
                }
            }
        }
        FormCard.FormRadioDelegate {
            objectName: "stopRadio"
            text: i18nc("@option:radio", "Stop the program once its snapshot is stored")
            description: i18nc("@info", "Like hibernating it: restore it from the timeline later.")
            checked: !page.settings.keepRunning
            onToggled: {
                if (checked) {
                    page.settings.keepRunning = false;
                }
            }
        }
    }

    FormCard.FormHeader {
        title: i18nc("@title:group", "Keeping snapshots")
    }
    FormCard.FormCard {
        FormCard.FormSpinBoxDelegate {
            id: keepLastBox

            objectName: "keepLastSpinBox"
            label: i18nc("@label:spinbox", "Snapshots to keep per program (0 keeps all)")
            from: 0
            to: 1000 // CryopodSettings::kMaxKeepLast
            onValueChanged: page.settings.keepLast = value
        }
        FormCard.FormDelegateSeparator {}
        FormCard.FormTextDelegate {
            text: i18nc("@info", "After each snapshot, older ones beyond this number are deleted. Pinned snapshots are always kept and do not count.")
            textItem.wrapMode: Text.Wrap
        }
        FormCard.FormDelegateSeparator {}
        FormCard.FormButtonDelegate {
            objectName: "resetSettingsButton"
            text: i18nc("@action:button", "Reset to Defaults")
            icon.name: "edit-reset"
            onClicked: page.settings.resetToDefaults()
        }
    }
}
