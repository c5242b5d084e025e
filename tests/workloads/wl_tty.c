// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A session on a pseudo-terminal (started by `cr_cycles --pty ...`: fds 0-2
// are the slave of a pty whose master the harness holds, and the workload
// leads its own session with that pty as its controlling terminal).
//   root R: seeded termios (no ICANON/ECHO, VMIN/VTIME, VINTR, IUTF8, speed)
//           and window size on the pty; fd 3 a second open of the slave
//           (O_NONBLOCK, its own open file description);
//   child C: its own process group, made the terminal's foreground group.
// After go both check: the terminal's termios and window size; fds 0-2 one
// open file, fd 3 another on the same pty; the controlling terminal
// (/proc/self/stat tty_nr) is that pty, the session is R's (TIOCGSID), the
// foreground group is C's (TIOCGPGRP).
// Sabotage: the window size changes right after ready.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

struct Expect {
    struct termios t;
    struct winsize ws;
};

static struct Expect expected(void)
{
    uint64_t s = wl_derive(wl_seed(), 0x7474);
    struct Expect e;
    memset(&e, 0, sizeof e);
    if (tcgetattr(0, &e.t) != 0) {
        wl_die("tcgetattr: %s", strerror(errno));
    }
    e.t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL);
    e.t.c_lflag |= ISIG;
    e.t.c_iflag |= IUTF8;
    e.t.c_iflag &= ~(tcflag_t)ICRNL;
    e.t.c_oflag &= ~(tcflag_t)OPOST;
    e.t.c_cc[VMIN] = (cc_t)(1 + wl_next(&s) % 9);
    e.t.c_cc[VTIME] = (cc_t)(1 + wl_next(&s) % 50);
    e.t.c_cc[VINTR] = (cc_t)(1 + wl_next(&s) % 20);
    cfsetispeed(&e.t, B19200);
    cfsetospeed(&e.t, B19200);
    e.ws.ws_row = (unsigned short)(20 + wl_next(&s) % 50);
    e.ws.ws_col = (unsigned short)(60 + wl_next(&s) % 100);
    e.ws.ws_xpixel = (unsigned short)(wl_next(&s) % 2000);
    e.ws.ws_ypixel = (unsigned short)(wl_next(&s) % 2000);
    return e;
}

