// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod-helper: bus-activated on the system bus, exits when idle.

#include "authorizer.h"
#include "canceltoken.h"
#include "helperservice.h"
#include "terminationsignals.h"

#include <QCoreApplication>
#include <QDBusConnection>
#include <QDBusError>
#include <QDBusMetaType>

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

    // Blocked reads and writes on callers' fds are interrupted for Cancel;
    // writes to a vanished reader fail with EPIPE.
    installInterruptHandler();

    QCoreApplication app(argc, argv);
    qDBusRegisterMetaType<QList<QVariantMap>>();
    QDBusConnection bus = QDBusConnection::systemBus();
    if (!bus.isConnected()) {
        std::fprintf(stderr, "cryopod-helper: cannot connect to the system bus: %s\n", qPrintable(bus.lastError().message()));
        return 1;
    }
    const int idleMs = qEnvironmentVariableIntValue("CRYOPOD_HELPER_IDLE_MS");
    HelperService service(bus, idleMs > 0 ? idleMs : kIdleTimeoutMs);
    QObject::connect(&service, &HelperService::idleTimeout, &app, &QCoreApplication::quit);
    // A stop request lets the jobs end cleanly first (terminationsignals.h).
    TerminationSignals termination;
    QObject::connect(&termination, &TerminationSignals::received, &service, &HelperService::stop);
    QObject::connect(&service, &HelperService::stopped, &app, &QCoreApplication::quit);
    if (!bus.registerObject(QLatin1String(kObjectPath), &service, QDBusConnection::ExportAllSlots)) {
        std::fprintf(stderr, "cryopod-helper: cannot register %s\n", kObjectPath);
        return 1;
    }
    if (!bus.registerService(QLatin1String(kServiceName))) {
        std::fprintf(stderr, "cryopod-helper: cannot own %s: %s\n", kServiceName, qPrintable(bus.lastError().message()));
        return 1;
    }
    // polkit-qt's Authority is made here, on the main thread (no call is
    // handled before exec()); the checks themselves run on the workers.
    Authorizer::initialize();
    return app.exec();
}
