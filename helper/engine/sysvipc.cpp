// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "sysvipc.h"

#include "procfs.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sstream>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

constexpr uint64_t kPage = 4096;

const char *kindName(image::SysvIpcKind kind)
{
    switch (kind) {
    case image::SysvIpcKind::Shm:
        return "SysV shared memory segment";
    case image::SysvIpcKind::Msg:
        return "SysV message queue";
    case image::SysvIpcKind::Sem:
        return "SysV semaphore set";
    }
    return "SysV object";
}

std::string describe(image::SysvIpcKind kind, int32_t id, int32_t key)
{
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s %d (key 0x%08x)", kindName(kind), id, uint32_t(key));
    return buf;
}

const char *nextIdFile(image::SysvIpcKind kind)
{
    switch (kind) {
    case image::SysvIpcKind::Shm:
        return "/proc/sys/kernel/shm_next_id";
    case image::SysvIpcKind::Msg:
        return "/proc/sys/kernel/msg_next_id";
    case image::SysvIpcKind::Sem:
        return "/proc/sys/kernel/sem_next_id";
    }
    return "";
}

// IPC_RMID of object `id` of `kind`; errno kept from the call.
int removeObject(image::SysvIpcKind kind, int32_t id)
{
    switch (kind) {
    case image::SysvIpcKind::Shm:
        return ::shmctl(id, IPC_RMID, nullptr);
    case image::SysvIpcKind::Msg:
        return ::msgctl(id, IPC_RMID, nullptr);
    case image::SysvIpcKind::Sem:
        return ::semctl(id, 0, IPC_RMID);
    }
    return -1;
}

// The perm block of object `id` (IPC_STAT); errno set on failure.
std::optional<ipc_perm> statObject(image::SysvIpcKind kind, int32_t id)
{
    switch (kind) {
    case image::SysvIpcKind::Shm: {
        shmid_ds ds {};
        if (::shmctl(id, IPC_STAT, &ds) == 0) {
            return ds.shm_perm;
        }
        break;
    }
    case image::SysvIpcKind::Msg: {
        msqid_ds ds {};
        if (::msgctl(id, IPC_STAT, &ds) == 0) {
            return ds.msg_perm;
        }
        break;
    }
    case image::SysvIpcKind::Sem: {
        semid_ds ds {};
        if (::semctl(id, 0, IPC_STAT, &ds) == 0) {
            return ds.sem_perm;
        }
        break;
    }
    }
    return std::nullopt;
}

void fillPerm(image::SysvIpcRecord &record, const ipc_perm &perm)
{
    record.key = int32_t(perm.__key);
    record.mode = uint32_t(perm.mode) & 0777u;
    record.uid = uint32_t(perm.uid);
    record.gid = uint32_t(perm.gid);
    record.cuid = uint32_t(perm.cuid);
    record.cgid = uint32_t(perm.cgid);
}

// ---- dump of queues and semaphore sets

// The ids listed in /proc/sysvipc/NAME (second column).
Result<std::vector<int32_t>> listIds(const std::string &name)
{
    auto text = procfs::readFile("/proc/sysvipc/" + name);
    if (!text) {
        return std::unexpected(text.error());
    }
    std::vector<int32_t> ids;
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line); // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        long long key = 0, id = -1;
        if (fields >> key >> id && id >= 0) {
            ids.push_back(int32_t(id));
        }
    }
    return ids;
}

Result<uint64_t> readSysctl(const std::string &file)
{
    auto text = procfs::readFile(file);
    if (!text) {
        return std::unexpected(text.error());
    }
    return uint64_t(std::strtoull(text->c_str(), nullptr, 10));
}

