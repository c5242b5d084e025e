#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# cr_tcp_refused.sh CRYOPODCTL WL_TCP: without --tcp-established, a tree with
# an established TCP connection is refused by the report and the checkpoint,
# which name the connection and the option; with it the report calls it a
# caveat. The tree is not stopped or damaged by the refusal: it still
# finishes its conversation with "ok" afterwards.
set -u
ctl=$1 wl=$2
. "$(dirname "$0")/refusal.sh"
refusal_start cr_tcp_refused "$wl"

"$ctl" report "$pid" > "$dir/report" 2>&1
cat "$dir/report"
grep -q "is a TCP connection from 127.0.0.1:" "$dir/report" || fail "the report does not name the connection"
grep -q "established TCP connections cannot be restored (that needs TCP_REPAIR, which cryopod uses only when asked: cryopodctl checkpoint --tcp-established" "$dir/report" \
    || fail "the report does not name --tcp-established"
"$ctl" report "$pid" --tcp-established > "$dir/report2" 2>&1
cat "$dir/report2"
grep -q "restored with TCP_REPAIR" "$dir/report2" || fail "with --tcp-established the report does not call the connection restorable"
grep -q "established TCP connections cannot be restored" "$dir/report2" && fail "with --tcp-established the report still refuses"
if "$ctl" checkpoint --direct "$pid" -o "$dir/image" > "$dir/checkpoint" 2>&1; then
    fail "checkpoint of an established TCP connection without --tcp-established succeeded"
fi
cat "$dir/checkpoint"
grep -q "tcp-established" "$dir/checkpoint" || fail "the refusal does not name --tcp-established"
[ -e "$dir/image" ] && fail "the refused checkpoint left an image"
refusal_expect_untouched
refusal_finish
echo "ok: refused without the option, a caveat with it, the tree ran on and finished ok"
