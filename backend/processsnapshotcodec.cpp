// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "processsnapshotcodec.h"

#include <QDBusArgument>
#include <QDBusVariant>
#include <QVariantList>

namespace
{
// A value that arrived over D-Bus may still be wrapped (QDBusVariant) or
// undemarshalled (QDBusArgument, for containers).
QVariant unwrap(QVariant value)
{
    if (value.canConvert<QDBusVariant>() && value.metaType() == QMetaType::fromType<QDBusVariant>()) {
        value = value.value<QDBusVariant>().variant();
    }
    return value;
}

QVariantMap toMap(const QVariant &raw, bool *ok)
{
    const QVariant value = unwrap(raw);
    *ok = true;
    if (value.metaType() == QMetaType::fromType<QVariantMap>()) {
        return value.toMap();
    }
    if (value.metaType() == QMetaType::fromType<QDBusArgument>()) {
        const auto arg = value.value<QDBusArgument>();
        if (arg.currentType() == QDBusArgument::MapType) {
            return qdbus_cast<QVariantMap>(arg);
        }
    }
    *ok = false;
    return {};
}

QVariantList toList(const QVariant &raw, bool *ok)
{
    const QVariant value = unwrap(raw);
    *ok = true;
    if (value.metaType() == QMetaType::fromType<QVariantList>()) {
        return value.toList();
    }
    if (value.metaType() == QMetaType::fromType<QDBusArgument>()) {
        const auto arg = value.value<QDBusArgument>();
        if (arg.currentType() == QDBusArgument::ArrayType) {
            return qdbus_cast<QVariantList>(arg);
        }
    }
    *ok = false;
    return {};
}

// Reads key as type T; false when it is missing or of another type.
template<typename T>
bool take(const QVariantMap &map, const char *key, T *out, QString *error)
{
    const QVariant value = unwrap(map.value(QLatin1String(key)));
    if (value.metaType() != QMetaType::fromType<T>()) {
        *error = QStringLiteral("process entry: \"%1\" is %2, expected %3")
                     .arg(QLatin1String(key), value.isValid() ? QLatin1String(value.typeName()) : QStringLiteral("missing"), QLatin1String(QMetaType::fromType<T>().name()));
        return false;
    }
    *out = value.value<T>();
    return true;
}
} // namespace

namespace ProcessSnapshotCodec
{
QVariantMap encodeProcess(const ProcessInfo &info)
{
    return {
        {QStringLiteral("pid"), int(info.pid)},
        {QStringLiteral("ppid"), int(info.ppid)},
        {QStringLiteral("name"), info.name},
        {QStringLiteral("arguments"), info.arguments},
        {QStringLiteral("argumentsRead"), info.argumentsRead},
        {QStringLiteral("executable"), info.executable},
        {QStringLiteral("uid"), uint(info.uid)},
        {QStringLiteral("euid"), uint(info.euid)},
        {QStringLiteral("userName"), info.userName},
        {QStringLiteral("state"), QString(QLatin1Char(info.state))},
        {QStringLiteral("kernelThread"), info.kernelThread},
        {QStringLiteral("rssBytes"), info.rssBytes},
        {QStringLiteral("cpuTimeNs"), info.cpuTimeNs},
        {QStringLiteral("startTicks"), info.startTicks},
        {QStringLiteral("startTimeMs"), info.startTimeMs},
    };
}

QVariantMap encode(const ProcessSnapshot &snapshot)
{
    QVariantList processes;
    processes.reserve(snapshot.processes.size());
    for (const ProcessInfo &info : snapshot.processes) {
        processes.append(encodeProcess(info));
    }
    return {
        {QStringLiteral("processes"), processes},
        {QStringLiteral("cpuCount"), snapshot.cpuCount},
        {QStringLiteral("scanDurationUs"), snapshot.scanDurationUs},
    };
}

std::optional<ProcessInfo> decodeProcess(const QVariantMap &map, QString *error)
{
    ProcessInfo info;
    int pid = 0, ppid = 0;
    uint uid = 0, euid = 0;
    QString state;
    if (!take(map, "pid", &pid, error) || !take(map, "ppid", &ppid, error) || !take(map, "name", &info.name, error)
        || !take(map, "arguments", &info.arguments, error) || !take(map, "argumentsRead", &info.argumentsRead, error)
        || !take(map, "executable", &info.executable, error) || !take(map, "uid", &uid, error) || !take(map, "euid", &euid, error)
        || !take(map, "userName", &info.userName, error) || !take(map, "state", &state, error) || !take(map, "kernelThread", &info.kernelThread, error)
        || !take(map, "rssBytes", &info.rssBytes, error) || !take(map, "cpuTimeNs", &info.cpuTimeNs, error)
        || !take(map, "startTicks", &info.startTicks, error) || !take(map, "startTimeMs", &info.startTimeMs, error)) {
        return std::nullopt;
    }
    if (pid <= 0 || ppid < 0 || state.size() != 1) {
        *error = QStringLiteral("process entry %1: pid, ppid or state out of range").arg(pid);
        return std::nullopt;
    }
    info.pid = pid;
    info.ppid = ppid;
    info.uid = uid;
    info.euid = euid;
    info.state = state.at(0).toLatin1();
    return info;
}

std::optional<ProcessSnapshot> decode(const QVariantMap &map, QString *error)
{
    ProcessSnapshot snapshot;
    bool ok = false;
    const QVariantList processes = toList(map.value(QStringLiteral("processes")), &ok);
    if (!ok) {
        *error = QStringLiteral("the process list is missing or not a list");
        return std::nullopt;
    }
    if (!take(map, "cpuCount", &snapshot.cpuCount, error) || !take(map, "scanDurationUs", &snapshot.scanDurationUs, error)) {
        return std::nullopt;
    }
    snapshot.cpuCount = std::max(1, snapshot.cpuCount);
    snapshot.processes.reserve(processes.size());
    pid_t last = 0;
    for (const QVariant &entry : processes) {
        const QVariantMap fields = toMap(entry, &ok);
        if (!ok) {
            *error = QStringLiteral("a process entry is not a dictionary");
            return std::nullopt;
        }
        auto info = decodeProcess(fields, error);
        if (!info) {
            return std::nullopt;
        }
        if (info->pid <= last) {
            *error = QStringLiteral("process %1 out of order (the list is sorted by pid)").arg(info->pid);
            return std::nullopt;
        }
        last = info->pid;
        snapshot.processes.append(std::move(*info));
    }
    return snapshot;
}
} // namespace ProcessSnapshotCodec
