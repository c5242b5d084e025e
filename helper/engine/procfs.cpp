// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "procfs.h"

#include "uniquefd.h"

#include <algorithm>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace cryopod::engine::procfs
{

// ---- dump

namespace
{

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

template<typename T>
bool parseNumber(std::string_view s, T &out, int base = 10)
{
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && ptr == s.data() + s.size();
}


// Parses "start-end perms offset major:minor inode   path" into m.
bool parseMapsLine(std::string_view line, Mapping &m)
{
    auto next = [&line]() {
        while (!line.empty() && line.front() == ' ') {
            line.remove_prefix(1);
        }
        const size_t sp = line.find(' ');
        std::string_view field = line.substr(0, sp);
        line.remove_prefix(sp == std::string_view::npos ? line.size() : sp);
        return field;
    };
    const std::string_view range = next();
    const std::string_view perms = next();
    const std::string_view offset = next();
    const std::string_view dev = next();
    const std::string_view inode = next();
    const size_t dash = range.find('-');
    const size_t colon = dev.find(':');
    if (dash == std::string_view::npos || colon == std::string_view::npos || perms.size() != 4) {
        return false;
    }
    if (!parseNumber(range.substr(0, dash), m.start, 16) || !parseNumber(range.substr(dash + 1), m.end, 16) || !parseNumber(offset, m.offset, 16)
        || !parseNumber(dev.substr(0, colon), m.devMajor, 16) || !parseNumber(dev.substr(colon + 1), m.devMinor, 16) || !parseNumber(inode, m.inode)) {
        return false;
    }
    m.read = perms[0] == 'r';
    m.write = perms[1] == 'w';
    m.exec = perms[2] == 'x';
    m.shared = perms[3] == 's';
    // The path is what remains after the padding; it may contain spaces.
    while (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
    }
    m.path = std::string(line);
    return true;
}

bool isMapsLine(std::string_view line)
{
    // A maps line starts with "hex-hex "; smaps detail lines start with "Key:".
    const size_t dash = line.find('-');
    const size_t space = line.find(' ');
    return dash != std::string_view::npos && space != std::string_view::npos && dash < space;
}

Result<std::vector<Mapping>> parseMapsText(const std::string &text, bool smaps, const std::string &file)
{
    std::vector<Mapping> out;
    std::string_view rest = text;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        if (line.empty()) {
            continue;
        }
        if (!smaps || isMapsLine(line)) {
            Mapping m;
            if (!parseMapsLine(line, m)) {
                return fail(file + ": cannot parse line \"" + std::string(line) + "\"");
            }
            out.push_back(std::move(m));
            continue;
        }
        if (out.empty()) {
            return fail(file + ": detail line before the first mapping");
        }
        Mapping &m = out.back();
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const std::string_view key = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (key == "VmFlags") {
            for (const std::string_view w : words(value)) {
                m.vmFlags.emplace_back(w);
            }
            continue;
        }
        uint64_t *target = nullptr;
        if (key == "Rss") {
            target = &m.rssKiB;
        } else if (key == "Anonymous") {
            target = &m.anonKiB;
        } else if (key == "Swap") {
            target = &m.swapKiB;
        }
        if (target) {
            const auto w = words(value);
            if (!w.empty()) {
                parseNumber(w[0], *target);
            }
        }
    }
    return out;
}

Result<std::vector<int>> listNumericDir(const std::string &dir)
{
    DIR *d = ::opendir(dir.c_str());
    if (!d) {
        return sysError("open " + dir);
    }
    std::vector<int> out;
    errno = 0;
    while (const dirent *e = ::readdir(d)) {
        int n = 0;
        if (parseNumber(std::string_view(e->d_name), n)) {
            out.push_back(n);
        }
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) {
        errno = err;
        return sysError("read " + dir);
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

std::string path(pid_t pid, std::string_view rest)
{
    std::string p = "/proc/" + std::to_string(pid);
    if (!rest.empty()) {
        p += '/';
        p += rest;
    }
    return p;
}

Result<std::string> readFile(const std::string &file)
{
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return sysError("open " + file);
    }
    std::string out;
    size_t used = 0;
    out.resize(4096);
    for (;;) {
        if (used == out.size()) {
            out.resize(out.size() * 2);
        }
        const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sysError("read " + file);
        }
        if (n == 0) {
            break;
        }
        used += size_t(n);
    }
    out.resize(used);
    return out;
}

Result<std::string> readLink(const std::string &link)
{
    std::string out(256, '\0');
    for (;;) {
        const ssize_t n = ::readlink(link.c_str(), out.data(), out.size());
        if (n < 0) {
            return sysError("readlink " + link);
        }
        if (size_t(n) < out.size()) {
            out.resize(size_t(n));
            return out;
        }
        out.resize(out.size() * 2);
    }
}

Result<Status> readStatus(pid_t pid, pid_t tid)
{
    const std::string file = tid == 0 ? path(pid, "status") : path(pid, "task/" + std::to_string(tid) + "/status");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    Status status;
    std::string_view rest = *text;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        status.emplace(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    }
    return status;
}

Result<uint64_t> statusHex(const Status &status, std::string_view key)
{
    const auto it = status.find(key);
    uint64_t value = 0;
    if (it == status.end() || !parseNumber(std::string_view(it->second), value, 16)) {
        return fail("status: no hex field " + std::string(key));
    }
    return value;
}

Result<std::vector<uint64_t>> statusNumbers(const Status &status, std::string_view key)
{
    const auto it = status.find(key);
    if (it == status.end()) {
        return fail("status: no field " + std::string(key));
    }
    std::vector<uint64_t> out;
    for (const std::string_view w : words(it->second)) {
        uint64_t value = 0;
        if (!parseNumber(w, value)) {
            return fail("status: bad number in " + std::string(key) + ": " + it->second);
        }
        out.push_back(value);
    }
    return out;
}

char Stat::state() const
{
    return fields.size() > 2 && !fields[2].empty() ? fields[2][0] : '?';
}

std::string commOf(pid_t pid)
{
    auto stat = readStat(pid);
    return stat && stat->fields.size() > 1 ? stat->fields[1] : std::string("?");
}

bool Stat::kernelThread() const
{
    constexpr uint64_t kPfKthread = 0x00200000;
    return (number(9) & kPfKthread) != 0;
}

uint64_t Stat::number(size_t n) const
{
    if (n == 0 || n > fields.size()) {
        return 0;
    }
    const std::string &s = fields[n - 1];
    if (!s.empty() && s[0] == '-') {
        int64_t v = 0;
        parseNumber(std::string_view(s), v);
        return uint64_t(v);
    }
    uint64_t v = 0;
    parseNumber(std::string_view(s), v);
    return v;
}

Result<Stat> readStat(pid_t pid, pid_t tid)
{
    const std::string file = tid ? path(pid, "task/" + std::to_string(tid) + "/stat") : path(pid, "stat");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    // "pid (comm) state ...": comm may contain spaces and parentheses, so it
    // ends at the last ')'.
    const size_t open = text->find('(');
    const size_t close = text->rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) {
        return fail(file + ": unexpected format");
    }
    Stat st;
    st.fields.push_back(std::string(trim(std::string_view(*text).substr(0, open))));
    st.fields.push_back(text->substr(open + 1, close - open - 1));
    for (const std::string_view w : words(trim(std::string_view(*text).substr(close + 1)))) {
        st.fields.emplace_back(w);
    }
    return st;
}

