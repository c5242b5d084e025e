// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Shared memory objects (image::SharedMemoryRecord): MAP_SHARED anonymous
// memory, memfds (format 6: mapped shared or private, or only held by fds:
// their name, size, mode, seals and contents; restore makes them with
// memfd_create in the helper, as it makes the other objects, and the
// processes take them from there), and MAP_SHARED mappings of /dev/zero, both a shmem file the kernel
// names "/dev/zero (deleted)", and MAP_SHARED mappings of regular files whose
// name is gone ("(deleted)": unlinked, as multiprocessing's heap arenas, or
// renamed away, as glibc's sem_open does with its temporary name). One
// object per file, whichever processes of
// the tree map it (fork shares it): captured once, while the tree is frozen,
// through /proc/PID/map_files (the object itself, read like a file: holes
// skipped with SEEK_DATA/SEEK_HOLE, all-zero pages left out), and named by id
// from every VMA that maps it (VmaRecord::shm).
//
// On restore the helper makes each object itself (a MAP_SHARED|MAP_ANONYMOUS
// mapping of the object's size, reopened through /proc/self/map_files, so it
// is again a "/dev/zero" shmem file; for a deleted file an O_TMPFILE file in
// the same directory, made with the caller's filesystem identity when the
// restore runs for one), writes the contents into it, and every
// restored process that mapped it takes the helper's fd (pidfd_getfd) and
// maps it MAP_SHARED at its VMAs' offsets: one object again, shared by all.
//
// SysV shared memory (format 7): the memory of a segment that processes of
// the tree attach is one more object of this kind (SysvShm, read the same
// way through an attach's map_files link, also during a low-pause pause);
// the segment itself (id, key, owner) is sysvipc.h's, which makes it again
// on restore; its memory is filled here through an attach of the helper's
// and each process attaches it with shmat at its VMA.
//
// Also here: writable MAP_SHARED mappings of regular files (VmaKind::
// FileShared). Their memory is the file (its page cache), so nothing is
// saved; the file's dirty pages are written back (fdatasync) while the tree
// is frozen, so that the file on disk holds what the processes had written at
// the checkpoint, whatever happens to the machine afterwards.
#pragma once

#include "engine.h"
#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"
#include "uniquefd.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cryopod::engine
{

class SysvObjects; // sysvipc.h

// ---- dump

struct SharedMemoryDump {
    // One per object, in the order first seen (the tree's order); data and
    // runs are filled by captureSharedMemory().
    std::vector<image::SharedMemoryRecord> records;
    std::vector<UniqueFd> fds; // parallel: the object, read-only (map_files)
};

// Gives every SharedAnonymous VMA of `mms` (the processes of a frozen tree,
// in its order), every FileShared VMA whose file is no longer at its
// path, every VMA (shared or private) of a memfd and every memfd fd of
// `files` (the fd tables of the tree) the id of its object, one object per
// file. An object that a process outside `tree` maps (or, for a memfd, holds
// an fd of) too is refused, naming that process: a restore could not share
// it with that process again.
Result<SharedMemoryDump> linkSharedMemory(const std::vector<std::pair<pid_t, image::MmRecord *>> &mms,
                                          const std::vector<std::pair<pid_t, image::FilesRecord *>> &files, const std::set<pid_t> &tree);

// For the report, before anything is frozen: the shared memory objects of
// `tree` (MAP_SHARED anonymous memory, shared mappings of deleted files,
// memfds mapped or held by an fd) that a process outside `tree` maps or holds
// too, each once: the first process of the tree seen with it, what it is
// there ("shared memory at 7f..-7f.." / "memfd NAME ..."), and one outsider.
// linkSharedMemory() refuses the same objects during the checkpoint.
struct SharedOutside {
    pid_t pid = 0;
    std::string what;
    pid_t outsider = 0;
};
std::vector<SharedOutside> sharedMemoryOutside(const std::set<pid_t> &tree);

// Whether a file mapped or opened under `path` ("/memfd:NAME", as /proc
// shows it without " (deleted)") with `links` hard links is a memfd.
bool isMemfd(const std::string &path, uint64_t links);

// Whether a shared mapping of `path` ("/SYSVKKKKKKKK", without " (deleted)")
// with `links` hard links is a SysV shared memory attach (sysvipc.h).
bool isSysvShm(const std::string &path, uint64_t links);

// Reads the contents of object `index` into its record (sparse runs by
// offset; all-zero pages left out). The tree must still be frozen.
Result<void> captureSharedMemory(SharedMemoryDump &dump, size_t index);

// Writes back the dirty pages of every file that `mappings` of `pid` map
// MAP_SHARED and writable (fdatasync through /proc/PID/map_files).
Result<void> syncSharedFileMappings(pid_t pid, const std::vector<procfs::Mapping> &mappings);

// ---- restore

// The helper's own fd on each recreated object, by id.
class SharedMemoryObjects
{
public:
    // Makes every object of `records` with its size and contents (a memfd
    // with its name and mode; its seals come with seal()); deleted files and
    // memfds with `identity` (when given) as their filesystem identity.
    // A SysV segment's memory (kind SysvShm) is the segment `sysv` made.
    static Result<SharedMemoryObjects>
    create(const std::vector<image::SharedMemoryRecord> &records, const std::optional<FsIdentity> &identity, const SysvObjects &sysv);

    // The helper's fd on object `id` (-1: none).
    int fd(uint64_t id) const;

    // Adds each memfd's seals, once every process has mapped it and opened
    // its fds: F_SEAL_FUTURE_WRITE refuses new writable mappings, which the
    // original's writable mappings made before the seal were not.
    Result<void> seal() const;

private:
    std::map<uint64_t, UniqueFd> m_fds;
    std::map<uint64_t, uint32_t> m_seals; // memfds with seals: id -> F_SEAL_* bits
    std::map<uint64_t, int32_t> m_segments; // SysV memory: id -> segment id (attached with shmat)

    friend Result<void> mapSharedMemory(Injector &injector, const SharedMemoryObjects &objects, const image::VmaRecord &vma, int prot);
};

// Maps object `vma.shm` into the process of `injector` at the VMA (MAP_SHARED,
// MAP_PRIVATE for a private memfd mapping; MAP_FIXED_NOREPLACE, offset
// vma.pgoff, protection `prot`): the process takes the helper's fd
// (pidfd_getfd), maps it and closes it again.
Result<void> mapSharedMemory(Injector &injector, const SharedMemoryObjects &objects, const image::VmaRecord &vma, int prot);

// A new open file description of the memfd object `fd.object` with fd's
// open flags and offset, made by the helper (reopened through /proc/self/fd)
// and taken by the process of `injector` (pidfd_getfd): returns its number
// there (O_CLOEXEC; the caller moves it into place).
Result<int32_t> openSharedMemory(Injector &injector, const SharedMemoryObjects &objects, const image::FdRecord &fd);

} // namespace cryopod::engine
