#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
"""check_manifest.py SCHEMA MANIFEST: validates the Flatpak manifest against
our schema (the manifest format we use and our sandbox policy). Before that it
proves the schema can fail: copies of the manifest with a broad permission,
without the helper's bus name, or building the helper inside the sandbox must
all be rejected."""
import copy
import json
import sys

import jsonschema


def errors(validator, manifest):
    return sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))


def main():
    schema = json.load(open(sys.argv[1]))
    manifest = json.load(open(sys.argv[2]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    broken = []
    for arg in ["--filesystem=host", "--filesystem=home", "--device=all", "--socket=session-bus",
                "--talk-name=org.freedesktop.Flatpak", "--share=network"]:
        m = copy.deepcopy(manifest)
        m["finish-args"].append(arg)
        broken.append(("finish-args with " + arg, m))
    m = copy.deepcopy(manifest)
    m["finish-args"].remove("--system-talk-name=io.github.cryopod.Helper")
    broken.append(("finish-args without the helper's bus name", m))
    m = copy.deepcopy(manifest)
    for module in m["modules"]:
        if module["name"] == "cryopod":
            module["config-opts"].remove("-DCRYOPOD_BUILD_HELPER=OFF")
    broken.append(("the helper built inside the sandbox", m))
    m = copy.deepcopy(manifest)
    m["modules"][0]["sources"][0] = {"type": "archive", "url": "https://example.org/x.tar.gz"}
    broken.append(("an archive source without sha256", m))
    for what, m in broken:
        if not errors(validator, m):
            print(f"FAIL: the schema accepts a manifest with {what}")
            return 1

    found = errors(validator, manifest)
    for e in found:
        print(f"FAIL: {'/'.join(str(p) for p in e.path) or '(top)'}: {e.message}")
    if found:
        return 1
    print(f"ok: {sys.argv[2]} matches {sys.argv[1]}; {len(broken)} broken copies rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
