// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The process tree as cryopod-helper sees it on the host (its ListProcesses
// method), for the app inside a Flatpak, whose own /proc shows only the
// sandbox. The helper fills in only what the caller could read in /proc
// itself (see helper/processlist.h).
#pragma once

#include "processsource.h"

#include <QDBusConnection>

class HelperProcessSource : public ProcessSource
{
public:
    // bus: the system bus, or a private one in tests.
    explicit HelperProcessSource(const QDBusConnection &bus = QDBusConnection::systemBus(), int timeoutMs = 10000);
    ProcessSnapshot scan() override;
    QString name() const override;

private:
    QDBusConnection m_bus;
    int m_timeoutMs;
};

// The source the app uses: the helper inside a Flatpak (/.flatpak-info
// exists) or when $CRYOPOD_PROCESS_SOURCE is "helper"; /proc otherwise
// ($CRYOPOD_PROCESS_SOURCE=procfs forces it).
std::shared_ptr<ProcessSource> defaultProcessSource();
