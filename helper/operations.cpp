// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "operations.h"

#include "accesspolicy.h"
#include "ascaller.h"
#include "authorizer.h"
#include "caller.h"
#include "cgroups.h"
#include "checkpoint.h"
#include "freezer.h"
#include "helperjob.h"
#include "imagecheck.h"
#include "imageinfo.h"
#include "imagestream.h"
#include "processlist.h"
#include "processscanner.h"
#include "processsnapshotcodec.h"
#include "procstatus.h"
#include "pstree.h"
#include "validation.h"

#include <QDBusArgument>
#include <QDBusObjectPath>
#include <QDBusUnixFileDescriptor>

#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <functional>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

using Authorizer::Action;

void Request::reply(const QVariantList &values) const
{
    QDBusMessage reply = message.createReply(values);
    bus.send(reply);
}

void Request::fail(const HelperError &error) const
{
    bus.send(message.createErrorReply(error.name, error.message));
}

namespace Operations
{

namespace
{

// ---- steps shared by every method ------------------------------------------

// Steps 1 and 2: the caller, authorized for the operation on its own things.
HelperResult<Caller> begin(const Request &request, Action action, const QString &what)
{
    auto caller = identifyCaller(request.bus, request.message.service());
    if (!caller) {
        return std::unexpected(caller.error());
    }
    if (auto ok = Authorizer::authorize(caller->busName, action, what, {}, {}, request.interactive()); !ok) {
        return std::unexpected(ok.error());
    }
    return caller;
}

QString userName(uid_t uid)
{
    passwd pw{};
    passwd *found = nullptr;
    char buf[1024];
    if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) {
        return QString::fromLocal8Bit(found->pw_name);
    }
    return QString::number(uid);
}

struct Target {
    AccessPolicy::TargetFacts facts;
    std::shared_ptr<cryopod::UniqueFd> pidfd; // pins the process the facts are about
};

// Reads what the policy needs about pid; the pidfd taken first and checked
// last makes sure the facts belong to the process it pins.
HelperResult<Target> examine(pid_t pid)
{
    auto noSuch = [pid] {
        return helperError(HelperErrorName::NoSuchProcess, QStringLiteral("there is no process %1").arg(pid));
    };
    Target target;
    const int pidfd = openPidfd(pid);
    if (pidfd < 0) {
        return noSuch();
    }
    target.pidfd = std::make_shared<cryopod::UniqueFd>(pidfd);
    auto dir = ProcStatus::ProcessDir::open(pid);
    if (!dir) {
        return noSuch();
    }
    auto creds = dir->creds();
    auto stat = dir->stat();
    auto owner = dir->owner();
    if (!creds || !stat || !owner || !pidfdAlive(pidfd)) {
        return noSuch();
    }
    if (stat->state == 'Z' || stat->state == 'X') {
        return helperError(HelperErrorName::NoSuchProcess, QStringLiteral("process %1 has exited (it is a zombie)").arg(pid));
    }
    target.facts.pid = pid;
    target.facts.creds = *creds;
    target.facts.stat = *stat;
    target.facts.procOwner = *owner;
    return target;
}

// Step 4 for a process tree: the ptrace rules for every process in it, and
// `extra` reasons; the admin action when anything is beyond the caller's.
// extra() adds reasons of the operation's own; it runs only for a tree the
// caller may trace (its messages may name what is inside the processes).
HelperResult<Target> authorizeTree(const Request &request,
                                   const Caller &caller,
                                   pid_t pid,
                                   Action base,
                                   const QString &verb,
                                   const std::function<QStringList()> &extra = {})
{
    auto root = examine(pid);
    if (!root) {
        return std::unexpected(root.error());
    }
    const int yama = AccessPolicy::readYamaScope();
    QStringList reasons;
    for (pid_t member : ProcStatus::processTree(pid)) {
        HelperResult<Target> facts = member == pid ? *root : examine(member);
        if (!facts) {
            continue; // exited meanwhile
        }
        const AccessPolicy::Decision d = AccessPolicy::mayTrace(caller.creds, facts->facts, yama);
        if (d.verdict == AccessPolicy::Verdict::Refused) {
            return helperError(d.errorName, QStringLiteral("cannot %1 process %2: %3").arg(verb).arg(pid).arg(d.reasons.join(QStringLiteral("; "))));
        }
        reasons << d.reasons;
    }
    if (reasons.isEmpty() && extra) {
        reasons << extra();
    }
    if (reasons.isEmpty()) {
        return root;
    }
    const ProcStatus::Creds &t = root->facts.creds;
    QMap<QString, QString> details;
    details.insert(QStringLiteral("pid"), QString::number(pid));
    details.insert(QStringLiteral("command"), QString::fromStdString(t.name));
    details.insert(QStringLiteral("user"), userName(t.euid));
    const QString what = QStringLiteral("%1 process %2 (%3) of user %4").arg(verb).arg(pid).arg(QString::fromStdString(t.name), userName(t.euid));
    if (auto ok = Authorizer::authorize(caller.busName, Authorizer::adminAction(base), what, reasons, details, request.interactive()); !ok) {
        return std::unexpected(ok.error());
    }
    return root;
}

// Unlinked files whose contents a checkpoint saves: the caller must be able
// to read them itself, through the fd (open for reading) or by opening
// /proc/PID/fd/N as the caller.
QStringList unreadableUnlinkedFiles(const Caller &caller, pid_t pid)
{
    QStringList reasons;
    const std::string fdDir = "/proc/" + std::to_string(pid) + "/fd";
    DIR *dir = ::opendir(fdDir.c_str());
    if (!dir) {
        return reasons;
    }
    std::vector<AsCaller::PathCheck> checks;
    while (const dirent *e = ::readdir(dir)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        const std::string link = fdDir + "/" + e->d_name;
        char target[4096];
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 0) {
            continue;
        }
        const std::string path(target, size_t(n));
        if (!path.ends_with(" (deleted)")) {
            continue;
        }
        struct stat st{};
        if (::stat(link.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        // fdinfo "flags:" is octal; readable fds can be read by the caller.
        FILE *info = std::fopen(("/proc/" + std::to_string(pid) + "/fdinfo/" + e->d_name).c_str(), "re");
        unsigned flags = O_WRONLY;
        if (info) {
            char line[256];
            while (std::fgets(line, sizeof line, info)) {
                if (std::sscanf(line, "flags: %o", &flags) == 1) {
                    break;
                }
            }
            std::fclose(info);
        }
        if ((flags & O_ACCMODE) != O_WRONLY) {
            continue;
        }
        AsCaller::PathCheck c;
        c.kind = AsCaller::PathCheck::Kind::Open;
        c.what = "process " + std::to_string(pid) + ": fd " + e->d_name + " (unlinked " + path.substr(0, path.size() - 10) + ", saved in the image)";
        c.path = link;
        c.flags = O_RDONLY;
        checks.push_back(std::move(c));
    }
    ::closedir(dir);
    if (checks.empty()) {
        return reasons;
    }
    auto verdicts = AsCaller::checkPaths(caller.fsCreds(), checks);
    if (!verdicts) {
        reasons << QStringLiteral("cannot check unlinked files as you: %1").arg(QString::fromStdString(verdicts.error().describe()));
        return reasons;
    }
    for (const AsCaller::PathVerdict &v : *verdicts) {
        if (v.kind != AsCaller::PathVerdict::Kind::Ok) {
            reasons << QString::fromStdString(v.message);
        }
    }
    return reasons;
}

HelperResult<pid_t> validPid(qint64 pid)
{
    auto valid = Validation::checkPidRange(pid, Validation::systemPidMax());
    if (!valid) {
        return std::unexpected(valid.error());
    }
    if (auto exists = Validation::checkPidExists(*valid); !exists) {
        return std::unexpected(exists.error());
    }
    if (*valid == ::getpid()) {
        return helperError(HelperErrorName::Unsupported, QStringLiteral("process %1 is cryopod-helper itself").arg(*valid));
    }
    return valid;
}

QString verdictName(cryopod::engine::Verdict v)
{
    switch (v) {
    case cryopod::engine::Verdict::Ok:
        return QStringLiteral("ok");
    case cryopod::engine::Verdict::Caveat:
        return QStringLiteral("caveat");
    case cryopod::engine::Verdict::Refused:
        return QStringLiteral("refused");
    }
    return QStringLiteral("refused");
}

// ---- checkpoint ---------------------------------------------------------------

HelperResult<QVariantMap> runCheckpoint(HelperJob &job, pid_t pid, const Target &target, const cryopod::engine::CheckpointOptions &options, int fd)
{
    namespace engine = cryopod::engine;
    CancelToken &token = job.token();
    const QString who = QStringLiteral("process %1").arg(pid);
    // What a failed or cancelled checkpoint leaves: the tree as it was.
    QString leftAs = QStringLiteral("it runs on unchanged");
    auto cancelled = [&] {
        return helperError(HelperErrorName::Cancelled, QStringLiteral("checkpoint of %1 cancelled; %2").arg(who, leftAs));
    };
    if (token.isCancelled()) {
        return cancelled();
    }
    auto relay = ImageStream::OutputRelay::start(fd, token, [&job](uint64_t bytes) {
        job.sendProgress(QStringLiteral("write"), bytes, 0);
    });
    if (!relay) {
        return helperError(HelperErrorName::Failed, QString::fromStdString(relay.error().describe()));
    }
    // Stops the relay (it may be blocked on a caller's fd nobody reads) and
    // returns err. The context, destroyed after this, lets the target go.
    auto abort = [&](HelperError err) -> HelperResult<QVariantMap> {
        token.cancel();
        (*relay)->finish();
        return std::unexpected(std::move(err));
    };
    auto engineError = [&](const cryopod::Error &e) -> HelperResult<QVariantMap> {
        if (token.isCancelled()) {
            return abort(cancelled().error());
        }
        return abort(fromEngineError(e));
    };

    // The engine's steps one by one (checkpoint.h): between them the job can
    // stop cleanly, and the release (resume or kill) waits until the image
    // has completely reached the caller's fd.
    engine::CheckpointContext ctx;
    ctx.pid = pid;
    ctx.outFd = (*relay)->engineFd();
    ctx.options = options;
    ctx.startNs = engine::monotonicNs();
    // A tree frozen by Freeze: ptrace can neither stop nor inject into its
    // tasks, so the engine thaws and freezes its cgroup around the capture
    // (holding every thread in a ptrace stop meanwhile); it stays frozen.
    std::optional<engine::FreezerHold> hold = engine::freezerHold(pid);
    if (hold) {
        ctx.options.outsideFreezer = hold->hook;
        leftAs = QStringLiteral("it stays frozen, unchanged");
    }
    job.sendProgress(QStringLiteral("analyze"), 0, 0);
    if (auto r = engine::checkpointPrecheck(ctx); !r) {
        return engineError(r.error());
    }
    if (token.isCancelled()) {
        return abort(cancelled().error());
    }
    job.sendProgress(QStringLiteral("freeze"), 0, 0);
    if (auto r = engine::checkpointFreeze(ctx); !r) {
        return engineError(r.error());
    }
    // The process checked before is the one now frozen: it held its pid all
    // along (a live or zombie process keeps its pid from being reused).
    if (!pidfdAlive(target.pidfd->get())) {
        return abort(HelperError::make(HelperErrorName::NoSuchProcess, QStringLiteral("%1 exited before it was frozen").arg(who)));
    }
    if (token.isCancelled()) {
        return abort(cancelled().error());
    }
    job.sendProgress(QStringLiteral("capture"), 0, 0);
    if (auto r = engine::checkpointCapture(ctx); !r) {
        return engineError(r.error());
    }
    if (token.isCancelled()) {
        return abort(cancelled().error());
    }
    if (auto r = engine::checkpointCopyMemory(ctx); !r) {
        return engineError(r.error());
    }
    job.sendProgress(QStringLiteral("write"), 0, 0);
    if (auto r = engine::checkpointWrite(ctx); !r) {
        const ImageStream::Outcome out = (*relay)->finish();
        if (out.error) {
            return abort(HelperError::make(HelperErrorName::Failed,
                                           QStringLiteral("checkpoint of %1: %2; %3").arg(who, QString::fromStdString(out.error->describe()), leftAs)));
        }
        return engineError(r.error());
    }
    const uint64_t imageBytes = ctx.writer ? ctx.writer->bytesWritten() : 0;
    const uint64_t rawBytes = ctx.writer ? ctx.writer->rawBytes() : 0;
    const ImageStream::Outcome out = (*relay)->finish();
    if (out.error) {
        return abort(HelperError::make(HelperErrorName::Failed, QStringLiteral("checkpoint of %1: %2; %3").arg(who, QString::fromStdString(out.error->describe()), leftAs)));
    }
    if (out.cancelled || token.isCancelled()) {
        return abort(cancelled().error());
    }
    // The whole image is in the caller's hands: only now may the process end.
    job.sendProgress(QStringLiteral("release"), out.bytes, out.bytes);
    if (auto r = engine::checkpointRelease(ctx); !r) {
        return std::unexpected(fromEngineError(r.error()));
    }
    // Killed: the cgroup Freeze made for it is empty now.
    QString leftover;
    if (hold && !options.leaveRunning && !hold->cgroup.empty()) {
        if (auto r = engine::removeEmptiedFreezeCgroup(hold->cgroup); !r) {
            leftover = QString::fromStdString(r.error().describe());
        }
    }
    const uint64_t end = engine::monotonicNs();
    QVariantMap result;
    result.insert(QStringLiteral("root-pid"), int(pid));
    result.insert(QStringLiteral("image-bytes"), QVariant::fromValue(qulonglong(out.bytes)));
    result.insert(QStringLiteral("engine-image-bytes"), QVariant::fromValue(qulonglong(imageBytes)));
    result.insert(QStringLiteral("raw-bytes"), QVariant::fromValue(qulonglong(rawBytes)));
    result.insert(QStringLiteral("pages"), QVariant::fromValue(qulonglong(ctx.pages.pagesSaved)));
    // Low pause: the tree ran on once its memory was copied.
    const uint64_t pauseEnd = ctx.result.lowPause ? ctx.thawNs : end;
    result.insert(QStringLiteral("pause-ns"), QVariant::fromValue(qulonglong(ctx.freezeNs ? pauseEnd - ctx.freezeNs : 0)));
    result.insert(QStringLiteral("total-ns"), QVariant::fromValue(qulonglong(end - ctx.startNs)));
    result.insert(QStringLiteral("left-running"), options.leaveRunning);
    result.insert(QStringLiteral("low-pause"), ctx.result.lowPause);
    if (!leftover.isEmpty()) {
        result.insert(QStringLiteral("cgroup-not-removed"), leftover);
    }
    if (options.lowPause && !ctx.result.lowPause) {
        result.insert(QStringLiteral("low-pause-fallback"), QString::fromStdString(ctx.result.lowPauseFallback));
    }
    return result;
}

// ---- restore ------------------------------------------------------------------

HelperResult<QVariantMap> runRestore(HelperJob &job, JobHost &host, const Request &request, const Caller &caller, cryopod::UniqueFd fd, const cryopod::engine::RestoreOptions &options)
{
    namespace image = cryopod::image;
    CancelToken &token = job.token();
    auto cancelled = [] {
        return helperError(HelperErrorName::Cancelled, QStringLiteral("restore cancelled; nothing was left behind"));
    };

    // 1. The whole image into the helper's own memory: checked and restored
    //    from one copy the caller cannot change in between.
    uint64_t announced = 0;
    struct stat st{};
    if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
        const off_t pos = ::lseek(fd.get(), 0, SEEK_CUR);
        announced = st.st_size > pos && pos >= 0 ? uint64_t(st.st_size - pos) : 0;
    }
    job.sendProgress(QStringLiteral("receive"), 0, announced);
    auto received = ImageStream::receive(fd.get(), ImageStream::defaultMaxImageBytes(), token, [&](uint64_t bytes) {
        job.sendProgress(QStringLiteral("receive"), bytes, announced);
    });
    fd.reset();
    if (!received) {
        if (received.error().code == ECANCELED) {
            return cancelled();
        }
        return helperError(HelperErrorName::Failed, QString::fromStdString(received.error().describe()));
    }

    // 2. Read and validate all of it (the image library is the only parser).
    job.sendProgress(QStringLiteral("verify"), 0, received->size);
    auto info = image::ImageInfo::read(received->memfd.get());
    if (!info) {
        return helperError(HelperErrorName::BadImage, QStringLiteral("not a valid Cryopod image: %1").arg(QString::fromStdString(info.error().describe())));
    }
    if (token.isCancelled()) {
        return cancelled();
    }

    // 3. What it would grant, compared with what the caller has.
    auto assessment = ImageCheck::assess(*info, caller.creds, caller.fsCreds());
    if (!assessment) {
        return std::unexpected(assessment.error());
    }
    if (!assessment->adminReasons.isEmpty()) {
        QMap<QString, QString> details;
        details.insert(QStringLiteral("pid"), QString::number(assessment->rootPid));
        details.insert(QStringLiteral("command"), assessment->command);
        details.insert(QStringLiteral("user"), userName(assessment->uid));
        const QString what = QStringLiteral("restore process %1 (%2) of user %3").arg(assessment->rootPid).arg(assessment->command, userName(assessment->uid));
        if (auto ok = Authorizer::authorize(caller.busName, Action::RestoreOther, what, assessment->adminReasons, details, request.interactive()); !ok) {
            return std::unexpected(ok.error());
        }
    }
    if (::kill(assessment->rootPid, 0) == 0 || errno != ESRCH) {
        return helperError(HelperErrorName::PidInUse, QStringLiteral("PID %1, which the image's process needs, is in use").arg(assessment->rootPid));
    }
    if (token.isCancelled()) {
        return cancelled();
    }

    // 4. The engine reads the checked copy through a pipe: cancelling closes
    //    it early, and the engine removes the half-built process.
    if (::lseek(received->memfd.get(), 0, SEEK_SET) != 0) {
        return helperError(HelperErrorName::Failed, QStringLiteral("rewind the received image: %1").arg(QString::fromLocal8Bit(std::strerror(errno))));
    }
    const uint64_t total = received->size;
    auto feeder = ImageStream::InputFeeder::start(received->memfd.get(), total, token, [&job, total](uint64_t bytes) {
        job.sendProgress(QStringLiteral("restore"), bytes, total);
    });
    if (!feeder) {
        return helperError(HelperErrorName::Failed, QString::fromStdString(feeder.error().describe()));
    }
    // The engine uses every path of the image with the caller's rights,
    // unless an administrator authorized more (adminReasons) above.
    cryopod::engine::RestoreOptions engineOptions = options;
    if (assessment->adminReasons.isEmpty()) {
        const AsCaller::FsCreds fs = caller.fsCreds();
        engineOptions.openAs = cryopod::engine::FsIdentity{fs.uid, fs.gid, fs.groups};
    }
    auto restored = cryopod::engine::restore((*feeder)->engineFd(), engineOptions);
    (*feeder)->finish();
    if (!restored) {
        if (token.isCancelled()) {
            return cancelled();
        }
        return std::unexpected(fromEngineError(restored.error()));
    }
    host.adoptChild(restored->root);
    if (token.isCancelled()) {
        ::kill(restored->root, SIGKILL);
        return helperError(HelperErrorName::Cancelled, QStringLiteral("restore cancelled; the restored process %1 was removed").arg(restored->root));
    }
    QVariantMap result;
    result.insert(QStringLiteral("root-pid"), int(restored->root));
    result.insert(QStringLiteral("image-bytes"), QVariant::fromValue(qulonglong(total)));
    result.insert(QStringLiteral("total-ns"), QVariant::fromValue(qulonglong(restored->totalNs)));
    result.insert(QStringLiteral("frozen"), options.frozen);
    // The terminals: "pty-path", "pty-original-path" and (a new pty) its
    // master "pty-master"; a second terminal's keys end in "-2", and so on.
    // Finished goes to the job's caller only: no one else gets a master.
    for (size_t i = 0; i < restored->terminals.size(); ++i) {
        const cryopod::engine::RestoredTerminal &t = restored->terminals[i];
        const QString suffix = i == 0 ? QString() : QStringLiteral("-%1").arg(i + 1);
        result.insert(QStringLiteral("pty-path") + suffix, QString::fromStdString(t.path));
        result.insert(QStringLiteral("pty-original-path") + suffix, QString::fromStdString(t.originalPath));
        if (t.master) {
            // QDBusUnixFileDescriptor keeps its own dup; ours closes with `restored`.
            result.insert(QStringLiteral("pty-master") + suffix, QVariant::fromValue(QDBusUnixFileDescriptor(t.master.get())));
        }
    }
    return result;
}

} // namespace

