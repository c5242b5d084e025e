// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl schedule run: the due schedules, once, or for a while
// (--for SECONDS, on the same timer-driven ScheduleService as
// `cryopod --background`). Snapshots go through cryopod-helper, as with
// `cryopodctl snapshot`; --direct runs the engine in this process (root).

#include "cliargs.h"
#include "commands.h"

#include "directengine.h"
#include "helperclient.h"
#include "schedulehelper.h"
#include "schedulerunner.h"
#include "snapshotstore.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QTimer>

#include <ctime>

using namespace cryopod;
using namespace cryopod::schedule;
using namespace Cryopodctl;

namespace
{
const char runUsage[] = "usage: cryopodctl schedule run [--for SECONDS] [--direct] [--store DIR]\n"
                        "\n"
                        "Runs the schedules that are due now (each once, also after missed runs),\n"
                        "applies their retention and records the runs; with --for, keeps running\n"
                        "them as they come due for SECONDS. --direct: the engine in this process\n"
                        "(root only) instead of cryopod-helper.\n";

void report(const ScheduleRun &run)
{
    QString line = QStringLiteral("schedule %1: %2").arg(run.scheduleId).arg(QString::fromLatin1(outcomeName(run.outcome)));
    if (run.outcome == ScheduleRun::Outcome::Taken) {
        line += QStringLiteral(" snapshot %1 of pid %2, retention removed %3").arg(run.snapshotId).arg(run.pid).arg(run.removed);
    }
    if (!run.message.empty()) {
        line += QStringLiteral(": ") + QString::fromStdString(run.message);
    }
    print(line + QLatin1Char('\n'));
    std::fflush(stdout);
}
} // namespace

int Cryopodctl::runScheduleRun(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store"), QStringLiteral("--for")}, {QStringLiteral("--direct")});
    if (args.help) {
        std::fputs(runUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || !args.positional.isEmpty()) {
        return usageError("schedule run", args.error.isEmpty() ? QStringLiteral("unexpected '%1'").arg(args.positional.value(0)) : args.error, runUsage);
    }
    double seconds = 0;
    if (const auto v = args.value("--for")) {
        bool ok = false;
        seconds = v->toDouble(&ok);
        if (!ok || seconds <= 0) {
            return usageError("schedule run", QStringLiteral("--for needs a number of seconds"), runUsage);
        }
    }
    if (args.has("--direct") && !store::DirectEngine::available()) {
        return failure("schedule run", store::DirectEngine::unavailableReason());
    }
    const auto dir = args.value("--store");
    auto store = store::SnapshotStore::open(dir ? dir->toStdString() : store::SnapshotStore::defaultLocation());
    if (!store) {
        return failure("schedule run", store.error().describe());
    }
    auto lock = lockRunner(**store);
    if (!lock) {
        return failure("schedule run", lock.error().message);
    }
    std::unique_ptr<HelperClient> client;
    ProducerTaker::Factory factory;
    if (args.has("--direct")) {
        factory = [](const Schedule &schedule) -> std::unique_ptr<store::ImageProducer> {
            if (schedule.mode == SnapshotMode::Freeze) {
                return nullptr; // the cgroup freezer is the helper's
            }
            return std::make_unique<store::DirectEngine::Producer>();
        };
    } else {
        client = std::make_unique<HelperClient>();
        factory = ScheduleHelper::producerFactory(*client);
    }
    ProducerTaker taker(factory);
    if (seconds == 0) {
        ScheduleRunner runner(**store, taker, realTimeNs);
        auto runs = runner.runDue();
        if (!runs) {
            return failure("schedule run", runs.error().describe());
        }
        for (const ScheduleRun &run : *runs) {
            report(run);
        }
        if (runs->empty()) {
            print(QStringLiteral("nothing is due\n"));
        }
        return 0;
    }
    ScheduleService service(**store, taker, realTimeNs);
    int errors = 0;
    QObject::connect(&service, &ScheduleService::ran, &service, &report);
    QObject::connect(&service, &ScheduleService::error, &service, [&errors](const QString &message) {
        print(QStringLiteral("cryopodctl: schedule run: %1\n").arg(message), stderr);
        ++errors;
    });
    QTimer::singleShot(int(seconds * 1000), QCoreApplication::instance(), &QCoreApplication::quit);
    service.start();
    QCoreApplication::exec();
    return errors ? 1 : 0;
}
