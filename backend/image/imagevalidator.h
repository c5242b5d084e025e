// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// What a well-formed image means beyond its encoding (docs/image-format.md,
// "Validation"). The static check() functions look at one record alone
// (ImageWriter refuses to write a record that fails them, ImageReader refuses
// to return one); accept() checks a record against the ones before it (pids
// in the process tree, one record of a kind per process, pages inside the
// VMAs of their address space, file data for an unlinked fd) and, at the End
// record, that the image is complete.
#pragma once

#include "imagereader.h"
#include "records.h"
#include "result.h"

#include <map>
#include <set>
#include <span>

namespace cryopod::image
{

inline constexpr int32_t kMaxPid = 4 * 1024 * 1024; // PID_MAX_LIMIT on 64-bit
inline constexpr uint32_t kLastCapability = 40; // CAP_CHECKPOINT_RESTORE
inline constexpr uint64_t kValidCapabilities = (uint64_t(1) << (kLastCapability + 1)) - 1;
inline constexpr uint32_t kKnownSecurebits = 0xfff; // SECBIT_* up to SECBIT_EXEC_DENY_INTERACTIVE_LOCKED
inline constexpr uint64_t kKnownSaFlags = 0xdc000c07; // SA_* flags the x86-64 kernel reports

class ImageValidator
{
public:
    static Result<void> check(const Header &header);
    static Result<void> check(const ProcessTreeRecord &record, const ReaderLimits &limits = {});
    static Result<void> check(const TaskRecord &record);
    static Result<void> check(const ThreadRecord &record);
    static Result<void> check(const CredsRecord &record);
    static Result<void> check(const SignalsRecord &record);
    static Result<void> check(const MmRecord &record, uint32_t pageSize, const ReaderLimits &limits = {});
    static Result<void> check(const FilesRecord &record, const ReaderLimits &limits = {});
    static Result<void> check(const FileObjectRecord &record, const ReaderLimits &limits = {});
    static Result<void> check(const TimersRecord &record);
    static Result<void> check(const TerminalRecord &record);
    static Result<void> check(const SharedMemoryRecord &record, const ReaderLimits &limits = {});
    static Result<void> check(const SysvIpcRecord &record);
    // A Pages record: runs page aligned, ascending, non-overlapping, and
    // dataBytes == pages * pageSize within the section limit.
    static Result<void> checkPages(int32_t pid, std::span<const PageRun> runs, uint64_t dataBytes, uint32_t pageSize, const ReaderLimits &limits = {});
    static Result<void> checkFileData(int32_t pid, int32_t fd, uint64_t dataBytes, const ReaderLimits &limits = {});

    explicit ImageValidator(const Header &header, const ReaderLimits &limits = {});
    // Checks a decoded section (which already passed its static check)
    // against the sections before it. Data of Pages/FileData records is not
    // looked at, only their runs and ids.
    Result<void> accept(const Section &section);
    // The same for a Pages / FileData record given by its parts.
    Result<void> acceptPages(int32_t pid, std::span<const PageRun> runs);
    Result<void> acceptFileData(int32_t pid, int32_t fd);

private:
    Result<void> acceptTree(const ProcessTreeRecord &record);
    Result<void> acceptEnd();
    Result<void> knownPid(int32_t pid, const char *what);
    Result<void> once(std::set<int32_t> &seen, int32_t pid, const char *what);

    Header m_header;
    ReaderLimits m_limits;
    bool m_haveTree = false;
    std::map<int32_t, std::set<int32_t>> m_tids; // pid -> its tids
    std::set<int32_t> m_tasks, m_creds, m_signals, m_files, m_threads, m_timers;
    std::map<int32_t, std::vector<VmaRecord>> m_vmas; // pid -> VMAs of its MmRecord (no paths needed)
    std::map<int32_t, uint64_t> m_pagesEnd; // pid -> end of the last page run seen
    std::map<std::pair<int32_t, int32_t>, bool> m_unlinked; // (pid, fd) -> has FileData
    std::map<uint64_t, FileObjectKind> m_objects; // FileObject id -> kind
    std::set<uint64_t> m_terminals; // rdev of the Terminal records seen
    std::map<uint64_t, uint64_t> m_sharedMemory; // SharedMemory id -> size
    std::map<uint64_t, uint64_t> m_sysvShmObjects; // SharedMemory id of kind SysvShm -> its segment id + 1 once a SysvIpc record names it (0: not yet)
    std::set<std::pair<uint32_t, int32_t>> m_sysvIds; // (kind, id) of the SysvIpc records
    std::set<int32_t> m_zombies; // pids of zombies: no record of their own
    std::set<int32_t> m_filesShared; // pids whose fd table is another process's: no Files record
    std::set<int32_t> m_vmShared; // pids whose address space is another process's (format 9): no Mm record, no pages
    std::map<int32_t, size_t> m_order; // pid -> position in the tree
    std::map<std::pair<int32_t, int32_t>, std::pair<FdKind, uint64_t>> m_fds; // (pid, fd) -> kind, object of the Files records seen
};

} // namespace cryopod::image
