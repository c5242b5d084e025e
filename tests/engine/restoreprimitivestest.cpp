// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The restore engine's building blocks on real processes: clone3 set_tid, the
// restore stub under ptrace, injected system calls into the stub and into a
// live, unrelated process (which must run on unchanged afterwards, including
// a system call it was blocked in).
#include "mem.h"
#include "paralleldrive.h"
#include "procfs.h"
#include "pstree.h"
#include "ptrace_inject.h"
#include "restore.h"
#include "vdso.h"

#include <QTest>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::engine;

namespace
{
// A pid that is free now (well above the last one handed out).
pid_t freePid()
{
    std::ifstream f("/proc/sys/kernel/pid_max");
    long pidMax = 32768;
    f >> pidMax;
    std::ifstream l("/proc/sys/kernel/ns_last_pid");
    long last = 300;
    l >> last;
    for (long candidate = last + 7919; candidate < last + 7919 + 10000; ++candidate) {
        const pid_t pid = pid_t(300 + (candidate % (pidMax - 300)));
        if (::kill(pid, 0) != 0 && errno == ESRCH && ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0) {
            return pid;
        }
    }
    return 0;
}

std::string readLink(const std::string &path)
{
    char buf[4096];
    const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

void reap(pid_t pid)
{
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
}

// Injector::finish() put the tracee back as it was: its registers are
// `before` again, and no signal is blocked.
bool finishedAsBefore(Injector &injector, Tracee &tracee, const user_regs_struct &before)
{
    if (!injector.finish()) {
        return false;
    }
    auto after = tracee.getRegs();
    auto mask = tracee.getSigmask();
    return after && mask && std::memcmp(&before, &*after, sizeof before) == 0 && *mask == 0;
}

// Kills and reaps the pid when the test function is left (also through a
// failed QVERIFY).
struct ProcessGuard {
    pid_t pid = 0;
    ~ProcessGuard()
    {
        if (pid > 0) {
            reap(pid);
        }
    }
};

int g_pipeOut = -1;
void usr1Handler(int)
{
    const char c = 'H';
    (void)!::write(g_pipeOut, &c, 1);
}

// Reads exactly n bytes with a timeout; returns what came.
std::string readWithTimeout(int fd, size_t n, int ms)
{
    std::string out;
    const timespec start = [] {
        timespec t{};
        ::clock_gettime(CLOCK_MONOTONIC, &t);
        return t;
    }();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (out.size() < n) {
        char buf[256];
        const ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
        if (r > 0) {
            out.append(buf, size_t(r));
            continue;
        }
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > ms) {
            break;
        }
        ::usleep(2000);
    }
    return out;
}
// The restore stub with an RWX area as the restore makes it: `syscall;
// int3` at its start, the batch runner after it, scratch space behind.
struct BatchStub {
    std::optional<RestoredProcess> process;
    std::optional<Injector> injector;
    RemoteScratch scratch;

    static Result<std::unique_ptr<BatchStub>> start(const std::string &stubPath)
    {
        auto stub = std::make_unique<BatchStub>();
        auto process = RestoredProcess::spawn(freePid(), stubPath);
        if (!process) {
            return std::unexpected(process.error());
        }
        stub->process.emplace(std::move(*process));
        auto injector = Injector::create(stub->process->tracee(), stub->process->entry() + 5);
        if (!injector) {
            return std::unexpected(injector.error());
        }
        stub->injector.emplace(std::move(*injector));
        Injector &inj = *stub->injector;
        const uint64_t area = 0x5e5e0000000;
        auto mapped = inj.call("area", SYS_mmap, area, kInjectionAreaSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                               ~0ull, 0);
        if (!mapped) {
            return std::unexpected(mapped.error());
        }
        const uint8_t code[] = {0x0f, 0x05, 0xcc};
        CRYOPOD_PROPAGATE(inj.memory().write(area, code));
        CRYOPOD_PROPAGATE(inj.memory().write(area + kRunnerOffset, batchRunnerCode()));
        CRYOPOD_PROPAGATE(inj.setSyscallAddress(area));
        CRYOPOD_PROPAGATE(inj.enableBatches(area + kRunnerOffset));
        CRYOPOD_PROPAGATE(inj.enableTrapStops());
        stub->scratch = RemoteScratch::adopt(inj, area, kInjectionAreaSize);
        stub->scratch.reset(kScratchOffset);
        return stub;
    }

