// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ProcessSnapshot as D-Bus data: what cryopod-helper's ListProcesses returns
// (a{sv}: "processes" av of a{sv}, one per process, and "cpuCount" i;
// docs/dbus-interface.md lists the keys) and how the backend reads it back.
// The decoder checks every field's type and refuses what it does not expect.
#pragma once

#include "processinfo.h"

#include <QVariantMap>

#include <optional>

namespace ProcessSnapshotCodec
{
QVariantMap encode(const ProcessSnapshot &snapshot);
QVariantMap encodeProcess(const ProcessInfo &info);
// nullopt + error on a malformed answer.
std::optional<ProcessSnapshot> decode(const QVariantMap &map, QString *error);
std::optional<ProcessInfo> decodeProcess(const QVariantMap &map, QString *error);
}
