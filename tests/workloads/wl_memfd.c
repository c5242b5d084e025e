// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// memfds shared by a parent and its child:
// - A: "wl-memfd-a", 1 MiB + 100 bytes, mode 0640, sealed against shrinking
//   and growing, fd open in both (one open file description, offset 12345),
//   mapped MAP_SHARED in both (256 pages). Pages 0..63 hold the root's
//   pattern, 64..127 child K's (written by K), 128..191 a versions array
//   (see below), 192..255 and the 100 bytes after 1 MiB (written with
//   pwrite) a pattern the root wrote before the fork. K also has a
//   description of its own (reopened read-only through /proc, offset 4096).
// - B: "wl-memfd-b", 64 KiB without MFD_ALLOW_SEALING (so sealed with
//   F_SEAL_SEAL), written with write(), mapped MAP_PRIVATE (pages 0..3 then
//   written privately) and MAP_SHARED read-only, and its fd closed: one
//   object kept only by its mappings.
// - C: "wl-memfd-c", 10000 bytes, F_SEAL_WRITE|SHRINK|GROW|SEAL, only an fd.
// The root rewrites the versions array (every element set to the pass
// number; before, each must hold the previous pass) until go, so a snapshot
// taken while it runs must hold one instant of it (low-pause snapshots: the
// memfd is saved during the pause, the pass counter comes from the copy).
// After go both check names, sizes, modes, seals, offsets, flags, contents,
// protections, that both mappings of B are one inode, then that A is still
// one memory between them (a token from the root in page 200, K's answer in
// page 201). Sabotage: the root flips a byte of A's page 5.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    kAPages = 256,
    kATail = 100,
    kBPages = 16,
    kBPrivatePages = 4,
    kCBytes = 10000,
    kVersionsFirst = 128,
    kVersionsPages = 64,
    kTokenPage = 200,
    kAnswerPage = 201,
    kAOffset = 12345,
    kOwnOffset = 4096,
};

// F_SEAL_FUTURE_WRITE: the writable mappings made before stay writable.
static const unsigned kASeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE;
static const unsigned kCSeals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

static int s_afd = -1, s_cfd = -1;
static unsigned char *s_a, *s_bPrivate, *s_bShared;
static struct wl_versions s_versions = {.elements = kVersionsPages * WL_PAGE / 8, .what = "A's versions"};

static void step(void)
{
    wl_versions_pass(&s_versions);
}

static void checkMapping(const char *who, const char *what, void *addr, const char *perms, const char *path, unsigned long *inode)
{
    struct wl_mapping m;
    if (!wl_find_mapping((uintptr_t)addr, &m)) {
        wl_fail("%s: %s is not mapped", who, what);
        return;
    }
    wl_check(strcmp(m.perms, perms) == 0, "%s: %s has perms %s, expected %s", who, what, m.perms, perms);
    wl_check(strcmp(m.path, path) == 0, "%s: %s is \"%s\", expected %s", who, what, m.path, path);
    if (inode) {
        *inode = m.inode;
    }
}

// fd's name, size, mode, seals, offset and access mode.
static void checkFd(const char *who, const char *what, int fd, const char *name, off_t size, mode_t mode, unsigned seals, off_t offset, int accmode,
                    unsigned long *inode)
{
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = '\0';
    char expected[256];
    snprintf(expected, sizeof expected, "/memfd:%s (deleted)", name);
    wl_check(strcmp(target, expected) == 0, "%s: %s (fd %d) is \"%s\", expected \"%s\"", who, what, fd, target, expected);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        wl_fail("%s: %s: fstat: %s", who, what, strerror(errno));
        return;
    }
    wl_check(S_ISREG(st.st_mode) && st.st_size == size, "%s: %s has size %lld, expected %lld", who, what, (long long)st.st_size, (long long)size);
    wl_check((st.st_mode & 07777) == mode, "%s: %s has mode %o, expected %o", who, what, (unsigned)(st.st_mode & 07777), (unsigned)mode);
    const int got = fcntl(fd, F_GET_SEALS);
    wl_check(got == (int)seals, "%s: %s has seals %#x, expected %#x", who, what, (unsigned)got, seals);
    const off_t at = lseek(fd, 0, SEEK_CUR);
    wl_check(at == offset, "%s: %s is at offset %lld, expected %lld", who, what, (long long)at, (long long)offset);
    const int flags = fcntl(fd, F_GETFL);
    wl_check((flags & O_ACCMODE) == accmode, "%s: %s has access mode %d, expected %d", who, what, flags & O_ACCMODE, accmode);
    if (inode) {
        *inode = (unsigned long)st.st_ino;
    }
}

