// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// signalfds: fd 3 for SIGUSR1 and SIGRTMIN+3 (O_NONBLOCK), fd 4 for SIGUSR2
// (blocking, FD_CLOEXEC); all three blocked; SIGRTMIN+3 queued twice with
// payloads 11 and 22 before ready.
// After go: the masks in fdinfo; fd 3 reads SIGRTMIN+3 with 11, then 22,
// then EAGAIN; a SIGUSR1 raised now comes through fd 3, not fd 4; a SIGUSR2
// through fd 4.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static uint64_t maskOf(int a, int b)
{
    return (1ull << (a - 1)) | (b ? 1ull << (b - 1) : 0);
}

static uint64_t fdinfoMask(int fd)
{
    return strtoull(wl_fdinfo(fd, "sigmask:"), NULL, 16);
}

static void sabotage(void)
{
    struct signalfd_siginfo si;
    if (read(3, &si, sizeof si) != sizeof si) {
        wl_fail("sabotage: read failed");
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "signalfd");
    sigset_t m3, m4, all;
    sigemptyset(&m3);
    sigaddset(&m3, SIGUSR1);
    sigaddset(&m3, SIGRTMIN + 3);
    sigemptyset(&m4);
    sigaddset(&m4, SIGUSR2);
    sigemptyset(&all);
    sigaddset(&all, SIGUSR1);
    sigaddset(&all, SIGUSR2);
    sigaddset(&all, SIGRTMIN + 3);
    sigprocmask(SIG_BLOCK, &all, NULL);
    if (signalfd(-1, &m3, SFD_NONBLOCK) != 3 || signalfd(-1, &m4, SFD_CLOEXEC) != 4) {
        wl_die("signalfd: %s", strerror(errno));
    }
    union sigval v11 = {.sival_int = 11}, v22 = {.sival_int = 22};
    if (sigqueue(getpid(), SIGRTMIN + 3, v11) != 0 || sigqueue(getpid(), SIGRTMIN + 3, v22) != 0) {
        wl_die("sigqueue: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 10);

    wl_check(fdinfoMask(3) == maskOf(SIGUSR1, SIGRTMIN + 3), "fd 3: mask %llx", (unsigned long long)fdinfoMask(3));
    wl_check(fdinfoMask(4) == maskOf(SIGUSR2, 0), "fd 4: mask %llx", (unsigned long long)fdinfoMask(4));
    wl_check((fcntl(3, F_GETFL) & O_NONBLOCK) && !(fcntl(4, F_GETFL) & O_NONBLOCK) && (fcntl(4, F_GETFD) & FD_CLOEXEC) && !(fcntl(3, F_GETFD) & FD_CLOEXEC),
             "flags differ");
    struct signalfd_siginfo si;
    for (int i = 0; i < 2; ++i) {
        memset(&si, 0, sizeof si);
        const int expected = i == 0 ? 11 : 22;
        wl_check(read(3, &si, sizeof si) == sizeof si && (int)si.ssi_signo == SIGRTMIN + 3 && si.ssi_int == expected,
                 "fd 3: read %d was signal %u with %d, expected SIGRTMIN+3 with %d", i, si.ssi_signo, si.ssi_int, expected);
    }
    errno = 0;
    wl_check(read(3, &si, sizeof si) == -1 && errno == EAGAIN, "fd 3: not empty after the queued signals");
    raise(SIGUSR1);
    wl_check(read(3, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1, "fd 3 did not read a SIGUSR1 raised now");
    raise(SIGUSR2);
    wl_check(read(4, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "fd 4 did not read a SIGUSR2 raised now");
    return wl_finish();
}
