// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The public face of the checkpoint/restore engine. Plain C++, no Qt, no
// global state: each call builds its own context and tears it down.
#pragma once

#include "result.h"
#include "uniquefd.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// ---- checkpointability report ------------------------------------------------

enum class Verdict {
    Ok, // can be checkpointed and restored faithfully
    Caveat, // can be, with the caveats named
    Refused, // cannot be: the reasons say why
};

struct FdReport {
    int fd = -1;
    std::string target; // what it points to: path, "pipe:[123]", "socket:[456]", ...
    Verdict verdict = Verdict::Ok;
    std::string reason; // empty when Ok
};

struct ProcessReport {
    pid_t pid = 0;
    pid_t ppid = 0;
    std::string comm;
    Verdict verdict = Verdict::Ok;
    std::vector<std::string> reasons; // process-level ("thread 1235 has its own Uid ...")
    std::vector<FdReport> fds;
    // Refused for a state that passes by itself in a moment: a vfork child
    // (or posix_spawn's) caught before its exec, sharing its parent's
    // address space. A checkpoint tries again for a while.
    bool passing = false;
};

struct Report {
    pid_t root = 0;
    Verdict verdict = Verdict::Ok; // the worst of all processes
    std::vector<ProcessReport> processes;
    std::string summary() const; // one line per refused or caveat item
    bool passing() const; // some process is refused for a passing state (ProcessReport::passing)
};

// Analyses PID and all its descendants (the tree a checkpoint of PID
// captures) without stopping them: a process per entry, the root first.
// What a process of the tree shares with a process outside it (a pipe, a
// socket, an fd table, an address space) is named and refused.
// `detachedFds` are fds of PID itself (not of its descendants) that the
// checkpoint would save as detached (CheckpointOptions::detachedFds): they
// are a caveat, whatever they are. With `tcpEstablished`
// (CheckpointOptions::tcpEstablished) an established TCP connection is a
// caveat; without, it is refused.
Result<Report> analyze(pid_t pid, const std::set<int> &detachedFds = {}, bool tcpEstablished = false);

// ---- checkpoint -------------------------------------------------------------

// A freezer outside the engine that holds the tree frozen (the helper's cgroup
// freezer): called with false it lets the tree's tasks run, with true it
// freezes them again, returning once the kernel reports them frozen.
using OutsideFreezer = std::function<Result<void>(bool frozen)>;

struct CheckpointOptions {
    bool leaveRunning = true; // false: kill the tree once the image is completely written
    int compressionLevel = 1;
    // false: page and file data go into the image without zstd (for a
    // consumer that compresses what it keeps itself, as the store does).
    bool compress = true;
    int workers = 0; // zstd workers; 0 = automatic
    // How long a thread may take to reach its ptrace stop when freezing; one
    // in uninterruptible sleep (D) never does: the checkpoint then fails with
    // ETIMEDOUT, naming the process and its state, and the target runs on.
    // < 0: no limit.
    int freezeTimeoutMs = 10000;
    // With leaveRunning: the tree runs on as soon as everything but its
    // memory is captured, and the memory is saved from copy-on-write copies
    // taken during the pause (docs/low-pause.md). Where no copy can be taken
    // the checkpoint is a frozen one and the result says why.
    bool lowPause = false;
    // Set when the tree is frozen by an outside freezer (a cgroup freezer)
    // when the checkpoint starts; ptrace cannot stop or inject into tasks held
    // by it. Every thread is then seized and interrupted while frozen, the
    // freezer thawed (the pending interrupt stops each thread in the kernel
    // before it returns to user space), the tree captured, frozen again and
    // only then detached (or killed while stopped, then frozen again): the
    // program runs no instruction, and stays frozen after a failure too.
    OutsideFreezer outsideFreezer = {};
    // Fds of the root process (PID itself) that are not saved as what they
    // are: the image records each as the read end of a pipe whose write end
    // is closed, so that the restored process reads end-of-file there. A
    // program checkpointing itself (libcryopod) detaches the fds it holds
    // for the call (its bus connection), whatever they are. An fd that is
    // not open in the root process fails the checkpoint (EBADF).
    std::set<int> detachedFds = {};
    // Established TCP connections are captured with TCP_REPAIR and restored
    // as they were (inetsockets.h); without it the checkpoint refuses them.
    // Opt-in: the restored connection needs its peer (in the tree, or still
    // holding its end), and the original must be stopped before a restore.
    bool tcpEstablished = false;
};

struct CheckpointResult {
    pid_t root = 0;
    uint64_t imageBytes = 0; // written to the fd
    uint64_t rawBytes = 0; // uncompressed payload
    uint64_t pagesSaved = 0;
    uint64_t sharedMemoryBytes = 0; // contents of shared anonymous memory saved (while frozen)
    uint64_t pauseNs = 0; // time the target was stopped
    uint64_t copyNs = 0; // of the pause: taking the copies of the memory (low pause)
    uint64_t totalNs = 0;
    bool lowPause = false; // the memory was saved from copies while the tree ran on
    std::string lowPauseFallback; // why not, when lowPause was asked for
};

// Freezes PID and all its descendants, captures them into an image written to
// outFd, then resumes or kills them all. On any failure every process of the
// tree is resumed unchanged and the error says which step failed; nothing is
// written when the analysis refuses.
Result<CheckpointResult> checkpoint(pid_t pid, int outFd, const CheckpointOptions &options);

// ---- restore ----------------------------------------------------------------

// A filesystem identity: the uid, gid and supplementary groups the kernel
// checks file permissions against (fsuid, fsgid, groups).
struct FsIdentity {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

// Where a restored process's pseudo-terminal comes from (docs/image-format.md,
// "Terminals").
enum class PtyMode {
    // A new pty per terminal of the image: the restore creates it
    // (posix_openpt), gives it the image's termios and window size, and
    // hands its master to the caller (RestoreResult::terminals).
    New,
    // The original /dev/pts/N, when it still exists as the same device: its
    // master stays with whoever holds it (a terminal emulator); the image's
    // termios are set again, the window size is the terminal's own.
    Original,
    // An image with a terminal is refused (a caller that could not take a
    // master); nothing is created.
    Refuse,
};

struct RestoreOptions {
    bool frozen = false; // leave the restored tree stopped (SIGSTOP)
    PtyMode pty = PtyMode::New;
    // Whose rights every path the image names is used with: the executable,
    // mapped files, open files, the cwd and root, and the copies of unlinked
    // files the restore creates. The helper sets the caller's identity, so
    // that an image cannot make the restore open or create what the caller
    // could not. Unset: the engine's own (root for cryopodctl --direct).
    std::optional<FsIdentity> openAs;
};

// A terminal of the restored tree.
struct RestoredTerminal {
    std::string originalPath; // /dev/pts/N at the checkpoint
    std::string path; // the slave the tree uses now
    UniqueFd master; // PtyMode::New: the new pty's master (O_CLOEXEC), the caller's to relay; else none
};

struct RestoreResult {
    pid_t root = 0;
    uint64_t totalNs = 0;
    std::vector<RestoredTerminal> terminals; // in the image's order
};

// Reads an image from inFd and recreates the process tree with its original
// PIDs, parent/child relations, sessions and process groups. The restored
// root is a child of the caller. On failure everything created is killed and
// reaped, and the error names the step.
Result<RestoreResult> restore(int inFd, const RestoreOptions &options);

} // namespace cryopod::engine
