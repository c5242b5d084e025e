// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "canceltoken.h"

#include <algorithm>
#include <chrono>

namespace
{
void onInterrupt(int)
{
}
}

void installInterruptHandler()
{
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action{};
        action.sa_handler = onInterrupt;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: blocked calls fail with EINTR
        ::sigaction(kInterruptSignal, &action, nullptr);
        // Writing to a pipe or socket whose reader is gone must fail with
        // EPIPE, not end the helper. A handler (not SIG_IGN) is reset by exec,
        // so restored processes do not inherit an ignored SIGPIPE.
        struct sigaction old{};
        if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
            ::sigaction(SIGPIPE, &action, nullptr);
        }
    });
}

CancelToken::~CancelToken()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_changed.notify_all();
    if (m_kicker.joinable()) {
        m_kicker.join();
    }
}

void CancelToken::cancel()
{
    std::lock_guard lock(m_mutex);
    if (m_cancelled.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    if (!m_stopping) {
        m_kicker = std::thread([this] {
            kickLoop();
        });
    }
}

void CancelToken::kickLoop()
{
    // Interrupts every registered thread now and then again every 20 ms: a
    // thread that checked isCancelled() just before blocking is caught by a
    // later round.
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        for (pthread_t t : m_threads) {
            ::pthread_kill(t, kInterruptSignal);
        }
        m_changed.wait_for(lock, std::chrono::milliseconds(20));
    }
}

CancelToken::Interruptible::Interruptible(CancelToken &token)
    : m_token(token)
    , m_self(::pthread_self())
{
    installInterruptHandler();
    std::lock_guard lock(m_token.m_mutex);
    m_token.m_threads.push_back(m_self);
}

CancelToken::Interruptible::~Interruptible()
{
    std::lock_guard lock(m_token.m_mutex);
    auto &threads = m_token.m_threads;
    threads.erase(std::find(threads.begin(), threads.end(), m_self));
}
