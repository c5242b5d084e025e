// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "task.h"

#include <charconv>
#include <sys/resource.h>
// restore side:
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <iterator>

namespace cryopod::engine
{

// ---- dump

Result<image::TaskRecord> dumpTask(pid_t pid, const procfs::Status &status, const procfs::Stat &stat)
{
    const std::string what = "task " + std::to_string(pid);
    image::TaskRecord record;
    record.pid = pid;

    auto comm = procfs::readFile(procfs::path(pid, "comm"));
    if (!comm) {
        return std::unexpected(comm.error().context(what));
    }
    if (!comm->empty() && comm->back() == '\n') {
        comm->pop_back();
    }
    record.comm = std::move(*comm);

    const std::pair<const char *, std::string *> links[] = {
        {"exe", &record.exePath},
        {"cwd", &record.cwd},
        {"root", &record.root},
    };
    for (const auto &[name, target] : links) {
        auto link = procfs::readLink(procfs::path(pid, name));
        if (!link) {
            return std::unexpected(link.error().context(what));
        }
        *target = std::move(*link);
    }

    const auto umask = status.find(std::string_view("Umask"));
    if (umask == status.end()) {
        return fail(what + ": no Umask in /proc/" + std::to_string(pid) + "/status");
    }
    uint32_t mask = 0;
    const auto [ptr, ec] = std::from_chars(umask->second.data(), umask->second.data() + umask->second.size(), mask, 8);
    if (ec != std::errc()) {
        return fail(what + ": bad Umask \"" + umask->second + "\"");
    }
    record.umask = mask;

    auto personality = procfs::readPersonality(pid);
    if (!personality) {
        return std::unexpected(personality.error().context(what));
    }
    record.personality = *personality;

    // /proc/PID/limits rather than prlimit(pid): reading another user's
    // limits with prlimit needs CAP_SYS_RESOURCE, which root may lack.
    auto limits = procfs::readLimits(pid);
    if (!limits) {
        return std::unexpected(limits.error().context(what));
    }
    if (limits->size() < record.rlimits.size()) {
        return fail(what + ": /proc/" + std::to_string(pid) + "/limits lists " + std::to_string(limits->size()) + " limits, expected "
                    + std::to_string(record.rlimits.size()));
    }
    for (size_t resource = 0; resource < record.rlimits.size(); ++resource) {
        record.rlimits[resource] = image::Rlimit{(*limits)[resource].soft, (*limits)[resource].hard};
    }

    record.exitSignal = int32_t(stat.number(38));
    return record;
}

// ---- restore

std::string rlimitName(int resource)
{
    static const char *const names[] = {"RLIMIT_CPU",
                                        "RLIMIT_FSIZE",
                                        "RLIMIT_DATA",
                                        "RLIMIT_STACK",
                                        "RLIMIT_CORE",
                                        "RLIMIT_RSS",
                                        "RLIMIT_NPROC",
                                        "RLIMIT_NOFILE",
                                        "RLIMIT_MEMLOCK",
                                        "RLIMIT_AS",
                                        "RLIMIT_LOCKS",
                                        "RLIMIT_SIGPENDING",
                                        "RLIMIT_MSGQUEUE",
                                        "RLIMIT_NICE",
                                        "RLIMIT_RTPRIO",
                                        "RLIMIT_RTTIME"};
    if (resource >= 0 && resource < int(std::size(names))) {
        return names[resource];
    }
    return "rlimit " + std::to_string(resource);
}

Result<bool> dumpChildSubreaper(Injector &injector, RemoteScratch &scratch)
{
    const std::string what = "prctl(PR_GET_CHILD_SUBREAPER) in " + std::to_string(injector.tracee().tid());
    const size_t mark = scratch.used();
    auto slot = scratch.reserve(sizeof(int));
    if (!slot) {
        return std::unexpected(slot.error().context(what));
    }
    CRYOPOD_PROPAGATE(injector.call(what, SYS_prctl, PR_GET_CHILD_SUBREAPER, *slot));
    int value = 0;
    CRYOPOD_PROPAGATE(scratch.read(*slot, std::span(reinterpret_cast<uint8_t *>(&value), sizeof value)));
    scratch.reset(mark);
    return value != 0;
}

Result<void> restoreTask(Injector &injector, RemoteScratch &scratch, const image::TaskRecord &task)
{
    // One batch of injected calls; the personality is checked after it.
    const std::string what = "restore task " + std::to_string(task.pid);
    const size_t mark = scratch.used();
    InjectBatch batch;
    batch.add(what + ": umask", SYS_umask, task.umask & 0777);
    batch.add(what + ": personality", SYS_personality, task.personality);
    // personality() returns the previous value: check that the new one took.
    const size_t now = batch.add(what + ": personality", SYS_personality, 0xffffffffu);
    if (task.childSubreaper) {
        batch.add(what + ": prctl(PR_SET_CHILD_SUBREAPER)", SYS_prctl, PR_SET_CHILD_SUBREAPER, 1);
    }
    if (!task.cwd.empty()) {
        auto path = scratch.putString(task.cwd);
        if (!path) {
            return std::unexpected(path.error().context(what + ": cwd"));
        }
        batch.add(what + ": chdir " + task.cwd, SYS_chdir, *path);
    }
    std::string comm = task.comm.substr(0, 15);
    auto name = scratch.putString(comm);
    if (!name) {
        scratch.reset(mark);
        return std::unexpected(name.error().context(what + ": comm"));
    }
    batch.add(what + ": comm (PR_SET_NAME)", SYS_prctl, PR_SET_NAME, *name);
    auto r = injector.run(batch, scratch);
    scratch.reset(mark);
    if (batch.results().size() > now && uint32_t(batch.result(now)) != task.personality) {
        return fail(what + ": personality 0x" + std::to_string(task.personality) + " was not accepted", EINVAL);
    }
    return r;
}

Result<void> restoreRoot(Injector &injector, RemoteScratch &scratch, const image::TaskRecord &task)
{
    if (task.root.empty() || task.root == "/") {
        return {};
    }
    const std::string what = "restore task " + std::to_string(task.pid) + ": chroot " + task.root;
    const size_t mark = scratch.used();
    auto path = scratch.putString(task.root);
    if (!path) {
        return std::unexpected(path.error().context(what));
    }
    auto r = injector.call(what, SYS_chroot, *path);
    scratch.reset(mark);
    if (!r) {
        return std::unexpected(r.error());
    }
    // The cwd stays where restoreTask put it (chroot does not move it), as in
    // the original process, whose cwd was recorded as a path below the root.
    return {};
}

Result<void> restoreRlimits(Injector &injector, RemoteScratch &scratch, const image::TaskRecord &task)
{
    const std::string what = "restore rlimits of " + std::to_string(task.pid);
    const size_t mark = scratch.used();
    auto buf = scratch.reserve(2 * sizeof(struct rlimit64));
    if (!buf) {
        return std::unexpected(buf.error().context(what));
    }
    const uint64_t newAddr = *buf;
    const uint64_t oldAddr = *buf + sizeof(struct rlimit64);
    for (int resource = 0; resource < int(task.rlimits.size()); ++resource) {
        const image::Rlimit &want = task.rlimits[size_t(resource)];
        const std::string name = rlimitName(resource);
        if (want.cur > want.max) {
            scratch.reset(mark);
            return fail(what + ": image " + name + " has soft limit above hard limit", EINVAL);
        }
        // Read the current limit (inherited from the restorer) first: from
        // outside (prlimit on the process, no round trip into it) while it
        // still has our credentials; injected where that is refused.
        struct rlimit64 current{};
        if (::syscall(SYS_prlimit64, injector.tracee().tid(), resource, nullptr, &current) != 0) {
            auto got = injector.call(what + ": get " + name, SYS_prlimit64, 0, uint64_t(resource), 0, oldAddr);
            if (!got) {
                scratch.reset(mark);
                return std::unexpected(got.error());
            }
            CRYOPOD_PROPAGATE(scratch.read(oldAddr, {reinterpret_cast<uint8_t *>(&current), sizeof current}));
        }
        if (current.rlim_cur == want.cur && current.rlim_max == want.max) {
            continue;
        }
        const struct rlimit64 limit{want.cur, want.max};
        CRYOPOD_PROPAGATE(injector.memory().write(newAddr, {reinterpret_cast<const uint8_t *>(&limit), sizeof limit}));
        auto r = injector.call(what + ": set " + name, SYS_prlimit64, 0, uint64_t(resource), newAddr, 0);
        if (!r) {
            scratch.reset(mark);
            auto text = [](uint64_t v) {
                return v == ~0ull ? std::string("unlimited") : std::to_string(v);
            };
            if (r.error().code == EPERM && want.max > current.rlim_max) {
                return fail(what + ": " + name + " hard limit " + text(want.max) + " is above the " + text(current.rlim_max)
                                + " this restorer may grant (raising a hard limit needs CAP_SYS_RESOURCE)",
                            EPERM);
            }
            return std::unexpected(r.error().context(name + " " + text(want.cur) + "/" + text(want.max)));
        }
    }
    scratch.reset(mark);
    return {};
}

} // namespace cryopod::engine
