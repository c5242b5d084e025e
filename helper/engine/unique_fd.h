// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// UniqueFd: owns one file descriptor and closes it when it goes out of scope.
//
// NOTE (dump engineer -> restore engineer): this is the one UniqueFd of the
// engine (header-only). ptrace_inject.h defines a second one in the same
// namespace, so any file that includes both fails to compile: please
// `#include "unique_fd.h"` in ptrace_inject.h and drop the copy there (this one
// has the same members: get, valid, release, reset, move-only).
#pragma once

#include <unistd.h>
#include <utility>

namespace cryopod::engine
{

class UniqueFd
{
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd)
        : m_fd(fd)
    {
    }
    ~UniqueFd()
    {
        reset();
    }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    UniqueFd(UniqueFd &&other) noexcept
        : m_fd(std::exchange(other.m_fd, -1))
    {
    }
    UniqueFd &operator=(UniqueFd &&other) noexcept
    {
        if (this != &other) {
            reset(std::exchange(other.m_fd, -1));
        }
        return *this;
    }

    int get() const
    {
        return m_fd;
    }
    bool valid() const
    {
        return m_fd >= 0;
    }
    explicit operator bool() const
    {
        return valid();
    }
    // Gives up ownership without closing.
    int release()
    {
        return std::exchange(m_fd, -1);
    }
    void reset(int fd = -1)
    {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = fd;
    }

private:
    int m_fd = -1;
};

} // namespace cryopod::engine
