// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SIGTERM, SIGINT and SIGHUP to cryopod-helper (a service manager stopping
// it, a terminal) as a Qt signal on the main thread, instead of their
// default action: dying in the middle of a job could leave a target running
// with the registers of an injected system call. The helper cancels its
// jobs and quits once they have ended (HelperService::stop). A second
// signal of the same kind is taken the same way; SIGKILL still ends it.
#pragma once

#include <QObject>

class QSocketNotifier;

class TerminationSignals : public QObject
{
    Q_OBJECT

public:
    // Installs the handlers (once per process).
    explicit TerminationSignals(QObject *parent = nullptr);
    ~TerminationSignals() override;

Q_SIGNALS:
    void received(int signal);

private:
    void readPending();

    int m_pipe[2] = {-1, -1};
    QSocketNotifier *m_notifier = nullptr;
};
