// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "validation.h"

#include <QFile>
#include <QMetaType>
#include <QSet>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace Validation
{

namespace
{

constexpr qint64 kPidMaxLimit = 4 * 1024 * 1024; // PID_MAX_LIMIT on 64-bit

HelperError invalid(const QString &message)
{
    return HelperError::make(HelperErrorName::InvalidArgument, message);
}

QString typeName(const QVariant &value)
{
    const char *name = value.metaType().name();
    return name ? QString::fromLatin1(name) : QStringLiteral("nothing");
}

// Any D-Bus integer type (y n q i u x t) within [min, max].
HelperResult<int> integerOption(const QString &key, const QVariant &value, int min, int max)
{
    qint64 number = 0;
    switch (value.metaType().id()) {
    case QMetaType::UChar:
    case QMetaType::Short:
    case QMetaType::UShort:
    case QMetaType::Int:
    case QMetaType::LongLong:
        number = value.toLongLong();
        break;
    case QMetaType::UInt:
    case QMetaType::ULongLong: {
        const quint64 u = value.toULongLong();
        if (u > quint64(std::numeric_limits<qint64>::max())) {
            return std::unexpected(invalid(QStringLiteral("option %1: %2 is out of range %3..%4").arg(key).arg(u).arg(min).arg(max)));
        }
        number = qint64(u);
        break;
    }
    default:
        return std::unexpected(invalid(QStringLiteral("option %1 must be an integer, not %2").arg(key, typeName(value))));
    }
    if (number < min || number > max) {
        return std::unexpected(invalid(QStringLiteral("option %1: %2 is out of range %3..%4").arg(key).arg(number).arg(min).arg(max)));
    }
    return int(number);
}

HelperResult<bool> boolOption(const QString &key, const QVariant &value)
{
    if (value.metaType().id() != QMetaType::Bool) {
        return std::unexpected(invalid(QStringLiteral("option %1 must be a boolean, not %2").arg(key, typeName(value))));
    }
    return value.toBool();
}

HelperResult<void> rejectUnknown(const QVariantMap &options, std::initializer_list<const char *> known, const char *method)
{
    for (auto it = options.cbegin(); it != options.cend(); ++it) {
        bool found = false;
        for (const char *k : known) {
            if (it.key() == QLatin1String(k)) {
                found = true;
                break;
            }
        }
        if (!found) {
            QStringList names;
            for (const char *k : known) {
                names << QString::fromLatin1(k);
            }
            return std::unexpected(
                invalid(QStringLiteral("%1: unknown option \"%2\" (known: %3)").arg(QLatin1String(method), it.key(), names.join(QStringLiteral(", ")))));
        }
    }
    return {};
}

} // namespace

HelperResult<pid_t> checkPidRange(qint64 pid, qint64 pidMax)
{
    if (pid <= 0 || pid > pidMax) {
        return std::unexpected(invalid(QStringLiteral("%1 is not a process id (1..%2)").arg(pid).arg(pidMax)));
    }
    if (pid == 1) {
        return std::unexpected(HelperError::make(HelperErrorName::Unsupported, QStringLiteral("process 1 (init) cannot be checkpointed, frozen or inspected")));
    }
    return pid_t(pid);
}

qint64 systemPidMax()
{
    QFile file(QStringLiteral("/proc/sys/kernel/pid_max"));
    if (!file.open(QIODevice::ReadOnly)) {
        return kPidMaxLimit;
    }
    bool ok = false;
    const qint64 value = file.readAll().trimmed().toLongLong(&ok);
    return ok && value > 1 && value <= kPidMaxLimit ? value : kPidMaxLimit;
}

HelperResult<void> checkPidExists(pid_t pid)
{
    // The state field of /proc/PID/stat: a zombie has no process left to act on.
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly)) {
        return std::unexpected(HelperError::make(HelperErrorName::NoSuchProcess, QStringLiteral("there is no process %1").arg(pid)));
    }
    const QByteArray text = stat.readAll();
    const qsizetype paren = text.lastIndexOf(')');
    if (paren < 0 || paren + 2 >= text.size()) {
        return std::unexpected(HelperError::make(HelperErrorName::NoSuchProcess, QStringLiteral("there is no process %1").arg(pid)));
    }
    const char state = text.at(paren + 2);
    if (state == 'Z' || state == 'X') {
        return std::unexpected(HelperError::make(HelperErrorName::NoSuchProcess, QStringLiteral("process %1 has exited (it is a zombie)").arg(pid)));
    }
    return {};
}

