#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# deb_install.sh SRC BUILD: the helper's host package, for real. Builds
# cryopod-helper_*.deb with cpack, installs it with apt into a fresh Debian
# root (debootstrap --variant=minbase, cached in /var/cache/cryopod, copied
# for each run), starts that root's own system bus and polkitd from the
# installed configuration, and has an ordinary user checkpoint and restore a
# workload with the installed cryopodctl through the installed,
# bus-activated helper. Fails on any step, naming it and showing its log.
set -euo pipefail
SRC="$1"
BUILD="$2"
. "$SRC/scripts/lib.sh"

FRESH="/var/cache/cryopod/fresh-$CRYOPOD_SUITE"
ARCHIVES="/var/cache/cryopod/fresh-apt-archives"
WORK="$(mktemp -d /var/tmp/cryopod-deb.XXXXXX)"
STATE="$(mktemp -d /tmp/cryopod-deb-state.XXXXXX)"

cleanup() {
    # The root's bus, polkitd and helper are this run's own: they run
    # executables under $WORK/root (seen from here through /proc/PID/root).
    for p in /proc/[0-9]*; do
        if [ "$(readlink "$p/root" 2>/dev/null)" = "$WORK/root" ]; then
            kill -9 "${p#/proc/}" 2>/dev/null || true
        fi
    done
    if [ -f "$STATE/ready" ]; then
        kill -9 "$(cat "$STATE/ready")" 2>/dev/null || true
    fi
    rm -rf "$WORK" "$STATE"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $1" >&2
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        tail -n 40 "$2" >&2
    fi
    exit 1
}

echo "== cpack"
(cd "$BUILD" && cpack -G DEB) >"$WORK/cpack.log" 2>&1 || fail "cpack -G DEB" "$WORK/cpack.log"
DEB="$(ls "$BUILD"/packages/cryopod-helper_*.deb)"
dpkg-deb -c "$DEB" >"$WORK/contents"
for f in ./usr/bin/cryopodctl /libexec/cryopod-helper /libexec/cryopod-restore-stub \
    ./usr/share/dbus-1/system-services/io.github.cryopod.Helper.service \
    ./usr/share/dbus-1/system.d/io.github.cryopod.Helper.conf \
    ./usr/share/polkit-1/actions/io.github.cryopod.policy; do
    grep -q -- "$f\$" "$WORK/contents" || fail "the package lacks $f" "$WORK/contents"
done
# libcryopod speaks D-Bus through sd-bus: dpkg-shlibdeps must have named
# its library among the package's dependencies.
dpkg-deb -f "$DEB" Depends >"$WORK/depends"
grep -q '\blibsystemd0\b' "$WORK/depends" || fail "the package does not depend on libsystemd0 (libcryopod's sd-bus)" "$WORK/depends"

echo "== fresh Debian root"
if [ ! -x "$FRESH/bin/bash" ]; then
    mirror="$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)"
    rm -rf "$FRESH.tmp"
    debootstrap --variant=minbase "$CRYOPOD_SUITE" "$FRESH.tmp" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        fail "debootstrap $CRYOPOD_SUITE from $mirror" "$WORK/debootstrap.log"
    mv "$FRESH.tmp" "$FRESH"
