// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "benchengine.h"

#include "engine.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace cryopod::bench
{
std::optional<DumpResult> engineDump(pid_t pid, const std::string &imagePath, const EngineDumpOptions &options)
{
    const int fd = open(imagePath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::fprintf(stderr, "engine dump: open %s: %s\n", imagePath.c_str(), std::strerror(errno));
        return std::nullopt;
    }
    engine::CheckpointOptions co;
    co.leaveRunning = true;
    co.compressionLevel = options.level;
    co.compress = options.compress;
    co.workers = options.workers;
    co.lowPause = options.lowPause;
    const double cpu0 = selfCpuSeconds() + processCpuSeconds(pid);
    const double t0 = now();
    const auto result = engine::checkpoint(pid, fd, co);
    const double t = now() - t0;
    const double cpu = selfCpuSeconds() + processCpuSeconds(pid) - cpu0;
    double sync = 0;
    if (result && options.fsync) {
        const double s0 = now();
        fsync(fd);
        sync = now() - s0;
    }
    close(fd);
    if (!result) {
        std::fprintf(stderr, "engine dump: %s\n", result.error().describe().c_str());
        return std::nullopt;
    }
    DumpResult r;
    r.seconds = t;
    r.cpuSeconds = cpu;
    r.syncSeconds = sync;
    r.pauseSeconds = double(result->pauseNs) / 1e9;
    r.imageBytes = result->imageBytes;
    if (options.lowPause && !result->lowPause) {
        r.lowPauseFallback = result->lowPauseFallback.empty() ? std::string("not taken") : result->lowPauseFallback;
    }
    return r;
}

std::optional<RestoreResult> engineRestore(const std::string &imagePath)
{
    const int fd = open(imagePath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "engine restore: open %s: %s\n", imagePath.c_str(), std::strerror(errno));
        return std::nullopt;
    }
    const double t0 = now();
    const auto result = engine::restore(fd, {});
    const double t = now() - t0;
    close(fd);
    if (!result) {
        std::fprintf(stderr, "engine restore: %s\n", result.error().describe().c_str());
        return std::nullopt;
    }
    RestoreResult r;
    r.seconds = t;
    return r;
}
} // namespace cryopod::bench
