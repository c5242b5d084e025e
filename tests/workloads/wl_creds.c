// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Credentials (starts as root): supplementary groups {100, 4242, 65533};
// CAP_SYS_BOOT and CAP_MKNOD dropped from the bounding set; securebits
// KEEP_CAPS|NOROOT; real/effective/saved gids 65534/4243/4244 and uids
// 65534/4245/4246 (so fsuid 4245, fsgid 4243); then permitted {CHOWN, KILL,
// NET_BIND_SERVICE}, effective {CHOWN, NET_BIND_SERVICE}, inheritable
// {KILL, NET_BIND_SERVICE}, ambient {NET_BIND_SERVICE}; no_new_privs. After
// go: all of it reads back the same (expected sets computed from these
// constants and the bounding set at start), and the capabilities act:
// CAP_CHOWN lets it chown, the missing CAP_DAC_OVERRIDE keeps it out of a
// root-only file.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RUID 65534
#define EUID 4245
#define SUID 4246
#define RGID 65534
#define EGID 4243
#define SGID 4244

static const gid_t s_groups[] = {100, 4242, 65533};
static int s_lastCap;
static uint64_t s_boundingAtStart;
static int s_dumpableAfter;
static char s_rootOnly[4200], s_chownProbe[4200];

static uint64_t bit(int cap)
{
    return 1ull << cap;
}

static const uint64_t s_dropBounding = (1ull << CAP_SYS_BOOT) | (1ull << CAP_MKNOD);

static uint64_t wantPermitted(void)
{
    return (bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE)) & s_boundingAtStart;
}

static uint64_t wantEffective(void)
{
    return (bit(CAP_CHOWN) | bit(CAP_NET_BIND_SERVICE)) & s_boundingAtStart;
}

static uint64_t wantInheritable(void)
{
    return (bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE)) & s_boundingAtStart;
}

static uint64_t wantAmbient(void)
{
    return bit(CAP_NET_BIND_SERVICE) & s_boundingAtStart;
}

static uint64_t wantBounding(void)
{
    return s_boundingAtStart & ~s_dropBounding;
}

static const int s_wantSecurebits = SECBIT_KEEP_CAPS | SECBIT_NOROOT;

struct Caps {
    uint64_t effective, permitted, inheritable;
};

static bool capGet(struct Caps *c)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) {
        return false;
    }
    c->effective = d[0].effective | ((uint64_t)d[1].effective << 32);
    c->permitted = d[0].permitted | ((uint64_t)d[1].permitted << 32);
    c->inheritable = d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
    return true;
}

static bool capSet(const struct Caps *c)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)c->effective, (uint32_t)c->permitted, (uint32_t)c->inheritable},
        {(uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32), (uint32_t)(c->inheritable >> 32)},
    };
    return syscall(SYS_capset, &h, d) == 0;
}

static void sabotage(void)
{
    struct Caps c;
    capGet(&c);
    c.effective &= ~bit(CAP_CHOWN);
    capSet(&c);
}