fi
cp -a "$FRESH" "$WORK/root"
cp "$DEB" "$WORK/root/root/cryopod-helper.deb"
# Downloaded packages are kept between runs (hard links, same file system).
mkdir -p "$ARCHIVES" "$WORK/root/var/cache/apt/archives/partial"
cp -l "$ARCHIVES"/*.deb "$WORK/root/var/cache/apt/archives/" 2>/dev/null || true

echo "== apt install ./cryopod-helper.deb"
enter_root "$WORK/root" bash -c '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends /root/cryopod-helper.deb
' >"$WORK/apt.log" 2>&1 || fail "apt-get install of the package into the fresh root" "$WORK/apt.log"
cp -l "$WORK/root/var/cache/apt/archives/"*.deb "$ARCHIVES/" 2>/dev/null || true
grep -q "Setting up cryopod-helper" "$WORK/apt.log" || fail "apt did not set up cryopod-helper" "$WORK/apt.log"

echo "== checkpoint and restore through the installed helper"
chmod 0777 "$STATE"
enter_root "$WORK/root" bash -s "$BUILD/bin/wl_anon" "$STATE" >"$WORK/run.log" 2>&1 <<'INSIDE' || fail "checkpoint/restore through the installed helper" "$WORK/run.log"
set -euo pipefail
WL="$1"
STATE="$2"
# Everything this run starts in its root (the bus, polkitd, the
# bus-activated helper, the restored workload) shares this mount namespace:
# all of it goes when the script ends, however it ends.
stop_all() {
    local me p
    me="$(readlink /proc/$$/ns/mnt)"
    for p in /proc/[0-9]*; do
        if [ "${p#/proc/}" != "$$" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$me" ]; then
            kill -9 "${p#/proc/}" 2>/dev/null || true
        fi
    done
}
trap stop_all EXIT
# The workload must start with fds 0-2 only (tests/workloads/README.md):
# close what the test runner handed down (the script itself comes on fd 0).
for fd in /proc/$$/fd/*; do
    n="${fd##*/}"
    if [ "$n" -gt 2 ] && [ "$n" != 255 ]; then
        eval "exec $n>&-" 2>/dev/null || true
    fi
done
step() { echo "-- $*"; }
waitfor() { # waitfor SECONDS CMD...
    local n=$(($1 * 10))
    shift
    until "$@"; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}
bus_has() {
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q "boolean true"
}

step "a user, and a rule that lets that user use the helper without a password prompt"
useradd -m -s /bin/sh cryotest
cat >/etc/polkit-1/rules.d/50-cryopod-test.rules <<'RULES'
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("io.github.cryopod.") == 0 && subject.user == "cryotest") {
        return polkit.Result.YES;
    }
    return polkit.Result.NOT_HANDLED;
});
RULES

step "the root's own system bus and polkitd, as installed"
mkdir -p /run/dbus
dbus-uuidgen --ensure
dbus-daemon --system --fork
setpriv --reuid=polkitd --regid=polkitd --init-groups /usr/lib/polkit-1/polkitd --no-debug >/tmp/polkitd.log 2>&1 &
waitfor 20 bus_has org.freedesktop.PolicyKit1 || { echo "polkitd did not come up"; cat /tmp/polkitd.log; exit 1; }

step "a workload of the user"
su cryotest -s /bin/sh -c "cd '$STATE' && setsid '$WL' '$STATE' </dev/null >/dev/null 2>&1 &"
waitfor 20 test -s "$STATE/ready" || { echo "the workload did not get ready"; exit 1; }
PID="$(cat "$STATE/ready")"

step "cryopodctl checkpoint $PID --kill (through the bus-activated helper)"
su cryotest -s /bin/sh -c "cryopodctl checkpoint $PID -o '$STATE/image' --kill"
waitfor 10 sh -c "! kill -0 $PID 2>/dev/null" || { echo "the original still runs after --kill"; exit 1; }
bus_has io.github.cryopod.Helper || { echo "no helper on the bus"; exit 1; }

step "cryopodctl restore -i IMAGE"
su cryotest -s /bin/sh -c "cryopodctl restore -i '$STATE/image'"
kill -0 "$PID" || { echo "no process $PID after the restore"; exit 1; }
[ "$(stat -c %U /proc/$PID)" = cryotest ] || { echo "the restored process does not belong to cryotest"; exit 1; }
touch "$STATE/go"
waitfor 30 test -s "$STATE/result" || { echo "the restored workload wrote no result"; exit 1; }
echo "result: $(cat "$STATE/result")"
[ "$(cat "$STATE/result")" = ok ]
INSIDE
cat "$WORK/run.log"
echo "PASS: installed from the package into a fresh $CRYOPOD_SUITE root; checkpoint and restore through the installed helper"
