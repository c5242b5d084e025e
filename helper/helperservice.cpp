// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helperservice.h"

HelperService::HelperService(int idleTimeoutMs, QObject *parent)
    : QObject(parent)
{
    m_idleTimer.setSingleShot(true);
    m_idleTimer.setInterval(idleTimeoutMs);
    connect(&m_idleTimer, &QTimer::timeout, this, &HelperService::idleTimeout);
    m_idleTimer.start();
}

QString HelperService::Version()
{
    touch();
    return QStringLiteral(CRYOPOD_VERSION_STRING);
}

void HelperService::touch()
{
    m_idleTimer.start();
}