// What the root and K both check.
static void checkShared(const char *who)
{
    unsigned long fdInode = 0, mapInode = 1;
    checkFd(who, "A", s_afd, "wl-memfd-a", (off_t)kAPages * WL_PAGE + kATail, 0640, kASeals, kAOffset, O_RDWR, &fdInode);
    checkMapping(who, "A", s_a, "rw-s", "/memfd:wl-memfd-a (deleted)", &mapInode);
    wl_check(fdInode == mapInode, "%s: A's fd and mapping are different files (inodes %lu, %lu)", who, fdInode, mapInode);
    wl_check_pattern(who, "A pages 0..63", s_a, 64 * (size_t)WL_PAGE, wl_tag(1));
    wl_check_pattern(who, "A pages 64..127", wl_page(s_a, 64), 64 * (size_t)WL_PAGE, wl_tag(2));
    wl_check_pattern(who, "A pages 192..199", wl_page(s_a, 192), 8 * (size_t)WL_PAGE, wl_tag(3));
    wl_check_pattern(who, "A pages 202..255", wl_page(s_a, 202), 54 * (size_t)WL_PAGE, wl_derive(wl_tag(3), 202));
    unsigned char tail[kATail];
    const ssize_t n = pread(s_afd, tail, sizeof tail, (off_t)kAPages * WL_PAGE);
    wl_check(n == kATail, "%s: A's tail: pread returned %zd", who, n);
    wl_check_pattern(who, "A's tail", tail, sizeof tail, wl_tag(4));

    unsigned long privateInode = 0, sharedInode = 1;
    checkMapping(who, "B (private)", s_bPrivate, "rw-p", "/memfd:wl-memfd-b (deleted)", &privateInode);
    checkMapping(who, "B (shared)", s_bShared, "r--s", "/memfd:wl-memfd-b (deleted)", &sharedInode);
    wl_check(privateInode == sharedInode, "%s: B's two mappings are different files (inodes %lu, %lu)", who, privateInode, sharedInode);
    wl_check_pattern(who, "B's private pages", s_bPrivate, kBPrivatePages * (size_t)WL_PAGE, wl_tag(6));
    wl_check_pattern(who, "B's file pages (private mapping)", wl_page(s_bPrivate, kBPrivatePages), (kBPages - kBPrivatePages) * (size_t)WL_PAGE,
                 wl_derive(wl_tag(5), kBPrivatePages));
    wl_check_pattern(who, "B's file (shared mapping)", s_bShared, kBPrivatePages * (size_t)WL_PAGE, wl_tag(5));
    wl_check(wl_write_faults(s_bShared), "%s: a write to B's read-only mapping does not fault", who);
}

static void checkC(const char *who)
{
    checkFd(who, "C", s_cfd, "wl-memfd-c", kCBytes, 0600, kCSeals, 0, O_RDWR, NULL);
    unsigned char buf[kCBytes];
    const ssize_t n = pread(s_cfd, buf, sizeof buf, 0);
    wl_check(n == kCBytes, "%s: C: pread returned %zd", who, n);
    wl_check_pattern(who, "C", buf, sizeof buf, wl_tag(7));
    wl_check(pwrite(s_cfd, buf, 1, 0) < 0 && errno == EPERM, "%s: C takes a write despite F_SEAL_WRITE", who);
}

static void childK(void)
{
    wl_fill(wl_page(s_a, 64), 64 * (size_t)WL_PAGE, wl_tag(2));
    // A description of its own, read-only.
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", s_afd);
    const int own = open(self, O_RDONLY | O_CLOEXEC);
    if (own < 0 || lseek(own, kOwnOffset, SEEK_SET) != kOwnOffset) {
        _exit(3);
    }
    __atomic_store_n((uint64_t *)wl_page(s_a, kAnswerPage), 1, __ATOMIC_SEQ_CST); // set up
    wl_wait_go();
    checkShared("K");
    checkC("K");
    unsigned long ownInode = 0, aInode = 1;
    checkFd("K", "K's own description of A", own, "wl-memfd-a", (off_t)kAPages * WL_PAGE + kATail, 0640, kASeals, kOwnOffset, O_RDONLY, &ownInode);
    checkFd("K", "A", s_afd, "wl-memfd-a", (off_t)kAPages * WL_PAGE + kATail, 0640, kASeals, kAOffset, O_RDWR, &aInode);
    wl_check(ownInode == aInode, "K: its own description is of another file (inodes %lu, %lu)", ownInode, aInode);
    if (!wl_await_token((volatile uint64_t *)wl_page(s_a, kTokenPage), wl_tag(8))) {
        wl_fail("K: the root's token did not arrive in A: A is not shared any more");
    }
    __atomic_store_n((uint64_t *)wl_page(s_a, kAnswerPage), wl_tag(9), __ATOMIC_SEQ_CST);
    _exit(wl_finish_as("memfd.K"));
}

