// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "procstatus.h"

#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace ProcStatus
{

namespace
{

std::vector<std::string_view> words(std::string_view line)
{
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n')) {
            ++i;
        }
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\n') {
            ++i;
        }
        if (i > start) {
            out.push_back(line.substr(start, i - start));
        }
    }
    return out;
}

template<typename T>
bool number(std::string_view text, T &out, int base = 10)
{
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// The value of "Key:\t..." in status text, without the key.
std::optional<std::string_view> field(std::string_view text, std::string_view key)
{
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const std::string_view line = text.substr(pos, end - pos);
        if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
            return line.substr(key.size() + 1);
        }
        pos = end + 1;
    }
    return std::nullopt;
}

template<typename T>
bool four(std::string_view text, std::string_view key, T &a, T &b, T &c, T &d)
{
    const auto value = field(text, key);
    if (!value) {
        return false;
    }
    const auto w = words(*value);
    return w.size() == 4 && number(w[0], a) && number(w[1], b) && number(w[2], c) && number(w[3], d);
}

bool hex(std::string_view text, std::string_view key, uint64_t &out)
{
    const auto value = field(text, key);
    if (!value) {
        return false;
    }
    const auto w = words(*value);
    return w.size() == 1 && number(w[0], out, 16);
}

} // namespace

std::optional<Creds> parseStatus(std::string_view text)
{
    Creds c;
    if (!four(text, "Uid", c.uid, c.euid, c.suid, c.fsuid) || !four(text, "Gid", c.gid, c.egid, c.sgid, c.fsgid)) {
        return std::nullopt;
    }
    const auto groups = field(text, "Groups");
    if (!groups) {
        return std::nullopt;
    }
    for (std::string_view g : words(*groups)) {
        gid_t gid = 0;
        if (!number(g, gid)) {
            return std::nullopt;
        }
        c.groups.push_back(gid);
    }
    if (!hex(text, "CapInh", c.capInh) || !hex(text, "CapPrm", c.capPrm) || !hex(text, "CapEff", c.capEff) || !hex(text, "CapBnd", c.capBnd)) {
        return std::nullopt;
    }
    hex(text, "CapAmb", c.capAmb); // since 4.3; absent means none
    if (const auto nnp = field(text, "NoNewPrivs")) {
        const auto w = words(*nnp);
        c.noNewPrivs = w.size() == 1 && w[0] == "1";
    }
    if (const auto name = field(text, "Name")) {
        std::string_view n = *name;
        while (!n.empty() && (n.front() == '\t' || n.front() == ' ')) {
            n.remove_prefix(1);
        }
        c.name = std::string(n);
    }
    return c;
}

std::optional<Stat> parseStat(std::string_view text)
{
    const size_t paren = text.rfind(')');
    if (paren == std::string_view::npos) {
        return std::nullopt;
    }
    const auto w = words(text.substr(paren + 1));
    // After the comm: state(3) ppid(4) pgrp session tty_nr tpgid flags(9)
    if (w.size() < 7 || w[0].size() != 1) {
        return std::nullopt;
    }
    Stat s;
    s.state = w[0][0];
    if (!number(w[1], s.ppid) || !number(w[6], s.flags)) {
        return std::nullopt;
    }
    return s;
}

std::optional<Limits> parseLimits(std::string_view text)
{
    // "Limit                     Soft Limit           Hard Limit           Units"
    // "Max cpu time              unlimited            unlimited            seconds"
    // The name column is 26 characters wide; soft and hard are the next words.
    Limits limits{};
    size_t pos = text.find('\n');
    if (pos == std::string_view::npos) {
        return std::nullopt;
    }
    ++pos;
    size_t row = 0;
    while (pos < text.size() && row < limits.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() <= 26) {
            continue;
        }
        const auto w = words(line.substr(26));
        if (w.size() < 2) {
            return std::nullopt;
        }
        auto parse = [](std::string_view word, uint64_t &out) {
            if (word == "unlimited") {
                out = UINT64_MAX;
                return true;
            }
            return number(word, out);
        };
        if (!parse(w[0], limits[row].soft) || !parse(w[1], limits[row].hard)) {
            return std::nullopt;
        }
        ++row;
    }
    if (row < limits.size()) {
        return std::nullopt;
    }
    return limits;
}

