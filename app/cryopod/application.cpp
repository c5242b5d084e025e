// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "application.h"

#include "backendtranslator.h"

#include <KAboutData>
#include <KLocalizedQmlContext>
#include <KLocalizedString>

#include <QApplication>
#include <QIcon>
#include <QQmlEngine>
#include <QQuickStyle>
#include <QtQml/QQmlExtensionPlugin>

// The io.github.cryopod module is linked in statically.
Q_IMPORT_QML_PLUGIN(io_github_cryopodPlugin)

void CryopodApp::initialize(QApplication &app)
{
    // KDE's look wherever Cryopod runs, as KDE applications do.
    QApplication::setStyle(QStringLiteral("breeze"));
    if (qEnvironmentVariableIsEmpty("QT_QUICK_CONTROLS_STYLE")) {
        QQuickStyle::setStyle(QStringLiteral("org.kde.desktop"));
    }
    // Breeze icons outside a desktop that names an icon theme.
    if (QIcon::themeName().isEmpty() || QIcon::themeName() == QLatin1String("hicolor")) {
        QIcon::setThemeName(QStringLiteral("breeze"));
    }
    QIcon::setFallbackThemeName(QStringLiteral("breeze"));
    // Cryopod's own action icons (icons/actions, installed to hicolor) also
    // when running from the build tree.
    QIcon::setFallbackSearchPaths(QIcon::fallbackSearchPaths() << QStringLiteral(":/icons/actions"));

    KLocalizedString::setApplicationDomain("cryopod");
    // The backend's tr() strings, from the same catalog.
    QCoreApplication::installTranslator(new BackendTranslator(&app));
    KAboutData about(QStringLiteral("cryopod"),
                     i18nc("@title application name", "Cryopod"),
                     QStringLiteral(CRYOPOD_VERSION_STRING),
                     i18nc("@info application description", "Snapshot running programs and bring them back exactly where they were"),
                     KAboutLicense::GPL_V2,
                     i18nc("@info copyright", "© 2026 Cryopod developers"));
    about.setLicense(KAboutLicense::GPL_V2, KAboutLicense::OrLaterVersions);
    about.setDesktopFileName(QStringLiteral("io.github.cryopod.Cryopod"));
    about.setOrganizationDomain("cryopod.github.io");
    KAboutData::setApplicationData(about);
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("io.github.cryopod.Cryopod"), QIcon(QStringLiteral(":/icons/io.github.cryopod.Cryopod.svg"))));
}

void CryopodApp::setupEngine(QQmlEngine &engine)
{
    KLocalization::setupLocalizedContext(&engine);
}
