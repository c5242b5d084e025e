#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
"""abicheck.py LIBRARY HEADER: the dynamic symbols libcryopod defines are
exactly the functions its public header declares (plus the version node),
each with the version CRYOPOD_1. Exits 1 naming every difference."""
import re
import subprocess
import sys

library, header = sys.argv[1], sys.argv[2]
text = open(header, encoding="utf-8").read()
text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
declared = set(re.findall(r"\b(cryopod_\w+)\s*\(", text))
if not declared:
    sys.exit("no function found in " + header)

out = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", library],
                     check=True, capture_output=True, text=True).stdout
exported = {}
problems_early = []
for line in out.splitlines():
    parts = line.split()
    if len(parts) < 3:
        continue
    kind, name = parts[1], parts[2]
    symbol, _, version = name.partition("@")
    version = version.lstrip("@")
    if kind == "A" and (symbol == version or not version):
        if symbol != "CRYOPOD_1":
            problems_early.append(f"unexpected version node {symbol}")
        continue  # the version node itself (CRYOPOD_1)
    exported[symbol] = (kind, version)

problems = list(problems_early)
for name in sorted(declared - exported.keys()):
    problems.append(f"declared in the header but not exported: {name}")
for name in sorted(exported.keys() - declared):
    problems.append(f"exported but not in the header: {name} ({exported[name][0]})")
for name in sorted(declared & exported.keys()):
    kind, version = exported[name]
    if kind != "T":
        problems.append(f"{name} is exported as {kind}, not as a function (T)")
    if version != "CRYOPOD_1":
        problems.append(f"{name} has version '{version}', not CRYOPOD_1")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"ok: {len(declared)} functions, all exported as CRYOPOD_1, nothing else: " + ", ".join(sorted(declared)))
