// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Connected pairs of unix sockets with both ends in the process, or one end
// whose peer was closed (what socketpair(2) makes; FileObjectRecord of kind
// UnixSocket): one object per socket, naming its peer (0: closed). What waits in each receive queue is read without
// taking it (MSG_PEEK through the socket's own file, pidfd_getfd, with
// SO_PEEK_OFF stepping through it and put back afterwards), datagram and
// packet boundaries kept; restore makes a new pair, sends every queue's
// contents again from the other end, then the buffer sizes, SO_PASSCRED and
// the shutdown state.
#pragma once

#include "fileobjects.h"
#include "records.h"
#include "result.h"
#include "uniquefd.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>

namespace cryopod::engine
{

// What sock_diag says about a unix socket (in our network namespace).
struct UnixSocketInfo {
    uint32_t type = 0; // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
    uint32_t state = 0; // TCP_ESTABLISHED (1) when connected, TCP_LISTEN (10)
    uint32_t peer = 0; // the peer's inode, 0: none
    std::string name; // bound address ("" unnamed; abstract ones start with '@')
    uint32_t shutdown = 0; // receive 1, send 2
    uint32_t rqueue = 0; // listening: connections waiting; else bytes queued
    uint32_t wqueue = 0; // listening: the backlog the kernel keeps
};
std::optional<UnixSocketInfo> unixSocketInfo(uint32_t inode);

// ---- dump

// Why the unix socket `inode` (at fd `fdName`) cannot be checkpointed, or
// empty: of a supported type, and either unnamed and connected, with its
// peer among `processSockets` (the socket inodes the process has open) or
// closed (sock_diag shows no peer inode for a connected socket then); or
// listening on an absolute path or an abstract name with no connection
// waiting; or not connected (bound to such a name or not) with nothing
// queued.
std::string unixSocketRefusal(const std::string &fdName, uint64_t inode, const std::set<uint64_t> &processSockets);

// A note for a connected socket that is named or whose peer is (a
// connection accepted from a listening socket, or its client): restored
// as a pair, it loses the names. Empty otherwise.
std::string unixSocketCaveat(const std::string &fdName, uint64_t inode);

// The socket of fd `fd` (the process frozen): type, buffers, SO_PASSCRED,
// shutdown state and receive queue; fails on file descriptors in flight.
Result<image::FileObjectRecord> dumpUnixSocket(pid_t pid, const image::FdRecord &fd, uint64_t id, uint64_t peerId);

// ---- restore

// A socket that is no pair (unixState 1 or 2): made in the process, its
// options set, bound to its name (a stale socket file of the original, which
// nothing has open any more, is removed first) and listening again.
Result<void> restoreUnixSocketAlone(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner,
                                    ObjectFds &fds);

// Makes the pair `a`, `peer` (each other's peers) in the process with
// socketpair(), the descriptions of `ownerA` and `ownerB` at temporary fds
// in `fds`, and gives both their state back. `peer` and `ownerB` null: a's
// peer was closed; the other socket is made, used and closed again.
Result<void> restoreUnixSocketPair(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &a, const image::FileObjectRecord *peer,
                                   const image::FdRecord &ownerA, const image::FdRecord *ownerB, ObjectFds &fds);

} // namespace cryopod::engine