QVariantMap reportToMap(const cryopod::engine::Report &report)
{
    QList<QVariantMap> processes;
    for (const cryopod::engine::ProcessReport &p : report.processes) {
        QList<QVariantMap> fds;
        for (const cryopod::engine::FdReport &f : p.fds) {
            QVariantMap fd;
            fd.insert(QStringLiteral("fd"), f.fd);
            fd.insert(QStringLiteral("target"), QString::fromStdString(f.target));
            fd.insert(QStringLiteral("verdict"), verdictName(f.verdict));
            fd.insert(QStringLiteral("reason"), QString::fromStdString(f.reason));
            fds << fd;
        }
        QStringList reasons;
        for (const std::string &r : p.reasons) {
            reasons << QString::fromStdString(r);
        }
        QVariantMap process;
        process.insert(QStringLiteral("pid"), int(p.pid));
        process.insert(QStringLiteral("ppid"), int(p.ppid));
        process.insert(QStringLiteral("comm"), QString::fromStdString(p.comm));
        process.insert(QStringLiteral("verdict"), verdictName(p.verdict));
        process.insert(QStringLiteral("reasons"), reasons);
        process.insert(QStringLiteral("fds"), QVariant::fromValue(fds));
        processes << process;
    }
    QVariantMap map;
    map.insert(QStringLiteral("root"), int(report.root));
    map.insert(QStringLiteral("verdict"), verdictName(report.verdict));
    map.insert(QStringLiteral("summary"), QString::fromStdString(report.summary()));
    map.insert(QStringLiteral("processes"), QVariant::fromValue(processes));
    return map;
}