// The queues whose last sender or receiver is in `tree`, with their messages
// (read with msgrcv MSG_COPY: nothing is taken out).
Result<void> dumpQueues(SysvIpcDump &dump, const std::set<pid_t> &tree)
{
    auto ids = listIds("msg");
    if (!ids) {
        return std::unexpected(ids.error().context("SysV message queues"));
    }
    for (const int32_t id : *ids) {
        msqid_ds ds {};
        if (::msgctl(id, IPC_STAT, &ds) != 0) {
            continue; // gone since the listing (not the tree's: it is frozen)
        }
        if (!tree.contains(ds.msg_lspid) && !tree.contains(ds.msg_lrpid)) {
            continue;
        }
        image::SysvIpcRecord record;
        record.kind = image::SysvIpcKind::Msg;
        record.id = id;
        fillPerm(record, ds.msg_perm);
        const std::string what = describe(record.kind, id, record.key);
        record.qbytes = uint64_t(ds.msg_qbytes);
        record.lspid = tree.contains(ds.msg_lspid) ? int32_t(ds.msg_lspid) : 0;
        record.lrpid = tree.contains(ds.msg_lrpid) ? int32_t(ds.msg_lrpid) : 0;
        auto msgmax = readSysctl("/proc/sys/kernel/msgmax");
        if (!msgmax) {
            return std::unexpected(msgmax.error().context(what));
        }
        std::vector<uint8_t> buffer(sizeof(long) + std::max<uint64_t>(*msgmax, ds.__msg_cbytes));
        uint64_t bytes = 0;
        for (msgqnum_t i = 0; i < ds.msg_qnum; ++i) {
            const ssize_t n = ::msgrcv(id, buffer.data(), buffer.size() - sizeof(long), long(i), IPC_NOWAIT | MSG_COPY);
            if (n < 0) {
                if (errno == ENOSYS) {
                    return fail(what + ": reading its messages needs msgrcv MSG_COPY, which this kernel lacks (CONFIG_CHECKPOINT_RESTORE)", ENOTSUP);
                }
                return sysError(what + ": read message " + std::to_string(i) + " of " + std::to_string(ds.msg_qnum) + " (msgrcv MSG_COPY)");
            }
            image::SysvMessage message;
            long type = 0;
            std::memcpy(&type, buffer.data(), sizeof type);
            message.type = type;
            message.text.assign(buffer.begin() + sizeof(long), buffer.begin() + ptrdiff_t(sizeof(long) + size_t(n)));
            bytes += message.text.size();
            if (record.messages.size() >= image::kMaxSysvMessages || bytes > image::kMaxSysvMessageBytes) {
                return fail(what + ": more than " + std::to_string(image::kMaxSysvMessages) + " messages or " +
                                std::to_string(image::kMaxSysvMessageBytes >> 20) + " MiB queued: not supported",
                            EFBIG);
            }
            record.messages.push_back(std::move(message));
        }
        dump.records.push_back(std::move(record));
    }
    return {};
}

// The semaphore sets one of whose semaphores a process of `tree` changed last.
Result<void> dumpSemaphores(SysvIpcDump &dump, const std::set<pid_t> &tree)
{
    auto ids = listIds("sem");
    if (!ids) {
        return std::unexpected(ids.error().context("SysV semaphore sets"));
    }
    for (const int32_t id : *ids) {
        semid_ds ds {};
        if (::semctl(id, 0, IPC_STAT, &ds) != 0) {
            continue;
        }
        image::SysvIpcRecord record;
        record.kind = image::SysvIpcKind::Sem;
        record.id = id;
        fillPerm(record, ds.sem_perm);
        const std::string what = describe(record.kind, id, record.key);
        bool ours = false;
        for (unsigned long i = 0; i < ds.sem_nsems; ++i) {
            const int value = ::semctl(id, int(i), GETVAL);
            const int pid = ::semctl(id, int(i), GETPID);
            if (value < 0 || pid < 0) {
                return sysError(what + ": semaphore " + std::to_string(i) + ": GETVAL/GETPID");
            }
            ours = ours || tree.contains(pid_t(pid));
            record.semValues.push_back(uint32_t(value));
            record.semPids.push_back(tree.contains(pid_t(pid)) ? int32_t(pid) : 0);
        }
        if (ours) {
            dump.records.push_back(std::move(record));
        }
    }
    return {};
}

