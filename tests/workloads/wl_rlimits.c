// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Resource limits: every limit is lowered (soft and hard) to values derived
// from a table and the starting limits (a hard limit can only go down, and
// here even root lacks CAP_SYS_RESOURCE). After go: getrlimit returns exactly
// those values for all sixteen, and two of them still act: RLIMIT_NOFILE
// (dup fails with EMFILE at the soft limit) and RLIMIT_FSIZE (a write beyond
// it fails with EFBIG).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct Limit {
    int resource;
    const char *name;
    rlim_t soft, hard; // wanted; capped by the starting hard limit
};

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)

static struct Limit s_limits[] = {
    {RLIMIT_AS, "AS", 64 * GIB, 128 * GIB},
    {RLIMIT_CORE, "CORE", 0, 1 * MIB},
    {RLIMIT_CPU, "CPU", 3000, 3600},
    {RLIMIT_DATA, "DATA", 16 * GIB, 32 * GIB},
    {RLIMIT_FSIZE, "FSIZE", 1 * MIB, 2 * MIB},
    {RLIMIT_LOCKS, "LOCKS", 1000, 2000},
    {RLIMIT_MEMLOCK, "MEMLOCK", 64 * KIB, 128 * KIB},
    {RLIMIT_MSGQUEUE, "MSGQUEUE", 400000, 800000},
    {RLIMIT_NICE, "NICE", 5, 10},
    {RLIMIT_NOFILE, "NOFILE", 100, 200},
    {RLIMIT_NPROC, "NPROC", 5000, 10000},
    {RLIMIT_RSS, "RSS", 1 * GIB, 2 * GIB},
    {RLIMIT_RTPRIO, "RTPRIO", 0, 1},
    {RLIMIT_RTTIME, "RTTIME", 1000000, 2000000},
    {RLIMIT_SIGPENDING, "SIGPENDING", 1000, 2000},
    {RLIMIT_STACK, "STACK", 16 * MIB, 32 * MIB},
};
#define NLIMITS (sizeof s_limits / sizeof s_limits[0])

static struct rlimit s_expected[NLIMITS];

static rlim_t minLimit(rlim_t a, rlim_t b)
{
    if (a == RLIM_INFINITY) {
        return b;
    }
    if (b == RLIM_INFINITY) {
        return a;
    }
    return a < b ? a : b;
}

static void sabotage(void)
{
    struct rlimit r = s_expected[9]; // NOFILE
    r.rlim_cur -= 1;
    setrlimit(RLIMIT_NOFILE, &r);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "rlimits");
    for (size_t i = 0; i < NLIMITS; ++i) {
        struct rlimit start;
        getrlimit(s_limits[i].resource, &start);
        s_expected[i].rlim_max = minLimit(start.rlim_max, s_limits[i].hard);
        s_expected[i].rlim_cur = minLimit(s_expected[i].rlim_max, s_limits[i].soft);
        if (setrlimit(s_limits[i].resource, &s_expected[i]) != 0) {
            wl_die("setrlimit %s %llu/%llu: %s", s_limits[i].name, (unsigned long long)s_expected[i].rlim_cur,
                   (unsigned long long)s_expected[i].rlim_max, strerror(errno));
        }
    }
    signal(SIGXFSZ, SIG_IGN);

    wl_run(NULL, sabotage, 10);

    for (size_t i = 0; i < NLIMITS; ++i) {
        struct rlimit now;
        getrlimit(s_limits[i].resource, &now);
        wl_check(now.rlim_cur == s_expected[i].rlim_cur && now.rlim_max == s_expected[i].rlim_max, "RLIMIT_%s is %llu/%llu, expected %llu/%llu",
                 s_limits[i].name, (unsigned long long)now.rlim_cur, (unsigned long long)now.rlim_max, (unsigned long long)s_expected[i].rlim_cur,
                 (unsigned long long)s_expected[i].rlim_max);
    }

    // RLIMIT_NOFILE acts: fds up to soft-1 can be had, not one more.
    const int soft = (int)s_expected[9].rlim_cur;
    int highest = -1;
    int err = 0;
    while (true) {
        int fd = fcntl(0, F_DUPFD, 0);
        if (fd < 0) {
            err = errno;
            break;
        }
        if (fd > highest) {
            highest = fd;
        }
        if (fd > soft + 10) {
            break;
        }
    }
    wl_check(highest == soft - 1 && err == EMFILE, "RLIMIT_NOFILE %d: highest fd %d, then %s", soft, highest, strerror(err));
    for (int fd = 3; fd <= highest; ++fd) {
        close(fd);
    }

    // RLIMIT_FSIZE acts: no byte beyond the soft limit.
    char path[4200];
    wl_path(path, sizeof path, "fsize.dat");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (wl_check(fd >= 0, "open %s: %s", path, strerror(errno))) {
        const off_t limit = (off_t)s_expected[4].rlim_cur;
        ssize_t w = pwrite(fd, "ab", 2, limit - 1);
        wl_check(w == 1, "write across RLIMIT_FSIZE wrote %zd bytes, expected 1", w);
        w = pwrite(fd, "c", 1, limit);
        err = errno;
        wl_check(w < 0 && err == EFBIG, "write at RLIMIT_FSIZE: %zd (%s), expected EFBIG", w, w < 0 ? strerror(err) : "no error");
        close(fd);
        unlink(path);
    }
    return wl_finish();
}
