// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The working directory: chdir into STATEDIR/"dir with spaces"/sübdir (no
// fd kept open on it). After go: getcwd() names it, "." is the same inode as
// the path, and a relative open finds the marker file written there.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[PATH_MAX];

static void sabotage(void)
{
    if (chdir("..") != 0) {
        wl_fail("chdir .. failed");
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "cwd");
    char outer[PATH_MAX];
    wl_path(outer, sizeof outer, "dir with spaces");
    wl_path(s_dir, sizeof s_dir, "dir with spaces/s\xc3\xbc" "bdir");
    if ((mkdir(outer, 0755) != 0 && errno != EEXIST) || (mkdir(s_dir, 0755) != 0 && errno != EEXIST)) {
        wl_die("mkdir %s: %s", s_dir, strerror(errno));
    }
    if (chdir(s_dir) != 0) {
        wl_die("chdir %s: %s", s_dir, strerror(errno));
    }
    unsigned char marker[64];
    wl_fill(marker, sizeof marker, wl_derive(wl_seed(), 1));
    wl_write_file("marker", marker, sizeof marker);

    wl_run(NULL, sabotage, 10);

    char cwd[PATH_MAX];
    if (wl_check(getcwd(cwd, sizeof cwd) != NULL, "getcwd failed: %s", strerror(errno))) {
        wl_check(strcmp(cwd, s_dir) == 0, "cwd is '%s', expected '%s'", cwd, s_dir);
    }
    struct stat dot, path;
    if (wl_check(stat(".", &dot) == 0 && stat(s_dir, &path) == 0, "stat . or %s failed", s_dir)) {
        wl_check(dot.st_ino == path.st_ino && dot.st_dev == path.st_dev, "'.' is inode %lu, %s is inode %lu", (unsigned long)dot.st_ino, s_dir,
                 (unsigned long)path.st_ino);
    }
    unsigned char got[64];
    long n = wl_read_file_at("marker", got, sizeof got, 0);
    wl_check(n == (long)sizeof got && wl_mismatch(got, sizeof got, wl_derive(wl_seed(), 1)) == sizeof got, "relative open of 'marker' read %ld bytes, "
             "not the marker", n);
    return wl_finish();
}
