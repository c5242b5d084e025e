// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The C API of libcryopod (include/cryopod/cryopod.h) over cryopod-helper's
// D-Bus interface (docs/dbus-interface.md), one bus connection per call.
#include "cryopod/cryopod.h"

#include "dbuswire.h"
#include "errors.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#define CRYOPOD_EXPORT __attribute__((visibility("default")))

using cryopod::lib::BusConnection;
using cryopod::lib::errnoOfError;
using cryopod::lib::failWith;
using cryopod::lib::logLine;
using cryopod::lib::Message;
using cryopod::lib::Value;

namespace
{

const char kService[] = "io.github.cryopod.Helper";
const char kPath[] = "/io/github/cryopod/Helper";
const char kInterface[] = "io.github.cryopod.Helper1";
const char kJobInterface[] = "io.github.cryopod.Job1";
constexpr uint8_t kAllowInteractiveAuthorization = 0x4;

// "the helper refused (NotAuthorized): ..." for an error reply or a Finished.
std::string describeError(const std::string &what, const std::string &name, const std::string &message)
{
    std::string shortName = name;
    if (const size_t dot = name.rfind('.'); dot != std::string::npos) {
        shortName = name.substr(dot + 1);
    }
    return what + ": " + shortName + ": " + message;
}

// What was connected, or -1 with errno and a line on logfd.
std::unique_ptr<BusConnection> connectHelperBus(int logfd, const char *what)
{
    std::string error;
    auto bus = BusConnection::connectSystem(error);
    if (!bus) {
        const int err = errno ? errno : ECONNREFUSED;
        failWith(logfd, err, std::string(what) + ": cannot reach cryopod-helper: " + error);
        return nullptr;
    }
    return bus;
}

Message helperCall(const char *member, std::vector<Value> body)
{
    Message m;
    m.type = Message::MethodCall;
    m.flags = kAllowInteractiveAuthorization;
    m.destination = kService;
    m.path = kPath;
    m.interface = kInterface;
    m.member = member;
    m.body = std::move(body);
    return m;
}

// The helper's Job1 signals and its name's owner changes, before any call
// (a short job may finish before its reply is read). false: the bus ended.
bool subscribe(BusConnection &bus)
{
    for (const std::string &rule : {std::string("type='signal',interface='") + kJobInterface + "'",
                                    std::string("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='") + kService + "'"}) {
        Message m;
        m.type = Message::MethodCall;
        m.destination = "org.freedesktop.DBus";
        m.path = "/org/freedesktop/DBus";
        m.interface = "org.freedesktop.DBus";
        m.member = "AddMatch";
        m.body.push_back(Value::string(rule));
        const uint32_t serial = bus.send(m);
        if (!serial || !bus.waitReply(serial)) {
            return false;
        }
    }
    return true;
}

struct JobOutcome {
    enum Kind { Finished, Ended, HelperGone, Refused } kind = Ended;
    long id = 0;
    bool ok = false;
    std::string errorName;
    std::string message;
    Value result;
};

// Sends a Checkpoint or Restore call and waits for its Finished signal,
// writing progress lines to logfd. Refused: the call's error reply. Ended:
// the connection ended (the caller decides what that means).
// `handedOver` (>= 0) is closed once the call is sent: the helper's alone.
JobOutcome runJob(BusConnection &bus, Message call, int passFd, int logfd, const char *what, int handedOver = -1)
{
    JobOutcome out;
    const uint32_t serial = bus.send(std::move(call), passFd);
    if (handedOver >= 0) {
        ::close(handedOver);
    }
    if (!serial) {
        out.message = std::string("send to the bus: ") + std::strerror(errno);
        return out;
    }
    auto reply = bus.waitReply(serial);
    if (!reply) {
        return out;
    }
    if (reply->type == Message::Error) {
        out.kind = JobOutcome::Refused;
        out.errorName = reply->errorName;
        out.message = reply->firstString();
        return out;
    }
    if (reply->body.empty() || reply->body[0].signature != "o") {
        out.kind = JobOutcome::Refused;
        out.errorName = "io.github.cryopod.Error.Failed";
        out.message = "the helper answered without a job";
        return out;
    }
    const std::string job = reply->body[0].text;
    const std::string helper = reply->sender;
    out.id = std::strtol(job.c_str() + job.rfind('/') + 1, nullptr, 10);
    logLine(logfd, "%s: job %ld", what, out.id);
    for (;;) {
        auto m = bus.next();
        if (!m) {
            out.kind = JobOutcome::Ended;
            return out;
        }
        if (m->type != Message::Signal) {
            continue;
        }
        if (m->member == "NameOwnerChanged" && m->body.size() == 3 && m->body[0].text == kService && m->body[2].text.empty()) {
            out.kind = JobOutcome::HelperGone;
            return out;
        }
        if (m->sender != helper || m->path != job || m->interface != kJobInterface) {
            continue;
        }
        if (m->member == "Progress" && m->bodySignature() == "stt") {
            if (m->body[2].integer) {
                logLine(logfd, "%s: %s %llu/%llu bytes", what, m->body[0].text.c_str(), (unsigned long long)m->body[1].integer,
                        (unsigned long long)m->body[2].integer);
            } else if (m->body[1].integer) {
                logLine(logfd, "%s: %s %llu bytes", what, m->body[0].text.c_str(), (unsigned long long)m->body[1].integer);
            } else {
                logLine(logfd, "%s: %s", what, m->body[0].text.c_str());
            }
        } else if (m->member == "Finished" && m->bodySignature() == "bssa{sv}") {
            out.kind = JobOutcome::Finished;
            out.ok = m->body[0].integer != 0;
            out.errorName = m->body[1].text;
            out.message = m->body[2].text;
            out.result = m->body[3];
            return out;
        }
    }
}

long integerOf(const Value &map, const char *key)
{
    const Value *v = map.find(key);
    return v ? long(v->integer) : 0;
}

// The fd is open, not O_PATH, and open for `access` (O_WRONLY or O_RDONLY).
bool checkFd(int fd, int access, int logfd, const char *what)
{
    const int flags = fd >= 0 ? ::fcntl(fd, F_GETFL) : -1;
    if (flags < 0) {
        failWith(logfd, EBADF, std::string(what) + ": fd " + std::to_string(fd) + " is not open");
        return false;
    }
    const int mode = flags & O_ACCMODE;
    if ((flags & O_PATH) || (access == O_WRONLY && mode == O_RDONLY) || (access == O_RDONLY && mode == O_WRONLY)) {
        failWith(logfd, EBADF, std::string(what) + ": fd " + std::to_string(fd) + " is not open for " + (access == O_WRONLY ? "writing" : "reading"));
        return false;
    }
    return true;
}

// The copy restored from a checkpoint of this process finds the bus fd
// detached: a pipe, not the socket it was.
bool isRestoredCopy(int busFd, const struct stat &before)
{
    struct stat now {};
    if (::fstat(busFd, &now) != 0) {
        return true;
    }
    return !S_ISSOCK(now.st_mode) || now.st_ino != before.st_ino || now.st_dev != before.st_dev;
}

long checkpoint(pid_t pid, int fd, unsigned flags, int logfd)
{
    const char *what = "checkpoint";
    if (flags & ~(CRYOPOD_SUBTREE | CRYOPOD_KILL)) {
        return failWith(logfd, EINVAL, "checkpoint: unknown flags " + std::to_string(flags & ~(CRYOPOD_SUBTREE | CRYOPOD_KILL)));
    }
    if (pid < 0) {
        return failWith(logfd, ESRCH, "checkpoint: no such process " + std::to_string(pid));
    }
    if (!checkFd(fd, O_WRONLY, logfd, what)) {
        return -1;
    }
    const pid_t self = ::getpid();
    const bool own = pid == 0 || pid == self;
    const pid_t target = own ? self : pid;

    // Checkpointing itself, the process holds `fd` while the helper writes
    // to the same open file: it is detached like the bus connection (in the
    // copy, a hung-up pipe end that the caller closes), so that the image
    // restores whatever became of its file since.
    std::vector<Value> detached;
    if (own) {
        detached.push_back(Value::int32(fd));
    }

    auto bus = connectHelperBus(logfd, what);
    if (!bus || !subscribe(*bus)) {
        return bus ? failWith(logfd, ECONNRESET, "checkpoint: the system bus closed the connection") : -1;
    }
    struct stat busStat {};
    ::fstat(bus->fd(), &busStat);
    if (own) {
        detached.push_back(Value::int32(bus->fd()));
    }
    std::vector<std::pair<std::string, Value>> options;
    options.emplace_back("leave-running", Value::boolean(!(flags & CRYOPOD_KILL)));
    if (!detached.empty()) {
        options.emplace_back("detached-fds", Value::array("i", detached));
    }
    Message call = helperCall("Checkpoint", {Value::int32(target), Value::dict(std::move(options)), Value::fd(0)});
    logLine(logfd, "checkpoint of process %d%s", int(target), own ? " (itself)" : "");

    JobOutcome outcome = runJob(*bus, std::move(call), fd, logfd, what);
    switch (outcome.kind) {
    case JobOutcome::Refused:
        return failWith(logfd, errnoOfError(outcome.errorName), describeError("checkpoint refused", outcome.errorName, outcome.message));
    case JobOutcome::HelperGone:
        return failWith(logfd, EIO, "checkpoint: cryopod-helper left the bus during the job");
    case JobOutcome::Ended:
        if (own && isRestoredCopy(bus->fd(), busStat)) {
            // The copy: the read above found the hung-up pipe the bus
            // socket became (whether it was waiting for the job's reply,
            // which the freeze can beat, or for its end). Its fd is ours
            // to close.
            bus->abandon();
            logLine(logfd, "checkpoint: restored; running on in the copy");
            return 0;
        }
        if (!outcome.message.empty()) {
            return failWith(logfd, ECONNRESET, "checkpoint: " + outcome.message);
        }
        return failWith(logfd, ECONNRESET,
                        std::string("checkpoint: the connection to the system bus ended: ") +
                            std::strerror(bus->endedErrno() ? bus->endedErrno() : ECONNRESET));
    case JobOutcome::Finished:
        break;
    }
    if (!outcome.ok) {
        return failWith(logfd, errnoOfError(outcome.errorName), describeError("checkpoint failed", outcome.errorName, outcome.message));
    }
    logLine(logfd, "checkpoint %ld of process %d: %ld bytes, paused %.1f ms", outcome.id, int(target), integerOf(outcome.result, "image-bytes"),
            double(integerOf(outcome.result, "pause-ns")) / 1e6);
    return outcome.id;
}

pid_t restart(int fd, unsigned flags, int logfd)
{
    const char *what = "restart";
    if (flags & CRYOPOD_RESTART_COPY) {
        return pid_t(failWith(logfd, ENOTSUP,
                              "restart: CRYOPOD_RESTART_COPY is not supported: the engine restores every process with its original pid, so a copy cannot "
                              "run beside its original"));
    }
    if (flags & ~(CRYOPOD_RESTART_FROZEN | CRYOPOD_RESTART_COPY)) {
        return pid_t(failWith(logfd, EINVAL, "restart: unknown flags " + std::to_string(flags & ~(CRYOPOD_RESTART_FROZEN | CRYOPOD_RESTART_COPY))));
    }
    if (!checkFd(fd, O_RDONLY, logfd, what)) {
        return -1;
    }
    auto bus = connectHelperBus(logfd, what);
    if (!bus || !subscribe(*bus)) {
        return bus ? pid_t(failWith(logfd, ECONNRESET, "restart: the system bus closed the connection")) : -1;
    }
    std::vector<std::pair<std::string, Value>> options;
    options.emplace_back("frozen", Value::boolean(flags & CRYOPOD_RESTART_FROZEN));
    JobOutcome outcome = runJob(*bus, helperCall("Restore", {Value::fd(0), Value::dict(std::move(options))}), fd, logfd, what);
    switch (outcome.kind) {
    case JobOutcome::Refused:
        return pid_t(failWith(logfd, errnoOfError(outcome.errorName), describeError("restart refused", outcome.errorName, outcome.message)));
    case JobOutcome::HelperGone:
        return pid_t(failWith(logfd, EIO, "restart: cryopod-helper left the bus during the job"));
    case JobOutcome::Ended:
        return pid_t(failWith(logfd, ECONNRESET, "restart: the connection to the system bus ended"));
    case JobOutcome::Finished:
        break;
    }
    if (!outcome.ok) {
        return pid_t(failWith(logfd, errnoOfError(outcome.errorName), describeError("restart failed", outcome.errorName, outcome.message)));
    }
    const pid_t root = pid_t(integerOf(outcome.result, "root-pid"));
    logLine(logfd, "restart %ld: process %d restored%s", outcome.id, int(root), (flags & CRYOPOD_RESTART_FROZEN) ? ", stopped" : "");
    return root;
}

// In a report of the caller itself, its own bus connection (the one the
// Report call came on) is what a checkpoint would detach: a caveat, not a
// refusal. The verdicts are recomputed where that was the only refusal.
void detachOwnConnection(Value &report, pid_t self, int busFd)
{
    auto rank = [](const std::string &v) { return v == "refused" ? 2 : v == "caveat" ? 1 : 0; };
    static const char *names[] = {"ok", "caveat", "refused"};
    auto entry = [](Value &map, const char *key) -> Value * {
        for (Value &e : map.items) {
            if (e.items.size() == 2 && e.items[0].text == key) {
                Value *v = &e.items[1];
                while (v->signature == "v" && !v->items.empty()) {
                    v = &v->items[0];
                }
                return v;
            }
        }
        return nullptr;
    };
    Value *processes = entry(report, "processes");
    if (!processes) {
        return;
    }
    int worst = 0;
    for (Value &p : processes->items) {
        Value &process = p.signature == "v" ? p.items[0] : p;
        Value *pid = entry(process, "pid");
        Value *verdict = entry(process, "verdict");
        Value *fds = entry(process, "fds");
        Value *reasons = entry(process, "reasons");
        if (pid && verdict && fds && pid->integer == self) {
            int processWorst = reasons && !reasons->items.empty() ? rank(verdict->text) : 0;
            for (Value &f : fds->items) {
                Value &fdMap = f.signature == "v" ? f.items[0] : f;
                Value *number = entry(fdMap, "fd");
                Value *fdVerdict = entry(fdMap, "verdict");
                Value *reason = entry(fdMap, "reason");
                if (number && fdVerdict && reason && number->integer == busFd) {
                    fdVerdict->text = "caveat";
                    reason->text = "fd " + std::to_string(busFd) + " is libcryopod's own bus connection: a checkpoint of the process by itself detaches it";
                }
                if (fdVerdict) {
                    processWorst = std::max(processWorst, rank(fdVerdict->text));
                }
            }
            verdict->text = names[processWorst];
        }
        if (verdict) {
            worst = std::max(worst, rank(verdict->text));
        }
    }
    if (Value *verdict = entry(report, "verdict")) {
        verdict->text = names[worst];
    }
}

int checkpointable(pid_t pid, char **reportJson)
{
    if (reportJson) {
        *reportJson = nullptr;
    }
    if (pid < 0) {
        return int(failWith(-1, ESRCH, "report: no such process " + std::to_string(pid)));
    }
    const pid_t self = ::getpid();
    const pid_t target = pid == 0 ? self : pid;
    auto bus = connectHelperBus(-1, "report");
    if (!bus) {
        return -1;
    }
    const uint32_t serial = bus->send(helperCall("Report", {Value::int32(target)}));
    auto reply = serial ? bus->waitReply(serial) : std::nullopt;
    if (!reply) {
        return int(failWith(-1, ECONNRESET, "report: the connection to the system bus ended"));
    }
    if (reply->type == Message::Error) {
        return int(failWith(-1, errnoOfError(reply->errorName), describeError("report refused", reply->errorName, reply->firstString())));
    }
    if (reply->body.empty() || reply->body[0].signature != "a{sv}") {
        return int(failWith(-1, EPROTO, "report: the helper answered " + reply->bodySignature() + ", not a{sv}"));
    }
    Value report = reply->body[0];
    if (target == self) {
        detachOwnConnection(report, self, bus->fd());
    }
    const Value *verdict = report.find("verdict");
    const int answer = verdict && verdict->text != "refused" ? 1 : 0;
    if (reportJson) {
        const std::string json = report.toJson();
        *reportJson = ::strdup(json.c_str());
        if (!*reportJson) {
            return int(failWith(-1, ENOMEM, "report: no memory for the JSON text"));
        }
    }
    return answer;
}

} // namespace

extern "C" {

CRYOPOD_EXPORT long cryopod_checkpoint(pid_t pid, int fd, unsigned flags, int logfd)
{
    try {
        return checkpoint(pid, fd, flags, logfd);
    } catch (const std::bad_alloc &) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return -1;
}

CRYOPOD_EXPORT pid_t cryopod_restart(int fd, unsigned flags, int logfd)
{
    try {
        return restart(fd, flags, logfd);
    } catch (const std::bad_alloc &) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return -1;
}

CRYOPOD_EXPORT int cryopod_checkpointable(pid_t pid, char **report_json)
{
    try {
        return checkpointable(pid, report_json);
    } catch (const std::bad_alloc &) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return -1;
}

} // extern "C"
