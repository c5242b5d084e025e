// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "ptyrelay.h"

#include "uniquefd.h"

#include <cerrno>
#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace Cryopodctl
{

namespace
{

// Raw mode on a terminal for as long as it lives.
class RawMode
{
public:
    explicit RawMode(int fd)
        : m_fd(fd)
    {
        termios t {};
        if (::tcgetattr(fd, &t) != 0) {
            return;
        }
        m_saved = t;
        ::cfmakeraw(&t);
        ::tcsetattr(fd, TCSANOW, &t);
    }
    RawMode(const RawMode &) = delete;
    RawMode &operator=(const RawMode &) = delete;
    ~RawMode()
    {
        if (m_saved) {
            ::tcsetattr(m_fd, TCSANOW, &*m_saved);
        }
    }

private:
    int m_fd;
    std::optional<termios> m_saved;
};

// Writes all of `data` to the (possibly non-blocking) fd `to`.
cryopod::Result<void> writeAll(int to, const char *data, size_t n, const char *what)
{
    while (n > 0) {
        const ssize_t w = ::write(to, data, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            pollfd p {to, POLLOUT, 0};
            ::poll(&p, 1, 100);
            continue;
        }
        if (w < 0) {
            return cryopod::sysError(what);
        }
        data += w;
        n -= size_t(w);
    }
    return {};
}

} // namespace

int exitCodeOf(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

cryopod::Result<int> relayPty(int master, pid_t root)
{
    cryopod::UniqueFd pidfd(int(::syscall(SYS_pidfd_open, root, 0)));
    if (!pidfd) {
        return cryopod::sysError("relay: pidfd_open " + std::to_string(root));
    }
    std::optional<RawMode> raw;
    if (::isatty(STDIN_FILENO)) {
        winsize ws {};
        if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row != 0) {
            ::ioctl(master, TIOCSWINSZ, &ws);
        }
        raw.emplace(STDIN_FILENO);
    }
    bool inputOpen = true;
    bool masterOpen = true;
    bool exited = false;
    char buf[16384];
    while (!exited || masterOpen) {
        pollfd fds[3] = {{master, short(masterOpen ? POLLIN : 0), 0}, {STDIN_FILENO, short(inputOpen && !exited ? POLLIN : 0), 0}, {pidfd.get(), POLLIN, 0}};
        // Once the program is gone: only what it left in the pty, without waiting.
        const int ready = ::poll(fds, 3, exited ? 0 : -1);
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready < 0) {
            return cryopod::sysError("relay: poll");
        }
        if (ready == 0) {
            break; // exited, and nothing more to read
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::read(master, buf, sizeof buf);
            if (n > 0) {
                CRYOPOD_PROPAGATE(writeAll(STDOUT_FILENO, buf, size_t(n), "relay: write to stdout"));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                masterOpen = false; // EIO: no slave open any more
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n > 0) {
                CRYOPOD_PROPAGATE(writeAll(master, buf, size_t(n), "relay: write to the pty"));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                inputOpen = false;
            }
        }
        if (fds[2].revents & POLLIN) {
            exited = true;
        }
    }
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(root, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ECHILD) {
        return 0; // not ours (the helper restored it): its status is the helper's to collect
    }
    if (r < 0) {
        return cryopod::sysError("relay: waitpid " + std::to_string(root));
    }
    return status;
}

cryopod::Result<void> sendFds(int socket, const std::vector<int> &fds, const std::string &text)
{
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    iovec iov {const_cast<char *>(text.data()), text.size()};
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    ssize_t n;
    do {
        n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return cryopod::sysError("send the pty masters over fd " + std::to_string(socket));
    }
    return {};
}

} // namespace Cryopodctl
