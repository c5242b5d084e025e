// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TCP and UDP sockets, IPv4 and IPv6 (FileObjectRecord of kind InetSocket):
// one that was never bound, one bound to an address, a listening TCP socket
// and a connected UDP socket. The dump reads the socket through its own file
// (pidfd_getfd): name, peer, options (SO_REUSEADDR, SO_REUSEPORT,
// IPV6_V6ONLY, TCP_NODELAY, SO_KEEPALIVE, SO_BROADCAST, buffer sizes set
// by the program) and, from sock_diag, a listener's backlog. Restore makes
// the socket in the process, sets the options, and the process itself binds,
// listens and connects again (its own privileges for a port below 1024).
//
// Not restored, and said so before anything is frozen: a TCP connection
// (any state but listening or closed: restoring one needs TCP_REPAIR, which
// cryopod does not implement); a listening socket with connections waiting
// to be accepted (refused: they would be reset). Datagrams waiting in a UDP
// socket are dropped (a caveat: UDP may lose them anyway).
//
// The address must be free when the restore binds it: after a
// --leave-running checkpoint the original still holds it until it is
// stopped (SO_REUSEPORT on both would let them share it).
#pragma once

#include "engine.h"
#include "fileobjects.h"
#include "records.h"
#include "result.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// Whether fd `fd` of `pid` (socket inode `inode`) is a TCP or UDP socket
// (sockfs's "system.sockprotoname"): nullopt if it is none. Otherwise its
// verdict (Ok, Caveat or Refused) and the reason, starting with `fdName`.
struct InetSocketCheck {
    Verdict verdict = Verdict::Ok;
    std::string reason;
};
std::optional<InetSocketCheck> checkInetSocket(pid_t pid, int fd, uint64_t inode, const std::string &fdName);

// The socket at fd `fd` (the process frozen, checkInetSocket not Refused).
Result<image::FileObjectRecord> dumpInetSocket(pid_t pid, const image::FdRecord &fd, uint64_t id);

// ---- restore

// Makes the socket of `object` in the process at a temporary fd for `owner`
// (registered in `fds`), with its options, bound, listening or connected as
// it was, and the status flags of `owner`.
Result<void> restoreInetSocket(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds);

} // namespace cryopod::engine
