// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// engine::restore(): the image is read front to back once. Everything before
// the first Pages section is metadata: it is read and validated completely
// before any process exists. Then the process is created with its PID from
// the restore stub, emptied, given the image's address space (VMAs, then the
// page contents streamed straight from the reader into it), and the rest of
// its state by injected system calls; credentials last, then the registers,
// then it is let go. A failure at any step kills and reaps what was created
// and removes the temporary files; the error names the step.
//
// Why this order:
// - the vDSO moves before any VMA exists, so its temporary addresses can be
//   anything free in both layouts;
// - PR_SET_MM_MAP after the VMAs and pages (the kernel only range-checks it,
//   but [heap]/[stack] names and brk follow from it);
// - files after memory: the temporary fds of file mappings are closed by then
//   and cannot take a number an image fd needs;
// - rlimits after mappings and files (a low RLIMIT_AS/NOFILE of the image must
//   not stop the rebuild) but before the credentials (lowering is always
//   allowed; afterwards the process might not be allowed to change them);
// - the other threads (clone3 set_tid in the leader, each then restoring its
//   own name, altstack, tid address, robust list, rseq, pending signals and
//   credentials) after everything they share with the leader (memory, fds,
//   cwd/root/umask, dispositions, fs identity) and before the leader's
//   credentials: choosing a tid takes the restorer's capabilities;
// - chroot after everything that opens paths, credentials after everything
//   that needs privileges, the blocked mask and registers from outside last
//   (every thread's), then all threads are detached one right after another;
// - seccomp filters after the injection area is gone (seccomp.h): nothing
//   but register writes from outside follows them; in an address space
//   several processes share (ProcessEntry::vmOf: made by clone3(CLONE_VM)
//   in the parent while it is the bare stub, so both share the stub's
//   address space from the start, which the first of them empties and
//   fills), every one injects through the first one's area, and the last
//   of them in the tree's order removes it; a filter stops only the calls
//   of its own process;
// - pending signals after the dispositions (SIG_IGN would discard them) and
//   while the injector still blocks everything, so none is delivered before
//   the process runs and the blocked ones stay pending.
#include "restore.h"

#include "creds.h"
#include "filelocks.h"
#include "fileobjects.h"
#include "files.h"
#include "inetsockets.h"
#include "mem.h"
#include "procfiles.h"
#include "procfs.h"
#include "regs.h"
#include "seccomp.h"
#include "signals.h"
#include "task.h"
#include "threads.h"
#include "timers.h"
#include "vdso.h"

#include "cputime.h"
#include "imagereader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <functional>
#include <iterator>
#include <mutex>
#include <thread>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef CRYOPOD_RESTORE_STUB_NAME
#define CRYOPOD_RESTORE_STUB_NAME "cryopod-restore-stub"
#endif
#ifndef CRYOPOD_RESTORE_STUB_PATH
#define CRYOPOD_RESTORE_STUB_PATH "/usr/libexec/cryopod-restore-stub"
#endif

