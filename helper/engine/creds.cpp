// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "creds.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
// restore side:
#include <cerrno>
#include <cstring>
#include <iterator>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cryopod::engine
{

// ---- dump

Result<image::CredsRecord> dumpCreds(pid_t pid, const procfs::Status &status, Injector *injector)
{
    const std::string what = "credentials of " + std::to_string(pid);
    image::CredsRecord record;
    record.pid = pid;

    auto uids = procfs::statusNumbers(status, "Uid");
    auto gids = procfs::statusNumbers(status, "Gid");
    if (!uids || !gids) {
        return std::unexpected((uids ? gids.error() : uids.error()).context(what));
    }
    if (uids->size() != 4 || gids->size() != 4) {
        return fail(what + ": Uid/Gid lines do not have 4 ids");
    }
    record.uid = uint32_t((*uids)[0]);
    record.euid = uint32_t((*uids)[1]);
    record.suid = uint32_t((*uids)[2]);
    record.fsuid = uint32_t((*uids)[3]);
    record.gid = uint32_t((*gids)[0]);
    record.egid = uint32_t((*gids)[1]);
    record.sgid = uint32_t((*gids)[2]);
    record.fsgid = uint32_t((*gids)[3]);

    auto groups = procfs::statusNumbers(status, "Groups");
    if (!groups) {
        return std::unexpected(groups.error().context(what));
    }
    for (const uint64_t g : *groups) {
        record.groups.push_back(uint32_t(g));
    }

    const std::pair<const char *, uint64_t *> caps[] = {
        {"CapInh", &record.capInheritable},
        {"CapPrm", &record.capPermitted},
        {"CapEff", &record.capEffective},
        {"CapBnd", &record.capBounding},
        {"CapAmb", &record.capAmbient},
    };
    for (const auto &[key, target] : caps) {
        auto value = procfs::statusHex(status, key);
        if (!value) {
            return std::unexpected(value.error().context(what));
        }
        *target = *value;
    }

    auto nnp = procfs::statusNumbers(status, "NoNewPrivs");
    if (!nnp || nnp->size() != 1) {
        return fail(what + ": no NoNewPrivs in status");
    }
    record.noNewPrivs = (*nnp)[0] != 0;

    if (injector) {
        auto bits = injector->call(what + ": prctl(PR_GET_SECUREBITS)", SYS_prctl, PR_GET_SECUREBITS);
        if (!bits) {
            return std::unexpected(bits.error());
        }
        record.securebits = uint32_t(*bits);
    }
    return record;
}

// ---- restore

std::string capabilityName(int cap)
{
    static const char *const names[] = {
        "CAP_CHOWN",           "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH",   "CAP_FOWNER",           "CAP_FSETID",         "CAP_KILL",
        "CAP_SETGID",          "CAP_SETUID",        "CAP_SETPCAP",           "CAP_LINUX_IMMUTABLE",  "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",       "CAP_NET_RAW",       "CAP_IPC_LOCK",          "CAP_IPC_OWNER",        "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",    "CAP_SYS_PACCT",         "CAP_SYS_ADMIN",        "CAP_SYS_BOOT",       "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",    "CAP_MKNOD",            "CAP_LEASE",          "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",       "CAP_MAC_OVERRIDE",      "CAP_MAC_ADMIN",        "CAP_SYSLOG",         "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",    "CAP_PERFMON",           "CAP_BPF",              "CAP_CHECKPOINT_RESTORE",
    };
    if (cap >= 0 && cap < int(std::size(names))) {
        return names[cap];
    }
    return "cap " + std::to_string(cap);
}

namespace
{
std::string firstMissing(uint64_t wanted, uint64_t have)
{
    const uint64_t missing = wanted & ~have;
    for (int cap = 0; cap < 64; ++cap) {
        if (missing & (uint64_t(1) << cap)) {
            return capabilityName(cap);
        }
    }
    return {};
}

// struct __user_cap_header_struct + 2 x struct __user_cap_data_struct (v3).
struct CapsetArgs {
    uint32_t version = 0x20080522; // _LINUX_CAPABILITY_VERSION_3
    int32_t pid = 0;
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2]{};
};

constexpr uint32_t kSecbitNoSetuidFixup = 1u << 2;
constexpr int kCapSetpcap = 8;
} // namespace

Result<void> checkCredsRestorable(const image::CredsRecord &creds)
{
    auto status = procfs::readStatus(::getpid());
    if (!status) {
        return std::unexpected(status.error().context("credentials check"));
    }
    auto prm = procfs::statusHex(*status, "CapPrm");
    auto bnd = procfs::statusHex(*status, "CapBnd");
    if (!prm || !bnd) {
        return std::unexpected((prm ? bnd.error() : prm.error()).context("credentials check"));
    }
    const struct {
        const char *set;
        uint64_t wanted;
        uint64_t have;
    } checks[] = {
        {"permitted", creds.capPermitted, *prm},
        {"effective", creds.capEffective, creds.capPermitted},
        {"inheritable", creds.capInheritable, *prm | *bnd},
        {"ambient", creds.capAmbient, creds.capPermitted & creds.capInheritable},
        {"bounding", creds.capBounding, *bnd},
    };
    for (const auto &c : checks) {
        const std::string cap = firstMissing(c.wanted, c.have);
        if (!cap.empty()) {
            return fail("credentials: the image's " + std::string(c.set) + " capability set has " + cap + ", which this restorer cannot grant", EPERM);
        }
    }
    if (!(*prm & (uint64_t(1) << kCapSetpcap)) || !(*prm & (uint64_t(1) << 6)) || !(*prm & (uint64_t(1) << 7))) {
        return fail("credentials: the restorer needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP", EPERM);
    }
    if (creds.groups.size() > 4096) {
        return fail("credentials: " + std::to_string(creds.groups.size()) + " supplementary groups (engine v1 restores at most 4096)", ENOTSUP);
    }
    return {};
}

