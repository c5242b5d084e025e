// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helperjob.h"

#include <QDBusMessage>

namespace
{
constexpr auto kJobInterface = "io.github.cryopod.Job1";
}

HelperJob::HelperJob(quint64 id, const QString &owner, const QString &operation, const QDBusConnection &bus, QObject *parent)
    : QObject(parent)
    , m_id(id)
    , m_owner(owner)
    , m_operation(operation)
    , m_bus(bus)
{
}

QString HelperJob::pathFor(quint64 id)
{
    return QStringLiteral("/io/github/cryopod/Helper/job/%1").arg(id);
}

QString HelperJob::path() const
{
    return pathFor(m_id);
}

void HelperJob::sendProgress(const QString &phase, quint64 doneBytes, quint64 totalBytes)
{
    if (m_finished.load()) {
        return;
    }
    QDBusMessage signal = QDBusMessage::createTargetedSignal(m_owner, path(), QLatin1String(kJobInterface), QStringLiteral("Progress"));
    signal << phase << QVariant::fromValue(qulonglong(doneBytes)) << QVariant::fromValue(qulonglong(totalBytes));
    m_bus.send(signal);
}

void HelperJob::sendFinished(const HelperResult<QVariantMap> &result)
{
    if (m_finished.exchange(true)) {
        return;
    }
    QDBusMessage signal = QDBusMessage::createTargetedSignal(m_owner, path(), QLatin1String(kJobInterface), QStringLiteral("Finished"));
    if (result) {
        signal << true << QString() << QString() << *result;
    } else {
        signal << false << result.error().name << result.error().message << QVariantMap();
    }
    m_bus.send(signal);
}

void HelperJob::cancel()
{
    m_token.cancel();
}

void HelperJob::Cancel()
{
    if (calledFromDBus() && message().service() != m_owner) {
        sendErrorReply(QLatin1String(HelperErrorName::NotAuthorized), QStringLiteral("only the caller that started job %1 may cancel it").arg(m_id));
        return;
    }
    cancel();
}
