// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Names of the capability bits of the image's stable credential encoding
// (docs/image-format.md, "Credentials"): bit n of a capability set is the
// kernel's capability number n, CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cryopod::image
{

inline constexpr unsigned kCapabilityCount = 41;

// "CAP_CHOWN" for 0 ... "CAP_CHECKPOINT_RESTORE" for 40; nullptr above.
const char *capabilityName(unsigned bit);
// Names of the set bits, lowest first; a bit without a name is "bit N".
std::vector<std::string> capabilityNames(uint64_t mask);
// "CAP_CHOWN" or "chown" (any case, with or without the CAP_ prefix) -> bit.
std::optional<unsigned> capabilityFromName(std::string_view name);

} // namespace cryopod::image
