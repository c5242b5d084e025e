// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// QuietTcpConnections (inetsockets.h), what a killing checkpoint does to the
// tree's TCP connections, on a real loopback connection A <-> B of this
// process (A with SO_REUSEADDR):
// - not committed (a checkpoint failing before the tree is dead): A leaves
//   repair mode again, has SO_REUSEADDR again and carries data both ways;
// - disconnected and committed (the tree killed): A is dropped in repair
//   mode (tcp_disconnect()) and then closed: B sees no FIN or RST, stays
//   established, reads nothing; what B then sends (into the gap) is
//   answered with a reset;
// - committed without disconnect(): closing A in repair mode (the kernel's
//   tcp_close()) sends nothing either.
//
//   cr_tcp_quiet [ANY]   (an argument, as the other cr_tcp_* tests get, is ignored)
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "inetsockets.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace
{

namespace image = cryopod::image;

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_tcp_quiet", message);
}

int option(int fd, int level, int name)
{
    int value = -1;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, level, name, &value, &len) != 0) {
        failTest("getsockopt " + std::to_string(name) + ": " + std::strerror(errno));
    }
    return value;
}

int tcpState(int fd)
{
    tcp_info info {};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
        failTest(std::string("TCP_INFO: ") + std::strerror(errno));
    }
    return info.tcpi_state;
}

// Sends `text` on `from` and expects exactly it at `to` within a second.
void carries(int from, int to, const std::string &text, const char *what)
{
    if (::send(from, text.data(), text.size(), MSG_NOSIGNAL) != ssize_t(text.size())) {
        failTest(std::string(what) + ": send: " + std::strerror(errno));
    }
    pollfd p {to, POLLIN, 0};
    char buf[64] = {};
    if (::poll(&p, 1, 1000) != 1 || ::recv(to, buf, sizeof buf, MSG_DONTWAIT) != ssize_t(text.size()) || text != buf) {
        failTest(std::string(what) + ": the bytes did not arrive");
    }
}

struct Pair {
    int a = -1;
    int b = -1;
    sockaddr_in aName {}, bName {};
};

Pair connectedPair()
{
    Pair pair;
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const int on = 1;
    pair.a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || pair.a < 0 || ::bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len) != 0 || ::setsockopt(pair.a, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::connect(pair.a, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        failTest(std::string("connect on loopback: ") + std::strerror(errno));
    }
    pair.b = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    ::close(listener);
    len = sizeof pair.aName;
    if (pair.b < 0 || ::getsockname(pair.a, reinterpret_cast<sockaddr *>(&pair.aName), &len) != 0) {
        failTest(std::string("accept: ") + std::strerror(errno));
    }
    pair.bName = addr;
    return pair;
}

// The records a dump writes for A, as QuietTcpConnections reads them.
void recordsFor(const Pair &pair, image::FilesRecord *files, std::vector<image::FileObjectRecord> *objects)
{
    image::FdRecord fd;
    fd.fd = pair.a;
    fd.kind = image::FdKind::InetSocket;
    fd.object = 1;
    files->fds = {fd};
    image::FileObjectRecord object;
    object.id = 1;
    object.kind = image::FileObjectKind::InetSocket;
    object.inetState = image::InetState::Established;
    object.family = AF_INET;
    object.socketOptions = image::kSockReuseAddr;
    const auto *local = reinterpret_cast<const uint8_t *>(&pair.aName.sin_addr);
    const auto *peer = reinterpret_cast<const uint8_t *>(&pair.bName.sin_addr);
    object.localAddress.assign(local, local + 4);
    object.localPort = ntohs(pair.aName.sin_port);
    object.peerAddress.assign(peer, peer + 4);
    object.peerPort = ntohs(pair.bName.sin_port);
    *objects = {object};
}

// A quieted (and with `disconnect` dropped) then closed, as the killed
// process's close: B must see nothing, and be reset when it sends.
void quietClose(const Pair &pair, const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects, bool disconnect)
{
    const char *how = disconnect ? "disconnected in repair mode" : "closed in repair mode";
    {
        cryopod::engine::QuietTcpConnections quiet;
        if (auto added = quiet.add(::getpid(), files, objects); !added) {
            failTest("add: " + added.error().describe());
        }
        if (auto dropped = disconnect ? quiet.disconnect() : cryopod::Result<void>(); !dropped) {
            failTest("disconnect: " + dropped.error().describe());
        }
        quiet.commit();
    }
    if (!disconnect && option(pair.a, IPPROTO_TCP, TCP_REPAIR) != 1) {
        failTest("A left repair mode after commit()");
    }
    ::close(pair.a);
    pollfd p {pair.b, POLLIN | POLLRDHUP, 0};
    const int ready = ::poll(&p, 1, 500);
    if (ready != 0) {
        failTest(std::string("A ") + how + " told B something (poll events " + std::to_string(p.revents) + ")");
    }
    char byte;
    if (::recv(pair.b, &byte, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN || tcpState(pair.b) != 1) {
        failTest(std::string("B is no longer an established connection with nothing to read after A was ") + how);
    }
    std::printf("A %s: B saw nothing and is established\n", how);
    // B talks into the gap: no socket holds A's addresses, the kernel resets B.
    if (::send(pair.b, "x", 1, MSG_NOSIGNAL) != 1) {
        failTest(std::string("B: send into the gap: ") + std::strerror(errno));
    }
    p = pollfd {pair.b, POLLIN, 0};
    ::poll(&p, 1, 1000);
    if (::recv(pair.b, &byte, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) {
        failTest("B sent into the gap and was not reset");
    }
    std::printf("B sent into the gap and was reset\n");
    ::close(pair.b);
}

} // namespace

int main()
{
    const Pair pair = connectedPair();
    image::FilesRecord files;
    std::vector<image::FileObjectRecord> objects;
    recordsFor(pair, &files, &objects);

    {
        cryopod::engine::QuietTcpConnections quiet;
        if (auto added = quiet.add(::getpid(), files, objects); !added) {
            failTest("add: " + added.error().describe());
        }
        if (quiet.size() != 1 || option(pair.a, IPPROTO_TCP, TCP_REPAIR) != 1) {
            failTest("A is not in repair mode after add()");
        }
    } // not committed
    if (option(pair.a, IPPROTO_TCP, TCP_REPAIR) != 0) {
        failTest("A is still in repair mode after an uncommitted QuietTcpConnections");
    }
    if (option(pair.a, SOL_SOCKET, SO_REUSEADDR) == 0) {
        failTest("A lost SO_REUSEADDR (repair mode clears it)");
    }
    carries(pair.a, pair.b, "after an uncommitted quiet, A to B", "A to B");
    carries(pair.b, pair.a, "and B to A", "B to A");
    std::printf("not committed: A out of repair mode, SO_REUSEADDR kept, data both ways\n");

    quietClose(pair, files, objects, true);
    const Pair second = connectedPair();
    image::FilesRecord secondFiles;
    std::vector<image::FileObjectRecord> secondObjects;
    recordsFor(second, &secondFiles, &secondObjects);
    quietClose(second, secondFiles, secondObjects, false);
    std::printf("cr_tcp_quiet: ok\n");
    return 0;
}
