// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "commands.h"

#include <cstdio>

int Cryopodctl::runInspect(const QStringList &)
{
    std::fprintf(stderr, "cryopodctl: 'inspect' is not implemented yet\n");
    return 1;
}