static void checkSet(const char *name, uint64_t got, uint64_t want)
{
    wl_check(got == want, "%s capabilities %#llx, expected %#llx", name, (unsigned long long)got, (unsigned long long)want);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "creds");
    if (geteuid() != 0) {
        wl_die("must start as root (euid is %d)", (int)geteuid());
    }
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (!f || fscanf(f, "%d", &s_lastCap) != 1) {
        wl_die("cannot read cap_last_cap");
    }
    fclose(f);
    for (int cap = 0; cap <= s_lastCap; ++cap) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
            s_boundingAtStart |= bit(cap);
        }
    }
    if (!(s_boundingAtStart & bit(CAP_SETPCAP)) || !(s_boundingAtStart & bit(CAP_SETUID))) {
        wl_die("needs CAP_SETPCAP and CAP_SETUID in the bounding set");
    }

    // Files for the functional checks, and a state dir the new fsuid can use.
    wl_path(s_rootOnly, sizeof s_rootOnly, "root-only");
    wl_path(s_chownProbe, sizeof s_chownProbe, "chown-probe");
    wl_write_file(s_rootOnly, "secret\n", 7);
    chmod(s_rootOnly, 0600);
    wl_write_file(s_chownProbe, "probe\n", 6);
    if (chown(wl_statedir(), EUID, EGID) != 0 || chown(s_chownProbe, EUID, EGID) != 0) {
        wl_die("chown: %s", strerror(errno));
    }

    if (setgroups(sizeof s_groups / sizeof s_groups[0], s_groups) != 0) {
        wl_die("setgroups: %s", strerror(errno));
    }
    for (int cap = 0; cap <= s_lastCap; ++cap) {
        if ((s_dropBounding & bit(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            wl_die("PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
        }
    }
    if (prctl(PR_SET_SECUREBITS, s_wantSecurebits, 0, 0, 0) != 0) {
        wl_die("PR_SET_SECUREBITS: %s", strerror(errno));
    }
    if (setresgid(RGID, EGID, SGID) != 0 || setresuid(RUID, EUID, SUID) != 0) {
        wl_die("setresgid/setresuid: %s", strerror(errno));
    }
    struct Caps caps = {.effective = wantEffective(), .permitted = wantPermitted(), .inheritable = wantInheritable()};
    if (!capSet(&caps)) {
        wl_die("capset: %s", strerror(errno));
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) != 0) {
        wl_die("PR_CAP_AMBIENT_RAISE: %s", strerror(errno));
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        wl_die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    }
    s_dumpableAfter = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

    wl_run(NULL, sabotage, 10);

    uid_t r, e, s;
    getresuid(&r, &e, &s);
    wl_check(r == RUID && e == EUID && s == SUID, "uids %d/%d/%d, expected %d/%d/%d", (int)r, (int)e, (int)s, RUID, EUID, SUID);
    gid_t rg, eg, sg;
    getresgid(&rg, &eg, &sg);
    wl_check(rg == RGID && eg == EGID && sg == SGID, "gids %d/%d/%d, expected %d/%d/%d", (int)rg, (int)eg, (int)sg, RGID, EGID, SGID);
    int fsuid = setfsuid((uid_t)-1), fsgid = setfsgid((gid_t)-1);
    wl_check(fsuid == EUID && fsgid == EGID, "fsuid/fsgid %d/%d, expected %d/%d", fsuid, fsgid, EUID, EGID);
    gid_t groups[64];
    int n = getgroups(64, groups);
    bool same = n == (int)(sizeof s_groups / sizeof s_groups[0]);
    for (int i = 0; same && i < n; ++i) {
        bool found = false;
        for (int k = 0; k < n; ++k) {
            found |= groups[k] == s_groups[i];
        }
        same = found;
    }
    wl_check(same, "supplementary groups differ (%d groups, first %d)", n, n > 0 ? (int)groups[0] : -1);

    struct Caps now;
    if (wl_check(capGet(&now), "capget failed")) {
        checkSet("effective", now.effective, wantEffective());
        checkSet("permitted", now.permitted, wantPermitted());
        checkSet("inheritable", now.inheritable, wantInheritable());
    }
    uint64_t ambient = 0, bounding = 0;
    for (int cap = 0; cap <= s_lastCap; ++cap) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) {
            ambient |= bit(cap);
        }
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
            bounding |= bit(cap);
        }
    }
    checkSet("ambient", ambient, wantAmbient());
    checkSet("bounding", bounding, wantBounding());
    int securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    wl_check(securebits == s_wantSecurebits, "securebits %#x, expected %#x", securebits, s_wantSecurebits);
    wl_check(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs is not set");
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    wl_check(dumpable == s_dumpableAfter, "dumpable %d, expected %d", dumpable, s_dumpableAfter);

    // They act: CAP_CHOWN (effective) allows giving the probe away; without
    // CAP_DAC_OVERRIDE the root-only file stays closed.
    int rc = chown(s_chownProbe, 12345, 12345);
    wl_check(rc == 0, "chown with CAP_CHOWN failed: %s", strerror(errno));
    int fd = open(s_rootOnly, O_RDONLY | O_CLOEXEC);
    wl_check(fd < 0 && errno == EACCES, "opening a root-only 0600 file %s (expected EACCES)", fd >= 0 ? "succeeded" : strerror(errno));
    if (fd >= 0) {
        close(fd);
    }
    return wl_finish();
}
