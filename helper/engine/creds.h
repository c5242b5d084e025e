// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Credentials of a process (CredsRecord): uids, gids, groups, the five
// capability sets, securebits, no_new_privs.
#pragma once

#include "engine.h"
#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <functional>
#include <sys/types.h>

namespace cryopod::engine
{

// ---- dump

// Everything but securebits comes from /proc/PID/status; securebits is read by
// an injected prctl(PR_GET_SECUREBITS) when an injector is given (else 0).
Result<image::CredsRecord> dumpCreds(pid_t pid, const procfs::Status &status, Injector *injector);

// ---- restore

// (restore engineer's part)
// Before anything is created: the restorer can only hand out what it has.
// The image's permitted, inheritable and ambient sets must lie within our
// permitted set, its bounding set within ours; otherwise the restore is refused
// naming the first missing capability.
Result<void> checkCredsRestorable(const image::CredsRecord &creds);

// The credentials, by injection, as the last thing before the registers:
//  1. securebits |= SECBIT_NO_SETUID_FIXUP (temporarily): the uid changes
//     below then leave the capability sets alone;
//  2. setgroups, setresgid, setfsgid, setresuid, setfsuid;
//  3. capset(P | CAP_SETPCAP, E | CAP_SETPCAP, I): CAP_SETPCAP is kept for 4-5;
//  4. ambient capabilities raised (PR_CAP_AMBIENT_RAISE);
//  5. capabilities outside the bounding set dropped (PR_CAPBSET_DROP);
//  6. securebits set to the image's value (PR_SET_SECUREBITS);
//  7. capset(P, E, I) exactly as in the image (drops CAP_SETPCAP if it was not
//     there; the ambient set is unaffected as it lies within P and I);
//  8. no_new_privs; and dumpable set back to 1 when the ids show no set-id
//     transition (a uid change makes the kernel clear it; the image does not
//     record it, and an ordinary process is dumpable).
Result<void> restoreCreds(Injector &injector, RemoteScratch &scratch, const image::CredsRecord &creds);

// ---- whose rights the restore's path operations use
//
// A restore started for an unprivileged caller (RestoreOptions::openAs) must
// not open, map, search or create anything the caller could not: the image
// is the caller's data. The process being restored does every path-based
// step itself (it opens its mapped files, its exe for PR_SET_MM_MAP, its
// fds, chdir and chroot); while it does, its filesystem identity is the
// caller's. With fsuid != 0 the kernel also takes the filesystem
// capabilities (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, ...) out
// of its effective set, so it is refused exactly what the caller is refused.
// Other capabilities (CAP_SYS_ADMIN for PR_SET_MM_MAP, CAP_SETUID for the
// credentials) are not affected.

// In the process (still root): setgroups(identity.groups),
// setfsgid(identity.gid), setfsuid(identity.uid), each checked.
Result<void> assumeFsIdentity(Injector &injector, RemoteScratch &scratch, const FsIdentity &identity);
// Back to fsuid 0 and fsgid 0 (the filesystem capabilities return), before
// restoreCreds sets the image's credentials.
Result<void> leaveFsIdentity(Injector &injector);

// What the restorer itself does on the process's behalf (the copies of
// unlinked files it creates and later removes): fn runs on a short-lived
// thread of this process whose filesystem identity is `identity`. Credentials
// are per thread in the kernel; raw setgroups/setfsgid/setfsuid system calls
// (not glibc's wrappers, which change every thread) change only that thread.
// Fails, without running fn, if the identity cannot be taken on.
Result<void> runWithFsIdentity(const FsIdentity &identity, const std::function<void()> &fn);

// "CAP_SYS_ADMIN" etc.; "cap 45" beyond the known ones.
std::string capabilityName(int cap);

} // namespace cryopod::engine
