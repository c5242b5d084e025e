// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// umask: set to an unusual value derived from the seed. After go: umask()
// returns it, and a file created with mode 0777 gets exactly 0777 & ~umask.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static mode_t expectedMask(void)
{
    return (mode_t)((wl_derive(wl_seed(), 1) & 0757) | 0022);
}

static void sabotage(void)
{
    umask(expectedMask() ^ 0001);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "umask");
    umask(expectedMask());

    wl_run(NULL, sabotage, 10);

    mode_t now = umask(0);
    umask(now);
    wl_check(now == expectedMask(), "umask is %04o, expected %04o", (unsigned)now, (unsigned)expectedMask());
    char path[4200];
    wl_path(path, sizeof path, "umask.probe");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0777);
    struct stat st;
    if (wl_check(fd >= 0 && fstat(fd, &st) == 0, "cannot create %s", path)) {
        mode_t want = 0777 & ~expectedMask();
        wl_check((st.st_mode & 07777) == want, "file created with 0777 has mode %04o, expected %04o", (unsigned)(st.st_mode & 07777), (unsigned)want);
        close(fd);
        unlink(path);
    }
    return wl_finish();
}
