// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// inotify: fd 3 (IN_NONBLOCK) watches STATEDIR/dir (wd 1: IN_CREATE |
// IN_DELETE | IN_MOVED_TO), STATEDIR/file (wd 2: IN_MODIFY |
// IN_CLOSE_WRITE); wd 3 (STATEDIR/gone) was removed again, its IN_IGNORED
// read; STATEDIR/dir2 (wd 4: IN_ATTRIB | IN_ONESHOT). fd 4 (IN_CLOEXEC)
// watches STATEDIR/dir (wd 1: IN_DELETE_SELF | IN_MOVE_SELF).
// After go: fdinfo shows exactly those watches (wd, inode, mask); a file
// made in dir, a write to file and a chmod of dir2 each give fd 3 its event
// with the right wd (and name); nothing else is queued; a new watch gets
// wd 5; O_NONBLOCK and FD_CLOEXEC.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MOVED_TO;
static const uint32_t kFileMask = IN_MODIFY | IN_CLOSE_WRITE;
static const uint32_t kDir2Mask = IN_ATTRIB | IN_ONESHOT;
static const uint32_t kSelfMask = IN_DELETE_SELF | IN_MOVE_SELF;

static int watch(int fd, const char *rel, uint32_t mask)
{
    char path[4096];
    wl_path(path, sizeof path, rel);
    return inotify_add_watch(fd, path, mask);
}

// Whether fdinfo of FD lists watch WD on the inode of REL with MASK.
static bool listed(int fd, int wd, const char *rel, uint32_t mask)
{
    char path[4096], want[128], line[512];
    wl_path(path, sizeof path, rel);
    struct stat st;
    if (stat(path, &st) != 0) {
        return false;
    }
    snprintf(want, sizeof want, "inotify wd:%x ino:%llx ", wd, (unsigned long long)st.st_ino);
    char wantMask[32];
    snprintf(wantMask, sizeof wantMask, " mask:%x ", mask);
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "re");
    bool found = false;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) == 0 && strstr(line, wantMask)) {
            found = true;
        }
    }
    if (f) {
        fclose(f);
    }
    return found;
}

static int watchCount(int fd)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "re");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        n += strncmp(line, "inotify ", 8) == 0;
    }
    if (f) {
        fclose(f);
    }
    return n;
}

// Waits for one event on fd 3; true if it has WD, MASK bit(s) and NAME.
static bool expectEvent(int wd, uint32_t mask, const char *name)
{
    struct pollfd p = {3, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) {
        return false;
    }
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const ssize_t n = read(3, buf, sizeof buf);
    if (n < (ssize_t)sizeof(struct inotify_event)) {
        return false;
    }
    const struct inotify_event *e = (const struct inotify_event *)buf;
    return e->wd == wd && (e->mask & mask) && (name ? e->len > 0 && strcmp(e->name, name) == 0 : e->len == 0);
}

static void sabotage(void)
{
    inotify_rm_watch(3, 2);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "inotify");
    char path[4096];
    const char *dirs[] = {"dir", "dir2", "gone"};
    for (int i = 0; i < 3; ++i) {
        wl_path(path, sizeof path, dirs[i]);
        if (mkdir(path, 0755) != 0) {
            wl_die("mkdir %s: %s", dirs[i], strerror(errno));
        }
    }
    wl_path(path, sizeof path, "file");
    wl_write_file(path, "x", 1);
    if (inotify_init1(IN_NONBLOCK) != 3 || inotify_init1(IN_CLOEXEC) != 4) {
        wl_die("inotify_init1: %s", strerror(errno));
    }
    if (watch(3, "dir", kDirMask) != 1 || watch(3, "file", kFileMask) != 2 || watch(3, "gone", IN_ATTRIB) != 3 || inotify_rm_watch(3, 3) != 0 ||
        watch(3, "dir2", kDir2Mask) != 4 || watch(4, "dir", kSelfMask) != 1) {
        wl_die("watches: %s", strerror(errno));
    }
    char drain[4096];
    while (read(3, drain, sizeof drain) > 0) { }

    wl_run(NULL, sabotage, 50);

    wl_check(watchCount(3) == 3, "fd 3 has %d watches, expected 3", watchCount(3));
    wl_check(listed(3, 1, "dir", kDirMask), "fd 3: wd 1 on dir with mask %x not listed", kDirMask);
    wl_check(listed(3, 2, "file", kFileMask), "fd 3: wd 2 on file with mask %x not listed", kFileMask);
    wl_check(listed(3, 4, "dir2", kDir2Mask), "fd 3: wd 4 on dir2 with mask %x not listed", kDir2Mask);
    wl_check(watchCount(4) == 1 && listed(4, 1, "dir", kSelfMask), "fd 4: not just wd 1 on dir with mask %x", kSelfMask);
    errno = 0;
    wl_check(read(3, drain, sizeof drain) == -1 && errno == EAGAIN, "fd 3: events queued before any change, or not O_NONBLOCK");
    wl_check(!(fcntl(3, F_GETFD) & FD_CLOEXEC) && (fcntl(4, F_GETFD) & FD_CLOEXEC), "FD_CLOEXEC differs");
    wl_check(!(fcntl(4, F_GETFL) & O_NONBLOCK), "fd 4 O_NONBLOCK");
    wl_path(path, sizeof path, "dir/new");
    wl_write_file(path, "n", 1);
    wl_check(expectEvent(1, IN_CREATE, "new"), "no IN_CREATE of new on wd 1");
    while (read(3, drain, sizeof drain) > 0) { }
    wl_path(path, sizeof path, "file");
    int f = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    wl_check(f >= 0 && write(f, "y", 1) == 1, "write to file");
    wl_check(expectEvent(2, IN_MODIFY, NULL), "no IN_MODIFY on wd 2");
    close(f);
    while (read(3, drain, sizeof drain) > 0) { }
    wl_path(path, sizeof path, "dir2");
    wl_check(chmod(path, 0700) == 0 && expectEvent(4, IN_ATTRIB, NULL), "no IN_ATTRIB on wd 4");
    wl_check(watch(3, "gone", IN_ATTRIB) == 5, "a new watch did not get wd 5");
    return wl_finish();
}
