// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helperservice.h"

#include "caller.h"
#include "helperjob.h"

#include <QDBusConnectionInterface>
#include <QDateTime>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QDBusServiceWatcher>
#include <QSocketNotifier>
#include <QThread>

#include <algorithm>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

HelperService::HelperService(const QDBusConnection &bus, int idleTimeoutMs, QObject *parent)
    : QObject(parent)
    , m_bus(bus)
{
    m_idleTimer.setSingleShot(true);
    m_idleTimer.setInterval(idleTimeoutMs);
    connect(&m_idleTimer, &QTimer::timeout, this, &HelperService::idleTimeout);
    m_idleTimer.start();

    m_callerWatcher = new QDBusServiceWatcher(this);
    m_callerWatcher->setConnection(m_bus);
    m_callerWatcher->setWatchMode(QDBusServiceWatcher::WatchForUnregistration);
    connect(m_callerWatcher, &QDBusServiceWatcher::serviceUnregistered, this, &HelperService::callerGone);
}

HelperService::~HelperService() = default;

QString HelperService::Version()
{
    touch();
    return QStringLiteral(CRYOPOD_VERSION_STRING);
}

QVariantMap HelperService::ListProcesses()
{
    touch();
    if (!calledFromDBus()) {
        return {};
    }
    const Request request = takeRequest();
    startWorker([request] {
        Operations::listProcesses(request);
    });
    return {};
}

QVariantMap HelperService::Report(int pid)
{
    touch();
    if (!calledFromDBus()) {
        return {};
    }
    const Request request = takeRequest();
    startWorker([request, pid] {
        Operations::report(request, pid);
    });
    return {};
}

QVariantMap HelperService::Freeze(int pid)
{
    touch();
    if (!calledFromDBus()) {
        return {};
    }
    const Request request = takeRequest();
    startWorker([request, pid] {
        Operations::freeze(request, pid);
    });
    return {};
}

void HelperService::Thaw(int pid)
{
    touch();
    if (!calledFromDBus()) {
        return;
    }
    const Request request = takeRequest();
    startWorker([request, pid] {
        Operations::thaw(request, pid);
    });
}

QDBusObjectPath HelperService::Checkpoint(int pid, const QVariantMap &options, const QDBusUnixFileDescriptor &fd)
{
    touch();
    if (!calledFromDBus()) {
        return {};
    }
    const Request request = takeRequest();
    auto own = std::make_shared<cryopod::UniqueFd>(fd.isValid() ? ::fcntl(fd.fileDescriptor(), F_DUPFD_CLOEXEC, 3) : -1);
    startWorker([this, request, pid, options, own] {
        Operations::checkpoint(request, *this, pid, options, std::move(*own));
    });
    return {};
}

QDBusObjectPath HelperService::Restore(const QDBusUnixFileDescriptor &fd, const QVariantMap &options)
{
    touch();
    if (!calledFromDBus()) {
        return {};
    }
    const Request request = takeRequest();
    auto own = std::make_shared<cryopod::UniqueFd>(fd.isValid() ? ::fcntl(fd.fileDescriptor(), F_DUPFD_CLOEXEC, 3) : -1);
    startWorker([this, request, options, own] {
        Operations::restore(request, *this, std::move(*own), options);
    });
    return {};
}

Request HelperService::takeRequest()
{
    setDelayedReply(true);
    return Request{connection(), message()};
}

void HelperService::touch()
{
    if (m_workers == 0) {
        m_idleTimer.start();
    }
}

void HelperService::startWorker(std::function<void()> body)
{
    ++m_workers;
    m_idleTimer.stop();
    QThread *thread = QThread::create(std::move(body));
    thread->setObjectName(QStringLiteral("cryopod-worker"));
    connect(thread, &QThread::finished, this, [this, thread] {
        thread->deleteLater();
        workerDone();
    });
    thread->start();
}

void HelperService::workerDone()
{
    if (--m_workers == 0) {
        if (m_stopping) {
            Q_EMIT stopped();
        } else {
            m_idleTimer.start();
        }
    }
}

void HelperService::stop()
{
    m_stopping = true;
    m_idleTimer.stop();
    for (HelperJob *job : std::as_const(m_jobs)) {
        job->cancel();
    }
    if (m_workers == 0) {
        Q_EMIT stopped();
    }
}

