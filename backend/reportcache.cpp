// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "reportcache.h"

#include "backendlogging.h"
#include "helperclient.h"

#include <QDateTime>

namespace
{
// Reports are cheap for the helper but each is a polkit check: a few at a time.
constexpr int kMaxInFlight = 2;
// A queue longer than a screenful of rows is of rows no longer on screen.
constexpr int kMaxQueued = 200;
// After the helper was not found, wait this long before asking again.
constexpr qint64 kUnavailableRetryMs = 30 * 1000;

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

bool helperMissing(const QString &errorName)
{
    // The bus has no such service and cannot start it, or there is no bus.
    return errorName == QLatin1String("org.freedesktop.DBus.Error.ServiceUnknown") || errorName == QLatin1String("org.freedesktop.DBus.Error.NoServer") ||
        errorName == QLatin1String("org.freedesktop.DBus.Error.Disconnected") || errorName == QLatin1String("org.freedesktop.DBus.Error.Spawn.ExecFailed") ||
        errorName == QLatin1String("org.freedesktop.DBus.Error.Spawn.ChildExited");
}
} // namespace

ReportCache::ReportCache(QObject *parent)
    : QObject(parent)
{
}

ReportCache::~ReportCache() = default;

ReportCache::Entry ReportCache::entry(const Key &key) const
{
    return m_entries.value(key);
}

void ReportCache::forget(const Key &key)
{
    if (!m_asked.contains(key)) {
        m_entries.remove(key);
    }
}

int ReportCache::pendingCount() const
{
    return m_inFlight + int(m_queue.size());
}

void ReportCache::request(const Key &key)
{
    if (m_asked.contains(key)) {
        return;
    }
    const Entry previous = m_entries.value(key);
    if (previous.verdict != Verdict::None && nowMs() - previous.answeredAtMs < kMaxAgeMs) {
        return;
    }
    // No signal from here: models call this from data().
    if (nowMs() < m_unavailableUntilMs) {
        m_entries.insert(key, Entry {Verdict::Unknown, m_unavailableReason, nowMs()});
        return;
    }
    // A stale verdict stays shown while it is asked for again.
    if (previous.verdict == Verdict::None) {
        m_entries.insert(key, Entry {Verdict::Pending, QString(), 0});
    }
    // Newest first: the rows just scrolled to.
    m_asked.insert(key);
    m_queue.prepend(key);
    while (m_queue.size() > kMaxQueued) {
        const Key dropped = m_queue.takeLast();
        m_asked.remove(dropped);
        if (m_entries.value(dropped).verdict == Verdict::Pending) {
            m_entries.remove(dropped);
        }
    }
    pump();
}

void ReportCache::pump()
{
    while (m_inFlight < kMaxInFlight && !m_queue.isEmpty()) {
        const Key key = m_queue.takeFirst();
        if (!m_client) {
            m_client = new HelperClient(QDBusConnection::systemBus(), this);
            // A badge never opens an authentication dialog; the report
            // dialog (ReportModel) may.
            m_client->setInteractive(false);
            m_client->setCallTimeout(60 * 1000);
        }
        ++m_inFlight;
        HelperCall *call = m_client->report(int(key.pid));
        connect(call, &HelperCall::finished, this, [this, call, key](bool ok, const QString &errorName, const QString &message, const QVariantMap &result) {
            call->deleteLater();
            --m_inFlight;
            m_asked.remove(key);
            answered(key, ok, errorName, message, result);
            pump();
        });
    }
}

void ReportCache::answered(const Key &key, bool ok, const QString &errorName, const QString &message, const QVariantMap &report)
{
    Entry entry;
    entry.answeredAtMs = nowMs();
    if (ok) {
        entry.verdict = verdictFromName(report.value(QStringLiteral("verdict")).toString());
        entry.summary = summaryOf(report);
    } else if (errorName == QLatin1String("io.github.cryopod.Error.Unsupported")) {
        // pid 1, a kernel thread, the helper itself: what Cryopod cannot do.
        entry.verdict = Verdict::Refused;
        entry.summary = message;
    } else if (errorName == QLatin1String("io.github.cryopod.Error.NoSuchProcess")) {
        entry.verdict = Verdict::Unknown;
        entry.summary = message;
    } else {
        entry.verdict = Verdict::Unknown;
        entry.summary = message;
        if (helperMissing(errorName)) {
            m_unavailableUntilMs = nowMs() + kUnavailableRetryMs;
            m_unavailableReason = tr("cryopod-helper is not available: %1").arg(message);
            entry.summary = m_unavailableReason;
            qCInfo(lcProcessModel) << "no checkpointability reports:" << errorName << message;
        }
    }
    m_entries.insert(key, entry);
    Q_EMIT updated(key);
}

QString ReportCache::verdictName(Verdict verdict)
{
    switch (verdict) {
    case Verdict::None:
        return QString();
    case Verdict::Pending:
        return QStringLiteral("pending");
    case Verdict::Ok:
        return QStringLiteral("ok");
    case Verdict::Caveat:
        return QStringLiteral("caveat");
    case Verdict::Refused:
        return QStringLiteral("refused");
    case Verdict::Unknown:
        return QStringLiteral("unknown");
    }
    return QString();
}

ReportCache::Verdict ReportCache::verdictFromName(const QString &name)
{
    if (name == QLatin1String("ok")) {
        return Verdict::Ok;
    }
    if (name == QLatin1String("caveat")) {
        return Verdict::Caveat;
    }
    if (name == QLatin1String("refused")) {
        return Verdict::Refused;
    }
    return Verdict::Unknown;
}

QString ReportCache::summaryOf(const QVariantMap &report)
{
    const QStringList lines = report.value(QStringLiteral("summary")).toString().split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    if (lines.isEmpty()) {
        return QString();
    }
    if (lines.size() == 1) {
        return lines.constFirst();
    }
    return tr("%1 (and %n more)", nullptr, int(lines.size() - 1)).arg(lines.constFirst());
}
