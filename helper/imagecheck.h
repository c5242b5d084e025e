// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What restoring an image would grant, compared with what the caller has.
// An image is the caller's data: its credentials must be the caller's, and
// every file, directory, executable, mapped file and device it names must be
// one the caller could open the same way. The helper checks them here, as the
// caller (AsCaller), against the device and inode the image recorded, before
// anything is created; the engine then opens them in the half-built process
// with the caller's filesystem identity (RestoreOptions::openAs: setfsuid,
// setfsgid, setgroups), so the kernel checks every open again, and refuses if
// what it opens is not that same file. See docs/security.md.
#pragma once

#include "accesspolicy.h"
#include "ascaller.h"
#include "helpererror.h"
#include "imageinfo.h"

#include <QStringList>

namespace ImageCheck
{

// The path checks an image needs, in image order, duplicates removed.
std::vector<AsCaller::PathCheck> pathChecks(const cryopod::image::ImageInfo &info);

// Reasons needing the admin action that need no file access: credentials,
// hard limits, chroot, system PIDs, set-id copies of unlinked files.
QStringList policyReasons(const cryopod::image::ImageInfo &info, const AccessPolicy::CallerCreds &caller);

struct Assessment {
    QStringList adminReasons; // empty: the caller's own image, restorable with the plain action
    int32_t rootPid = 0;
    QString command; // the root process's comm
    uint32_t uid = 0; // the root process's uid in the image
};

// policyReasons + pathChecks run as the caller. A path that is missing or
// replaced fails the restore now (Failed), as the engine would later; a path
// the caller may not open is an admin reason.
HelperResult<Assessment> assess(const cryopod::image::ImageInfo &info, const AccessPolicy::CallerCreds &caller, const AsCaller::FsCreds &fs);

} // namespace ImageCheck
