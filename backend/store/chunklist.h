// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The compact encoding of a list of chunk ids, as a manifest entry keeps it
// (docs/store.md, "Manifests"): the count, then each id as the zigzag varint
// of its difference to the previous one, the whole zstd-compressed when that
// is smaller. Pages of a later snapshot that did not change refer to the
// chunks an earlier snapshot stored in order, so most differences are +1 and
// a list of 2048 pages takes a few bytes. Id 0 stands for an all-zero chunk.
#pragma once

#include "result.h"

#include <cstdint>
#include <span>
#include <vector>

namespace cryopod::store
{

class ChunkList
{
public:
    static std::vector<uint8_t> encode(std::span<const int64_t> ids);
    // Refuses lists of more than maxItems ids and any malformed input.
    static Result<std::vector<int64_t>> decode(std::span<const uint8_t> bytes, uint64_t maxItems = uint64_t(1) << 26);
};

} // namespace cryopod::store