namespace cryopod::engine
{

Result<std::string> findRestoreStub()
{
    if (const char *env = std::getenv("CRYOPOD_RESTORE_STUB"); env && *env) {
        if (::access(env, X_OK) != 0) {
            return sysError(std::string("restore stub $CRYOPOD_RESTORE_STUB=") + env);
        }
        return std::string(env);
    }
    if (auto self = procfs::readLink("/proc/self/exe")) {
        const size_t slash = self->rfind('/');
        if (slash != std::string::npos) {
            const std::string beside = self->substr(0, slash + 1) + CRYOPOD_RESTORE_STUB_NAME;
            if (::access(beside.c_str(), X_OK) == 0) {
                return beside;
            }
        }
    }
    if (::access(CRYOPOD_RESTORE_STUB_PATH, X_OK) == 0) {
        return std::string(CRYOPOD_RESTORE_STUB_PATH);
    }
    return fail(std::string("restore stub " CRYOPOD_RESTORE_STUB_NAME " not found (next to the executable, at " CRYOPOD_RESTORE_STUB_PATH
                            ", or through $CRYOPOD_RESTORE_STUB)"),
                ENOENT);
}

void RestoreContext::step(const char *name)
{
    if (!trace) {
        return;
    }
    const uint64_t now = monotonicNs();
    std::fprintf(stderr, "restore: %-28s %8.2f ms (at %8.2f ms)\n", name, double(now - lastNs) / 1e6, double(now - startNs) / 1e6);
    lastNs = now;
}

TempFile::~TempFile()
{
    if (m_path.empty()) {
        return;
    }
    if (m_owner) {
        (void)runWithFsIdentity(*m_owner, [this] {
            ::unlink(m_path.c_str());
        });
    } else {
        ::unlink(m_path.c_str());
    }
}

namespace
{

using image::threadCpuNs; // for $CRYOPOD_RESTORE_TRACE

std::string hexAddr(uint64_t v)
{
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

Result<void> checkHeader(RestoreContext &ctx, const image::Header &header)
{
    utsname u{};
    ::uname(&u);
    if (header.arch != u.machine || header.arch != "x86_64") {
        return fail("image is for " + header.arch + ", this machine is " + u.machine + " (engine v1 restores x86_64 only)", ENOTSUP);
    }
    const long pageSize = ::sysconf(_SC_PAGESIZE);
    if (header.pageSize != uint32_t(pageSize)) {
        return fail("image page size " + std::to_string(header.pageSize) + " differs from this machine's " + std::to_string(pageSize), ENOTSUP);
    }
    ctx.header = header;
    ctx.pageSize = header.pageSize;
    return {};
}

const char *sectionName(const image::Section &section)
{
    static const char *const names[] = {"ProcessTree", "Task", "Thread", "Creds", "Signals", "Mm", "Files", "FileData", "Pages", "End", "FileObject", "Timers", "Terminal", "SharedMemory", "SysvIpc"};
    return names[section.index()];
}

// Everything the restore needs to know is checked here, before any process
// exists.
Result<void> validateProcess(RestoreContext &ctx, ProcessRestore &p)
{
    const char *required[] = {"ProcessTree", "Task", "Thread", "Creds", "Signals", "Mm", "Files"};
    for (size_t i = 1; i < std::size(required); ++i) {
        if (i == 6 && p.entry.filesOf != 0) {
            continue; // its fd table is another process's
        }
        if (i == 5 && p.entry.vmOf != 0) {
            continue; // its address space is another process's
        }
        if (!p.seen[i]) {
            return fail(std::string("image has no ") + required[i] + " section for process " + std::to_string(p.entry.pid) + " before its page data", EINVAL);
        }
    }
    const int32_t pid = p.entry.pid;
    // One Thread record per tid of the tree, put in the tree's order (the
    // leader first).
    std::vector<image::ThreadRecord> ordered;
    for (const int32_t tid : p.entry.tids) {
        auto it = std::find_if(p.threads.begin(), p.threads.end(), [tid](const image::ThreadRecord &t) {
            return t.tid == tid;
        });
        if (it == p.threads.end()) {
            return fail("image has no Thread record for thread " + std::to_string(tid) + " of " + std::to_string(pid), EINVAL);
        }
        ordered.push_back(std::move(*it));
        p.threads.erase(it);
    }
    if (!p.threads.empty()) {
        return fail("image has a Thread record for " + std::to_string(p.threads.front().tid) + ", which is no thread of " + std::to_string(pid), EINVAL);
    }
    p.threads = std::move(ordered);
    if (p.entry.vmOf == 0) {
        CRYOPOD_PROPAGATE(validateMmForRestore(p.mm, ctx.pageSize));
        CRYOPOD_PROPAGATE(checkVdsoCompatible(p.mm));
    }
    CRYOPOD_PROPAGATE(validateFilesForRestore(p.files));
    CRYOPOD_PROPAGATE(checkCredsRestorable(p.creds));
    return {};
}

Result<void> validate(RestoreContext &ctx)
{
    std::map<uint64_t, pid_t> objectOwners;
    for (const auto &p : ctx.processes) {
        if (p->entry.zombie) {
            continue;
        }
        CRYOPOD_PROPAGATE(validateProcess(ctx, *p));
        for (const image::FileObjectRecord &object : p->fileObjects) {
            objectOwners[object.id] = p->entry.pid;
        }
    }
    std::vector<const image::FilesRecord *> allFiles;
    for (const auto &p : ctx.processes) {
        if (!p->entry.zombie && p->entry.filesOf == 0) {
            allFiles.push_back(&p->files);
        }
    }
    for (const auto &p : ctx.processes) {
        if (p->entry.zombie || p->entry.filesOf != 0) {
            continue;
        }
        for (const image::FdRecord &fd : p->files.fds) {
            if (namesFileObject(fd) && !objectOwners.contains(fd.object)) {
                return fail("image fd " + std::to_string(fd.fd) + " of " + std::to_string(p->entry.pid) + ": names file object " + std::to_string(fd.object)
                                + ", which the image does not hold",
                            EINVAL);
            }
            if (fd.sharedPid != 0) {
                const auto source = ctx.byPid.find(fd.sharedPid);
                if (source == ctx.byPid.end() || source->second->entry.zombie
                    || std::none_of(source->second->files.fds.begin(), source->second->files.fds.end(), [&](const image::FdRecord &o) {
                           return o.fd == fd.sharedFd;
                       })) {
                    return fail("image fd " + std::to_string(fd.fd) + " of " + std::to_string(p->entry.pid) + ": shares the open file of fd "
                                    + std::to_string(fd.sharedFd) + " of " + std::to_string(fd.sharedPid) + ", which the image does not open",
                                EINVAL);
                }
            }
        }
        p->ownerView = ownerView(p->entry.pid, allFiles, objectOwners, p->foreign);
        CRYOPOD_PROPAGATE(validateFileObjectsForRestore(p->ownerView, p->fileObjects));
    }
    CRYOPOD_PROPAGATE(validateTerminalsForRestore(ctx.terminals, ctx.tree, allFiles));
    // Both ends of a TCP connection inside the tree agree on what was sent.
    std::vector<image::FileObjectRecord *> sockets;
    for (const auto &p : ctx.processes) {
        for (image::FileObjectRecord &object : p->fileObjects) {
            sockets.push_back(&object);
        }
    }
    CRYOPOD_PROPAGATE(matchTcpPeers(sockets));
    return {};
}

// The processes linked by a shared fd table (CLONE_FILES) or a shared
// address space (CLONE_VM), directly or through others, have one key: the
// drive runs them in one job, one after the other (inEveryProcess). Once,
// when the tree is accepted (RestoreContext::sharing): the links never change.
std::map<int32_t, int32_t> sharingGroups(const RestoreContext &ctx)
{
    std::map<int32_t, int32_t> up;
    for (const auto &p : ctx.processes) {
        up[p->entry.pid] = p->entry.pid;
    }
    const auto find = [&up](int32_t pid) {
        while (up.at(pid) != pid) {
            pid = up[pid] = up.at(up.at(pid));
        }
        return pid;
    };
    for (const auto &p : ctx.processes) {
        for (const int32_t other : {p->entry.filesOf, p->entry.vmOf}) {
            if (other != 0 && up.contains(other)) {
                up[find(p->entry.pid)] = find(other);
            }
        }
    }
    for (auto &[pid, key] : up) {
        key = find(pid);
    }
    return up;
}

Result<void> acceptTree(RestoreContext &ctx, image::ProcessTreeRecord &tree)
{
    for (const image::ProcessEntry &entry : tree.processes) {
        if (entry.pid <= 1 || entry.tids.empty() || entry.tids.front() != entry.pid) {
            return fail("image process " + std::to_string(entry.pid) + ": invalid pid or its thread list does not start with its leader", EINVAL);
        }
        std::vector<int32_t> sorted(entry.tids);
        std::sort(sorted.begin(), sorted.end());
        if (sorted.front() <= 1 || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
            return fail("image process " + std::to_string(entry.pid) + ": invalid or repeated thread ids", EINVAL);
        }
        if (entry.pid != tree.rootPid && !ctx.byPid.contains(entry.ppid)) {
            return fail("image process " + std::to_string(entry.pid) + " comes before its parent " + std::to_string(entry.ppid), EINVAL);
        }
        if (entry.pid == tree.rootPid ? !ctx.processes.empty() : ctx.processes.empty()) {
            return fail("image: the root " + std::to_string(tree.rootPid) + " is not the first process of the tree", EINVAL);
        }
        if (ctx.byPid.contains(entry.pid)) {
            return fail("image process " + std::to_string(entry.pid) + " appears twice", EINVAL);
        }
        if (entry.filesOf != 0) {
            const image::ProcessEntry *parent = entry.pid == tree.rootPid ? nullptr : &ctx.byPid.at(entry.ppid)->entry;
            if (!parent || (parent->filesOf != 0 ? parent->filesOf : parent->pid) != entry.filesOf) {
                return fail("image process " + std::to_string(entry.pid) + " shares the fd table of " + std::to_string(entry.filesOf)
                                + ", which its parent does not have",
                            EINVAL);
            }
        }
        if (entry.vmOf != 0) {
            // Made by clone3(CLONE_VM) in its parent: only the parent's
            // address space can be shared again.
            const image::ProcessEntry *parent = entry.pid == tree.rootPid ? nullptr : &ctx.byPid.at(entry.ppid)->entry;
            if (entry.zombie || !parent || parent->zombie || (parent->vmOf != 0 ? parent->vmOf : parent->pid) != entry.vmOf) {
                return fail("image process " + std::to_string(entry.pid) + " shares the address space of " + std::to_string(entry.vmOf) +
                                ", which its parent does not have",
                            EINVAL);
            }
        }
        if (entry.zombie && (entry.pid == tree.rootPid || ctx.byPid.at(entry.ppid)->entry.zombie)) {
            return fail("image process " + std::to_string(entry.pid) + ": a zombie without a live parent in the tree", EINVAL);
        }
        auto p = std::make_unique<ProcessRestore>();
        p->entry = entry;
        ctx.byPid[entry.pid] = p.get();
        ctx.processes.push_back(std::move(p));
    }
    ctx.tree = std::move(tree);
    ctx.sharing = sharingGroups(ctx);
    return {};
}

// Fails for `what` (an Mm section, page data) of a process that shares
// another process's address space: that process's are its.
Result<void> checkOwnAddressSpace(const RestoreContext &ctx, int32_t pid, const char *what)
{
    const auto it = ctx.byPid.find(pid);
    if (it != ctx.byPid.end() && it->second->entry.vmOf != 0) {
        return fail(std::string("image: ") + what + " for process " + std::to_string(pid) + ", which shares the address space of " +
                        std::to_string(it->second->entry.vmOf),
                    EINVAL);
    }
    return {};
}

// Reads sections up to the first Pages or End section (returned in
// `pending`), validating once all metadata is known. FileData sections are
// written to disk as they come (after validation).
Result<void> readMetadata(RestoreContext &ctx, image::ImageReader &reader, std::optional<image::ImageReader::Item> &pending)
{
    bool haveTree = false;
    bool validated = false;
    // The live process a section belongs to.
    auto processOf = [&](int32_t pid, const char *what) -> Result<ProcessRestore *> {
        const auto it = ctx.byPid.find(pid);
        if (!haveTree || it == ctx.byPid.end() || it->second->entry.zombie) {
            return fail(std::string("image: ") + what + " section of " + std::to_string(pid) + ", which is no live process of the tree (or comes before the tree)",
                        EINVAL);
        }
        return it->second;
    };
    for (;;) {
        auto next = reader.nextStored();
        if (!next) {
            return std::unexpected(next.error().context("read image"));
        }
        if (const auto *pages = std::get_if<image::StoredPages>(&*next)) {
            CRYOPOD_PROPAGATE(checkOwnAddressSpace(ctx, pages->pid, "page data"));
            if (!validated) {
                ctx.step("metadata and 1st pages read");
                CRYOPOD_PROPAGATE(validate(ctx));
            }
            pending = std::move(*next);
            return {};
        }
        image::Section &section = std::get<image::Section>(*next);
        const size_t index = section.index();
        if (auto *tree = std::get_if<image::ProcessTreeRecord>(&section)) {
            if (haveTree) {
                return fail("image: a second ProcessTree section", EINVAL);
            }
            CRYOPOD_PROPAGATE(acceptTree(ctx, *tree));
            haveTree = true;
            continue;
        }
        if (std::holds_alternative<image::FileDataRecord>(section) && !validated) {
            ctx.step("metadata sections read");
            CRYOPOD_PROPAGATE(validate(ctx));
            validated = true;
        }
        if (validated && !std::holds_alternative<image::FileDataRecord>(section) && !std::holds_alternative<image::EndRecord>(section)) {
            return fail(std::string("image: ") + sectionName(section) + " section after file or page data", EINVAL);
        }
        if (auto *object = std::get_if<image::FileObjectRecord>(&section)) {
            auto p = processOf(object->ownerPid, "FileObject");
            if (!p) {
                return std::unexpected(p.error());
            }
            (*p)->fileObjects.push_back(std::move(*object));
            continue;
        }
        if (auto *terminal = std::get_if<image::TerminalRecord>(&section)) {
            if (!haveTree) {
                return fail("image: a Terminal section before the process tree", EINVAL);
            }
            ctx.terminals.push_back(std::move(*terminal));
            continue;
        }
        if (auto *shm = std::get_if<image::SharedMemoryRecord>(&section)) {
            ctx.sharedMemory.push_back(std::move(*shm));
            continue;
        }
        if (auto *sysv = std::get_if<image::SysvIpcRecord>(&section)) {
            ctx.sysvIpc.push_back(std::move(*sysv));
            continue;
        }
        if (auto *timers = std::get_if<image::TimersRecord>(&section)) {
            auto p = processOf(timers->pid, "Timers");
            if (!p) {
                return std::unexpected(p.error());
            }
            (*p)->timers = *timers;
            continue;
        }
        if (std::holds_alternative<image::EndRecord>(section)) {
            if (!validated) {
                CRYOPOD_PROPAGATE(validate(ctx));
            }
            pending = std::move(*next);
            return {};
        }
        int32_t pid = 0;
        std::visit(
            [&pid](const auto &r) {
                if constexpr (requires { r.pid; }) {
                    pid = r.pid;
                }
            },
            section);
        auto found = processOf(pid, sectionName(section));
        if (!found) {
            return std::unexpected(found.error());
        }
        ProcessRestore &p = **found;
        if (index < 7) {
            if (p.seen[index] && !std::holds_alternative<image::ThreadRecord>(section)) {
                return fail(std::string("image: more than one ") + sectionName(section) + " section for process " + std::to_string(pid), EINVAL);
            }
            p.seen[index] = true;
        }
        if (auto *task = std::get_if<image::TaskRecord>(&section)) {
            p.task = std::move(*task);
        } else if (auto *thread = std::get_if<image::ThreadRecord>(&section)) {
            p.threads.push_back(std::move(*thread));
        } else if (auto *creds = std::get_if<image::CredsRecord>(&section)) {
            p.creds = std::move(*creds);
        } else if (auto *signals = std::get_if<image::SignalsRecord>(&section)) {
            p.signals = std::move(*signals);
        } else if (auto *mm = std::get_if<image::MmRecord>(&section)) {
            CRYOPOD_PROPAGATE(checkOwnAddressSpace(ctx, pid, "an Mm section"));
            p.mm = std::move(*mm);
        } else if (auto *files = std::get_if<image::FilesRecord>(&section)) {
            if (p.entry.filesOf != 0) {
                return fail("image: a Files section for process " + std::to_string(pid) + ", which shares the fd table of " + std::to_string(p.entry.filesOf),
                            EINVAL);
            }
            p.files = std::move(*files);
        } else if (auto *data = std::get_if<image::FileDataRecord>(&section)) {
            const auto fd = std::find_if(p.files.fds.begin(), p.files.fds.end(), [&](const image::FdRecord &r) {
                return r.fd == data->fd;
            });
            if (fd == p.files.fds.end() || !fd->unlinked) {
                return fail("image: file data for fd " + std::to_string(data->fd) + ", which is not an unlinked file of process " + std::to_string(pid), EINVAL);
            }
            if (p.unlinkedFiles.contains(data->fd)) {
                return fail("image: file data for fd " + std::to_string(data->fd) + " of " + std::to_string(pid) + " twice", EINVAL);
            }
            // Created as the caller when the restore runs for one.
            Result<std::string> path = fail("restore fd " + std::to_string(data->fd) + ": not created");
            if (ctx.options.openAs) {
                CRYOPOD_PROPAGATE(runWithFsIdentity(*ctx.options.openAs, [&] {
                    path = createUnlinkedFileCopy(*fd, *data);
                }));
            } else {
                path = createUnlinkedFileCopy(*fd, *data);
            }
            if (!path) {
                return std::unexpected(path.error());
            }
            p.unlinkedFiles.emplace(data->fd, TempFile(*path, ctx.options.openAs));
        }
    }
}

// The page data, in parallel: one thread reads the stream
// (ImageReader::nextStored: checksum verified, fields checked against the
// image, data still compressed) into a short queue, and `workers` threads -
// the tracer thread is one of them - each take the next section, decompress
// it into a buffer of their own (PageDecoder) and write it into the process.
// Sections cover disjoint, ascending ranges, so they can land in any order.
// Memory stays bounded: kDepth sections queued, one being read, one per
// worker (compressed and decoded), buffers reused. The first failure stops
// everything; destroying the pipeline stops the reader after the section it
// is reading (with a stalled input stream, after that stream ends).
class PagePipeline
{
public:
    // Writes one decoded section into the process; returns its pages.
    // `runs` are the part of the section's runs that `data` holds.
    using WriteFn = std::function<Result<uint64_t>(const image::StoredPages &, std::span<const image::PageRun> runs, std::span<const uint8_t> data)>;

    PagePipeline() = default;
    PagePipeline(const PagePipeline &) = delete;
    PagePipeline &operator=(const PagePipeline &) = delete;
    ~PagePipeline()
    {
        stop();
        for (std::thread &t : m_workers) {
            if (t.joinable()) {
                t.join();
            }
        }
        if (m_reader.joinable()) {
            m_reader.join();
        }
    }

    // Starts reading after `first`, the section the metadata pass stopped
    // at (a Pages section; with End there is nothing to read).
    void start(image::ImageReader &reader, image::ImageReader::Item first)
    {
        m_imageReader = &reader;
        if (auto *end = std::get_if<image::Section>(&first)) {
            finishReading(std::move(*end));
            return;
        }
        m_queue.push_back(std::get<image::StoredPages>(std::move(first)));
        m_reader = std::thread([this] {
            readLoop();
        });
    }

    // Decodes and writes everything with `workers` threads (this one
    // included) until the End record; returns the pages written and the End
    // record, or the first failure.
    //
    // chunkBytes > 0 (a multiple of the page size): each section is
    // decompressed in pieces of that size, each written while it is still in
    // the CPU cache; 0: a whole section at a time.
    Result<std::pair<uint64_t, image::EndRecord>> run(unsigned workers, size_t chunkBytes, uint32_t pageSize, const WriteFn &write)
    {
        m_chunkBytes = chunkBytes;
        m_pageSize = pageSize;
        for (unsigned i = 1; i < workers; ++i) {
            m_workers.emplace_back([this, &write] {
                work(write);
            });
        }
        work(write);
        for (std::thread &t : m_workers) {
            t.join();
        }
        m_workers.clear();
        std::lock_guard lock(m_mutex);
        if (m_error) {
            return std::unexpected(*m_error);
        }
        if (!m_end) {
            return fail("image: page data not followed by the End record", EINVAL); // not reached: the reader reports it
        }
        return std::pair{m_pages, *m_end};
    }

    void stop()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_cv.notify_all();
    }

    // For $CRYOPOD_RESTORE_TRACE (read once run() returned).
    uint64_t sections() const
    {
        return m_sections;
    }
    uint64_t readNs() const
    {
        return m_readNs;
    }
    uint64_t decodeNs() const
    {
        return m_decodeNs;
    }
    uint64_t writeNs() const
    {
        return m_writeNs;
    }
    uint64_t waitNs() const
    {
        return m_waitNs;
    }
    // The same as CPU time of the threads.
    uint64_t readCpuNs() const
    {
        return m_readCpuNs;
    }
    uint64_t decodeCpuNs() const
    {
        return m_decodeCpuNs;
    }
    uint64_t writeCpuNs() const
    {
        return m_writeCpuNs;
    }

private:
    static constexpr size_t kDepth = 3;

    void finishReading(image::Section last)
    {
        std::lock_guard lock(m_mutex);
        if (auto *end = std::get_if<image::EndRecord>(&last)) {
            m_end = *end;
        } else {
            failLocked(fail(std::string("image: ") + sectionName(last) + " section after page data", EINVAL).error());
        }
        m_readDone = true;
    }

    void failLocked(Error error)
    {
        if (!m_error) {
            m_error = std::move(error);
        }
        m_stop = true;
    }

    void readLoop()
    {
        for (;;) {
            const uint64_t t0 = monotonicNs();
            const uint64_t c0 = threadCpuNs();
            auto item = m_imageReader->nextStored();
            m_readNs += monotonicNs() - t0;
            m_readCpuNs += threadCpuNs() - c0;
            if (!item) {
                std::lock_guard lock(m_mutex);
                failLocked(item.error().context("read image"));
                m_readDone = true;
                break;
            }
            if (auto *section = std::get_if<image::Section>(&*item)) {
                finishReading(std::move(*section));
                break;
            }
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [this] {
                return m_queue.size() < kDepth || m_stop;
            });
            if (m_stop) {
                m_readDone = true;
                break;
            }
            m_queue.push_back(std::get<image::StoredPages>(std::move(*item)));
            lock.unlock();
            m_cv.notify_all();
        }
        m_cv.notify_all();
    }

