// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Blocking read/write loops for image streams: EINTR and short transfers are
// handled, pipes and sockets work like files.
#pragma once

#include "result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/uio.h>

namespace cryopod::image
{

// Who keeps SIGPIPE off a write. Guard: the write blocks it around itself
// (three system calls), and discards one it raised. Blocked: the caller has
// it blocked on this thread already, and discards one raised by the time it
// unblocks it (or the thread ends with it pending, which drops it).
enum class Sigpipe {
    Guard,
    Blocked,
};

// Writes all size bytes. A closed pipe is an EPIPE error, not the death of
// the process (see Sigpipe).
Result<void> writeAll(int fd, const void *data, size_t size, Sigpipe sigpipe = Sigpipe::Guard);
// The same for several pieces in order, with writev (no copy to join them).
Result<void> writeAllV(int fd, std::span<const iovec> pieces, Sigpipe sigpipe = Sigpipe::Guard);
// Reads until size bytes arrived or the stream ended; returns the count read
// (less than size only at end of stream).
Result<size_t> readFull(int fd, void *data, size_t size);

} // namespace cryopod::image
