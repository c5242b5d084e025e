// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The C API of libcryopod (include/cryopod/cryopod.h) over cryopod-helper's
// D-Bus interface (docs/dbus-interface.md), one bus connection per call.
#include "cryopod/cryopod.h"

#include "busvalue.h"
#include "errors.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <new>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#define CRYOPOD_EXPORT __attribute__((visibility("default")))

using cryopod::lib::Bus;
using cryopod::lib::BusError;
using cryopod::lib::BusMessage;
using cryopod::lib::errnoOfError;
using cryopod::lib::failWith;
using cryopod::lib::logLine;
using cryopod::lib::readValue;
using cryopod::lib::Value;

namespace
{

const char kService[] = "io.github.cryopod.Helper";
const char kPath[] = "/io/github/cryopod/Helper";
const char kInterface[] = "io.github.cryopod.Helper1";
const char kJobInterface[] = "io.github.cryopod.Job1";

// "the helper refused (NotAuthorized): ..." for an error reply or a Finished.
std::string describeError(const std::string &what, const std::string &name, const std::string &message)
{
    std::string shortName = name;
    if (const size_t dot = name.rfind('.'); dot != std::string::npos) {
        shortName = name.substr(dot + 1);
    }
    return what + ": " + shortName + ": " + message;
}

std::string orEmpty(const char *s)
{
    return s ? s : "";
}

// A private connection to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else
// sd-bus's default), or null with errno and a line on logfd.
Bus connectHelperBus(int logfd, const char *what)
{
    sd_bus *raw = nullptr;
    const int r = sd_bus_open_system(&raw);
    if (r < 0) {
        const char *env = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
        const std::string address = env && *env ? env : "the default address";
        failWith(logfd, -r, std::string(what) + ": cannot reach cryopod-helper: cannot connect to the system bus (" + address + "): " + std::strerror(-r));
        return nullptr;
    }
    return Bus(raw);
}

// A method call to the helper, which may ask the user for authorization.
// Null with a negative errno in `r`.
BusMessage helperCall(sd_bus *bus, const char *member, int &r)
{
    sd_bus_message *raw = nullptr;
    r = sd_bus_message_new_method_call(bus, &raw, kService, kPath, kInterface, member);
    BusMessage m(raw);
    if (r >= 0) {
        r = sd_bus_message_set_allow_interactive_authorization(m.get(), 1);
    }
    return r >= 0 ? std::move(m) : nullptr;
}

// The helper's Job1 signals and its name's owner changes, before any call
// (a short job may finish before its reply is read). false: the bus ended,
// with its reason in `error`.
bool subscribe(sd_bus *bus, std::string &error)
{
    for (const std::string &rule : {std::string("type='signal',interface='") + kJobInterface + "'",
                                    std::string("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='") + kService + "'"}) {
        BusError e;
        const int r =
            sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", &e, nullptr, "s", rule.c_str());
        if (r < 0) {
            error = sd_bus_error_is_set(&e) ? orEmpty(e.error.message) : std::strerror(-r);
            return false;
        }
    }
    return true;
}

// The next message, a queued one first, else one read from the bus socket
// (blocking in ppoll() on it: the wait the engine restores, and which in a
// restored copy wakes at once on the hung-up pipe the socket became). Null:
// the connection ended, with the errno in `ended`; sd-bus then keeps the fd
// open until the bus is closed, so the caller can still look at it.
BusMessage nextMessage(sd_bus *bus, std::deque<BusMessage> &queued, int &ended)
{
    if (!queued.empty()) {
        BusMessage m = std::move(queued.front());
        queued.pop_front();
        return m;
    }
    for (;;) {
        sd_bus_message *raw = nullptr;
        int r = sd_bus_process(bus, &raw);
        BusMessage m(raw);
        if (r < 0 || sd_bus_is_open(bus) <= 0) {
            ended = r < 0 ? -r : ECONNRESET;
            return nullptr;
        }
        if (m) {
            return m;
        }
        if (r > 0) {
            continue;
        }
        r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR) {
            ended = -r;
            return nullptr;
        }
    }
}

// The reply (or error) to `cookie`; other messages meanwhile are queued.
BusMessage waitReply(sd_bus *bus, uint64_t cookie, std::deque<BusMessage> &queued, int &ended)
{
    std::deque<BusMessage> none;
    for (;;) {
        BusMessage m = nextMessage(bus, none, ended);
        if (!m) {
            return nullptr;
        }
        uint64_t replyTo = 0;
        if (sd_bus_message_get_reply_cookie(m.get(), &replyTo) >= 0 && replyTo == cookie) {
            return m;
        }
        queued.push_back(std::move(m));
    }
}