    void work(const WriteFn &write)
    {
        image::PageDecoder decoder;
        std::unique_ptr<uint8_t[]> buffer;
        size_t capacity = 0;
        uint64_t pages = 0, decodeNs = 0, writeNs = 0, waitNs = 0, sections = 0, decodeCpuNs = 0, writeCpuNs = 0;
        for (;;) {
            const uint64_t t0 = monotonicNs();
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [this] {
                return !m_queue.empty() || m_readDone || m_stop;
            });
            if (m_stop || m_queue.empty()) {
                break;
            }
            image::StoredPages stored = std::move(m_queue.front());
            m_queue.pop_front();
            lock.unlock();
            m_cv.notify_all();
            const uint64_t t1 = monotonicNs();
            const uint64_t c1 = threadCpuNs();
            const size_t want = m_chunkBytes ? m_chunkBytes : stored.dataLength;
            if (want > capacity) {
                buffer.reset(new uint8_t[want]);
                capacity = want;
            }
            uint64_t written = 0, sectionWriteNs = 0, sectionWriteCpuNs = 0;
            Result<void> ok;
            auto writePart = [&](std::span<const image::PageRun> runs, std::span<const uint8_t> data) -> Result<void> {
                const uint64_t w0 = monotonicNs(), wc0 = threadCpuNs();
                auto n = write(stored, runs, data);
                sectionWriteNs += monotonicNs() - w0;
                sectionWriteCpuNs += threadCpuNs() - wc0;
                if (!n) {
                    return std::unexpected(n.error());
                }
                written += *n;
                return {};
            };
            if (m_chunkBytes) {
                std::vector<image::PageRun> part;
                ok = decoder.decode(stored, std::span(buffer.get(), m_chunkBytes), [&](uint64_t offset, std::span<const uint8_t> data) -> Result<void> {
                    sliceRuns(stored.runs, offset, data.size(), part);
                    return writePart(part, data);
                });
            } else {
                const std::span<uint8_t> data(buffer.get(), stored.dataLength);
                ok = decoder.decode(stored, data);
                if (ok) {
                    ok = writePart(stored.runs, data);
                }
            }
            const uint64_t t3 = monotonicNs();
            const uint64_t c3 = threadCpuNs();
            m_imageReader->recycle(std::move(stored));
            if (!ok) {
                std::lock_guard failLock(m_mutex);
                // Errors of the image itself name their section; the
                // process's own ("restore pages of vma ...") do not.
                failLocked(ok.error().message.starts_with("section #") ? ok.error().context("read image") : ok.error());
                break;
            }
            pages += written;
            ++sections;
            waitNs += t1 - t0;
            decodeNs += t3 - t1 - sectionWriteNs;
            writeNs += sectionWriteNs;
            decodeCpuNs += c3 - c1 - sectionWriteCpuNs;
            writeCpuNs += sectionWriteCpuNs;
        }
        {
            std::lock_guard lock(m_mutex);
            m_pages += pages;
            m_sections += sections;
            m_decodeNs += decodeNs;
            m_writeNs += writeNs;
            m_waitNs += waitNs;
            m_decodeCpuNs += decodeCpuNs;
            m_writeCpuNs += writeCpuNs;
        }
        m_cv.notify_all();
    }

