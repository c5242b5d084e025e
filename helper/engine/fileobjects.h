// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Kernel file objects behind fds (FileObjectRecord): pipes, FIFOs, eventfds,
// timerfds, signalfds and epoll sets. This pair does what they have in
// common: giving each object its id on dump (one per pipe, one per open
// file description of the others) and, on restore, creating every object at
// temporary fds above the image's before the fd table is laid out, and the
// epoll registrations once it is. pipes.*, anonfiles.* and epoll.* hold the
// kind-specific halves.
#pragma once

#include "records.h"
#include "result.h"

#include "ptrace_inject.h"
#include "uniquefd.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// ---- dump

// Fills `objects` with one record per object the fds of `files` refer to and
// sets each fd's `object` (dup'ed fds, dupOf >= 0, share their owner's).
// The process must be frozen. A socket whose peer is not in the process but
// among `treeSockets` (the other processes of the tree) gets peer 0 for now.
Result<void> dumpFileObjects(pid_t pid, image::FilesRecord &files, std::vector<image::FileObjectRecord> &objects,
                             const std::set<uint64_t> *treeSockets = nullptr);

// ---- restore

// The open file descriptions of file objects, created in the process before
// its fd table is laid out: each at a temporary fd, a number no fd of the
// image has (the lowest such, so that they stay below RLIMIT_NOFILE where
// the image's fds do), so that nothing placed later collides with them.
// Whether fd's `object` is the id of a FileObjectRecord (a memfd's names
// its SharedMemoryRecord instead, shmem.h).
inline bool namesFileObject(const image::FdRecord &fd)
{
    return fd.object != 0 && fd.kind != image::FdKind::Memfd;
}

// An established TCP connection restored in repair mode (inetsockets.h):
// it leaves repair mode, and sends what was never sent, once every socket of
// the tree exists.
struct RepairedTcp {
    UniqueFd sock; // the engine's own dup
    std::vector<uint8_t> unsent; // the end of the send queue that was never sent
    bool reuseAddr = false; // SO_REUSEADDR again after repair mode (which clears it)
    uint32_t sndbuf = 0; // SO_SNDBUF as the dump read it, once the whole send queue is in
    std::string what;
};

struct ObjectFds {
    std::vector<RepairedTcp> tcpRepairs; // leaveTcpRepair() in finishFileObjects()
    std::map<int32_t, int32_t> byFd; // image fd owning a description -> temporary fd holding it
    std::vector<int32_t> temporaries; // every temporary fd, closed by finishFileObjects()
    std::set<int32_t> imageFds; // numbers a temporary fd must not take
    std::set<int32_t> open; // numbers open in the process (temporary fds included)

    // Keeps `fd` (just returned by a system call in the process) as a
    // temporary fd, moved to the lowest number that is neither an image fd
    // nor open (nor `alsoOpen`, an fd just made with it) when it is an image
    // fd; returns its number.
    Result<int32_t> adopt(Injector &injector, int32_t fd, const std::string &what, int32_t alsoOpen = -1);
    // The same for an fd that a call of `batch` will return: adds the move
    // (dup3 + close) to the batch when one is needed; `inProcess` is every
    // number open in the process at that point of the batch (kept up to
    // date). Returns the number the fd ends up at.
    int32_t adoptInBatch(InjectBatch &batch, std::set<int> &inProcess, int32_t fd, const std::string &what);
    // The lowest number a temporary fd may move to.
    int32_t freeNumber(int32_t fd, int32_t alsoOpen, const std::set<int> *inProcess = nullptr) const;
    // Runs `call` (pipe2, socketpair: it gets the address of an int[2] in the
    // process) and adopts the two fds it returns there.
    Result<std::array<int32_t, 2>> adoptPair(Injector &injector, RemoteScratch &scratch, const std::function<Result<uint64_t>(uint64_t pairAddress)> &call,
                                             const std::string &what);
};

// A dup of fd `fd` of process `pid` (pidfd_getfd: the same open file), so
// that the engine can read or set what a socket holds from its own side.
Result<UniqueFd> takeTheirFd(pid_t pid, int32_t fd, const std::string &what);

// A socket made by the process itself (an injected socket(family, type |
// SOCK_CLOEXEC, protocol): with its rights, in its network namespace), kept
// as a temporary fd, and the engine's own dup of it to set its options.
struct MadeSocket {
    int32_t fd = -1; // the temporary fd in the process
    UniqueFd sock; // the same socket, on the engine's side
};
Result<MadeSocket> makeSocketIn(Injector &injector, ObjectFds &fds, int family, int type, int protocol, const std::string &what);

// SO_SNDBUF or SO_RCVBUF (`option`) of `sock` back to what getsockopt
// `reported` (twice what was set), without the *BUFFORCE options: an image
// must not get more than net.core.[wr]mem_max through the restorer's
// privileges (a queue that then does not fit makes the restore fail).
Result<void> setSocketBuffer(int sock, int option, uint32_t reported, const std::string &what);

// Sets the status flags of the description at `fd` that F_SETFL can set
// (O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT, O_NOATIME) to those of `openFlags`.
Result<void> setStatusFlags(Injector &injector, int32_t fd, uint32_t openFlags, const std::string &what);

// A second open file description of what temporary fd `fd` holds (through
// /proc/self/fd/N), with the access mode of `openFlags`.
Result<int32_t> reopenTemporary(Injector &injector, RemoteScratch &scratch, ObjectFds &fds, int32_t fd, uint32_t openFlags, const std::string &what);

// Checks the objects against the fds before anything is created: every
// object named by an fd exists, every object is named.
Result<void> validateFileObjectsForRestore(const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects);

// Creates every object of `objects` (pipes refilled, timers armed, ...) with
// a description per owning fd of `files`, at temporary fds.
Result<ObjectFds> createFileObjects(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files,
                                    const std::vector<image::FileObjectRecord> &objects);

// Once every fd of the image is in place (of every process of the tree): the
// epoll registrations, TCP connections out of repair mode, then the
// temporary fds are closed.
Result<void> finishFileObjects(Injector &injector, RemoteScratch &scratch, const image::FilesRecord &files, const std::vector<image::FileObjectRecord> &objects,
                               ObjectFds &fds);

} // namespace cryopod::engine
