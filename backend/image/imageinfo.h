// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A summary of a whole image for `cryopodctl inspect` and the GUI: header,
// process tree with each process's records, per-VMA raw and stored sizes, fds
// and totals. Reading it validates the whole image (ImageReader); page and
// file contents are counted, not kept.
#pragma once

#include "imagereader.h"
#include "records.h"
#include "result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cryopod::image
{

struct ImageVma {
    VmaRecord vma;
    uint64_t pages = 0; // pages of this VMA stored in the image
    uint64_t rawBytes = 0; // pages * page size
    // Bytes the image spends on them: each Pages section's size on the wire
    // shared among its VMAs in proportion to their raw bytes.
    uint64_t storedBytes = 0;
};

struct ImageFd {
    FdRecord fd;
    bool hasData = false; // a FileData section holds its contents
    uint64_t dataRawBytes = 0;
    uint64_t dataStoredBytes = 0;
};

struct ImageProcess {
    ProcessEntry entry;
    std::optional<TaskRecord> task;
    std::optional<CredsRecord> creds;
    std::optional<SignalsRecord> signals;
    std::optional<TimersRecord> timers;
    std::vector<ThreadRecord> threads;
    std::optional<MmRecord> mm; // its vmas are moved to `vmas`
    std::vector<ImageVma> vmas;
    std::vector<ImageFd> fds;
    uint64_t pages = 0;
    uint64_t rawBytes = 0;
    uint64_t storedBytes = 0;
};

struct ImageSectionStats {
    uint64_t count = 0;
    uint64_t rawBytes = 0; // uncompressed payload
    uint64_t storedBytes = 0; // on the wire, frame included
};

struct ImageInfo {
    Header header;
    int32_t rootPid = 0;
    std::vector<ImageProcess> processes; // parents before children
    std::map<std::string, ImageSectionStats> sections; // by section type name
    std::vector<FileObjectRecord> fileObjects; // pipes, eventfds, ... (FdRecord::object names them)
    std::vector<TerminalRecord> terminals; // pseudo-terminals (Terminal fds name them by rdev)
    std::vector<SharedMemoryRecord> sharedMemory; // without their data (VmaRecord::shm names them)
    std::vector<SysvIpcRecord> sysvIpc; // SysV IPC objects (format 7)
    EndRecord end;
    uint64_t imageBytes = 0; // header through End
    uint64_t pagesRawBytes = 0;
    uint64_t pagesStoredBytes = 0;
    uint64_t fileDataRawBytes = 0;
    uint64_t fileDataStoredBytes = 0;

    // Reads and validates a whole image from fd (not owned).
    static Result<ImageInfo> read(int fd, const ReaderLimits &limits = {});
    // The same for a file; errors name the path.
    static Result<ImageInfo> readFile(const std::string &path, const ReaderLimits &limits = {});

    const ImageProcess *process(int32_t pid) const;
};

} // namespace cryopod::image
