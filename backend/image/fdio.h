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

// Writes all size bytes. SIGPIPE is held off while writing, so a closed pipe
// is an EPIPE error, not the death of the process.
Result<void> writeAll(int fd, const void *data, size_t size);
// The same for several pieces in order, with writev (no copy to join them).
Result<void> writeAllV(int fd, std::span<const iovec> pieces);
// Reads until size bytes arrived or the stream ended; returns the count read
// (less than size only at end of stream).
Result<size_t> readFull(int fd, void *data, size_t size);

} // namespace cryopod::image
