// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The engine as the benchmarks call it: a checkpoint into an image file and
// a restore from one, timed the way criuDump/criuRestore time CRIU.
#pragma once

#include "benchsupport.h"

#include <optional>
#include <string>

namespace cryopod::bench
{
struct EngineDumpOptions {
    int level = 1; // zstd level
    bool compress = true; // false: pages uncompressed (what the store gets, and what CRIU writes)
    int workers = 0; // zstd workers, 0: automatic
    bool fsync = false; // fsync the image; the time goes into DumpResult::syncSeconds
    bool lowPause = false; // the memory saved from copies while the target runs on (docs/low-pause.md)
};

// `cryopodctl checkpoint --direct PID -o IMAGE --leave-running`, through the library.
std::optional<DumpResult> engineDump(pid_t pid, const std::string &imagePath, const EngineDumpOptions &options);
// `cryopodctl restore --direct -i IMAGE` (the original must be gone); returns
// once the restored tree runs, its root our child, without waiting for it.
std::optional<RestoreResult> engineRestore(const std::string &imagePath);
} // namespace cryopod::bench