static void sabotage(void)
{
    s_a[5 * WL_PAGE + 17] ^= 0x5a;
}

static void writeAll(int fd, const void *p, size_t n, const char *what)
{
    if (write(fd, p, n) != (ssize_t)n) {
        wl_die("write %s: %s", what, strerror(errno));
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "memfd");
    // A
    s_afd = memfd_create("wl-memfd-a", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (s_afd < 0 || ftruncate(s_afd, (off_t)kAPages * WL_PAGE + kATail) != 0 || fchmod(s_afd, 0640) != 0) {
        wl_die("memfd A: %s", strerror(errno));
    }
    s_a = mmap(NULL, kAPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s_afd, 0);
    if (s_a == MAP_FAILED) {
        wl_die("mmap A: %s", strerror(errno));
    }
    s_versions.array = (uint64_t *)wl_page(s_a, kVersionsFirst);
    wl_fill(s_a, 64 * (size_t)WL_PAGE, wl_tag(1));
    wl_fill(wl_page(s_a, 192), 8 * (size_t)WL_PAGE, wl_tag(3));
    wl_fill(wl_page(s_a, 202), 54 * (size_t)WL_PAGE, wl_derive(wl_tag(3), 202));
    unsigned char tail[kATail];
    wl_fill(tail, sizeof tail, wl_tag(4));
    if (pwrite(s_afd, tail, sizeof tail, (off_t)kAPages * WL_PAGE) != kATail || fcntl(s_afd, F_ADD_SEALS, kASeals) != 0 ||
        lseek(s_afd, kAOffset, SEEK_SET) != kAOffset) {
        wl_die("memfd A: tail, seals, offset: %s", strerror(errno));
    }
    // B
    const int bfd = memfd_create("wl-memfd-b", MFD_CLOEXEC);
    static unsigned char bData[kBPages * WL_PAGE];
    wl_fill(bData, kBPrivatePages * (size_t)WL_PAGE, wl_tag(5));
    wl_fill(wl_page(bData, kBPrivatePages), (kBPages - kBPrivatePages) * (size_t)WL_PAGE, wl_derive(wl_tag(5), kBPrivatePages));
    if (bfd < 0) {
        wl_die("memfd B: %s", strerror(errno));
    }
    writeAll(bfd, bData, sizeof bData, "B");
    s_bPrivate = mmap(NULL, kBPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, bfd, 0);
    s_bShared = mmap(NULL, kBPrivatePages * WL_PAGE, PROT_READ, MAP_SHARED, bfd, 0);
    close(bfd);
    if (s_bPrivate == MAP_FAILED || s_bShared == MAP_FAILED) {
        wl_die("mmap B: %s", strerror(errno));
    }
    wl_fill(s_bPrivate, kBPrivatePages * (size_t)WL_PAGE, wl_tag(6));
    // C
    s_cfd = memfd_create("wl-memfd-c", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    static unsigned char cData[kCBytes];
    wl_fill(cData, sizeof cData, wl_tag(7));
    if (s_cfd < 0 || fchmod(s_cfd, 0600) != 0) {
        wl_die("memfd C: %s", strerror(errno));
    }
    writeAll(s_cfd, cData, sizeof cData, "C");
    if (lseek(s_cfd, 0, SEEK_SET) != 0 || fcntl(s_cfd, F_ADD_SEALS, kCSeals) != 0) {
        wl_die("memfd C: seals: %s", strerror(errno));
    }
    step(); // pass 1
    const pid_t k = wl_fork_sharing(childK, (volatile uint64_t *)wl_page(s_a, kAnswerPage), 1, "K");
    wl_run(step, sabotage, 1);
    wl_versions_check(&s_versions, "root");
    checkShared("root");
    checkC("root");
    __atomic_store_n((uint64_t *)wl_page(s_a, kTokenPage), wl_tag(8), __ATOMIC_SEQ_CST);
    if (!wl_await_token((volatile uint64_t *)wl_page(s_a, kAnswerPage), wl_tag(9))) {
        wl_fail("root: K's answer did not arrive in A: A is not shared any more");
    }
    wl_collect(k, "K", "memfd.K");
    return wl_finish();
}
