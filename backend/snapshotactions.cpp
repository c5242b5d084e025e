// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotactions.h"

#include "backendlogging.h"
#include "helperclient.h"
#include "helperengine.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "imagereader.h"
#include "processscanner.h"
#include "targetprobe.h"
#include "terminalsession.h"
#include "timelinemodel.h"

#include <QDBusConnection>
#include <QDBusPendingCall>
#include <QDateTime>
#include <QFile>
#include <QLocale>
#include <QUrl>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <unistd.h>

using namespace cryopod;
using namespace cryopod::store;

struct SnapshotActions::Outcome {
    enum Kind { Snapshot, Restore, Export } kind = Snapshot;
    bool ok = false;
    bool cancelled = false;
    // A cancelled snapshot's process is held by a cgroup freezer (Freeze):
    // it stays frozen, where another one runs on.
    bool frozen = false;
    QString error;
    QString path;
    qint64 snapshotId = 0;
    qint64 targetId = 0;
    int pid = 0;
    QString timing; // a snapshot's pause and total
    // A restore that asked: the image's terminal, nothing restored.
    QString terminalChoice;
    bool replaceRunning = false;
    // A restore onto a new pty: its master and slave.
    std::shared_ptr<UniqueFd> ptyMaster;
    QString ptyPath;
};

namespace
{
QString q(const std::string &text)
{
    return QString::fromStdString(text);
}

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

// Resident memory of a process: about what its snapshot moves.
quint64 residentBytes(int pid)
{
    QFile statm(QStringLiteral("/proc/%1/statm").arg(pid));
    if (!statm.open(QIODevice::ReadOnly)) {
        return 0;
    }
    const QList<QByteArray> fields = statm.readAll().split(' ');
    return fields.size() > 1 ? fields.at(1).toULongLong() * quint64(::sysconf(_SC_PAGESIZE)) : 0;
}

QString sizeText(quint64 bytes)
{
    return QLocale().formattedDataSize(qint64(bytes), 1, QLocale::DataSizeIecFormat);
}
} // namespace

SnapshotActions::SnapshotActions(QObject *parent)
    : QObject(parent)
{
    // The helper sends a job's signals to its caller's connection only. The
    // worker's HelperClient uses this same (per-process) system bus
    // connection, so its jobs' Progress reaches this object too, on this
    // thread, while the worker is busy streaming.
    QDBusConnection::systemBus().connect(QLatin1String(HelperClient::kService), QString(), QLatin1String(HelperClient::kJobInterface),
                                         QStringLiteral("Progress"), this, SLOT(onJobProgress(QDBusMessage)));
}

SnapshotActions::~SnapshotActions()
{
    QDBusConnection::systemBus().disconnect(QLatin1String(HelperClient::kService), QString(), QLatin1String(HelperClient::kJobInterface),
                                            QStringLiteral("Progress"), this, SLOT(onJobProgress(QDBusMessage)));
    if (m_worker) {
        m_worker->wait();
    }
}

QString SnapshotActions::step() const
{
    const QString &phase = m_progress.phase;
    if (phase == QLatin1String("analyze")) {
        return tr("Checking the process");
    }
    if (phase == QLatin1String("freeze")) {
        return tr("Pausing the process");
    }
    if (phase == QLatin1String("capture")) {
        return tr("Capturing its state");
    }
    if (phase == QLatin1String("write")) {
        return tr("Saving memory and files");
    }
    if (phase == QLatin1String("release")) {
        return tr("Letting the process run on");
    }
    if (phase == QLatin1String("receive")) {
        return tr("Reading the snapshot");
    }
    if (phase == QLatin1String("verify")) {
        return tr("Checking the snapshot");
    }
    if (phase == QLatin1String("restore")) {
        return tr("Rebuilding the process");
    }
    return phase;
}

qint64 SnapshotActions::doneBytes() const
{
    return qint64(m_progress.done);
}

qint64 SnapshotActions::totalBytes() const
{
    return qint64(m_progress.total > 0 ? m_progress.total : m_expectedBytes);
}

