# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# Shared helpers of scripts/*: where the build environment is and how to enter it.
# Sourced, never executed.

CRYOPOD_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The Debian 13 build root used on hosts that lack KDE Frameworks 6.
CRYOPOD_ROOT="${CRYOPOD_ROOT:-/var/cache/cryopod/root-trixie}"
CRYOPOD_SUITE="${CRYOPOD_SUITE:-trixie}"

die() {
    echo "cryopod: $*" >&2
    exit 1
}

step() {
    echo "==> $*" >&2
}

# True when this system can build natively: Debian >= 13, Ubuntu >= 25.04, or
# already inside the build root.
native_build_possible() {
    [ -n "${CRYOPOD_IN_ROOT:-}" ] && return 0
    [ -r /etc/os-release ] || return 1
    # shellcheck disable=SC1091
    . /etc/os-release
    case "${ID:-}" in
    debian)
        # trixie and later; "sid" has no VERSION_ID.
        [ -z "${VERSION_ID:-}" ] && return 0
        [ "${VERSION_ID%%.*}" -ge 13 ] 2>/dev/null
        ;;
    ubuntu)
        local major="${VERSION_ID%%.*}" minor="${VERSION_ID#*.}"
        [ "$major" -gt 25 ] || { [ "$major" -eq 25 ] && [ "${minor#0}" -ge 4 ]; }
        ;;
    *) return 1 ;;
    esac
}

# The package list without comments.
package_list() {
    grep -v '^\s*#' "$CRYOPOD_SRC/scripts/packages.txt" | grep -v '^\s*$'
}

package_list_hash() {
    package_list | sha256sum | cut -d' ' -f1
}

root_is_ready() {
    [ -f "$CRYOPOD_ROOT/.cryopod-packages" ] &&
        [ "$(cat "$CRYOPOD_ROOT/.cryopod-packages")" = "$(package_list_hash)" ]
}

# in_env CMD...: run CMD in the build environment, in the current directory.
# Natively when possible; otherwise inside the build root, entered with a
# private mount namespace and pivot_root (not chroot: mount-aware code such as
# the engine resolving an fd's mount needs /proc/self/mountinfo to match /).
in_env() {
    if native_build_possible; then
        "$@"
        return
    fi
    [ "$(id -u)" -eq 0 ] || die "entering the build root needs root (run as root or with sudo)"
    [ -x "$CRYOPOD_ROOT/bin/bash" ] || die "no build root at $CRYOPOD_ROOT: run ./scripts/bootstrap first"
    enter_root "$CRYOPOD_ROOT" "$@"
}

# enter_root ROOT CMD...: run CMD inside the Debian root ROOT, in the current
# directory (the source tree and the current directory are bind-mounted at
# the same paths; /proc, /sys, /dev and /tmp are the host's, /run is empty).
# Also used by tests/packaging to enter a fresh root with the helper package.
enter_root() {
    local root="$1" cwd
    shift
    cwd="$(pwd)"
    unshare -m --propagation private -- bash -c '
        set -e
        R="$1"; SRC="$2"; CWD="$3"; shift 3
        mount --bind "$R" "$R"
        mount -t proc proc "$R/proc"
        mount --rbind /sys "$R/sys"
        mount --rbind /dev "$R/dev"
        mount --bind /tmp "$R/tmp"
        mount -t tmpfs -o mode=0755 tmpfs "$R/run"
        mkdir -p "$R/run/lock"
        mkdir -p "$R$SRC"
        mount --bind "$SRC" "$R$SRC"
        case "$CWD" in
        "$SRC"|"$SRC"/*) ;;
        *) if [ -d "$CWD" ]; then mkdir -p "$R$CWD"; mount --bind "$CWD" "$R$CWD"; fi ;;
        esac
        cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
        mkdir -p "$R/.oldroot"
        cd "$R"
        pivot_root . .oldroot
        umount -l /.oldroot
        cd "$CWD" 2>/dev/null || cd /
        export CRYOPOD_IN_ROOT=1
        export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        exec "$@"
    ' cryopod-root "$root" "$CRYOPOD_SRC" "$cwd" "$@"
}

# Bootstrap unless the environment is already complete.
ensure_bootstrapped() {
    if native_build_possible; then
        if [ -n "${CRYOPOD_IN_ROOT:-}" ]; then return 0; fi
        command -v cmake >/dev/null && command -v ninja >/dev/null && return 0
    elif root_is_ready; then
        return 0
    fi
    "$CRYOPOD_SRC/scripts/bootstrap"
}
