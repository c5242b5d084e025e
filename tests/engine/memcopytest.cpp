// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// MemoryCopy on real processes: the copy holds the memory of the instant of
// the pause while the target rewrites it at full speed; the target ends the
// pause with no new child, gets no SIGCHLD, keeps running; the copy holds no
// fd and is in a session of its own; after release() it is gone. And the
// processes no copy may be taken of are named.
#include "checkpoint.h"
#include "memcopy.h"
#include "procfs.h"
#include "pstree.h"

#include <QTest>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cryopod;
using namespace cryopod::engine;

namespace
{
constexpr size_t kBytes = 32u << 20;
constexpr size_t kPage = 4096;

struct Shared {
    uint64_t base = 0; // the buffer the child rewrites
    uint64_t sigchldFlag = 0; // address of a counter of SIGCHLDs it got
    uint64_t dontfork = 0; // extra 1: 4 pages of MADV_DONTFORK memory holding 0x11
    uint64_t wipeonfork = 0; // extra 1: 4 pages of MADV_WIPEONFORK memory holding 0x22
};

volatile sig_atomic_t g_sigchld = 0;
void *g_toWipe = nullptr; // extra 4: made MADV_WIPEONFORK on SIGUSR1

// The target: a buffer whose every page starts with the pass number, rewritten
// in a loop; reports the addresses on `out` and then never stops writing.
[[noreturn]] void rewriteForever(int out, int extra)
{
    struct sigaction sa{};
    sa.sa_handler = [](int) {
        g_sigchld = g_sigchld + 1;
    };
    sigaction(SIGCHLD, &sa, nullptr);
    Shared shared;
    if (extra == 1) { // MADV_DONTFORK and MADV_WIPEONFORK memory with data
        auto *d = static_cast<uint8_t *>(mmap(nullptr, kPage * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        madvise(d, kPage * 4, MADV_DONTFORK);
        std::memset(d, 0x11, kPage * 4);
        auto *w = static_cast<uint8_t *>(mmap(nullptr, kPage * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        madvise(w, kPage * 4, MADV_WIPEONFORK);
        std::memset(w, 0x22, kPage * 4);
        mprotect(w, kPage * 4, PROT_READ); // written through /proc/PID/mem in the copy
        shared.dontfork = reinterpret_cast<uint64_t>(d);
        shared.wipeonfork = reinterpret_cast<uint64_t>(w);
    } else if (extra == 3) { // more MADV_DONTFORK memory than is carried over
        const size_t big = size_t(cryopod::engine::kMaxCarriedOver) + (16u << 20);
        auto *d = static_cast<uint8_t *>(mmap(nullptr, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        madvise(d, big, MADV_DONTFORK);
        for (size_t i = 0; i < big; i += kPage) {
            d[i] = 1;
        }
    } else if (extra == 4) { // memory with data that turns MADV_WIPEONFORK on SIGUSR1
        auto *w = static_cast<uint8_t *>(mmap(nullptr, kPage * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        std::memset(w, 0x33, kPage * 4);
        g_toWipe = w;
        shared.wipeonfork = reinterpret_cast<uint64_t>(w);
        struct sigaction usr{};
        usr.sa_handler = [](int) {
            madvise(g_toWipe, kPage * 4, MADV_WIPEONFORK);
        };
        sigaction(SIGUSR1, &usr, nullptr);
    } else if (extra == 2) { // a seccomp filter that allows everything
        sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
        sock_fprog prog{1, allow};
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
    } else if (extra == 5 || extra == 6) { // a seccomp filter that kills the process on clone() (sigaltstack())
        sock_filter killClone[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(extra == 5 ? SYS_clone : SYS_sigaltstack), 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog {4, killClone};
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
    }
    auto *buf = static_cast<uint64_t *>(mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < kBytes / 8; ++i) {
        buf[i] = i * 0x9e3779b97f4a7c15ull;
    }
    shared.base = reinterpret_cast<uint64_t>(buf);
    shared.sigchldFlag = reinterpret_cast<uint64_t>(&g_sigchld);
    if (write(out, &shared, sizeof shared) != sizeof shared) {
        _exit(2);
    }
    if (extra >= 4 || extra == 2) {
        close_range(0, ~0u, 0); // checkpointed whole: nothing shared with the test
    }
    for (uint64_t pass = 1;; ++pass) {
        for (size_t page = 0; page < kBytes / kPage; ++page) {
            buf[page * (kPage / 8)] = pass;
        }
    }
}

struct Child {
    pid_t pid = -1;
    Shared shared;
    int pipeRead = -1;
    ~Child()
    {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        if (pipeRead >= 0) {
            close(pipeRead);
        }
    }
};

bool start(Child &child, int extra)
{
    int p[2];
    if (pipe(p) != 0) {
        return false;
    }
    child.pid = fork();
    if (child.pid == 0) {
        close(p[0]);
        rewriteForever(p[1], extra); // keeps the write end open: the copy must not
    }
    close(p[1]);
    child.pipeRead = p[0];
    return read(p[0], &child.shared, sizeof child.shared) == sizeof child.shared;
}

std::vector<uint8_t> readMemory(pid_t pid, uint64_t addr, size_t bytes)
{
    std::vector<uint8_t> out(bytes);
    const iovec local{out.data(), bytes};
    const iovec remote{reinterpret_cast<void *>(addr), bytes};
    auto n = vmRead(pid, {&local, 1}, {&remote, 1});
    if (!n || *n != bytes) {
        return {};
    }
    return out;
}

uint64_t firstWord(const std::vector<uint8_t> &page)
{
    uint64_t v = 0;
    std::memcpy(&v, page.data(), sizeof v);
    return v;
}

QString statField(pid_t pid, int field) // 1-based, after "(comm)"
{
    auto stat = procfs::readFile(procfs::path(pid, "stat"));
    if (!stat) {
        return {};
    }
    const std::string s = *stat;
    const QStringList rest = QString::fromStdString(s.substr(s.rfind(')') + 2)).split(QLatin1Char(' '));
    return rest.value(field - 3);
}
} // namespace

class MemoryCopyTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void copyHoldsThePausedMemory()
    {
        Child child;
        QVERIFY(start(child, 0));
        auto frozen = FrozenProcess::freeze(child.pid);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        const std::vector<uint8_t> atPause = readMemory(child.pid, child.shared.base, kBytes);
        QVERIFY(!atPause.empty());
        const QString sessionBefore = statField(child.pid, 6);

        MemoryCopy copy;
        {
            auto injector = Injector::create(frozen->leader());
            QVERIFY2(injector, injector ? "" : injector.error().describe().c_str());
            auto taken = MemoryCopy::take(*injector, {});
            QVERIFY2(taken, taken ? "" : taken.error().describe().c_str());
            copy = std::move(*taken);
            QVERIFY(injector->finish());
        }
        const pid_t copyPid = copy.pid();
        QVERIFY(copyPid > 0 && copyPid != child.pid);
        // The pause ends with the target's children as they were: none.
        auto children = procfs::listChildren(child.pid);
        QVERIFY(children);
        QVERIFY2(children->empty(), "the target has a child after the copy was taken");
        QVERIFY(frozen->thaw());

        // The target runs on and rewrites every page...
        QTRY_VERIFY_WITH_TIMEOUT(firstWord(readMemory(child.pid, child.shared.base + kBytes - kPage, kPage)) > firstWord(atPause) + 2, 10000);
        // ...while the copy still holds the instant of the pause.
        const std::vector<uint8_t> fromCopy = readMemory(copyPid, child.shared.base, kBytes);
        QCOMPARE(fromCopy.size(), atPause.size());
        QVERIFY2(fromCopy == atPause, "the copy's memory differs from the memory at the pause");

        // Invisible to the program: no SIGCHLD, no fd kept, not in its session or group.
        QCOMPARE(firstWord(readMemory(child.pid, child.shared.sigchldFlag, 8)) & 0xffffffffu, 0u);
        auto fds = procfs::listFds(copyPid);
        QVERIFY(fds);
        QVERIFY2(fds->empty(), "the copy holds file descriptors");
        QVERIFY(statField(copyPid, 4) != QString::number(child.pid)); // ppid
        QCOMPARE(statField(copyPid, 6), QString::number(copyPid)); // its own session
        QVERIFY(statField(copyPid, 6) != sessionBefore);
        QCOMPARE(statField(copyPid, 3), QStringLiteral("t")); // stopped by us, never running

        QVERIFY(copy.release());
        QCOMPARE(copy.pid(), 0);
        QTRY_VERIFY_WITH_TIMEOUT(::kill(copyPid, 0) != 0 || statField(copyPid, 3) == QLatin1String("Z"), 5000);
        QVERIFY(copy.release()); // idempotent
        // The target is still running, unharmed.
        QCOMPARE(::kill(child.pid, 0), 0);
        QVERIFY(statField(child.pid, 3) != QLatin1String("Z"));
    }

    // What clone() leaves out is carried over: MADV_DONTFORK memory mapped
    // and filled in the copy, MADV_WIPEONFORK memory (read-only here) filled.
    void dontforkAndWipeonforkCarriedOver()
    {
        Child child;
        QVERIFY(start(child, 1));
        auto frozen = FrozenProcess::freeze(child.pid);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        auto mappings = procfs::readSmaps(child.pid);
        QVERIFY(mappings);
        QCOMPARE(memoryCopyObstacle(child.pid, *mappings), std::string());
        MemoryCopy copy;
        {
            auto injector = Injector::create(frozen->leader());
            QVERIFY(injector);
            auto taken = MemoryCopy::take(*injector, *mappings);
            QVERIFY2(taken, taken ? "" : taken.error().describe().c_str());
            copy = std::move(*taken);
            QVERIFY(injector->finish());
        }
        QVERIFY(frozen->thaw());
        const std::vector<uint8_t> d = readMemory(copy.pid(), child.shared.dontfork, 4 * kPage);
        const std::vector<uint8_t> w = readMemory(copy.pid(), child.shared.wipeonfork, 4 * kPage);
        QCOMPARE(d, std::vector<uint8_t>(4 * kPage, 0x11));
        QCOMPARE(w, std::vector<uint8_t>(4 * kPage, 0x22));
    }

    // Low pause reads maps during the pause with the VmFlags of smaps read
    // before it, and checks them against the copy afterwards: a flag set in
    // between (the copy then lacks memory or has it wiped) is caught.
    void layoutCheckedAgainstTheCopy()
    {
        Child child;
        QVERIFY(start(child, 1));
        auto early = procfs::readSmaps(child.pid); // before the pause
        QVERIFY(early);
        auto frozen = FrozenProcess::freeze(child.pid);
        QVERIFY2(frozen, frozen ? "" : frozen.error().describe().c_str());
        auto maps = procfs::readMaps(child.pid);
        QVERIFY(maps);
        auto merged = procfs::withSmapsOf(*maps, *early);
        QVERIFY2(merged, "maps read while frozen does not match the smaps read before");
        auto at = [](std::vector<procfs::Mapping> &list, uint64_t addr) -> procfs::Mapping * {
            for (procfs::Mapping &m : list) {
                if (m.start <= addr && addr < m.end) {
                    return &m;
                }
            }
            return nullptr;
        };
        QVERIFY(at(*merged, child.shared.dontfork) && at(*merged, child.shared.dontfork)->hasVmFlag("dc"));
        QVERIFY(at(*merged, child.shared.wipeonfork) && at(*merged, child.shared.wipeonfork)->hasVmFlag("wf"));
        auto moved = *maps;
        moved.back().start -= kPage; // a line that is not in smaps
        QVERIFY(!procfs::withSmapsOf(moved, *early));

        // Copies taken with what the pause knew, and with a flag it missed.
        auto without = [&](const char *flag, uint64_t addr) {
            auto list = *merged;
            procfs::Mapping *m = at(list, addr);
            std::erase(m->vmFlags, std::string(flag));
            return list;
        };
        const auto missedDontfork = without("dc", child.shared.dontfork);
        const auto missedWipe = without("wf", child.shared.wipeonfork);
        MemoryCopy copy, copyMissingDontfork, copyMissingWipe;
        {
            auto injector = Injector::create(frozen->leader());
            QVERIFY(injector);
            auto taken = MemoryCopy::take(*injector, *merged);
            QVERIFY2(taken, taken ? "" : taken.error().describe().c_str());
            copy = std::move(*taken);
            auto taken2 = MemoryCopy::take(*injector, missedDontfork);
            QVERIFY2(taken2, taken2 ? "" : taken2.error().describe().c_str());
            copyMissingDontfork = std::move(*taken2);
            auto taken3 = MemoryCopy::take(*injector, missedWipe);
            QVERIFY2(taken3, taken3 ? "" : taken3.error().describe().c_str());
            copyMissingWipe = std::move(*taken3);
            QVERIFY(injector->finish());
        }
        QVERIFY(frozen->thaw());

        auto smapsOfCopy = [](const MemoryCopy &c) {
            auto m = procfs::readSmaps(c.pid());
            return m ? *m : std::vector<procfs::Mapping>{};
        };
        auto agreed = *merged;
        QCOMPARE(adoptCopyLayout(agreed, smapsOfCopy(copy)), std::string());
        // The counters are the copy's: the whole buffer is resident there.
        QVERIFY(at(agreed, child.shared.base)->rssKiB >= kBytes / 1024);

        auto list = missedDontfork;
        const std::string noDontfork = adoptCopyLayout(list, smapsOfCopy(copyMissingDontfork));
        QVERIFY2(noDontfork.find("is not in the copy") != std::string::npos, noDontfork.c_str());
        list = missedWipe;
        const std::string noWipe = adoptCopyLayout(list, smapsOfCopy(copyMissingWipe));
        QVERIFY2(noWipe.find("\"wf\" set") != std::string::npos, noWipe.c_str());
    }

    // The whole low-pause path, step by step, with MADV_WIPEONFORK set
    // between the analysis and the pause: the copy is found wanting after
    // the thaw and dropped, nothing is written, and the checkpoint knows to
    // start again frozen.
    void flagSetAfterTheAnalysisMeansFrozenRetry()
    {
        Child child;
        QVERIFY(start(child, 4));
        CheckpointContext ctx;
        ctx.pid = child.pid;
        ctx.outFd = -1; // nothing may be written
        ctx.options.lowPause = true;
        ctx.options.leaveRunning = true;
        auto checked = checkpointPrecheck(ctx);
        QVERIFY2(checked, checked ? "" : checked.error().describe().c_str());
        QVERIFY(ctx.earlySmaps.contains(child.pid));
        QCOMPARE(::kill(child.pid, SIGUSR1), 0);
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                auto smaps = procfs::readSmaps(child.pid);
                return smaps && std::ranges::any_of(*smaps, [&](const procfs::Mapping &m) {
                           return m.start == child.shared.wipeonfork && m.hasVmFlag("wf");
                       });
            }(),
            5000);
        QVERIFY(checkpointFreeze(ctx));
        QVERIFY(checkpointCapture(ctx));
        QVERIFY(checkpointCopyMemory(ctx));
        QVERIFY2(ctx.result.lowPauseFallback.empty(), ctx.result.lowPauseFallback.c_str());
        QVERIFY(ctx.thawNs != 0); // the tree runs on before anything is written
        const pid_t copyPid = ctx.processes.front().copy.pid();
        QVERIFY(copyPid > 0);
        QVERIFY(checkpointVerifyCopies(ctx));
        QVERIFY2(ctx.retryFrozen.find("\"wf\" set") != std::string::npos, ctx.retryFrozen.c_str());
        QCOMPARE(ctx.processes.front().copy.pid(), 0); // dropped
        QTRY_VERIFY_WITH_TIMEOUT(::kill(copyPid, 0) != 0 || statField(copyPid, 3) == QLatin1String("Z"), 5000);
        QVERIFY(!ctx.writer);
        QCOMPARE(::kill(child.pid, 0), 0);
        QVERIFY(statField(child.pid, 3) != QLatin1String("t"));
    }

    void obstaclesAreNamed()
    {
        Child plain, big;
        QVERIFY(start(plain, 0));
        QVERIFY(start(big, 3));
        auto smapsOf = [](pid_t pid) {
            auto m = procfs::readSmaps(pid);
            return m ? *m : std::vector<procfs::Mapping>{};
        };
        QCOMPARE(memoryCopyObstacle(plain.pid, smapsOf(plain.pid)), std::string());
        const std::string dc = memoryCopyObstacle(big.pid, smapsOf(big.pid));
        QVERIFY2(dc.find("MADV_DONTFORK or MADV_WIPEONFORK") != std::string::npos, dc.c_str());
    }

    // A process under seccomp: the copy is made by clone() injected into it,
    // which its filters judge. A filter that allows clone() keeps the low
    // pause; one that would kill the process on clone() makes the checkpoint
    // fall back to the frozen dump, naming the filter, and the process lives.
    void seccompFilterDecidesTheCopy_data()
    {
        QTest::addColumn<int>("extra");
        QTest::addColumn<bool>("copied");
        QTest::newRow("allows clone") << 2 << true;
        QTest::newRow("kills on clone") << 5 << false;
    }
    void seccompFilterDecidesTheCopy()
    {
        QFETCH(int, extra);
        QFETCH(bool, copied);
        Child child;
        QVERIFY(start(child, extra));
        CheckpointContext ctx;
        ctx.pid = child.pid;
        ctx.outFd = -1;
        ctx.options.lowPause = true;
        ctx.options.leaveRunning = true;
        auto checked = checkpointPrecheck(ctx);
        QVERIFY2(checked, checked ? "" : checked.error().describe().c_str());
        QVERIFY(checkpointFreeze(ctx));
        auto captured = checkpointCapture(ctx);
        QVERIFY2(captured, captured ? "" : captured.error().describe().c_str());
        QCOMPARE(ctx.processes.front().threads.front().seccompMode, uint32_t(2));
        QCOMPARE(ctx.processes.front().threads.front().seccompFilters.size(), size_t(1));
        auto copiedOk = checkpointCopyMemory(ctx);
        QVERIFY2(copiedOk, copiedOk ? "" : copiedOk.error().describe().c_str());
        if (copied) {
            QVERIFY2(ctx.result.lowPauseFallback.empty(), ctx.result.lowPauseFallback.c_str());
            QVERIFY(ctx.processes.front().copy.pid() > 0);
        } else {
            const std::string &why = ctx.result.lowPauseFallback;
            QVERIFY2(why.find("seccomp") != std::string::npos && why.find("kill the process") != std::string::npos && why.find("clone") != std::string::npos,
                     why.c_str());
            QCOMPARE(ctx.processes.front().copy.pid(), 0);
        }
        QVERIFY(checkpointRelease(ctx));
        for (ProcessCapture &p : ctx.processes) {
            (void)p.copy.release();
        }
        // Alive, running on, not killed by its filter.
        QTest::qWait(100);
        QCOMPARE(::kill(child.pid, 0), 0);
        const QString state = statField(child.pid, 3);
        QVERIFY2(state == QLatin1String("R") || state == QLatin1String("S"), qPrintable(state));
    }

    // A filter that would kill the process on a call the dump itself injects
    // (sigaltstack, for the alternate stack): the call is not injected, the
    // checkpoint fails naming the filter, and the process runs on.
    void seccompFilterStopsTheDumpNotTheProcess()
    {
        Child child;
        QVERIFY(start(child, 6));
        CheckpointContext ctx;
        ctx.pid = child.pid;
        ctx.outFd = -1;
        ctx.options.leaveRunning = true;
        QVERIFY(checkpointPrecheck(ctx));
        QVERIFY(checkpointFreeze(ctx));
        auto captured = checkpointCapture(ctx);
        QVERIFY(!captured);
        const std::string why = captured.error().describe();
        QVERIFY2(why.find("seccomp filters that would kill the process") != std::string::npos && why.find("not injected") != std::string::npos, why.c_str());
        QVERIFY(checkpointRelease(ctx));
        QTest::qWait(100);
        QCOMPARE(::kill(child.pid, 0), 0);
        const QString state = statField(child.pid, 3);
        QVERIFY2(state == QLatin1String("R") || state == QLatin1String("S"), qPrintable(state));
    }
};

QTEST_GUILESS_MAIN(MemoryCopyTest)
#include "memcopytest.moc"
