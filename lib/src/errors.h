// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// How libcryopod reports: a line on the caller's logfd ("cryopod: ..."), and
// for a failure errno plus the same message as the calling thread's last
// error (cryopod_last_error()).
#pragma once

#include <string>

namespace cryopod::lib
{

// A line on logfd, when it is >= 0. Never fails the call; keeps errno.
void logLine(int logfd, const char *format, ...) __attribute__((format(printf, 2, 3)));
// -1 with errno = err, the message on logfd and as the thread's last error.
long failWith(int logfd, int err, const std::string &message);
// The errno for a D-Bus error name of the helper or the bus.
int errnoOfError(const std::string &name);
// The message of the calling thread's last failure ("" before any).
const char *lastError();

} // namespace cryopod::lib
