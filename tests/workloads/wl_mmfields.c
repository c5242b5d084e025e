// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What PR_SET_MM_MAP restores, and the vDSO: after go, /proc/self/cmdline
// still gives the argv the workload was started with (its last element is
// STATEDIR), /proc/self/environ and /proc/self/auxv are byte-for-byte what
// they were, /proc/self/exe names the same program, the code/data/brk/stack/
// arg/env bounds in /proc/self/stat are unchanged, [vdso] and [vvar] sit at
// the same addresses and AT_SYSINFO_EHDR points at [vdso]; and the vDSO
// still works: clock_gettime and gettimeofday through it agree with the
// real system calls.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"
#include "wl_maps.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct Snapshot {
    char environ[16384];
    long environLen;
    char auxv[4096];
    long auxvLen;
    char exe[PATH_MAX];
    unsigned long long fields[12]; // stat fields 26-28 and 45-51
    uintptr_t vdso, vvar;
};

static struct Snapshot s_before;
static char **s_argv;
static int s_argc;

static long readAll(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got < n && (r = read(fd, buf + got, n - got)) > 0) {
        got += (size_t)r;
    }
    close(fd);
    return (long)got;
}

static const int s_statFields[12] = {26, 27, 28, 45, 46, 47, 48, 49, 50, 51, 52, 0};
static const char *s_statNames[12] = {"start_code", "end_code", "start_stack", "start_data", "end_data", "start_brk", "arg_start", "arg_end",
                                      "env_start", "env_end", "exit_code", ""};

static void statFields(unsigned long long *out)
{
    char buf[4096];
    long n = readAll("/proc/self/stat", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    char *p = strrchr(buf, ')');
    // Field 3 starts two characters after ')'.
    int field = 3;
    p = p ? p + 2 : buf;
    unsigned long long values[64] = {0};
    while (*p && field < 64) {
        values[field] = strtoull(p, &p, 10);
        if (field == 3) {
            values[3] = 0; // the state letter
            while (*p && *p != ' ') {
                ++p;
            }
        }
        while (*p == ' ') {
            ++p;
        }
        ++field;
    }
    for (int i = 0; i < 11; ++i) {
        out[i] = values[s_statFields[i]];
    }
}

static void snapshot(struct Snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->environLen = readAll("/proc/self/environ", s->environ, sizeof s->environ);
    s->auxvLen = readAll("/proc/self/auxv", s->auxv, sizeof s->auxv);
    ssize_t n = readlink("/proc/self/exe", s->exe, sizeof s->exe - 1);
    s->exe[n > 0 ? n : 0] = 0;
    statFields(s->fields);
    struct wl_mapping m;
    if (wl_find_named_mapping("[vdso]", &m)) {
        s->vdso = m.start;
    }
    if (wl_find_named_mapping("[vvar]", &m)) {
        s->vvar = m.start;
    }
}

static void sabotage(void)
{
    s_argv[s_argc - 1][0] ^= 1; // the arg area changes: cmdline differs
}

static void checkCmdline(void)
{
    char buf[8192];
    long n = readAll("/proc/self/cmdline", buf, sizeof buf);
    // Expected: the argv strings as the harness passed them, NUL-separated;
    // the last one is STATEDIR, which we know independently.
    long pos = 0;
    int count = 0;
    const char *last = NULL;
    while (pos < n) {
        last = buf + pos;
        pos += (long)strnlen(buf + pos, (size_t)(n - pos)) + 1;
        ++count;
    }
    wl_check(count == s_argc, "/proc/self/cmdline has %d strings, expected %d", count, s_argc);
    wl_check(last && strcmp(last, wl_statedir()) == 0, "/proc/self/cmdline ends with '%s', expected '%s'", last ? last : "", wl_statedir());
    const char *first = buf;
    size_t len = strnlen(first, (size_t)(n > 0 ? n : 0));
    wl_check(n > 0 && len >= 11 && strcmp(first + len - 11, "wl_mmfields") == 0, "/proc/self/cmdline starts with '%.*s'", (int)len, first);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "mmfields");
    s_argv = argv;
    s_argc = argc;
    snapshot(&s_before);
    if (s_before.vdso == 0 || s_before.environLen <= 0 || s_before.auxvLen <= 0) {
        wl_die("cannot read [vdso], environ or auxv");
    }

    wl_run(NULL, sabotage, 10);

    struct Snapshot now;
    snapshot(&now);
    checkCmdline();
    wl_check(now.environLen == s_before.environLen && memcmp(now.environ, s_before.environ, (size_t)now.environLen) == 0,
             "/proc/self/environ differs (%ld bytes, was %ld)", now.environLen, s_before.environLen);
    wl_check(now.auxvLen == s_before.auxvLen && memcmp(now.auxv, s_before.auxv, (size_t)now.auxvLen) == 0, "/proc/self/auxv differs (%ld bytes, was %ld)",
             now.auxvLen, s_before.auxvLen);
    wl_check(strcmp(now.exe, s_before.exe) == 0, "/proc/self/exe is '%s', was '%s'", now.exe, s_before.exe);
    for (int i = 0; i < 10; ++i) {
        wl_check(now.fields[i] == s_before.fields[i], "%s (stat field %d) is %#llx, was %#llx", s_statNames[i], s_statFields[i], now.fields[i],
                 s_before.fields[i]);
    }
    wl_check(now.vdso == s_before.vdso, "[vdso] at %#lx, was %#lx", (unsigned long)now.vdso, (unsigned long)s_before.vdso);
    wl_check(now.vvar == s_before.vvar, "[vvar] at %#lx, was %#lx", (unsigned long)now.vvar, (unsigned long)s_before.vvar);
    unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
    wl_check(ehdr == now.vdso, "AT_SYSINFO_EHDR %#lx but [vdso] is at %#lx", ehdr, (unsigned long)now.vdso);

    const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
    const char *names[] = {"CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_BOOTTIME"};
    for (int i = 0; i < 3; ++i) {
        struct timespec viaVdso, viaSyscall;
        clock_gettime(clocks[i], &viaVdso);
        syscall(SYS_clock_gettime, clocks[i], &viaSyscall);
        long long diff = (viaSyscall.tv_sec - viaVdso.tv_sec) * 1000000000LL + (viaSyscall.tv_nsec - viaVdso.tv_nsec);
        wl_check(diff >= 0 && diff < 100000000LL, "%s through the vDSO is %lld ns off the system call", names[i], diff);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct timespec rt;
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt);
    long long diffUs = (rt.tv_sec - tv.tv_sec) * 1000000LL + (rt.tv_nsec / 1000 - tv.tv_usec);
    wl_check(diffUs >= -1 && diffUs < 100000, "gettimeofday through the vDSO is %lld us off the system call", diffUs);
    return wl_finish();
}
