// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "capabilities.h"

#include <cctype>

namespace cryopod::image
{

namespace
{
// The kernel's numbering (include/uapi/linux/capability.h), a stable ABI.
constexpr const char *kNames[kCapabilityCount] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
} // namespace

const char *capabilityName(unsigned bit)
{
    return bit < kCapabilityCount ? kNames[bit] : nullptr;
}

std::vector<std::string> capabilityNames(uint64_t mask)
{
    std::vector<std::string> out;
    for (unsigned bit = 0; bit < 64; ++bit) {
        if (mask & (uint64_t(1) << bit)) {
            const char *name = capabilityName(bit);
            out.push_back(name ? std::string(name) : "bit " + std::to_string(bit));
        }
    }
    return out;
}

std::optional<unsigned> capabilityFromName(std::string_view name)
{
    std::string upper;
    for (char c : name) {
        upper.push_back(char(std::toupper(static_cast<unsigned char>(c))));
    }
    if (!upper.starts_with("CAP_")) {
        upper = "CAP_" + upper;
    }
    for (unsigned bit = 0; bit < kCapabilityCount; ++bit) {
        if (upper == kNames[bit]) {
            return bit;
        }
    }
    return std::nullopt;
}

} // namespace cryopod::image
