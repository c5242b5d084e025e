// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cr_cycles --tcp-peer: the harness itself holds the other end of the
// workload's TCP connection (wl_tcp with WL_TCP_PEER=PORT), a peer outside
// the checkpointed tree. It plays the part of wl_tcp's child C: its own
// seeded stream out, the root's stream in, every byte checked.
//
// After ready and after every restore it talks both ways (exchange()), then
// falls silent before the next checkpoint: everything it sent acknowledged,
// nothing read any more, until the root's stream has stalled on its full
// receive buffer (a zero window). A silent peer's kernel sends nothing by
// itself (no data, no ACK owed, no window update), so the gap between a
// killing checkpoint and the restore, in which no socket holds the
// connection's addresses, goes unnoticed. A peer that sends in the gap gets
// a reset (sendIntoGap(), the sabotage run).
//
// Also: the receive and send buffer sizes of a process's TCP sockets
// (read on a pidfd_getfd copy), for the check that restores do not let
// them grow from cycle to cycle (cr_cycles --same-tcp-buffers).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>
#include <utility>

class TcpPeer
{
public:
    TcpPeer() = default;
    ~TcpPeer();
    TcpPeer(const TcpPeer &) = delete;
    TcpPeer &operator=(const TcpPeer &) = delete;

    // Listens on 127.0.0.1 (a free port). The two streams are wl_tcp's for
    // the workload seed `seed` (WL_SEED): the root's in, C's out.
    bool listen(uint64_t seed, std::string *error);
    uint16_t port() const
    {
        return m_port;
    }
    // Takes the workload's connection (made before it wrote ready).
    bool accept(double seconds, std::string *error);
    // Sends 16 KiB of our stream and receives at least 64 KiB of the
    // root's, checking every byte; then falls silent (see above). `what`
    // gets what went each way.
    bool exchange(double seconds, std::string *what, std::string *error);
    // The sabotage: sends into the gap between a killing checkpoint and the
    // restore. True once the reset came back (the kernel answers a segment
    // for which no socket exists with one).
    bool sendIntoGap(double seconds, std::string *error);
    // After go, the rest of C's part: reads eagerly, writes 256 KiB more,
    // shuts its sending side down and reads to end-of-file; the root's
    // stream must go on by at least 256 KiB after go.
    bool converse(double seconds, std::string *error);
    // The connection was reset under us (ECONNRESET seen).
    bool wasReset() const
    {
        return m_reset;
    }

private:
    bool receiveSome(std::string *error);
    bool sendSome(uint64_t limit, std::string *error);

    int m_listen = -1;
    int m_conn = -1;
    uint16_t m_port = 0;
    uint64_t m_mySeed = 0;
    uint64_t m_theirSeed = 0;
    uint64_t m_sent = 0;
    uint64_t m_received = 0;
    bool m_eof = false;
    bool m_reset = false;
};

// Puts every connected TCP socket of `pid` into repair mode, on a
// pidfd_getfd copy of it, and disconnects it there, so that nothing is sent
// to the peer: what a killing checkpoint does (inetsockets.h). For the original after a
// --leave-running checkpoint with a peer outside the tree: a plain SIGKILL
// would reset the peer. Stops the process first (SIGSTOP).
bool quietTcpConnections(pid_t pid, std::string *error);

// SO_RCVBUF and SO_SNDBUF of each TCP socket of `pid` (by fd), as getsockopt
// reports them (the kernel doubles the value set).
struct TcpBuffers {
    int rcvbuf = 0;
    int sndbuf = 0;
    bool operator==(const TcpBuffers &) const = default;
};
bool tcpBuffersOf(pid_t pid, std::map<std::pair<pid_t, int>, TcpBuffers> *out, std::string *error);