bool Mapping::hasVmFlag(std::string_view flag) const
{
    return std::find(vmFlags.begin(), vmFlags.end(), flag) != vmFlags.end();
}

bool Mapping::deleted() const
{
    return path.ends_with(" (deleted)");
}

std::string Mapping::pathWithoutDeleted() const
{
    return deleted() ? path.substr(0, path.size() - 10) : path;
}

Result<std::vector<Mapping>> readMaps(pid_t pid)
{
    const std::string file = path(pid, "maps");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    return parseMapsText(*text, false, file);
}

Result<std::vector<Mapping>> readSmaps(pid_t pid)
{
    const std::string file = path(pid, "smaps");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    return parseMapsText(*text, true, file);
}

bool sameMapsLine(const Mapping &a, const Mapping &b)
{
    return a.start == b.start && a.end == b.end && a.read == b.read && a.write == b.write && a.exec == b.exec && a.shared == b.shared
        && a.offset == b.offset && a.devMajor == b.devMajor && a.devMinor == b.devMinor && a.inode == b.inode && a.path == b.path;
}

std::optional<std::vector<Mapping>> withSmapsOf(std::vector<Mapping> maps, const std::vector<Mapping> &smaps)
{
    size_t j = 0;
    for (Mapping &m : maps) {
        while (j < smaps.size() && smaps[j].start < m.start) {
            ++j;
        }
        if (j == smaps.size() || !sameMapsLine(m, smaps[j])) {
            return std::nullopt;
        }
        m.vmFlags = smaps[j].vmFlags;
        m.rssKiB = smaps[j].rssKiB;
        m.anonKiB = smaps[j].anonKiB;
        m.swapKiB = smaps[j].swapKiB;
    }
    return maps;
}

