// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Blocked in read() on an empty pipe (fds 3/4), the whole time. ITIMER_REAL
// fires every 50 ms into a SA_RESTART handler, so the read is restarted
// after each one (the checkpoint lands in read with -ERESTARTSYS, or in the
// handler); the handler writes 'g' into the pipe once `go` exists, which
// ends the read. ITIMER_VIRTUAL is armed at 1000 s with a 7 s interval and
// never fires (the kernel shows one tick more than was set).
// After go: read never failed (no EINTR) and returned exactly 'g' (nothing
// else came through the pipe); the handler kept firing after the restore;
// ITIMER_REAL still has its 50 ms interval; ITIMER_VIRTUAL its 7 s interval
// and between 990 and 1000 s left.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t s_ticks;
static volatile sig_atomic_t s_sent;

static void onAlarm(int sig)
{
    (void)sig;
    const int saved = errno;
    ++s_ticks;
    if (!s_sent && (wl_go() || wl_expired())) {
        s_sent = 1;
        const char g = wl_go() ? 'g' : 'x';
        if (write(4, &g, 1) != 1) {
            s_sent = 0;
        }
    }
    errno = saved;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "pipewait");
    int p[2];
    if (pipe(p) != 0 || p[0] != 3 || p[1] != 4) {
        wl_die("pipe did not give fds 3 and 4");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onAlarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    const struct itimerval virt = {.it_interval = {7, 0}, .it_value = {1000, 0}};
    const struct itimerval real = {.it_interval = {0, 50000}, .it_value = {0, 50000}};
    if (setitimer(ITIMER_VIRTUAL, &virt, NULL) != 0 || setitimer(ITIMER_REAL, &real, NULL) != 0) {
        wl_die("setitimer: %s", strerror(errno));
    }
    wl_ready();
    if (wl_sabotage_requested()) {
        const char z = 'z';
        if (write(4, &z, 1) != 1) {
            wl_die("sabotage write failed");
        }
    }

    char c = 0;
    int reads = 0;
    for (;;) {
        const ssize_t n = read(3, &c, 1);
        ++reads;
        if (n < 0) {
            wl_fail("read #%d failed: %s", reads, strerror(errno));
            if (errno != EINTR) {
                break;
            }
            continue;
        }
        if (n == 0) {
            wl_fail("read #%d: end of file", reads);
            break;
        }
        if (c == 'g') {
            break;
        }
        if (c == 'x') {
            wl_fail("no go within the workload's lifetime");
            break;
        }
        wl_fail("read #%d returned '%c', which nobody sent", reads, c);
    }
    const int ticksAtGo = s_ticks;
    wl_sleep_ms(200);
    wl_check(s_ticks > ticksAtGo, "ITIMER_REAL stopped firing (%d ticks, none in 200 ms)", ticksAtGo);
    struct itimerval now;
    getitimer(ITIMER_REAL, &now);
    wl_check(now.it_interval.tv_sec == 0 && now.it_interval.tv_usec == 50000, "ITIMER_REAL interval is %ld.%06ld s, expected 0.05 s",
             (long)now.it_interval.tv_sec, (long)now.it_interval.tv_usec);
    getitimer(ITIMER_VIRTUAL, &now);
    wl_check(now.it_interval.tv_sec == 7 && now.it_interval.tv_usec == 0, "ITIMER_VIRTUAL interval is %ld.%06ld s, expected 7 s", (long)now.it_interval.tv_sec,
             (long)now.it_interval.tv_usec);
    const long long left = (long long)now.it_value.tv_sec * 1000000 + now.it_value.tv_usec;
    // The kernel adds a tick (at most 10 ms) to a CPU-time timer when it is
    // set and shows it; a restore that added its own would show more.
    wl_check(left >= 990000000ll && left <= 1000015000ll, "ITIMER_VIRTUAL has %lld us left, expected 990 s .. 1000 s and a tick", left);
    return wl_finish();
}