    // The runs of `runs` (a section's, its data back to back) that bytes
    // [offset, offset + length) of its data belong to, cut to fit (all
    // page aligned).
    void sliceRuns(std::span<const image::PageRun> runs, uint64_t offset, uint64_t length, std::vector<image::PageRun> &out) const
    {
        out.clear();
        const uint64_t end = offset + length;
        uint64_t at = 0; // where the current run's data starts
        for (const image::PageRun &run : runs) {
            const uint64_t runEnd = at + uint64_t(run.pages) * m_pageSize;
            if (runEnd > offset) {
                const uint64_t from = std::max(at, offset), to = std::min(runEnd, end);
                out.push_back({run.vaddr + (from - at), uint32_t((to - from) / m_pageSize)});
            }
            at = runEnd;
            if (at >= end) {
                break;
            }
        }
    }

    image::ImageReader *m_imageReader = nullptr;
    size_t m_chunkBytes = 0;
    uint32_t m_pageSize = 4096;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<image::StoredPages> m_queue;
    bool m_readDone = false;
    bool m_stop = false;
    std::optional<Error> m_error;
    std::optional<image::EndRecord> m_end;
    uint64_t m_pages = 0;
    uint64_t m_sections = 0;
    std::atomic<uint64_t> m_readNs{0}, m_readCpuNs{0};
    uint64_t m_decodeNs = 0, m_writeNs = 0, m_waitNs = 0, m_decodeCpuNs = 0, m_writeCpuNs = 0;
    std::thread m_reader;
    std::vector<std::thread> m_workers;
};

// Page data is decompressed and written in pieces of this size, small enough
// to stay in the CPU cache between the two ($CRYOPOD_RESTORE_CHUNK_KIB to
// compare; 0: whole sections).
size_t pageChunkBytes(uint32_t pageSize)
{
    size_t kib = 256;
    if (const char *env = std::getenv("CRYOPOD_RESTORE_CHUNK_KIB"); env && *env) {
        kib = size_t(std::strtoul(env, nullptr, 10));
    }
    const size_t bytes = std::min<size_t>(kib, 64 * 1024) * 1024;
    return bytes / pageSize * pageSize;
}

// Threads that decompress and write page data: one per online CPU
// ($CRYOPOD_RESTORE_WORKERS to compare), at most 8.
unsigned pageWorkers()
{
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (const char *env = std::getenv("CRYOPOD_RESTORE_WORKERS"); env && *env) {
        n = std::strtol(env, nullptr, 10);
    }
    return unsigned(std::clamp<long>(n, 1, 8));
}

// `processes` in groups of the same `key`, each group and each process in
// it in the order of `processes`.
std::vector<std::vector<ProcessRestore *>> groupedBy(const std::vector<ProcessRestore *> &processes, const std::function<int32_t(const ProcessRestore &)> &key)
{
    std::vector<int32_t> keys;
    std::vector<std::vector<ProcessRestore *>> groups;
    for (ProcessRestore *p : processes) {
        const auto at = std::find(keys.begin(), keys.end(), key(*p));
        if (at == keys.end()) {
            keys.push_back(key(*p));
            groups.push_back({p});
        } else {
            groups[size_t(at - keys.begin())].push_back(p);
        }
    }
    return groups;
}

// Runs `step` (`name` in errors) in every process of the tree that
// `wanted` picks, all at once through ctx.drive (one process after the
// other with $CRYOPOD_RESTORE_PARALLEL=0); the first failure, naming its
// process and the step, once every process's step has ended. Processes
// sharing an fd table or an address space take their turns in one job, in
// the tree's order: every step knows in advance which fd number a call will
// get (the lowest free one), which holds only while nobody else opens or
// closes fds in that table; and the processes of one address space inject
// through one injection area and scratch space.
Result<void> inEveryProcess(RestoreContext &ctx, std::string_view name, const std::function<bool(const ProcessRestore &)> &wanted,
                            const std::function<Result<void>(ProcessRestore &)> &step)
{
    std::vector<ProcessRestore *> picked;
    for (auto &p : ctx.processes) {
        if (wanted(*p)) {
            picked.push_back(p.get());
        }
    }
    auto groups = groupedBy(picked, [&ctx](const ProcessRestore &p) {
        return ctx.sharing.at(p.entry.pid);
    });
    std::vector<ParallelDrive::Job> jobs;
    for (const std::vector<ProcessRestore *> &processes : groups) {
        jobs.emplace_back([&step, name, &processes]() -> Result<void> {
            for (ProcessRestore *process : processes) {
                auto done = step(*process);
                if (!done) {
                    return std::unexpected(done.error().context("restore process " + std::to_string(process->entry.pid) + " (" + std::string(name) + ")"));
                }
            }
            return {};
        });
    }
    return ctx.drive.run(jobs);
}

bool isLive(const ProcessRestore &p)
{
    return !p.entry.zombie;
}

// A live process with an fd table of its own.
bool ownsFdTable(const ProcessRestore &p)
{
    return !p.entry.zombie && p.entry.filesOf == 0;
}

// A live process with an address space of its own.
bool ownsAddressSpace(const ProcessRestore &p)
{
    return !p.entry.zombie && p.entry.vmOf == 0;
}

// Creates one process of the tree with its pid: the root by us (clone3
// set_tid), every other one by a clone3 injected into its parent while that
// is still the bare stub. A session or group leader becomes one right away,
// before its children are made (they inherit its session).
Result<void> createProcess(RestoreContext &ctx, ProcessRestore &p)
{
    auto step = ctx.steps.scope(p.entry.pid == ctx.tree.rootPid ? "create: spawn the root" : "create: clone3 in its parent", p.entry.pid);
    if (p.entry.pid == ctx.tree.rootPid) {
        auto process = RestoredProcess::spawn(p.entry.pid, ctx.stubPath);
        if (!process) {
            return std::unexpected(process.error());
        }
        p.process = std::move(*process);
        p.created = true;
        // Its children's and threads' tracees wait through the drive too.
        p.process.tracee().setWaiter(&ctx.drive);
    } else {
        ProcessRestore &parent = *ctx.byPid.at(p.entry.ppid);
        const int exitSignal = p.entry.zombie ? SIGCHLD : p.task.exitSignal;
        const uint64_t flags = (p.entry.filesOf != 0 ? CLONE_FILES : 0) | (p.entry.vmOf != 0 ? CLONE_VM : 0);
        auto process = RestoredProcess::forkFrom(parent.process, p.entry.pid, exitSignal, flags);
        if (!process) {
            return std::unexpected(process.error());
        }
        p.process = std::move(*process);
    }
    p.created = true;
    step.next("create: session, group, terminal");
    CRYOPOD_PROPAGATE(restoreProcessGroup(p.process, p.entry));
    // Its children inherit the session's controlling terminal.
    for (const TerminalSetup &terminal : ctx.terminalSetups) {
        if (terminal.record.sid != 0 && terminal.record.sid == p.entry.pid) {
            CRYOPOD_PROPAGATE(takeControllingTerminal(p.process, terminal));
        }
    }
    return {};
}

// Creates every process of the tree, each a child of its parent: the root,
// then level by level, every parent of a level making its children (one
// after the other, in the tree's order) at the same time as the others
// (ctx.drive). Then every process joins its group; then the placeholders of
// zombies exit with their status.
Result<void> createTree(RestoreContext &ctx)
{
    ProcessRestore &root = *ctx.processes.front();
    CRYOPOD_PROPAGATE(createProcess(ctx, root));
    std::vector<ProcessRestore *> level {&root};
    while (!level.empty()) {
        // The children of parents sharing an fd table (a controlling
        // terminal opens an fd) or an address space (the stub's injection
        // area) in one job, as in inEveryProcess().
        std::vector<ProcessRestore *> next;
        for (ProcessRestore *parent : level) {
            for (auto &p : ctx.processes) {
                if (p.get() != &root && p->entry.ppid == parent->entry.pid) {
                    next.push_back(p.get());
                }
            }
        }
        auto groups = groupedBy(next, [&ctx](const ProcessRestore &child) {
            return ctx.sharing.at(child.entry.ppid);
        });
        std::vector<ParallelDrive::Job> jobs;
        for (const std::vector<ProcessRestore *> &children : groups) {
            jobs.emplace_back([&ctx, &children]() -> Result<void> {
                for (ProcessRestore *child : children) {
                    CRYOPOD_PROPAGATE(createProcess(ctx, *child));
                }
                return {};
            });
        }
        CRYOPOD_PROPAGATE(ctx.drive.run(jobs));
        level = std::move(next);
    }
    for (auto &p : ctx.processes) {
        auto step = ctx.steps.scope("create: join group", p->entry.pid);
        CRYOPOD_PROPAGATE(joinProcessGroup(p->process, p->entry, ctx.tree));
    }
    for (auto &p : ctx.processes) {
        if (p->entry.zombie) {
            auto step = ctx.steps.scope("create: zombie exits", p->entry.pid);
            CRYOPOD_PROPAGATE(p->process.exitAs(p->entry.exitStatus));
            ctx.byPid.at(p->entry.ppid)->zombieChildren = true;
        }
    }
    ctx.step(ctx.processes.size() > 1 ? "process tree created" : "clone3 + exec stub");
    return {};
}

