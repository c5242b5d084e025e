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
// - chroot after everything that opens paths, credentials after everything
//   that needs privileges, the blocked mask and registers from outside last.
#include "restore.h"

#include "creds.h"
#include "files.h"
#include "mem.h"
#include "procfs.h"
#include "regs.h"
#include "signals.h"
#include "task.h"
#include "threads.h"
#include "vdso.h"

#include "imagereader.h"

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <sys/mman.h>
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
    if (!m_path.empty()) {
        ::unlink(m_path.c_str());
    }
}

namespace
{

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
    static const char *const names[] = {"ProcessTree", "Task", "Thread", "Creds", "Signals", "Mm", "Files", "FileData", "Pages", "End"};
    return names[section.index()];
}

// Everything the restore needs to know is checked here, before the process
// exists.
Result<void> validate(RestoreContext &ctx, const std::vector<bool> &seen)
{
    const char *required[] = {"ProcessTree", "Task", "Thread", "Creds", "Signals", "Mm", "Files"};
    for (size_t i = 0; i < std::size(required); ++i) {
        if (!seen[i]) {
            return fail(std::string("image has no ") + required[i] + " section before its page data", EINVAL);
        }
    }
    const int32_t pid = ctx.entry.pid;
    if (ctx.task.pid != pid || ctx.creds.pid != pid || ctx.signals.pid != pid || ctx.mm.pid != pid || ctx.files.pid != pid || ctx.thread.pid != pid) {
        return fail("image sections belong to different processes (expected all of pid " + std::to_string(pid) + ")", EINVAL);
    }
    if (ctx.thread.tid != pid) {
        return fail("image thread " + std::to_string(ctx.thread.tid) + " is not the leader of " + std::to_string(pid) + " (engine v1 restores one thread)",
                    ENOTSUP);
    }
    CRYOPOD_PROPAGATE(validateMmForRestore(ctx.mm, ctx.pageSize));
    CRYOPOD_PROPAGATE(checkVdsoCompatible(ctx.mm));
    CRYOPOD_PROPAGATE(validateFilesForRestore(ctx.files));
    CRYOPOD_PROPAGATE(checkCredsRestorable(ctx.creds));
    return {};
}

// Reads sections up to the first Pages or End section (returned in
// `pending`), validating once all metadata is known. FileData sections are
// written to disk as they come (after validation).
Result<void> readMetadata(RestoreContext &ctx, image::ImageReader &reader, std::optional<image::Section> &pending)
{
    // ProcessTree, Task, Thread, Creds, Signals, Mm, Files: exactly once each.
    std::vector<bool> seen(7, false);
    bool validated = false;
    for (;;) {
        auto next = reader.next();
        if (!next) {
            return std::unexpected(next.error().context("read image"));
        }
        image::Section &section = *next;
        const size_t index = section.index();
        if (index > 0 && index < 7 && !seen[0]) {
            return fail(std::string("image: ") + sectionName(section) + " section before the process tree", EINVAL);
        }
        if (index < 7) {
            if (seen[index]) {
                return fail(std::string("image: more than one ") + sectionName(section) + " section (engine v1 restores one single-threaded process)", ENOTSUP);
            }
            if (validated) {
                return fail(std::string("image: ") + sectionName(section) + " section after file or page data", EINVAL);
            }
            seen[index] = true;
        }
        if (index >= 7 && !validated) {
            CRYOPOD_PROPAGATE(validate(ctx, seen));
            validated = true;
        }
        if (auto *tree = std::get_if<image::ProcessTreeRecord>(&section)) {
            if (tree->processes.size() != 1) {
                return fail("image holds " + std::to_string(tree->processes.size()) + " processes (engine v1 restores one)", ENOTSUP);
            }
            const image::ProcessEntry &entry = tree->processes.front();
            if (entry.pid != tree->rootPid || entry.tids.size() != 1 || entry.tids.front() != entry.pid) {
                return fail("image process " + std::to_string(entry.pid) + " has " + std::to_string(entry.tids.size()) + " threads (engine v1 restores one)",
                            ENOTSUP);
            }
            if (entry.pid <= 1) {
                return fail("image root pid " + std::to_string(entry.pid) + " is invalid", EINVAL);
            }
            ctx.entry = entry;
            ctx.tree = std::move(*tree);
        } else if (auto *task = std::get_if<image::TaskRecord>(&section)) {
            ctx.task = std::move(*task);
        } else if (auto *thread = std::get_if<image::ThreadRecord>(&section)) {
            ctx.thread = std::move(*thread);
        } else if (auto *creds = std::get_if<image::CredsRecord>(&section)) {
            ctx.creds = std::move(*creds);
        } else if (auto *signals = std::get_if<image::SignalsRecord>(&section)) {
            ctx.signals = std::move(*signals);
        } else if (auto *mm = std::get_if<image::MmRecord>(&section)) {
            ctx.mm = std::move(*mm);
        } else if (auto *files = std::get_if<image::FilesRecord>(&section)) {
            ctx.files = std::move(*files);
        } else if (auto *data = std::get_if<image::FileDataRecord>(&section)) {
            const auto fd = std::find_if(ctx.files.fds.begin(), ctx.files.fds.end(), [&](const image::FdRecord &r) {
                return r.fd == data->fd;
            });
            if (data->pid != ctx.entry.pid || fd == ctx.files.fds.end() || !fd->unlinked) {
                return fail("image: file data for fd " + std::to_string(data->fd) + ", which is not an unlinked file of the process", EINVAL);
            }
            if (ctx.unlinkedFiles.contains(data->fd)) {
                return fail("image: file data for fd " + std::to_string(data->fd) + " twice", EINVAL);
            }
            auto path = createUnlinkedFileCopy(*fd, *data);
            if (!path) {
                return std::unexpected(path.error());
            }
            ctx.unlinkedFiles.emplace(data->fd, TempFile(*path));
        } else {
            pending = std::move(section); // Pages or End
            return {};
        }
    }
}

