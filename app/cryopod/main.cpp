// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod: the Kirigami GUI. Wiring only: application set-up (application.h),
// command line, then the Main window of the io.github.cryopod QML module.

#include "application.h"
#include "backgroundrunner.h"

#include <KAboutData>

#include <QApplication>
#include <QCommandLineParser>
#include <QQmlApplicationEngine>

#include <cstdio>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    CryopodApp::initialize(app);

    QCommandLineParser parser;
    KAboutData about = KAboutData::applicationData();
    about.setupCommandLine(&parser);
    const QCommandLineOption background(QStringLiteral("background"), QStringLiteral("Run the snapshot schedules with a tray icon, no window."));
    parser.addOption(background);
    parser.process(app);
    about.processCommandLine(&parser);

    if (parser.isSet(background)) {
        QApplication::setQuitOnLastWindowClosed(false);
        BackgroundRunner runner;
        QString error;
        if (!runner.start(&error)) {
            std::fprintf(stderr, "cryopod --background: %s\n", qPrintable(error));
            return 1;
        }
        return app.exec();
    }

    QQmlApplicationEngine engine;
    CryopodApp::setupEngine(engine);
    QObject::connect(
        &engine,
        &QQmlApplicationEngine::objectCreationFailed,
        &app,
        [] {
            QCoreApplication::exit(1);
        },
        Qt::QueuedConnection);
    engine.loadFromModule(CryopodApp::qmlModule, CryopodApp::mainComponent);
    if (engine.rootObjects().isEmpty()) {
        return 1;
    }
    return app.exec();
}
