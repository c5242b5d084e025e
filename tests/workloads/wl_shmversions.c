// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// wl_versions with its array in MAP_SHARED anonymous memory (see there).
#define WL_VERSIONS_SHARED 1
#include "wl_versions.c"
