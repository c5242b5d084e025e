// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// File locks held by the process: fd 3 (STATEDIR/a, rw) flock LOCK_EX; fd 4
// (STATEDIR/b, rw) POSIX write lock on a seeded range [S, S+99] and read lock
// from S+1000 to end of file; fd 5 (STATEDIR/c, ro) flock LOCK_SH, fd 6 its
// dup; fd 7 (STATEDIR/d, rw) OFD write lock on bytes 0..9.
// After go a child (a separate process, opening the files itself) asks the
// kernel: a's LOCK_EX|LOCK_NB fails; F_GETLK on b finds the write lock with
// its range and our pid, the gap free, the read lock conflicting with a
// write only; c takes LOCK_SH but not LOCK_EX; F_OFD_GETLK on d finds 0..9
// taken and byte 10 free.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static off_t s_start;

static void openAt(int want, const char *rel, int flags)
{
    char path[4096];
    wl_path(path, sizeof path, rel);
    const int fd = open(path, flags | O_CREAT, 0644);
    if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd) != 0))) {
        wl_die("open %s at fd %d: %s", rel, want, strerror(errno));
    }
}

static int setLock(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, cmd, &fl);
}

// F_GETLK (or F_OFD_GETLK) for a TYPE lock on [start, start+len): the
// conflicting lock in *out (l_type F_UNLCK when there is none).
static bool getLock(int fd, int cmd, short type, off_t start, off_t len, struct flock *out)
{
    memset(out, 0, sizeof *out);
    out->l_type = type;
    out->l_whence = SEEK_SET;
    out->l_start = start;
    out->l_len = len;
    return fcntl(fd, cmd, out) == 0;
}

// The checks, in a child; bit i of the exit status: check i failed.
static int childChecks(pid_t owner)
{
    int failed = 0;
    char path[4096];
    wl_path(path, sizeof path, "a");
    int a = open(path, O_RDWR | O_CLOEXEC);
    if (a < 0 || flock(a, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
        failed |= 1;
    }
    wl_path(path, sizeof path, "b");
    int b = open(path, O_RDWR | O_CLOEXEC);
    struct flock fl;
    if (b < 0 || !getLock(b, F_GETLK, F_WRLCK, s_start + 50, 1, &fl) || fl.l_type != F_WRLCK || fl.l_start != s_start || fl.l_len != 100 || fl.l_pid != owner) {
        failed |= 2;
    }
    if (b < 0 || !getLock(b, F_GETLK, F_WRLCK, s_start + 100, 900, &fl) || fl.l_type != F_UNLCK) {
        failed |= 4;
    }
    if (b < 0 || !getLock(b, F_GETLK, F_WRLCK, s_start + 5000, 1, &fl) || fl.l_type != F_RDLCK || fl.l_start != s_start + 1000 || fl.l_len != 0) {
        failed |= 8;
    }
    if (b < 0 || !getLock(b, F_GETLK, F_RDLCK, s_start + 1000, 0, &fl) || fl.l_type != F_UNLCK) {
        failed |= 16;
    }
    wl_path(path, sizeof path, "c");
    int c = open(path, O_RDONLY | O_CLOEXEC);
    if (c < 0 || flock(c, LOCK_SH | LOCK_NB) != 0 || flock(c, LOCK_UN) != 0 || flock(c, LOCK_EX | LOCK_NB) == 0) {
        failed |= 32;
    }
    wl_path(path, sizeof path, "d");
    int d = open(path, O_RDWR | O_CLOEXEC);
    if (d < 0 || !getLock(d, F_OFD_GETLK, F_WRLCK, 9, 1, &fl) || fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 10) {
        failed |= 64;
    }
    if (d < 0 || !getLock(d, F_OFD_GETLK, F_WRLCK, 10, 1, &fl) || fl.l_type != F_UNLCK) {
        failed |= 128;
    }
    return failed;
}

static void sabotage(void)
{
    setLock(4, F_SETLK, F_UNLCK, s_start, 100);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "locks");
    uint64_t state = wl_derive(wl_seed(), 1);
    s_start = (off_t)(wl_next(&state) % 100000);
    openAt(3, "a", O_RDWR);
    openAt(4, "b", O_RDWR);
    openAt(5, "c", O_RDONLY);
    if (dup2(5, 6) != 6) {
        wl_die("dup2: %s", strerror(errno));
    }
    openAt(7, "d", O_RDWR);
    if (flock(3, LOCK_EX | LOCK_NB) != 0 || setLock(4, F_SETLK, F_WRLCK, s_start, 100) != 0 || setLock(4, F_SETLK, F_RDLCK, s_start + 1000, 0) != 0 ||
        flock(5, LOCK_SH | LOCK_NB) != 0 || setLock(7, F_OFD_SETLK, F_WRLCK, 0, 10) != 0) {
        wl_die("take the locks: %s", strerror(errno));
    }

    wl_run(NULL, sabotage, 50);

    const pid_t me = getpid();
    const pid_t child = fork();
    if (child == 0) {
        _exit(childChecks(me));
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
        wl_fail("the checking child did not run or exit");
        return wl_finish();
    }
    const int failed = WEXITSTATUS(status);
    static const char *const what[] = {
        "a: LOCK_EX not held (flock)",
        "b: the write lock on its range not held by us",
        "b: the bytes between the locks not free",
        "b: the read lock to end of file not there",
        "b: the read lock conflicting with another read lock",
        "c: LOCK_SH not held (flock through fd 5/6)",
        "d: the OFD write lock on 0..9 not held",
        "d: byte 10 not free",
    };
    for (int i = 0; i < 8; ++i) {
        wl_check(!(failed & (1 << i)), "%s", what[i]);
    }
    wl_check(strstr(wl_fdinfo(4, "lock:"), "POSIX") != NULL, "fdinfo of fd 4 shows no POSIX lock");
    return wl_finish();
}