double SnapshotActions::progress() const
{
    const qint64 total = totalBytes();
    if (total <= 0 || m_progress.done == 0) {
        return -1;
    }
    // An estimate can be exceeded: hold short of the end until it is.
    return std::min(0.99, double(m_progress.done) / double(total));
}

int SnapshotActions::etaSeconds() const
{
    return m_eta;
}

QString SnapshotActions::progressText() const
{
    if (m_progress.done == 0) {
        return QString();
    }
    const qint64 total = totalBytes();
    QString text;
    if (total <= 0 || m_progress.done >= quint64(total)) {
        text = sizeText(m_progress.done);
    } else if (m_progress.total > 0) {
        text = tr("%1 of %2").arg(sizeText(m_progress.done), sizeText(quint64(total)));
    } else {
        text = tr("%1 of about %2").arg(sizeText(m_progress.done), sizeText(quint64(total)));
    }
    if (m_eta >= 0) {
        text = tr("%1, about %n s left", nullptr, m_eta).arg(text);
    }
    return text;
}

bool SnapshotActions::canCancel() const
{
    return m_worker && !m_cancelRequested;
}

void SnapshotActions::cancel()
{
    if (!m_worker || m_cancelRequested) {
        return;
    }
    m_cancelRequested = true;
    if (!m_jobPath.isEmpty()) {
        QDBusMessage message = QDBusMessage::createMethodCall(QLatin1String(HelperClient::kService), m_jobPath, QLatin1String(HelperClient::kJobInterface),
                                                              QStringLiteral("Cancel"));
        QDBusConnection::systemBus().asyncCall(message, 30000); // Finished tells how it ended
    }
    // Else sent as soon as the worker tells the job's path (jobStarted).
    Q_EMIT progressChanged();
}

void SnapshotActions::onJobProgress(const QDBusMessage &message)
{
    if (!m_worker) {
        return;
    }
    const QVariantList args = message.arguments();
    const Progress progress {args.value(0).toString(), args.value(1).toULongLong(), args.value(2).toULongLong()};
    if (m_jobPath.isEmpty()) {
        // Not known yet which job is ours: the worker tells in a moment.
        if (m_early.size() < 64 || m_early.contains(message.path())) {
            m_early.insert(message.path(), progress);
        }
        return;
    }
    if (message.path() == m_jobPath) {
        applyProgress(progress);
    }
}

void SnapshotActions::jobStarted(const QString &path)
{
    if (!m_worker) {
        return;
    }
    m_jobPath = path;
    if (m_early.contains(path)) {
        applyProgress(m_early.value(path));
    }
    m_early.clear();
    if (m_cancelRequested) {
        m_cancelRequested = false;
        cancel();
    }
}

void SnapshotActions::applyProgress(const Progress &progress)
{
    const qint64 now = nowMs();
    if (progress.phase != m_ratePhase || progress.done < m_rateStartBytes) {
        m_ratePhase = progress.phase;
        m_rateStartBytes = progress.done;
        m_rateStartMs = now;
    }
    m_progress = progress;
    m_eta = -1;
    const qint64 total = totalBytes();
    const qint64 elapsed = now - m_rateStartMs;
    const quint64 moved = progress.done - m_rateStartBytes;
    if (total > 0 && progress.done < quint64(total) && elapsed >= 500 && moved > 0) {
        const double bytesPerMs = double(moved) / double(elapsed);
        m_eta = int((double(quint64(total) - progress.done) / bytesPerMs) / 1000.0 + 0.5);
    }
    Q_EMIT progressChanged();
}

void SnapshotActions::resetProgress()
{
    m_jobPath.clear();
    m_cancelRequested = false;
    m_early.clear();
    m_progress = {};
    m_expectedBytes = 0;
    m_ratePhase.clear();
    m_rateStartBytes = 0;
    m_rateStartMs = 0;
    m_eta = -1;
    Q_EMIT progressChanged();
}

std::function<void(const QString &)> SnapshotActions::jobObserver()
{
    QPointer<SnapshotActions> self(this);
    return [self](const QString &path) {
        QMetaObject::invokeMethod(self, [self, path] {
            if (self) {
                self->jobStarted(path);
            }
        });
    };
}

