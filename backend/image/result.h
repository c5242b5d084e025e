// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Errors as values: every fallible call of the image library and the engine
// returns Result<T>, carrying errno (when the kernel said no) and a message that
// names the object and the step. Plain C++, no Qt.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace cryopod
{

struct Error {
    int code = 0; // errno value, 0 when the failure is not a system call's
    std::string message; // "what failed: why", human readable

    std::string describe() const
    {
        if (code == 0) {
            return message;
        }
        return message + ": " + std::strerror(code);
    }

    // Prefix more context: err.context("restore fd 3") -> "restore fd 3: <message>"
    Error context(const std::string &where) const
    {
        return Error{code, where + ": " + message};
    }
};

template<typename T>
using Result = std::expected<T, Error>;

// Failure of a system call: captures errno at the point of the call.
inline std::unexpected<Error> sysError(const std::string &what)
{
    return std::unexpected(Error{errno, what});
}

// Failure that is not a system call's (bad image, unsupported feature, ...).
inline std::unexpected<Error> fail(const std::string &what, int code = 0)
{
    return std::unexpected(Error{code, what});
}

// Propagate an error: CRYOPOD_TRY(auto x, call()) is not portable C++, so the
// code uses the explicit form:  auto r = call(); if (!r) return std::unexpected(r.error());
#define CRYOPOD_PROPAGATE(expr)                                                                                                                                \
    do {                                                                                                                                                       \
        if (auto cryopod_r_ = (expr); !cryopod_r_) {                                                                                                            \
            return std::unexpected(std::move(cryopod_r_.error()));                                                                                             \
        }                                                                                                                                                      \
    } while (0)

} // namespace cryopod
