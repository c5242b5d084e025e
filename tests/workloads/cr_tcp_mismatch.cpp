// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The restore cross-checks the two ends of a TCP connection inside the tree
// (matchTcpPeers, inetsockets.h): what one end received must lie within
// what the other had queued to send. wl_tcp (a root and its child C, both
// ends of one loopback connection) is checkpointed with --tcp-established
// and killed; two copies of its image are made with backend/image's reader
// and writer, each with one end's receive sequence number moved: past
// everything its peer queued, and before what its peer had already seen
// acknowledged. Each copy must be refused before anything is made, with
// EINVAL and a message naming the connection and the sequence numbers, and
// leave no process behind. The unedited image then restores and the
// workload passes its checks at go (the edit was the only difference).
//
//   cr_tcp_mismatch WL_TCP
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "engine.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <variant>
#include <vector>

namespace
{

namespace image = cryopod::image;

std::string s_stateDir;

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_tcp_mismatch", message);
}

image::FileObjectRecord *establishedEnd(std::vector<image::Section> &sections, uint32_t localPort)
{
    for (image::Section &section : sections) {
        auto *object = std::get_if<image::FileObjectRecord>(&section);
        if (object && object->kind == image::FileObjectKind::InetSocket && object->inetState == image::InetState::Established &&
            (localPort == 0 || object->localPort == localPort)) {
            return object;
        }
    }
    return nullptr;
}

// A copy of the image whose end X received up to `seq(peer)` instead.
template<typename Seq>
uint32_t editedCopy(const std::string &from, const std::string &to, Seq seq)
{
    image::Header header;
    std::vector<image::Section> sections = crtest::readImageSections("cr_tcp_mismatch", from, &header);
    image::FileObjectRecord *x = establishedEnd(sections, 0);
    image::FileObjectRecord *peer = x ? establishedEnd(sections, x->peerPort) : nullptr;
    if (!x || !peer || peer == x) {
        failTest("the image does not hold both ends of the connection");
    }
    x->tcpRecvSeq = seq(*peer);
    crtest::writeImageSections("cr_tcp_mismatch", to, header, sections);
    return x->tcpRecvSeq;
}

void expectRefused(const std::string &path, uint32_t seq, const std::vector<pid_t> &tree, const char *what)
{
    auto restored = crtest::restoreFromFile(path);
    if (restored) {
        failTest(std::string("the image whose ends disagree (") + what + ") was restored");
    }
    const std::string message = restored.error().describe();
    std::printf("refused (%s): %s\n", what, message.c_str());
    if (restored.error().code != EINVAL || message.find("received up to sequence number " + std::to_string(seq)) == std::string::npos ||
        message.find("the two ends were not captured at one instant") == std::string::npos) {
        failTest(std::string("the refusal (") + what + ") does not name the sequence number " + std::to_string(seq) + " and the cause: " + message);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
    for (const pid_t pid : tree) {
        if (crtest::exists(pid)) {
            failTest("pid " + std::to_string(pid) + " exists after the refused restore");
        }
    }
    if (!crtest::childrenOf(::getpid()).empty()) {
        failTest("the refused restore left a child of ours");
    }
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: cr_tcp_mismatch WL_TCP\n");
        return 2;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
    s_stateDir = crtest::makeStateDir("cr_tcp_mismatch");
    const pid_t root = crtest::startWorkload("cr_tcp_mismatch", argv[1], s_stateDir);
    const std::vector<pid_t> tree = crtest::treeOf(root);
    if (tree.size() != 2) {
        failTest("wl_tcp's tree has " + std::to_string(tree.size()) + " processes, expected 2");
    }
    const std::string imagePath = s_stateDir + "/image";
    if (auto result = crtest::checkpointToFile(root, imagePath, false, true); !result) {
        failTest("checkpoint --kill --tcp-established: " + result.error().describe());
    }
    crtest::killAndWaitGone("cr_tcp_mismatch", tree); // dead already: reaped

    const std::string ahead = s_stateDir + "/image.ahead";
    const uint32_t aheadSeq = editedCopy(imagePath, ahead, [](const image::FileObjectRecord &peer) {
        return peer.tcpSendSeq + 100000; // more than the peer ever queued
    });
    expectRefused(ahead, aheadSeq, tree, "received more than its peer sent");
    const std::string behind = s_stateDir + "/image.behind";
    const uint32_t behindSeq = editedCopy(imagePath, behind, [](const image::FileObjectRecord &peer) {
        return peer.tcpSendSeq - uint32_t(peer.tcpSendQueue.size()) - 100000; // less than the peer saw acknowledged
    });
    expectRefused(behind, behindSeq, tree, "received less than its peer had acknowledged");

    if (auto restored = crtest::restoreFromFile(imagePath); !restored) {
        failTest("restore of the unedited image: " + restored.error().describe());
    }
    crtest::letGoAndCheck("cr_tcp_mismatch", root, s_stateDir);
    std::printf("cr_tcp_mismatch: ok\n");
    return 0;
}
