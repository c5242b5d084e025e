// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The store's process lock (flock on <store>/store.lock). Everything that
// reads or adds chunks (storing, rebuilding, deleting, checking) holds it
// shared; gc holds it exclusively, because it deletes chunks and pack files
// that an unfinished snapshot may be about to refer to or has just written.
// The kernel drops the lock when the process dies, so a crash never leaves
// the store locked.
#pragma once

#include "result.h"

#include <string>

namespace cryopod::store
{

class StoreLock
{
public:
    enum class Mode {
        Shared,
        Exclusive,
    };
    // wait: block until the lock is free; otherwise fail with EBUSY at once.
    static Result<StoreLock> acquire(const std::string &storeDir, Mode mode, bool wait);
    StoreLock(StoreLock &&other) noexcept;
    StoreLock &operator=(StoreLock &&other) noexcept;
    StoreLock(const StoreLock &) = delete;
    StoreLock &operator=(const StoreLock &) = delete;
    ~StoreLock();

private:
    StoreLock() = default;
    int m_fd = -1;
};

} // namespace cryopod::store
