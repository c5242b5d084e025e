// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// SysV IPC objects (image::SysvIpcRecord, format 7): shared memory segments,
// message queues and semaphore sets of the host's IPC namespace that the
// tree uses, restored with their ids.
//
// Which objects are the tree's:
// - a segment that a process of the tree has attached (its memory is a
//   SharedMemoryRecord of kind SysvShm, found by linkSharedMemory() in
//   shmem.h like every other shared memory, and captured with it, also
//   during a low-pause snapshot's pause). A segment that no process of the
//   tree has attached is a system object: it lives on in the IPC namespace
//   whatever happens to the tree, and is not part of the checkpoint.
// - a message queue whose last sender or receiver (lspid, lrpid) is a
//   process of the tree; a semaphore set one of whose semaphores a process
//   of the tree changed last (sempid).
//
// Restore makes each object again in the helper with its id: the id is
// written to kernel.{shm,msg,sem}_next_id, then the object is made with
// IPC_CREAT|IPC_EXCL and its key; the kernel unsets the sysctl as it takes
// the id (the IPC namespace is the host's: when nothing was made the
// sysctl is put back as it was). An id or key in use is a refusal naming
// it, found before the sysctl is touched, and whatever the restore made is
// removed again. Owner and mode
// come back with IPC_SET; the creator (cuid, cgid) is the helper. With
// checkpoint --kill the objects go with the tree (they are in the image).
#pragma once

#include "engine.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"
#include "shmem.h"
#include "uniquefd.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cryopod::engine
{

// ---- dump

struct SysvIpcDump {
    std::vector<image::SysvIpcRecord> records; // segments, then queues, then semaphore sets
};

// The SysV objects of a frozen tree (`tree`, whose address spaces are `mms`):
// one record per segment among `shm` (each VMA attaching it must be the
// whole attach) with its id, key, owner and mode, then the queues and sets
// the tree used, with their messages and values. Refuses what cannot be
// carried, with the reason.
Result<SysvIpcDump> dumpSysvIpc(const SharedMemoryDump &shm, const std::vector<std::pair<pid_t, image::MmRecord *>> &mms, const std::set<pid_t> &tree);

// Semaphore adjustments (SEM_UNDO): the kernel keeps what each semop with
// SEM_UNDO did (semadj) in the process's undo list, applies it when the
// process exits and shows it nowhere: not in /proc, not through semctl.
// The only way to see it is to let the kernel apply it (exit, or
// unshare(CLONE_SYSVSEM)), which changes the semaphores for every other
// user of the set, drops the list, and loses what the clamping to
// [0, SEMVMX] cut off: a checkpoint must not do that to a process that runs
// on. (A restore could re-create a known adjustment, semop of its negation
// with SEM_UNDO plus the compensating semop without; there is nothing to
// re-create from.) So the report names a process that has an undo list:
// kcmp(KCMP_SYSVSEM) against kthreadd's (pid 2, a kernel thread: none)
// tells whether it has one; but it has one after its first semop with
// SEM_UNDO and also after it made its first thread (CLONE_SYSVSEM shares
// the list, and the kernel makes one to share), and what is in it is not
// shown. So the report names a process that has a list and changed a
// semaphore last (semctl GETPID): a caveat, "" otherwise. A process that
// used SEM_UNDO on a set another process changed after it is missed.
std::string semUndoCaveat(pid_t pid);

// After checkpoint --kill: the objects leave with the tree (each one only
// while it is still the object of the image: same kind, id and key).
void removeSysvIpc(const SysvIpcDump &dump);

// ---- restore

// A process of the tree being restored, to act as (nullopt: not restored).
struct SysvActor {
    Injector *injector = nullptr;
    RemoteScratch *scratch = nullptr;
};
using SysvActorOf = std::function<std::optional<SysvActor>(int32_t pid)>;

// The objects a restore made. Removed again on destruction unless kept().
class SysvObjects
{
public:
    // Makes every object of `records` with its id and key, owner and mode.
    // With `identity` (a restore for an unprivileged caller) every object
    // must belong to that caller.
    static Result<SysvObjects> create(const std::vector<image::SysvIpcRecord> &records, const std::optional<FsIdentity> &identity);

    SysvObjects() = default;
    SysvObjects(SysvObjects &&other) noexcept;
    SysvObjects &operator=(SysvObjects &&other) noexcept;
    SysvObjects(const SysvObjects &) = delete;
    SysvObjects &operator=(const SysvObjects &) = delete;
    ~SysvObjects();

    // The segment holding SharedMemoryRecord `object` (-1: none).
    int32_t segment(uint64_t object) const;

    // Fills the queues with their messages and the sets with their values,
    // acting as the image's last sender/receiver/changer where that process
    // is restored (`actorOf`), else as the helper.
    Result<void> fill(const SysvActorOf &actorOf) const;

    // Every process has attached its segments: the segments the tree had
    // removed (IPC_RMID) are removed again.
    Result<void> removeDestroyed();

    // The restore succeeded: the objects stay.
    void keep();

private:
    struct Made {
        image::SysvIpcKind kind;
        int32_t id;
    };
    std::vector<Made> m_made;
    std::map<uint64_t, int32_t> m_segments; // SharedMemoryRecord id -> segment id
    std::vector<int32_t> m_destroyed; // segments to remove once attached
    std::vector<const image::SysvIpcRecord *> m_filled; // queues and sets to fill (records outlive this)
};

// The helper's read-write fd on the memory of segment `shmid` (shmat in the
// helper, its /proc/self/map_files link opened, shmdt).
Result<UniqueFd> openSysvSegment(int32_t shmid, const std::string &what);

// Attaches segment `shmid` in the process of `injector` at the VMA (shmat:
// SHM_RDONLY when the original could not write, SHM_EXEC when it executes),
// then mprotects it to `prot` when that differs.
Result<void> attachSysvSegment(Injector &injector, int32_t shmid, const image::VmaRecord &vma, int prot);

} // namespace cryopod::engine
