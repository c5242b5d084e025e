// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "seccomp.h"

#include "procfs.h"

#include <algorithm>
#include <cstring>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

namespace cryopod::engine
{

namespace
{

constexpr size_t kInsnBytes = sizeof(sock_filter);
static_assert(kInsnBytes == 8);
constexpr uint32_t kSeccompDataBytes = 64; // struct seccomp_data
constexpr size_t kRspIndex = 19; // user_regs_struct order
constexpr uint64_t kRedZone = 128;

// The kernel's ordering of actions: the lowest, taken as a signed value, wins.
int32_t severity(uint32_t ret)
{
    return int32_t(ret & SECCOMP_RET_ACTION_FULL);
}

// One filter's result; SECCOMP_RET_KILL_PROCESS for a program the kernel
// would not have accepted.
uint32_t runFilter(std::span<const uint8_t> program, const SeccompCall &call)
{
    const size_t count = program.size() / kInsnBytes;
    uint8_t data[kSeccompDataBytes] = {};
    const int32_t nr = int32_t(call.nr);
    const uint32_t arch = AUDIT_ARCH_X86_64;
    std::memcpy(data, &nr, 4);
    std::memcpy(data + 4, &arch, 4);
    std::memcpy(data + 8, &call.ip, 8);
    std::memcpy(data + 16, call.args.data(), 48);
    uint32_t a = 0, x = 0;
    uint32_t mem[BPF_MEMWORDS] = {};
    for (size_t pc = 0; pc < count; ++pc) {
        sock_filter in;
        std::memcpy(&in, program.data() + pc * kInsnBytes, kInsnBytes);
        const uint32_t k = in.k;
        switch (BPF_CLASS(in.code)) {
        case BPF_LD:
        case BPF_LDX: {
            uint32_t value = 0;
            if (in.code == (BPF_LD | BPF_W | BPF_ABS)) {
                if (k % 4 != 0 || k >= kSeccompDataBytes) {
                    return SECCOMP_RET_KILL_PROCESS;
                }
                std::memcpy(&value, data + k, 4);
            } else if (BPF_MODE(in.code) == BPF_LEN && BPF_SIZE(in.code) == BPF_W) {
                value = kSeccompDataBytes;
            } else if (BPF_MODE(in.code) == BPF_IMM) {
                value = k;
            } else if (BPF_MODE(in.code) == BPF_MEM && k < BPF_MEMWORDS) {
                value = mem[k];
            } else {
                return SECCOMP_RET_KILL_PROCESS;
            }
            (BPF_CLASS(in.code) == BPF_LD ? a : x) = value;
            break;
        }
        case BPF_ST:
        case BPF_STX:
            if (k >= BPF_MEMWORDS) {
                return SECCOMP_RET_KILL_PROCESS;
            }
            mem[k] = BPF_CLASS(in.code) == BPF_ST ? a : x;
            break;
        case BPF_ALU: {
            const uint32_t operand = BPF_SRC(in.code) == BPF_X ? x : k;
            switch (BPF_OP(in.code)) {
            case BPF_ADD:
                a += operand;
                break;
            case BPF_SUB:
                a -= operand;
                break;
            case BPF_MUL:
                a *= operand;
                break;
            case BPF_DIV:
                if (operand == 0) {
                    return SECCOMP_RET_KILL_THREAD; // the kernel's BPF returns 0 for a division by zero
                }
                a /= operand;
                break;
            case BPF_MOD:
                if (operand == 0) {
                    return SECCOMP_RET_KILL_PROCESS;
                }
                a %= operand;
                break;
            case BPF_OR:
                a |= operand;
                break;
            case BPF_AND:
                a &= operand;
                break;
            case BPF_XOR:
                a ^= operand;
                break;
            case BPF_LSH:
                a = operand >= 32 ? 0 : a << operand;
                break;
            case BPF_RSH:
                a = operand >= 32 ? 0 : a >> operand;
                break;
            case BPF_NEG:
                a = uint32_t(-int64_t(a));
                break;
            default:
                return SECCOMP_RET_KILL_PROCESS;
            }
            break;
        }
        case BPF_JMP: {
            if (BPF_OP(in.code) == BPF_JA) {
                pc += k;
                break;
            }
            const uint32_t operand = BPF_SRC(in.code) == BPF_X ? x : k;
            bool taken = false;
            switch (BPF_OP(in.code)) {
            case BPF_JEQ:
                taken = a == operand;
                break;
            case BPF_JGT:
                taken = a > operand;
                break;
            case BPF_JGE:
                taken = a >= operand;
                break;
            case BPF_JSET:
                taken = (a & operand) != 0;
                break;
            default:
                return SECCOMP_RET_KILL_PROCESS;
            }
            pc += taken ? in.jt : in.jf;
            break;
        }
        case BPF_RET:
            if (BPF_RVAL(in.code) == BPF_K) {
                return k;
            }
            if (BPF_RVAL(in.code) == BPF_A) {
                return a;
            }
            return SECCOMP_RET_KILL_PROCESS;
        case BPF_MISC:
            if (BPF_MISCOP(in.code) == BPF_TAX) {
                x = a;
            } else if (BPF_MISCOP(in.code) == BPF_TXA) {
                a = x;
            } else {
                return SECCOMP_RET_KILL_PROCESS;
            }
            break;
        default:
            return SECCOMP_RET_KILL_PROCESS;
        }
    }
    return SECCOMP_RET_KILL_PROCESS; // ran off the end: the kernel refuses such a program
}

std::string syscallName(long nr)
{
    switch (nr) {
    case SYS_clone:
        return "clone";
    case SYS_mmap:
        return "mmap";
    case SYS_munmap:
        return "munmap";
    case SYS_prctl:
        return "prctl";
    case SYS_seccomp:
        return "seccomp";
    case SYS_wait4:
        return "wait4";
    default:
        return "system call " + std::to_string(nr);
    }
}

} // namespace

uint32_t evaluateSeccomp(uint32_t mode, const std::vector<image::SeccompFilter> &filters, const SeccompCall &call)
{
    if (mode == image::kSeccompModeStrict) {
        const bool allowed = call.nr == SYS_read || call.nr == SYS_write || call.nr == SYS_exit || call.nr == SYS_rt_sigreturn;
        return allowed ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_THREAD;
    }
    if (mode != image::kSeccompModeFilter) {
        return SECCOMP_RET_ALLOW;
    }
    // Newest first, as the kernel walks the chain: of equal actions the
    // newest filter's (its errno) is taken.
    uint32_t ret = SECCOMP_RET_ALLOW;
    for (auto f = filters.rbegin(); f != filters.rend(); ++f) {
        const uint32_t cur = runFilter(f->program, call);
        if (severity(cur) < severity(ret)) {
            ret = cur;
        }
    }
    return ret;
}

std::string describeSeccompAction(uint32_t ret)
{
    switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_ALLOW:
        return "allow";
    case SECCOMP_RET_LOG:
        return "log";
    case SECCOMP_RET_KILL_PROCESS:
        return "kill the process";
    case SECCOMP_RET_KILL_THREAD:
        return "kill the thread";
    case SECCOMP_RET_TRAP:
        return "raise SIGSYS";
    case SECCOMP_RET_ERRNO:
        return "fail it with " + errnoName(int(ret & SECCOMP_RET_DATA));
    case SECCOMP_RET_USER_NOTIF:
        return "ask its user-space supervisor";
    case SECCOMP_RET_TRACE:
        return "stop it for a tracer";
    default:
        return "kill the process (unknown action)";
    }
}

