// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "cryopodsettings.h"

#include "snapshotstore.h"

#include <algorithm>

namespace
{
const QString kStorePath = QStringLiteral("Store/path");
const QString kCompressionLevel = QStringLiteral("Store/compressionLevel");
const QString kKeepRunning = QStringLiteral("Snapshot/keepRunning");
const QString kKeepLast = QStringLiteral("Retention/keepLast");
const QString kWelcomed = QStringLiteral("General/welcomed");
} // namespace

CryopodSettings::CryopodSettings(QObject *parent)
    : QObject(parent)
    , m_settings(QSettings::IniFormat, QSettings::UserScope, QStringLiteral("cryopod"), QStringLiteral("cryopod"))
{
}

void CryopodSettings::write(const QString &key, const QVariant &value)
{
    if (m_settings.value(key) == value) {
        return;
    }
    m_settings.setValue(key, value);
    m_settings.sync();
    Q_EMIT changed();
}

QString CryopodSettings::storePath() const
{
    return m_settings.value(kStorePath).toString();
}

void CryopodSettings::setStorePath(const QString &path)
{
    write(kStorePath, path.trimmed());
}

QString CryopodSettings::defaultStorePath() const
{
    return QString::fromStdString(cryopod::store::SnapshotStore::defaultLocation());
}

int CryopodSettings::compressionLevel() const
{
    return std::clamp(m_settings.value(kCompressionLevel, 1).toInt(), kMinLevel, kMaxLevel);
}

void CryopodSettings::setCompressionLevel(int level)
{
    write(kCompressionLevel, std::clamp(level, kMinLevel, kMaxLevel));
}

bool CryopodSettings::keepRunning() const
{
    return m_settings.value(kKeepRunning, true).toBool();
}

void CryopodSettings::setKeepRunning(bool keep)
{
    write(kKeepRunning, keep);
}

int CryopodSettings::keepLast() const
{
    return std::clamp(m_settings.value(kKeepLast, 0).toInt(), 0, kMaxKeepLast);
}

void CryopodSettings::setKeepLast(int count)
{
    write(kKeepLast, std::clamp(count, 0, kMaxKeepLast));
}

bool CryopodSettings::isFirstRun() const
{
    return !m_settings.value(kWelcomed, false).toBool();
}

void CryopodSettings::setWelcomed()
{
    write(kWelcomed, true);
}

void CryopodSettings::resetToDefaults()
{
    for (const QString &key : {kStorePath, kCompressionLevel, kKeepRunning, kKeepLast}) {
        m_settings.remove(key);
    }
    m_settings.sync();
    Q_EMIT changed();
}
