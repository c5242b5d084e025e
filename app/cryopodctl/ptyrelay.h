// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What `cryopodctl restore` does with the master of the new pseudo-terminal a
// restored program runs on: relay it to its own stdin/stdout, or hand it to
// another process over a unix socket.
#pragma once

#include "result.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace Cryopodctl
{

// Copies stdin to `master` and `master` to stdout until the child `root`
// exits (stdin reaching its end stops only that direction), then what the
// program wrote last, and returns root's wait status (0 when root is not
// our child: restored by the helper). When stdin is a
// terminal it is put in raw mode meanwhile (put back on every return) and
// its window size is given to the pty.
cryopod::Result<int> relayPty(int master, pid_t root);

// Sends `fds` in one SCM_RIGHTS message over the unix socket `socket`, with
// `text` as the message's bytes.
cryopod::Result<void> sendFds(int socket, const std::vector<int> &fds, const std::string &text);

// The exit code of a command that ends as `status` (a wait status) did:
// its code, or 128 + the signal.
int exitCodeOf(int status);

} // namespace Cryopodctl
