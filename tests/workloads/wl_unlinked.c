// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Files unlinked while open: fd 3 read-write on a 3-page-and-a-bit file at
// offset 5000, fd 4 read-only on an empty file; both unlinked. After go: both
// are still unlinked (st_nlink 0, "(deleted)" in /proc/self/fd, nothing at
// the old path), have their sizes, contents and offsets, and fd 3 takes a
// write at its offset.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE (3 * 4096 + 123)
#define OFFSET 5000

static char s_path1[4200], s_path2[4200];

static void sabotage(void)
{
    (void)!pwrite(3, "X", 1, 77);
}

static void checkDeleted(int fd, const char *path)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_nlink = 99;
    wl_check(fstat(fd, &st) == 0 && st.st_nlink == 0, "fd %d: st_nlink %lu, expected 0 (unlinked)", fd, (unsigned long)st.st_nlink);
    char link[64], target[4300];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    const char *suffix = " (deleted)";
    size_t len = strlen(target), slen = strlen(suffix);
    wl_check(len > slen && strcmp(target + len - slen, suffix) == 0, "fd %d links to '%s', expected a deleted file", fd, target);
    struct stat pathSt;
    wl_check(stat(path, &pathSt) != 0 && errno == ENOENT, "%s exists again after restore", path);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "unlinked");
    wl_path(s_path1, sizeof s_path1, "gone.dat");
    wl_path(s_path2, sizeof s_path2, "gone-empty.dat");
    static unsigned char data[SIZE];
    wl_fill(data, SIZE, wl_derive(wl_seed(), 1));
    wl_write_file(s_path1, data, SIZE);
    wl_write_file(s_path2, "", 0);
    if (open(s_path1, O_RDWR) != 3 || open(s_path2, O_RDONLY) != 4) {
        wl_die("open failed: %s", strerror(errno));
    }
    lseek(3, OFFSET, SEEK_SET);
    unlink(s_path1);
    unlink(s_path2);

    wl_run(NULL, sabotage, 10);

    checkDeleted(3, s_path1);
    checkDeleted(4, s_path2);
    struct stat st;
    fstat(3, &st);
    wl_check(st.st_size == SIZE, "fd 3: size %lld, expected %d", (long long)st.st_size, SIZE);
    fstat(4, &st);
    wl_check(st.st_size == 0, "fd 4: size %lld, expected 0", (long long)st.st_size);
    wl_check(lseek(3, 0, SEEK_CUR) == OFFSET, "fd 3: offset %lld, expected %d", (long long)lseek(3, 0, SEEK_CUR), OFFSET);
    static unsigned char now[SIZE + 10];
    ssize_t n = pread(3, now, sizeof now, 0);
    wl_check(n == SIZE && wl_mismatch(now, SIZE, wl_derive(wl_seed(), 1)) == SIZE, "fd 3: content differs (read %zd, first difference at %zu)", n,
             wl_mismatch(now, SIZE, wl_derive(wl_seed(), 1)));
    wl_check(write(3, "after", 5) == 5, "fd 3: write failed");
    char back[5];
    wl_check(pread(3, back, 5, OFFSET) == 5 && memcmp(back, "after", 5) == 0, "fd 3: the write did not land at %d", OFFSET);
    char c;
    wl_check(read(4, &c, 1) == 0, "fd 4: reading the empty file did not give EOF");
    return wl_finish();
}