cryopod::Result<ProcessDir> ProcessDir::open(pid_t pid)
{
    const std::string path = "/proc/" + std::to_string(pid);
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return cryopod::sysError("open " + path);
    }
    ProcessDir dir;
    dir.m_pid = pid;
    dir.m_fd = fd;
    return dir;
}

ProcessDir::ProcessDir(ProcessDir &&other) noexcept
    : m_pid(other.m_pid)
    , m_fd(std::exchange(other.m_fd, -1))
{
}

ProcessDir &ProcessDir::operator=(ProcessDir &&other) noexcept
{
    if (this != &other) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_pid = other.m_pid;
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

ProcessDir::~ProcessDir()
{
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

cryopod::Result<std::string> ProcessDir::read(const char *name) const
{
    const std::string what = "read /proc/" + std::to_string(m_pid) + "/" + name;
    const int fd = ::openat(m_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return cryopod::sysError(what);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            errno = err;
            return cryopod::sysError(what);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, size_t(n));
        if (text.size() > (1u << 20)) {
            break;
        }
    }
    ::close(fd);
    return text;
}

cryopod::Result<Creds> ProcessDir::creds() const
{
    auto text = read("status");
    if (!text) {
        return std::unexpected(text.error());
    }
    auto creds = parseStatus(*text);
    if (!creds) {
        return cryopod::fail("/proc/" + std::to_string(m_pid) + "/status: unexpected format", EPROTO);
    }
    return *creds;
}

cryopod::Result<Stat> ProcessDir::stat() const
{
    auto text = read("stat");
    if (!text) {
        return std::unexpected(text.error());
    }
    auto stat = parseStat(*text);
    if (!stat) {
        return cryopod::fail("/proc/" + std::to_string(m_pid) + "/stat: unexpected format", EPROTO);
    }
    return *stat;
}

cryopod::Result<Limits> ProcessDir::limits() const
{
    auto text = read("limits");
    if (!text) {
        return std::unexpected(text.error());
    }
    auto limits = parseLimits(*text);
    if (!limits) {
        return cryopod::fail("/proc/" + std::to_string(m_pid) + "/limits: unexpected format", EPROTO);
    }
    return *limits;
}

cryopod::Result<uid_t> ProcessDir::owner() const
{
    struct stat st{};
    if (::fstat(m_fd, &st) != 0) {
        return cryopod::sysError("stat /proc/" + std::to_string(m_pid));
    }
    return st.st_uid;
}

std::vector<pid_t> processTree(pid_t root)
{
    std::vector<pid_t> out;
    std::set<pid_t> seen;
    std::vector<pid_t> queue{root};
    for (size_t i = 0; i < queue.size(); ++i) {
        const pid_t pid = queue[i];
        if (!seen.insert(pid).second) {
            continue;
        }
        const std::string taskDir = "/proc/" + std::to_string(pid) + "/task";
        DIR *dir = ::opendir(taskDir.c_str());
        if (!dir) {
            continue; // gone
        }
        out.push_back(pid);
        while (const dirent *entry = ::readdir(dir)) {
            if (entry->d_name[0] == '.') {
                continue;
            }
            const std::string children = taskDir + "/" + entry->d_name + "/children";
            const int fd = ::open(children.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            std::string text;
            char buf[1024];
            ssize_t n;
            while ((n = ::read(fd, buf, sizeof buf)) > 0) {
                text.append(buf, size_t(n));
            }
            ::close(fd);
            for (std::string_view w : words(text)) {
                pid_t child = 0;
                if (number(w, child) && child > 0) {
                    queue.push_back(child);
                }
            }
        }
        ::closedir(dir);
    }
    return out;
}

} // namespace ProcStatus
