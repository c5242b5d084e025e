// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "errors.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <unistd.h>

namespace cryopod::lib
{

namespace
{
thread_local std::string t_lastError;
}

// A line on logfd ("cryopod: ..."), when there is one. Never fails the call.
void logLine(int logfd, const char *format, ...)
{
    if (logfd < 0) {
        return;
    }
    char buf[4096];
    int n = std::snprintf(buf, sizeof buf, "cryopod: ");
    va_list args;
    va_start(args, format);
    n += std::vsnprintf(buf + n, sizeof buf - size_t(n) - 1, format, args);
    va_end(args);
    n = std::min(n, int(sizeof buf) - 2);
    buf[n++] = '\n';
    const int saved = errno;
    size_t done = 0;
    while (done < size_t(n)) {
        const ssize_t w = ::write(logfd, buf + done, size_t(n) - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        done += size_t(w);
    }
    errno = saved;
}

// -1 with errno and a line on logfd.
long failWith(int logfd, int err, const std::string &message)
{
    t_lastError = message;
    logLine(logfd, "%s", message.c_str());
    errno = err;
    return -1;
}

int errnoOfError(const std::string &name)
{
    static const struct {
        const char *name;
        int err;
    } table[] = {
        {"io.github.cryopod.Error.NotAuthorized", EPERM},
        {"io.github.cryopod.Error.NoSuchProcess", ESRCH},
        {"io.github.cryopod.Error.InvalidArgument", EINVAL},
        {"io.github.cryopod.Error.Unsupported", ENOTSUP},
        {"io.github.cryopod.Error.BadImage", EINVAL},
        {"io.github.cryopod.Error.PidInUse", EEXIST},
        {"io.github.cryopod.Error.Cancelled", ECANCELED},
        {"io.github.cryopod.Error.Busy", EAGAIN},
        {"io.github.cryopod.Error.Failed", EIO},
        {"org.freedesktop.DBus.Error.ServiceUnknown", ENOENT},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", ENOENT},
        {"org.freedesktop.DBus.Error.Spawn.ExecFailed", ENOENT},
        {"org.freedesktop.DBus.Error.Spawn.ChildExited", ECONNREFUSED},
        {"org.freedesktop.DBus.Error.AccessDenied", EACCES},
        {"org.freedesktop.DBus.Error.NoReply", ECONNRESET},
        {"org.freedesktop.DBus.Error.Disconnected", ECONNRESET},
    };
    for (const auto &e : table) {
        if (name == e.name) {
            return e.err;
        }
    }
    return EIO;
}

const char *lastError()
{
    return t_lastError.c_str();
}

} // namespace cryopod::lib
