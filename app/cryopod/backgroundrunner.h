// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// `cryopod --background`: the schedule runner (ScheduleService) with a tray
// icon (KStatusNotifierItem) that shows the next run and has a pause
// switch, and a notification (KNotification) when a scheduled snapshot
// fails. One runner per store: a second one exits (a lock file in the
// store directory).
#pragma once

#include <QLockFile>
#include <QObject>

#include <memory>

class HelperClient;
class KStatusNotifierItem;
class QAction;

namespace cryopod::store
{
class SnapshotStore;
}
namespace cryopod::schedule
{
class ProducerTaker;
class ScheduleService;
} // namespace cryopod::schedule

class BackgroundRunner : public QObject
{
    Q_OBJECT
public:
    explicit BackgroundRunner(QObject *parent = nullptr);
    ~BackgroundRunner() override;

    // Opens the store and starts; false (and *error) when it cannot run.
    bool start(QString *error);

private:
    void updateStatus();
    void notifyFailure(qint64 scheduleId, const QString &message);

    std::unique_ptr<QLockFile> m_lock;
    std::unique_ptr<cryopod::store::SnapshotStore> m_store;
    std::unique_ptr<HelperClient> m_client;
    std::unique_ptr<cryopod::schedule::ProducerTaker> m_taker;
    std::unique_ptr<cryopod::schedule::ScheduleService> m_service;
    KStatusNotifierItem *m_tray = nullptr;
    QAction *m_pause = nullptr;
};
