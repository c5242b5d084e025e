// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod-helper: bus-activated on the system bus, exits when idle.

#include "helperservice.h"

#include <QCoreApplication>
#include <QDBusConnection>
#include <QDBusError>

#include <cstdio>
#include <cstring>

namespace
{
constexpr auto kServiceName = "io.github.cryopod.Helper";
constexpr auto kObjectPath = "/io/github/cryopod/Helper";
constexpr int kIdleTimeoutMs = 60 * 1000;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--version") == 0) {
            std::printf("cryopod-helper %s\n", CRYOPOD_VERSION_STRING);
            return 0;
        }
        std::fprintf(stderr, "usage: cryopod-helper [--version]\n(started by the D-Bus system bus; not meant to be run by hand)\n");
        return 2;
    }

    QCoreApplication app(argc, argv);
    QDBusConnection bus = QDBusConnection::systemBus();
    if (!bus.isConnected()) {
        std::fprintf(stderr, "cryopod-helper: cannot connect to the system bus: %s\n", qPrintable(bus.lastError().message()));
        return 1;
    }
    HelperService service(qEnvironmentVariableIntValue("CRYOPOD_HELPER_IDLE_MS") > 0 ? qEnvironmentVariableIntValue("CRYOPOD_HELPER_IDLE_MS")
                                                                                      : kIdleTimeoutMs);
    QObject::connect(&service, &HelperService::idleTimeout, &app, &QCoreApplication::quit);
    if (!bus.registerObject(QLatin1String(kObjectPath), &service, QDBusConnection::ExportAllSlots | QDBusConnection::ExportAllSignals)) {
        std::fprintf(stderr, "cryopod-helper: cannot register %s\n", kObjectPath);
        return 1;
    }
    if (!bus.registerService(QLatin1String(kServiceName))) {
        std::fprintf(stderr, "cryopod-helper: cannot own %s: %s\n", kServiceName, qPrintable(bus.lastError().message()));
        return 1;
    }
    return app.exec();
}