void listProcesses(const Request &request)
{
    auto caller = begin(request, Action::ListProcesses, QStringLiteral("list processes"));
    if (!caller) {
        return request.fail(caller.error());
    }
    const ProcessSnapshot snapshot = ProcessScanner::scan();
    if (!snapshot.error.isEmpty()) {
        return request.fail(HelperError::make(HelperErrorName::Failed, snapshot.error));
    }
    const ProcessList::HidePid hidePid = ProcessList::hidePidOfProc();
    request.reply({ProcessSnapshotCodec::encode(ProcessList::forCaller(snapshot, caller->uid, hidePid))});
}

void report(const Request &request, qint64 pidArg)
{
    auto caller = begin(request, Action::Report, QStringLiteral("inspect processes"));
    if (!caller) {
        return request.fail(caller.error());
    }
    auto pid = validPid(pidArg);
    if (!pid) {
        return request.fail(pid.error());
    }
    auto target = authorizeTree(request, *caller, *pid, Action::Report, QStringLiteral("inspect"));
    if (!target) {
        return request.fail(target.error());
    }
    auto result = cryopod::engine::analyze(*pid);
    if (!result) {
        return request.fail(fromEngineError(result.error()));
    }
    if (!pidfdAlive(target->pidfd->get())) {
        return request.fail(HelperError::make(HelperErrorName::NoSuchProcess, QStringLiteral("process %1 exited while it was analysed").arg(*pid)));
    }
    request.reply({reportToMap(*result)});
}

