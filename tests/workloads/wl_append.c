// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// O_APPEND: fd 3 write-only append, fd 4 read-write append with its offset
// at 10, on a 1000-byte log. After go: both still have O_APPEND, fd 4 is
// still at 10; the file is grown to 1500 through another fd, then a write
// through fd 3 must land at 1500 and one through fd 4 at 1600, whatever
// their offsets were.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_path[4200];

static void sabotage(void)
{
    fcntl(3, F_SETFL, fcntl(3, F_GETFL) & ~O_APPEND);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "append");
    wl_path(s_path, sizeof s_path, "log.dat");
    static unsigned char data[1650];
    wl_fill(data, 1000, wl_derive(wl_seed(), 1));
    wl_write_file(s_path, data, 1000);
    if (open(s_path, O_WRONLY | O_APPEND) != 3 || open(s_path, O_RDWR | O_APPEND) != 4) {
        wl_die("open %s failed", s_path);
    }
    lseek(4, 10, SEEK_SET);

    wl_run(NULL, sabotage, 10);

    wl_check(fcntl(3, F_GETFL) & O_APPEND, "fd 3 lost O_APPEND");
    wl_check(fcntl(4, F_GETFL) & O_APPEND, "fd 4 lost O_APPEND");
    wl_check(lseek(4, 0, SEEK_CUR) == 10, "fd 4 offset %lld, expected 10", (long long)lseek(4, 0, SEEK_CUR));
    wl_fill(data + 1000, 500, wl_derive(wl_seed(), 2));
    int other = open(s_path, O_WRONLY | O_CLOEXEC);
    wl_check(other >= 0 && pwrite(other, data + 1000, 500, 1000) == 500, "growing %s failed", s_path);
    if (other >= 0) {
        close(other);
    }
    wl_fill(data + 1500, 100, wl_derive(wl_seed(), 3));
    wl_fill(data + 1600, 50, wl_derive(wl_seed(), 4));
    wl_check(write(3, data + 1500, 100) == 100, "write through fd 3 failed");
    wl_check(write(4, data + 1600, 50) == 50, "write through fd 4 failed");
    struct stat st;
    stat(s_path, &st);
    wl_check(st.st_size == 1650, "%s is %lld bytes, expected 1650 (appends did not land at the end)", s_path, (long long)st.st_size);
    static unsigned char now[2000];
    long n = wl_read_file_at(s_path, now, sizeof now, 0);
    size_t bad = 0;
    while (bad < 1650 && (long)bad < n && now[bad] == data[bad]) {
        ++bad;
    }
    wl_check(bad == 1650, "%s differs from the expected log at byte %zu", s_path, bad);
    return wl_finish();
}
