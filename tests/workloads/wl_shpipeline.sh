#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# A real shell pipeline (bash, seq, tac, sort, awk; no contract helpers):
#   { seq 1 N; wait for go; seq N+1 2N; } | tac | sort -n | awk (sum)
# The first half waits in the pipes (tac holds it until end of input) while
# the producer polls STATEDIR/go with `sleep 0.05` (children come and go).
# After go the rest flows, and the sum must be 2N(2N+1)/2. The shell writes
# ready and result itself. Sabotage: the producer leaves one number out.
set -u
cd "$1" || exit 2
n=150000
skip=0
if [ "${WL_SABOTAGE:-0}" = 1 ]; then skip=77; fi
start=$SECONDS
{
    seq 1 $n | grep -vx "$skip"
    while [ ! -e go ]; do
        if [ $((SECONDS - start)) -gt 90 ]; then break; fi
        sleep 0.05
    done
    seq $((n + 1)) $((2 * n))
} | tac | sort -n | awk '{ s += $1 } END { print s }' > sum &
echo $$ > ready.tmp && mv ready.tmp ready
wait
expected=$((n * 2 * (2 * n + 1) / 2))
got=$(cat sum)
if [ "$got" = "$expected" ]; then
    echo ok > result.tmp
    status=0
else
    echo "FAIL: the pipeline's sum is '$got', expected $expected" > result.tmp
    status=1
fi
mv result.tmp result
exit $status
