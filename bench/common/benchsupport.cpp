// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "benchsupport.h"

#include <cerrno>
#include <csignal>
#include <thread>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/mman.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace cryopod::bench
{
double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int onlineCpus()
{
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? int(n) : 1;
}

std::string selfDir()
{
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        return ".";
    }
    std::string path(buf, size_t(n));
    return path.substr(0, path.rfind('/'));
}

std::string readFileText(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool findProgram(const char *name, std::string *path)
{
    const char *env = std::getenv("PATH");
    std::string dirs = std::string(env ? env : "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::stringstream ss(dirs);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        if (dir.empty()) {
            continue;
        }
        const std::string candidate = dir + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0) {
            *path = candidate;
            return true;
        }
    }
    return false;
}

// Runs a program with stdout/stderr into logPath; returns its exit status (or -1).
int runProgram(const std::vector<std::string> &argv, const std::vector<std::string> &extraEnv, const std::string &logPath)
{
    const pid_t pid = fork();
    if (pid == 0) {
        const int log = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
        close_range(3, ~0u, 0);
        for (const std::string &e : extraEnv) {
            putenv(const_cast<char *>(e.c_str()));
        }
        std::vector<char *> args;
        for (const std::string &a : argv) {
            args.push_back(const_cast<char *>(a.c_str()));
        }
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- the workload ------------------------------------------------------------------

void removeTree(const std::string &dir)
{
    runProgram({"/bin/rm", "-rf", dir}, {}, "/dev/null");
}

double fsyncFiles(const std::string &dir)
{
    const double t0 = now();
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_regular_file(ec)) {
            const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                fsync(fd);
                close(fd);
            }
        }
    }
    return now() - t0;
}

namespace
{
double rusageSeconds(int who)
{
    rusage ru{};
    getrusage(who, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
} // namespace

double selfCpuSeconds()
{
    return rusageSeconds(RUSAGE_SELF);
}

double childrenCpuSeconds()
{
    return rusageSeconds(RUSAGE_CHILDREN);
}

double processCpuSeconds(pid_t pid)
{
    const std::string stat = readFileText("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream fields(stat.substr(close + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) {
        fields >> skip; // state .. cmajflt
    }
    unsigned long long utime = 0, stime = 0;
    fields >> utime >> stime;
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

std::string loadAverage()
{
    std::istringstream in(readFileText("/proc/loadavg"));
    std::string a, b, c;
    in >> a >> b >> c;
    return "load " + a + " " + b + " " + c;
}

std::string fileSystemType(const std::string &dir)
{
    // The longest mount point in /proc/self/mounts that dir lies under.
    std::error_code ec;
    const std::string path = std::filesystem::weakly_canonical(dir, ec).string();
    std::istringstream in(readFileText("/proc/self/mounts"));
    std::string line, best, type;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string device, mountPoint, fsType;
        fields >> device >> mountPoint >> fsType;
        const bool under = path == mountPoint || mountPoint == "/" || path.starts_with(mountPoint + "/");
        if (under && mountPoint.size() >= best.size()) {
            best = mountPoint;
            type = fsType;
        }
    }
    return type.empty() ? "unknown" : type;
}

void settleStorage(const std::string &dir)
{
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

double warmFreeMemory(uint64_t bytes)
{
    void *area = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        return 0;
    }
    madvise(area, bytes, MADV_NOHUGEPAGE); // page by page, as page-cache and process memory are filled
    auto *p = static_cast<volatile char *>(area);
    const double t0 = now();
    for (uint64_t offset = 0; offset < bytes; offset += 4096) {
        p[offset] = 1;
    }
    const double took = now() - t0;
    munmap(area, bytes);
    return took;
}

StoreFloor measureStoreFloor(const std::string &dir, uint64_t bytes)
{
    std::vector<uint8_t> piece(256u << 10);
    for (size_t i = 0; i < piece.size(); ++i) {
        piece[i] = uint8_t((i * 2654435761u) >> 13); // not zeros, not one repeated byte
    }
    const std::string path = dir + "/store-floor";
    StoreFloor f;
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return f;
    }
    const double cpu0 = selfCpuSeconds();
    const double t0 = now();
    for (uint64_t done = 0; done < bytes;) {
        const ssize_t n = write(fd, piece.data(), size_t(std::min<uint64_t>(piece.size(), bytes - done)));
        if (n <= 0) {
            break;
        }
        done += uint64_t(n);
    }
    f.seconds = now() - t0;
    f.cpuSeconds = selfCpuSeconds() - cpu0;
    close(fd);
    unlink(path.c_str());
    return f;
}

std::optional<DumpResult> criuDump(const std::string &criu, pid_t pid, const std::string &dir, bool fsync)
{
    mkdir(dir.c_str(), 0700);
    const double cpu0 = childrenCpuSeconds() + processCpuSeconds(pid);
    const double t0 = now();
    const int rc =
        runProgram({criu, "dump", "--leave-running", "-t", std::to_string(pid), "-D", dir, "-o", "dump.log"}, {"CRIU_FAULT=130"}, dir + "/run.log");
    const double t = now() - t0;
    if (rc != 0) {
        std::fprintf(stderr, "criu dump failed (exit %d); see %s/dump.log\n", rc, dir.c_str());
        return std::nullopt;
    }
    DumpResult r;
    r.seconds = t;
    r.cpuSeconds = childrenCpuSeconds() + processCpuSeconds(pid) - cpu0;
    r.pauseSeconds = t; // CRIU keeps the tree frozen for the whole dump
    if (fsync) {
        r.syncSeconds = fsyncFiles(dir);
    }
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".img") {
            r.imageBytes += entry.file_size(ec);
        }
    }
    return r;
}