struct JobOutcome {
    enum Kind { Finished, Ended, HelperGone, Refused } kind = Ended;
    long id = 0;
    bool ok = false;
    std::string errorName;
    std::string message;
    Value result;
    int endedErrno = 0; // Ended: why the connection ended
};

// Sends a Checkpoint or Restore call and waits for its Finished signal,
// writing progress lines to logfd. Refused: the call's error reply. Ended:
// the connection ended (the caller decides what that means).
JobOutcome runJob(sd_bus *bus, sd_bus_message *call, int logfd, const char *what)
{
    JobOutcome out;
    uint64_t cookie = 0;
    if (const int r = sd_bus_send(bus, call, &cookie); r < 0) {
        out.message = std::string("send to the bus: ") + std::strerror(-r);
        out.endedErrno = -r;
        return out;
    }
    std::deque<BusMessage> queued;
    BusMessage reply = waitReply(bus, cookie, queued, out.endedErrno);
    if (!reply) {
        return out;
    }
    if (sd_bus_message_is_method_error(reply.get(), nullptr)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply.get());
        out.kind = JobOutcome::Refused;
        out.errorName = e ? orEmpty(e->name) : "";
        out.message = e ? orEmpty(e->message) : "";
        return out;
    }
    const char *jobPath = nullptr;
    if (sd_bus_message_read(reply.get(), "o", &jobPath) <= 0 || !jobPath) {
        out.kind = JobOutcome::Refused;
        out.errorName = "io.github.cryopod.Error.Failed";
        out.message = "the helper answered without a job";
        return out;
    }
    const std::string job = jobPath;
    const std::string helper = orEmpty(sd_bus_message_get_sender(reply.get()));
    out.id = std::strtol(job.c_str() + job.rfind('/') + 1, nullptr, 10);
    logLine(logfd, "%s: job %ld", what, out.id);
    for (;;) {
        BusMessage m = nextMessage(bus, queued, out.endedErrno);
        if (!m) {
            out.kind = JobOutcome::Ended;
            return out;
        }
        sd_bus_message *s = m.get();
        if (sd_bus_message_is_signal(s, "org.freedesktop.DBus", "NameOwnerChanged")) {
            const char *name = nullptr, *oldOwner = nullptr, *newOwner = nullptr;
            if (sd_bus_message_read(s, "sss", &name, &oldOwner, &newOwner) > 0 && orEmpty(name) == kService && orEmpty(newOwner).empty()) {
                out.kind = JobOutcome::HelperGone;
                return out;
            }
            continue;
        }
        if (!sd_bus_message_is_signal(s, kJobInterface, nullptr) || orEmpty(sd_bus_message_get_sender(s)) != helper ||
            orEmpty(sd_bus_message_get_path(s)) != job) {
            continue;
        }
        if (sd_bus_message_is_signal(s, kJobInterface, "Progress") && sd_bus_message_has_signature(s, "stt")) {
            const char *phase = nullptr;
            uint64_t done = 0, total = 0;
            if (sd_bus_message_read(s, "stt", &phase, &done, &total) <= 0) {
                continue;
            }
            if (total) {
                logLine(logfd, "%s: %s %llu/%llu bytes", what, phase, (unsigned long long)done, (unsigned long long)total);
            } else if (done) {
                logLine(logfd, "%s: %s %llu bytes", what, phase, (unsigned long long)done);
            } else {
                logLine(logfd, "%s: %s", what, phase);
            }
        } else if (sd_bus_message_is_signal(s, kJobInterface, "Finished") && sd_bus_message_has_signature(s, "bssa{sv}")) {
            int ok = 0;
            const char *errorName = nullptr, *message = nullptr;
            if (sd_bus_message_read(s, "bss", &ok, &errorName, &message) <= 0 || readValue(s, out.result) < 0) {
                continue;
            }
            out.kind = JobOutcome::Finished;
            out.ok = ok != 0;
            out.errorName = orEmpty(errorName);
            out.message = orEmpty(message);
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

// The pidfds open in this process. sd-bus keeps one of the bus daemon
// (SO_PEERPIDFD) beside the bus socket: the fds the connection opened are
// those two.
std::set<int> openPidfds()
{
    std::set<int> fds;
    DIR *dir = ::opendir("/proc/self/fd");
    if (!dir) {
        return fds;
    }
    while (const dirent *e = ::readdir(dir)) {
        char *end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (!end || *end || end == e->d_name || fd == ::dirfd(dir)) {
            continue;
        }
        char link[64] = {};
        const std::string path = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
        if (n > 0 && std::string(link, size_t(n)) == "anon_inode:[pidfd]") {
            fds.insert(int(fd));
        }
    }
    ::closedir(dir);
    return fds;
}

// The fds of the bus connection: its socket and the pidfds that were not
// open before it (`before`).
std::vector<int> busFdsOf(sd_bus *bus, const std::set<int> &before)
{
    std::vector<int> fds = {sd_bus_get_fd(bus)};
    for (const int fd : openPidfds()) {
        if (!before.contains(fd)) {
            fds.push_back(fd);
        }
    }
    return fds;
}

// The fd that the next F_DUPFD_CLOEXEC from 3 up will take, or -1.
int nextFreeFd(int fd)
{
    const int probe = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (probe >= 0) {
        ::close(probe);
    }
    return probe;
}

bool sameOpenFile(int a, int b)
{
    const pid_t self = ::getpid();
    const long r = ::syscall(SYS_kcmp, self, self, KCMP_FILE, a, b);
    if (r >= 0 || errno != ENOSYS) {
        return r == 0;
    }
    struct stat sa {}, sb {}; // a kernel without kcmp: the same file at least
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Checkpoint(i target, a{sv} options, h image). Checkpointing itself
// (`busFds` not empty: the connection's fds, detached), the process holds the image's open file while the helper
// writes to it, and so does the call's duplicate of `fd` that sd-bus passes
// (the lowest free fd from 3 up): both are detached like the bus connection
// (in the copy, hung-up pipe ends that the caller closes), so that the image
// restores whatever became of its file since. Null when the duplicate did
// not land where it was foreseen (another thread took that fd: try again) or
// the message cannot be built.
BusMessage checkpointCall(sd_bus *bus, pid_t target, int fd, unsigned flags, const std::vector<int> &busFds)
{
    const bool own = !busFds.empty();
    const int copy = own ? nextFreeFd(fd) : -1;
    if (own && copy < 0) {
        return nullptr;
    }
    std::vector<int32_t> detached = {fd, copy};
    detached.insert(detached.end(), busFds.begin(), busFds.end());
    int r = 0;
    BusMessage m = helperCall(bus, "Checkpoint", r);
    sd_bus_message *c = m.get();
    if (r >= 0) {
        r = sd_bus_message_append(c, "i", int32_t(target));
    }
    if (r >= 0) {
        r = sd_bus_message_open_container(c, SD_BUS_TYPE_ARRAY, "{sv}");
    }
    if (r >= 0) {
        r = sd_bus_message_append(c, "{sv}", "leave-running", "b", int(!(flags & CRYOPOD_KILL)));
    }
    if (r >= 0 && own) {
        r = sd_bus_message_open_container(c, SD_BUS_TYPE_DICT_ENTRY, "sv");
        if (r >= 0) {
            r = sd_bus_message_append(c, "s", "detached-fds");
        }
        if (r >= 0) {
            r = sd_bus_message_open_container(c, SD_BUS_TYPE_VARIANT, "ai");
        }
        if (r >= 0) {
            r = sd_bus_message_append_array(c, SD_BUS_TYPE_INT32, detached.data(), detached.size() * sizeof(int32_t));
        }
        if (r >= 0) {
            r = sd_bus_message_close_container(c);
        }
        if (r >= 0) {
            r = sd_bus_message_close_container(c);
        }
    }
    if (r >= 0) {
        r = sd_bus_message_close_container(c);
    }
    if (r >= 0) {
        r = sd_bus_message_append(c, "h", fd);
    }
    if (r < 0 || (own && !sameOpenFile(fd, copy))) {
        return nullptr;
    }
    return m;
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

    const std::set<int> pidfdsBefore = own ? openPidfds() : std::set<int> {};
    auto bus = connectHelperBus(logfd, what);
    if (!bus) {
        return -1;
    }
    if (std::string error; !subscribe(bus.get(), error)) {
        return failWith(logfd, ECONNRESET, "checkpoint: the system bus closed the connection: " + error);
    }
    const int busFd = sd_bus_get_fd(bus.get());
    const std::vector<int> busFds = own ? busFdsOf(bus.get(), pidfdsBefore) : std::vector<int> {};
    struct stat busStat {};
    ::fstat(busFd, &busStat);

    // The call holds its own duplicate of `fd` (sd-bus passes a copy) until
    // the job ends.
    BusMessage call;
    for (int attempt = 0; attempt < 3 && !call; ++attempt) {
        call = checkpointCall(bus.get(), target, fd, flags, busFds);
    }
    if (!call) {
        return failWith(logfd, EIO, "checkpoint: cannot build the call to cryopod-helper");
    }
    logLine(logfd, "checkpoint of process %d%s", int(target), own ? " (itself)" : "");

    JobOutcome outcome = runJob(bus.get(), call.get(), logfd, what);
    switch (outcome.kind) {
    case JobOutcome::Refused:
        return failWith(logfd, errnoOfError(outcome.errorName), describeError("checkpoint refused", outcome.errorName, outcome.message));
    case JobOutcome::HelperGone:
        return failWith(logfd, EIO, "checkpoint: cryopod-helper left the bus during the job");
    case JobOutcome::Ended:
        if (own && isRestoredCopy(busFd, busStat)) {
            // The copy: the wait above found the hung-up pipe the bus
            // socket became (whether it was waiting for the job's reply,
            // which the freeze can beat, or for its end). Its fd and the
            // call's copy of the image fd are ours to close: closing the bus
            // closes it without a word.
            bus.reset();
            logLine(logfd, "checkpoint: restored; running on in the copy");
            return 0;
        }
        if (!outcome.message.empty()) {
            return failWith(logfd, ECONNRESET, "checkpoint: " + outcome.message);
        }
        return failWith(logfd, ECONNRESET,
                        std::string("checkpoint: the connection to the system bus ended: ") +
                            std::strerror(outcome.endedErrno ? outcome.endedErrno : ECONNRESET));
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
    if (!bus) {
        return -1;
    }
    if (std::string error; !subscribe(bus.get(), error)) {
        return pid_t(failWith(logfd, ECONNRESET, "restart: the system bus closed the connection: " + error));
    }
    // Restore(h image, a{sv} options).
    int r = 0;
    BusMessage call = helperCall(bus.get(), "Restore", r);
    if (r >= 0) {
        r = sd_bus_message_append(call.get(), "ha{sv}", fd, 1, "frozen", "b", int((flags & CRYOPOD_RESTART_FROZEN) != 0));
    }
    if (r < 0) {
        return pid_t(failWith(logfd, -r, std::string("restart: cannot build the call to cryopod-helper: ") + std::strerror(-r)));
    }
    JobOutcome outcome = runJob(bus.get(), call.get(), logfd, what);
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
void detachOwnConnection(Value &report, pid_t self, const std::vector<int> &busFds)
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
                const auto own = number ? std::find(busFds.begin(), busFds.end(), number->integer) : busFds.end();
                if (own != busFds.end() && fdVerdict && reason) {
                    fdVerdict->text = "caveat";
                    reason->text = "fd " + std::to_string(*own) + " is libcryopod's own bus connection" +
                        (own == busFds.begin() ? "" : " (the pidfd sd-bus keeps of the bus)") + ": a checkpoint of the process by itself detaches it";
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
    const std::set<int> pidfdsBefore = target == self ? openPidfds() : std::set<int> {};
    auto bus = connectHelperBus(-1, "report");
    if (!bus) {
        return -1;
    }
    int r = 0;
    BusMessage call = helperCall(bus.get(), "Report", r);
    if (r >= 0) {
        r = sd_bus_message_append(call.get(), "i", int32_t(target));
    }
    BusError error;
    sd_bus_message *rawReply = nullptr;
    if (r >= 0) {
        r = sd_bus_call(bus.get(), call.get(), UINT64_MAX, &error, &rawReply);
    }
    BusMessage reply(rawReply);
    if (r < 0 && sd_bus_error_is_set(&error)) {
        const std::string name = orEmpty(error.error.name);
        return int(failWith(-1, errnoOfError(name), describeError("report refused", name, orEmpty(error.error.message))));
    }
    if (r < 0) {
        return int(failWith(-1, ECONNRESET, std::string("report: the connection to the system bus ended: ") + std::strerror(-r)));
    }
    Value report;
    if (!sd_bus_message_has_signature(reply.get(), "a{sv}") || readValue(reply.get(), report) < 0) {
        return int(failWith(-1, EPROTO, "report: the helper answered " + orEmpty(sd_bus_message_get_signature(reply.get(), true)) + ", not a{sv}"));
    }
    if (target == self) {
        detachOwnConnection(report, self, busFdsOf(bus.get(), pidfdsBefore));
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
