// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helperclient.h"

#include <QDBusArgument>
#include <QDBusMessage>
#include <QDBusMetaType>
#include <QDBusObjectPath>
#include <QDBusPendingCallWatcher>
#include <QDBusUnixFileDescriptor>
#include <QEventLoop>
#include <QTimer>

namespace
{
constexpr int kMaxEarlyPaths = 256;
constexpr int kMaxEarlyPerPath = 64;

QVariantMap toMap(const QVariant &value)
{
    if (value.canConvert<QDBusArgument>()) {
        return qdbus_cast<QVariantMap>(value.value<QDBusArgument>());
    }
    return value.toMap();
}
}

// ---- HelperCall ---------------------------------------------------------------

HelperCall::HelperCall(HelperClient *client)
    : QObject(client)
    , m_client(client)
{
}

void HelperCall::cancel()
{
    m_cancelRequested = true;
    if (!m_jobPath.isEmpty() && !m_finished && m_client) {
        m_client->sendCancel(m_jobPath);
    }
}

bool HelperCall::waitForFinished(int timeoutMs)
{
    if (m_finished) {
        return true;
    }
    QEventLoop loop;
    QTimer timer;
    timer.setSingleShot(true);
    connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
    connect(this, &HelperCall::finished, &loop, &QEventLoop::quit);
    timer.start(timeoutMs);
    loop.exec();
    return m_finished;
}

void HelperCall::finish(bool ok, const QString &errorName, const QString &message, const QVariantMap &result)
{
    if (m_finished) {
        return;
    }
    m_finished = true;
    m_ok = ok;
    m_errorName = errorName;
    m_errorMessage = message;
    m_result = result;
    Q_EMIT finished(ok, errorName, message, result);
}

// ---- HelperClient -------------------------------------------------------------

HelperClient::HelperClient(const QDBusConnection &bus, QObject *parent)
    : QObject(parent)
    , m_bus(bus)
{
    qDBusRegisterMetaType<QList<QVariantMap>>();
    // The helper's job signals are sent to us alone; listen for all of its
    // jobs (any path) before the first call, so none is missed.
    m_bus.connect(QLatin1String(kService), QString(), QLatin1String(kJobInterface), QStringLiteral("Progress"), this, SLOT(onJobProgress(QDBusMessage)));
    m_bus.connect(QLatin1String(kService), QString(), QLatin1String(kJobInterface), QStringLiteral("Finished"), this, SLOT(onJobFinished(QDBusMessage)));
}

HelperClient::~HelperClient()
{
    m_bus.disconnect(QLatin1String(kService), QString(), QLatin1String(kJobInterface), QStringLiteral("Progress"), this, SLOT(onJobProgress(QDBusMessage)));
    m_bus.disconnect(QLatin1String(kService), QString(), QLatin1String(kJobInterface), QStringLiteral("Finished"), this, SLOT(onJobFinished(QDBusMessage)));
}

void HelperClient::setInteractive(bool interactive)
{
    m_interactive = interactive;
}

void HelperClient::setCallTimeout(int ms)
{
    m_timeoutMs = ms;
}

HelperCall *HelperClient::version()
{
    return call(QStringLiteral("Version"), {}, false);
}

HelperCall *HelperClient::report(int pid)
{
    return call(QStringLiteral("Report"), {pid}, false);
}

HelperCall *HelperClient::freeze(int pid)
{
    return call(QStringLiteral("Freeze"), {pid}, false);
}

HelperCall *HelperClient::thaw(int pid)
{
    return call(QStringLiteral("Thaw"), {pid}, false);
}

HelperCall *HelperClient::checkpoint(int pid, const QVariantMap &options, int fd)
{
    return call(QStringLiteral("Checkpoint"), {pid, options, QVariant::fromValue(QDBusUnixFileDescriptor(fd))}, true);
}

HelperCall *HelperClient::restore(int fd, const QVariantMap &options)
{
    return call(QStringLiteral("Restore"), {QVariant::fromValue(QDBusUnixFileDescriptor(fd)), options}, true);
}

