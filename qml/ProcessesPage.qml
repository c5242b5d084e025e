pragma ComponentBehavior: Bound
// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

// i18n() and its siblings come from the engine's KLocalizedQmlContext, a
// context object that qmllint cannot see.
// qmllint disable unqualified

import QtQuick
import QtQuick.Layouts
import org.kde.kirigami as Kirigami
import io.github.cryopod

// The running processes as a tree, with search and an owner filter.
Kirigami.Page {
    id: page

    property string searchText

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
            text: processModel.showOnlyMine ? i18nc("@action:button", "Show: Own Processes") : i18nc("@action:button", "Show: All Processes")
            icon.name: processModel.showOnlyMine ? "view-process-own" : "view-process-all"

            Kirigami.Action {
                text: i18nc("@item:inmenu", "Own Processes")
                icon.name: "view-process-own"
                checkable: true
                checked: processModel.showOnlyMine
                onTriggered: processModel.showOnlyMine = true
            }
            Kirigami.Action {
                text: i18nc("@item:inmenu", "All Processes")
                icon.name: "view-process-all"
                checkable: true
                checked: !processModel.showOnlyMine
                onTriggered: processModel.showOnlyMine = false
            }
        }
    ]

    ProcessModel {
        id: processModel

        objectName: "processModel"
        showOnlyMine: true
        // No refreshes while the page is not shown.
        active: page.visible
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
            i18nc("@title:column", "Memory")
        ]
    }

    ProcessTreeView {
        id: treeView

        anchors.fill: parent
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
