#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# A real build: `make -j2` of a generated project in STATEDIR/proj: 24
# inputs from the seed, each turned into an output by an awk chain (and a
# short sleep), the outputs summed into total.txt. Half of the outputs also
# depend on `gate`, a rule that waits for STATEDIR/go: ready comes once the
# other half is built, so the checkpoints find the build mid-way (make with
# its jobserver FIFO, the gate's shell and its sleeps) and the restored make
# builds the rest. The sum must equal one computed from the seed.
# Sabotage: a gated input changes after ready.
set -u
cd "$1" || exit 2
seed=${WL_SEED:-99}
n=24
mkdir -p proj
for i in $(seq 1 $n); do echo "$((seed * 7919 + i))" > proj/in$i.txt; done
cat > proj/Makefile << 'EOF'
N := 24
OUT := $(foreach i,$(shell seq 1 $(N)),out$(i).txt)
GATED := $(foreach i,$(shell seq 13 $(N)),out$(i).txt)
all: total.txt
total.txt: $(OUT)
	cat $(OUT) | awk '{ s += $$1 } END { print s }' > $@
$(GATED): gate
out%.txt: in%.txt
	awk '{ v = $$1; for (k = 0; k < 3000; k++) v = (v * 31 + 7) % 1000003; print v }' $< > $@.tmp
	sleep 0.1
	mv $@.tmp $@
gate:
	i=0; while [ ! -e ../go ] && [ $$i -lt 1800 ]; do sleep 0.05; i=$$((i + 1)); done
	touch $@
EOF
expected=$(for i in $(seq 1 $n); do echo "$((seed * 7919 + i))"; done | awk '{ v = $1; for (k = 0; k < 3000; k++) v = (v * 31 + 7) % 1000003; s += v } END { print s }')
make -C proj -j2 > make.log 2>&1 &
make=$!
# Ready once the ungated half is built: from then on only the gate runs
# until go, so a --leave-running original changes no file the restored
# copy goes on with (cryopod saves no file contents but unlinked files').
for _ in $(seq 1 600); do
    built=0
    for i in $(seq 1 12); do [ -e proj/out$i.txt ] && built=$((built + 1)); done
    [ $built = 12 ] && break
    sleep 0.05
done
echo $$ > ready.tmp && mv ready.tmp ready
if [ "${WL_SABOTAGE:-0}" = 1 ]; then echo 12345 > proj/in$n.txt; fi
status=0
wait $make || status=$?
got=$(cat proj/total.txt 2> /dev/null)
if [ $status = 0 ] && [ "$got" = "$expected" ]; then
    echo ok > result.tmp
    rc=0
else
    echo "FAIL: make exited $status; total '$got', expected $expected" > result.tmp
    rc=1
fi
mv result.tmp result
exit $rc
