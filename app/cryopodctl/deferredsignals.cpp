// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "deferredsignals.h"

#include <initializer_list>
#include <pthread.h>

namespace
{
sigset_t terminationSignals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
        sigaddset(&set, sig);
    }
    return set;
}
} // namespace

DeferredSignals::DeferredSignals()
{
    const sigset_t set = terminationSignals();
    pthread_sigmask(SIG_BLOCK, &set, &m_previous);
}

DeferredSignals::~DeferredSignals()
{
    pthread_sigmask(SIG_SETMASK, &m_previous, nullptr);
}
