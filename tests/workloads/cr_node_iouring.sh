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
. "$(dirname "$0")/refusal.sh"
refusal_start cr_node_iouring env -u LD_PRELOAD "$node" "$script"
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
refusal_expect_untouched
refusal_finish
echo "ok: refused, named io_uring, node ran on and finished ok"
