// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Hand-made images for the helper's tests: one process whose records the
// test chooses (credentials, fds, executable, working directory), written
// with the image library's ImageWriter. Enough for the helper's checks
// (which run before the engine); not meant to be restorable.
#pragma once

#include "records.h"

#include <string>
#include <sys/types.h>
#include <vector>

// CapBnd of this process (what setpriv'd test users keep, too).
uint64_t currentBoundingSet();

struct TestImageSpec {
    int32_t pid = 400000;
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::vector<uint32_t> groups;
    uint64_t capPermitted = 0;
    uint64_t capBounding = currentBoundingSet();
    std::string exe = "/usr/bin/sleep"; // mapped at 0x400000 with its real dev/ino
    std::string cwd = "/";
    std::string root = "/";
    std::vector<cryopod::image::FdRecord> fds;
};

// An fd record for an existing path (its dev/ino/mode/rdev from stat).
cryopod::image::FdRecord fdFor(int32_t fd, const std::string &path, uint32_t openFlags);

// Writes the image to path; returns "" or the error.
std::string writeTestImage(const std::string &path, const TestImageSpec &spec);