QString SnapshotActions::storePath() const
{
    return m_storePath;
}

void SnapshotActions::setStorePath(const QString &path)
{
    if (m_storePath == path) {
        return;
    }
    m_storePath = path;
    Q_EMIT storePathChanged();
}

bool SnapshotActions::isBusy() const
{
    return m_worker != nullptr;
}

QString SnapshotActions::phase() const
{
    return m_phase;
}

int SnapshotActions::activePid() const
{
    return m_activePid;
}

QString SnapshotActions::errorString() const
{
    return m_error;
}

void SnapshotActions::clearError()
{
    if (!m_error.isEmpty()) {
        m_error.clear();
        Q_EMIT errorStringChanged();
    }
}

std::string SnapshotActions::storeDirectory() const
{
    return m_storePath.isEmpty() ? SnapshotStore::defaultLocation() : m_storePath.toStdString();
}

bool SnapshotActions::begin(int pid, const QString &phase)
{
    if (m_worker) {
        return false;
    }
    clearError();
    resetProgress();
    m_activePid = pid;
    m_phase = phase;
    Q_EMIT phaseChanged();
    return true;
}

int SnapshotActions::compressionLevel() const
{
    return m_level;
}

void SnapshotActions::setCompressionLevel(int level)
{
    level = std::clamp(level, 1, 19);
    if (m_level != level) {
        m_level = level;
        Q_EMIT settingsChanged();
    }
}

int SnapshotActions::keepLast() const
{
    return m_keepLast;
}

void SnapshotActions::setKeepLast(int count)
{
    count = std::max(0, count);
    if (m_keepLast != count) {
        m_keepLast = count;
        Q_EMIT settingsChanged();
    }
}

bool SnapshotActions::snapshot(int pid, const QString &label, bool keepRunning)
{
    if (pid <= 0 || !begin(pid, tr("Taking a snapshot of process %1…").arg(pid))) {
        return false;
    }
    const std::string dir = storeDirectory();
    m_expectedBytes = residentBytes(pid);
    const SnapshotRequest request {pid, label, keepRunning, m_level, m_keepLast};
    m_worker.reset(QThread::create([this, dir, request, observer = jobObserver()] {
        const Outcome outcome = takeSnapshot(dir, request, observer);
        QMetaObject::invokeMethod(this, [this, outcome] { finish(outcome); });
    }));
    m_worker->start();
    Q_EMIT busyChanged();
    return true;
}

bool SnapshotActions::restore(qint64 snapshotId, bool replaceRunning, const QString &terminal)
{
    if (!terminal.isEmpty() && terminal != QLatin1String("new") && terminal != QLatin1String("original")) {
        qCWarning(lcTimeline) << "restore: unknown terminal choice" << terminal;
        return false;
    }
    if (snapshotId <= 0 || !begin(0, tr("Restoring snapshot %1…").arg(snapshotId))) {
        return false;
    }
    const std::string dir = storeDirectory();
    QPointer<SnapshotActions> self(this);
    auto imageBytes = [self](quint64 bytes) {
        QMetaObject::invokeMethod(self, [self, bytes] {
            if (self && self->m_worker) {
                self->m_expectedBytes = bytes;
                Q_EMIT self->progressChanged();
            }
        });
    };
    m_worker.reset(QThread::create([this, dir, snapshotId, replaceRunning, terminal, observer = jobObserver(), imageBytes] {
        const Outcome outcome = restoreSnapshot(dir, snapshotId, replaceRunning, terminal, observer, imageBytes);
        QMetaObject::invokeMethod(this, [this, outcome] { finish(outcome); });
    }));
    m_worker->start();
    Q_EMIT busyChanged();
    return true;
}

