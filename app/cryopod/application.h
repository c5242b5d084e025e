// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What the cryopod executable does before it shows its window, shared with
// the GUI tests so that they load the window exactly as users see it.
#pragma once

class QApplication;
class QQmlEngine;

namespace CryopodApp
{
// After the QApplication exists: the KDE look (Breeze style and icons,
// qqc2-desktop-style) unless the user chose otherwise, translations and the
// application's metadata (KAboutData).
void initialize(QApplication &app);

// Translations for QML (i18n() and friends).
void setupEngine(QQmlEngine &engine);

// The QML module and component of the main window.
inline constexpr const char *qmlModule = "io.github.cryopod";
inline constexpr const char *mainComponent = "Main";
}
