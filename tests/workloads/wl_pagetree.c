// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A tree whose processes each hold many batches of pages (the page dump's
// pipeline across processes, helper/engine/mem.h PageDump): the root and
// five children, each with
//   - 3 MiB of anonymous memory, page by page: a seeded pattern of its own
//     (process, page), except every 16th page written and zeroed again
//     (present, all zero: a hole in the image) and every 16th + 7 never
//     touched (not present);
//   - 512 KiB with a pattern of its own, then made read-only.
// Each child closes its end of a setup pipe once its memory is ready; the
// root writes ready after all of them (and its own memory). The processes
// wait for go (polling), then check every byte of both regions and
// their pid and parent; the root reaps the children (they must still be its
// own) and takes over their verdicts. cr_pagetree runs it with
// CRYOPOD_DUMP_BATCH_KIB=256, i.e. batches of 64 pages: 14 or more per
// process, so a batch lost, written twice or given to another process shows.
// Sabotage: SIGUSR1 to the last child, whose handler flips a byte of its
// pattern.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { kChildren = 5, kPages = 768, kRoPages = 128 };

static unsigned char *s_mem;
static unsigned char *s_ro;
static unsigned s_index;
static pid_t s_pid, s_ppid;
static pid_t s_children[kChildren];

static uint64_t pageSeed(unsigned page)
{
    return wl_tag(((uint64_t)s_index << 20) | page);
}

static void flip(int sig)
{
    (void)sig;
    s_mem[WL_PAGE * 100 + 5] ^= 0x21;
}

static void setUp(unsigned index)
{
    s_index = index;
    s_mem = mmap(NULL, (size_t)kPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    s_ro = mmap(NULL, (size_t)kRoPages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s_mem == MAP_FAILED || s_ro == MAP_FAILED) {
        wl_die("P%u: mmap: %s", index, strerror(errno));
    }
    for (unsigned p = 0; p < kPages; ++p) {
        if (p % 16 == 15) {
            wl_page(s_mem, p)[9] = 1;
            wl_page(s_mem, p)[9] = 0;
        } else if (p % 16 != 7) {
            wl_fill(wl_page(s_mem, p), WL_PAGE, pageSeed(p));
        }
    }
    wl_fill(s_ro, (size_t)kRoPages * WL_PAGE, wl_tag(0x5000 + index));
    if (mprotect(s_ro, (size_t)kRoPages * WL_PAGE, PROT_READ) != 0) {
        wl_die("P%u: mprotect: %s", index, strerror(errno));
    }
    s_pid = getpid();
    s_ppid = getppid();
}

static bool allZero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

static void verify(void)
{
    unsigned bad = 0;
    for (unsigned p = 0; p < kPages; ++p) {
        const unsigned char *page = wl_page(s_mem, p);
        bool ok;
        if (p % 16 == 15 || p % 16 == 7) {
            ok = allZero(page, WL_PAGE);
        } else {
            ok = wl_mismatch(page, WL_PAGE, pageSeed(p)) == WL_PAGE;
        }
        if (!ok && bad++ < 4) {
            wl_fail("P%u: page %u of %u differs (%s)", s_index, p, (unsigned)kPages, p % 16 == 15 || p % 16 == 7 ? "not zero" : "pattern");
        }
    }
    if (bad > 4) {
        wl_fail("P%u: %u pages differ in all", s_index, bad);
    }
    const size_t roBad = wl_mismatch(s_ro, (size_t)kRoPages * WL_PAGE, wl_tag(0x5000 + s_index));
    wl_check(roBad == (size_t)kRoPages * WL_PAGE, "P%u: read-only region byte %zu differs", s_index, roBad);
    wl_check(getpid() == s_pid, "P%u: pid %d, was %d", s_index, (int)getpid(), (int)s_pid);
    wl_check(getppid() == s_ppid, "P%u: parent %d, was %d", s_index, (int)getppid(), (int)s_ppid);
}

static void sabotage(void)
{
    kill(s_children[kChildren - 1], SIGUSR1);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "pagetree");
    for (unsigned i = 1; i <= kChildren; ++i) {
        int setup[2];
        if (pipe2(setup, O_CLOEXEC) != 0) {
            wl_die("pipe: %s", strerror(errno));
        }
        const pid_t pid = fork();
        if (pid < 0) {
            wl_die("fork: %s", strerror(errno));
        }
        if (pid == 0) {
            close(setup[0]);
            setUp(i);
            if (i == kChildren) {
                signal(SIGUSR1, flip);
            }
            close(setup[1]);
            wl_wait_go();
            verify();
            char file[32];
            snprintf(file, sizeof file, "pagetree.%u", i);
            _exit(wl_finish_as(file));
        }
        close(setup[1]);
        char byte;
        while (read(setup[0], &byte, 1) < 0 && errno == EINTR) { }
        close(setup[0]);
        s_children[i - 1] = pid;
    }
    setUp(0);
    wl_run(NULL, sabotage, 50);
    verify();
    for (unsigned i = 1; i <= kChildren; ++i) {
        char who[16], file[32];
        snprintf(who, sizeof who, "P%u", i);
        snprintf(file, sizeof file, "pagetree.%u", i);
        wl_collect(s_children[i - 1], who, file);
    }
    return wl_finish();
}
