// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The image's checksums are XXH3-64 (docs/image-format.md). Include this
// instead of <xxhash.h>: where libxxhash is built with its x86 dispatcher
// (Debian's is; the Flatpak builds it so), the XXH3 entry points become the
// dispatching ones, which pick the widest vector unit of the CPU at run time
// (AVX2, AVX-512). The plain ones are compiled for SSE2 only: on the
// benchmark machine they checksum 512 MiB in 34 ms, the dispatched ones in
// about 10 (docs/performance.md, "checksum"). The values are the same.
#pragma once

// XXH3_state_t complete: the readers keep one on the stack.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#ifdef CRYOPOD_XXH_DISPATCH // -Wundef: not defined at all without the dispatcher
#include <xxh_x86dispatch.h>
#endif