// From now on every call injected into p goes through the `syscall` of the
// injection area at `area`, with the batch runner and the scratch space there.
Result<void> useInjectionArea(ProcessRestore &p, uint64_t area)
{
    Injector &inj = *p.injector;
    p.injectionArea = area;
    CRYOPOD_PROPAGATE(inj.setSyscallAddress(area));
    // ($CRYOPOD_RESTORE_NO_BATCH=1: one call at a time, to compare.)
    if (const char *off = std::getenv("CRYOPOD_RESTORE_NO_BATCH"); !(off && *off && *off != '0')) {
        CRYOPOD_PROPAGATE(inj.enableBatches(area + kRunnerOffset));
    }
    // One stop per injected call (and per batch) from here on, until the
    // process's own SIGTRAP disposition or pending signals need it blocked
    // (restoreState).
    CRYOPOD_PROPAGATE(inj.enableTrapStops());
    p.scratch = RemoteScratch::adopt(inj, area, kInjectionAreaSize);
    p.scratch.reset(kScratchOffset);
    return {};
}

// A process sharing the address space of `sharer` (ProcessEntry::vmOf),
// which emptied it and has its injection area there: p injects through
// that area too (one process at a time, so the scratch space is shared).
Result<void> joinAddressSpace(ProcessRestore &p, const ProcessRestore &sharer)
{
    auto injector = Injector::create(p.process.tracee(), sharer.injectionArea);
    if (!injector) {
        return std::unexpected(
            injector.error().context("restore " + std::to_string(p.entry.pid) + " in the address space of " + std::to_string(sharer.entry.pid)));
    }
    p.injector.emplace(std::move(*injector));
    return useInjectionArea(p, sharer.injectionArea);
}

// The process whose Mm record, VMAs and pages are p's.
const ProcessRestore &addressSpaceOf(const RestoreContext &ctx, const ProcessRestore &p)
{
    return p.entry.vmOf != 0 ? *ctx.byPid.at(p.entry.vmOf) : p;
}

// Whether p is the last live process of its address space in the tree's
// order: the one that unmaps the injection area.
bool lastOfAddressSpace(const RestoreContext &ctx, const ProcessRestore &p)
{
    const int32_t space = addressSpaceOf(ctx, p).entry.pid;
    bool after = false;
    for (const auto &q : ctx.processes) {
        if (q.get() == &p) {
            after = true;
        } else if (after && !q->entry.zombie && addressSpaceOf(ctx, *q).entry.pid == space) {
            return false;
        }
    }
    return true;
}

// Empties a created process: the stub's mappings go, except the injection
// area (RWX, holding `syscall` at its start and the scratch space) and the
// special mappings, which move to the image's addresses.
Result<void> emptyProcess(ProcessRestore &p)
{
    auto injector = Injector::create(p.process.tracee(), p.process.entry() + 5);
    if (!injector) {
        return std::unexpected(injector.error().context("restore stub"));
    }
    p.injector.emplace(std::move(*injector));
    Injector &inj = *p.injector;

    auto stubMaps = procfs::readMaps(p.entry.pid);
    if (!stubMaps) {
        return std::unexpected(stubMaps.error().context("restore stub"));
    }
    auto area = findFreeRange(p.mm, *stubMaps, {}, kInjectionAreaSize);
    if (!area) {
        return std::unexpected(area.error().context("restore injection area"));
    }
    auto mapped = inj.call("restore injection area at " + hexAddr(*area) + ": mmap",
                           SYS_mmap,
                           *area,
                           kInjectionAreaSize,
                           PROT_READ | PROT_WRITE | PROT_EXEC,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                           ~0ull,
                           0);
    if (!mapped) {
        return std::unexpected(mapped.error());
    }
    if (*mapped != *area) {
        return fail("restore injection area: mmap placed it at " + hexAddr(*mapped), EEXIST);
    }
    // syscall; int3 (a stray resume traps instead of running off), and the
    // batch runner (one stop for a whole list of calls).
    const uint8_t code[] = {0x0f, 0x05, 0xcc};
    CRYOPOD_PROPAGATE(inj.memory().write(*area, code));
    static_assert(kRunnerOffset >= sizeof code);
    CRYOPOD_PROPAGATE(inj.memory().write(*area + kRunnerOffset, batchRunnerCode()));
    static_assert(kScratchOffset >= kRunnerOffset + 80);
    CRYOPOD_PROPAGATE(useInjectionArea(p, *area));

    CRYOPOD_PROPAGATE(unmapStubMappings(inj, p.scratch, *stubMaps, *area, *area + kInjectionAreaSize));
    uint64_t specialsSize = 0;
    for (const procfs::Mapping &m : *stubMaps) {
        if (specialMappingKind(m.path)) {
            specialsSize += m.end - m.start;
        }
    }
    auto temp = findFreeRange(p.mm, *stubMaps, {{*area, *area + kInjectionAreaSize}}, std::max<uint64_t>(specialsSize, 4096));
    if (!temp) {
        return std::unexpected(temp.error().context("restore vdso"));
    }
    CRYOPOD_PROPAGATE(restoreVdso(inj, p.mm, *stubMaps, *temp));
    return {};
}

// The VMAs of a process, ready for its pages.
Result<void> prepareMemory(RestoreContext &ctx, ProcessRestore &p)
{
    Injector &inj = *p.injector;
    auto step = ctx.steps.scope("memory: vmas", p.entry.pid);
    const uint64_t injected = ctx.counted(inj);
    auto mapped = restoreVmas(inj, p.scratch, p.mm, *ctx.sharedObjects);
    step.setCount(ctx.counted(inj) - injected);
    if (!mapped) {
        return std::unexpected(mapped.error());
    }
    p.mapped = std::move(*mapped);
    ctx.step("vmas mapped");
    step.next("memory: prepare page fill");
    const uint64_t filling = ctx.counted(inj);
    auto fill = preparePageFill(inj, p.scratch, p.mm, *p.mapped);
    step.setCount(ctx.counted(inj) - filling);
    if (!fill) {
        return std::unexpected(fill.error());
    }
    p.fill = std::move(*fill);
    ctx.step(p.fill->uffd.valid() ? "userfaultfd registered" : "no userfaultfd: process_vm_writev");
    return {};
}

// The pages of every process, as they come in the image (process by
// process), then what comes after the pages in each.
Result<void> restoreMemory(RestoreContext &ctx, PagePipeline &pipeline)
{
    const unsigned workers = pageWorkers();
    const size_t chunk = pageChunkBytes(ctx.pageSize);
    auto pagesStep = ctx.steps.scope("memory: pages of the tree");
    auto written = pipeline.run(workers,
                                chunk,
                                ctx.pageSize,
                                [&](const image::StoredPages &stored, std::span<const image::PageRun> runs, std::span<const uint8_t> data) -> Result<uint64_t> {
                                    const auto it = ctx.byPid.find(stored.pid);
                                    if (it == ctx.byPid.end() || it->second->entry.zombie) {
                                        return fail("image: page data of pid " + std::to_string(stored.pid) + ", no live process of the tree", EINVAL);
                                    }
                                    const ProcessRestore &p = *it->second;
                                    CRYOPOD_PROPAGATE(checkOwnAddressSpace(ctx, stored.pid, "page data"));
                                    return restorePages(p.entry.pid, p.injector->memory(), p.mm, *p.mapped, *p.fill, runs, data, ctx.pageSize);
                                });
    if (!written) {
        return std::unexpected(written.error());
    }
    pagesStep.end();
    ctx.pagesRestored = written->first;
    if (written->second.pagesStored != ctx.pagesRestored) {
        return fail("image: the end record counts " + std::to_string(written->second.pagesStored) + " pages, the image held "
                        + std::to_string(ctx.pagesRestored),
                    EINVAL);
    }
    if (ctx.trace) {
        std::fprintf(stderr,
                     "restore: %llu page records, %u workers, %zu KiB pieces: reading %.2f ms, waiting %.2f ms, decompressing %.2f ms, writing %.2f ms (thread time); "
                     "CPU: reading %.2f ms, decompressing %.2f ms, writing %.2f ms\n",
                     static_cast<unsigned long long>(pipeline.sections()),
                     workers,
                     chunk / 1024,
                     double(pipeline.readNs()) / 1e6,
                     double(pipeline.waitNs()) / 1e6,
                     double(pipeline.decodeNs()) / 1e6,
                     double(pipeline.writeNs()) / 1e6,
                     double(pipeline.readCpuNs()) / 1e6,
                     double(pipeline.decodeCpuNs()) / 1e6,
                     double(pipeline.writeCpuNs()) / 1e6);
    }
    ctx.step("pages written");
    CRYOPOD_PROPAGATE(inEveryProcess(ctx, "finish the memory", ownsAddressSpace, [&ctx](ProcessRestore &p) -> Result<void> {
        Injector &inj = *p.injector;
        auto step = ctx.steps.scope("memory: finish fill, vmas, mm", p.entry.pid);
        const uint64_t before = ctx.counted(inj);
        CRYOPOD_PROPAGATE(finishPageFill(inj, *p.fill));
        CRYOPOD_PROPAGATE(finishVmas(inj, p.scratch, p.mm, *p.mapped));
        CRYOPOD_PROPAGATE(restoreMmFields(inj, p.scratch, p.mm));
        step.setCount(ctx.counted(inj) - before);
        return {};
    }));
    ctx.step("vmas finished, mm fields");
    return {};
}

