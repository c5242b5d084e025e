#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# A real server: `python3 -m http.server` bound to 127.0.0.1 on a free port,
# serving STATEDIR/www with a 70000-byte file generated from the seed. The
# shell fetches it (a python3 urllib client, a new process each time) until
# the server answers, writes ready, polls go with `sleep 0.05`, then fetches
# it again and a missing file (404), and stops the server. Every fetch is
# compared with the bytes re-derived from the seed. Sabotage: one byte of
# the served file changes after ready.
set -u
cd "$1" || exit 2
py=${CRYOPOD_PYTHON3:-python3}
seed=${WL_SEED:-4711}
mkdir -p www
"$py" -S -c 'import random, sys
r = random.Random(int(sys.argv[1]))
open("www/data.bin", "wb").write(bytes(r.getrandbits(8) for _ in range(70000)))' "$seed" || exit 2
port=$("$py" -S -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py" -S -m http.server --bind 127.0.0.1 --directory www "$port" > /dev/null 2>&1 &
server=$!
# fetch PATH EXPECT: EXPECT "data" (the seeded bytes) or "404".
fetch() {
    "$py" -S -c 'import random, sys, urllib.error, urllib.request
url, expect, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    got = urllib.request.urlopen(url, timeout=5).read()
except urllib.error.HTTPError as e:
    sys.exit(0 if expect == "404" and e.code == 404 else 1)
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
r = random.Random(seed)
sys.exit(0 if expect == "data" and got == bytes(r.getrandbits(8) for _ in range(70000)) else 1)' "http://127.0.0.1:$port/$1" "$2" "$seed"
}
failures=()
answered=0
for _ in $(seq 1 100); do
    if fetch data.bin data 2> /dev/null; then answered=1; break; fi
    sleep 0.05
done
if [ $answered = 0 ]; then
    echo "FAIL: httpserver: setup: the server does not answer on port $port" > result.tmp
    mv result.tmp result
    kill $server 2> /dev/null
    exit 1
fi
echo $$ > ready.tmp && mv ready.tmp ready
if [ "${WL_SABOTAGE:-0}" = 1 ]; then
    printf 'X' | dd of=www/data.bin bs=1 seek=12345 conv=notrunc status=none
fi
start=$SECONDS
while [ ! -e go ]; do
    if [ $((SECONDS - start)) -gt 90 ]; then failures+=("no go within the workload's lifetime"); break; fi
    sleep 0.05
done
fetch data.bin data || failures+=("the file fetched after go differs from the seeded bytes (or no answer on port $port)")
fetch missing.bin 404 || failures+=("a missing file did not give 404")
kill -0 $server 2> /dev/null || failures+=("the server is gone")
kill $server 2> /dev/null
wait $server
if [ ${#failures[@]} = 0 ]; then
    echo ok > result.tmp
    status=0
else
    (IFS=';'; echo "FAIL: ${failures[*]}") > result.tmp
    status=1
fi
mv result.tmp result
exit $status
