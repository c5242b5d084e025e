// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "backgroundrunner.h"

#include "helperclient.h"
#include "schedulehelper.h"
#include "schedulerunner.h"
#include "schedulestore.h"
#include "snapshotstore.h"

#include <KLocalizedString>
#include <KNotification>
#include <KStatusNotifierItem>

#include <QAction>
#include <QCoreApplication>
#include <QDateTime>
#include <QLocale>
#include <QMenu>
#include <QProcess>

#include <ctime>

using namespace cryopod;
using namespace cryopod::schedule;

BackgroundRunner::BackgroundRunner(QObject *parent)
    : QObject(parent)
{
}

BackgroundRunner::~BackgroundRunner() = default;

bool BackgroundRunner::start(QString *error)
{
    auto store = store::SnapshotStore::open(store::SnapshotStore::defaultLocation());
    if (!store) {
        *error = QString::fromStdString(store.error().describe());
        return false;
    }
    m_store = std::move(*store);
    auto lock = lockRunner(*m_store);
    if (!lock) {
        *error = QString::fromStdString(lock.error().message);
        return false;
    }
    m_lock = std::move(*lock);
    m_client = std::make_unique<HelperClient>();
    m_taker = std::make_unique<ProducerTaker>(ScheduleHelper::producerFactory(*m_client));
    m_service = std::make_unique<ScheduleService>(*m_store, *m_taker, realTimeNs);

    m_tray = new KStatusNotifierItem(QStringLiteral("cryopod-background"), this);
    m_tray->setCategory(KStatusNotifierItem::ApplicationStatus);
    m_tray->setIconByName(QStringLiteral("io.github.cryopod.Cryopod"));
    m_tray->setTitle(i18nc("@title tray icon", "Cryopod scheduled snapshots"));
    m_tray->setStandardActionsEnabled(true);
    m_pause = new QAction(QIcon::fromTheme(QStringLiteral("media-playback-pause")), i18nc("@action:inmenu", "Pause Schedules"), this);
    m_pause->setCheckable(true);
    connect(m_pause, &QAction::toggled, this, [this](bool paused) {
        m_service->setPaused(paused);
        updateStatus();
    });
    auto *open = new QAction(QIcon::fromTheme(QStringLiteral("io.github.cryopod.Cryopod")), i18nc("@action:inmenu", "Open Cryopod"), this);
    connect(open, &QAction::triggered, this, [] { QProcess::startDetached(QCoreApplication::applicationFilePath(), {}); });
    m_tray->contextMenu()->addAction(open);
    m_tray->contextMenu()->addAction(m_pause);
    connect(m_tray, &KStatusNotifierItem::activateRequested, open, &QAction::trigger);

    connect(m_service.get(), &ScheduleService::nextRunChanged, this, &BackgroundRunner::updateStatus);
    connect(m_service.get(), &ScheduleService::ran, this, &BackgroundRunner::updateStatus);
    connect(m_service.get(), &ScheduleService::runFailed, this, &BackgroundRunner::notifyFailure);
    connect(m_service.get(), &ScheduleService::error, this, [](const QString &message) { qWarning("cryopod --background: %s", qPrintable(message)); });
    m_service->start();
    updateStatus();
    return true;
}

void BackgroundRunner::updateStatus()
{
    QString status;
    if (m_service->isPaused()) {
        status = i18nc("@info:tooltip", "Schedules paused");
        m_tray->setStatus(KStatusNotifierItem::Passive);
    } else if (const auto next = m_service->nextRun()) {
        const QDateTime at = QDateTime::fromMSecsSinceEpoch(*next / 1000000);
        status = i18nc("@info:tooltip %1 a date and time", "Next snapshot: %1", QLocale().toString(at, QLocale::ShortFormat));
        m_tray->setStatus(KStatusNotifierItem::Active);
    } else {
        status = i18nc("@info:tooltip", "No active schedule");
        m_tray->setStatus(KStatusNotifierItem::Passive);
    }
    m_tray->setToolTip(QStringLiteral("io.github.cryopod.Cryopod"), i18nc("@title tray icon", "Cryopod scheduled snapshots"), status);
}

void BackgroundRunner::notifyFailure(qint64 scheduleId, const QString &message)
{
    QString name;
    if (auto s = ScheduleStore(m_store->database()).get(scheduleId)) {
        name = QString::fromStdString(s->name.empty() ? s->target.describe() : s->name);
    }
    auto *notification = new KNotification(QStringLiteral("snapshotFailed"));
    notification->setComponentName(QStringLiteral("cryopod"));
    notification->setTitle(i18nc("@title notification", "Scheduled snapshot failed"));
    notification->setText(i18nc("@info notification %1 schedule, %2 the reason", "%1: %2\nCryopod tries again later.", name, message));
    notification->setIconName(QStringLiteral("io.github.cryopod.Cryopod"));
    notification->sendEvent();
}
