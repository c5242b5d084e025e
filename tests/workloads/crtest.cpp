// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "crtest.h"

#include "imagereader.h"
#include "imagewriter.h"
#include "uniquefd.h"

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
#include <sys/wait.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <variant>

namespace crtest
{

void fail(const char *name, const std::string &message)
{
    std::fprintf(stderr, "%s: FAIL: %s\n", name, message.c_str());
    for (int round = 0; round < 50; ++round) {
        const std::vector<pid_t> children = childrenOf(::getpid());
        for (const pid_t pid : children) {
            ::kill(pid, SIGKILL);
        }
        while (::waitpid(-1, nullptr, WNOHANG | __WALL) > 0) { }
        if (children.empty()) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
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

std::vector<pid_t> childrenOf(pid_t pid)
{
    std::vector<pid_t> out;
    std::istringstream in(readFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
    pid_t child;
    while (in >> child) {
        out.push_back(child);
    }
    return out;
}

long tracerOf(pid_t pid)
{
    const std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
    const size_t at = status.find("TracerPid:");
    return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 10, nullptr, 10);
}

char stateOf(pid_t pid)
{
    const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    const size_t close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

std::string makeStateDir(const char *name)
{
    std::string path = std::string("/tmp/") + name + ".XXXXXX";
    if (!::mkdtemp(path.data())) {
        fail(name, std::string("mkdtemp: ") + std::strerror(errno));
    }
    return path;
}

pid_t startWorkload(const char *name, const std::string &program, const std::string &stateDir)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; ++fd) {
            ::dup2(null, fd);
        }
        ::close_range(3, ~0u, 0);
        if (::chdir(stateDir.c_str()) != 0) {
            _exit(126);
        }
        ::execl(program.c_str(), program.c_str(), stateDir.c_str(), nullptr);
        _exit(127);
    }
    if (pid < 0) {
        fail(name, "fork failed");
    }
    const auto start = std::chrono::steady_clock::now();
    while (!std::filesystem::exists(stateDir + "/ready")) {
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(15)) {
            fail(name, program + " did not get ready");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pid;
}

std::vector<pid_t> treeOf(pid_t pid)
{
    std::vector<pid_t> tree {pid};
    for (size_t i = 0; i < tree.size(); ++i) {
        for (const pid_t child : childrenOf(tree[i])) {
            tree.push_back(child);
        }
    }
    return tree;
}

bool exists(pid_t pid)
{
    return std::filesystem::exists("/proc/" + std::to_string(pid));
}

cryopod::Result<cryopod::engine::CheckpointResult> checkpointToFile(pid_t root, const std::string &image, bool leaveRunning, bool tcpEstablished)
{
    const int out = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cryopod::engine::CheckpointOptions options;
    options.leaveRunning = leaveRunning;
    options.tcpEstablished = tcpEstablished;
    auto result = cryopod::engine::checkpoint(root, out, options);
    if (out >= 0) {
        ::close(out);
    }
    return result;
}

cryopod::Result<cryopod::engine::RestoreResult> restoreFromFile(const std::string &image)
{
    const int in = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
    auto result = cryopod::engine::restore(in, cryopod::engine::RestoreOptions {});
    if (in >= 0) {
        ::close(in);
    }
    return result;
}

std::vector<cryopod::image::Section> readImageSections(const char *name, const std::string &path, cryopod::image::Header *header)
{
    cryopod::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    auto reader = cryopod::image::ImageReader::open(in.get());
    if (!reader) {
        fail(name, "read " + path + ": " + reader.error().describe());
    }
    *header = (*reader)->header();
    std::vector<cryopod::image::Section> sections;
    for (;;) {
        auto section = (*reader)->next();
        if (!section) {
            fail(name, "read " + path + ": " + section.error().describe());
        }
        if (std::holds_alternative<cryopod::image::EndRecord>(*section)) {
            return sections;
        }
        sections.push_back(std::move(*section));
    }
}

void writeImageSections(const char *name, const std::string &path, const cryopod::image::Header &header, const std::vector<cryopod::image::Section> &sections)
{
    cryopod::UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto writer = cryopod::image::ImageWriter::create(out.get(), header);
    if (!writer) {
        fail(name, "write " + path + ": " + writer.error().describe());
    }
    for (const cryopod::image::Section &section : sections) {
        auto written = std::visit(
            [&](const auto &record) -> cryopod::Result<void> {
                if constexpr (std::is_same_v<std::decay_t<decltype(record)>, cryopod::image::EndRecord>) {
                    return {}; // not kept: finish() writes it
                } else {
                    return (*writer)->write(record);
                }
            },
            section);
        if (!written) {
            fail(name, "write " + path + ": " + written.error().describe());
        }
    }
    if (auto finished = (*writer)->finish(); !finished) {
        fail(name, "write " + path + ": " + finished.error().describe());
    }
}

void killAndWaitGone(const char *name, const std::vector<pid_t> &pids, const std::function<void()> &cleanup)
{
    for (const pid_t pid : pids) {
        ::kill(pid, SIGKILL);
    }
    const auto killedAt = std::chrono::steady_clock::now();
    for (;;) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
        bool left = false;
        for (const pid_t pid : pids) {
            left = left || exists(pid);
        }
        if (!left) {
            return;
        }
        if (std::chrono::steady_clock::now() - killedAt > std::chrono::seconds(5)) {
            if (cleanup) {
                cleanup();
            }
            fail(name, "the killed processes did not go away");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void letGoAndCheck(const char *name, pid_t root, const std::string &stateDir, const std::function<void()> &cleanup)
{
    const int go = ::open((stateDir + "/go").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (go >= 0) {
        ::close(go);
    }
    int status = 0;
    const bool passed = ::waitpid(root, &status, 0) == root && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (cleanup) {
        cleanup();
    }
    if (!passed) {
        fail(name, "the workload did not pass its checks: " + readFile(stateDir + "/result"));
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
    std::error_code ec;
    std::filesystem::remove_all(stateDir, ec);
}

} // namespace crtest
