// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Reading /proc/self/maps for the workloads that check their own layout.
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct wl_mapping {
    uintptr_t start;
    uintptr_t end;
    char perms[5];
    unsigned long long offset;
    unsigned long inode;
    char path[512];
};

// Finds the mapping that contains ADDR; false if none.
bool wl_find_mapping(uintptr_t addr, struct wl_mapping *out);
// Finds the first mapping whose path is exactly NAME (e.g. "[vdso]").
bool wl_find_named_mapping(const char *name, struct wl_mapping *out);
// Fault-probing: true if reading/writing one byte at ADDR raises SIGSEGV.
bool wl_read_faults(const volatile void *addr);
bool wl_write_faults(volatile void *addr);
