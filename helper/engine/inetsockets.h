// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TCP and UDP sockets, IPv4 and IPv6 (FileObjectRecord of kind InetSocket):
// one that was never bound, one bound to an address, a listening TCP socket,
// a connected UDP socket and (format 7, when the user asks for it) an
// established TCP connection. The dump reads the socket through its own file
// (pidfd_getfd): name, peer, options (SO_REUSEADDR, SO_REUSEPORT,
// IPV6_V6ONLY, TCP_NODELAY, SO_KEEPALIVE, SO_BROADCAST, buffer sizes set
// by the program) and, from sock_diag, a listener's backlog. Restore makes
// the socket in the process, sets the options, and the process itself binds,
// listens and connects again (its own privileges for a port below 1024).
//
// An established TCP connection (CheckpointOptions::tcpEstablished) is read
// in TCP_REPAIR mode, set by the engine on its own dup of the socket (it
// needs CAP_NET_ADMIN, which the helper and cryopodctl --direct have as
// root): both sequence numbers, both queues (peeked, MSG_PEEK), the unsent
// part of the send queue (SIOCOUTQNSD), the MSS, window scales, SACK and
// timestamps, the timestamp clock (TCP_TIMESTAMP) and the window
// (TCP_REPAIR_WINDOW); then it leaves repair mode without a window probe,
// so a process left running goes on as before (SO_REUSEADDR, which repair
// mode clears, given back). Once the whole tree is captured the connections
// are read again until they hold one instant (settleTcpConnections).
// Restore makes the socket in repair mode, sets both sequence numbers and
// TCP_MAXSEG (the segment size connect derives), the process binds and connects
// (nothing is sent), the options, timestamp clock, receive queue, the sent
// part of the send queue and the window follow; once every socket of the
// tree exists it leaves repair mode (a window probe) and sends the unsent
// part. The peer must still hold its end. A peer in the tree works, and so
// does a peer outside it that stays silent between a --kill checkpoint and
// the restore: before the tree is killed (the image complete) its
// connections go into repair mode and are dropped there (QuietTcpConnections:
// the kernel's tcp_disconnect() sends nothing in repair mode), so the peer sees no FIN
// or RST and the restored socket carries on (cr_tcp_peer). Until the restore
// no socket holds the connection's addresses: whatever the peer sends
// meanwhile (data, an ACK it owed, a window update, a keepalive) is answered
// by the kernel with a reset, and the restored connection is then reset
// too (cr_tcp_peer_gap_sabotage). Holding the addresses meanwhile (a
// firewall rule dropping the peer's segments) would hide the gap; nothing
// does (no nftables here). A --leave-running checkpoint leaves such a
// connection working; restoring its image needs the original gone without
// a word to the peer and the peer silent since the checkpoint. Its buffer
// sizes are restored as the dump read them (forced: the queues are put back
// in buffers big enough for them, then set to the dumped size, so ten
// cycles keep the same sizes), which ends TCP's own tuning of them. Not
// carried: urgent data, TCP_CORK, the congestion state.
//
// Refused, and said so before anything is frozen: a TCP connection without
// the opt-in, or in any state but established or listening (closing,
// half-closed, connecting); a listening socket with connections waiting to
// be accepted (they would be reset). Datagrams waiting in a UDP socket are
// dropped (a caveat: UDP may lose them anyway).
//
// The address must be free when the restore binds it: after a
// --leave-running checkpoint the original still holds it until it is
// stopped (SO_REUSEPORT on both would let them share it); a connection
// cannot exist twice at all. A connection accepted from a listener shares
// its port: restore makes the connections of a process after its other
// sockets, so that the listener binds first.
#pragma once

#include "engine.h"
#include "fileobjects.h"
#include "records.h"
#include "result.h"
#include "uniquefd.h"

#include "ptrace_inject.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

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
// An established TCP connection is a caveat with `tcpEstablished`, refused without.
std::optional<InetSocketCheck> checkInetSocket(pid_t pid, int fd, uint64_t inode, const std::string &fdName, bool tcpEstablished);

// The socket at fd `fd` (the process frozen, checkInetSocket not Refused).
Result<image::FileObjectRecord> dumpInetSocket(pid_t pid, const image::FdRecord &fd, uint64_t id);

