// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "authorizer.h"

#include <PolkitQt1/Authority>
#include <PolkitQt1/Subject>

#include <mutex>

namespace Authorizer
{

namespace
{
// polkit-qt keeps a sticky error state in its singleton; it is read and
// cleared under this lock (the checks themselves run concurrently).
std::mutex s_errorMutex;
}

QString actionId(Action action)
{
    switch (action) {
    case Action::Report:
        return QStringLiteral("io.github.cryopod.report");
    case Action::ReportOther:
        return QStringLiteral("io.github.cryopod.report-other");
    case Action::Freeze:
        return QStringLiteral("io.github.cryopod.freeze");
    case Action::FreezeOther:
        return QStringLiteral("io.github.cryopod.freeze-other");
    case Action::Checkpoint:
        return QStringLiteral("io.github.cryopod.checkpoint");
    case Action::CheckpointOther:
        return QStringLiteral("io.github.cryopod.checkpoint-other");
    case Action::Restore:
        return QStringLiteral("io.github.cryopod.restore");
    case Action::RestoreOther:
        return QStringLiteral("io.github.cryopod.restore-other");
    case Action::ListProcesses:
        return QStringLiteral("io.github.cryopod.list-processes");
    }
    return {};
}

Action adminAction(Action action)
{
    switch (action) {
    case Action::Report:
    case Action::ReportOther:
        return Action::ReportOther;
    case Action::Freeze:
    case Action::FreezeOther:
        return Action::FreezeOther;
    case Action::Checkpoint:
    case Action::CheckpointOther:
        return Action::CheckpointOther;
    case Action::Restore:
    case Action::RestoreOther:
        return Action::RestoreOther;
    case Action::ListProcesses:
        return Action::ListProcesses;
    }
    return action;
}

void initialize()
{
    PolkitQt1::Authority::instance();
}

HelperResult<void>
authorize(const QString &busName, Action action, const QString &what, const QStringList &reasons, const QMap<QString, QString> &details, bool interactive)
{
    PolkitQt1::Authority *authority = PolkitQt1::Authority::instance();
    {
        std::lock_guard lock(s_errorMutex);
        if (authority->hasError()) {
            // A past failure (polkitd restarted, say) must not refuse everyone
            // from now on: polkit-qt returns Unknown while its error is set.
            authority->clearError();
        }
    }
    const PolkitQt1::SystemBusNameSubject subject(busName);
    const PolkitQt1::Authority::Result result = authority->checkAuthorizationSyncWithDetails(
        actionId(action), subject, interactive ? PolkitQt1::Authority::AllowUserInteraction : PolkitQt1::Authority::None, details);
    const QString id = actionId(action);
    const QString because = reasons.isEmpty() ? QString() : QStringLiteral(": ") + reasons.join(QStringLiteral("; "));
    switch (result) {
    case PolkitQt1::Authority::Yes:
        return {};
    case PolkitQt1::Authority::Challenge:
        return helperError(HelperErrorName::NotAuthorized,
                           QStringLiteral("not authorized to %1 without authentication (polkit action %2; %3)%4")
                               .arg(what,
                                    id,
                                    interactive ? QStringLiteral("no authentication agent answered") : QStringLiteral("the call did not allow interactive authorization"),
                                    because));
    case PolkitQt1::Authority::No:
        return helperError(HelperErrorName::NotAuthorized, QStringLiteral("not authorized to %1 (polkit action %2)%3").arg(what, id, because));
    case PolkitQt1::Authority::Unknown:
        break;
    }
    QString detail;
    {
        std::lock_guard lock(s_errorMutex);
        detail = authority->errorDetails();
        authority->clearError();
    }
    return helperError(HelperErrorName::NotAuthorized,
                       QStringLiteral("not authorized to %1: polkit could not decide (action %2): %3").arg(what, id, detail.isEmpty() ? QStringLiteral("no answer") : detail));
}

} // namespace Authorizer
