pragma ComponentBehavior: Bound
// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

import QtQuick
import org.kde.kirigami as Kirigami

// The icon of a checkpointability verdict ("ok", "caveat", "refused",
// "pending", "unknown").
Kirigami.Icon {
    id: icon

    required property string verdict

    implicitWidth: Kirigami.Units.iconSizes.small
    implicitHeight: Kirigami.Units.iconSizes.small
    source: {
        switch (icon.verdict) {
        case "ok":
            return "emblem-ok-symbolic";
        case "caveat":
            return "emblem-warning";
        case "refused":
            return "emblem-error";
        case "unknown":
            return "emblem-question";
        }
        return "";
    }
}
