// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// CancelToken: the cancellation of one job, shared by its threads. A thread
// that may block in read() or write() on a caller's fd registers itself
// (Interruptible); cancel() then interrupts it with kInterruptSignal (a
// handler without SA_RESTART, so the call fails with EINTR) until it has
// left the blocking section, so a cancel that races with the start of a
// blocking call is not lost.
#pragma once

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <vector>

inline constexpr int kInterruptSignal = SIGUSR2;

// Installs the no-op kInterruptSignal handler, and one for SIGPIPE if it is
// at its default (once per process).
void installInterruptHandler();

class CancelToken
{
public:
    CancelToken() = default;
    ~CancelToken();
    CancelToken(const CancelToken &) = delete;
    CancelToken &operator=(const CancelToken &) = delete;

    // Thread-safe; idempotent.
    void cancel();
    bool isCancelled() const
    {
        return m_cancelled.load(std::memory_order_acquire);
    }

    // While alive, the current thread is interrupted (EINTR) once cancelled.
    class Interruptible
    {
    public:
        explicit Interruptible(CancelToken &token);
        ~Interruptible();
        Interruptible(const Interruptible &) = delete;
        Interruptible &operator=(const Interruptible &) = delete;

    private:
        CancelToken &m_token;
        pthread_t m_self;
    };

private:
    void kickLoop();

    std::atomic<bool> m_cancelled{false};
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<pthread_t> m_threads; // registered, interruptible now
    bool m_stopping = false;
    std::thread m_kicker;
};
