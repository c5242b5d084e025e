// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A checkpoint of a process that never reaches its ptrace stop must give up
// after the freeze timeout instead of hanging, and leave the process as it
// was. The real case used here: a parent in vfork() waiting for its child is
// in state D (killable, not interruptible) until the child exits; a ptrace
// interrupt cannot stop it. Expected: engine::checkpoint() with a 500 ms
// timeout fails with ETIMEDOUT within a few seconds, naming the pid and
// "state D"; the parent is no longer traced; once the vfork child exits, the
// parent runs on (never stops) and exits 0 by itself.
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "engine.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
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
    std::fprintf(stderr, "cr_freeze_timeout: FAIL: %s\n", message.c_str());
    if (s_target > 0) {
        ::kill(s_target, SIGKILL);
    }
    // Reap everything we started (we are a subreaper).
    while (::waitpid(-1, nullptr, __WALL) > 0) {
    }
    std::exit(1);
}

std::string readFile(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

char stateOf(pid_t pid)
{
    const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    const size_t close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

long tracerOf(pid_t pid)
{
    const std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
    const size_t at = status.find("TracerPid:");
    return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 10, nullptr, 10);
}

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
    const pid_t child = ::vfork();
    if (child == 0) {
        const timespec ts{childMs / 1000, (childMs % 1000) * 1000000};
        ::syscall(SYS_nanosleep, &ts, nullptr);
        ::syscall(SYS_exit, 0);
    }
    _exit(child > 0 ? 0 : 3);
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
    // Wait until the parent sits in vfork (state D).
    const auto start = std::chrono::steady_clock::now();
    while (stateOf(s_target) != 'D') {
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(3)) {
            failTest(std::string("the target never entered state D (state ") + stateOf(s_target) + ")");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    const int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    cryopod::engine::CheckpointOptions options;
    options.freezeTimeoutMs = 500;
    const auto t0 = std::chrono::steady_clock::now();
    auto result = cryopod::engine::checkpoint(s_target, out, options);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    ::close(out);
    if (result) {
        failTest("the checkpoint of a process in vfork (state D) succeeded");
    }
    const std::string message = result.error().describe();
    std::printf("checkpoint failed after %lld ms: %s\n", static_cast<long long>(took), message.c_str());
    if (result.error().code != ETIMEDOUT) {
        failTest("expected ETIMEDOUT, got errno " + std::to_string(result.error().code) + ": " + message);
    }
    if (took > 3000) {
        failTest("the checkpoint took " + std::to_string(took) + " ms to give up with a 500 ms freeze timeout");
    }
    if (message.find(std::to_string(s_target)) == std::string::npos || message.find("state D") == std::string::npos) {
        failTest("the error does not name the pid and its state D: " + message);
    }
    if (const long tracer = tracerOf(s_target); tracer != 0) {
        failTest("the target is still traced (TracerPid " + std::to_string(tracer) + ")");
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