// An open file description a process takes over from another one of the tree.
struct Take {
    const image::FdRecord *fd;
    pid_t srcPid;
    int32_t srcFd;
    std::string what;
};

// The descriptions a process takes over from processes made before it
// (pidfd_open, pidfd_getfd, close, then the move out of the image's
// numbers), all in one batch of injected calls: each new fd is
// the lowest free one, known in advance from /proc/PID/fd and the calls
// before it, and checked once the batch ran.
Result<void> takeDescriptions(ProcessRestore &p, const std::vector<Take> &takes)
{
    if (takes.empty()) {
        return {};
    }
    Injector &inj = *p.injector;
    auto listed = openFdNumbers(p.entry.pid, "restore the fd table of " + std::to_string(p.entry.pid));
    if (!listed) {
        return std::unexpected(listed.error());
    }
    std::set<int> &open = *listed;
    struct Expected {
        size_t entry;
        int fd;
    };
    std::vector<Expected> expected;
    InjectBatch batch;
    for (const Take &t : takes) {
        const int pidfd = takeLowestFree(open);
        expected.push_back({batch.add(t.what + ": pidfd_open " + std::to_string(t.srcPid), SYS_pidfd_open, uint64_t(t.srcPid), 0), pidfd});
        const int taken = takeLowestFree(open);
        expected.push_back({batch.add(t.what + ": pidfd_getfd of fd " + std::to_string(t.srcFd) + " of " + std::to_string(t.srcPid), SYS_pidfd_getfd,
                                      uint64_t(pidfd), uint64_t(t.srcFd), 0),
                            taken});
        batch.add(t.what + ": close pidfd", SYS_close, uint64_t(pidfd));
        open.erase(pidfd);
        p.objectFds->byFd[t.fd->fd] = p.objectFds->adoptInBatch(batch, open, taken, t.what);
    }
    CRYOPOD_PROPAGATE(inj.run(batch, p.scratch));
    for (const Expected &e : expected) {
        if (batch.result(e.entry) != uint64_t(e.fd)) {
            return fail(batch.entries()[e.entry].what + ": returned fd " + std::to_string(int64_t(batch.result(e.entry))) + ", not the lowest free one ("
                            + std::to_string(e.fd) + ")",
                        EBADF);
        }
    }
    return {};
}

// The fd tables, process by process in the tree's order: the objects a
// process creates (pipes, eventfds, ... with the descriptions later
// processes take over), the descriptions it takes over from earlier
// processes, then its fds in order. The temporary fds stay until every
// process has its table (finishFiles).
Result<void> restoreFileTable(ProcessRestore &p, RestoreContext &ctx)
{
    Injector &inj = *p.injector;
    std::map<int32_t, std::string> copies;
    for (const auto &[fd, file] : p.unlinkedFiles) {
        copies.emplace(fd, file.path());
    }
    // The process binds its sockets before it gets its credentials back: a
    // port below 1024 only for an image that had the right to bind one.
    constexpr uint64_t kCapNetBindService = uint64_t(1) << 10;
    for (const image::FileObjectRecord &o : p.fileObjects) {
        if (o.kind == image::FileObjectKind::InetSocket && o.localPort != 0 && o.localPort < 1024 && !(p.creds.capEffective & kCapNetBindService)) {
            return fail("restore socket object " + std::to_string(o.id) + " of " + std::to_string(p.entry.pid) + ": port " + std::to_string(o.localPort) +
                            " is below 1024 and the image's credentials lack CAP_NET_BIND_SERVICE",
                        EPERM);
        }
    }
    auto objectFds = createFileObjects(inj, p.scratch, p.ownerView, p.fileObjects);
    if (!objectFds) {
        return std::unexpected(objectFds.error());
    }
    p.objectFds = std::move(*objectFds);
    std::vector<Take> takes;
    for (const image::FdRecord &fd : p.files.fds) {
        if (fd.dupOf != -1) {
            continue;
        }
        const std::string what = "restore fd " + std::to_string(fd.fd) + " of " + std::to_string(p.entry.pid);
        pid_t srcPid = 0;
        int32_t srcFd = -1;
        if (fd.kind == image::FdKind::Memfd && fd.sharedPid == 0) {
            // Its own description of the memfd the helper made (shmem.h).
            auto opened = openSharedMemory(inj, *ctx.sharedObjects, fd);
            if (!opened) {
                return std::unexpected(opened.error());
            }
            auto kept = p.objectFds->adopt(inj, *opened, what);
            if (!kept) {
                return std::unexpected(kept.error());
            }
            p.objectFds->byFd[fd.fd] = *kept;
            continue;
        }
        if (fd.sharedPid != 0) {
            srcPid = fd.sharedPid;
            srcFd = fd.sharedFd;
        } else if (namesFileObject(fd) && !std::any_of(p.fileObjects.begin(), p.fileObjects.end(), [&](const image::FileObjectRecord &o) {
                       return o.id == fd.object;
                   })) {
            // A description another process made for this fd.
            for (const auto &owner : ctx.processes) {
                const auto key = owner->foreign.keys.find({p.entry.pid, fd.fd});
                if (key == owner->foreign.keys.end()) {
                    continue;
                }
                const auto temporary = owner->objectFds ? owner->objectFds->byFd.find(key->second) : std::map<int32_t, int32_t>::const_iterator{};
                if (!owner->objectFds || temporary == owner->objectFds->byFd.end()) {
                    return fail(what + ": process " + std::to_string(owner->entry.pid) + " did not make its open file", EINVAL);
                }
                srcPid = owner->entry.pid;
                srcFd = temporary->second;
            }
            if (srcPid == 0) {
                return fail(what + ": no process of the tree makes its file object " + std::to_string(fd.object), EINVAL);
            }
        } else {
            continue;
        }
        takes.push_back({&fd, srcPid, srcFd, what});
    }
    CRYOPOD_PROPAGATE(takeDescriptions(p, takes));
    std::vector<pid_t> tids;
    for (const image::ThreadRecord &thread : p.threads) {
        tids.push_back(thread.tid);
    }
    p.lateProcFiles = lateProcFiles(p.files, tids);
    CRYOPOD_PROPAGATE(restoreFiles(inj, p.scratch, p.files, copies, p.objectFds->byFd, p.lateProcFiles));
    CRYOPOD_PROPAGATE(restoreFileLocks(inj, p.scratch, p.files));
    p.unlinkedFiles.clear(); // opened: the names go, as they were gone before
    return {};
}

// The other threads: each is created with its tid by a clone3 injected in
// the leader, then gets its own state by injection through the same
// `syscall` instruction and scratch space. Each queues its own pending
// signals (the kernel lets a thread queue a signal with a kill()-like or
// kernel siginfo to itself only).
Result<void> createThreads(RestoreContext &ctx, ProcessRestore &p)
{
    if (p.threads.size() < 2) {
        return {};
    }
    Injector &leader = *p.injector;
    CRYOPOD_PROPAGATE(p.process.traceClones());
    for (size_t i = 1; i < p.threads.size(); ++i) {
        const image::ThreadRecord &thread = p.threads[i];
        auto tid = cloneThread(leader, p.scratch, thread);
        if (!tid) {
            return std::unexpected(tid.error());
        }
        auto tracee = p.process.adoptThread(*tid);
        if (!tracee) {
            return std::unexpected(tracee.error());
        }
        auto injector = Injector::create(**tracee, p.injectionArea);
        if (!injector) {
            return std::unexpected(injector.error().context("restore thread " + std::to_string(*tid)));
        }
        RemoteScratch scratch = RemoteScratch::adopt(*injector, p.injectionArea, kInjectionAreaSize);
        scratch.reset(kScratchOffset);
        Result<void> r;
        if (leader.trapStops()) {
            r = injector->enableTrapStops();
        }
        if (r && leader.batches()) {
            r = injector->enableBatches(p.injectionArea + kRunnerOffset);
        }
        if (r) {
            r = restoreThreadInjected(*injector, scratch, thread);
        }
        if (r) {
            // Its mask blocks everything while injecting (inherited from
            // the leader's injector): they stay pending.
            r = restorePendingSignals(*injector, scratch, p.entry.pid, thread.tid, thread.pending, false);
        }
        if (r) {
            r = restoreCreds(*injector, scratch, p.creds);
        }
        scratch.release(); // the leader unmaps the area
        ctx.injected += injector->injectedCount();
        ctx.roundTrips += injector->roundTrips();
        injector->dismiss(); // restoreThreadState() sets the final registers and mask
        CRYOPOD_PROPAGATE(r);
    }
    return {};
}

