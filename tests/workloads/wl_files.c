// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Regular files and a directory open at chosen fd numbers, with gaps in the
// fd table: fd 3 read-only at offset 12345; fd 7 write-only at offset 3000 of
// a 5000-byte file; fd 42 read-write at offset 70000 beyond the end of a
// 4096-byte file; fd 9 read-only with O_NONBLOCK|O_NOATIME; fd 100 a
// directory, close-on-exec. After go: the fd table is exactly that, each fd
// is the same file (inode), with the same access mode, status flags,
// FD_CLOEXEC and offset; reads and writes at those offsets land where they
// must (checked through fresh opens against the seeded contents).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IN_SIZE (200 * 1024)
#define IN_OFFSET 12345
#define OUT_SIZE 5000
#define OUT_OFFSET 3000
#define RW_SIZE 4096
#define RW_OFFSET 70000

static char s_in[4200], s_out[4200], s_rw[4200], s_flags[4200], s_dir[4200];

static uint64_t seedOf(unsigned tag)
{
    return wl_derive(wl_seed(), tag);
}

static void placeAt(int fd, int target)
{
    if (fd < 0) {
        wl_die("open failed: %s", strerror(errno));
    }
    if (fd != target) {
        if (dup2(fd, target) != target) {
            wl_die("dup2 %d -> %d: %s", fd, target, strerror(errno));
        }
        close(fd);
    }
}

static void sabotage(void)
{
    lseek(3, 1, SEEK_CUR);
}

struct Expect {
    int fd;
    const char *path;
    int accmode;
    int statusFlags; // among O_APPEND|O_NONBLOCK|O_NOATIME|O_DIRECTORY-ish
    bool cloexec;
    off_t offset;
};

static void checkFd(const struct Expect *e)
{
    struct stat fdSt, pathSt;
    if (!wl_check(fstat(e->fd, &fdSt) == 0, "fd %d: fstat: %s", e->fd, strerror(errno))) {
        return;
    }
    if (wl_check(stat(e->path, &pathSt) == 0, "stat %s: %s", e->path, strerror(errno))) {
        wl_check(fdSt.st_ino == pathSt.st_ino && fdSt.st_dev == pathSt.st_dev, "fd %d: inode %lu, %s is inode %lu", e->fd, (unsigned long)fdSt.st_ino,
                 e->path, (unsigned long)pathSt.st_ino);
    }
    int fl = fcntl(e->fd, F_GETFL);
    wl_check((fl & O_ACCMODE) == e->accmode, "fd %d: access mode %d, expected %d", e->fd, fl & O_ACCMODE, e->accmode);
    const int checked = O_APPEND | O_NONBLOCK | O_NOATIME | O_SYNC | O_DSYNC;
    wl_check((fl & checked) == e->statusFlags, "fd %d: status flags %#o, expected %#o", e->fd, fl & checked, e->statusFlags);
    int fdfl = fcntl(e->fd, F_GETFD);
    wl_check(((fdfl & FD_CLOEXEC) != 0) == e->cloexec, "fd %d: FD_CLOEXEC %s, expected %s", e->fd, (fdfl & FD_CLOEXEC) ? "set" : "clear",
             e->cloexec ? "set" : "clear");
    if (e->offset >= 0) {
        off_t off = lseek(e->fd, 0, SEEK_CUR);
        wl_check(off == e->offset, "fd %d (%s): offset %lld, expected %lld", e->fd, e->path, (long long)off, (long long)e->offset);
    }
}

