// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "vdso.h"

#include <cstdio>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>
#include <xxhash.h>

namespace cryopod::engine
{

std::optional<image::VmaKind> specialMappingKind(std::string_view name)
{
    if (name == "[vdso]") {
        return image::VmaKind::Vdso;
    }
    if (name == "[vvar]") {
        return image::VmaKind::Vvar;
    }
    if (name == "[vvar_vclock]") {
        return image::VmaKind::VvarVclock;
    }
    if (name == "[vsyscall]") {
        return image::VmaKind::Vsyscall;
    }
    return std::nullopt;
}

uint64_t vdsoHashOf(const void *data, size_t size)
{
    return XXH3_64bits(data, size);
}

// ---- dump

Result<uint64_t> dumpVdsoHash(pid_t pid, const image::MmRecord &mm)
{
    for (const image::VmaRecord &vma : mm.vmas) {
        if (vma.kind != image::VmaKind::Vdso) {
            continue;
        }
        const size_t size = size_t(vma.end - vma.start);
        if (size == 0 || size > (64u << 20)) {
            return fail("vdso of " + std::to_string(pid) + ": implausible size " + std::to_string(size));
        }
        std::vector<uint8_t> bytes(size);
        iovec local{bytes.data(), size};
        iovec remote{reinterpret_cast<void *>(vma.start), size};
        const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n < 0) {
            return sysError("vdso of " + std::to_string(pid) + ": read");
        }
        if (size_t(n) != size) {
            return fail("vdso of " + std::to_string(pid) + ": short read", EIO);
        }
        return vdsoHashOf(bytes.data(), size);
    }
    return uint64_t(0);
}

// ---- restore

namespace
{
struct Special {
    image::VmaKind kind;
    uint64_t start;
    uint64_t end;
};

const char *specialName(image::VmaKind kind)
{
    switch (kind) {
    case image::VmaKind::Vdso:
        return "[vdso]";
    case image::VmaKind::Vvar:
        return "[vvar]";
    case image::VmaKind::VvarVclock:
        return "[vvar_vclock]";
    default:
        return "[vsyscall]";
    }
}

std::string rangeOf(uint64_t start, uint64_t end)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "0x%llx-0x%llx", static_cast<unsigned long long>(start), static_cast<unsigned long long>(end));
    return buf;
}

// The movable special mappings ([vsyscall] is fixed and never moved), in address order.
std::vector<Special> specialsOf(const image::MmRecord &mm)
{
    std::vector<Special> out;
    for (const image::VmaRecord &vma : mm.vmas) {
        if (vma.kind == image::VmaKind::Vdso || vma.kind == image::VmaKind::Vvar || vma.kind == image::VmaKind::VvarVclock) {
            out.push_back({vma.kind, vma.start, vma.end});
        }
    }
    return out;
}

std::vector<Special> specialsOf(const std::vector<procfs::Mapping> &maps)
{
    std::vector<Special> out;
    for (const procfs::Mapping &m : maps) {
        const auto kind = specialMappingKind(m.path);
        if (kind && *kind != image::VmaKind::Vsyscall) {
            out.push_back({*kind, m.start, m.end});
        }
    }
    return out;
}

std::string layoutText(const std::vector<Special> &specials)
{
    std::string out;
    for (const Special &s : specials) {
        out += (out.empty() ? "" : ", ") + std::string(specialName(s.kind)) + " " + std::to_string((s.end - s.start) / 1024) + " KiB at +"
            + std::to_string((s.start - specials.front().start) / 1024) + " KiB";
    }
    return out.empty() ? "none" : out;
}
} // namespace

