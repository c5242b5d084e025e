// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "storetestsupport.h"

#include "engine.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace StoreTestSupport
{

std::string churnPath()
{
    return STORE_CHURN_PATH;
}

std::string readFile(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool writeFile(const std::string &path, const std::string &data)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
    return bool(f);
}

void becomeSubreaper()
{
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

Churn::~Churn()
{
    kill();
}

void Churn::kill()
{
    if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) { }
        m_pid = 0;
    }
}

bool Churn::start(const std::string &dir, unsigned mib, double percent, unsigned seed)
{
    m_log = dir + "/churn-" + std::to_string(seed) + "-" + std::to_string(::getpid()) + "-" + std::to_string(mib) + ".log";
    ::unlink(m_log.c_str());
    m_seen = 0;
    const std::string exe = churnPath();
    const std::string size = std::to_string(mib);
    const std::string pct = std::to_string(percent);
    const std::string sd = std::to_string(seed);
    m_pid = ::fork();
    if (m_pid == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        const int log = ::open(m_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(null, 0);
        ::dup2(log, 1);
        ::dup2(null, 2);
        ::syscall(SYS_close_range, 3, ~0u, 0);
        ::execl(exe.c_str(), exe.c_str(), size.c_str(), pct.c_str(), sd.c_str(), static_cast<char *>(nullptr));
        ::_exit(127);
    }
    return m_pid > 0 && waitForLine("ready ", nullptr, 60000);
}

bool Churn::waitForLine(const std::string &prefix, std::string *line, int timeoutMs)
{
    for (int waited = 0; waited <= timeoutMs; waited += 10) {
        std::istringstream in(readFile(m_log));
        size_t n = 0;
        for (std::string l; std::getline(in, l); ++n) {
            if (n < m_seen) {
                continue;
            }
            if (in.eof()) {
                break; // a line still being written
            }
            if (l.starts_with(prefix)) {
                m_seen = n + 1;
                if (line) {
                    *line = l;
                }
                return true;
            }
        }
        ::usleep(10 * 1000);
    }
    return false;
}

bool Churn::change()
{
    ::kill(m_pid, SIGUSR1);
    const bool ok = waitForLine("changed " + std::to_string(m_generation + 1) + " ", nullptr);
    if (ok) {
        ++m_generation;
    }
    return ok;
}

std::string Churn::hash()
{
    ::kill(m_pid, SIGUSR2);
    std::string line;
    if (!waitForLine("hash ", &line)) {
        return {};
    }
    return line;
}

bool Churn::checkpointTo(const std::string &path, bool compress) const
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return false;
    }
    cryopod::engine::CheckpointOptions options;
    options.leaveRunning = true;
    options.compress = compress;
    auto r = cryopod::engine::checkpoint(m_pid, fd, options);
    ::close(fd);
    if (!r) {
        std::fprintf(stderr, "checkpoint %d: %s\n", int(m_pid), r.error().describe().c_str());
    }
    return bool(r);
}

int run(const std::vector<std::string> &argv, const std::vector<std::string> &env, std::string *output)
{
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        return -1;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(pipefd[1], 1);
        ::dup2(pipefd[1], 2);
        for (const std::string &e : env) {
            ::putenv(const_cast<char *>(e.c_str()));
        }
        std::vector<char *> args;
        for (const std::string &a : argv) {
            args.push_back(const_cast<char *>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        out.append(buf, size_t(n));
    }
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
    if (output) {
        *output = out;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t treeBytes(const std::string &dir)
{
    uint64_t total = 0;
    DIR *d = ::opendir(dir.c_str());
    if (!d) {
        return 0;
    }
    while (const dirent *e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        struct stat st {};
        const std::string path = dir + "/" + name;
        if (::lstat(path.c_str(), &st) == 0) {
            total += S_ISDIR(st.st_mode) ? treeBytes(path) : uint64_t(st.st_size);
        }
    }
    ::closedir(d);
    return total;
}

std::vector<std::string> listDir(const std::string &dir)
{
    std::vector<std::string> names;
    DIR *d = ::opendir(dir.c_str());
    if (!d) {
        return names;
    }
    while (const dirent *e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(d);
    return names;
}

} // namespace StoreTestSupport
