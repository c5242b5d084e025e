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

// The main window: a sidebar of pages and the page stack.
// Only the Processes page is made at start. The other pages, their modules
// (Kirigami Addons' FormCard, KNotifications' QML) and their types are
// loaded when first shown (pageComponent), so that the start does not pay
// for them.
Kirigami.ApplicationWindow {
    id: root

    title: i18nc("@title:window", "Cryopod")

    width: Kirigami.Units.gridUnit * 60
    height: Kirigami.Units.gridUnit * 38
    minimumWidth: Kirigami.Units.gridUnit * 30
    minimumHeight: Kirigami.Units.gridUnit * 20

    pageStack.globalToolBar.style: Kirigami.ApplicationHeaderStyle.ToolBar
    pageStack.globalToolBar.showNavigationButtons: Kirigami.ApplicationHeaderStyle.NoNavigationButtons
    pageStack.columnView.columnResizeMode: Kirigami.ColumnView.SingleColumn
    pageStack.initialPage: ProcessesPage {
        snapshotActions: snapshotter
        settings: settings
        onTimelineRequested: (targetId, name) => root.showTimeline(targetId, name)
    }

    // Snapshot and Restore, shared by the pages (one operation at a time).
    SnapshotActions {
        id: snapshotter

        objectName: "snapshotActions"
        storePath: settings.storePath
        compressionLevel: settings.compressionLevel
        keepLast: settings.keepLast
    }

    // The user's choices (Settings page), saved as they change.
    CryopodSettings {
        id: settings

        objectName: "settings"
    }

    // The components of the pages and objects not made at start, by
    // "module/Type", each loaded once, when first needed.
    property var components: ({})
    function pageComponent(module: string, type: string): Component {
        const key = module + "/" + type;
        if (!root.components[key]) {
            const component = Qt.createComponent(module, type);
            if (component.status === Component.Error) {
                console.warn(component.errorString());
            }
            root.components[key] = component;
        }
        return root.components[key];
    }

    // A desktop notification when an operation ends while the window is not
    // the one in use (in view, the pages' inline messages tell).
    // The last event sent (or that would have been, in the window): for tests.
    property string lastNotification
    property string lastNotificationText
    function notify(eventId: string, title: string, text: string) {
        root.lastNotification = eventId;
        root.lastNotificationText = text;
        if (root.active) {
            return;
        }
        const notification = root.pageComponent("org.kde.notification", "Notification").createObject(root, {
            componentName: "cryopod",
            iconName: "io.github.cryopod.Cryopod",
            autoDelete: true,
            eventId: eventId,
            title: title,
            text: text
        });
        notification.sendEvent();
    }

    Connections {
        target: snapshotter

        function onSnapshotTaken(snapshotId: var, targetId: var) {
            root.notify("snapshotTaken", i18nc("@title notification", "Snapshot taken"), i18nc("@info notification, %2 pause and total time", "Snapshot %1 is in your timeline (%2).", String(snapshotId), snapshotter.lastTimingText));
        }
        function onRestored(snapshotId: var, pid: int) {
            root.notify("restored", i18nc("@title notification", "Snapshot restored"), i18nc("@info notification", "Snapshot %1 runs again as process %2.", String(snapshotId), String(pid)));
        }
        function onTerminalOpened(session: TerminalSession, snapshotId: var, pid: int) {
            const terminal = root.pageStack.layers.push(root.pageComponent("io.github.cryopod", "TerminalPage"), {
                snapshotActions: snapshotter,
                session: session
            });
            terminal.closeRequested.connect(() => {
                if (root.pageStack.layers.currentItem === terminal) {
                    root.pageStack.layers.pop();
                }
            });
        }
        function onFailed(message: string) {
            root.notify("operationFailed", i18nc("@title notification", "Cryopod could not finish"), message);
        }
        function onCancelled(message: string) {
            root.notify("operationCancelled", i18nc("@title notification", "Cancelled"), message);
        }
    }

    // A timeline on top of the Processes page (which keeps its state below).
    function showTimeline(targetId: var, name: string) {
        root.pageStack.layers.clear();
        root.pageStack.layers.push(root.pageComponent("io.github.cryopod", "TimelinePage"), {
            snapshotActions: snapshotter,
            targetId: targetId,
            targetName: name
        });
    }

    globalDrawer: Kirigami.GlobalDrawer {
        id: drawer

        isMenu: false
        modal: !root.wideScreen
        handleVisible: modal
        width: Kirigami.Units.gridUnit * 11
        collapsible: false

        header: QQC2.ToolBar {
            implicitHeight: root.pageStack.globalToolBar.preferredHeight

            contentItem: RowLayout {
                spacing: Kirigami.Units.smallSpacing

                Kirigami.Icon {
                    source: "qrc:/icons/io.github.cryopod.Cryopod.svg"
                    Layout.preferredWidth: Kirigami.Units.iconSizes.smallMedium
                    Layout.preferredHeight: Kirigami.Units.iconSizes.smallMedium
                    Layout.leftMargin: Kirigami.Units.smallSpacing
                }
                Kirigami.Heading {
                    text: i18nc("@title application name", "Cryopod")
                    level: 2
                    Layout.fillWidth: true
                }
            }
        }

        // Settings joins the list when it is built.
        actions: [
            Kirigami.Action {
                objectName: "processesAction"
                text: i18nc("@action:inmenu page", "Processes")
                icon.name: "view-process-tree"
                checkable: true
                checked: root.pageStack.layers.depth <= 1
                // The main page stays below the others (layers), so that it
                // keeps its state: selection, expanded rows, search.
                onTriggered: root.pageStack.layers.clear()
            },
            Kirigami.Action {
                objectName: "timelineDrawerAction"
                text: i18nc("@action:inmenu page", "Timeline")
                icon.name: "view-history"
                checkable: true
                checked: root.pageStack.layers.depth > 1 && root.pageStack.layers.currentItem?.objectName === "timelinePage"
                onTriggered: root.showTimeline(0, "")
            },
            Kirigami.Action {
                objectName: "schedulesDrawerAction"
                text: i18nc("@action:inmenu page", "Schedules")
                icon.name: "chronometer"
                checkable: true
                checked: root.pageStack.layers.depth > 1 && root.pageStack.layers.currentItem?.objectName === "schedulesPage"
                onTriggered: {
                    root.pageStack.layers.clear();
                    root.pageStack.layers.push(root.pageComponent("io.github.cryopod", "SchedulesPage"));
                }
            },
            Kirigami.Action {
                objectName: "settingsAction"
                text: i18nc("@action:inmenu page", "Settings")
                icon.name: "settings-configure"
                checkable: true
                checked: root.pageStack.layers.depth > 1 && root.pageStack.layers.currentItem?.objectName === "settingsPage"
                onTriggered: {
                    root.pageStack.layers.clear();
                    root.pageStack.layers.push(root.pageComponent("io.github.cryopod", "SettingsPage"), {
                        settings: settings
                    });
                }
            },
            Kirigami.Action {
                separator: true
            },
            Kirigami.Action {
                objectName: "aboutAction"
                text: i18nc("@action:inmenu", "About Cryopod")
                icon.name: "help-about"
                checkable: true
                checked: root.pageStack.layers.depth > 1 && root.pageStack.layers.currentItem?.objectName === "aboutPage"
                onTriggered: {
                    root.pageStack.layers.clear();
                    root.pageStack.layers.push(root.pageComponent("org.kde.kirigamiaddons.formcard", "AboutPage"), {
                        objectName: "aboutPage"
                    });
                }
            }
        ]
    }
}