Result<void> restoreCreds(Injector &injector, RemoteScratch &scratch, const image::CredsRecord &creds)
{
    const std::string what = "restore credentials of " + std::to_string(creds.pid);
    const size_t mark = scratch.used();
    auto restoreScratch = [&scratch, mark] {
        scratch.reset(mark);
    };
    // The bounding set the thread has now, read from outside: the
    // capabilities this kernel knows and the thread still holds.
    auto status = procfs::readStatus(injector.tracee().tid());
    if (!status) {
        return std::unexpected(status.error().context(what));
    }
    auto bounding = procfs::statusHex(*status, "CapBnd");
    if (!bounding) {
        return std::unexpected(bounding.error().context(what));
    }

    // 1. keep the capability sets through the uid changes
    auto bits = injector.call(what + ": PR_GET_SECUREBITS", SYS_prctl, PR_GET_SECUREBITS);
    if (!bits) {
        return std::unexpected(bits.error());
    }
    // The rest in one batch of injected calls, in this order; what needs
    // their results is checked after it.
    InjectBatch batch;
    batch.add(what + ": PR_SET_SECUREBITS (no setuid fixup)", SYS_prctl, PR_SET_SECUREBITS, *bits | kSecbitNoSetuidFixup);

    // 2. ids
    std::vector<uint8_t> groups(creds.groups.size() * 4);
    if (!groups.empty()) {
        std::memcpy(groups.data(), creds.groups.data(), groups.size());
    }
    uint64_t groupsAddr = 0;
    if (!groups.empty()) {
        auto g = scratch.put(groups);
        if (!g) {
            restoreScratch();
            return std::unexpected(g.error().context(what + ": groups"));
        }
        groupsAddr = *g;
    }
    batch.add(what + ": setgroups", SYS_setgroups, creds.groups.size(), groupsAddr);
    batch.add(what + ": setresgid", SYS_setresgid, creds.gid, creds.egid, creds.sgid);
    // setfsgid/setfsuid return the previous value, never an error: checked
    // with a second call that reads the current one.
    batch.add(what + ": setfsgid", SYS_setfsgid, creds.fsgid);
    const size_t fsgid = batch.add(what + ": setfsgid (read)", SYS_setfsgid, ~0u);
    batch.add(what + ": setresuid", SYS_setresuid, creds.uid, creds.euid, creds.suid);
    batch.add(what + ": setfsuid", SYS_setfsuid, creds.fsuid);
    const size_t fsuid = batch.add(what + ": setfsuid (read)", SYS_setfsuid, ~0u);

    auto capset = [&](uint64_t permitted, uint64_t effective, uint64_t inheritable, const std::string &step) -> Result<void> {
        CapsetArgs args;
        args.data[0] = {uint32_t(effective), uint32_t(permitted), uint32_t(inheritable)};
        args.data[1] = {uint32_t(effective >> 32), uint32_t(permitted >> 32), uint32_t(inheritable >> 32)};
        auto addr = scratch.put({reinterpret_cast<const uint8_t *>(&args), sizeof args});
        if (!addr) {
            restoreScratch();
            return std::unexpected(addr.error().context(what));
        }
        // header at addr, data right behind it (the kernel reads both)
        batch.add(what + ": " + step, SYS_capset, *addr, *addr + 8);
        return {};
    };
    // 3. the image's sets plus CAP_SETPCAP for the next steps
    const uint64_t setpcap = uint64_t(1) << kCapSetpcap;
    CRYOPOD_PROPAGATE(capset(creds.capPermitted | setpcap, creds.capEffective | setpcap, creds.capInheritable, "capset"));
    // 4. ambient
    for (int cap = 0; cap < 64; ++cap) {
        if (creds.capAmbient & (uint64_t(1) << cap)) {
            batch.add(what + ": ambient " + capabilityName(cap), SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        }
    }
    // 5. bounding set: drop what the image does not have
    for (int cap = 0; cap < 64; ++cap) {
        if (!(creds.capBounding & (uint64_t(1) << cap)) && (*bounding & (uint64_t(1) << cap))) {
            batch.add(what + ": bounding set drop " + capabilityName(cap), SYS_prctl, PR_CAPBSET_DROP, cap);
        }
    }
    // 6. securebits
    batch.add(what + ": PR_SET_SECUREBITS", SYS_prctl, PR_SET_SECUREBITS, creds.securebits);
    // 7. exactly the image's sets
    CRYOPOD_PROPAGATE(capset(creds.capPermitted, creds.capEffective, creds.capInheritable, "capset (final)"));
    // 8.
    if (creds.noNewPrivs) {
        batch.add(what + ": PR_SET_NO_NEW_PRIVS", SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    const bool noSetId = creds.uid == creds.euid && creds.euid == creds.suid && creds.gid == creds.egid && creds.egid == creds.sgid;
    if (noSetId) {
        batch.add(what + ": PR_SET_DUMPABLE", SYS_prctl, PR_SET_DUMPABLE, 1);
    }
    auto r = injector.run(batch, scratch);
    restoreScratch();
    if (batch.results().size() > fsgid && uint32_t(batch.result(fsgid)) != creds.fsgid) {
        return fail(what + ": setfsgid " + std::to_string(creds.fsgid) + " was not accepted", EPERM);
    }
    if (batch.results().size() > fsuid && uint32_t(batch.result(fsuid)) != creds.fsuid) {
        return fail(what + ": setfsuid " + std::to_string(creds.fsuid) + " was not accepted", EPERM);
    }
    return r;
}

// ---- filesystem identity

namespace
{
std::string identityText(const FsIdentity &identity)
{
    return "uid " + std::to_string(identity.uid) + ", gid " + std::to_string(identity.gid);
}

// The kernel takes at most NGROUPS_MAX (65536); the injection scratch holds far
// fewer. No real caller has more than a few dozen.
constexpr size_t kMaxIdentityGroups = 4096;
} // namespace

Result<void> assumeFsIdentity(Injector &injector, RemoteScratch &scratch, const FsIdentity &identity)
{
    const std::string what = "restore as the caller (" + identityText(identity) + ")";
    if (identity.groups.size() > kMaxIdentityGroups) {
        return fail(what + ": " + std::to_string(identity.groups.size()) + " supplementary groups", E2BIG);
    }
    const size_t mark = scratch.used();
    uint64_t groupsAddr = 0;
    if (!identity.groups.empty()) {
        std::vector<uint8_t> bytes(identity.groups.size() * sizeof(gid_t));
        std::memcpy(bytes.data(), identity.groups.data(), bytes.size());
        auto g = scratch.put(bytes);
        if (!g) {
            return std::unexpected(g.error().context(what + ": groups"));
        }
        groupsAddr = *g;
    }
    auto r = injector.call(what + ": setgroups", SYS_setgroups, identity.groups.size(), groupsAddr);
    scratch.reset(mark);
    if (!r) {
        return std::unexpected(r.error());
    }
    // setfsgid/setfsuid return the previous value, never an error: a second
    // call with an invalid id reads the current one back.
    (void)injector.syscall(SYS_setfsgid, identity.gid);
    auto fsgid = injector.syscall(SYS_setfsgid, ~0u);
    if (!fsgid || uint32_t(*fsgid) != identity.gid) {
        return fail(what + ": setfsgid was not accepted", EPERM);
    }
    (void)injector.syscall(SYS_setfsuid, identity.uid);
    auto fsuid = injector.syscall(SYS_setfsuid, ~0u);
    if (!fsuid || uint32_t(*fsuid) != identity.uid) {
        return fail(what + ": setfsuid was not accepted", EPERM);
    }
    return {};
}

Result<void> leaveFsIdentity(Injector &injector)
{
    (void)injector.syscall(SYS_setfsuid, 0);
    auto fsuid = injector.syscall(SYS_setfsuid, ~0u);
    (void)injector.syscall(SYS_setfsgid, 0);
    auto fsgid = injector.syscall(SYS_setfsgid, ~0u);
    if (!fsuid || !fsgid || *fsuid != 0 || *fsgid != 0) {
        return fail("restore: back to the restorer's filesystem identity: setfsuid/setfsgid 0 was not accepted", EPERM);
    }
    return {};
}

Result<void> runWithFsIdentity(const FsIdentity &identity, const std::function<void()> &fn)
{
    const std::string what = "act as the caller (" + identityText(identity) + ")";
    if (identity.groups.size() > kMaxIdentityGroups) {
        return fail(what + ": " + std::to_string(identity.groups.size()) + " supplementary groups", E2BIG);
    }
    Result<void> result;
    std::thread thread([&] {
        // Raw system calls: this thread only (glibc's setgroups would
        // change every thread of the process).
        if (::syscall(SYS_setgroups, identity.groups.size(), identity.groups.data()) != 0) {
            result = sysError(what + ": setgroups");
            return;
        }
        ::syscall(SYS_setfsgid, identity.gid);
        if (uint32_t(::syscall(SYS_setfsgid, ~0u)) != identity.gid) {
            result = fail(what + ": setfsgid was not accepted", EPERM);
            return;
        }
        ::syscall(SYS_setfsuid, identity.uid);
        if (uint32_t(::syscall(SYS_setfsuid, ~0u)) != identity.uid) {
            result = fail(what + ": setfsuid was not accepted", EPERM);
            return;
        }
        fn();
    });
    thread.join();
    return result;
}

} // namespace cryopod::engine
