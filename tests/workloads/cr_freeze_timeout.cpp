// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A checkpoint of a tree with a process that never reaches its ptrace stop
// must give up after the freeze timeout instead of hanging, and leave every
// process of the tree as it was. The real case used here: a parent in
// vfork() waiting for its child is in state D (killable, not interruptible)
// until the child exits; a ptrace interrupt cannot stop it. The target T has
// a child C that sits in vfork() with its vfork child G.
// Expected: engine::checkpoint() of T refuses before freezing anything (C
// and G share an address space: the report names it); freezing the tree
// directly (as when the vfork happens right after that check) with a 500 ms
// timeout fails with ETIMEDOUT within a few seconds, naming C and "state D",
// after T was frozen already: T runs on, untraced, and C is no longer traced
// once the freezing thread is gone; when G exits, C and then T exit 0 by
// themselves.
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "engine.h"
#include "pstree.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace
{

pid_t s_target = -1;

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_freeze_timeout", message);
}

using crtest::readFile;
using crtest::stateOf;
using crtest::tracerOf;

// The target: fds 0-2 on /dev/null, nothing else; vfork()s a child that
// sleeps `childMs` without exec (raw system calls only: it runs on our
// stack) and exits; then exits 0 itself.
[[noreturn]] void runTarget(long childMs)
{
    const int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) {
        ::dup2(null, fd);
    }
    ::close_range(3, ~0u, 0);
    const pid_t c = ::fork();
    if (c == 0) {
        const pid_t child = ::vfork();
        if (child == 0) {
            const timespec ts{childMs / 1000, (childMs % 1000) * 1000000};
            ::syscall(SYS_nanosleep, &ts, nullptr);
            ::syscall(SYS_exit, 0);
        }
        _exit(child > 0 ? 0 : 3);
    }
    int status = 0;
    while (c > 0 && ::waitpid(c, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(c > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 4);
}

pid_t firstChild(pid_t pid)
{
    const std::vector<pid_t> children = crtest::childrenOf(pid);
    return children.empty() ? 0 : children.front();
}

} // namespace

int main()
{
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    constexpr long kChildMs = 4000;
    s_target = ::fork();
    if (s_target < 0) {
        failTest(std::string("fork: ") + std::strerror(errno));
    }
    if (s_target == 0) {
        runTarget(kChildMs);
    }
    // Wait until C sits in vfork (state D).
    const auto start = std::chrono::steady_clock::now();
    pid_t c = 0;
    while ((c = firstChild(s_target)) <= 0 || stateOf(c) != 'D') {
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(3)) {
            failTest(std::string("the target's child never entered state D"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    const int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    cryopod::engine::CheckpointOptions options;
    options.freezeTimeoutMs = 500;
    auto refused = cryopod::engine::checkpoint(s_target, out, options);
    ::close(out);
    if (refused) {
        failTest("the checkpoint of a tree with a process in vfork succeeded");
    }
    std::printf("checkpoint refused: %s\n", refused.error().describe().c_str());
    if (refused.error().describe().find("shares its address space") == std::string::npos) {
        failTest("the refusal does not name the address space C and G share: " + refused.error().describe());
    }

    // Freezing regardless: on a thread of its own, as checkpoint() does.
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<cryopod::Result<cryopod::engine::FrozenTree>> result;
    std::thread freezer([&] {
        result.emplace(cryopod::engine::FrozenTree::freeze(s_target, 500));
    });
    freezer.join();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (*result) {
        failTest("freezing a tree with a process in vfork (state D) succeeded");
    }
    const std::string message = result->error().describe();
    std::printf("freeze failed after %lld ms: %s\n", static_cast<long long>(took), message.c_str());
    if (result->error().code != ETIMEDOUT) {
        failTest("expected ETIMEDOUT, got errno " + std::to_string(result->error().code) + ": " + message);
    }
    if (took > 3000) {
        failTest("the freeze took " + std::to_string(took) + " ms to give up with a 500 ms timeout");
    }
    if (message.find(std::to_string(c)) == std::string::npos || message.find("state D") == std::string::npos) {
        failTest("the error does not name the child and its state D: " + message);
    }
    for (const pid_t pid : {s_target, c}) {
        if (const long tracer = tracerOf(pid); tracer != 0) {
            failTest("process " + std::to_string(pid) + " is still traced (TracerPid " + std::to_string(tracer) + ")");
        }
    }
    if (const char state = stateOf(s_target); state != 'S') {
        failTest(std::string("the target is in state ") + state + ", not waiting for its child (S)");
    }

    // When the vfork child exits the parent must run on, not stop in a
    // leftover ptrace interrupt, and exit 0 by itself.
    int status = 0;
    pid_t reaped = 0;
    bool targetDone = false;
    const auto waitStart = std::chrono::steady_clock::now();
    while (!targetDone) {
        reaped = ::waitpid(-1, &status, WNOHANG | __WALL);
        if (reaped == s_target) {
            targetDone = true;
            break;
        }
        const char state = stateOf(s_target);
        if (state == 't' || state == 'T') {
            failTest(std::string("the target stopped (state ") + state + ") after leaving vfork");
        }
        if (std::chrono::steady_clock::now() - waitStart > std::chrono::milliseconds(kChildMs + 5000)) {
            failTest(std::string("the target did not exit after its vfork child (state ") + state + ")");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        failTest("the target did not exit with status 0 (wait status " + std::to_string(status) + ")");
    }
    while (::waitpid(-1, nullptr, __WALL) > 0) {
    }
    std::printf("cr_freeze_timeout: ok\n");
    return 0;
}