Injector::Guard seccompGuard(pid_t tid, uint32_t mode, std::vector<image::SeccompFilter> filters)
{
    if (mode == 0) {
        return {};
    }
    return [tid, mode, filters = std::move(filters)](long nr, const std::array<uint64_t, 6> &args, uint64_t ip) -> Result<void> {
        const uint32_t action = evaluateSeccomp(mode, filters, SeccompCall {nr, args, ip});
        const uint32_t kind = action & SECCOMP_RET_ACTION_FULL;
        if (kind == SECCOMP_RET_ALLOW || kind == SECCOMP_RET_LOG) {
            return {};
        }
        return fail("thread " + std::to_string(tid) + " runs under seccomp " + (mode == image::kSeccompModeStrict ? "strict mode" : "filters") +
                        " that would " + describeSeccompAction(action) + " for the injected " + syscallName(nr) + ", so it was not injected",
                    EPERM);
    };
}

// ---- dump

Result<void> dumpSeccomp(const procfs::Status &status, const Tracee &tracee, image::ThreadRecord &thread)
{
    const pid_t tid = tracee.tid();
    const std::string what = "seccomp of thread " + std::to_string(tid);
    auto mode = procfs::statusNumbers(status, "Seccomp");
    if (!mode || mode->empty()) {
        return {}; // a kernel without seccomp
    }
    thread.seccompMode = uint32_t((*mode)[0]);
    thread.seccompFilters.clear();
    if (thread.seccompMode != image::kSeccompModeFilter) {
        return {};
    }
    // Index 0 is the newest filter; ENOENT past the oldest.
    for (unsigned long index = 0;; ++index) {
        const long count = ::ptrace(PTRACE_SECCOMP_GET_FILTER, tid, reinterpret_cast<void *>(index), nullptr);
        if (count < 0) {
            if (errno == ENOENT && index > 0) {
                break;
            }
            return sysError(what + ": PTRACE_SECCOMP_GET_FILTER " + std::to_string(index));
        }
        if (count == 0 || count > long(image::kMaxSeccompInstructions) || index >= image::kMaxSeccompFilters) {
            return fail(what + ": filter " + std::to_string(index) + " of " + std::to_string(count) + " instructions is beyond what an image holds", E2BIG);
        }
        image::SeccompFilter filter;
        filter.program.resize(size_t(count) * kInsnBytes);
        if (::ptrace(PTRACE_SECCOMP_GET_FILTER, tid, reinterpret_cast<void *>(index), filter.program.data()) != count) {
            return sysError(what + ": PTRACE_SECCOMP_GET_FILTER " + std::to_string(index));
        }
        __ptrace_seccomp_metadata metadata {};
        metadata.filter_off = index;
        if (::ptrace(PTRACE_SECCOMP_GET_METADATA, tid, reinterpret_cast<void *>(sizeof metadata), &metadata) < 0) {
            return sysError(what + ": PTRACE_SECCOMP_GET_METADATA " + std::to_string(index));
        }
        filter.flags = uint32_t(metadata.flags) & image::kSeccompFilterFlagLog;
        thread.seccompFilters.push_back(std::move(filter));
    }
    std::reverse(thread.seccompFilters.begin(), thread.seccompFilters.end()); // oldest first
    return {};
}