// Reads the page sections on a second thread while the tracer thread writes
// the previous ones into the process: decompression and the copy into the
// target overlap (each runs at roughly the same speed). At most kDepth
// decoded sections wait. Destroying the pipe stops the reader after the
// section it is reading (with a stalled input stream, after that stream ends).
class SectionPipe
{
public:
    SectionPipe() = default;
    SectionPipe(const SectionPipe &) = delete;
    SectionPipe &operator=(const SectionPipe &) = delete;
    ~SectionPipe()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_cv.notify_all();
        if (m_thread.joinable()) {
            m_thread.join();
        }
    }

    void start(image::ImageReader &reader)
    {
        m_thread = std::thread([this, &reader] {
            for (;;) {
                auto section = reader.next();
                const bool last = !section || std::holds_alternative<image::EndRecord>(*section);
                std::unique_lock lock(m_mutex);
                m_cv.wait(lock, [this] {
                    return m_queue.size() < kDepth || m_stop;
                });
                if (m_stop) {
                    return;
                }
                m_queue.push_back(std::move(section));
                lock.unlock();
                m_cv.notify_all();
                if (last) {
                    return;
                }
            }
        });
    }

    Result<image::Section> pop()
    {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [this] {
            return !m_queue.empty();
        });
        Result<image::Section> section = std::move(m_queue.front());
        m_queue.pop_front();
        lock.unlock();
        m_cv.notify_all();
        return section;
    }

private:
    static constexpr size_t kDepth = 2;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Result<image::Section>> m_queue;
    bool m_stop = false;
    std::thread m_thread;
};