// Writes `value` to the sysctl `file`.
Result<void> writeSysctl(const char *file, const std::string &value)
{
    UniqueFd fd(::open(file, O_WRONLY | O_CLOEXEC));
    if (!fd) {
        return sysError(std::string("open ") + file);
    }
    if (::write(fd.get(), value.data(), value.size()) != ssize_t(value.size())) {
        return sysError(std::string("write ") + value + " to " + file);
    }
    return {};
}

// Whether `key` names an object of `kind` already (0: IPC_PRIVATE, never).
bool keyInUse(image::SysvIpcKind kind, key_t key)
{
    if (key == IPC_PRIVATE) {
        return false;
    }
    const int id = kind == image::SysvIpcKind::Shm ? ::shmget(key, 0, 0) : kind == image::SysvIpcKind::Msg ? ::msgget(key, 0) : ::semget(key, 0, 0);
    return id >= 0 || errno != ENOENT;
}

// Makes a throwaway object of `kind` (IPC_PRIVATE) and removes it: it takes
// what next_id holds, so that the sysctl is unset again.
void consumeNextId(image::SysvIpcKind kind)
{
    const int id = kind == image::SysvIpcKind::Shm ? ::shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600)
        : kind == image::SysvIpcKind::Msg          ? ::msgget(IPC_PRIVATE, IPC_CREAT | 0600)
                                                   : ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (id >= 0) {
        removeObject(kind, id);
    }
}

// Makes the object of `record` with its id: next_id set to it around
// `make` (which returns the new id or -1 with errno). The kernel unsets
// next_id (-1, which cannot be written back) when it makes an object; when
// none was made the sysctl is put back as it was.
Result<int32_t> makeWithId(const image::SysvIpcRecord &record, key_t key, const std::function<int()> &make)
{
    const std::string what = "restore " + describe(record.kind, record.id, record.key);
    const char *const taken = " is in use by another object of this IPC namespace (remove it with ipcrm, or restore where it is free)";
    // Taken already: refused before anything is made (the same index with
    // another sequence number is caught below, when the id comes out wrong).
    if (statObject(record.kind, record.id) || errno == EACCES || errno == EPERM) {
        return fail(what + ": the id" + taken, EEXIST);
    }
    if (keyInUse(record.kind, key)) {
        return fail(what + ": the key" + taken, EEXIST);
    }
    const char *file = nextIdFile(record.kind);
    auto old = procfs::readFile(file);
    if (!old) {
        return std::unexpected(old.error().context(what + ": read " + file));
    }
    std::string previous = *old;
    while (!previous.empty() && (previous.back() == '\n' || previous.back() == ' ')) {
        previous.pop_back();
    }
    CRYOPOD_PROPAGATE(writeSysctl(file, std::to_string(record.id)));
    const int id = make();
    const int makeErrno = errno;
    if (id < 0) {
        // Nothing took the id: put the sysctl back as it was.
        if (previous != "-1") {
            (void)writeSysctl(file, previous);
        } else {
            consumeNextId(record.kind);
        }
        errno = makeErrno;
        if (makeErrno == EEXIST) {
            return fail(what + ": the key" + taken, EEXIST);
        }
        return sysError(what + ": create");
    }
    if (previous != "-1") {
        (void)writeSysctl(file, previous);
    }
    if (id != record.id) {
        removeObject(record.kind, id);
        return fail(what + ": the kernel gave it id " + std::to_string(id) + " (the id" + taken + ", or another program made an object at the same moment)",
                    EEXIST);
    }
    return id;
}

