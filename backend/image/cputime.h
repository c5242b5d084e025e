// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// CPU time of the calling thread, for the timing logs of the dump and the
// restore ($CRYOPOD_DUMP_TRACE, $CRYOPOD_RESTORE_TRACE): unlike wall time it
// does not grow while other processes have the CPUs. A system call (about
// 0.3 us here): take it per batch or per piece, not per page.
#pragma once

#include <cstdint>
#include <ctime>

namespace cryopod::image
{

inline uint64_t threadCpuNs()
{
    timespec ts {};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

} // namespace cryopod::image