HelperResult<HelperJob *> HelperService::createJob(const QString &owner, const QString &operation)
{
    Q_ASSERT(QThread::currentThread() != thread());
    HelperJob *job = nullptr;
    QString error;
    QMetaObject::invokeMethod(
        this,
        [&] {
            job = makeJob(owner, operation, &error);
        },
        Qt::BlockingQueuedConnection);
    if (!job) {
        return helperError(HelperErrorName::Busy, error);
    }
    return job;
}

HelperJob *HelperService::makeJob(const QString &owner, const QString &operation, QString *error)
{
    if (m_stopping) {
        *error = QStringLiteral("the helper is stopping");
        return nullptr;
    }
    int mine = 0;
    for (const HelperJob *job : std::as_const(m_jobs)) {
        mine += job->owner() == owner ? 1 : 0;
    }
    if (mine >= kMaxJobsPerCaller) {
        *error = QStringLiteral("you have %1 jobs running, the most the helper runs for one caller").arg(mine);
        return nullptr;
    }
    if (m_jobs.size() >= kMaxJobs) {
        *error = QStringLiteral("the helper runs %1 jobs already, its limit").arg(m_jobs.size());
        return nullptr;
    }
    m_lastJobId = std::max(m_lastJobId + 1, quint64(QDateTime::currentMSecsSinceEpoch()));
    const quint64 id = m_lastJobId;
    auto *job = new HelperJob(id, owner, operation, m_bus, this);
    if (!m_bus.registerObject(job->path(), job, QDBusConnection::ExportAllSlots | QDBusConnection::ExportAllSignals)) {
        *error = QStringLiteral("cannot export %1").arg(job->path());
        delete job;
        return nullptr;
    }
    m_jobs.insert(id, job);
    if (!m_callerWatcher->watchedServices().contains(owner)) {
        m_callerWatcher->addWatchedService(owner);
        // The caller may have left before the watch began: ask the bus.
        auto *pending = new QDBusPendingCallWatcher(m_bus.interface()->asyncCall(QStringLiteral("NameHasOwner"), owner), this);
        connect(pending, &QDBusPendingCallWatcher::finished, this, [this, owner](QDBusPendingCallWatcher *w) {
            const QDBusPendingReply<bool> reply = *w;
            if (!reply.isError() && !reply.value()) {
                callerGone(owner);
            }
            w->deleteLater();
        });
    }
    return job;
}

void HelperService::releaseJob(HelperJob *job)
{
    QMetaObject::invokeMethod(
        this,
        [this, job] {
            dropJob(job);
        },
        Qt::QueuedConnection);
}

void HelperService::dropJob(HelperJob *job)
{
    m_bus.unregisterObject(job->path());
    m_jobs.remove(job->id());
    const QString owner = job->owner();
    bool more = false;
    for (const HelperJob *other : std::as_const(m_jobs)) {
        more = more || other->owner() == owner;
    }
    if (!more) {
        m_callerWatcher->removeWatchedService(owner);
    }
    job->deleteLater();
}

void HelperService::callerGone(const QString &busName)
{
    for (HelperJob *job : std::as_const(m_jobs)) {
        if (job->owner() == busName) {
            job->cancel();
        }
    }
}

void HelperService::adoptChild(pid_t pid)
{
    QMetaObject::invokeMethod(
        this,
        [this, pid] {
            watchChild(pid);
        },
        Qt::QueuedConnection);
}

void HelperService::watchChild(pid_t pid)
{
    // A restored process is our child: reap it when it exits (through its
    // pidfd, never waitpid(-1), which would take the engine's tracees' events).
    const int fd = openPidfd(pid);
    if (fd < 0) {
        return;
    }
    auto *notifier = new QSocketNotifier(fd, QSocketNotifier::Read, this);
    connect(notifier, &QSocketNotifier::activated, this, [notifier, fd] {
        siginfo_t info{};
        if (::waitid(P_PIDFD, id_t(fd), &info, WEXITED | WNOHANG) == 0 && info.si_pid == 0) {
            return; // not yet
        }
        notifier->setEnabled(false);
        notifier->deleteLater();
        ::close(fd);
    });
}