// Trap stops (ptrace_inject.h) leave SIGTRAP unblocked while injecting: not
// once the process ignores SIGTRAP (an int3 would reset that to SIG_DFL), has
// one pending or a POSIX timer that sends one (it would be delivered).
bool trapStopsAllowed(const ProcessRestore &p)
{
    const bool trapTimer = std::any_of(p.timers.posix.begin(), p.timers.posix.end(), [](const image::PosixTimer &t) {
        return t.notify != 1 /* SIGEV_NONE */ && t.signo == SIGTRAP;
    });
    if (trapTimer) {
        return false;
    }
    auto pendingTrap = [](const std::vector<image::PendingSignal> &pending) {
        return std::any_of(pending.begin(), pending.end(), [](const image::PendingSignal &s) {
            return s.signo == SIGTRAP;
        });
    };
    const bool ignored = std::any_of(p.signals.actions.begin(), p.signals.actions.end(), [](const image::SigactionEntry &a) {
        return a.signo == SIGTRAP && a.handler == uint64_t(1); // SIG_IGN
    });
    return !ignored && !pendingTrap(p.signals.pending) && std::none_of(p.threads.begin(), p.threads.end(), [&](const image::ThreadRecord &t) {
        return pendingTrap(t.pending);
    });
}

// Everything after the fd table, up to the registers.
Result<void> restoreState(RestoreContext &ctx, ProcessRestore &p)
{
    Injector &inj = *p.injector;
    const image::ThreadRecord &leader = p.threads.front();
    uint64_t injected = ctx.counted(inj);
    auto step = ctx.steps.scope("state: task, rlimits", p.entry.pid);
    // Each step with the system calls it injected.
    auto next = [&](std::string_view name) {
        step.setCount(ctx.counted(inj) - injected);
        injected = ctx.counted(inj);
        step.next(name);
    };
    CRYOPOD_PROPAGATE(restoreTask(inj, p.scratch, p.task));
    CRYOPOD_PROPAGATE(restoreRlimits(inj, p.scratch, p.task));
    next("state: dispositions");
    if (!trapStopsAllowed(p)) {
        CRYOPOD_PROPAGATE(inj.disableTrapStops());
    }
    CRYOPOD_PROPAGATE(restoreSignals(inj, p.scratch, p.signals));
    next("state: leader thread");
    CRYOPOD_PROPAGATE(restoreThreadInjected(inj, p.scratch, leader));
    next("state: pending signals, root");
    if (p.zombieChildren) {
        // The placeholders' SIGCHLD (blocked, so queued): it was delivered
        // before the checkpoint, or is among the pending signals below.
        CRYOPOD_PROPAGATE(takeBackSigchld(inj, p.scratch));
    }
    // While the injector blocks every signal: they stay pending through the
    // rest of the rebuild; restoreThreadState() then puts the image's mask back.
    CRYOPOD_PROPAGATE(restorePendingSignals(inj, p.scratch, p.entry.pid, leader.tid, p.signals.pending, true));
    CRYOPOD_PROPAGATE(restorePendingSignals(inj, p.scratch, p.entry.pid, leader.tid, leader.pending, false));
    CRYOPOD_PROPAGATE(restoreRoot(inj, p.scratch, p.task));
    // The last path-based step is done: the credentials need the restorer's
    // own filesystem identity to start from.
    if (ctx.options.openAs) {
        CRYOPOD_PROPAGATE(leaveFsIdentity(inj));
    }
    // Threads share cwd, root and fs identity with the leader (CLONE_FS) but
    // have credentials of their own: they are created while the leader may
    // still choose tids (CAP_CHECKPOINT_RESTORE) and set theirs themselves.
    next("state: other threads");
    CRYOPOD_PROPAGATE(createThreads(ctx, p));
    next("state: timers, creds");
    ctx.step(p.threads.size() > 1 ? "threads created" : "single thread");
    if (!p.lateProcFiles.empty()) {
        // The /proc files of its threads, now that they exist.
        image::FilesRecord late;
        late.pid = p.files.pid;
        std::copy_if(p.files.fds.begin(), p.files.fds.end(), std::back_inserter(late.fds), [&](const image::FdRecord &fd) {
            return p.lateProcFiles.contains(fd.fd);
        });
        CRYOPOD_PROPAGATE(restoreFiles(inj, p.scratch, late, {}));
    }
    // After the threads: a POSIX timer may signal one of them (SIGEV_THREAD_ID).
    CRYOPOD_PROPAGATE(restoreTimers(inj, p.scratch, p.timers));
    CRYOPOD_PROPAGATE(restoreCreds(inj, p.scratch, p.creds));
    ctx.step("files, task, signals, creds");
    // The injection area goes last: the munmap returns at its syscall-exit
    // stop and no thread runs there again. In an address space shared with
    // other processes (ProcessEntry::vmOf) the last of them in the tree's
    // order removes it: it is the last to inject anything.
    next("state: unmap injection area");
    if (lastOfAddressSpace(ctx, p)) {
        // Its munmap must stop at the syscall-exit stop: the int3 after the
        // instruction goes with the area.
        CRYOPOD_PROPAGATE(inj.disableTrapStops());
        CRYOPOD_PROPAGATE(p.scratch.unmap());
    } else {
        p.scratch.release();
    }
    ctx.injected += inj.injectedCount();
    ctx.roundTrips += inj.roundTrips();
    step.setCount(ctx.counted(inj) - injected);
    inj.dismiss();
    step.next("state: seccomp, registers");
    // Seccomp filters last of all that runs in the process: they may forbid
    // any of the calls above. Through the vDSO's `syscall` instruction.
    std::vector<Tracee *> tracees {&p.process.tracee()};
    for (Tracee &thread : p.process.threads()) {
        tracees.push_back(&thread);
    }
    CRYOPOD_PROPAGATE(restoreSeccomp(tracees, p.threads, addressSpaceOf(ctx, p).mm, &ctx.injected));
    ctx.step("seccomp");
    CRYOPOD_PROPAGATE(restoreThreadState(p.process.tracee(), leader));
    for (size_t i = 1; i < p.threads.size(); ++i) {
        CRYOPOD_PROPAGATE(restoreThreadState(p.process.threads()[i - 1], p.threads[i]));
    }
    return {};
}

// Every process and thread is ready: let them all go, one right after the
// other (children first, so that no parent runs before its children exist
// as they were).
Result<void> letGo(RestoreContext &ctx)
{
    if (ctx.options.frozen) {
        for (auto &p : ctx.processes) {
            // Queued now, taken when the process leaves the ptrace stop: it
            // enters a group stop before running a single instruction.
            if (!p->entry.zombie && ::kill(p->entry.pid, SIGSTOP) != 0) {
                return sysError("restore: stop " + std::to_string(p->entry.pid));
            }
        }
    }
    for (auto &p : ctx.processes) {
        p->injector.reset();
    }
    for (auto it = ctx.processes.rbegin(); it != ctx.processes.rend(); ++it) {
        ProcessRestore &p = **it;
        if (p.entry.zombie) {
            continue;
        }
        auto step = ctx.steps.scope("detach", p.entry.pid);
        for (Tracee &thread : p.process.threads()) {
            auto r = thread.detach(0);
            if (!r) {
                return std::unexpected(r.error().context("restore: detach"));
            }
        }
        auto r = p.process.tracee().detach(0);
        if (!r) {
            return std::unexpected(r.error().context("restore: detach"));
        }
        p.process.release();
    }
    if (ctx.options.frozen) {
        // Back from its ptrace stop, each thread takes the queued SIGSTOP
        // before its first instruction; until then /proc shows it running.
        // Return once every thread is stopped (or after 5 s), so that
        // "restored frozen" holds when the caller looks.
        for (auto &p : ctx.processes) {
            for (const image::ThreadRecord &thread : p->threads) {
                for (int waited = 0;; ++waited) {
                    auto stat = procfs::readStat(p->entry.pid, thread.tid);
                    if (!stat || stat->state() == 'T') {
                        break; // stopped, or gone (the caller sees that itself)
                    }
                    if (waited >= 5000) {
                        break; // restored all the same: it stops when it leaves the kernel
                    }
                    ::usleep(1000);
                }
            }
        }
    }
    return {};
}