// The controlling terminal's device, from /proc/self/stat (0: none).
static dev_t controllingTerminal(void)
{
    char buf[1024];
    const long n = wl_read_file_at("/proc/self/stat", buf, sizeof buf - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    int pgrp = 0, session = 0, ttyNr = 0;
    char state = 0;
    int ppid = 0;
    if (!p || sscanf(p + 2, "%c %d %d %d %d", &state, &ppid, &pgrp, &session, &ttyNr) != 5) {
        return 0;
    }
    const unsigned u = (unsigned)ttyNr;
    return makedev((u >> 8) & 0xfff, (u & 0xff) | ((u >> 12) & 0xfff00));
}

static void checkTerminal(const char *who, const struct Expect *e, pid_t session, pid_t foreground)
{
    struct stat st0, st3;
    if (fstat(0, &st0) != 0 || fstat(3, &st3) != 0) {
        wl_fail("%s: fstat of fd 0 or 3: %s", who, strerror(errno));
        return;
    }
    wl_check(S_ISCHR(st0.st_mode) && major(st0.st_rdev) >= 136 && major(st0.st_rdev) <= 143, "%s: fd 0 is no pty slave (%u:%u)", who, major(st0.st_rdev),
             minor(st0.st_rdev));
    wl_check(st3.st_rdev == st0.st_rdev, "%s: fd 3 is on another device than fd 0", who);
    for (int fd = 1; fd <= 2; ++fd) {
        wl_check(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, fd) == 0, "%s: fd %d is not the open file of fd 0", who, fd);
    }
    wl_check(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 3) != 0, "%s: fd 3 shares the open file of fd 0", who);
    wl_check((fcntl(3, F_GETFL) & O_NONBLOCK) != 0, "%s: fd 3 lost O_NONBLOCK", who);
    wl_check((fcntl(0, F_GETFL) & O_NONBLOCK) == 0, "%s: fd 0 became O_NONBLOCK", who);
    const char *name = ttyname(0);
    struct stat byName;
    wl_check(name && stat(name, &byName) == 0 && byName.st_rdev == st0.st_rdev, "%s: ttyname(0) %s does not lead to the terminal", who, name ? name : "(none)");

    struct termios t;
    if (tcgetattr(3, &t) != 0) {
        wl_fail("%s: tcgetattr: %s", who, strerror(errno));
    } else {
        wl_check(t.c_iflag == e->t.c_iflag, "%s: c_iflag %#x, expected %#x", who, t.c_iflag, e->t.c_iflag);
        wl_check(t.c_oflag == e->t.c_oflag, "%s: c_oflag %#x, expected %#x", who, t.c_oflag, e->t.c_oflag);
        wl_check(t.c_cflag == e->t.c_cflag, "%s: c_cflag %#x, expected %#x", who, t.c_cflag, e->t.c_cflag);
        wl_check(t.c_lflag == e->t.c_lflag, "%s: c_lflag %#x, expected %#x", who, t.c_lflag, e->t.c_lflag);
        wl_check(cfgetospeed(&t) == B19200, "%s: output speed %u", who, (unsigned)cfgetospeed(&t));
        for (int i = 0; i < NCCS && i < 19; ++i) {
            wl_check(t.c_cc[i] == e->t.c_cc[i], "%s: c_cc[%d] %u, expected %u", who, i, t.c_cc[i], e->t.c_cc[i]);
        }
    }
    struct winsize ws;
    if (ioctl(3, TIOCGWINSZ, &ws) != 0) {
        wl_fail("%s: TIOCGWINSZ: %s", who, strerror(errno));
    } else {
        wl_check(ws.ws_row == e->ws.ws_row && ws.ws_col == e->ws.ws_col && ws.ws_xpixel == e->ws.ws_xpixel && ws.ws_ypixel == e->ws.ws_ypixel,
                 "%s: window %ux%u (%ux%u px), expected %ux%u (%ux%u px)", who, ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel, e->ws.ws_row, e->ws.ws_col,
                 e->ws.ws_xpixel, e->ws.ws_ypixel);
    }
    wl_check(controllingTerminal() == st0.st_rdev, "%s: the controlling terminal is not the pty of fd 0", who);
    pid_t sid = 0;
    wl_check(ioctl(0, TIOCGSID, &sid) == 0 && sid == session, "%s: the terminal's session is %d, expected %d", who, (int)sid, (int)session);
    wl_check(getsid(0) == session, "%s: session %d, expected %d", who, (int)getsid(0), (int)session);
    pid_t fg = 0;
    wl_check(ioctl(0, TIOCGPGRP, &fg) == 0 && fg == foreground, "%s: foreground group %d, expected %d", who, (int)fg, (int)foreground);
}

static void sabotage(void)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
        ws.ws_row++;
        ioctl(0, TIOCSWINSZ, &ws);
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "tty");
    if (!isatty(0) || getsid(0) != getpid() || tcgetsid(0) != getpid()) {
        wl_die("setup: fds 0-2 must be a pty that is the controlling terminal of the workload's own session (cr_cycles --pty)");
    }
    const struct Expect e = expected();
    if (tcsetattr(0, TCSANOW, &e.t) != 0 || ioctl(0, TIOCSWINSZ, &e.ws) != 0) {
        wl_die("setup: set termios / window size: %s", strerror(errno));
    }
    const char *name = ttyname(0);
    const int fd3 = name ? open(name, O_RDWR | O_NOCTTY | O_NONBLOCK) : -1;
    if (fd3 < 0 || (fd3 != 3 && (dup2(fd3, 3) != 3 || close(fd3) != 0))) {
        wl_die("setup: open the terminal again at fd 3: %s", strerror(errno));
    }
    const pid_t root = getpid();
    int ready[2];
    if (pipe(ready) != 0) {
        wl_die("setup: pipe: %s", strerror(errno));
    }
    const pid_t child = fork();
    if (child < 0) {
        wl_die("setup: fork: %s", strerror(errno));
    }
    if (child == 0) {
        close(ready[0]);
        setpgid(0, 0);
        close(ready[1]);
        wl_wait_go();
        checkTerminal("C", &e, root, getpid());
        _exit(wl_finish_as("tty.C"));
    }
    close(ready[1]);
    char byte;
    (void)!read(ready[0], &byte, 1); // C is in its own group now
    close(ready[0]);
    setpgid(child, child);
    // The leader is in the foreground; SIGTTOU blocked all the same.
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    if (tcsetpgrp(0, child) != 0) {
        wl_die("setup: tcsetpgrp: %s", strerror(errno));
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    wl_run(NULL, sabotage, 50);
    checkTerminal("R", &e, root, child);
    wl_collect(child, "C", "tty.C");
    return wl_finish();
}
