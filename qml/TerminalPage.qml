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

// The terminal of a program restored onto a new pty: what it prints, in a
// monospace view, and what is typed into the view goes to it (Ctrl+C,
// Ctrl+D, the arrows and the rest as a terminal sends them). The view's size
// is the terminal's window size. Closing the page hangs the terminal up.
Kirigami.Page {
    id: page

    required property SnapshotActions snapshotActions
    required property TerminalSession session

    // The page is done with (the window takes it away).
    signal closeRequested

    // Hangs up and leaves the page. The session itself goes with the page
    // (Component.onDestruction): until then the page's bindings read it.
    function closeTerminal() {
        page.session.close();
        page.closeRequested();
    }

    // The terminal's size in characters from the view's.
    function updateWindowSize() {
        const columns = Math.floor((view.width - textArea.leftPadding - textArea.rightPadding) / metrics.averageCharacterWidth);
        const rows = Math.floor((view.height - textArea.topPadding - textArea.bottomPadding) / metrics.height);
        if (columns > 0 && rows > 0) {
            page.session.setWindowSize(columns, rows);
        }
    }

    objectName: "terminalPage"
    title: i18nc("@title page, %1 a process", "Terminal of %1", page.session.title)
    padding: 0
    Component.onCompleted: textArea.forceActiveFocus()
    Component.onDestruction: page.snapshotActions.closeTerminal(page.session)
    QQC2.StackView.onActivated: textArea.forceActiveFocus()

    actions: [
        Kirigami.Action {
            objectName: "terminalInterruptAction"
            text: i18nc("@action:button", "Interrupt")
            icon.name: "process-stop"
            tooltip: i18nc("@info:tooltip", "Send Ctrl+C to the program")
            enabled: page.session.running
            onTriggered: {
                page.session.sendKey(Qt.Key_C, Qt.ControlModifier, "");
                textArea.forceActiveFocus();
            }
        },
        Kirigami.Action {
            objectName: "closeTerminalAction"
            text: i18nc("@action:button", "Close Terminal")
            icon.name: "window-close"
            tooltip: i18nc("@info:tooltip", "Hang up the terminal: a program still on it gets a hangup, as when a terminal window closes")
            onTriggered: page.closeTerminal()
        }
    ]

    header: ColumnLayout {
        spacing: 0

        Kirigami.InlineMessage {
            objectName: "terminalEndedMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Information
            visible: !page.session.running
            text: i18nc("@info", "The program has left the terminal (it ended or closed it). What it printed stays here until you close the page.")
        }
        Kirigami.InlineMessage {
            objectName: "terminalErrorMessage"
            Layout.fillWidth: true
            position: Kirigami.InlineMessage.Position.Header
            type: Kirigami.MessageType.Error
            visible: text.length > 0
            text: page.session.errorString
        }
    }

    FontMetrics {
        id: metrics

        font: textArea.font
    }

    QQC2.ScrollView {
        id: view

        anchors.fill: parent
        onWidthChanged: Qt.callLater(page.updateWindowSize)
        onHeightChanged: Qt.callLater(page.updateWindowSize)

        QQC2.TextArea {
            id: textArea

            objectName: "terminalText"
            readOnly: true
            selectByMouse: true
            cursorVisible: page.session.running && activeFocus
            persistentSelection: true
            wrapMode: TextEdit.NoWrap
            textFormat: TextEdit.PlainText
            font: Kirigami.Theme.fixedWidthFont ?? Qt.application.font // undefined while the page is destroyed
            text: page.session.text
            // The program's cursor; the view scrolls to keep it in sight.
            onTextChanged: cursorPosition = Math.min(page.session.cursorPosition, length)
            Accessible.role: Accessible.Terminal
            Accessible.name: i18nc("@info:whatsthis accessible name, %1 a process", "Terminal of %1", page.session.title)
            Accessible.description: page.session.running ? i18nc("@info:whatsthis", "What you type goes to the program.") : i18nc("@info:whatsthis", "The program has left the terminal.")

            // Every key goes to the program (Ctrl+C too: copy is Ctrl+Shift+C).
            Keys.onPressed: event => {
                if (event.key === Qt.Key_C && (event.modifiers & Qt.ControlModifier) && (event.modifiers & Qt.ShiftModifier)) {
                    textArea.copy();
                } else if (!page.session.sendKey(event.key, event.modifiers, event.text)) {
                    return; // a modifier alone
                }
                event.accepted = true;
            }
        }
    }
}
