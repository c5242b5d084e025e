// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A restore of a tree that cannot finish leaves nothing behind. The real
// case: wl_tree (root, A, B, C, and A's child G) is checkpointed and left
// running, then every process but the grandchild G is killed: G (now our
// child, we are a subreaper) holds its pid. The restore creates the root, A,
// B and C, then fails on G's pid with EEXIST naming G; afterwards none of
// the pids of root, A, B, C exists (not even as a zombie) and G runs on,
// untraced, with the same parent (us) and state. Once G is gone the same
// image restores, and the restored tree passes its own checks at go.
//
//   cr_tree_sabotage WL_TREE
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
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace
{

std::string s_stateDir;

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_tree_sabotage", message);
}

using crtest::childrenOf;
using crtest::readFile;

struct ProcState {
    bool exists = false;
    char state = '?';
    pid_t ppid = 0;
    long tracer = -1;
};

ProcState procState(pid_t pid)
{
    ProcState s;
    const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) {
        return s;
    }
    s.exists = true;
    std::istringstream fields(stat.substr(close + 2));
    fields >> s.state >> s.ppid;
    const std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
    const size_t at = status.find("TracerPid:");
    s.tracer = at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 10, nullptr, 10);
    return s;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: cr_tree_sabotage WL_TREE\n");
        return 2;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
    s_stateDir = crtest::makeStateDir("cr_tree_sabotage");
    const pid_t root = crtest::startWorkload("cr_tree_sabotage", argv[1], s_stateDir);
    const std::vector<pid_t> children = childrenOf(root); // A, B, C
    if (children.size() != 3) {
        failTest("the tree has " + std::to_string(children.size()) + " children, expected 3");
    }
    const std::vector<pid_t> grandchildren = childrenOf(children.front());
    if (grandchildren.size() != 1) {
        failTest("A has " + std::to_string(grandchildren.size()) + " children, expected 1");
    }
    const pid_t g = grandchildren.front();

    const std::string image = s_stateDir + "/image";
    if (auto result = crtest::checkpointToFile(root, image, true); !result) {
        failTest("checkpoint: " + result.error().describe());
    }
    // Everything but G goes; G becomes our child (we are its subreaper).
    const std::vector<pid_t> gone {root, children[0], children[1], children[2]};
    crtest::killAndWaitGone("cr_tree_sabotage", gone);
    for (int waited = 0; procState(g).ppid != ::getpid(); ++waited) {
        if (waited == 1000) {
            failTest("G was not re-parented to us");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const ProcState before = procState(g);

    auto failed = crtest::restoreFromFile(image);
    if (failed) {
        failTest("the restore succeeded although pid " + std::to_string(g) + " is taken");
    }
    const std::string message = failed.error().describe();
    std::printf("restore failed: %s\n", message.c_str());
    if (failed.error().code != EEXIST || message.find("pid " + std::to_string(g) + " is in use") == std::string::npos) {
        failTest("the error does not say that pid " + std::to_string(g) + " is in use: " + message);
    }
    // Nothing of the restore is left, not even a zombie.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
    for (const pid_t pid : gone) {
        if (const ProcState s = procState(pid); s.exists) {
            failTest("pid " + std::to_string(pid) + " exists after the failed restore (state " + s.state + ", parent " + std::to_string(s.ppid) + ")");
        }
    }
    for (const pid_t child : childrenOf(::getpid())) {
        if (child != g) {
            failTest("the failed restore left our child " + std::to_string(child));
        }
    }
    const ProcState after = procState(g);
    if (!after.exists || after.ppid != before.ppid || after.tracer != 0 || (after.state != 'S' && after.state != 'R')) {
        failTest("G changed: state " + std::string(1, after.state) + ", parent " + std::to_string(after.ppid) + ", tracer " + std::to_string(after.tracer));
    }

    // Once G is gone the same image restores, and the tree is whole.
    ::kill(g, SIGKILL);
    ::waitpid(g, nullptr, 0);
    if (auto restored = crtest::restoreFromFile(image); !restored) {
        failTest("restore once every pid is free: " + restored.error().describe());
    }
    crtest::letGoAndCheck("cr_tree_sabotage", root, s_stateDir);
    std::printf("cr_tree_sabotage: ok\n");
    return 0;
}
