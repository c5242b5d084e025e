// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Built against the installed header and library: with no bus at
// $DBUS_SYSTEM_BUS_ADDRESS, cryopod_checkpointable() fails with ENOENT and
// says why. Prints "ENOENT <message>", exits 0 when that is what happened.
#include <cryopod/cryopod.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    char *json = NULL;
    const int verdict = cryopod_checkpointable(0, &json);
    const int err = errno;
    printf("%s %s\n", err == ENOENT ? "ENOENT" : strerror(err), cryopod_last_error());
    return verdict == -1 && err == ENOENT && strstr(cryopod_last_error(), "cannot reach cryopod-helper") ? 0 : 1;
}
