// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A sub-tree that shares kernel objects with processes outside it is
// refused, and the report names each of them. The real case: wl_pipeline
// (root; writer W and reader R joined by a pipe; fd 3 one open file in all
// three; a socketpair between the root and R). The sub-tree of R alone
// shares the pipe with W, the socket with the root and fd 3's open file
// with both. Expected: engine::analyze(R) is Refused and its summary names
// the pipe with W's pid, the socket's peer outside and the shared open file;
// engine::checkpoint(R) fails with those reasons, writes nothing, and every
// process runs on untraced; the whole tree is then checkpointed fine and the
// workload passes its checks at go.
// With WL_SHMEM and WL_MEMFD (a root and its child K sharing MAP_SHARED
// anonymous memory, or memfds): the sub-tree of K is refused by the report
// (before anything is frozen), naming the memory and the root outside, and by
// the checkpoint, which writes nothing; then both pass their checks at go.
//
//   cr_subtree WL_PIPELINE [WL_SHMEM WL_MEMFD]
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "engine.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace
{

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_subtree", message);
}

using crtest::childrenOf;
using crtest::readFile;
using crtest::tracerOf;

void expectIn(const std::string &text, const std::string &part, const char *what)
{
    if (text.find(part) == std::string::npos) {
        failTest(std::string(what) + " does not contain '" + part + "': " + text);
    }
}

// The child of WORKLOAD's root shares memory with the root: its sub-tree is
// refused, in the report and by the checkpoint, naming the root and `what`.
void sharedMemorySubtree(const char *workload, const std::string &what)
{
    const std::string stateDir = crtest::makeStateDir("cr_subtree");
    const pid_t root = crtest::startWorkload("cr_subtree", workload, stateDir);
    const std::vector<pid_t> children = childrenOf(root);
    if (children.size() != 1) {
        failTest(std::string(workload) + " has " + std::to_string(children.size()) + " children, expected 1");
    }
    const pid_t k = children[0];
    auto report = cryopod::engine::analyze(k);
    if (!report) {
        failTest("analyze: " + report.error().describe());
    }
    const std::string summary = report->summary();
    std::printf("report of the sub-tree of %d (%s):\n%s", int(k), workload, summary.c_str());
    if (report->verdict != cryopod::engine::Verdict::Refused) {
        failTest(std::string("the sub-tree of ") + workload + "'s child is not refused");
    }
    expectIn(summary, what, "the report");
    expectIn(summary, "is shared with process " + std::to_string(root) + " (", "the report");
    expectIn(summary, "outside the checkpoint", "the report");
    // The whole tree is not refused for it.
    auto whole = cryopod::engine::analyze(root);
    if (!whole || whole->summary().find("is shared with process") != std::string::npos) {
        failTest("the whole tree's report: " + (whole ? whole->summary() : whole.error().describe()));
    }

    const std::string image = stateDir + "/image";
    const int out = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cryopod::engine::CheckpointOptions options;
    options.leaveRunning = false;
    auto refused = cryopod::engine::checkpoint(k, out, options);
    ::close(out);
    if (refused) {
        failTest("the checkpoint of the child's sub-tree succeeded");
    }
    std::printf("checkpoint refused: %s\n", refused.error().describe().c_str());
    expectIn(refused.error().describe(), "outside the checkpoint", "the refusal");
    struct stat st {};
    if (::stat(image.c_str(), &st) != 0 || st.st_size != 0) {
        failTest("the refused checkpoint wrote to its output");
    }
    for (const pid_t pid : {root, k}) {
        if (const long tracer = tracerOf(pid); tracer != 0) {
            failTest("process " + std::to_string(pid) + " is traced by " + std::to_string(tracer));
        }
    }
    crtest::letGoAndCheck("cr_subtree", root, stateDir);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        std::fprintf(stderr, "usage: cr_subtree WL_PIPELINE [WL_SHMEM WL_MEMFD]\n");
        return 2;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    const std::string stateDir = crtest::makeStateDir("cr_subtree");
    const pid_t root = crtest::startWorkload("cr_subtree", argv[1], stateDir);
    const std::vector<pid_t> children = childrenOf(root); // W, R
    if (children.size() != 2) {
        failTest("the workload has " + std::to_string(children.size()) + " children, expected 2");
    }
    const pid_t w = children[0];
    const pid_t r = children[1];

    auto report = cryopod::engine::analyze(r);
    if (!report) {
        failTest("analyze: " + report.error().describe());
    }
    const std::string summary = report->summary();
    std::printf("report of the sub-tree of R (%d):\n%s", int(r), summary.c_str());
    if (report->verdict != cryopod::engine::Verdict::Refused) {
        failTest("the sub-tree of R is not refused");
    }
    expectIn(summary, "a pipe (pipe:[", "the report");
    expectIn(summary, "also open in process " + std::to_string(w), "the report");
    expectIn(summary, "outside the checkpoint", "the report");
    expectIn(summary, "connected to socket:[", "the report");
    expectIn(summary, "is one open file with fd 3 of process", "the report");

    const std::string image = stateDir + "/image";
    const int out = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cryopod::engine::CheckpointOptions options;
    options.leaveRunning = false; // were it to succeed, R would be gone
    auto refused = cryopod::engine::checkpoint(r, out, options);
    ::close(out);
    if (refused) {
        failTest("the checkpoint of R's sub-tree succeeded");
    }
    std::printf("checkpoint refused: %s\n", refused.error().describe().c_str());
    expectIn(refused.error().describe(), "outside the checkpoint", "the refusal");
    struct stat st {};
    if (::stat(image.c_str(), &st) != 0 || st.st_size != 0) {
        failTest("the refused checkpoint wrote to its output");
    }
    for (const pid_t pid : {root, w, r}) {
        if (const long tracer = tracerOf(pid); tracer != 0) {
            failTest("process " + std::to_string(pid) + " is traced by " + std::to_string(tracer));
        }
        if (::kill(pid, 0) != 0) {
            failTest("process " + std::to_string(pid) + " is gone");
        }
    }

    // The whole tree is fine.
    if (auto done = crtest::checkpointToFile(root, image, true); !done) {
        failTest("the checkpoint of the whole tree: " + done.error().describe());
    }
    crtest::letGoAndCheck("cr_subtree", root, stateDir);
    if (argc == 4) {
        sharedMemorySubtree(argv[2], "shared anonymous memory at ");
        sharedMemorySubtree(argv[3], "memfd wl-memfd-a");
    }
    std::printf("cr_subtree: ok\n");
    return 0;
}
