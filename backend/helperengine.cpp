// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helperengine.h"

#include "helperclient.h"

#include <QDBusArgument>
#include <QDBusUnixFileDescriptor>

#include <cerrno>
#include <fcntl.h>

using namespace cryopod;
using namespace cryopod::store;

namespace
{
// Waits for the call's end without a limit (a checkpoint of a large process
// or an authentication dialog takes as long as it takes; the helper ends
// every job, or the bus tells us it went away) and takes its result.
Result<QVariantMap> takeResult(QPointer<HelperCall> &pending, const char *what)
{
    if (!pending) {
        return fail(std::string("the helper was not asked to ") + what);
    }
    while (pending && !pending->isFinished()) {
        pending->waitForFinished(60 * 60 * 1000);
    }
    HelperCall *call = pending;
    pending.clear();
    if (!call) {
        return fail(std::string("the helper's ") + what + " call went away before it finished");
    }
    call->deleteLater();
    if (!call->ok()) {
        return std::unexpected(HelperEngine::callError(*call));
    }
    return call->result();
}

// The method call itself was refused (not authorized, a bad argument, no
// helper): nothing will use the stream. Otherwise the observer learns the job.
Result<void> refusedAtOnce(QPointer<HelperCall> &call, const HelperEngine::JobObserver &observer)
{
    if (call && observer && !call->jobPath().isEmpty()) {
        observer(call->jobPath());
    }
    if (call && call->isFinished() && !call->ok()) {
        const Error error = HelperEngine::callError(*call);
        call->deleteLater();
        call.clear();
        return std::unexpected(error);
    }
    return {};
}

uint64_t u64(const QVariantMap &map, const char *key)
{
    return map.value(QLatin1String(key)).toULongLong();
}
} // namespace

Error HelperEngine::callError(const HelperCall &call)
{
    const QString name = call.errorName();
    std::string message = call.errorMessage().toStdString();
    if (!name.startsWith(QLatin1String("io.github.cryopod."))) {
        message += " (is cryopod-helper installed and its D-Bus service activatable?)";
    }
    message += " [" + name.section(QLatin1Char('.'), -1).toStdString() + "]";
    const int code = name.endsWith(QLatin1String(".Cancelled")) ? ECANCELED : 0;
    return Error{code, "cryopod-helper: " + message};
}

HelperEngine::Producer::Producer(HelperClient &client, std::optional<int> compressionLevel, bool lowPause)
    : m_client(client)
    , m_level(compressionLevel)
    , m_lowPause(lowPause)
{
    m_client.setBlockingCalls(true);
}

Result<void> HelperEngine::Producer::start(pid_t pid, UniqueFd fd)
{
    if (m_call) {
        return fail("the helper is already checkpointing for this producer", EBUSY);
    }
    QVariantMap options;
    options.insert(QStringLiteral("leave-running"), m_leaveRunning);
    options.insert(QStringLiteral("low-pause"), m_lowPause);
    if (m_level) {
        options.insert(QStringLiteral("compression-level"), *m_level);
    } else {
        options.insert(QStringLiteral("compress"), false);
    }
    if (!m_detachedFds.isEmpty()) {
        options.insert(QStringLiteral("detached-fds"), QVariant::fromValue(m_detachedFds));
    }
    // The D-Bus message holds its own copy of the fd; ours closes on return,
    // so the store sees the end of the stream when the helper closes its copy.
    m_call = m_client.checkpoint(int(pid), options, fd.get());
    return refusedAtOnce(m_call, m_observer);
}

Result<ProducerResult> HelperEngine::Producer::finish()
{
    auto r = takeResult(m_call, "checkpoint");
    if (!r) {
        return std::unexpected(r.error());
    }
    return ProducerResult{u64(*r, "pause-ns"), u64(*r, "total-ns"), u64(*r, "image-bytes")};
}

std::vector<HelperEngine::Terminal> HelperEngine::terminalsOf(const QVariantMap &result)
{
    std::vector<Terminal> out;
    for (int i = 1;; ++i) {
        const QString suffix = i == 1 ? QString() : QStringLiteral("-%1").arg(i);
        const QVariant path = result.value(QStringLiteral("pty-path") + suffix);
        if (!path.isValid()) {
            break;
        }
        Terminal t;
        t.path = path.toString().toStdString();
        t.originalPath = result.value(QStringLiteral("pty-original-path") + suffix).toString().toStdString();
        const QVariant master = result.value(QStringLiteral("pty-master") + suffix);
        QDBusUnixFileDescriptor fd;
        if (master.canConvert<QDBusArgument>()) {
            master.value<QDBusArgument>() >> fd;
        } else {
            fd = master.value<QDBusUnixFileDescriptor>();
        }
        if (fd.isValid()) {
            t.master.reset(::fcntl(fd.fileDescriptor(), F_DUPFD_CLOEXEC, 0));
        }
        out.push_back(std::move(t));
    }
    return out;
}

HelperEngine::Consumer::Consumer(HelperClient &client, bool frozen)
    : m_client(client)
    , m_frozen(frozen)
{
    m_client.setBlockingCalls(true);
}

Result<void> HelperEngine::Consumer::start(UniqueFd fd)
{
    if (m_call) {
        return fail("the helper is already restoring for this consumer", EBUSY);
    }
    QVariantMap options;
    options.insert(QStringLiteral("frozen"), m_frozen);
    options.insert(QStringLiteral("pty"), m_pty);
    // Called now, not in finish(): the store writes the stream while the
    // helper reads it.
    m_call = m_client.restore(fd.get(), options);
    return refusedAtOnce(m_call, m_observer);
}

Result<ConsumerResult> HelperEngine::Consumer::finish()
{
    auto r = takeResult(m_call, "restore");
    if (!r) {
        return std::unexpected(r.error());
    }
    m_terminals = terminalsOf(*r);
    return ConsumerResult{pid_t(r->value(QStringLiteral("root-pid")).toInt()), u64(*r, "total-ns")};
}
