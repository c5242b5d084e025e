#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# cr_node_iouring.sh CRYOPODCTL NODE WL_NODE_JS: an unmodified node (libuv
# makes an io_uring per event loop) is refused, and the refusal says so in
# plain words with the way out; node is not stopped or damaged by the
# attempt: it still finishes its work with "ok" afterwards.
set -u
ctl=$1 node=$2 script=$3
dir=$(mktemp -d /tmp/cr_node_iouring.XXXXXX)
cleanup() { [ -n "${pid:-}" ] && kill -9 "$pid" 2> /dev/null; wait 2> /dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# Only fds 0-2 for the workload (a harness's leaked fds would be refused first).
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2> /dev/null
done
mkdir "$dir/state"
env -u LD_PRELOAD "$node" "$script" "$dir/state" < /dev/null > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 150); do [ -e "$dir/state/ready" ] && break; sleep 0.1; done
[ -e "$dir/state/ready" ] || fail "node did not become ready"
if ! grep -q io_uring /proc/$pid/maps; then
    echo "SKIP: this node makes no io_uring here (older libuv, or io_uring disabled): nothing to refuse"
    exit 77
fi

"$ctl" report "$pid" > "$dir/report" 2>&1
cat "$dir/report"
grep -q "io_uring instance" "$dir/report" || fail "the report does not name io_uring"
grep -q "UV_USE_IO_URING=0" "$dir/report" || fail "the report does not explain UV_USE_IO_URING"
if "$ctl" checkpoint --direct "$pid" -o "$dir/image" > "$dir/checkpoint" 2>&1; then
    fail "checkpoint of a node with io_uring succeeded"
fi
cat "$dir/checkpoint"
grep -q "io_uring instance" "$dir/checkpoint" || fail "the refusal does not name io_uring"
state=$(awk '/^State:/ {print $2}' /proc/$pid/status)
tracer=$(awk '/^TracerPid:/ {print $2}' /proc/$pid/status)
[ "$state" != T ] && [ "$state" != t ] || fail "node left stopped ($state)"
[ "$tracer" = 0 ] || fail "node left traced by $tracer"
touch "$dir/state/go"
wait "$pid"
rc=$?
pid=
result=$(cat "$dir/state/result" 2> /dev/null)
[ "$rc" = 0 ] && [ "$result" = ok ] || fail "node after the refused checkpoint: exit $rc, result '$result'"
echo "ok: refused, named io_uring, node ran on and finished ok"
