// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Fault injection for the kill-at-every-step tests. Every step of the store
// where a crash could leave something behind calls StoreFault::point(name).
// When $CRYOPOD_STORE_FAULT names that step, the process ends there and then
// with _exit(kExitCode): no destructor, no cleanup, no buffered output, as if
// it had been killed. Unset (always, outside tests) it costs one comparison.
#pragma once

#include <span>

namespace cryopod::store
{

class StoreFault
{
public:
    static constexpr int kExitCode = 86;

    static void point(const char *step);
    // Every step name, in the order a snapshot, a delete and a gc pass them.
    static std::span<const char *const> steps();
};

} // namespace cryopod::store