// Owner and mode (IPC_SET), and a queue's size limit.
Result<void> setPerm(const image::SysvIpcRecord &record)
{
    const std::string what = "restore " + describe(record.kind, record.id, record.key) + ": set owner and mode (IPC_SET)";
    int r = -1;
    switch (record.kind) {
    case image::SysvIpcKind::Shm: {
        shmid_ds ds {};
        if (::shmctl(record.id, IPC_STAT, &ds) != 0) {
            return sysError(what);
        }
        ds.shm_perm.uid = uid_t(record.uid);
        ds.shm_perm.gid = gid_t(record.gid);
        ds.shm_perm.mode = (ds.shm_perm.mode & ~0777u) | record.mode;
        r = ::shmctl(record.id, IPC_SET, &ds);
        break;
    }
    case image::SysvIpcKind::Msg: {
        msqid_ds ds {};
        if (::msgctl(record.id, IPC_STAT, &ds) != 0) {
            return sysError(what);
        }
        ds.msg_perm.uid = uid_t(record.uid);
        ds.msg_perm.gid = gid_t(record.gid);
        ds.msg_perm.mode = record.mode;
        ds.msg_qbytes = msglen_t(record.qbytes);
        r = ::msgctl(record.id, IPC_SET, &ds);
        if (r != 0 && errno == EPERM) {
            return fail(what + ": its size limit " + std::to_string(record.qbytes) + " is above kernel.msgmnb, which only CAP_SYS_RESOURCE may pass", EPERM);
        }
        break;
    }
    case image::SysvIpcKind::Sem: {
        semid_ds ds {};
        if (::semctl(record.id, 0, IPC_STAT, &ds) != 0) {
            return sysError(what);
        }
        ds.sem_perm.uid = uid_t(record.uid);
        ds.sem_perm.gid = gid_t(record.gid);
        ds.sem_perm.mode = record.mode;
        r = ::semctl(record.id, 0, IPC_SET, &ds);
        break;
    }
    }
    if (r != 0) {
        return sysError(what);
    }
    return {};
}

} // namespace

// ---- dump

std::string semUndoCaveat(pid_t pid)
{
    // kthreadd, a kernel thread, never has one. (The engine's own process
    // may: a Qt program can have made one.) Without it (another pid
    // namespace) nothing is said.
    const pid_t reference = procfs::kthreadd();
    if (reference == 0 || ::syscall(SYS_kcmp, pid, reference, KCMP_SYSVSEM, 0, 0) <= 0) {
        return {}; // none (or it is gone)
    }
    // Every process that ever made a thread has one too (pthread_create
    // passes CLONE_SYSVSEM, and the kernel makes the list to share it): only
    // one that changed a semaphore last (GETPID) is named.
    auto ids = listIds("sem");
    for (const int32_t id : ids ? *ids : std::vector<int32_t>{}) {
        semid_ds ds{};
        if (::semctl(id, 0, IPC_STAT, &ds) != 0) {
            continue;
        }
        for (unsigned long i = 0; i < ds.sem_nsems; ++i) {
            if (::semctl(id, int(i), GETPID) == pid) {
                return "has a SysV semaphore undo list and changed semaphore " + std::to_string(i) + " of "
                    + describe(image::SysvIpcKind::Sem, id, ds.sem_perm.__key) + " last: adjustments it may hold under SEM_UNDO (semadj) cannot be read from outside the kernel and are not restored: what it did "
                      "to semaphores with SEM_UNDO is not undone when the restored copy exits";
            }
        }
    }
    return {};
}