// An established connection of the captured tree: the process and fd
// holding it, and its record.
struct CapturedTcp {
    pid_t pid = 0;
    int32_t fd = -1;
    image::FileObjectRecord *record = nullptr;
};
// The established connections among `objects`, each at the fd of `files` that owns it.
std::vector<CapturedTcp> capturedTcpConnections(pid_t pid, const image::FilesRecord &files, std::vector<image::FileObjectRecord> &objects);

// Once every process of the tree is captured (still frozen): makes the
// records of `connections` hold at one instant. The kernel goes on for a
// frozen process (it sends what the window allows, acknowledges what
// arrives, delayed ACKs open the peer's window): an end captured before its
// peer may have sent or received more by the time the peer was read, and a
// restored pair that disagrees stalls (an end drops every segment whose ACK
// covers data it counts as unsent) or loses data (acknowledged to its peer,
// missing from its own receive queue). Each connection whose queues moved
// since it was read (its sequence numbers only grow) is read again, until
// a whole pass finds none moved; then every record is what its socket
// holds at the start of that pass.
Result<void> settleTcpConnections(std::vector<CapturedTcp> &connections);

// Before a checkpointed tree is killed (with the opt-in, once the image is
// complete): its established TCP connections go into repair mode, each on
// the engine's own dup of it (pidfd_getfd: the same socket). A socket
// closed in repair mode is dropped without a segment (tcp_close() calls
// tcp_disconnect(), which sends no RST or FIN in repair mode and leaves no
// TIME_WAIT): a peer outside the tree sees nothing, and the restore takes
// the connection over. Until commit() (the tree is dead) the destructor
// takes every socket out of repair mode again, without a window probe and
// with SO_REUSEADDR given back: a checkpoint that fails after add() leaves
// the tree's connections as they were.
class QuietTcpConnections
{
public:
    QuietTcpConnections() = default;
    ~QuietTcpConnections();
    QuietTcpConnections(const QuietTcpConnections &) = delete;
    QuietTcpConnections &operator=(const QuietTcpConnections &) = delete;

    // The connections of one process (still stopped) whose fd table is
    // `files`. Fails, naming the socket, when one cannot enter repair mode
    // (killing the tree would then reset its peer).
    Result<void> add(pid_t pid, const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects);
    // The point of no return, right before the tree is killed: each socket
    // is disconnected now, in repair mode (tcp_disconnect(): nothing sent,
    // its timers stopped), rather than when its process dies. The kernel
    // goes on for a frozen tree: a zero-window probe it sends is answered by
    // the peer, and an answer arriving once the socket is gone is answered
    // with a reset. Closing at once leaves that race a round trip wide,
    // instead of the time the tree takes to die (closing at death, one
    // cr_tcp_peer run in 15 at load 7 failed on a peer reset in a --kill
    // cycle; disconnecting here, 0 in 40).
    Result<void> disconnect();
    // The tree is killed: nothing is undone.
    void commit();
    size_t size() const
    {
        return m_sockets.size();
    }

private:
    struct Quieted {
        UniqueFd sock;
        bool reuseAddr = false;
        std::string what;
    };
    std::vector<Quieted> m_sockets;
};

// ---- restore

// Before anything is made: each established connection of `connections`
// (InetSocket records of the whole image) whose peer is among them too
// counts as sent what its peer has received (a peer captured after the
// kernel sent more than the connection's own record says; an image of an
// earlier engine). Refuses two ends that cannot belong to one instant.
Result<void> matchTcpPeers(const std::vector<image::FileObjectRecord *> &connections);

// Makes the socket of `object` in the process at a temporary fd for `owner`
// (registered in `fds`), with its options, bound, listening or connected as
// it was, and the status flags of `owner`.
// An established connection stays in repair mode, in fds.tcpRepairs.
Result<void> restoreInetSocket(Injector &injector, RemoteScratch &scratch, const image::FileObjectRecord &object, const image::FdRecord &owner, ObjectFds &fds);

// Once every socket of the tree exists: each connection of `repairs` leaves
// repair mode (a window probe to its peer), gets SO_REUSEADDR back when it
// had it, and sends the part of its send queue that had never been sent.
Result<void> leaveTcpRepair(std::vector<RepairedTcp> &repairs);

} // namespace cryopod::engine
