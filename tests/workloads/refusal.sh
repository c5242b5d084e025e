# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# Sourced by the shell tests of a refused checkpoint (cr_node_iouring.sh,
# cr_tcp_refused.sh): start a workload under the contract of README.md,
# check that a refusal left it running and untraced, let it finish.
# refusal_start NAME CMD... sets $dir (state in $dir/state) and $pid.

fail() {
    echo "FAIL: $*"
    exit 1
}

refusal_cleanup() {
    [ -n "${pid:-}" ] && kill -9 "$pid" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$dir"
}

refusal_start() {
    local name=$1
    shift
    dir=$(mktemp -d "/tmp/$name.XXXXXX")
    trap refusal_cleanup EXIT
    # Only fds 0-2 for the workload (a harness's leaked fds would be refused first).
    local fd
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2> /dev/null
    done
    mkdir "$dir/state"
    "$@" "$dir/state" < /dev/null > /dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 150); do [ -e "$dir/state/ready" ] && break; sleep 0.1; done
    [ -e "$dir/state/ready" ] || fail "$name: the workload did not become ready"
}

# Every process of the workload's tree runs on: not stopped, not traced.
refusal_expect_untouched() {
    local p state tracer
    for p in $pid $(cat /proc/$pid/task/*/children); do
        state=$(awk '/^State:/ {print $2}' /proc/$p/status)
        tracer=$(awk '/^TracerPid:/ {print $2}' /proc/$p/status)
        [ "$state" != T ] && [ "$state" != t ] || fail "$p left stopped ($state)"
        [ "$tracer" = 0 ] || fail "$p left traced by $tracer"
    done
}

# Lets the workload go and expects it to finish with exit 0 and "ok".
refusal_finish() {
    touch "$dir/state/go"
    wait "$pid"
    local rc=$?
    pid=
    local result
    result=$(cat "$dir/state/result" 2> /dev/null)
    [ "$rc" = 0 ] && [ "$result" = ok ] || fail "the workload after the refused checkpoint: exit $rc, result '$result'"
}