static void checkFdTable(const int *want, size_t n)
{
    DIR *d = opendir("/proc/self/fd");
    if (!wl_check(d != NULL, "opendir /proc/self/fd failed")) {
        return;
    }
    int self = dirfd(d);
    bool seen[128] = {false};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        int fd = atoi(e->d_name);
        if (fd == self) {
            continue;
        }
        bool expected = false;
        for (size_t i = 0; i < n; ++i) {
            expected |= want[i] == fd;
        }
        if (!expected) {
            wl_fail("unexpected fd %d is open", fd);
        } else if (fd < 128) {
            seen[fd] = true;
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; ++i) {
        wl_check(seen[want[i]], "fd %d is not open any more", want[i]);
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "files");
    wl_path(s_in, sizeof s_in, "in.dat");
    wl_path(s_out, sizeof s_out, "out.dat");
    wl_path(s_rw, sizeof s_rw, "rw.dat");
    wl_path(s_flags, sizeof s_flags, "flags.dat");
    wl_path(s_dir, sizeof s_dir, "dir");

    static unsigned char buf[IN_SIZE];
    wl_fill(buf, IN_SIZE, seedOf(1));
    wl_write_file(s_in, buf, IN_SIZE);
    wl_fill(buf, RW_SIZE, seedOf(3));
    wl_write_file(s_rw, buf, RW_SIZE);
    wl_write_file(s_flags, "flags\n", 6);
    if (mkdir(s_dir, 0755) != 0) {
        wl_die("mkdir %s: %s", s_dir, strerror(errno));
    }
    char inner[4300];
    snprintf(inner, sizeof inner, "%s/inner", s_dir);
    wl_write_file(inner, "inner\n", 6);

    placeAt(open(s_in, O_RDONLY), 3);
    // Reach the offset by reading, as a program would.
    for (size_t got = 0; got < IN_OFFSET;) {
        ssize_t r = read(3, buf, IN_OFFSET - got < 1000 ? IN_OFFSET - got : 1000);
        if (r <= 0) {
            wl_die("read %s failed", s_in);
        }
        got += (size_t)r;
    }
    placeAt(open(s_out, O_WRONLY | O_CREAT | O_TRUNC, 0644), 7);
    wl_fill(buf, OUT_SIZE, seedOf(2));
    if (write(7, buf, OUT_SIZE) != OUT_SIZE) {
        wl_die("write %s failed", s_out);
    }
    lseek(7, OUT_OFFSET, SEEK_SET);
    placeAt(open(s_rw, O_RDWR), 42);
    lseek(42, RW_OFFSET, SEEK_SET);
    placeAt(open(s_flags, O_RDONLY | O_NONBLOCK | O_NOATIME), 9);
    placeAt(open(s_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), 100);
    fcntl(100, F_SETFD, FD_CLOEXEC); // dup2 cleared it

    wl_run(NULL, sabotage, 10);

    const int table[] = {0, 1, 2, 3, 7, 9, 42, 100};
    checkFdTable(table, sizeof table / sizeof table[0]);
    for (int fd = 0; fd < 3; ++fd) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        wl_check(strcmp(target, "/dev/null") == 0, "fd %d is '%s', expected /dev/null", fd, target);
    }
    const struct Expect expects[] = {
        {3, s_in, O_RDONLY, 0, false, IN_OFFSET},
        {7, s_out, O_WRONLY, 0, false, OUT_OFFSET},
        {42, s_rw, O_RDWR, 0, false, RW_OFFSET},
        {9, s_flags, O_RDONLY, O_NONBLOCK | O_NOATIME, false, 0},
        {100, s_dir, O_RDONLY, 0, true, -1},
    };
    for (size_t i = 0; i < sizeof expects / sizeof expects[0]; ++i) {
        checkFd(&expects[i]);
    }

    // fd 3 reads on from its offset.
    unsigned char got[1000];
    ssize_t r = read(3, got, sizeof got);
    bool same = r == (ssize_t)sizeof got;
    for (size_t i = 0; same && i < sizeof got; ++i) {
        same = got[i] == wl_byte_at(seedOf(1), IN_OFFSET + i);
    }
    wl_check(same, "fd 3: reading on from offset %d gave other bytes (%zd read)", IN_OFFSET, r);

    // fd 7 writes at its offset: bytes [3000, 3100) replaced, size unchanged.
    unsigned char patch[100];
    wl_fill(patch, sizeof patch, seedOf(4));
    wl_check(write(7, patch, sizeof patch) == (ssize_t)sizeof patch, "fd 7: write failed");
    static unsigned char outNow[OUT_SIZE + 10];
    long n = wl_read_file_at(s_out, outNow, sizeof outNow, 0);
    wl_check(n == OUT_SIZE, "%s is %ld bytes, expected %d", s_out, n, OUT_SIZE);
    size_t bad = OUT_SIZE;
    for (size_t i = 0; i < OUT_SIZE && bad == OUT_SIZE; ++i) {
        uint8_t want = (i >= OUT_OFFSET && i < OUT_OFFSET + sizeof patch) ? patch[i - OUT_OFFSET] : wl_byte_at(seedOf(2), i);
        if (outNow[i] != want) {
            bad = i;
        }
    }
    wl_check(bad == OUT_SIZE, "%s differs at byte %zu after writing 100 bytes through fd 7", s_out, bad);

    // fd 42 writes beyond the end: a hole, then the bytes, at 70000.
    wl_check(write(42, "0123456789", 10) == 10, "fd 42: write failed");
    struct stat st;
    fstat(42, &st);
    wl_check(st.st_size == RW_OFFSET + 10, "%s is %lld bytes after the write, expected %d", s_rw, (long long)st.st_size, RW_OFFSET + 10);
    char tail[10];
    wl_check(wl_read_file_at(s_rw, tail, 10, RW_OFFSET) == 10 && memcmp(tail, "0123456789", 10) == 0, "%s: the write did not land at %d", s_rw, RW_OFFSET);
    char hole[16];
    wl_check(wl_read_file_at(s_rw, hole, sizeof hole, RW_SIZE + 100) == sizeof hole && memcmp(hole, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0,
             "%s: the hole is not zero", s_rw);

    // fd 100 still opens relative paths.
    int innerFd = openat(100, "inner", O_RDONLY | O_CLOEXEC);
    char word[6];
    wl_check(innerFd >= 0 && read(innerFd, word, 6) == 6 && memcmp(word, "inner\n", 6) == 0, "openat(fd 100, \"inner\") failed");
    if (innerFd >= 0) {
        close(innerFd);
    }
    return wl_finish();
}