Result<std::vector<int>> listFds(pid_t pid)
{
    return listNumericDir(path(pid, "fd"));
}

Result<std::vector<pid_t>> listThreads(pid_t pid)
{
    auto tids = listNumericDir(path(pid, "task"));
    if (!tids) {
        return std::unexpected(tids.error());
    }
    std::vector<pid_t> out(tids->begin(), tids->end());
    // The leader first.
    const auto it = std::find(out.begin(), out.end(), pid);
    if (it != out.end()) {
        std::rotate(out.begin(), it, it + 1);
    }
    return out;
}

pid_t kthreadd()
{
    constexpr pid_t kKthreadd = 2;
    auto stat = readStat(kKthreadd);
    return stat && stat->kernelThread() ? kKthreadd : 0;
}

WithoutMm WithoutMm::find()
{
    WithoutMm test;
    test.m_kthreadd = kthreadd();
    return test;
}

bool WithoutMm::operator()(pid_t pid) const
{
    return m_kthreadd != 0 && ::syscall(SYS_kcmp, m_kthreadd, pid, KCMP_VM, 0, 0) == 0;
}

bool waitsInVfork(pid_t pid)
{
    constexpr uint64_t kCloneVfork = 0x4000;
    constexpr long kVfork = 58, kClone = 56, kClone3 = 435; // x86-64
    auto tids = listThreads(pid);
    if (!tids) {
        return false;
    }
    for (const pid_t tid : *tids) {
        auto stat = readStat(pid, tid);
        if (!stat || stat->state() != 'D') {
            continue;
        }
        // "NR ARG0 ARG1 ... SP PC" while in a system call; "-1 SP PC" or
        // "running" otherwise.
        auto text = readFile(path(pid, "task/" + std::to_string(tid) + "/syscall"));
        if (!text) {
            continue;
        }
        const std::vector<std::string_view> fields = words(*text);
        if (fields.size() < 2) {
            continue;
        }
        long nr = -1;
        uint64_t arg0 = 0;
        std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), nr);
        const std::string_view hex = fields[1].starts_with("0x") ? fields[1].substr(2) : fields[1];
        std::from_chars(hex.data(), hex.data() + hex.size(), arg0, 16);
        if (nr == kVfork || (nr == kClone && (arg0 & kCloneVfork) != 0)) {
            return true;
        }
        if (nr == kClone3) {
            // struct clone_args starts with the flags.
            uint64_t flags = 0;
            iovec local {&flags, sizeof flags};
            iovec remote {reinterpret_cast<void *>(arg0), sizeof flags};
            if (::process_vm_readv(tid, &local, 1, &remote, 1, 0) == ssize_t(sizeof flags) && (flags & kCloneVfork) != 0) {
                return true;
            }
        }
    }
    return false;
}

