// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "backendtranslator.h"

#include <KLocalizedString>

#include <QRegularExpression>
#include <QSet>

BackendTranslator::BackendTranslator(QObject *parent)
    : QTranslator(parent)
{
}

bool BackendTranslator::isBackendContext(const char *context)
{
    // The classes of backend/ that call tr() (Messages.sh extracts backend/*.cpp).
    static const QSet<QByteArray> contexts = {
        "ProcessModel",         "ReportCache",       "ReportModel",  "ScheduleModel", "SnapshotActions",
        "SnapshotDetailsModel", "SnapshotDiffModel", "TimelineAxis", "TimelineModel",
    };
    return context && contexts.contains(QByteArray(context));
}

QString BackendTranslator::translate(const char *context, const char *sourceText, const char *disambiguation, int n) const
{
    Q_UNUSED(n); // the catalog has one form; Qt puts the number for %n
    if (!isBackendContext(context) || !sourceText || !*sourceText) {
        return {};
    }
    KLocalizedString text = disambiguation && *disambiguation ? ki18ndc("cryopod", disambiguation, sourceText) : ki18nd("cryopod", sourceText);
    // Each %k stands for itself: tr()'s arg() fills them in afterwards.
    static const QRegularExpression placeholder(QStringLiteral("%([1-9])"));
    int highest = 0;
    for (const QRegularExpressionMatch &match : placeholder.globalMatch(QString::fromUtf8(sourceText))) {
        highest = std::max(highest, match.captured(1).toInt());
    }
    for (int k = 1; k <= highest; ++k) {
        text = text.subs(QStringLiteral("%%1").arg(k));
    }
    const QString translated = text.toString();
    return translated == QString::fromUtf8(sourceText) ? QString() : translated;
}

bool BackendTranslator::isEmpty() const
{
    return false;
}
