# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# The workload contract of README.md for the python3 workloads, as wl.c is
# for the C ones: `python3 -S -B wl_NAME.py STATEDIR` (the workload's own
# directory is on sys.path, so `import wl` works without site; -B: no
# __pycache__ written into the source tree).
#
#   w = wl.start(default_seed)   STATEDIR, WL_SEED, WL_SABOTAGE, the clock
#   w.ready()                    STATEDIR/ready with the pid, atomically
#   w.go_given() / w.expired()   for workloads that compute until go
#   w.wait_go()                  sleeps until go; False after the lifetime
#   w.finish(failures)           STATEDIR/result: ok or FAIL; the exit code
#   wl.chain(seed, steps)        the SHA-256 hash chain several of them use

import hashlib
import os
import sys
import time

# A workload never outlives a dead harness.
LIFETIME = float(os.environ.get("WL_LIFETIME", "") or 90)  # seconds; the stress tests run longer


class Workload:
    def __init__(self, statedir, seed, sabotage):
        self.statedir = statedir
        self.seed = seed
        self.sabotage = sabotage
        self.started = time.monotonic()
        self.go_path = os.path.join(statedir, "go")

    def write_state(self, name, text):
        """STATEDIR/name holding text, atomically (name.tmp, then rename)."""
        tmp = os.path.join(self.statedir, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.statedir, name))

    def ready(self):
        self.write_state("ready", f"{os.getpid()}\n")

    def go_given(self):
        return os.path.exists(self.go_path)

    def expired(self):
        return time.monotonic() - self.started > LIFETIME

    def wait_go(self):
        """Polls for go every 50 ms: False when the lifetime ends first."""
        while not self.go_given():
            if self.expired():
                return False
            time.sleep(0.05)
        return True

    def finish(self, failures, name="result"):
        """Writes the verdict (ok, or FAIL: each failure) and returns the exit code."""
        self.write_state(name, "ok\n" if not failures else "FAIL: " + "; ".join(failures) + "\n")
        return 0 if not failures else 1


def start(default_seed):
    """The workload's STATEDIR (argv[1]), its seed (WL_SEED, else
    default_seed) and whether it sabotages itself (WL_SABOTAGE set, not 0)."""
    if len(sys.argv) < 2:
        print(f"usage: {os.path.basename(sys.argv[0])} STATEDIR", file=sys.stderr)
        sys.exit(2)
    seed = os.environ.get("WL_SEED", "")
    sabotage = os.environ.get("WL_SABOTAGE", "0")
    return Workload(os.path.realpath(sys.argv[1]), int(seed, 0) if seed else default_seed, sabotage not in ("", "0"))


def chain(seed, steps):
    """A SHA-256 chain of steps links from seed, the work several workloads verify."""
    h = seed.to_bytes(8, "little")
    for i in range(steps):
        h = hashlib.sha256(h + i.to_bytes(8, "little")).digest()
    return h