void SnapshotActions::finish(const Outcome &outcome)
{
    m_worker->wait();
    m_worker.reset();
    m_activePid = 0;
    m_phase.clear();
    resetProgress();
    Q_EMIT phaseChanged();
    Q_EMIT busyChanged();
    if (outcome.cancelled) {
        if (outcome.kind != Outcome::Snapshot) {
            Q_EMIT cancelled(tr("Restore cancelled: nothing of it was left running."));
        } else if (outcome.frozen) {
            Q_EMIT cancelled(tr("Snapshot cancelled: the process stays frozen, unchanged; nothing was stored."));
        } else {
            Q_EMIT cancelled(tr("Snapshot cancelled: the process runs on unchanged, nothing was stored."));
        }
        return;
    }
    if (!outcome.terminalChoice.isEmpty()) {
        Q_EMIT terminalChoiceNeeded(outcome.snapshotId, outcome.replaceRunning, outcome.terminalChoice, QFile::exists(outcome.terminalChoice));
        return;
    }
    if (!outcome.ok) {
        qCWarning(lcTimeline) << outcome.error;
        m_error = outcome.error;
        Q_EMIT errorStringChanged();
        Q_EMIT failed(outcome.error);
        return;
    }
    if (outcome.kind == Outcome::Snapshot) {
        m_lastTiming = outcome.timing;
        Q_EMIT snapshotTaken(outcome.snapshotId, outcome.targetId);
    } else if (outcome.kind == Outcome::Export) {
        Q_EMIT exported(outcome.snapshotId, outcome.path);
    } else {
        if (outcome.ptyMaster && *outcome.ptyMaster) {
            auto *session = new TerminalSession(std::move(*outcome.ptyMaster), outcome.ptyPath, this);
            session->setTitle(tr("Process %1").arg(outcome.pid));
            Q_EMIT terminalOpened(session, outcome.snapshotId, outcome.pid);
        }
        Q_EMIT restored(outcome.snapshotId, outcome.pid);
    }
}

void SnapshotActions::closeTerminal(TerminalSession *session)
{
    if (session && session->parent() == this) {
        session->close();
        session->deleteLater();
    }
}

QString SnapshotActions::lastTimingText() const
{
    return m_lastTiming;
}

void SnapshotActions::freeze(int pid)
{
    setFrozen(pid, true);
}

void SnapshotActions::thaw(int pid)
{
    setFrozen(pid, false);
}

void SnapshotActions::setFrozen(int pid, bool frozen)
{
    if (!m_client) {
        m_client = new HelperClient(QDBusConnection::systemBus(), this);
    }
    clearError();
    HelperCall *call = frozen ? m_client->freeze(pid) : m_client->thaw(pid);
    connect(call, &HelperCall::finished, this, [this, call, pid, frozen](bool ok, const QString &, const QString &message) {
        call->deleteLater();
        if (!ok) {
            m_error = (frozen ? tr("Process %1 could not be frozen: %2") : tr("Process %1 could not be thawed: %2")).arg(pid).arg(message);
            Q_EMIT errorStringChanged();
            Q_EMIT failed(m_error);
            return;
        }
        Q_EMIT freezeChanged(pid, frozen);
    });
}

bool SnapshotActions::exportSnapshot(qint64 snapshotId, const QString &path)
{
    const QString file = path.startsWith(QLatin1String("file:")) ? QUrl(path).toLocalFile() : path;
    if (snapshotId <= 0 || file.isEmpty() || !begin(0, tr("Exporting snapshot %1…").arg(snapshotId))) {
        return false;
    }
    const std::string dir = storeDirectory();
    m_worker.reset(QThread::create([this, dir, snapshotId, file] {
        Outcome outcome;
        outcome.kind = Outcome::Export;
        outcome.snapshotId = snapshotId;
        outcome.path = file;
        if (auto store = openStore(dir, outcome)) {
            auto written = store->exportImage(snapshotId, file.toStdString());
            outcome.ok = bool(written);
            if (!written) {
                outcome.error = tr("Exporting snapshot %1 failed: %2").arg(snapshotId).arg(q(written.error().describe()));
            }
        }
        QMetaObject::invokeMethod(this, [this, outcome] { finish(outcome); });
    }));
    m_worker->start();
    Q_EMIT busyChanged();
    return true;
}

int SnapshotActions::runningPidOf(qint64 snapshotId) const
{
    auto store = SnapshotStore::open(storeDirectory());
    return store ? runningPidOf(**store, snapshotId) : 0;
}

