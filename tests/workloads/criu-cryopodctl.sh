#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# The `cryopodctl checkpoint/restore --direct` contract implemented with CRIU
# (Debian 13's criu; CRIU_FAULT=130 because hardware breakpoints do not fire
# on these machines). A tool, not a test: run the workloads against the peer
# to tell a workload bug from an engine bug:
#   cr_cycles --cryopodctl tests/workloads/criu-cryopodctl.sh --cycles 3 \
#       --mode mixed -- build/bin/wl_heap
# IMAGE is a small file naming the CRIU image directory IMAGE.criu.d.
set -u

usage() {
    echo "usage: $0 checkpoint --direct PID -o IMAGE [--leave-running|--kill]" >&2
    echo "       $0 restore --direct -i IMAGE [--frozen]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
checkpoint)
    [ $# -ge 4 ] && [ "$1" = --direct ] && [ "$3" = -o ] || usage
    pid=$2 image=$4 mode=${5:---leave-running}
    dir=$image.criu.d
    mkdir -p "$dir" || exit 1
    extra=()
    case $mode in
    --leave-running) extra=(--leave-running) ;;
    --kill) ;;
    *) usage ;;
    esac
    if ! CRIU_FAULT=130 criu dump -t "$pid" -D "$dir" -o dump.log -v4 --shell-job "${extra[@]}"; then
        grep -E "Error|Warn" "$dir/dump.log" | tail -5 >&2
        exit 1
    fi
    echo "$dir" >"$image"
    ;;
restore)
    [ $# -ge 3 ] && [ "$1" = --direct ] && [ "$2" = -i ] || usage
    dir=$(cat "$3") || exit 1
    extra=()
    [ "${4:-}" = --frozen ] && extra=(--leave-stopped)
    rm -f "$dir/pidfile"
    if ! CRIU_FAULT=130 criu restore -D "$dir" -d --pidfile "$dir/pidfile" -o restore.log -v4 --shell-job "${extra[@]}"; then
        grep -E "Error|Warn" "$dir/restore.log" | tail -5 >&2
        exit 1
    fi
    echo "restored pid $(cat "$dir/pidfile")"
    ;;
*) usage ;;
esac
