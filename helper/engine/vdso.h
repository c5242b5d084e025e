// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The kernel's special mappings: [vdso], [vvar], [vvar_vclock], [vsyscall].
// Their positions are part of MmRecord's VMAs; the vDSO's bytes are hashed so
// that restore can refuse an image taken on a kernel with a different vDSO.
#pragma once

#include "procfs.h"
#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <optional>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cryopod::engine
{

// The kind of a special mapping by its name in /proc/PID/maps, nullopt for
// anything else.
std::optional<image::VmaKind> specialMappingKind(std::string_view name);

// XXH3-64 of a byte range.
uint64_t vdsoHashOf(const void *data, size_t size);

// ---- dump

// XXH3-64 of the [vdso] of pid (read with process_vm_readv); 0 when the
// process has no vDSO.
Result<uint64_t> dumpVdsoHash(pid_t pid, const image::MmRecord &mm);

// ---- restore

// (restore engineer's part)
// Refuses an image whose vDSO this kernel cannot give back: the image must show
// the same special mappings ([vvar], [vvar_vclock], [vdso]) as this kernel,
// with the same sizes and the same distances between them (the vDSO code finds
// its data at a fixed offset), and the same vDSO bytes (vdsoHash). "This
// kernel" is read from the restorer's own /proc/self/maps: the stub gets the
// same mappings. Call before anything is created.
Result<void> checkVdsoCompatible(const image::MmRecord &mm);

// Moves the stub's special mappings to the image's addresses with mremap
// (through free temporary addresses at `tempBase` when an old and a new range
// overlap), or unmaps them when the image has none. `stubMaps` are the stub's
// mappings as read before (only their special mappings are used).
Result<void> restoreVdso(Injector &injector, const image::MmRecord &mm, const std::vector<procfs::Mapping> &stubMaps, uint64_t tempBase);

} // namespace cryopod::engine
