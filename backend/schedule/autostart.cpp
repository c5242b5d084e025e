// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "autostart.h"

#include <QStandardPaths>
#include <QString>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cryopod::schedule
{

std::string Autostart::path()
{
    const QString file =
        QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) + QStringLiteral("/autostart/io.github.cryopod.background.desktop");
    return file.toStdString();
}

bool Autostart::isInstalled()
{
    return ::access(path().c_str(), F_OK) == 0;
}

Result<bool> Autostart::install(const std::string &executable)
{
    const std::string file = path();
    if (isInstalled()) {
        return false;
    }
    const std::string dir = file.substr(0, file.rfind('/'));
    for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
        const std::string part = slash == std::string::npos ? dir : dir.substr(0, slash);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
            return sysError("create " + part);
        }
        if (slash == std::string::npos) {
            break;
        }
    }
    const std::string text = "[Desktop Entry]\n"
                             "Type=Application\n"
                             "Name=Cryopod scheduled snapshots\n"
                             "Comment=Takes the snapshots of your Cryopod schedules in the background\n"
                             "Exec=" +
        executable +
        " --background\n"
        "Icon=io.github.cryopod.Cryopod\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n"
        "X-KDE-autostart-after=panel\n";
    const std::string temp = file + ".new";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return sysError("create " + temp);
    }
    const bool written = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    const int saved = errno;
    ::close(fd);
    if (!written) {
        ::unlink(temp.c_str());
        errno = saved;
        return sysError("write " + temp);
    }
    // never over an entry another program wrote meanwhile
    const bool linked = ::link(temp.c_str(), file.c_str()) == 0;
    if (!linked && errno != EEXIST) {
        const auto error = sysError("install " + file);
        ::unlink(temp.c_str());
        return error;
    }
    ::unlink(temp.c_str());
    return linked;
}

Result<void> Autostart::remove()
{
    if (::unlink(path().c_str()) != 0 && errno != ENOENT) {
        return sysError("remove " + path());
    }
    return {};
}

} // namespace cryopod::schedule