void freeze(const Request &request, qint64 pidArg)
{
    auto caller = begin(request, Action::Freeze, QStringLiteral("freeze processes"));
    if (!caller) {
        return request.fail(caller.error());
    }
    auto pid = validPid(pidArg);
    if (!pid) {
        return request.fail(pid.error());
    }
    auto target = authorizeTree(request, *caller, *pid, Action::Freeze, QStringLiteral("freeze"));
    if (!target) {
        return request.fail(target.error());
    }
    auto cgroups = Freezer::Cgroups::detect();
    if (!cgroups) {
        return request.fail(fromEngineError(cgroups.error()));
    }
    auto frozen = cgroups->freeze(*pid);
    if (!frozen) {
        return request.fail(fromEngineError(frozen.error()));
    }
    if (!pidfdAlive(target->pidfd->get())) {
        (void)cgroups->thaw(*pid);
        return request.fail(HelperError::make(HelperErrorName::NoSuchProcess, QStringLiteral("process %1 exited while it was being frozen").arg(*pid)));
    }
    QList<int> pids;
    for (pid_t p : frozen->pids) {
        pids << int(p);
    }
    QVariantMap map;
    map.insert(QStringLiteral("cgroup"), QString::fromStdString(frozen->cgroup));
    map.insert(QStringLiteral("version"), frozen->version == Freezer::Version::V2 ? QStringLiteral("v2") : QStringLiteral("v1"));
    map.insert(QStringLiteral("pids"), QVariant::fromValue(pids));
    request.reply({map});
}

