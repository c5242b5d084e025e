// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "schedulematch.h"

#include "targetprobe.h"

#include <QRegularExpression>
#include <QString>

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>

namespace cryopod::schedule
{

namespace
{
// A pid with the same start time, read the same way, within a second: the
// kernel's boot time (which the start time counts from) moves when the
// clock is stepped; a reused pid would need pid_max processes in between.
constexpr int64_t kStartTolerance = 1000000000;

std::string readSmall(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// State letter of /proc/PID/stat, 0 when gone.
char processState(pid_t pid)
{
    const std::string stat = readSmall("/proc/" + std::to_string(pid) + "/stat");
    const size_t close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

bool running(pid_t pid)
{
    const char state = processState(pid);
    return state != 0 && state != 'Z' && state != 'X';
}

// The arguments after argv[0], joined by spaces.
std::string argumentsOf(const std::string &cmdline)
{
    const size_t space = cmdline.find(' ');
    return space == std::string::npos ? std::string() : cmdline.substr(space + 1);
}
} // namespace

Result<ScheduleTarget> ScheduleMatch::processTarget(pid_t pid)
{
    if (!running(pid)) {
        return fail("process " + std::to_string(pid) + " is not running", ESRCH);
    }
    auto info = store::TargetProbe::probe(pid);
    if (!info) {
        return std::unexpected(info.error());
    }
    if (info->startTimeNs <= 0) {
        return fail("cannot read the start time of process " + std::to_string(pid), EIO);
    }
    ScheduleTarget t;
    t.kind = ScheduleTarget::Kind::Process;
    t.pid = int32_t(pid);
    t.startTimeNs = info->startTimeNs;
    t.exe = info->exe;
    t.uid = info->uid;
    return t;
}

Result<ScheduleTarget> ScheduleMatch::ruleTarget(const std::string &exe, const std::string &argsRegex, uint32_t uid)
{
    if (exe.empty() || exe.front() != '/') {
        return fail("a rule needs the absolute path of an executable, not '" + exe + "'", EINVAL);
    }
    const QRegularExpression re(QString::fromStdString(argsRegex));
    if (!re.isValid()) {
        return fail("'" + argsRegex + "' is not a regular expression: " + re.errorString().toStdString() + " at offset " +
                        std::to_string(re.patternErrorOffset()),
                    EINVAL);
    }
    ScheduleTarget t;
    t.kind = ScheduleTarget::Kind::Rule;
    t.exe = exe;
    t.argsRegex = argsRegex;
    t.uid = uid;
    return t;
}

std::optional<pid_t> ScheduleMatch::resolve(const ScheduleTarget &target)
{
    if (target.kind == ScheduleTarget::Kind::Process) {
        if (!running(target.pid)) {
            return std::nullopt;
        }
        auto info = store::TargetProbe::probe(target.pid);
        if (!info || std::llabs(info->startTimeNs - target.startTimeNs) > kStartTolerance) {
            return std::nullopt;
        }
        return pid_t(target.pid);
    }
    const QRegularExpression re(QString::fromStdString(target.argsRegex));
    if (!re.isValid()) {
        return std::nullopt;
    }
    std::optional<pid_t> best;
    int64_t bestStart = 0;
    DIR *proc = ::opendir("/proc");
    if (!proc) {
        return std::nullopt;
    }
    while (const dirent *entry = ::readdir(proc)) {
        char *end = nullptr;
        const long pid = std::strtol(entry->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || !running(pid_t(pid))) {
            continue;
        }
        auto info = store::TargetProbe::probe(pid_t(pid));
        if (!info || info->uid != target.uid || info->exe != target.exe) {
            continue;
        }
        if (!re.match(QString::fromStdString(argumentsOf(info->cmdline))).hasMatch()) {
            continue;
        }
        if (!best || info->startTimeNs < bestStart || (info->startTimeNs == bestStart && pid < *best)) {
            best = pid_t(pid);
            bestStart = info->startTimeNs;
        }
    }
    ::closedir(proc);
    return best;
}

} // namespace cryopod::schedule
