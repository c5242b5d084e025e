// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "targetprobe.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <pwd.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace cryopod::store
{

namespace
{
bool readFile(const std::string &path, std::string &out)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        return false;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
}

// Boot time in seconds since the epoch (/proc/stat btime).
int64_t bootTime()
{
    std::string stat;
    if (!readFile("/proc/stat", stat)) {
        return 0;
    }
    const size_t at = stat.find("\nbtime ");
    return at == std::string::npos ? 0 : std::strtoll(stat.c_str() + at + 7, nullptr, 10);
}
} // namespace

Result<TargetInfo> TargetProbe::probe(pid_t pid)
{
    const std::string proc = "/proc/" + std::to_string(pid);
    TargetInfo t;
    t.pid = int32_t(pid);
    struct stat st {};
    if (::stat(proc.c_str(), &st) != 0) {
        return sysError("probe process " + std::to_string(pid));
    }
    t.uid = st.st_uid;
    if (const passwd *pw = ::getpwuid(st.st_uid)) {
        t.user = pw->pw_name;
    }
    char exe[4096];
    const ssize_t n = ::readlink((proc + "/exe").c_str(), exe, sizeof exe - 1);
    if (n > 0) {
        t.exe.assign(exe, size_t(n));
    }
    std::string cmdline;
    if (readFile(proc + "/cmdline", cmdline)) {
        while (!cmdline.empty() && cmdline.back() == '\0') {
            cmdline.pop_back();
        }
        for (char &c : cmdline) {
            if (c == '\0') {
                c = ' ';
            }
        }
        t.cmdline = cmdline;
    }
    std::string stat;
    if (!readFile(proc + "/stat", stat)) {
        return sysError("read " + proc + "/stat");
    }
    // field 22 (starttime, clock ticks after boot) counts from after the ")" of comm
    const size_t close = stat.rfind(')');
    if (close != std::string::npos) {
        std::istringstream fields(stat.substr(close + 2));
        std::string field;
        for (int i = 3; i <= 22 && (fields >> field); ++i) {
            if (i == 22) {
                const long ticks = sysconf(_SC_CLK_TCK);
                const long long start = std::strtoll(field.c_str(), nullptr, 10);
                t.startTimeNs = bootTime() * 1000000000LL + (ticks > 0 ? start * (1000000000LL / ticks) : 0);
            }
        }
    }
    utsname uts {};
    if (::uname(&uts) == 0) {
        t.host = uts.nodename;
        t.kernel = uts.release;
    }
    return t;
}

} // namespace cryopod::store
