// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "commands.h"

#include <cstdio>

int Cryopodctl::runCheckpoint(const QStringList &)
{
    std::fprintf(stderr, "cryopodctl: 'checkpoint' is not implemented yet\n");
    return 1;
}