// ---- restore

namespace
{

// Where the programs go while they are installed: below the leader's red
// zone when its stack mapping has room, else the largest private writable
// anonymous mapping.
Result<uint64_t> borrowArea(const image::MmRecord &mm, uint64_t sp, size_t need)
{
    const uint64_t top = (sp - kRedZone) & ~uint64_t(15);
    for (const image::VmaRecord &v : mm.vmas) {
        if (v.start < top && top <= v.end && (v.prot & image::kVmaWrite) && v.kind == image::VmaKind::Anonymous && top - v.start >= need) {
            return (top - need) & ~uint64_t(15);
        }
    }
    const image::VmaRecord *best = nullptr;
    for (const image::VmaRecord &v : mm.vmas) {
        if ((v.prot & (image::kVmaWrite | image::kVmaRead)) == (image::kVmaWrite | image::kVmaRead) && v.kind == image::VmaKind::Anonymous &&
            v.end - v.start >= need && (!best || v.end - v.start > best->end - best->start)) {
            best = &v;
        }
    }
    if (!best) {
        return fail("no private writable memory of " + std::to_string(need) + " bytes to hold the seccomp filters while they are installed", ENOMEM);
    }
    return best->start;
}

} // namespace

Result<void> restoreSeccomp(const std::vector<Tracee *> &tracees, const std::vector<image::ThreadRecord> &threads, const image::MmRecord &mm,
                            uint64_t *injected)
{
    const bool any = std::any_of(threads.begin(), threads.end(), [](const image::ThreadRecord &t) { return t.seccompMode != 0; });
    if (!any || threads.empty() || tracees.size() != threads.size()) {
        return {};
    }
    const std::string what = "restore seccomp of " + std::to_string(threads.front().pid);
    // The filters at the bottom of every thread's chain: installed once for all.
    size_t common = 0;
    if (std::all_of(threads.begin(), threads.end(), [](const image::ThreadRecord &t) { return t.seccompMode == image::kSeccompModeFilter; })) {
        const auto &first = threads.front().seccompFilters;
        for (; common < first.size(); ++common) {
            const bool shared = std::all_of(threads.begin(), threads.end(), [&](const image::ThreadRecord &t) {
                return t.seccompFilters.size() > common && t.seccompFilters[common] == first[common];
            });
            if (!shared) {
                break;
            }
        }
    }
    size_t largest = 0;
    for (const image::ThreadRecord &t : threads) {
        for (const image::SeccompFilter &f : t.seccompFilters) {
            largest = std::max(largest, f.program.size());
        }
    }
    const size_t need = 16 + largest;
    auto area = borrowArea(mm, threads.front().regs.gpr[kRspIndex], need);
    if (!area) {
        return std::unexpected(area.error().context(what));
    }
    std::vector<Injector> injectors;
    injectors.reserve(tracees.size());
    for (Tracee *tracee : tracees) {
        auto injector = Injector::create(*tracee);
        if (!injector) {
            for (Injector &i : injectors) {
                i.dismiss();
            }
            return std::unexpected(injector.error().context(what));
        }
        injectors.push_back(std::move(*injector));
    }
    auto dismissAll = [&] {
        for (Injector &i : injectors) {
            *injected += i.injectedCount();
            i.dismiss(); // restoreThreadState() sets the final registers and mask
        }
    };
    const RemoteMemory &memory = injectors.front().memory();
    std::vector<uint8_t> saved(need);
    if (auto r = memory.read(*area, saved); !r) {
        dismissAll();
        return std::unexpected(r.error().context(what + ": borrow memory"));
    }
    // Installs `threads[i].seccompFilters[k]` in thread i (with `flags` added).
    auto install = [&](size_t i, size_t k, uint32_t flags) -> Result<void> {
        const image::ThreadRecord &t = threads[i];
        const image::SeccompFilter &f = t.seccompFilters[k];
        // What is in place already decides whether seccomp() itself may run.
        injectors[i].setGuard(seccompGuard(t.tid, k == 0 ? 0 : image::kSeccompModeFilter, {t.seccompFilters.begin(), t.seccompFilters.begin() + ptrdiff_t(k)}));
        struct {
            uint16_t len;
            uint8_t pad[6];
            uint64_t filter;
        } fprog {uint16_t(f.program.size() / kInsnBytes), {}, *area + 16};
        static_assert(sizeof fprog == 16);
        CRYOPOD_PROPAGATE(memory.write(*area, {reinterpret_cast<const uint8_t *>(&fprog), sizeof fprog}));
        CRYOPOD_PROPAGATE(memory.write(*area + 16, f.program));
        const std::string call =
            what + ": thread " + std::to_string(t.tid) + ": filter " + std::to_string(k + 1) + " of " + std::to_string(t.seccompFilters.size());
        auto r = injectors[i].call(call, SYS_seccomp, SECCOMP_SET_MODE_FILTER, f.flags | flags, *area);
        if (!r) {
            if (r.error().code == EACCES) {
                return fail(call + ": the thread has neither no_new_privs nor CAP_SYS_ADMIN, which installing a filter needs", EACCES);
            }
            return std::unexpected(r.error());
        }
        if (*r != 0) { // TSYNC: the thread that could not take it
            return fail(call + ": thread " + std::to_string(*r) + " could not be synchronized (SECCOMP_FILTER_FLAG_TSYNC)", ESRCH);
        }
        return {};
    };
    Result<void> result;
    for (size_t k = 0; k < common && result; ++k) {
        result = install(0, k, SECCOMP_FILTER_FLAG_TSYNC);
    }
    for (size_t i = 0; i < threads.size() && result; ++i) {
        const image::ThreadRecord &t = threads[i];
        if (t.seccompMode == image::kSeccompModeStrict) {
            result = injectors[i]
                         .call(what + ": thread " + std::to_string(t.tid) + ": strict mode", SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_STRICT)
                         .transform([](uint64_t) { });
            continue;
        }
        for (size_t k = common; k < t.seccompFilters.size() && result; ++k) {
            result = install(i, k, 0);
        }
    }
    // The borrowed bytes go back whatever happened (a failed restore kills the process anyway).
    auto put = memory.write(*area, saved);
    dismissAll();
    CRYOPOD_PROPAGATE(result);
    if (!put) {
        return std::unexpected(put.error().context(what + ": give back borrowed memory"));
    }
    return {};
}

} // namespace cryopod::engine
