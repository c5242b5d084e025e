// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotactions.h"

#include "backendlogging.h"
#include "helperclient.h"
#include "helperengine.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "targetprobe.h"

using namespace cryopod;
using namespace cryopod::store;

struct SnapshotActions::Outcome {
    enum Kind { Snapshot, Restore } kind = Snapshot;
    bool ok = false;
    QString error;
    qint64 snapshotId = 0;
    qint64 targetId = 0;
    int pid = 0;
};

namespace
{
QString q(const std::string &text)
{
    return QString::fromStdString(text);
}
} // namespace

SnapshotActions::SnapshotActions(QObject *parent)
    : QObject(parent)
{
}

SnapshotActions::~SnapshotActions()
{
    if (m_worker) {
        m_worker->wait();
    }
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
    m_activePid = pid;
    m_phase = phase;
    Q_EMIT phaseChanged();
    return true;
}

bool SnapshotActions::snapshot(int pid, const QString &label)
{
    if (pid <= 0 || !begin(pid, tr("Taking a snapshot of process %1…").arg(pid))) {
        return false;
    }
    const std::string dir = storeDirectory();
    m_worker.reset(QThread::create([this, dir, pid, label] {
        const Outcome outcome = takeSnapshot(dir, pid, label);
        QMetaObject::invokeMethod(this, [this, outcome] { finish(outcome); });
    }));
    m_worker->start();
    Q_EMIT busyChanged();
    return true;
}

bool SnapshotActions::restore(qint64 snapshotId)
{
    if (snapshotId <= 0 || !begin(0, tr("Restoring snapshot %1…").arg(snapshotId))) {
        return false;
    }
    const std::string dir = storeDirectory();
    m_worker.reset(QThread::create([this, dir, snapshotId] {
        const Outcome outcome = restoreSnapshot(dir, snapshotId);
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
    Q_EMIT phaseChanged();
    Q_EMIT busyChanged();
    if (!outcome.ok) {
        qCWarning(lcTimeline) << outcome.error;
        m_error = outcome.error;
        Q_EMIT errorStringChanged();
        Q_EMIT failed(outcome.error);
        return;
    }
    if (outcome.kind == Outcome::Snapshot) {
        Q_EMIT snapshotTaken(outcome.snapshotId, outcome.targetId);
    } else {
        Q_EMIT restored(outcome.snapshotId, outcome.pid);
    }
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

SnapshotActions::Outcome SnapshotActions::takeSnapshot(const std::string &storeDir, int pid, const QString &label)
{
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
    options.label = label.toStdString();
    HelperClient client;
    HelperEngine::Producer producer(client);
    auto taken = SnapshotJob::take(*store, producer, pid_t(pid), options);
    if (!taken) {
        outcome.error = tr("The snapshot of process %1 failed: %2").arg(pid).arg(q(taken.error().describe()));
        return outcome;
    }
    auto info = store->snapshot(taken->id);
    outcome.ok = true;
    outcome.snapshotId = taken->id;
    outcome.targetId = info ? info->targetId : 0;
    return outcome;
}

SnapshotActions::Outcome SnapshotActions::restoreSnapshot(const std::string &storeDir, qint64 id)
{
    Outcome outcome;
    outcome.kind = Outcome::Restore;
    outcome.snapshotId = id;
    auto store = openStore(storeDir, outcome);
    if (!store) {
        return outcome;
    }
    HelperClient client;
    HelperEngine::Consumer consumer(client);
    auto restored = SnapshotJob::restore(*store, id, consumer);
    if (!restored) {
        outcome.error = tr("Restoring snapshot %1 failed: %2").arg(id).arg(q(restored.error().describe()));
        return outcome;
    }
    outcome.ok = true;
    outcome.pid = int(restored->consumer.pid);
    return outcome;
}