int SnapshotActions::runningPidOf(SnapshotStore &store, qint64 snapshotId)
{
    auto info = store.snapshot(snapshotId);
    if (!info || info->rootPid <= 0) {
        return 0;
    }
    auto targets = store.targets();
    if (!targets) {
        return 0;
    }
    auto running = TargetProbe::probe(pid_t(info->rootPid));
    if (!running) {
        return 0;
    }
    for (const Target &target : *targets) {
        if (target.id == info->targetId) {
            return running->exe == target.info.exe ? info->rootPid : 0;
        }
    }
    return 0;
}

QString SnapshotActions::stopAndWait(int pid)
{
    if (::kill(pid_t(pid), SIGKILL) != 0 && errno != ESRCH) {
        return tr("Process %1 could not be stopped: %2").arg(pid).arg(QString::fromLocal8Bit(std::strerror(errno)));
    }
    // Gone once /proc no longer has it: a zombie keeps its pid until its
    // parent reaps it.
    for (int i = 0; i < 100; ++i) {
        if (!QFile::exists(QStringLiteral("/proc/%1").arg(pid))) {
            return QString();
        }
        QThread::msleep(100);
    }
    return tr("Process %1 was stopped, but its parent has not collected it after 10 s, so its pid is still taken.").arg(pid);
}

qint64 SnapshotActions::targetIdOf(int pid) const
{
    auto probed = TargetProbe::probe(pid_t(pid));
    if (!probed) {
        return 0;
    }
    auto store = SnapshotStore::open(storeDirectory());
    if (!store) {
        return 0;
    }
    auto targets = (*store)->targets();
    if (!targets) {
        return 0;
    }
    for (const Target &target : *targets) {
        if (target.info.pid == probed->pid && target.info.exe == probed->exe && target.info.startTimeNs == probed->startTimeNs &&
            target.info.uid == probed->uid) {
            return target.id;
        }
    }
    return 0;
}

std::unique_ptr<SnapshotStore> SnapshotActions::openStore(const std::string &storeDir, Outcome &outcome)
{
    auto store = SnapshotStore::open(storeDir);
    if (!store) {
        outcome.error = tr("Cannot open the snapshot store: %1").arg(q(store.error().describe()));
        return nullptr;
    }
    return std::move(*store);
}

SnapshotActions::Outcome SnapshotActions::takeSnapshot(const std::string &storeDir, const SnapshotRequest &request,
                                                       const std::function<void(const QString &)> &observer)
{
    const int pid = request.pid;
    Outcome outcome;
    outcome.kind = Outcome::Snapshot;
    outcome.pid = pid;
    auto store = openStore(storeDir, outcome);
    if (!store) {
        return outcome;
    }
    auto target = TargetProbe::probe(pid_t(pid));
    if (!target) {
        outcome.error = tr("Process %1 cannot be read: %2").arg(pid).arg(q(target.error().describe()));
        return outcome;
    }
    IngestOptions options;
    options.target = *target;
    options.label = request.label.toStdString();
    options.blobLevel = request.level;
    HelperClient client;
    HelperEngine::Producer producer(client);
    producer.setJobObserver(observer);
    producer.setLeaveRunning(request.keepRunning);
    auto taken = SnapshotJob::take(*store, producer, pid_t(pid), options);
    if (!taken) {
        outcome.cancelled = taken.error().code == ECANCELED;
        if (outcome.cancelled) {
            // As the helper left it: a frozen tree is frozen again after the capture.
            const std::optional<ProcessInfo> now = ProcessScanner::readProcess(pid_t(pid));
            outcome.frozen = now && now->frozen;
        }
        outcome.error = tr("The snapshot of process %1 failed: %2").arg(pid).arg(q(taken.error().describe()));
        return outcome;
    }
    auto info = store->snapshot(taken->id);
    outcome.ok = true;
    outcome.snapshotId = taken->id;
    outcome.targetId = info ? info->targetId : 0;
    outcome.timing = info ? TimelineModel::timingText(info->pauseNs, info->durationNs) : QString();
    if (request.keepLast > 0 && outcome.targetId > 0) {
        applyRetention(*store, outcome.targetId, request.keepLast);
    }
    return outcome;
}