Result<SysvIpcDump> dumpSysvIpc(const SharedMemoryDump &shm, const std::vector<std::pair<pid_t, image::MmRecord *>> &mms, const std::set<pid_t> &tree)
{
    SysvIpcDump dump;
    for (const image::SharedMemoryRecord &object : shm.records) {
        if (object.kind != image::SharedMemoryKind::SysvShm) {
            continue;
        }
        const int32_t id = int32_t(object.ino); // a segment's inode number is its id
        image::SysvIpcRecord record;
        record.kind = image::SysvIpcKind::Shm;
        record.id = id;
        shmid_ds ds {};
        if (::shmctl(id, IPC_STAT, &ds) != 0) {
            return sysError(describe(record.kind, id, 0) + ": IPC_STAT");
        }
        fillPerm(record, ds.shm_perm);
        record.destroyed = (ds.shm_perm.mode & SHM_DEST) != 0;
        record.object = object.id;
        record.size = uint64_t(ds.shm_segsz);
        const std::string what = describe(record.kind, id, record.key);
        if (record.size != object.size) {
            return fail(what + ": its memory is " + std::to_string(object.size) + " bytes, the segment " + std::to_string(record.size), EINVAL);
        }
        const uint64_t paged = (record.size + kPage - 1) / kPage * kPage;
        auto ownNamespace = procfs::readLink("/proc/self/ns/ipc");
        for (const auto &[pid, mm] : mms) {
            for (const image::VmaRecord &vma : mm->vmas) {
                if (vma.shm != object.id) {
                    continue;
                }
                // The ids are looked up here, in the helper's IPC namespace.
                auto theirs = procfs::readLink(procfs::path(pid, "ns/ipc"));
                if (!ownNamespace || !theirs || *theirs != *ownNamespace) {
                    return fail(what + ": process " + std::to_string(pid) + " attaches it in another IPC namespace than cryopod's: not supported", ENOTSUP);
                }
                if (vma.pgoff != 0 || vma.end - vma.start != paged) {
                    return fail(what + ": process " + std::to_string(pid) +
                                    " has only a part of it attached (unmapped or mprotected in part), which is not supported",
                                ENOTSUP);
                }
            }
        }
        dump.records.push_back(std::move(record));
    }
    CRYOPOD_PROPAGATE(dumpQueues(dump, tree));
    CRYOPOD_PROPAGATE(dumpSemaphores(dump, tree));
    return dump;
}

void removeSysvIpc(const SysvIpcDump &dump)
{
    for (const image::SysvIpcRecord &record : dump.records) {
        const auto perm = statObject(record.kind, record.id);
        if (perm && (int32_t(perm->__key) == record.key || record.destroyed)) {
            removeObject(record.kind, record.id);
        }
    }
}

// ---- restore

Result<SysvObjects> SysvObjects::create(const std::vector<image::SysvIpcRecord> &records, const std::optional<FsIdentity> &identity)
{
    SysvObjects objects;
    for (const image::SysvIpcRecord &record : records) {
        const std::string what = "restore " + describe(record.kind, record.id, record.key);
        if (identity && (record.uid != identity->uid || (record.gid != identity->gid && !std::ranges::contains(identity->groups, gid_t(record.gid))))) {
            return fail(what + ": it belongs to uid " + std::to_string(record.uid) + ", gid " + std::to_string(record.gid) + ", not to the caller", EPERM);
        }
        const key_t key = record.destroyed ? IPC_PRIVATE : key_t(record.key);
        Result<int32_t> made;
        switch (record.kind) {
        case image::SysvIpcKind::Shm:
            made = makeWithId(record, key, [&] { return ::shmget(key, size_t(record.size), IPC_CREAT | IPC_EXCL | 0600); });
            break;
        case image::SysvIpcKind::Msg:
            made = makeWithId(record, key, [&] { return ::msgget(key, IPC_CREAT | IPC_EXCL | 0600); });
            break;
        case image::SysvIpcKind::Sem:
            made = makeWithId(record, key, [&] { return ::semget(key, int(record.semValues.size()), IPC_CREAT | IPC_EXCL | 0600); });
            break;
        }
        if (!made) {
            return std::unexpected(made.error());
        }
        objects.m_made.push_back(Made {record.kind, *made});
        CRYOPOD_PROPAGATE(setPerm(record));
        if (record.kind == image::SysvIpcKind::Shm) {
            objects.m_segments.emplace(record.object, record.id);
            if (record.destroyed) {
                objects.m_destroyed.push_back(record.id);
            }
        } else {
            objects.m_filled.push_back(&record);
        }
    }
    return objects;
}

SysvObjects::SysvObjects(SysvObjects &&other) noexcept
    : m_made(std::exchange(other.m_made, {}))
    , m_segments(std::exchange(other.m_segments, {}))
    , m_destroyed(std::exchange(other.m_destroyed, {}))
    , m_filled(std::exchange(other.m_filled, {}))
{
}