Result<void> checkVdsoCompatible(const image::MmRecord &mm)
{
    auto own = procfs::readMaps(::getpid());
    if (!own) {
        return std::unexpected(own.error().context("vdso check"));
    }
    const std::vector<Special> theirs = specialsOf(mm);
    const std::vector<Special> ours = specialsOf(*own);
    if (theirs.empty()) {
        return {}; // no vDSO in the image: the stub's is simply removed
    }
    bool same = theirs.size() == ours.size();
    for (size_t i = 0; same && i < theirs.size(); ++i) {
        same = theirs[i].kind == ours[i].kind && theirs[i].end - theirs[i].start == ours[i].end - ours[i].start
            && theirs[i].start - theirs.front().start == ours[i].start - ours.front().start;
    }
    if (!same) {
        return fail("vdso check: this kernel's vDSO layout (" + layoutText(ours) + ") differs from the image's (" + layoutText(theirs)
                        + "): the image was taken on a different kernel and cannot be restored here",
                    ENOTSUP);
    }
    for (const Special &s : ours) {
        if (s.kind == image::VmaKind::Vdso) {
            const uint64_t hash = vdsoHashOf(reinterpret_cast<const void *>(s.start), size_t(s.end - s.start));
            if (hash != mm.vdsoHash) {
                return fail("vdso check: this kernel's vDSO code differs from the image's (hash mismatch): the image was taken on a different kernel", ENOTSUP);
            }
        }
    }
    return {};
}

Result<void> restoreVdso(Injector &injector, const image::MmRecord &mm, const std::vector<procfs::Mapping> &stubMaps, uint64_t tempBase)
{
    std::vector<Special> current = specialsOf(stubMaps);
    const std::vector<Special> wanted = specialsOf(mm);
    if (wanted.empty()) {
        for (const Special &s : current) {
            auto r = injector.call(std::string("restore vdso: munmap ") + specialName(s.kind), SYS_munmap, s.start, s.end - s.start);
            if (!r) {
                return std::unexpected(r.error());
            }
        }
        return {};
    }
    if (current.size() != wanted.size()) {
        return fail("restore vdso: the stub has " + std::to_string(current.size()) + " special mappings, the image " + std::to_string(wanted.size()), ENOTSUP);
    }
    auto move = [&](Special &s, uint64_t to) -> Result<void> {
        if (s.start == to) {
            return {};
        }
        const uint64_t size = s.end - s.start;
        auto r = injector.call(std::string("restore vdso: mremap ") + specialName(s.kind) + " " + rangeOf(s.start, s.end) + " to " + rangeOf(to, to + size),
                               SYS_mremap,
                               s.start,
                               size,
                               size,
                               MREMAP_MAYMOVE | MREMAP_FIXED,
                               to);
        if (!r) {
            return std::unexpected(r.error());
        }
        s.start = to;
        s.end = to + size;
        return {};
    };
    auto overlaps = [](uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) {
        return a0 < b1 && b0 < a1;
    };
    // Phase 1: any mapping whose target range meets a current special
    // mapping (itself included, unless already in place) goes to a temporary
    // address first, so that phase 2 never moves onto a live mapping.
    bool needTemp = false;
    for (size_t i = 0; i < wanted.size(); ++i) {
        for (const Special &c : current) {
            if (overlaps(wanted[i].start, wanted[i].end, c.start, c.end) && !(c.kind == wanted[i].kind && c.start == wanted[i].start)) {
                needTemp = true;
            }
        }
    }
    if (needTemp) {
        uint64_t at = tempBase;
        for (Special &c : current) {
            CRYOPOD_PROPAGATE(move(c, at));
            at += c.end - c.start;
        }
    }
    // Phase 2: every mapping to its recorded address (the kinds come in the
    // same order: checkVdsoCompatible compared the layouts).
    for (size_t i = 0; i < wanted.size(); ++i) {
        if (current[i].kind != wanted[i].kind) {
            return fail("restore vdso: special mappings in a different order than in the image", ENOTSUP);
        }
        CRYOPOD_PROPAGATE(move(current[i], wanted[i].start));
    }
    return {};
}

} // namespace cryopod::engine
