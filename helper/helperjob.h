// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// One long operation (Checkpoint, Restore) as its own D-Bus object,
// /io/github/cryopod/Helper/job/N, interface io.github.cryopod.Job1. Its
// signals go to its caller only (unicast, QDBusMessage::createTargetedSignal):
// no other bus client learns about another's progress. Cancel() is accepted
// from the caller only. The work runs on a worker thread (HelperService);
// this object lives on the main thread and is thread-safe where noted.
#pragma once

#include "canceltoken.h"
#include "helpererror.h"

#include <QDBusConnection>
#include <QDBusContext>
#include <QObject>
#include <QVariantMap>

#include <atomic>

class HelperJob : public QObject, protected QDBusContext
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "io.github.cryopod.Job1")

public:
    HelperJob(quint64 id, const QString &owner, const QString &operation, const QDBusConnection &bus, QObject *parent = nullptr);

    static QString pathFor(quint64 id);
    QString path() const;
    quint64 id() const
    {
        return m_id;
    }
    QString owner() const
    {
        return m_owner;
    }
    QString operation() const
    {
        return m_operation;
    }
    CancelToken &token()
    {
        return m_token;
    }

    // Thread-safe: unicast signals to the owner.
    void sendProgress(const QString &phase, quint64 doneBytes, quint64 totalBytes);
    void sendFinished(const HelperResult<QVariantMap> &result);
    // Thread-safe: cancel as if the owner had asked (the owner left the bus).
    void cancel();

public Q_SLOTS:
    // Stops the job: a checkpoint ends with the target running on unchanged,
    // a restore removes what it built. Finished(false, Cancelled, ...)
    // follows (or the job's real end, if it was already done).
    void Cancel();

Q_SIGNALS:
    // Declared for introspection; sent as targeted messages, never emitted.
    void Progress(const QString &phase, qulonglong done_bytes, qulonglong total_bytes);
    void Finished(bool ok, const QString &error_code, const QString &message, const QVariantMap &result);

private:
    quint64 m_id;
    QString m_owner;
    QString m_operation;
    QDBusConnection m_bus;
    CancelToken m_token;
    std::atomic<bool> m_finished{false};
};
