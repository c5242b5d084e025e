// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "imagestream.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace ImageStream
{

namespace
{

constexpr size_t kBufferBytes = 1 << 20;
constexpr int kPipeBytes = 1 << 20;

class Throttle
{
public:
    explicit Throttle(const Progress &progress)
        : m_progress(progress)
    {
    }
    void update(uint64_t bytes)
    {
        if (!m_progress) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - m_last >= std::chrono::milliseconds(100)) {
            m_last = now;
            m_progress(bytes);
        }
    }
    void final(uint64_t bytes)
    {
        if (m_progress) {
            m_progress(bytes);
        }
    }

private:
    const Progress &m_progress;
    std::chrono::steady_clock::time_point m_last{};
};

cryopod::Result<void> makePipe(cryopod::UniqueFd &readEnd, cryopod::UniqueFd &writeEnd)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return cryopod::sysError("pipe");
    }
    readEnd.reset(fds[0]);
    writeEnd.reset(fds[1]);
    ::fcntl(fds[1], F_SETPIPE_SZ, kPipeBytes); // a larger buffer, if allowed
    return {};
}

// Waits until fd is ready for `events` (a non-blocking fd said EAGAIN).
void waitReady(int fd, short events)
{
    pollfd p{fd, events, 0};
    ::poll(&p, 1, 100);
}

enum class WriteResult { Done, Cancelled, Failed };

// Writes all of [data, data + size) to fd; EINTR checks the token.
WriteResult writeAll(int fd, const char *data, size_t size, CancelToken &token, int &error)
{
    size_t off = 0;
    while (off < size) {
        if (token.isCancelled()) {
            return WriteResult::Cancelled;
        }
        const ssize_t n = ::write(fd, data + off, size - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                waitReady(fd, POLLOUT);
                continue;
            }
            error = errno;
            return WriteResult::Failed;
        }
        off += size_t(n);
    }
    return WriteResult::Done;
}

} // namespace

// ---- OutputRelay ------------------------------------------------------------

OutputRelay::OutputRelay(CancelToken &token, Progress progress)
    : m_token(token)
    , m_progress(std::move(progress))
{
}

cryopod::Result<std::unique_ptr<OutputRelay>> OutputRelay::start(int destination, CancelToken &token, Progress progress)
{
    installInterruptHandler();
    std::unique_ptr<OutputRelay> relay(new OutputRelay(token, std::move(progress)));
    CRYOPOD_PROPAGATE(makePipe(relay->m_readEnd, relay->m_writeEnd));
    relay->m_thread = std::thread([r = relay.get(), destination] {
        r->run(destination);
    });
    return relay;
}

OutputRelay::~OutputRelay()
{
    if (m_thread.joinable()) {
        finish();
    }
}

void OutputRelay::run(int destination)
{
    CancelToken::Interruptible interruptible(m_token);
    Throttle throttle(m_progress);
    std::vector<char> buffer(kBufferBytes);
    for (;;) {
        if (m_token.isCancelled()) {
            m_outcome.cancelled = true;
            break;
        }
        const ssize_t n = ::read(m_readEnd.get(), buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            m_outcome.error = cryopod::Error{errno, "read the image from the engine"};
            break;
        }
        if (n == 0) {
            break; // the engine is done
        }
        int error = 0;
        const WriteResult w = writeAll(destination, buffer.data(), size_t(n), m_token, error);
        if (w == WriteResult::Cancelled) {
            m_outcome.cancelled = true;
            break;
        }
        if (w == WriteResult::Failed) {
            m_outcome.error = cryopod::Error{error, "write the image to your file descriptor"};
            break;
        }
        m_outcome.bytes += uint64_t(n);
        throttle.update(m_outcome.bytes);
    }
    // The engine's next write fails with EPIPE: the checkpoint stops and the
    // target runs on.
    m_readEnd.reset();
    throttle.final(m_outcome.bytes);
}

Outcome OutputRelay::finish()
{
    m_writeEnd.reset();
    if (m_thread.joinable()) {
        m_thread.join();
    }
    return m_outcome;
}

// ---- InputFeeder ------------------------------------------------------------

InputFeeder::InputFeeder(CancelToken &token, Progress progress)
    : m_token(token)
    , m_progress(std::move(progress))
{
}

