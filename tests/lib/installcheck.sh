#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# installcheck.sh BUILD_DIR SOURCE_DIR: `cmake --install --component helper`
# into a temporary prefix, then a C program built against it twice (with
# pkg-config, with find_package(Cryopod)) runs, and the Python module
# imports from there.
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --component helper --prefix "$prefix" >"$work/install.log"
for f in include/cryopod/cryopod.h lib/python3/dist-packages/cryopod/__init__.py; do
    [ -f "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
pcdir=$(dirname "$(find "$prefix" -name cryopod.pc)")
pc="pkg-config --define-variable=prefix=$prefix"
export PKG_CONFIG_PATH=$pcdir
libdir=$($pc --variable=libdir cryopod)
[ -e "$libdir/libcryopod.so.1" ] || { echo "no libcryopod.so.1 in $libdir"; exit 1; }
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/no-bus
# shellcheck disable=SC2046
cc "$src/tests/lib/installed/main.c" $($pc --cflags --libs cryopod) -Wl,-rpath,"$libdir" -o "$work/usecryopod-pc"
"$work/usecryopod-pc"
cmake -S "$src/tests/lib/installed" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake.log"
cmake --build "$work/cmake-build" >>"$work/cmake.log"
"$work/cmake-build/usecryopod"
PYTHONPATH=$prefix/lib/python3/dist-packages CRYOPOD_LIBRARY=$libdir/libcryopod.so.1 \
    python3 -c 'import cryopod, sys; sys.exit(0 if cryopod.__file__.startswith(sys.argv[1]) else 1)' "$prefix"
echo "ok: installed header, library, pkg-config and CMake files, Python module"
