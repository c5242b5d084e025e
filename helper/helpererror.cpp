// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helpererror.h"

#include <cerrno>

HelperError fromEngineError(const cryopod::Error &error)
{
    const QString message = QString::fromStdString(error.describe());
    switch (error.code) {
    case EEXIST:
        return HelperError::make(HelperErrorName::PidInUse, message);
    case ENOTSUP:
        return HelperError::make(HelperErrorName::Unsupported, message);
    case ESRCH:
        return HelperError::make(HelperErrorName::NoSuchProcess, message);
    case ECANCELED:
        return HelperError::make(HelperErrorName::Cancelled, message);
    case EAGAIN: // a passing state: a vfork child before its exec, a tree that keeps changing
        return HelperError::make(HelperErrorName::Busy, message);
    default:
        return HelperError::make(HelperErrorName::Failed, message);
    }
}