Result<void> run(RestoreContext &ctx, int inFd)
{
    // Uncompressed page data of an image file goes from the page cache
    // through each worker's small buffer into the process
    // ($CRYOPOD_RESTORE_NO_DEFER=1 to compare with reading it all first).
    image::ReaderLimits limits;
    const char *noDefer = std::getenv("CRYOPOD_RESTORE_NO_DEFER");
    limits.deferRawPages = !(noDefer && *noDefer && *noDefer != '0');
    auto reader = image::ImageReader::open(inFd, limits);
    if (!reader) {
        return std::unexpected(reader.error().context("read image"));
    }
    CRYOPOD_PROPAGATE(checkHeader(ctx, (*reader)->header()));
    ctx.step("image header");
    std::optional<image::ImageReader::Item> pending;
    auto step = ctx.steps.scope("read metadata, validate");
    CRYOPOD_PROPAGATE(readMetadata(ctx, **reader, pending));
    step.next("terminals, SysV and shared memory objects");
    ctx.step("metadata read, validated");
    // From here on only the pipeline's thread reads the image; it reads
    // ahead while the processes are created.
    // The terminals first: the fds of the tree open them by their new paths.
    auto terminals = openTerminals(ctx.terminals, ctx.options.pty, ctx.options.openAs);
    if (!terminals) {
        return std::unexpected(terminals.error());
    }
    ctx.terminalSetups = std::move(*terminals);
    for (auto &p : ctx.processes) {
        retargetTerminalFds(p->files, ctx.terminalSetups);
    }
    PagePipeline pipeline;
    pipeline.start(**reader, std::move(*pending));
    // The SysV objects with their ids (sysvipc.h), removed again if the
    // restore fails; then the shared memory objects (a segment's memory among
    // them), made by us and filled before any process maps them (shmem.h);
    // their contents are not needed again.
    auto sysvObjects = SysvObjects::create(ctx.sysvIpc, ctx.options.openAs);
    if (!sysvObjects) {
        return std::unexpected(sysvObjects.error());
    }
    ctx.sysvObjects = std::move(*sysvObjects);
    auto sharedObjects = SharedMemoryObjects::create(ctx.sharedMemory, ctx.options.openAs, *ctx.sysvObjects);
    if (!sharedObjects) {
        return std::unexpected(sharedObjects.error());
    }
    ctx.sharedObjects = std::move(*sharedObjects);
    ctx.sharedMemory.clear();
    ctx.step("shared memory objects");
    step.end();
    CRYOPOD_PROPAGATE(createTree(ctx));
    // From here on each step runs in every process at once (inEveryProcess),
    // wherever the processes do not depend on each other.
    CRYOPOD_PROPAGATE(inEveryProcess(ctx, "empty the stub, map the memory", isLive, [&ctx](ProcessRestore &p) -> Result<void> {
        if (p.entry.vmOf != 0) {
            // The address space is its sharer's, emptied and filled by it
            // (an earlier process of the same job: an ancestor).
            CRYOPOD_PROPAGATE(joinAddressSpace(p, addressSpaceOf(ctx, p)));
            if (ctx.options.openAs) {
                CRYOPOD_PROPAGATE(assumeFsIdentity(*p.injector, p.scratch, *ctx.options.openAs));
            }
            return {};
        }
        auto emptied = ctx.steps.scope("empty the stub, vdso", p.entry.pid);
        CRYOPOD_PROPAGATE(emptyProcess(p));
        emptied.setCount(ctx.counted(*p.injector));
        emptied.end();
        // Every path the image names (mapped files, exe, fds, cwd, root) is
        // opened by the process itself, from here on with the caller's rights.
        if (ctx.options.openAs) {
            CRYOPOD_PROPAGATE(assumeFsIdentity(*p.injector, p.scratch, *ctx.options.openAs));
        }
        return prepareMemory(ctx, p);
    }));
    ctx.step("processes created, emptied");
    CRYOPOD_PROPAGATE(restoreMemory(ctx, pipeline));
    // A process sharing another's fd table (CLONE_FILES) has it by now. One
    // process after the other: each takes descriptions from those before it.
    for (auto &p : ctx.processes) {
        if (ownsFdTable(*p)) {
            auto filesStep = ctx.steps.scope("files: fd table", p->entry.pid);
            const uint64_t injected = ctx.counted(*p->injector);
            CRYOPOD_PROPAGATE(restoreFileTable(*p, ctx));
            filesStep.setCount(ctx.counted(*p->injector) - injected);
        }
    }
    // Every fd table is complete: the epoll registrations, then the
    // temporary fds go (later processes took what they needed of them).
    CRYOPOD_PROPAGATE(inEveryProcess(ctx, "finish the file objects", ownsFdTable, [&ctx](ProcessRestore &p) -> Result<void> {
        auto filesStep = ctx.steps.scope("files: finish objects", p.entry.pid);
        const uint64_t injected = ctx.counted(*p.injector);
        CRYOPOD_PROPAGATE(finishFileObjects(*p.injector, p.scratch, p.ownerView, p.fileObjects, *p.objectFds));
        filesStep.setCount(ctx.counted(*p.injector) - injected);
        return {};
    }));
    // Each session's controlling terminal and foreground group, now that
    // every process group exists.
    step.next("terminals, seals, SysV contents");
    for (const TerminalSetup &terminal : ctx.terminalSetups) {
        if (terminal.record.sid != 0) {
            ProcessRestore &leader = *ctx.byPid.at(terminal.record.sid);
            CRYOPOD_PROPAGATE(restoreControllingTerminal(*leader.injector, leader.scratch, terminal));
        }
    }
    // Every memfd is mapped and open where it was: its seals now. Every
    // segment is attached: those the tree had removed go again; the queues
    // and semaphore sets get their messages and values, sent and set as the
    // processes that did so last.
    CRYOPOD_PROPAGATE(ctx.sharedObjects->seal());
    CRYOPOD_PROPAGATE(ctx.sysvObjects->removeDestroyed());
    CRYOPOD_PROPAGATE(ctx.sysvObjects->fill([&ctx](int32_t pid) -> std::optional<SysvActor> {
        const auto it = ctx.byPid.find(pid);
        if (it == ctx.byPid.end() || it->second->entry.zombie || !it->second->injector) {
            return std::nullopt;
        }
        return SysvActor{&*it->second->injector, &it->second->scratch};
    }));
    ctx.step("fd tables");
    step.end();
    CRYOPOD_PROPAGATE(
        inEveryProcess(ctx, "task, signals, threads, credentials, registers", isLive, [&ctx](ProcessRestore &p) { return restoreState(ctx, p); }));
    // Every process is what it was but for the ptrace stop: the /proc files
    // get their offsets (procfiles.h).
    for (auto &p : ctx.processes) {
        if (!p->entry.zombie && p->entry.filesOf == 0) {
            CRYOPOD_PROPAGATE(positionProcFiles(p->entry.pid, p->files));
        }
    }
    CRYOPOD_PROPAGATE(letGo(ctx));
    ctx.sysvObjects->keep();
    ctx.step("detached");
    if (ctx.trace) {
        std::fprintf(stderr, "restore: %zu processes, %llu pages, %llu injected system calls, %llu ptrace stops for them\n", ctx.processes.size(),
                     static_cast<unsigned long long>(ctx.pagesRestored), static_cast<unsigned long long>(ctx.injected),
                     static_cast<unsigned long long>(ctx.roundTrips));
        const ParallelDrive::Counts &drive = ctx.drive.counts();
        std::fprintf(stderr, "restore: %s drive: %llu steps of %llu processes in all, %llu switches, %llu stops collected, %llu sleeps, %llu naps\n",
                     ctx.drive.enabled() ? "parallel" : "serial ($CRYOPOD_RESTORE_PARALLEL=0)", static_cast<unsigned long long>(drive.runs),
                     static_cast<unsigned long long>(drive.jobs), static_cast<unsigned long long>(drive.switches),
                     static_cast<unsigned long long>(drive.collected), static_cast<unsigned long long>(drive.sleeps),
                     static_cast<unsigned long long>(drive.naps));
        ctx.steps.print("cryopod restore steps", monotonicNs() - ctx.startNs);
    }
    return {};
}

} // namespace

Result<RestoreResult> restore(int inFd, const RestoreOptions &options)
{
    RestoreContext ctx;
    ctx.options = options;
    ctx.startNs = monotonicNs();
    ctx.lastNs = ctx.startNs;
    const char *trace = std::getenv("CRYOPOD_RESTORE_TRACE");
    ctx.trace = trace && *trace && *trace != '0';
    ctx.steps.setLevel(StepTrace::levelOf("CRYOPOD_RESTORE_TRACE"));
    // The parallel drive is on unless $CRYOPOD_RESTORE_PARALLEL=0 (one
    // process after the other, to compare).
    const char *parallel = std::getenv("CRYOPOD_RESTORE_PARALLEL");
    ctx.drive.setEnabled(!(parallel && std::string_view(parallel) == "0"));
    const char *count = std::getenv("CRYOPOD_RESTORE_TRACE_COUNT");
    ctx.countStops = count && std::string_view(count) == "stops";
    auto stub = findRestoreStub();
    if (!stub) {
        return std::unexpected(stub.error());
    }
    ctx.stubPath = *stub;
    auto r = run(ctx, inFd);
    if (!r) {
        // Kill first, so that nothing more is injected into a process that
        // is going away (children first, each reaped by us as its tracer);
        // then the members clean up (temp files unlinked).
        for (auto &p : ctx.processes) {
            p->scratch.release();
            if (p->injector) {
                p->injector->dismiss();
            }
        }
        // A child killed while its parent lives stays the parent's zombie;
        // as a child subreaper (for this moment, if we are none) we inherit
        // it when the parent dies and reap it: nothing is left behind.
        int wasSubreaper = 0;
        ::prctl(PR_GET_CHILD_SUBREAPER, &wasSubreaper);
        if (!wasSubreaper) {
            ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        }
        std::vector<pid_t> created;
        for (auto it = ctx.processes.rbegin(); it != ctx.processes.rend(); ++it) {
            if ((*it)->created) {
                created.push_back((*it)->entry.pid);
            }
            (*it)->process.kill();
        }
        for (const pid_t pid : created) {
            for (int attempt = 0; attempt < 200; ++attempt) {
                const pid_t r = ::waitpid(pid, nullptr, __WALL | WNOHANG);
                if (r < 0 && errno != EINTR) {
                    break; // reaped (or never ours)
                }
                if (r == 0) {
                    ::usleep(1000);
                }
            }
        }
        if (!wasSubreaper) {
            ::prctl(PR_SET_CHILD_SUBREAPER, 0);
        }
        Error error = r.error();
        if (options.openAs && (error.code == EACCES || error.code == EPERM)) {
            error.message += " (with the caller's rights: uid " + std::to_string(options.openAs->uid) + ", gid " + std::to_string(options.openAs->gid) + ")";
        }
        return std::unexpected(error);
    }
    RestoreResult result;
    result.root = ctx.tree.rootPid;
    result.totalNs = monotonicNs() - ctx.startNs;
    for (TerminalSetup &terminal : ctx.terminalSetups) {
        result.terminals.push_back(std::move(terminal.restored));
    }
    return result;
}

} // namespace cryopod::engine