HelperCall *HelperClient::call(const QString &method, const QVariantList &arguments, bool expectsJob)
{
    auto *c = new HelperCall(this);
    c->m_expectsJob = expectsJob;
    QDBusMessage message = QDBusMessage::createMethodCall(QLatin1String(kService), QLatin1String(kPath), QLatin1String(kInterface), method);
    message.setArguments(arguments);
    message.setInteractiveAuthorizationAllowed(m_interactive);
    if (m_blockingCalls) {
        handleReply(c, method, m_bus.call(message, QDBus::Block, m_timeoutMs));
        return c;
    }
    auto *watcher = new QDBusPendingCallWatcher(m_bus.asyncCall(message, m_timeoutMs), c);
    connect(watcher, &QDBusPendingCallWatcher::finished, c, [this, c, watcher, method] {
        watcher->deleteLater();
        handleReply(c, method, watcher->reply());
    });
    return c;
}

void HelperClient::setBlockingCalls(bool blocking)
{
    m_blockingCalls = blocking;
}

void HelperClient::handleReply(HelperCall *c, const QString &method, const QDBusMessage &reply)
{
    if (reply.type() != QDBusMessage::ReplyMessage) {
        c->finish(false, reply.errorName(), reply.errorMessage(), {});
        return;
    }
    const QVariant first = reply.arguments().value(0);
    if (!c->m_expectsJob) {
        QVariantMap result;
        if (method == QLatin1String("Version")) {
            result.insert(QStringLiteral("version"), first.toString());
        } else if (first.isValid()) {
            result = toMap(first);
        }
        c->finish(true, {}, {}, result);
        return;
    }
    const QString path = first.canConvert<QDBusArgument>() ? qdbus_cast<QDBusObjectPath>(first.value<QDBusArgument>()).path()
                                                            : first.value<QDBusObjectPath>().path();
    if (path.isEmpty()) {
        c->finish(false, QStringLiteral("io.github.cryopod.Error.Failed"), QStringLiteral("the helper returned no job"), {});
        return;
    }
    jobPathKnown(c, path);
}

void HelperClient::jobPathKnown(HelperCall *call, const QString &path)
{
    call->m_jobPath = path;
    m_jobs.insert(path, call);
    Q_EMIT call->jobStarted(path);
    const QList<QDBusMessage> early = m_early.take(path);
    for (const QDBusMessage &message : early) {
        if (message.member() == QLatin1String("Progress")) {
            onJobProgress(message);
        } else {
            onJobFinished(message);
        }
    }
    if (call->m_cancelRequested && !call->m_finished) {
        sendCancel(path);
    }
}

void HelperClient::sendCancel(const QString &path)
{
    QDBusMessage message = QDBusMessage::createMethodCall(QLatin1String(kService), path, QLatin1String(kJobInterface), QStringLiteral("Cancel"));
    m_bus.asyncCall(message, 30000); // the answer does not matter: Finished tells
}

void HelperClient::onJobProgress(const QDBusMessage &message)
{
    const QString path = message.path();
    const QPointer<HelperCall> c = m_jobs.value(path);
    if (!c) {
        if (m_early.size() < kMaxEarlyPaths || m_early.contains(path)) {
            QList<QDBusMessage> &queue = m_early[path];
            if (queue.size() < kMaxEarlyPerPath) {
                queue.append(message);
            }
        }
        return;
    }
    const QVariantList args = message.arguments();
    Q_EMIT c->progress(args.value(0).toString(), args.value(1).toULongLong(), args.value(2).toULongLong());
}

void HelperClient::onJobFinished(const QDBusMessage &message)
{
    const QString path = message.path();
    if (!m_jobs.contains(path)) {
        if (m_early.size() < kMaxEarlyPaths || m_early.contains(path)) {
            m_early[path].append(message);
        }
        return;
    }
    const QPointer<HelperCall> c = m_jobs.take(path);
    if (!c) {
        return;
    }
    const QVariantList args = message.arguments();
    c->finish(args.value(0).toBool(), args.value(1).toString(), args.value(2).toString(), toMap(args.value(3)));
}
