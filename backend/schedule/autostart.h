// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The XDG autostart entry that starts `cryopod --background` at login
// ($XDG_CONFIG_HOME/autostart/io.github.cryopod.background.desktop,
// XDG Autostart Specification). Installed when a schedule is created, by
// the GUI and by cryopodctl; an entry the user edited (or disabled with
// Hidden=true) is left alone.
#pragma once

#include "result.h"

#include <string>

namespace cryopod::schedule
{

class Autostart
{
public:
    static std::string path();
    static bool isInstalled();
    // Writes the entry unless it exists; true when it was written now.
    static Result<bool> install(const std::string &executable = "cryopod");
    static Result<void> remove();
};

} // namespace cryopod::schedule
