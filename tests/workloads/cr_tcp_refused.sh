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
dir=$(mktemp -d /tmp/cr_tcp_refused.XXXXXX)
cleanup() { [ -n "${pid:-}" ] && kill -9 "$pid" 2> /dev/null; wait 2> /dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# Only fds 0-2 for the workload (a harness's leaked fds would be refused first).
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2> /dev/null
done
mkdir "$dir/state"
"$wl" "$dir/state" < /dev/null > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 150); do [ -e "$dir/state/ready" ] && break; sleep 0.1; done
[ -e "$dir/state/ready" ] || fail "wl_tcp did not become ready"

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
for p in $pid $(cat /proc/$pid/task/*/children); do
    state=$(awk '/^State:/ {print $2}' /proc/$p/status)
    tracer=$(awk '/^TracerPid:/ {print $2}' /proc/$p/status)
    [ "$state" != T ] && [ "$state" != t ] || fail "$p left stopped ($state)"
    [ "$tracer" = 0 ] || fail "$p left traced by $tracer"
done
touch "$dir/state/go"
wait "$pid"
rc=$?
pid=
result=$(cat "$dir/state/result" 2> /dev/null)
[ "$rc" = 0 ] && [ "$result" = ok ] || fail "wl_tcp after the refused checkpoint: exit $rc, result '$result'"
echo "ok: refused without the option, a caveat with it, the tree ran on and finished ok"
