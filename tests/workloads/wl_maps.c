// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl_maps.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static bool parseLine(const char *line, struct wl_mapping *m)
{
    unsigned long long start, end, offset;
    unsigned maj, min;
    unsigned long inode;
    int pathPos = 0;
    if (sscanf(line, "%llx-%llx %4s %llx %x:%x %lu %n", &start, &end, m->perms, &offset, &maj, &min, &inode, &pathPos) < 7) {
        return false;
    }
    m->start = (uintptr_t)start;
    m->end = (uintptr_t)end;
    m->offset = offset;
    m->inode = inode;
    m->path[0] = 0;
    if (pathPos > 0) {
        snprintf(m->path, sizeof m->path, "%s", line + pathPos);
        size_t n = strlen(m->path);
        if (n > 0 && m->path[n - 1] == '\n') {
            m->path[n - 1] = 0;
        }
    }
    return true;
}

static bool findMapping(uintptr_t addr, const char *name, struct wl_mapping *out)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) {
        return false;
    }
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        struct wl_mapping m;
        if (!parseLine(line, &m)) {
            continue;
        }
        if (name ? strcmp(m.path, name) == 0 : (addr >= m.start && addr < m.end)) {
            *out = m;
            found = true;
        }
    }
    fclose(f);
    return found;
}

bool wl_find_mapping(uintptr_t addr, struct wl_mapping *out)
{
    return findMapping(addr, NULL, out);
}

bool wl_find_named_mapping(const char *name, struct wl_mapping *out)
{
    return findMapping(0, name, out);
}

static sigjmp_buf s_probeJump;

static void onProbeFault(int sig)
{
    siglongjmp(s_probeJump, sig);
}

static bool probe(volatile void *addr, bool write)
{
    struct sigaction sa, oldSegv, oldBus;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onProbeFault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &oldSegv);
    sigaction(SIGBUS, &sa, &oldBus);
    bool faulted = false;
    if (sigsetjmp(s_probeJump, 1) == 0) {
        if (write) {
            volatile char *p = addr;
            *p = *p;
        } else {
            (void)*(volatile const char *)addr;
        }
    } else {
        faulted = true;
    }
    sigaction(SIGSEGV, &oldSegv, NULL);
    sigaction(SIGBUS, &oldBus, NULL);
    return faulted;
}

bool wl_read_faults(const volatile void *addr)
{
    return probe((volatile void *)addr, false);
}

bool wl_write_faults(volatile void *addr)
{
    return probe(addr, true);
}