HelperResult<cryopod::engine::CheckpointOptions> parseCheckpointOptions(const QVariantMap &options)
{
    if (auto r = rejectUnknown(options,
                               {"leave-running", "low-pause", "compression-level", "compress", "workers", "include-file-contents", "detached-fds",
                                "tcp-established"},
                               "Checkpoint");
        !r) {
        return std::unexpected(r.error());
    }
    cryopod::engine::CheckpointOptions result;
    result.lowPause = true; // the default of keep-running snapshots
    for (auto it = options.cbegin(); it != options.cend(); ++it) {
        const QString &key = it.key();
        if (key == QLatin1String("leave-running")) {
            auto b = boolOption(key, it.value());
            if (!b) {
                return std::unexpected(b.error());
            }
            result.leaveRunning = *b;
        } else if (key == QLatin1String("low-pause")) {
            auto b = boolOption(key, it.value());
            if (!b) {
                return std::unexpected(b.error());
            }
            result.lowPause = *b;
        } else if (key == QLatin1String("compression-level")) {
            auto n = integerOption(key, it.value(), -7, 19);
            if (!n) {
                return std::unexpected(n.error());
            }
            result.compressionLevel = *n;
        } else if (key == QLatin1String("compress")) {
            auto b = boolOption(key, it.value());
            if (!b) {
                return std::unexpected(b.error());
            }
            result.compress = *b;
        } else if (key == QLatin1String("workers")) {
            auto n = integerOption(key, it.value(), 0, 4);
            if (!n) {
                return std::unexpected(n.error());
            }
            result.workers = *n;
        } else if (key == QLatin1String("include-file-contents")) {
            auto b = boolOption(key, it.value());
            if (!b) {
                return std::unexpected(b.error());
            }
            if (*b) {
                return helperError(HelperErrorName::Unsupported,
                                   QStringLiteral("option include-file-contents: engine v1 saves the contents of unlinked files only; "
                                                  "files still on disk are reopened by path"));
            }
        } else if (key == QLatin1String("detached-fds")) {
            auto fds = detachedFdsOption(it.value());
            if (!fds) {
                return std::unexpected(fds.error());
            }
            result.detachedFds = std::move(*fds);
        } else if (key == QLatin1String("tcp-established")) {
            auto b = boolOption(key, it.value());
            if (!b) {
                return std::unexpected(b.error());
            }
            result.tcpEstablished = *b;
        }
    }
    return result;
}

HelperResult<std::set<int>> detachedFdsOption(const QVariant &value)
{
    if (value.metaType() != QMetaType::fromType<QList<int>>()) {
        return std::unexpected(invalid(QStringLiteral("option detached-fds must be an array of integers (ai), not %1").arg(typeName(value))));
    }
    const QList<int> list = value.value<QList<int>>();
    if (list.isEmpty() || list.size() > kMaxDetachedFds) {
        return std::unexpected(invalid(QStringLiteral("option detached-fds must name 1 to %1 fds, not %2").arg(kMaxDetachedFds).arg(list.size())));
    }
    std::set<int> fds;
    for (const int fd : list) {
        if (fd < 0) {
            return std::unexpected(invalid(QStringLiteral("option detached-fds: %1 is not an fd number").arg(fd)));
        }
        if (!fds.insert(fd).second) {
            return std::unexpected(invalid(QStringLiteral("option detached-fds: fd %1 is named twice").arg(fd)));
        }
    }
    return fds;
}

HelperResult<void> checkDetachedFdsOpen(pid_t pid, const std::set<int> &fds, const std::function<bool(pid_t, int)> &isOpen)
{
    for (const int fd : fds) {
        if (!isOpen(pid, fd)) {
            return std::unexpected(invalid(
                QStringLiteral("option detached-fds: fd %1 is not open in process %2 (only fds of the target itself can be detached)").arg(fd).arg(pid)));
        }
    }
    return {};
}

