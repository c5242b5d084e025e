// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The refusals and failures of cryopod-helper: a D-Bus error name from the
// fixed list in docs/dbus-interface.md and a human message.
#pragma once

#include "result.h"

#include <QString>

#include <expected>

namespace HelperErrorName
{
inline constexpr char NotAuthorized[] = "io.github.cryopod.Error.NotAuthorized";
inline constexpr char NoSuchProcess[] = "io.github.cryopod.Error.NoSuchProcess";
inline constexpr char InvalidArgument[] = "io.github.cryopod.Error.InvalidArgument";
inline constexpr char Unsupported[] = "io.github.cryopod.Error.Unsupported";
inline constexpr char BadImage[] = "io.github.cryopod.Error.BadImage";
inline constexpr char PidInUse[] = "io.github.cryopod.Error.PidInUse";
inline constexpr char Cancelled[] = "io.github.cryopod.Error.Cancelled";
inline constexpr char Busy[] = "io.github.cryopod.Error.Busy";
inline constexpr char Failed[] = "io.github.cryopod.Error.Failed";
}

struct HelperError {
    QString name; // one of HelperErrorName
    QString message; // what was refused and why, for people

    static HelperError make(const char *name, const QString &message)
    {
        return HelperError{QString::fromLatin1(name), message};
    }
};

template<typename T>
using HelperResult = std::expected<T, HelperError>;

inline std::unexpected<HelperError> helperError(const char *name, const QString &message)
{
    return std::unexpected(HelperError::make(name, message));
}

// The error of an engine or image library call, with the error name chosen
// by its errno (EEXIST: PidInUse, ENOTSUP: Unsupported, ESRCH: NoSuchProcess,
// ECANCELED: Cancelled, EAGAIN: Busy, anything else: Failed). EAGAIN is a
// state that passes by itself (a vfork child that has not exec'd within the
// engine's second of retries, a tree that keeps forking while it is frozen):
// the caller may try again.
HelperError fromEngineError(const cryopod::Error &error);