SysvObjects &SysvObjects::operator=(SysvObjects &&other) noexcept
{
    if (this != &other) {
        for (const Made &made : m_made) {
            removeObject(made.kind, made.id);
        }
        m_made = std::exchange(other.m_made, {});
        m_segments = std::exchange(other.m_segments, {});
        m_destroyed = std::exchange(other.m_destroyed, {});
        m_filled = std::exchange(other.m_filled, {});
    }
    return *this;
}

SysvObjects::~SysvObjects()
{
    // A failed restore leaves nothing behind (a segment still attached by a
    // process being killed goes with its last detach).
    for (const Made &made : m_made) {
        removeObject(made.kind, made.id);
    }
}

int32_t SysvObjects::segment(uint64_t object) const
{
    const auto it = m_segments.find(object);
    return it == m_segments.end() ? -1 : it->second;
}

Result<void> SysvObjects::fill(const SysvActorOf &actorOf) const
{
    for (const image::SysvIpcRecord *record : m_filled) {
        const std::string what = "restore " + describe(record->kind, record->id, record->key);
        if (record->kind == image::SysvIpcKind::Sem) {
            // Each value set by the process that changed it last (SETVAL
            // makes the caller its sempid), the others by the helper.
            for (size_t i = 0; i < record->semValues.size(); ++i) {
                const SysvActor actor = record->semPids[i] != 0 ? actorOf(record->semPids[i]).value_or(SysvActor {}) : SysvActor {};
                if (actor.injector) {
                    CRYOPOD_PROPAGATE(actor.injector->call(what + ": SETVAL " + std::to_string(i) + " (as process " + std::to_string(record->semPids[i]) + ")",
                                                            SYS_semctl, uint64_t(record->id), uint64_t(i), uint64_t(SETVAL), uint64_t(record->semValues[i])));
                } else if (::semctl(record->id, int(i), SETVAL, int(record->semValues[i])) != 0) {
                    return sysError(what + ": SETVAL " + std::to_string(i));
                }
            }
            continue;
        }
        // A queue: the last receiver receives (a message of its own) first,
        // then the last sender sends every message, oldest first.
        const SysvActor receiver = record->lrpid != 0 ? actorOf(record->lrpid).value_or(SysvActor {}) : SysvActor {};
        const SysvActor sender = record->lspid != 0 ? actorOf(record->lspid).value_or(SysvActor {}) : SysvActor {};
        auto send = [&](const image::SysvMessage &message, const SysvActor &as, const std::string &step) -> Result<void> {
            std::vector<uint8_t> buffer(sizeof(long) + message.text.size());
            const long type = long(message.type);
            std::memcpy(buffer.data(), &type, sizeof type);
            std::copy(message.text.begin(), message.text.end(), buffer.begin() + sizeof(long));
            if (!as.injector) {
                if (::msgsnd(record->id, buffer.data(), message.text.size(), IPC_NOWAIT) != 0) {
                    return sysError(what + ": " + step);
                }
                return {};
            }
            const size_t mark = as.scratch->used();
            auto addr = as.scratch->put(buffer);
            if (!addr) {
                return std::unexpected(addr.error().context(what + ": " + step + ": a message of " + std::to_string(message.text.size()) + " bytes"));
            }
            auto sent = as.injector->call(what + ": " + step, SYS_msgsnd, uint64_t(record->id), *addr, uint64_t(message.text.size()), uint64_t(IPC_NOWAIT));
            as.scratch->reset(mark);
            if (!sent) {
                return std::unexpected(sent.error());
            }
            return {};
        };
        // The last sender and receiver are what makes the queue the tree's:
        // a message of nothing passes from the one to the other first.
        if (receiver.injector || (sender.injector && record->messages.empty())) {
            const image::SysvMessage marker {1, {}};
            CRYOPOD_PROPAGATE(send(marker, sender, "a message to receive"));
            if (receiver.injector) {
                const size_t mark = receiver.scratch->used();
                auto addr = receiver.scratch->reserve(sizeof(long) + 16);
                if (!addr) {
                    return std::unexpected(addr.error().context(what));
                }
                auto received = receiver.injector->call(what + ": receive it (as process " + std::to_string(record->lrpid) + ")", SYS_msgrcv,
                                                         uint64_t(record->id), *addr, 16, 0, uint64_t(IPC_NOWAIT));
                receiver.scratch->reset(mark);
                if (!received) {
                    return std::unexpected(received.error());
                }
            } else {
                struct {
                    long type;
                    char text[16];
                } buffer {};
                if (::msgrcv(record->id, &buffer, sizeof buffer.text, 0, IPC_NOWAIT) < 0) {
                    return sysError(what + ": receive it");
                }
            }
        }
        for (size_t i = 0; i < record->messages.size(); ++i) {
            CRYOPOD_PROPAGATE(send(record->messages[i], sender, "send message " + std::to_string(i)));
        }
    }
    return {};
}