cryopod::Result<std::unique_ptr<InputFeeder>> InputFeeder::start(int source, uint64_t size, CancelToken &token, Progress progress)
{
    installInterruptHandler();
    std::unique_ptr<InputFeeder> feeder(new InputFeeder(token, std::move(progress)));
    CRYOPOD_PROPAGATE(makePipe(feeder->m_readEnd, feeder->m_writeEnd));
    feeder->m_thread = std::thread([f = feeder.get(), source, size] {
        f->run(source, size);
    });
    return feeder;
}

InputFeeder::~InputFeeder()
{
    if (m_thread.joinable()) {
        finish();
    }
}

void InputFeeder::run(int source, uint64_t size)
{
    CancelToken::Interruptible interruptible(m_token);
    Throttle throttle(m_progress);
    std::vector<char> buffer(kBufferBytes);
    uint64_t off = 0;
    while (off < size) {
        if (m_token.isCancelled()) {
            m_outcome.cancelled = true;
            break;
        }
        const ssize_t n = ::pread(source, buffer.data(), size_t(std::min<uint64_t>(buffer.size(), size - off)), off_t(off));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            m_outcome.error = cryopod::Error{n < 0 ? errno : EIO, "read the received image"};
            break;
        }
        int error = 0;
        const WriteResult w = writeAll(m_writeEnd.get(), buffer.data(), size_t(n), m_token, error);
        if (w == WriteResult::Cancelled) {
            m_outcome.cancelled = true;
            break;
        }
        if (w == WriteResult::Failed) {
            // EPIPE: the engine stopped reading (it failed; its error says why).
            m_outcome.error = cryopod::Error{error, "feed the image to the engine"};
            break;
        }
        off += uint64_t(n);
        m_outcome.bytes = off;
        throttle.update(off);
    }
    // End of the stream: complete, or truncated when cancelled (the engine
    // then removes what it has built).
    m_writeEnd.reset();
    throttle.final(m_outcome.bytes);
}

Outcome InputFeeder::finish()
{
    m_readEnd.reset();
    if (m_thread.joinable()) {
        m_thread.join();
    }
    return m_outcome;
}

// ---- receive ----------------------------------------------------------------

cryopod::Result<Received> receive(int source, uint64_t maxBytes, CancelToken &token, const Progress &progress)
{
    installInterruptHandler();
    Received received;
    received.memfd.reset(::memfd_create("cryopod-image", MFD_CLOEXEC));
    if (!received.memfd.valid()) {
        return cryopod::sysError("receive the image: memfd_create");
    }
    CancelToken::Interruptible interruptible(token);
    Throttle throttle(progress);
    std::vector<char> buffer(kBufferBytes);
    for (;;) {
        if (token.isCancelled()) {
            return cryopod::fail("receive the image: cancelled", ECANCELED);
        }
        const ssize_t n = ::read(source, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                waitReady(source, POLLIN);
                continue;
            }
            return cryopod::sysError("receive the image: read from your file descriptor");
        }
        if (n == 0) {
            break;
        }
        if (received.size + uint64_t(n) > maxBytes) {
            return cryopod::fail("receive the image: it is larger than the " + std::to_string(maxBytes >> 20) + " MiB the helper takes now", E2BIG);
        }
        int error = 0;
        const WriteResult w = writeAll(received.memfd.get(), buffer.data(), size_t(n), token, error);
        if (w == WriteResult::Cancelled) {
            return cryopod::fail("receive the image: cancelled", ECANCELED);
        }
        if (w == WriteResult::Failed) {
            errno = error;
            return cryopod::sysError("receive the image: store it");
        }
        received.size += uint64_t(n);
        throttle.update(received.size);
    }
    throttle.final(received.size);
    if (::lseek(received.memfd.get(), 0, SEEK_SET) != 0) {
        return cryopod::sysError("receive the image: rewind");
    }
    return received;
}

uint64_t defaultMaxImageBytes()
{
    constexpr uint64_t kMin = 1ull << 30;
    FILE *f = std::fopen("/proc/meminfo", "re");
    if (!f) {
        return kMin;
    }
    uint64_t available = 0, swapFree = 0;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            available = kb * 1024;
        } else if (std::sscanf(line, "SwapFree: %llu kB", &kb) == 1) {
            swapFree = kb * 1024;
        }
    }
    std::fclose(f);
    return std::max(kMin, (available + swapFree) / 2);
}

} // namespace ImageStream
