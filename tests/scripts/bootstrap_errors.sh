#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# scripts/bootstrap must say what is missing: root, or the network.
set -u
SRC="$1"
fails=0
checks=0
check() { # name, expected exit, expected text, command...
    local name="$1" want="$2" text="$3"
    shift 3
    local out rc
    checks=$((checks + 1))
    out="$("$@" 2>&1)"
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q -- "$text" <<<"$out"; then
        echo "FAIL $name: exit $rc (want $want), output:"
        echo "$out" | tail -5
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root to drop to another user and to make a network namespace"
    exit 0
fi

check "bootstrap as non-root" 1 "needs root" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$SRC/scripts/bootstrap"
check "bootstrap with an unknown option" 2 "usage" "$SRC/scripts/bootstrap" --frobnicate
# No network: a fresh namespace has only a down loopback. apt fails at once;
# the message must name the network. (Inside the build root apt runs natively.)
if [ -n "${CRYOPOD_IN_ROOT:-}" ] && command -v unshare >/dev/null; then
    check "bootstrap without network" 1 "network" \
        unshare -n "$SRC/scripts/bootstrap"
fi
echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
