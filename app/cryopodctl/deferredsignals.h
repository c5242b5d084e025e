// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The termination signals a user sends from a terminal or a service manager
// (SIGINT, SIGTERM, SIGHUP, SIGQUIT), held back while cryopodctl --direct has
// processes stopped or half restored. A tracer that dies in the middle
// leaves its tracee running with the registers of an injected system call,
// or a restore's processes behind. Held back, a signal stays pending and
// takes its usual effect when this object goes: after the checkpoint
// released the tree (its image complete), or the restore finished or undid
// itself. SIGKILL cannot be held back; docs/security.md says so.
#pragma once

#include <csignal>

class DeferredSignals
{
public:
    // Blocks them in the calling thread; the engine's threads, started
    // later, inherit the mask.
    DeferredSignals();
    // Restores the mask: a signal that came meanwhile acts now.
    ~DeferredSignals();
    DeferredSignals(const DeferredSignals &) = delete;
    DeferredSignals &operator=(const DeferredSignals &) = delete;

private:
    sigset_t m_previous;
};