bool fdOpenInProcess(pid_t pid, int fd)
{
    struct stat st{};
    return ::lstat(QStringLiteral("/proc/%1/fd/%2").arg(pid).arg(fd).toLocal8Bit().constData(), &st) == 0;
}

HelperResult<cryopod::engine::RestoreOptions> parseRestoreOptions(const QVariantMap &options)
{
    if (auto r = rejectUnknown(options, {"frozen", "pty"}, "Restore"); !r) {
        return std::unexpected(r.error());
    }
    cryopod::engine::RestoreOptions result;
    result.pty = cryopod::engine::PtyMode::Refuse; // a client that asks for no pty could not take its master
    for (auto it = options.cbegin(); it != options.cend(); ++it) {
        const QString &key = it.key();
        if (key == QLatin1String("frozen")) {
            auto b = boolOption(key, it.value());
            if (!b) {
                return std::unexpected(b.error());
            }
            result.frozen = *b;
        } else if (key == QLatin1String("pty")) {
            if (it.value().metaType().id() != QMetaType::QString) {
                return std::unexpected(invalid(QStringLiteral("option pty must be a string, not %1").arg(typeName(it.value()))));
            }
            const QString mode = it.value().toString();
            if (mode == QLatin1String("new")) {
                result.pty = cryopod::engine::PtyMode::New;
            } else if (mode == QLatin1String("original") || mode == QLatin1String("inherit")) {
                result.pty = cryopod::engine::PtyMode::Original;
            } else if (mode == QLatin1String("refuse")) {
                result.pty = cryopod::engine::PtyMode::Refuse;
            } else {
                return std::unexpected(invalid(QStringLiteral("option pty: \"%1\" is not one of refuse, new, original, inherit").arg(mode)));
            }
        }
    }
    return result;
}

QString describeFileType(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return QStringLiteral("a regular file");
    case S_IFDIR:
        return QStringLiteral("a directory");
    case S_IFCHR:
        return QStringLiteral("a character device");
    case S_IFBLK:
        return QStringLiteral("a block device");
    case S_IFIFO:
        return QStringLiteral("a pipe");
    case S_IFSOCK:
        return QStringLiteral("a socket");
    case S_IFLNK:
        return QStringLiteral("a symbolic link");
    default:
        return QStringLiteral("a file of unknown type");
    }
}

HelperResult<void> checkImageFd(int fd, FdDirection direction)
{
    const char *method = direction == FdDirection::Write ? "Checkpoint" : "Restore";
    if (fd < 0) {
        return std::unexpected(invalid(QStringLiteral("%1: no file descriptor was passed").arg(QLatin1String(method))));
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        return std::unexpected(invalid(QStringLiteral("%1: the file descriptor cannot be examined: %2").arg(QLatin1String(method), QString::fromLocal8Bit(std::strerror(errno)))));
    }
    const mode_t type = st.st_mode & S_IFMT;
    if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK) {
        return std::unexpected(invalid(
            QStringLiteral("%1: the file descriptor is %2; it must be a regular file, a pipe or a socket").arg(QLatin1String(method), describeFileType(st.st_mode))));
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) {
        return std::unexpected(invalid(QStringLiteral("%1: the file descriptor's flags cannot be read: %2").arg(QLatin1String(method), QString::fromLocal8Bit(std::strerror(errno)))));
    }
    if (flags & O_PATH) {
        return std::unexpected(invalid(QStringLiteral("%1: the file descriptor is an O_PATH descriptor, which can neither be read nor written").arg(QLatin1String(method))));
    }
    const int mode = flags & O_ACCMODE;
    if (direction == FdDirection::Write && mode != O_WRONLY && mode != O_RDWR) {
        return std::unexpected(invalid(QStringLiteral("Checkpoint: the file descriptor is not open for writing (the image is written into it)")));
    }
    if (direction == FdDirection::Read && mode != O_RDONLY && mode != O_RDWR) {
        return std::unexpected(invalid(QStringLiteral("Restore: the file descriptor is not open for reading (the image is read from it)")));
    }
    return {};
}

} // namespace Validation
