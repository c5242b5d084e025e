// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A private X server for GUI tests: Xvfb picks a free display itself
// (-displayfd), so tests neither need nor touch the caller's DISPLAY and can
// run in parallel.
#pragma once

#include <QByteArray>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

class XvfbServer
{
public:
    XvfbServer() = default;
    XvfbServer(const XvfbServer &) = delete;
    XvfbServer &operator=(const XvfbServer &) = delete;
    ~XvfbServer()
    {
        stop();
    }

    // Starts Xvfb with one screen of the given size; false (with a message on
    // stderr) when it cannot.
    bool start(int width = 1280, int height = 800)
    {
        int pipeFds[2];
        if (::pipe(pipeFds) < 0) {
            std::perror("xvfb: pipe");
            return false;
        }
        const std::string screen = std::to_string(width) + "x" + std::to_string(height) + "x24";
        const std::string displayFd = std::to_string(pipeFds[1]);
        const pid_t self = ::getpid();
        m_pid = ::fork();
        if (m_pid == 0) {
            // The server goes when the test goes, however the test ends.
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != self) {
                ::_exit(1);
            }
            ::close(pipeFds[0]);
            const int devNull = ::open("/dev/null", O_RDWR);
            if (devNull >= 0) {
                ::dup2(devNull, STDIN_FILENO);
                ::dup2(devNull, STDOUT_FILENO);
                ::dup2(devNull, STDERR_FILENO);
            }
            ::execlp("Xvfb", "Xvfb", "-displayfd", displayFd.c_str(), "-screen", "0", screen.c_str(), "-nolisten", "tcp",
                     static_cast<char *>(nullptr));
            ::_exit(127);
        }
        ::close(pipeFds[1]);
        if (m_pid < 0) {
            std::perror("xvfb: fork");
            ::close(pipeFds[0]);
            return false;
        }
        // Xvfb writes the display number and a newline once it accepts clients.
        std::string number;
        for (;;) {
            pollfd pfd{pipeFds[0], POLLIN, 0};
            if (::poll(&pfd, 1, 15000) <= 0) {
                break;
            }
            char c;
            const ssize_t n = ::read(pipeFds[0], &c, 1);
            if (n <= 0 || c == '\n') {
                break;
            }
            number += c;
        }
        ::close(pipeFds[0]);
        if (number.empty()) {
            std::fprintf(stderr, "xvfb: Xvfb did not start (is it installed?)\n");
            stop();
            return false;
        }
        m_display = ":" + QByteArray::fromStdString(number);
        return true;
    }

    QByteArray display() const
    {
        return m_display;
    }

    void stop()
    {
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM);
            while (::waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            m_pid = -1;
        }
    }

private:
    pid_t m_pid = -1;
    QByteArray m_display;
};