// Creates the process and empties it: the stub's mappings go, except the
// injection area (RWX, holding `syscall` at its start and the scratch space)
// and the special mappings, which move to the image's addresses.
Result<void> createProcess(RestoreContext &ctx)
{
    auto process = RestoredProcess::spawn(ctx.entry.pid, ctx.stubPath);
    if (!process) {
        return std::unexpected(process.error());
    }
    ctx.process = std::move(*process);
    ctx.step("clone3 + exec stub");

    auto injector = Injector::create(ctx.process.tracee(), ctx.process.entry() + 5);
    if (!injector) {
        return std::unexpected(injector.error().context("restore stub"));
    }
    ctx.injector.emplace(std::move(*injector));
    Injector &inj = *ctx.injector;

    auto stubMaps = procfs::readMaps(ctx.entry.pid);
    if (!stubMaps) {
        return std::unexpected(stubMaps.error().context("restore stub"));
    }
    auto area = findFreeRange(ctx.mm, *stubMaps, {}, kInjectionAreaSize);
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
    ctx.injectionArea = *area;
    // syscall; int3 (a stray resume traps instead of running off)
    const uint8_t code[] = {0x0f, 0x05, 0xcc};
    CRYOPOD_PROPAGATE(inj.memory().write(*area, code));
    CRYOPOD_PROPAGATE(inj.setSyscallAddress(*area));
    ctx.scratch = RemoteScratch::adopt(inj, *area, kInjectionAreaSize);
    ctx.scratch.reset(kScratchOffset);

    CRYOPOD_PROPAGATE(unmapStubMappings(inj, *stubMaps, *area, *area + kInjectionAreaSize));
    uint64_t specialsSize = 0;
    for (const procfs::Mapping &m : *stubMaps) {
        if (specialMappingKind(m.path)) {
            specialsSize += m.end - m.start;
        }
    }
    auto temp = findFreeRange(ctx.mm, *stubMaps, {{*area, *area + kInjectionAreaSize}}, std::max<uint64_t>(specialsSize, 4096));
    if (!temp) {
        return std::unexpected(temp.error().context("restore vdso"));
    }
    CRYOPOD_PROPAGATE(restoreVdso(inj, ctx.mm, *stubMaps, *temp));
    return {};
}

Result<void> restoreMemory(RestoreContext &ctx, SectionPipe &pipe, std::optional<image::Section> &pending)
{
    Injector &inj = *ctx.injector;
    auto mapped = restoreVmas(inj, ctx.scratch, ctx.mm);
    if (!mapped) {
        return std::unexpected(mapped.error());
    }
    ctx.step("vmas mapped");
    uint64_t readNs = 0, writeNs = 0, pageRecords = 0;
    while (pending) {
        if (auto *pages = std::get_if<image::PagesRecord>(&*pending)) {
            if (pages->pid != ctx.entry.pid) {
                return fail("image: page data of pid " + std::to_string(pages->pid) + ", not of " + std::to_string(ctx.entry.pid), EINVAL);
            }
            const uint64_t writeStart = ctx.trace ? monotonicNs() : 0;
            auto n = restorePages(ctx.entry.pid, inj.memory(), ctx.mm, *mapped, *pages, ctx.pageSize);
            if (!n) {
                return std::unexpected(n.error());
            }
            ctx.pagesRestored += *n;
            ++pageRecords;
            writeNs += ctx.trace ? monotonicNs() - writeStart : 0;
        } else if (auto *end = std::get_if<image::EndRecord>(&*pending)) {
            if (end->pagesStored != ctx.pagesRestored) {
                return fail("image: the end record counts " + std::to_string(end->pagesStored) + " pages, the image held " + std::to_string(ctx.pagesRestored),
                            EINVAL);
            }
            pending.reset();
            break;
        } else {
            return fail(std::string("image: ") + sectionName(*pending) + " section after page data", EINVAL);
        }
        const uint64_t readStart = ctx.trace ? monotonicNs() : 0;
        auto next = pipe.pop();
        if (!next) {
            return std::unexpected(next.error().context("read image"));
        }
        pending = std::move(*next);
        readNs += ctx.trace ? monotonicNs() - readStart : 0;
    }
    if (ctx.trace) {
        std::fprintf(stderr, "restore: %llu page records: %.2f ms reading them, %.2f ms writing them\n", static_cast<unsigned long long>(pageRecords),
                     double(readNs) / 1e6, double(writeNs) / 1e6);
    }
    ctx.step("pages written");
    CRYOPOD_PROPAGATE(finishVmas(inj, ctx.mm, *mapped));
    CRYOPOD_PROPAGATE(restoreMmFields(inj, ctx.scratch, ctx.mm));
    ctx.step("vmas finished, mm fields");
    return {};
}