Result<void> SysvObjects::removeDestroyed()
{
    for (const int32_t id : m_destroyed) {
        if (::shmctl(id, IPC_RMID, nullptr) != 0) {
            return sysError("restore " + describe(image::SysvIpcKind::Shm, id, 0) + ": remove it again (IPC_RMID)");
        }
    }
    return {};
}

void SysvObjects::keep()
{
    m_made.clear();
}

Result<UniqueFd> openSysvSegment(int32_t shmid, const std::string &what)
{
    void *p = ::shmat(shmid, nullptr, 0);
    if (p == reinterpret_cast<void *>(-1)) {
        return sysError(what + ": attach segment " + std::to_string(shmid) + " in the helper");
    }
    shmid_ds ds {};
    const uint64_t start = reinterpret_cast<uint64_t>(p);
    uint64_t size = 0;
    if (::shmctl(shmid, IPC_STAT, &ds) == 0) {
        size = (uint64_t(ds.shm_segsz) + kPage - 1) / kPage * kPage;
    }
    char range[64];
    std::snprintf(range, sizeof range, "%llx-%llx", static_cast<unsigned long long>(start), static_cast<unsigned long long>(start + size));
    const std::string link = "/proc/self/map_files/" + std::string(range);
    UniqueFd fd(::open(link.c_str(), O_RDWR | O_CLOEXEC));
    const int openErrno = errno;
    ::shmdt(p);
    if (!fd) {
        errno = openErrno;
        return sysError(what + ": open " + link);
    }
    return fd;
}

Result<void> attachSysvSegment(Injector &injector, int32_t shmid, const image::VmaRecord &vma, int prot)
{
    char range[64];
    std::snprintf(range, sizeof range, "0x%llx-0x%llx", static_cast<unsigned long long>(vma.start), static_cast<unsigned long long>(vma.end));
    const std::string what = std::string("restore vma ") + range + " (SysV shared memory segment " + std::to_string(shmid) + ")";
    const bool writable = (vma.flags & image::kVmaMayWrite) != 0;
    const bool exec = (prot & PROT_EXEC) != 0;
    const uint64_t flags = (writable ? 0 : SHM_RDONLY) | (exec ? SHM_EXEC : 0);
    auto attached = injector.call(what + ": shmat", SYS_shmat, uint64_t(shmid), vma.start, flags);
    if (!attached) {
        return std::unexpected(attached.error());
    }
    if (*attached != vma.start) {
        return fail(what + ": shmat placed it elsewhere", EEXIST);
    }
    const int given = PROT_READ | (writable ? PROT_WRITE : 0) | (exec ? PROT_EXEC : 0);
    if (given != prot) {
        CRYOPOD_PROPAGATE(injector.call(what + ": mprotect", SYS_mprotect, vma.start, vma.end - vma.start, uint64_t(prot)));
    }
    return {};
}

} // namespace cryopod::engine