void SnapshotActions::applyRetention(SnapshotStore &store, qint64 targetId, int keepLast)
{
    SnapshotFilter filter;
    filter.targetId = targetId;
    filter.newestFirst = true;
    auto snapshots = store.list(filter);
    if (!snapshots) {
        qCWarning(lcTimeline) << "retention: cannot list the snapshots:" << q(snapshots.error().describe());
        return;
    }
    int kept = 0;
    for (const SnapshotInfo &info : *snapshots) {
        if (info.pinned) {
            continue; // pinned ones are kept and do not count
        }
        if (++kept <= keepLast) {
            continue;
        }
        if (auto removed = store.remove(info.id); !removed) {
            qCWarning(lcTimeline) << "retention: cannot delete snapshot" << info.id << q(removed.error().describe());
        }
    }
}

Result<std::string> SnapshotActions::terminalOfImage(SnapshotStore &store, qint64 id)
{
    Result<std::string> found = fail("not read");
    auto rebuilt = SnapshotJob::read(store, id, [&found](int fd) {
        found = [fd]() -> Result<std::string> {
            auto reader = image::ImageReader::open(fd);
            if (!reader) {
                return std::unexpected(reader.error());
            }
            for (;;) {
                auto section = (*reader)->next();
                if (!section) {
                    return std::unexpected(section.error());
                }
                if (const auto *terminal = std::get_if<image::TerminalRecord>(&*section)) {
                    return terminal->path;
                }
                // Every Terminal comes before the first Files record.
                if (std::holds_alternative<image::FilesRecord>(*section) || std::holds_alternative<image::PagesRecord>(*section)
                    || std::holds_alternative<image::EndRecord>(*section)) {
                    return std::string();
                }
            }
        }();
    });
    if (!found && !rebuilt) {
        return std::unexpected(rebuilt.error());
    }
    return found;
}

SnapshotActions::Outcome SnapshotActions::restoreSnapshot(const std::string &storeDir, qint64 id, bool replaceRunning, const QString &terminal,
                                                          const std::function<void(const QString &)> &observer, const std::function<void(quint64)> &imageBytes)
{
    Outcome outcome;
    outcome.kind = Outcome::Restore;
    outcome.snapshotId = id;
    auto store = openStore(storeDir, outcome);
    if (!store) {
        return outcome;
    }
    HelperClient client;
    if (auto info = store->snapshot(id)) {
        imageBytes(info->imageBytes);
    }
    if (terminal.isEmpty()) {
        // Ask first (before a running copy is stopped) when it ran on a terminal.
        auto path = terminalOfImage(*store, id);
        if (!path) {
            outcome.error = tr("Snapshot %1's image cannot be read: %2").arg(id).arg(q(path.error().describe()));
            return outcome;
        }
        if (!path->empty()) {
            outcome.terminalChoice = q(*path);
            outcome.replaceRunning = replaceRunning;
            return outcome;
        }
    }
    if (replaceRunning) {
        if (const int running = runningPidOf(*store, id); running > 0) {
            outcome.error = stopAndWait(running);
            if (!outcome.error.isEmpty()) {
                return outcome;
            }
        }
    }
    HelperEngine::Consumer consumer(client);
    consumer.setJobObserver(observer);
    if (!terminal.isEmpty()) {
        consumer.setPty(terminal);
    }
    auto restored = SnapshotJob::restore(*store, id, consumer);
    if (!restored) {
        outcome.cancelled = restored.error().code == ECANCELED;
        outcome.error = tr("Restoring snapshot %1 failed: %2").arg(id).arg(q(restored.error().describe()));
        return outcome;
    }
    outcome.ok = true;
    outcome.pid = int(restored->consumer.pid);
    for (HelperEngine::Terminal &t : consumer.takeTerminals()) {
        if (t.master && !outcome.ptyMaster) { // one terminal view (the first)
            outcome.ptyMaster = std::make_shared<UniqueFd>(std::move(t.master));
            outcome.ptyPath = q(t.path);
        }
    }
    return outcome;
}