void thaw(const Request &request, qint64 pidArg)
{
    auto caller = begin(request, Action::Freeze, QStringLiteral("thaw processes"));
    if (!caller) {
        return request.fail(caller.error());
    }
    auto pid = validPid(pidArg);
    if (!pid) {
        return request.fail(pid.error());
    }
    auto target = authorizeTree(request, *caller, *pid, Action::Freeze, QStringLiteral("thaw"));
    if (!target) {
        return request.fail(target.error());
    }
    auto cgroups = Freezer::Cgroups::detect();
    if (!cgroups) {
        return request.fail(fromEngineError(cgroups.error()));
    }
    if (auto r = cgroups->thaw(*pid); !r) {
        if (r.error().code == EINVAL) {
            return request.fail(HelperError::make(HelperErrorName::InvalidArgument, QString::fromStdString(r.error().message)));
        }
        return request.fail(fromEngineError(r.error()));
    }
    request.reply({});
}

void checkpoint(const Request &request, JobHost &host, qint64 pidArg, const QVariantMap &optionsArg, cryopod::UniqueFd fd)
{
    auto caller = begin(request, Action::Checkpoint, QStringLiteral("checkpoint processes"));
    if (!caller) {
        return request.fail(caller.error());
    }
    // An "ai" inside a variant arrives as a QDBusArgument: the list itself
    // for the validation.
    QVariantMap optionsIn = optionsArg;
    if (auto detached = optionsIn.find(QStringLiteral("detached-fds")); detached != optionsIn.end() && detached->canConvert<QDBusArgument>()) {
        const QDBusArgument arg = detached->value<QDBusArgument>();
        if (arg.currentSignature() == QLatin1String("ai")) {
            QList<int> list;
            arg >> list;
            *detached = QVariant::fromValue(list);
        }
    }
    auto options = Validation::parseCheckpointOptions(optionsIn);
    if (!options) {
        return request.fail(options.error());
    }
    if (auto ok = Validation::checkImageFd(fd.get(), Validation::FdDirection::Write); !ok) {
        return request.fail(ok.error());
    }
    auto pid = validPid(pidArg);
    if (!pid) {
        return request.fail(pid.error());
    }
    const Caller &who = *caller;
    const pid_t targetPid = *pid;
    auto target = authorizeTree(request, *caller, *pid, Action::Checkpoint, QStringLiteral("checkpoint"), [&who, targetPid] {
        return who.isRoot() ? QStringList() : unreadableUnlinkedFiles(who, targetPid);
    });
    if (!target) {
        return request.fail(target.error());
    }
    if (auto ok = Validation::checkDetachedFdsOpen(*pid, options->detachedFds, Validation::fdOpenInProcess); !ok) {
        return request.fail(ok.error());
    }
    auto job = host.createJob(caller->busName, QStringLiteral("checkpoint"));
    if (!job) {
        return request.fail(job.error());
    }
    request.reply({QVariant::fromValue(QDBusObjectPath((*job)->path()))});
    const HelperResult<QVariantMap> result = runCheckpoint(**job, *pid, *target, *options, fd.get());
    fd.reset(); // the caller sees the end of its pipe
    (*job)->sendFinished(result);
    host.releaseJob(*job);
}

void restore(const Request &request, JobHost &host, cryopod::UniqueFd fd, const QVariantMap &optionsArg)
{
    auto caller = begin(request, Action::Restore, QStringLiteral("restore processes"));
    if (!caller) {
        return request.fail(caller.error());
    }
    auto options = Validation::parseRestoreOptions(optionsArg);
    if (!options) {
        return request.fail(options.error());
    }
    if (auto ok = Validation::checkImageFd(fd.get(), Validation::FdDirection::Read); !ok) {
        return request.fail(ok.error());
    }
    auto job = host.createJob(caller->busName, QStringLiteral("restore"));
    if (!job) {
        return request.fail(job.error());
    }
    request.reply({QVariant::fromValue(QDBusObjectPath((*job)->path()))});
    const HelperResult<QVariantMap> result = runRestore(**job, host, request, *caller, std::move(fd), *options);
    (*job)->sendFinished(result);
    host.releaseJob(*job);
}

} // namespace Operations
