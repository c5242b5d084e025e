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

// Draws a TimelineAxis (which places the snapshots and makes the ticks):
// a marker per snapshot, the current one and the one picked for comparing
// marked. Zoom with +/- (0 shows all), Ctrl+wheel or a pinch; move with the
// arrow keys, the wheel or a drag. A click picks a snapshot, Ctrl+click picks
// the one to compare with.
FocusScope {
    id: view

    required property TimelineAxis axis
    property int currentIndex: -1
    property var compareSnapshotId: 0

    // A snapshot was clicked (compare: with Ctrl, to compare with).
    signal picked(int row, bool compare)

    // Tall enough for the zoom buttons beside the axis.
    implicitHeight: Math.max(Kirigami.Units.gridUnit * 4, zoomButtons.implicitHeight)
    activeFocusOnTab: true
    Accessible.role: Accessible.Chart
    Accessible.name: i18nc("@info accessible name, %1 a span like 3 hours", "Time axis of the snapshots, showing %1", view.axis.spanText)

    Keys.onPressed: event => {
        if (event.key === Qt.Key_Plus || event.key === Qt.Key_Equal) {
            view.axis.zoom(2);
        } else if (event.key === Qt.Key_Minus) {
            view.axis.zoom(0.5);
        } else if (event.key === Qt.Key_0 || event.key === Qt.Key_Home) {
            view.axis.fit();
        } else if (event.key === Qt.Key_Left) {
            view.axis.pan(-plot.width / 10);
        } else if (event.key === Qt.Key_Right) {
            view.axis.pan(plot.width / 10);
        } else {
            return;
        }
        event.accepted = true;
    }

    RowLayout {
        anchors.fill: parent
        spacing: Kirigami.Units.smallSpacing

        Rectangle {
            Layout.fillWidth: true
            Layout.fillHeight: true
            color: Kirigami.Theme.backgroundColor
            border.color: view.activeFocus ? Kirigami.Theme.focusColor : Kirigami.ColorUtils.linearInterpolation(Kirigami.Theme.backgroundColor, Kirigami.Theme.textColor, 0.2)
            border.width: 1
            radius: Kirigami.Units.cornerRadius

            Item {
                id: plot

                objectName: "timelineAxisPlot"
                anchors.fill: parent
                anchors.margins: 1
                clip: true

                Binding {
                    target: view.axis
                    property: "width"
                    value: plot.width
                    when: plot.width > 0
                }

                Repeater {
                    model: view.axis.ticks

                    delegate: Item {
                        id: tick

                        required property var modelData

                        x: tick.modelData.x
                        width: tickLabel.implicitWidth + Kirigami.Units.smallSpacing * 2
                        height: plot.height

                        Rectangle {
                            width: 1
                            height: parent.height
                            color: Kirigami.Theme.textColor
                            opacity: tick.modelData.major ? 0.45 : 0.15
                        }
                        Text {
                            id: tickLabel

                            anchors.left: parent.left
                            anchors.leftMargin: Kirigami.Units.smallSpacing
                            anchors.bottom: parent.bottom
                            anchors.bottomMargin: Kirigami.Units.smallSpacing
                            text: tick.modelData.label
                            color: Kirigami.Theme.textColor
                            font.pointSize: Kirigami.Theme.smallFont.pointSize
                            font.bold: tick.modelData.major
                        }
                    }
                }

                Repeater {
                    objectName: "timelineAxisMarkers"
                    model: view.axis

                    delegate: Rectangle {
                        id: marker

                        required property int index
                        required property real axisX
                        required property bool onAxis
                        required property var snapshotId
                        required property string timeText
                        required property bool pinned

                        readonly property bool current: marker.index === view.currentIndex
                        readonly property bool compared: marker.snapshotId === view.compareSnapshotId

                        objectName: "timelineMarker" + marker.index
                        visible: marker.onAxis
                        x: Math.round(marker.axisX - width / 2)
                        y: Kirigami.Units.smallSpacing
                        width: Kirigami.Units.gridUnit * (marker.current || marker.compared ? 0.9 : 0.6)
                        height: width
                        radius: width / 2
                        color: marker.current ? Kirigami.Theme.highlightColor : (marker.compared ? Kirigami.Theme.neutralTextColor : Kirigami.Theme.textColor)
                        border.color: Kirigami.Theme.backgroundColor
                        border.width: 1
                        opacity: marker.current || marker.compared ? 1 : 0.6
                        Accessible.role: Accessible.Button
                        Accessible.name: i18nc("@info accessible name of a snapshot's marker", "Snapshot taken %1", marker.timeText)
                    }
                }

                TapHandler {
                    id: tap

                    onTapped: {
                        view.forceActiveFocus();
                        const row = view.axis.rowAt(tap.point.position.x, Kirigami.Units.gridUnit / 2);
                        if (row >= 0) {
                            view.picked(row, (tap.point.modifiers & Qt.ControlModifier) !== 0);
                        }
                    }
                }
                WheelHandler {
                    acceptedModifiers: Qt.ControlModifier
                    onWheel: event => view.axis.zoomAt(Math.pow(2, event.angleDelta.y / 480), event.x)
                }
                WheelHandler {
                    acceptedModifiers: Qt.NoModifier
                    onWheel: event => view.axis.pan(-(event.angleDelta.x !== 0 ? event.angleDelta.x : event.angleDelta.y) / 4)
                }
                PinchHandler {
                    id: pinch

                    target: null
                    onScaleChanged: delta => view.axis.zoomAt(delta, pinch.centroid.position.x)
                }
                DragHandler {
                    id: drag

                    target: null
                    xAxis.enabled: true
                    yAxis.enabled: false
                    property real lastX: 0
                    onActiveChanged: drag.lastX = 0
                    onTranslationChanged: {
                        view.axis.pan(drag.lastX - drag.translation.x);
                        drag.lastX = drag.translation.x;
                    }
                }
            }
        }
        ColumnLayout {
            id: zoomButtons

            spacing: 0
            Layout.fillHeight: true

            QQC2.ToolButton {
                objectName: "zoomInButton"
                icon.name: "zoom-in"
                text: i18nc("@action:button", "Zoom In")
                display: QQC2.AbstractButton.IconOnly
                enabled: view.axis.canZoomIn
                QQC2.ToolTip.text: i18nc("@info:tooltip", "Zoom in (+, Ctrl+wheel)")
                QQC2.ToolTip.visible: hovered
                onClicked: view.axis.zoom(2)
            }
            QQC2.ToolButton {
                objectName: "zoomOutButton"
                icon.name: "zoom-out"
                text: i18nc("@action:button", "Zoom Out")
                display: QQC2.AbstractButton.IconOnly
                enabled: view.axis.canZoomOut
                QQC2.ToolTip.text: i18nc("@info:tooltip", "Zoom out (-, Ctrl+wheel)")
                QQC2.ToolTip.visible: hovered
                onClicked: view.axis.zoom(0.5)
            }
            QQC2.ToolButton {
                icon.name: "zoom-fit-best"
                text: i18nc("@action:button", "Show All")
                display: QQC2.AbstractButton.IconOnly
                QQC2.ToolTip.text: i18nc("@info:tooltip, %1 a span like 3 hours", "Showing %1; show all snapshots (0)", view.axis.spanText)
                QQC2.ToolTip.visible: hovered
                onClicked: view.axis.fit()
            }
        }
    }
}
