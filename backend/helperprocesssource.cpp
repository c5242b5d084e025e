// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helperprocesssource.h"

#include "backendlogging.h"
#include "helperclient.h"
#include "processsnapshotcodec.h"

#include <QDBusArgument>
#include <QDBusMessage>
#include <QElapsedTimer>
#include <QFileInfo>

#include <ctime>

HelperProcessSource::HelperProcessSource(const QDBusConnection &bus, int timeoutMs)
    : m_bus(bus)
    , m_timeoutMs(timeoutMs)
{
}

QString HelperProcessSource::name() const
{
    return QStringLiteral("helper");
}

ProcessSnapshot HelperProcessSource::scan()
{
    ProcessSnapshot snapshot;
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    snapshot.monotonicNs = qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    QElapsedTimer timer;
    timer.start();
    QDBusMessage call = QDBusMessage::createMethodCall(QLatin1String(HelperClient::kService),
                                                       QLatin1String(HelperClient::kPath),
                                                       QLatin1String(HelperClient::kInterface),
                                                       QStringLiteral("ListProcesses"));
    const QDBusMessage reply = m_bus.call(call, QDBus::Block, m_timeoutMs);
    if (reply.type() != QDBusMessage::ReplyMessage) {
        snapshot.error = QStringLiteral("the Cryopod helper did not list the processes: %1 (%2)").arg(reply.errorMessage(), reply.errorName());
        qCWarning(lcProc) << snapshot.error;
        return snapshot;
    }
    QVariantMap map;
    const QVariantList args = reply.arguments();
    if (args.size() == 1 && args.first().metaType() == QMetaType::fromType<QDBusArgument>()) {
        map = qdbus_cast<QVariantMap>(args.first().value<QDBusArgument>());
    } else if (args.size() == 1) {
        map = args.first().toMap();
    }
    QString error;
    auto decoded = ProcessSnapshotCodec::decode(map, &error);
    if (!decoded) {
        snapshot.error = QStringLiteral("the Cryopod helper's process list is malformed: %1").arg(error);
        qCWarning(lcProc) << snapshot.error;
        return snapshot;
    }
    decoded->monotonicNs = snapshot.monotonicNs;
    qCDebug(lcProc) << "helper listed" << decoded->processes.size() << "processes in" << timer.nsecsElapsed() / 1000 << "us";
    return std::move(*decoded);
}

std::shared_ptr<ProcessSource> defaultProcessSource()
{
    const QByteArray forced = qgetenv("CRYOPOD_PROCESS_SOURCE");
    if (forced == "helper") {
        return std::make_shared<HelperProcessSource>();
    }
    if (forced != "procfs" && QFileInfo::exists(QStringLiteral("/.flatpak-info"))) {
        return std::make_shared<HelperProcessSource>();
    }
    return std::make_shared<ProcfsProcessSource>();
}
