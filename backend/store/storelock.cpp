// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "storelock.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <utility>

namespace cryopod::store
{

Result<StoreLock> StoreLock::acquire(const std::string &storeDir, Mode mode, bool wait)
{
    const std::string path = storeDir + "/store.lock";
    StoreLock lock;
    lock.m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.m_fd < 0) {
        return sysError("open the store lock " + path);
    }
    const int op = (mode == Mode::Shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
    while (::flock(lock.m_fd, op) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            return fail(mode == Mode::Exclusive ? "the store is busy: a snapshot, restore or check is running; try again when it is done"
                                                : "the store is busy: a garbage collection is running; try again when it is done",
                        EBUSY);
        }
        return sysError("lock the store " + path);
    }
    return lock;
}

StoreLock::StoreLock(StoreLock &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
{
}

StoreLock &StoreLock::operator=(StoreLock &&other) noexcept
{
    if (this != &other) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

StoreLock::~StoreLock()
{
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

} // namespace cryopod::store
