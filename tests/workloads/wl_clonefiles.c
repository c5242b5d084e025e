// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// An fd table shared by two processes: the root made child F with
// clone(CLONE_FILES | SIGCHLD) (no CLONE_VM: a process of its own), and an
// ordinary child N with fork(). fd 3 is STATEDIR/shared, opened by the root
// before both, at offset 100. F and N hold heap patterns.
// After go: the root opens STATEDIR/late and names the new fd in
// STATEDIR/clonefiles.late; F must see that fd (one table: same inode) and
// kcmp(KCMP_FILES) with the root must say "same"; N must not see it (a copy
// of the table, its own). fd 3 at offset 100 everywhere.
// Sabotage: the root unshares its fd table (unshare(CLONE_FILES)).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { kSharedBytes = 100, kHeap = 300 * 1024 };

static pid_t s_root;

// The late fd the root names after go: -1 until STATEDIR/clonefiles.late exists.
static int lateFd(void)
{
    char path[4096];
    wl_path(path, sizeof path, "clonefiles.late");
    char text[32] = {0};
    for (int i = 0; i < 500; ++i) {
        if (wl_read_file_at(path, text, sizeof text - 1, 0) > 0) {
            return atoi(text);
        }
        wl_sleep_ms(10);
    }
    return -1;
}

static bool isLateFile(int fd)
{
    char path[4096];
    wl_path(path, sizeof path, "late");
    struct stat a, b;
    return fcntl(fd, F_GETFD) >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static void checkHeapAndOffset(const char *who, const unsigned char *heap, uint64_t seed)
{
    const size_t bad = wl_mismatch(heap, kHeap, seed);
    wl_check(bad == kHeap, "%s: heap byte %zu differs", who, bad);
    const off_t at = lseek(3, 0, SEEK_CUR);
    wl_check(at == kSharedBytes, "%s: fd 3 at offset %lld, expected %d", who, (long long)at, kSharedBytes);
}

static int childF(void *arg)
{
    (void)arg;
    unsigned char *heap = malloc(kHeap);
    if (!heap) {
        _exit(3);
    }
    wl_fill(heap, kHeap, wl_derive(wl_seed(), 1));
    wl_wait_go();
    checkHeapAndOffset("F", heap, wl_derive(wl_seed(), 1));
    wl_check(syscall(SYS_kcmp, s_root, getpid(), KCMP_FILES, 0, 0) == 0, "F: its fd table is not the root's (kcmp)");
    const int late = lateFd();
    wl_check(late >= 0 && isLateFile(late), "F: the fd %d the root opened after go is not in its table", late);
    _exit(wl_finish_as("clonefiles.F"));
}

static void childN(void)
{
    unsigned char *heap = malloc(kHeap);
    if (!heap) {
        _exit(3);
    }
    wl_fill(heap, kHeap, wl_derive(wl_seed(), 2));
    wl_wait_go();
    checkHeapAndOffset("N", heap, wl_derive(wl_seed(), 2));
    wl_check(syscall(SYS_kcmp, s_root, getpid(), KCMP_FILES, 0, 0) != 0, "N: its fd table is the root's (kcmp)");
    const int late = lateFd();
    wl_check(late >= 0 && !isLateFile(late), "N: the fd %d the root opened after go is in its table", late);
    _exit(wl_finish_as("clonefiles.N"));
}

static void sabotage(void)
{
    if (unshare(CLONE_FILES) != 0) {
        wl_fail("sabotage: unshare: %s", strerror(errno));
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "clonefiles");
    s_root = getpid();
    char path[4096];
    wl_path(path, sizeof path, "shared");
    if (open(path, O_RDWR | O_CREAT | O_TRUNC, 0644) != 3) {
        wl_die("open shared: not fd 3");
    }
    static unsigned char bytes[kSharedBytes];
    wl_fill(bytes, sizeof bytes, wl_derive(wl_seed(), 3));
    if (write(3, bytes, sizeof bytes) != kSharedBytes) {
        wl_die("write shared");
    }
    const size_t stackSize = 256 * 1024;
    char *stack = malloc(stackSize);
    if (!stack) {
        wl_die("malloc stack");
    }
    const pid_t f = clone(childF, stack + stackSize, CLONE_FILES | SIGCHLD, NULL);
    if (f < 0) {
        wl_die("clone CLONE_FILES: %s", strerror(errno));
    }
    const pid_t n = fork();
    if (n < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (n == 0) {
        childN();
    }
    wl_run(NULL, sabotage, 50);
    wl_path(path, sizeof path, "late");
    const int late = open(path, O_RDWR | O_CREAT, 0644);
    char text[32];
    snprintf(text, sizeof text, "%d\n", late);
    char tmp[4096], final[4096];
    wl_path(tmp, sizeof tmp, "clonefiles.late.tmp");
    wl_path(final, sizeof final, "clonefiles.late");
    wl_write_file(tmp, text, strlen(text));
    rename(tmp, final);
    const off_t at = lseek(3, 0, SEEK_CUR);
    wl_check(at == kSharedBytes, "root: fd 3 at offset %lld, expected %d", (long long)at, kSharedBytes);
    wl_collect(f, "F", "clonefiles.F");
    wl_collect(n, "N", "clonefiles.N");
    return wl_finish();
}