std::optional<RestoreResult> criuRestore(const std::string &criu, const std::string &dir, Workload &workload, pid_t pid)
{
    const double t0 = now();
    const int rc = runProgram({criu, "restore", "-d", "-D", dir, "-o", "restore.log"}, {"CRIU_FAULT=130"}, dir + "/run.log");
    RestoreResult r;
    r.seconds = now() - t0;
    if (rc != 0) {
        std::fprintf(stderr, "criu restore failed (exit %d); see %s/restore.log\n", rc, dir.c_str());
        return std::nullopt;
    }
    workload.adopt(pid);
    r.verified = workload.verifyAndReap();
    return r;
}
Workload::Workload(std::string program, std::string outPath)
    : m_program(std::move(program))
    , m_out(std::move(outPath))
{
}

Workload::~Workload()
{
    kill();
}

bool Workload::start(const std::vector<std::string> &args)
{
    unlink(m_out.c_str());
    m_pid = fork();
    if (m_pid == 0) {
        setsid();
        const int out = open(m_out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        close_range(3, ~0u, 0);
        std::vector<char *> argv{const_cast<char *>(m_program.c_str())};
        for (const std::string &a : args) {
            argv.push_back(const_cast<char *>(a.c_str()));
        }
        argv.push_back(nullptr);
        execv(m_program.c_str(), argv.data());
        _exit(127);
    }
    return m_pid > 0 && waitFor("ready ", 180);
}

bool Workload::start(uint64_t sizeMiB)
{
    return start(std::vector<std::string>{std::to_string(sizeMiB)});
}

bool Workload::waitFor(const std::string &prefix, double timeoutSeconds) const
{
    const double deadline = now() + timeoutSeconds;
    while (now() < deadline) {
        if (!line(prefix).empty()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

std::string Workload::line(const std::string &prefix) const
{
    std::istringstream in(readFileText(m_out));
    std::string l;
    while (std::getline(in, l)) {
        if (l.starts_with(prefix)) {
            return l;
        }
    }
    return {};
}

bool Workload::verifyAndReap()
{
    if (m_pid <= 0) {
        return false;
    }
    ::kill(m_pid, SIGUSR1);
    const bool said = waitFor("verified ", 60);
    int status = 0;
    const pid_t r = waitpid(m_pid, &status, 0);
    m_pid = -1;
    return said && r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && readFileText(m_out).find("verified ok") != std::string::npos;
}

void Workload::kill()
{
    if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        waitpid(m_pid, nullptr, 0);
        m_pid = -1;
    }
}

} // namespace cryopod::bench
