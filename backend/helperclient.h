// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The D-Bus client of cryopod-helper (docs/dbus-interface.md). Qt Core and
// Qt D-Bus only. Every operation returns a HelperCall that ends with one
// finished() signal: after the method's reply for Report/Freeze/Thaw, after
// the job's Finished signal for Checkpoint/Restore (with progress() before).
// The client listens for the helper's job signals before it calls, so a job
// that finishes at once is not missed.
#pragma once

#include <QDBusConnection>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QVariantMap>

class HelperClient;

class HelperCall : public QObject
{
    Q_OBJECT

public:
    // The job's object path, once the helper answered (empty for methods
    // without a job, or before the answer).
    QString jobPath() const
    {
        return m_jobPath;
    }
    bool isFinished() const
    {
        return m_finished;
    }
    bool ok() const
    {
        return m_ok;
    }
    QString errorName() const
    {
        return m_errorName;
    }
    QString errorMessage() const
    {
        return m_errorMessage;
    }
    QVariantMap result() const
    {
        return m_result;
    }
    // Asks the helper to stop the job (sent as soon as its path is known).
    void cancel();
    // Runs an event loop until finished() (or timeoutMs passed: false).
    bool waitForFinished(int timeoutMs);

Q_SIGNALS:
    void jobStarted(const QString &path);
    void progress(const QString &phase, quint64 doneBytes, quint64 totalBytes);
    void finished(bool ok, const QString &errorName, const QString &message, const QVariantMap &result);

private:
    friend class HelperClient;
    explicit HelperCall(HelperClient *client);
    void finish(bool ok, const QString &errorName, const QString &message, const QVariantMap &result);

    QPointer<HelperClient> m_client;
    QString m_jobPath;
    bool m_expectsJob = false;
    bool m_cancelRequested = false;
    bool m_finished = false;
    bool m_ok = false;
    QString m_errorName;
    QString m_errorMessage;
    QVariantMap m_result;
};

class HelperClient : public QObject
{
    Q_OBJECT

public:
    static constexpr auto kService = "io.github.cryopod.Helper";
    static constexpr auto kPath = "/io/github/cryopod/Helper";
    static constexpr auto kInterface = "io.github.cryopod.Helper1";
    static constexpr auto kJobInterface = "io.github.cryopod.Job1";

    // bus: the system bus, or a test's private one.
    explicit HelperClient(const QDBusConnection &bus = QDBusConnection::systemBus(), QObject *parent = nullptr);
    ~HelperClient() override;

    // Whether polkit may ask the user for a password during a call (the
    // ALLOW_INTERACTIVE_AUTHORIZATION flag); on by default.
    void setInteractive(bool interactive);
    // How long a method call may take (it includes an authentication
    // dialog); default 10 minutes.
    void setCallTimeout(int ms);
    // Method calls wait for the helper's answer (for Checkpoint and Restore:
    // the job's path) before they return, instead of in the event loop. For
    // callers that read or write the other end of the fd they pass on the
    // same thread: an asynchronous call keeps a copy of that fd in its
    // pending message until the event loop runs, so the stream would never
    // see its end. The job's signals still arrive in the event loop.
    void setBlockingCalls(bool blocking);

    HelperCall *version();
    HelperCall *report(int pid); // result: the report a{sv}
    HelperCall *freeze(int pid); // result: cgroup, version, pids
    HelperCall *thaw(int pid);
    // fd is the caller's (not taken over; the helper gets its own copy).
    HelperCall *checkpoint(int pid, const QVariantMap &options, int fd);
    HelperCall *restore(int fd, const QVariantMap &options);

private Q_SLOTS:
    void onJobProgress(const QDBusMessage &message);
    void onJobFinished(const QDBusMessage &message);

private:
    friend class HelperCall;
    HelperCall *call(const QString &method, const QVariantList &arguments, bool expectsJob);
    void handleReply(HelperCall *call, const QString &method, const QDBusMessage &reply);
    void jobPathKnown(HelperCall *call, const QString &path);
    void sendCancel(const QString &path);

    QDBusConnection m_bus;
    bool m_interactive = true;
    bool m_blockingCalls = false;
    int m_timeoutMs = 10 * 60 * 1000;
    QHash<QString, QPointer<HelperCall>> m_jobs; // by path
    // Signals of jobs whose path the reply has not told yet.
    QHash<QString, QList<QDBusMessage>> m_early;
};