Result<std::vector<pid_t>> listChildren(pid_t pid)
{
    auto tids = listThreads(pid);
    if (!tids) {
        return std::unexpected(tids.error());
    }
    std::vector<pid_t> out;
    for (const pid_t tid : *tids) {
        auto text = readFile(path(pid, "task/" + std::to_string(tid) + "/children"));
        if (!text) {
            if (text.error().code == ENOENT) {
                continue; // the thread is gone
            }
            return std::unexpected(text.error());
        }
        for (const std::string_view w : words(trim(*text))) {
            pid_t child = 0;
            if (parseNumber(w, child)) {
                out.push_back(child);
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<FdInfo> readFdInfo(pid_t pid, int fd)
{
    const std::string file = path(pid, "fdinfo/" + std::to_string(fd));
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    FdInfo info;
    bool havePos = false, haveFlags = false;
    std::string_view rest = *text;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        const size_t colon = line.find(':');
        const std::string_view key = line.substr(0, colon);
        const std::string_view value = colon == std::string_view::npos ? std::string_view() : trim(line.substr(colon + 1));
        if (key == "pos") {
            havePos = parseNumber(value, info.pos);
        } else if (key == "flags") {
            haveFlags = parseNumber(value, info.flags, 8);
        } else if (key == "mnt_id") {
            parseNumber(value, info.mntId);
        } else if (key == "ino") {
            // the inode number, also in fstat
        } else if (!line.empty()) {
            info.extraLines.emplace_back(line);
        }
    }
    if (!havePos || !haveFlags) {
        return fail(file + ": no pos or flags");
    }
    return info;
}

Result<std::vector<uint64_t>> readAuxv(pid_t pid)
{
    const std::string file = path(pid, "auxv");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    if (text->size() % 16 != 0) {
        return fail(file + ": size " + std::to_string(text->size()) + " is not a multiple of 16");
    }
    std::vector<uint64_t> out(text->size() / 8);
    std::copy_n(text->data(), text->size(), reinterpret_cast<char *>(out.data()));
    // Cut after the first AT_NULL pair.
    for (size_t i = 0; i + 1 < out.size(); i += 2) {
        if (out[i] == 0) {
            out.resize(i + 2);
            break;
        }
    }
    return out;
}

Result<std::vector<Limit>> readLimits(pid_t pid)
{
    const std::string file = path(pid, "limits");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    // "Limit                     Soft Limit           Hard Limit           Units"
    // then one line per resource in RLIMIT_* order; the name is padded to 25
    // characters plus a blank, the limits follow as words.
    constexpr size_t kNameWidth = 26;
    std::vector<Limit> out;
    std::string_view rest = *text;
    bool header = true;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        if (header) {
            header = false;
            continue;
        }
        if (line.size() <= kNameWidth) {
            continue;
        }
        const auto w = words(line.substr(kNameWidth));
        if (w.size() < 2) {
            return fail(file + ": cannot parse \"" + std::string(line) + "\"");
        }
        Limit limit;
        uint64_t *const targets[2] = {&limit.soft, &limit.hard};
        for (size_t i = 0; i < 2; ++i) {
            if (w[i] == "unlimited") {
                *targets[i] = UINT64_MAX;
            } else if (!parseNumber(w[i], *targets[i])) {
                return fail(file + ": cannot parse \"" + std::string(line) + "\"");
            }
        }
        out.push_back(limit);
    }
    return out;
}

Result<uint32_t> readPersonality(pid_t pid)
{
    const std::string file = path(pid, "personality");
    auto text = readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    uint32_t value = 0;
    if (!parseNumber(trim(*text), value, 16)) {
        return fail(file + ": cannot parse \"" + *text + "\"");
    }
    return value;
}

// ---- restore

std::vector<std::string_view> words(std::string_view s)
{
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
            ++i;
        }
        const size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
            ++i;
        }
        if (i > start) {
            out.push_back(s.substr(start, i - start));
        }
    }
    return out;
}

std::optional<std::vector<std::string>> findSocketLine(pid_t pid, const char *table, size_t inodeColumn, uint64_t inode)
{
    auto text = readFile(path(pid, std::string("net/") + table));
    if (!text) {
        return std::nullopt;
    }
    std::string_view rest = *text;
    bool header = true;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        if (header) {
            header = false;
            continue;
        }
        const auto w = words(line);
        uint64_t value = 0;
        if (w.size() > inodeColumn && parseNumber(w[inodeColumn], value) && value == inode) {
            return std::vector<std::string>(w.begin(), w.end());
        }
    }
    return std::nullopt;
}

std::optional<std::vector<std::string>> findSocketLineByPath(const std::string &socketPath)
{
    auto text = readFile("/proc/self/net/unix");
    if (!text) {
        return std::nullopt;
    }
    std::string_view rest = *text;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const auto w = words(rest.substr(0, nl));
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        if (w.size() > 7 && w[7] == socketPath) {
            return std::vector<std::string>(w.begin(), w.end());
        }
    }
    return std::nullopt;
}

} // namespace cryopod::engine::procfs
