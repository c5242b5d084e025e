// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The object cryopod-helper exports at /io/github/cryopod/Helper.
#pragma once

#include <QDBusContext>
#include <QObject>
#include <QTimer>

class HelperService : public QObject, protected QDBusContext
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "io.github.cryopod.Helper1")

public:
    // The helper exits after idleTimeoutMs without a call.
    explicit HelperService(int idleTimeoutMs, QObject *parent = nullptr);

public Q_SLOTS:
    // The helper's version; answers every caller, authorizes nothing.
    QString Version();

Q_SIGNALS:
    void idleTimeout();

private:
    void touch();
    QTimer m_idleTimer;
};
