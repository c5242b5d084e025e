// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Shared and separate open file descriptions: fds 3, 4 (dup) and 10
// (F_DUPFD_CLOEXEC) share one description, offset 100; fd 5 opens the same
// file separately, offset 50. After go: kcmp says 3, 4, 10 are one file and
// 5 another; moving the offset through fd 4 moves it for 3 and 10 but not
// for 5; FD_CLOEXEC is per fd (set on 10 only).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char s_path[4200];

static int sameFile(int a, int b)
{
    return (int)syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b);
}

static void sabotage(void)
{
    // Replace fd 4 by a separate description at the same offset.
    int fd = open(s_path, O_RDONLY);
    lseek(fd, 100, SEEK_SET);
    dup2(fd, 4);
    close(fd);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "dupfd");
    wl_path(s_path, sizeof s_path, "shared.dat");
    static unsigned char data[8192];
    wl_fill(data, sizeof data, wl_derive(wl_seed(), 1));
    wl_write_file(s_path, data, sizeof data);
    int fd = open(s_path, O_RDONLY);
    if (fd != 3) {
        wl_die("expected fd 3, got %d", fd);
    }
    unsigned char buf[100];
    if (read(3, buf, 100) != 100 || dup(3) != 4) {
        wl_die("read/dup failed");
    }
    if (open(s_path, O_RDONLY) != 5 || lseek(5, 50, SEEK_SET) != 50) {
        wl_die("second open failed");
    }
    if (fcntl(3, F_DUPFD_CLOEXEC, 10) != 10) {
        wl_die("F_DUPFD_CLOEXEC failed");
    }

    wl_run(NULL, sabotage, 10);

    wl_check(sameFile(3, 4) == 0 && sameFile(3, 10) == 0, "fds 3, 4, 10 are no longer one open file (kcmp %d, %d)", sameFile(3, 4), sameFile(3, 10));
    wl_check(sameFile(3, 5) != 0, "fds 3 and 5 became one open file");
    wl_check(lseek(3, 0, SEEK_CUR) == 100 && lseek(4, 0, SEEK_CUR) == 100 && lseek(10, 0, SEEK_CUR) == 100, "offsets of 3/4/10 are %lld/%lld/%lld, "
             "expected 100", (long long)lseek(3, 0, SEEK_CUR), (long long)lseek(4, 0, SEEK_CUR), (long long)lseek(10, 0, SEEK_CUR));
    wl_check(lseek(5, 0, SEEK_CUR) == 50, "offset of fd 5 is %lld, expected 50", (long long)lseek(5, 0, SEEK_CUR));
    lseek(4, 500, SEEK_SET);
    wl_check(lseek(3, 0, SEEK_CUR) == 500 && lseek(10, 0, SEEK_CUR) == 500, "seeking fd 4 moved fd 3 to %lld and fd 10 to %lld, expected 500",
             (long long)lseek(3, 0, SEEK_CUR), (long long)lseek(10, 0, SEEK_CUR));
    wl_check(lseek(5, 0, SEEK_CUR) == 50, "seeking fd 4 moved fd 5 to %lld", (long long)lseek(5, 0, SEEK_CUR));
    wl_check(read(5, buf, 10) == 10 && memcmp(buf, data + 50, 10) == 0, "fd 5 does not read the file at 50");
    wl_check((fcntl(10, F_GETFD) & FD_CLOEXEC) && !(fcntl(3, F_GETFD) & FD_CLOEXEC) && !(fcntl(4, F_GETFD) & FD_CLOEXEC),
             "FD_CLOEXEC is not per fd (3: %d, 4: %d, 10: %d)", fcntl(3, F_GETFD), fcntl(4, F_GETFD), fcntl(10, F_GETFD));
    return wl_finish();
}