Result<void> restoreState(RestoreContext &ctx)
{
    Injector &inj = *ctx.injector;
    std::map<int32_t, std::string> copies;
    for (const auto &[fd, file] : ctx.unlinkedFiles) {
        copies.emplace(fd, file.path());
    }
    CRYOPOD_PROPAGATE(restoreFiles(inj, ctx.scratch, ctx.files, copies));
    ctx.unlinkedFiles.clear(); // opened: the names go, as they were gone before
    CRYOPOD_PROPAGATE(restoreProcessGroup(inj, ctx.entry));
    CRYOPOD_PROPAGATE(restoreTask(inj, ctx.scratch, ctx.task));
    CRYOPOD_PROPAGATE(restoreRlimits(inj, ctx.scratch, ctx.task));
    CRYOPOD_PROPAGATE(restoreSignals(inj, ctx.scratch, ctx.signals));
    CRYOPOD_PROPAGATE(restoreThreadInjected(inj, ctx.scratch, ctx.thread));
    CRYOPOD_PROPAGATE(restoreRoot(inj, ctx.scratch, ctx.task));
    CRYOPOD_PROPAGATE(restoreCreds(inj, ctx.scratch, ctx.creds));
    ctx.step("files, task, signals, creds");
    ctx.injected = inj.injectedCount();
    // The injection area goes last: the munmap returns at its syscall-exit
    // stop and the thread never runs there again.
    CRYOPOD_PROPAGATE(ctx.scratch.unmap());
    inj.dismiss();
    CRYOPOD_PROPAGATE(restoreThreadState(ctx.process.tracee(), ctx.thread));
    return {};
}

Result<void> letGo(RestoreContext &ctx)
{
    const pid_t pid = ctx.process.pid();
    if (ctx.options.frozen) {
        // Queued now, taken when the process leaves the ptrace stop: it
        // enters a group stop before running a single instruction.
        if (::kill(pid, SIGSTOP) != 0) {
            return sysError("restore: stop " + std::to_string(pid));
        }
    }
    ctx.injector.reset();
    auto r = ctx.process.tracee().detach(0);
    if (!r) {
        return std::unexpected(r.error().context("restore: detach"));
    }
    ctx.process.release();
    return {};
}

Result<void> run(RestoreContext &ctx, int inFd)
{
    auto reader = image::ImageReader::open(inFd);
    if (!reader) {
        return std::unexpected(reader.error().context("read image"));
    }
    CRYOPOD_PROPAGATE(checkHeader(ctx, (*reader)->header()));
    std::optional<image::Section> pending;
    CRYOPOD_PROPAGATE(readMetadata(ctx, **reader, pending));
    ctx.step("metadata read, validated");
    // From here on only the pipe's thread reads the image.
    SectionPipe pipe;
    if (pending && !std::holds_alternative<image::EndRecord>(*pending)) {
        pipe.start(**reader);
    }
    CRYOPOD_PROPAGATE(createProcess(ctx));
    ctx.step("process created, emptied");
    CRYOPOD_PROPAGATE(restoreMemory(ctx, pipe, pending));
    CRYOPOD_PROPAGATE(restoreState(ctx));
    CRYOPOD_PROPAGATE(letGo(ctx));
    ctx.step("detached");
    if (ctx.trace) {
        std::fprintf(stderr, "restore: %llu pages, %llu injected system calls\n", static_cast<unsigned long long>(ctx.pagesRestored),
                     static_cast<unsigned long long>(ctx.injected));
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
    auto stub = findRestoreStub();
    if (!stub) {
        return std::unexpected(stub.error());
    }
    ctx.stubPath = *stub;
    auto r = run(ctx, inFd);
    if (!r) {
        // Kill first, so that nothing more is injected into a process that
        // is going away; then the members clean up (temp files unlinked).
        ctx.scratch.release();
        if (ctx.injector) {
            ctx.injector->dismiss();
        }
        ctx.process.kill();
        return std::unexpected(r.error());
    }
    RestoreResult result;
    result.root = ctx.entry.pid;
    result.totalNs = monotonicNs() - ctx.startNs;
    return result;
}

} // namespace cryopod::engine
