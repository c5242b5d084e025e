// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "fdio.h"

#include <algorithm>
#include <climits>
#include <csignal>
#include <ctime>
#include <pthread.h>
#include <unistd.h>
#include <vector>

namespace cryopod::image
{

namespace
{
// Blocks SIGPIPE in this thread for its lifetime; a SIGPIPE raised by our own
// write is consumed before the old mask comes back. Does nothing when the
// caller has it blocked (Sigpipe::Blocked).
class SigpipeGuard
{
public:
    explicit SigpipeGuard(Sigpipe sigpipe)
        : m_active(sigpipe == Sigpipe::Guard)
    {
        if (!m_active) {
            return;
        }
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, &m_old);
        sigset_t pending;
        sigpending(&pending);
        m_wasPending = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeGuard()
    {
        if (!m_active) {
            return;
        }
        if (m_gotEpipe && !m_wasPending) {
            sigset_t pipe;
            sigemptyset(&pipe);
            sigaddset(&pipe, SIGPIPE);
            const timespec zero {0, 0};
            while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) { }
        }
        pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
    }
    void gotEpipe()
    {
        m_gotEpipe = true;
    }

private:
    const bool m_active;
    sigset_t m_old;
    bool m_wasPending = false;
    bool m_gotEpipe = false;
};
} // namespace

Result<void> writeAll(int fd, const void *data, size_t size, Sigpipe sigpipe)
{
    const iovec piece {const_cast<void *>(data), size};
    return writeAllV(fd, std::span<const iovec>(&piece, 1), sigpipe);
}

Result<void> writeAllV(int fd, std::span<const iovec> pieces, Sigpipe sigpipe)
{
    SigpipeGuard guard(sigpipe);
    std::vector<iovec> left(pieces.begin(), pieces.end());
    size_t first = 0;
    for (;;) {
        while (first < left.size() && left[first].iov_len == 0) {
            ++first; // nothing to write there (writev would return 0)
        }
        if (first == left.size()) {
            break;
        }
        const int count = int(std::min<size_t>(left.size() - first, IOV_MAX));
        const ssize_t n = ::writev(fd, left.data() + first, count);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int saved = errno;
            if (saved == EPIPE) {
                guard.gotEpipe();
            }
            errno = saved;
            return sysError("write image");
        }
        if (n == 0) {
            return fail("write image: the fd accepted no bytes", EIO);
        }
        // Drop what went out: whole pieces, then the start of the next.
        size_t done = size_t(n);
        while (first < left.size() && done >= left[first].iov_len) {
            done -= left[first].iov_len;
            ++first;
        }
        if (done > 0) {
            left[first].iov_base = static_cast<uint8_t *>(left[first].iov_base) + done;
            left[first].iov_len -= done;
        }
    }
    return {};
}

Result<size_t> readFull(int fd, void *data, size_t size)
{
    auto *p = static_cast<uint8_t *>(data);
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd, p + done, size - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sysError("read image");
        }
        if (n == 0) {
            break;
        }
        done += size_t(n);
    }
    return done;
}

} // namespace cryopod::image