    bool mapped(uint64_t addr) const
    {
        std::ifstream maps("/proc/" + std::to_string(process->pid()) + "/maps");
        char prefix[32];
        std::snprintf(prefix, sizeof prefix, "%llx-", static_cast<unsigned long long>(addr));
        for (std::string line; std::getline(maps, line);) {
            if (line.starts_with(prefix)) {
                return true;
            }
        }
        return false;
    }

    ~BatchStub()
    {
        scratch.release();
        if (injector) {
            injector->dismiss();
        }
    }
};
} // namespace

class RestorePrimitivesTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        QVERIFY2(::geteuid() == 0, "the engine tests run as root");
        auto stub = findRestoreStub();
        QVERIFY2(stub.has_value(), stub ? "" : stub.error().describe().c_str());
        m_stub = *stub;
    }

    void spawnGivesTheRequestedPid()
    {
        const pid_t want = freePid();
        QVERIFY(want > 0);
        auto process = RestoredProcess::spawn(want, m_stub);
        QVERIFY2(process.has_value(), process ? "" : process.error().describe().c_str());
        QCOMPARE(process->pid(), want);
        // It is our child, it runs the stub, and it has no fds at all.
        std::ifstream stat("/proc/" + std::to_string(want) + "/stat");
        std::string pid, comm, state;
        long ppid = 0;
        stat >> pid >> comm >> state >> ppid;
        QCOMPARE(ppid, long(::getpid()));
        QCOMPARE(readLink("/proc/" + std::to_string(want) + "/exe"), m_stub);
        QCOMPARE(readLink("/proc/" + std::to_string(want) + "/fd/0"), std::string());
        // The exec stop is at the stub's entry, which holds the injection instruction at +5.
        auto memory = RemoteMemory::open(want);
        QVERIFY(memory.has_value());
        uint8_t insn[2] = {};
        QVERIFY(memory->read(process->entry() + 5, insn).has_value());
        QCOMPARE(insn[0], uint8_t(0x0f));
        QCOMPARE(insn[1], uint8_t(0x05));
        // Destroying it kills and reaps it: the pid is free again.
        process = std::unexpected(Error{});
        QCOMPARE(::kill(want, 0), -1);
        QCOMPARE(errno, ESRCH);
    }

    void pidInUseNamesTheHolder()
    {
        const pid_t holder = ::fork();
        if (holder == 0) {
            ::prctl(PR_SET_NAME, "pidholder");
            for (;;) {
                ::pause();
            }
        }
        QVERIFY(holder > 0);
        ProcessGuard guard{holder};
        // Wait for the name to show.
        for (int i = 0; i < 200; ++i) {
            std::ifstream c("/proc/" + std::to_string(holder) + "/comm");
            std::string name;
            c >> name;
            if (name == "pidholder") {
                break;
            }
            ::usleep(5000);
        }
        auto process = RestoredProcess::spawn(holder, m_stub);
        QVERIFY(!process.has_value());
        QCOMPARE(process.error().code, EEXIST);
        const std::string message = process.error().describe();
        QVERIFY2(message.find("pid " + std::to_string(holder) + " is in use by process " + std::to_string(holder) + " (pidholder)") != std::string::npos,
                 message.c_str());
    }

    void injectIntoTheStub()
    {
        const pid_t want = freePid();
        auto process = RestoredProcess::spawn(want, m_stub);
        QVERIFY2(process.has_value(), process ? "" : process.error().describe().c_str());
        auto injector = Injector::create(process->tracee(), process->entry() + 5);
        QVERIFY2(injector.has_value(), injector ? "" : injector.error().describe().c_str());

        auto pid = injector->call("getpid", SYS_getpid);
        QVERIFY2(pid.has_value(), pid ? "" : pid.error().describe().c_str());
        QCOMPARE(pid_t(*pid), want);

        // An anonymous page where we ask for it, written from outside and read back through an injected write to... itself:
        const uint64_t hint = 0x5a5a0000000;
        auto scratch = RemoteScratch::map(*injector, 4096, hint);
        QVERIFY2(scratch.has_value(), scratch ? "" : scratch.error().describe().c_str());
        QCOMPARE(scratch->base(), hint);
        auto text = scratch->putString("cryopod");
        QVERIFY(text.has_value());
        char back[8] = {};
        QVERIFY(scratch->read(*text, std::span(reinterpret_cast<uint8_t *>(back), 8)).has_value());
        QCOMPARE(std::string(back), std::string("cryopod"));
        // The mapping is really there in the child.
        bool found = false;
        std::ifstream maps("/proc/" + std::to_string(want) + "/maps");
        for (std::string line; std::getline(maps, line);) {
            found = found || line.starts_with("5a5a0000000-5a5a0001000 rw-p");
        }
        QVERIFY(found);
        // An error comes back as errno: munmap of an unaligned address is EINVAL.
        auto bad = injector->call("munmap", SYS_munmap, hint + 1, 4096);
        QVERIFY(!bad.has_value());
        QCOMPARE(bad.error().code, EINVAL);
        QVERIFY(scratch->unmap().has_value());
        // Signals stay blocked while we inject.
        auto mask = process->tracee().getSigmask();
        QVERIFY(mask.has_value());
        QCOMPARE(*mask & (1ull << (SIGTERM - 1)), 1ull << (SIGTERM - 1));
        QVERIFY(injector->injectedCount() >= 4);
        injector->dismiss();
    }

    // Batches of injected calls (Injector::run) in the stub, through the
    // batch runner in an RWX area as the restore sets it up.
    void batchRunsEveryCallWithOneStop()
    {
        auto stub = startBatchStub();
        QVERIFY(stub);
        Injector &inj = *stub->injector;
        auto path = stub->scratch.putString("/dev/null");
        QVERIFY(path.has_value());
        for (const bool runner : {true, false}) {
            if (!runner) {
                QVERIFY(inj.disableTrapStops().has_value()); // one call at a time, same results
            }
            InjectBatch batch;
            batch.add("getpid", SYS_getpid);
            batch.add("getppid", SYS_getppid);
            const size_t opened = batch.add("open /dev/null", SYS_openat, uint64_t(int64_t(AT_FDCWD)), *path, O_RDONLY, 0);
            const size_t dup = batch.add("dup3 to 42", SYS_dup3, 0, 42, 0);
            batch.useResult(dup, 0, opened);
            const size_t closed = batch.add("close the opened fd", SYS_close);
            batch.useResult(closed, 0, opened);
            const uint64_t stops = inj.roundTrips();
            const uint64_t calls = inj.injectedCount();
            auto r = inj.run(batch, stub->scratch);
            QVERIFY2(r.has_value(), r ? "" : r.error().describe().c_str());
            QCOMPARE(batch.results().size(), size_t(5));
            QVERIFY(!batch.failed().has_value());
            QCOMPARE(pid_t(batch.result(0)), stub->process->pid());
            QCOMPARE(pid_t(batch.result(1)), ::getpid());
            QVERIFY(int64_t(batch.result(2)) >= 0 && batch.result(2) != 42);
            QCOMPARE(batch.result(3), uint64_t(42));
            QCOMPARE(batch.result(4), uint64_t(0));
            QCOMPARE(inj.injectedCount() - calls, uint64_t(5));
            // With the runner one stop for all five; else two per call.
            QCOMPARE(inj.roundTrips() - stops, runner ? uint64_t(1) : uint64_t(10));
            const std::string fdDir = "/proc/" + std::to_string(stub->process->pid()) + "/fd/";
            QCOMPARE(readLink(fdDir + "42"), std::string("/dev/null"));
            QCOMPARE(readLink(fdDir + std::to_string(batch.result(2))), std::string()); // closed again
            QVERIFY(inj.call("close 42", SYS_close, 42).has_value());
        }
    }

    // More calls than the scratch space holds entries for: parts, one stop
    // each; a call takes the result of one in an earlier part all the same.
    void batchLargerThanTheScratchRunsInParts()
    {
        auto stub = startBatchStub();
        QVERIFY(stub);
        Injector &inj = *stub->injector;
        auto path = stub->scratch.putString("/dev/null");
        QVERIFY(path.has_value());
        InjectBatch batch;
        const size_t opened = batch.add("open /dev/null", SYS_openat, uint64_t(int64_t(AT_FDCWD)), *path, O_RDONLY, 0);
        for (int i = 0; i < 2000; ++i) {
            batch.add("getpid " + std::to_string(i), SYS_getpid);
        }
        const size_t dup = batch.add("dup3 to 43", SYS_dup3, 0, 43, 0);
        batch.useResult(dup, 0, opened);
        const uint64_t stops = inj.roundTrips();
        auto r = inj.run(batch, stub->scratch);
        QVERIFY2(r.has_value(), r ? "" : r.error().describe().c_str());
        QCOMPARE(batch.results().size(), size_t(2002));
        const size_t perPart = (kInjectionAreaSize - kScratchOffset - 16) / 80;
        QCOMPARE(inj.roundTrips() - stops, uint64_t((2002 + perPart - 1) / perPart));
        QVERIFY(inj.roundTrips() - stops >= 2);
        QCOMPARE(pid_t(batch.result(1999)), stub->process->pid());
        QCOMPARE(batch.result(dup), uint64_t(43));
        QCOMPARE(readLink("/proc/" + std::to_string(stub->process->pid()) + "/fd/43"), std::string("/dev/null"));
    }

    void batchStopsAtTheFirstError()
    {
        auto stub = startBatchStub();
        QVERIFY(stub);
        Injector &inj = *stub->injector;
        const uint64_t a = 0x5b5b0000000, b = 0x5c5c0000000;
        InjectBatch batch;
        batch.add("map a", SYS_mmap, a, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, ~0ull, 0);
        batch.add("unaligned munmap", SYS_munmap, a + 1, 4096);
        batch.add("map b", SYS_mmap, b, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, ~0ull, 0);
        const uint64_t stops = inj.roundTrips();
        auto r = inj.run(batch, stub->scratch);
        QVERIFY(!r.has_value());
        QCOMPARE(r.error().code, EINVAL);
        QCOMPARE(r.error().message, std::string("unaligned munmap")); // names the exact call
        QVERIFY(batch.failed() == std::optional<size_t>(1));
        QCOMPARE(batch.results().size(), size_t(2));
        QCOMPARE(batch.result(0), a);
        QCOMPARE(int64_t(batch.result(1)), int64_t(-EINVAL));
        QCOMPARE(inj.roundTrips() - stops, uint64_t(1));
        // The call after it did not run.
        QVERIFY(stub->mapped(a));
        QVERIFY(!stub->mapped(b));
    }

    void batchGuardRefusalRunsNothing()
    {
        auto stub = startBatchStub();
        QVERIFY(stub);
        Injector &inj = *stub->injector;
        std::vector<long> asked;
        inj.setGuard([&asked](long nr, const std::array<uint64_t, 6> &, uint64_t) -> Result<void> {
            asked.push_back(nr);
            if (nr == SYS_getppid) {
                return fail("seccomp would kill getppid", EPERM);
            }
            return {};
        });
        const uint64_t a = 0x5d5d0000000;
        InjectBatch batch;
        batch.add("map a", SYS_mmap, a, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, ~0ull, 0);
        batch.add("getppid", SYS_getppid);
        batch.add("getpid", SYS_getpid);
        const uint64_t calls = inj.injectedCount();
        const uint64_t stops = inj.roundTrips();
        auto r = inj.run(batch, stub->scratch);
        QVERIFY(!r.has_value());
        QCOMPARE(r.error().code, EPERM);
        QVERIFY2(r.error().message.starts_with("getppid: "), r.error().message.c_str());
        QVERIFY(batch.failed() == std::optional<size_t>(1));
        QVERIFY(asked == (std::vector<long>{SYS_mmap, SYS_getppid}));
        // Nothing ran: the first call is refused with the rest.
        QCOMPARE(inj.injectedCount(), calls);
        QCOMPARE(inj.roundTrips(), stops);
        QVERIFY(!stub->mapped(a));
        inj.setGuard({});
    }

    // A signal arriving while the runner works: SIGTRAP (left unblocked for
    // the int3) interrupts a sleep, is held back and the sleep restarted;
    // a blocked one stays pending. The batch completes with its results.
    void batchSurvivesASignal()
    {
        auto stub = startBatchStub();
        QVERIFY(stub);
        Injector &inj = *stub->injector;
        const timespec sleep{0, 300 * 1000 * 1000};
        auto ts = stub->scratch.put({reinterpret_cast<const uint8_t *>(&sleep), sizeof sleep});
        QVERIFY(ts.has_value());
        InjectBatch batch;
        batch.add("getpid", SYS_getpid);
        batch.add("nanosleep", SYS_nanosleep, *ts, 0);
        batch.add("getppid", SYS_getppid);
        const pid_t pid = stub->process->pid();
        std::thread sender([pid] {
            ::usleep(100 * 1000);
            ::kill(pid, SIGTRAP);
            ::kill(pid, SIGUSR1);
        });
        timespec t0{}, t1{};
        ::clock_gettime(CLOCK_MONOTONIC, &t0);
        auto r = inj.run(batch, stub->scratch);
        ::clock_gettime(CLOCK_MONOTONIC, &t1);
        sender.join();
        QVERIFY2(r.has_value(), r ? "" : r.error().describe().c_str());
        QCOMPARE(batch.results().size(), size_t(3));
        QCOMPARE(pid_t(batch.result(0)), pid);
        QCOMPARE(batch.result(1), uint64_t(0)); // restarted, not EINTR
        QCOMPARE(pid_t(batch.result(2)), ::getpid());
        const double ms = double(t1.tv_sec - t0.tv_sec) * 1e3 + double(t1.tv_nsec - t0.tv_nsec) / 1e6;
        QVERIFY2(ms >= 290, std::to_string(ms).c_str());
        // SIGUSR1 is blocked while injecting: still pending.
        std::ifstream status("/proc/" + std::to_string(pid) + "/status");
        bool pending = false;
        for (std::string line; std::getline(status, line);) {
            if (line.starts_with("ShdPnd:")) {
                pending = std::stoull(line.substr(7), nullptr, 16) & (1ull << (SIGUSR1 - 1));
            }
        }
        QVERIFY(pending);
        // The injector still works after it.
        auto again = inj.call("getpid", SYS_getpid);
        QVERIFY(again.has_value());
    }

    // Moving [vvar]/[vvar_vclock]/[vdso] one page up: old and new ranges
    // overlap, so they must go through a temporary address.
    void vdsoMovesThroughATemporaryAddress()
    {
        const pid_t want = freePid();
        auto process = RestoredProcess::spawn(want, m_stub);
        QVERIFY2(process.has_value(), process ? "" : process.error().describe().c_str());
        auto injector = Injector::create(process->tracee(), process->entry() + 5);
        QVERIFY(injector.has_value());
        auto maps = procfs::readMaps(want);
        QVERIFY(maps.has_value());
        image::MmRecord mm;
        for (const procfs::Mapping &m : *maps) {
            if (auto kind = specialMappingKind(m.path); kind && *kind != image::VmaKind::Vsyscall) {
                image::VmaRecord vma;
                vma.start = m.start + 4096;
                vma.end = m.end + 4096;
                vma.kind = *kind;
                vma.path = m.path;
                mm.vmas.push_back(vma);
            }
        }
        QCOMPARE(mm.vmas.size(), size_t(3));
        auto temp = findFreeRange(mm, *maps, {}, 64 * 1024);
        QVERIFY(temp.has_value());
        auto moved = restoreVdso(*injector, mm, *maps, *temp);
        QVERIFY2(moved.has_value(), moved ? "" : moved.error().describe().c_str());
        auto after = procfs::readMaps(want);
        QVERIFY(after.has_value());
        size_t found = 0;
        for (const procfs::Mapping &m : *after) {
            for (const image::VmaRecord &vma : mm.vmas) {
                if (m.path == vma.path) {
                    QCOMPARE(m.start, vma.start);
                    QCOMPARE(m.end, vma.end);
                    ++found;
                }
            }
        }
        QCOMPARE(found, size_t(3));
        // The code is still this kernel's vDSO (the same bytes as ours).
        const image::VmaRecord *vdso = nullptr;
        for (const image::VmaRecord &vma : mm.vmas) {
            vdso = vma.kind == image::VmaKind::Vdso ? &vma : vdso;
        }
        QVERIFY(vdso);
        std::vector<uint8_t> bytes(vdso->end - vdso->start);
        QVERIFY(injector->memory().read(vdso->start, bytes).has_value());
        mm.vdsoHash = vdsoHashOf(bytes.data(), bytes.size());
        auto ownMaps = procfs::readMaps(::getpid());
        QVERIFY(ownMaps.has_value());
        image::MmRecord own;
        own.vdsoHash = mm.vdsoHash;
        for (const procfs::Mapping &m : *ownMaps) {
            if (auto kind = specialMappingKind(m.path); kind && *kind != image::VmaKind::Vsyscall) {
                image::VmaRecord vma;
                vma.start = m.start;
                vma.end = m.end;
                vma.kind = *kind;
                own.vmas.push_back(vma);
            }
        }
        auto compatible = checkVdsoCompatible(own);
        QVERIFY2(compatible.has_value(), compatible ? "" : compatible.error().describe().c_str());
        // A different vDSO is refused.
        own.vdsoHash ^= 1;
        QVERIFY(!checkVdsoCompatible(own).has_value());
        injector->dismiss();
    }

    // Seize an unrelated live process, read the disposition of a handler it
    // installed by injection, let it go: it must run on normally (the handler
    // fires) and a system call it was blocked in must complete as if nothing
    // had happened.
    void injectIntoALiveProcess()
    {
        int toChild[2], fromChild[2];
        QVERIFY(::pipe(toChild) == 0 && ::pipe(fromChild) == 0);
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(toChild[1]);
            ::close(fromChild[0]);
            g_pipeOut = fromChild[1];
            struct sigaction sa{};
            sa.sa_handler = usr1Handler;
            sa.sa_flags = SA_RESTART | SA_ONSTACK;
            sigemptyset(&sa.sa_mask);
            sigaddset(&sa.sa_mask, SIGUSR2);
            ::sigaction(SIGUSR1, &sa, nullptr);
            (void)!::write(fromChild[1], "R", 1);
            // Blocked in read() until the parent writes; the result goes back.
            char buf[4] = {};
            const ssize_t n = ::read(toChild[0], buf, 4);
            char reply[16];
            const int len = std::snprintf(reply, sizeof reply, "%zd:%.4s", n, buf);
            (void)!::write(fromChild[1], reply, size_t(len));
            // Then a relative sleep, interrupted by a second injection session.
            timespec ts{0, 300 * 1000 * 1000};
            const int r = ::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
            (void)!::write(fromChild[1], r == 0 ? "S" : "E", 1);
            for (;;) {
                ::pause();
            }
        }
        ProcessGuard guard{child};
        ::close(toChild[0]);
        ::close(fromChild[1]);
        QCOMPARE(readWithTimeout(fromChild[0], 1, 5000), std::string("R"));
        ::usleep(50 * 1000); // let it block in read()

        {
            auto tracee = Tracee::seize(child);
            QVERIFY2(tracee.has_value(), tracee ? "" : tracee.error().describe().c_str());
            auto before = tracee->getRegs();
            QVERIFY(before.has_value());
            QCOMPARE(long(before->orig_rax), long(SYS_read));
            auto injector = Injector::create(*tracee);
            QVERIFY2(injector.has_value(), injector ? "" : injector.error().describe().c_str());
            auto scratch = RemoteScratch::map(*injector);
            QVERIFY2(scratch.has_value(), scratch ? "" : scratch.error().describe().c_str());
            auto old = scratch->reserve(32);
            QVERIFY(old.has_value());
            auto r = injector->call("rt_sigaction", SYS_rt_sigaction, SIGUSR1, 0, *old, 8);
            QVERIFY2(r.has_value(), r ? "" : r.error().describe().c_str());
            uint64_t ka[4] = {};
            QVERIFY(scratch->read(*old, std::span(reinterpret_cast<uint8_t *>(ka), sizeof ka)).has_value());
            QCOMPARE(ka[0], reinterpret_cast<uint64_t>(&usr1Handler)); // same binary, forked: same address
            QVERIFY(ka[1] & SA_RESTART);
            QVERIFY(ka[1] & SA_ONSTACK);
            QCOMPARE(ka[3], 1ull << (SIGUSR2 - 1));
            auto pid = injector->call("getpid", SYS_getpid);
            QVERIFY(pid.has_value());
            QCOMPARE(pid_t(*pid), child);
            QVERIFY(scratch->unmap().has_value());
            QVERIFY(finishedAsBefore(*injector, *tracee, *before));
        } // ~Tracee detaches

        // The handler still fires (and read() restarts after it: SA_RESTART).
        QCOMPARE(::kill(child, SIGUSR1), 0);
        QCOMPARE(readWithTimeout(fromChild[0], 1, 5000), std::string("H"));
        // The read() it was blocked in completes normally.
        QCOMPARE(::write(toChild[1], "data", 4), ssize_t(4));
        QCOMPARE(readWithTimeout(fromChild[0], 6, 5000), std::string("4:data"));
        ::usleep(50 * 1000); // into the sleep

        // Interrupt the clock_nanosleep (-ERESTART_RESTARTBLOCK) with another
        // injection session: the sleep must still end with 0, not EINTR.
        {
            auto tracee = Tracee::seize(child);
            QVERIFY(tracee.has_value());
            auto regs = tracee->getRegs();
            QVERIFY(regs.has_value());
            QCOMPARE(long(regs->orig_rax), long(SYS_clock_nanosleep));
            QCOMPARE(long(regs->rax), -516L);
            auto injector = Injector::create(*tracee);
            QVERIFY(injector.has_value());
            auto pid = injector->call("getppid", SYS_getppid);
            QVERIFY(pid.has_value());
            QVERIFY(injector->finish().has_value());
        }
        QCOMPARE(readWithTimeout(fromChild[0], 1, 5000), std::string("S"));
        ::close(toChild[1]);
        ::close(fromChild[0]);
    }

    // The dump side's scratch with a runner (RemoteScratch::mapWithRunner)
    // in a live process: RWX memory starting with `syscall; int3` and the
    // batch runner, a batch in one stop; without trap stops where SIGTRAP
    // is ignored (a trap would reset that), plain RW scratch where the
    // process may not map RWX memory (MDWE). Unmapping switches the
    // injector back to its own instruction; the process runs on with its
    // registers, mask and SIGTRAP disposition as before.
    void scratchWithRunner_data()
    {
        QTest::addColumn<bool>("ignoreTrap");
        QTest::addColumn<bool>("mdwe");
        QTest::newRow("runner, trap stops") << false << false;
        QTest::newRow("SIGTRAP ignored: syscall stops") << true << false;
        QTest::newRow("MDWE: plain scratch") << false << true;
    }
    void scratchWithRunner()
    {
        QFETCH(bool, ignoreTrap);
        QFETCH(bool, mdwe);
        int fromChild[2];
        QVERIFY(::pipe(fromChild) == 0);
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(fromChild[0]);
            ::signal(SIGTERM, SIG_DFL); // not QTest's crash handler
            if (ignoreTrap) {
                ::signal(SIGTRAP, SIG_IGN);
            }
            // PR_SET_MDWE (65), PR_MDWE_REFUSE_EXEC_GAIN (1): Linux 6.3.
            const bool refused = mdwe && ::prctl(65, 1, 0, 0, 0) != 0;
            (void)!::write(fromChild[1], refused ? "N" : "R", 1);
            for (;;) {
                ::pause();
            }
        }
        ProcessGuard guard{child};
        ::close(fromChild[1]);
        const std::string ready = readWithTimeout(fromChild[0], 1, 5000);
        ::close(fromChild[0]);
        if (ready == "N") {
            QSKIP("this kernel has no PR_SET_MDWE");
        }
        QCOMPARE(ready, std::string("R"));
        auto mapsShow = [child](uint64_t base) {
            auto maps = procfs::readMaps(child);
            return maps && std::ranges::any_of(*maps, [base](const procfs::Mapping &m) {
                       return m.start == base;
                   });
        };
        uint64_t area = 0;
        {
            auto tracee = Tracee::seize(child);
            QVERIFY2(tracee.has_value(), tracee ? "" : tracee.error().describe().c_str());
            auto before = tracee->getRegs();
            QVERIFY(before.has_value());
            auto injector = Injector::create(*tracee);
            QVERIFY2(injector.has_value(), injector ? "" : injector.error().describe().c_str());
            const uint64_t own = injector->syscallAddress();
            auto scratch = RemoteScratch::mapWithRunner(*injector, 16384, !ignoreTrap);
            QVERIFY2(scratch.has_value(), scratch ? "" : scratch.error().describe().c_str());
            area = scratch->base();
            QCOMPARE(scratch->hasRunner(), !mdwe);
            QCOMPARE(injector->syscallAddress(), mdwe ? own : area);
            QCOMPARE(injector->trapStops(), !mdwe && !ignoreTrap);
            QCOMPARE(injector->batches(), !mdwe);
            QVERIFY(mapsShow(area));
            // The scratch space begins after the code, and a reset keeps it.
            scratch->reset();
            auto slot = scratch->reserve(8);
            QVERIFY(slot.has_value());
            QVERIFY(*slot >= area + (mdwe ? 0 : 128));
            if (!mdwe) {
                uint8_t code[3] = {};
                QVERIFY(scratch->read(area, code).has_value());
                QCOMPARE(code[0], uint8_t(0x0f));
                QCOMPARE(code[1], uint8_t(0x05));
                QCOMPARE(code[2], uint8_t(0xcc));
            }
            InjectBatch batch;
            batch.add("getpid", SYS_getpid);
            batch.add("getppid", SYS_getppid);
            batch.add("gettid", SYS_gettid);
            const uint64_t trips = injector->roundTrips();
            auto ran = injector->run(batch, *scratch);
            QVERIFY2(ran.has_value(), ran ? "" : ran.error().describe().c_str());
            QCOMPARE(batch.results(), (std::vector<int64_t>{child, ::getpid(), child}));
            // One stop for the batch with trap stops; two per call otherwise.
            QCOMPARE(injector->roundTrips() - trips, uint64_t(!mdwe && !ignoreTrap ? 1 : 6));
            QVERIFY(scratch->unmap().has_value());
            QCOMPARE(injector->syscallAddress(), own);
            QVERIFY(!injector->trapStops());
            QVERIFY(!mapsShow(area));
            auto pid = injector->call("getpid after the unmap", SYS_getpid);
            QVERIFY2(pid.has_value(), pid ? "" : pid.error().describe().c_str());
            QCOMPARE(pid_t(*pid), child);
            QVERIFY(finishedAsBefore(*injector, *tracee, *before));
        } // ~Tracee detaches
        // SIGTRAP as it was, nothing pending, and the process runs on (a
        // signal it catches by default: SIGTERM ends it).
        auto status = procfs::readStatus(child);
        QVERIFY(status.has_value());
        auto ignored = procfs::statusHex(*status, "SigIgn");
        auto pending = procfs::statusHex(*status, "ShdPnd");
        QVERIFY(ignored && pending);
        QCOMPARE(bool(*ignored & (uint64_t(1) << (SIGTRAP - 1))), ignoreTrap);
        QCOMPARE(*pending, uint64_t(0));
        QCOMPARE(::kill(child, SIGTERM), 0);
        int wstatus = 0;
        QCOMPARE(::waitpid(child, &wstatus, 0), child);
        QVERIFY(WIFSIGNALED(wstatus));
        QCOMPARE(WTERMSIG(wstatus), SIGTERM);
        guard.pid = 0;
    }

    // When one job of the parallel drive fails, a call another job's
    // tracee is running ends and its result reaches that job (a clone3 in
    // flight must give its tid to the job, which records the thread for the
    // clean-up); that job's next call then fails with ECANCELED without
    // running in the tracee.
    void driveFailureLetsACallUnderWayEnd()
    {
        const pid_t want = freePid();
        auto process = RestoredProcess::spawn(want, m_stub);
        QVERIFY2(process.has_value(), process ? "" : process.error().describe().c_str());
        auto injector = Injector::create(process->tracee(), process->entry() + 5);
        QVERIFY2(injector.has_value(), injector ? "" : injector.error().describe().c_str());
        auto scratch = RemoteScratch::map(*injector);
        QVERIFY(scratch.has_value());
        const timespec pause{0, 300 * 1000 * 1000};
        auto pauseAddr = scratch->put({reinterpret_cast<const uint8_t *>(&pause), sizeof pause});
        QVERIFY(pauseAddr.has_value());
        char dir[] = "/tmp/cryopod-drive-XXXXXX";
        QVERIFY(::mkdtemp(dir) != nullptr);
        QCOMPARE(::rmdir(dir), 0); // a free name, which the second call would make
        auto dirAddr = scratch->putString(dir);
        QVERIFY(dirAddr.has_value());

        ParallelDrive drive(true);
        process->tracee().setWaiter(&drive);
        Result<int64_t> slept = 0;
        Result<int64_t> made = 0;
        std::vector<ParallelDrive::Job> jobs;
        jobs.emplace_back([&]() -> Result<void> {
            slept = injector->syscall(SYS_nanosleep, *pauseAddr, 0); // the other job fails meanwhile
            made = injector->syscall(SYS_mkdir, *dirAddr, 0700);
            return {};
        });
        jobs.emplace_back([]() -> Result<void> {
            return fail("the other job fails", EIO);
        });
        auto ran = drive.run(jobs);
        process->tracee().setWaiter(nullptr);
        QVERIFY(!ran.has_value());
        QCOMPARE(ran.error().code, EIO);
        QVERIFY2(slept.has_value(), slept ? "" : slept.error().describe().c_str());
        QCOMPARE(*slept, int64_t(0));
        QVERIFY(!made.has_value());
        QCOMPARE(made.error().code, ECANCELED);
        const bool exists = ::access(dir, F_OK) == 0;
        if (exists) {
            ::rmdir(dir);
        }
        QVERIFY2(!exists, "the call after the failure ran");
        // The tracee is still ours, in a stop, and takes calls again.
        auto pid = injector->call("getpid", SYS_getpid);
        QVERIFY2(pid.has_value(), pid ? "" : pid.error().describe().c_str());
        QCOMPARE(pid_t(*pid), want);
        scratch->release();
        injector->dismiss();
    }

private:
    // The stub set up for batches, or null (with the reason printed).
    std::unique_ptr<BatchStub> startBatchStub()
    {
        auto started = BatchStub::start(m_stub);
        if (!started) {
            qWarning("%s", started.error().describe().c_str());
            return nullptr;
        }
        return std::move(*started);
    }

    std::string m_stub;
};

QTEST_GUILESS_MAIN(RestorePrimitivesTest)

#include "restoreprimitivestest.moc"
