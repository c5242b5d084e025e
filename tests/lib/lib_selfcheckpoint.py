# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
"""lib_selfcheckpoint.py STATEDIR BLOCKS: lib_selfcheckpoint.c in Python,
with the cryopod module's Checkpointer (every second, images in STATEDIR).
Same files: log (with "original: checkpoint K id ID at block B" and "copy:
checkpoint K returned 0 at block B"), latest, result ("ok ACC restored=R
checkpoints=K"); 2000 steps a block."""
import os
import sys
import time

import cryopod

BLOCK = 2000
MASK = (1 << 64) - 1


def mix(x):
    x = (x + 0x9e3779b97f4a7c15) & MASK
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & MASK
    return x ^ (x >> 31)


def write_atomically(name, text):
    with open(name + ".tmp", "w") as f:
        f.write(text)
    os.rename(name + ".tmp", name)


def main():
    state, blocks = sys.argv[1], int(sys.argv[2])
    os.chdir(state)
    acc = 0
    with cryopod.Checkpointer(state, every=1.0, keep=0, log=os.path.join(state, "log")) as ckpt:
        for b in range(blocks):
            for n in range(b * BLOCK, (b + 1) * BLOCK):
                acc = (acc * 6364136223846793005 + mix(n)) & MASK
            time.sleep(0.004)
            try:
                done = ckpt.tick()
            except cryopod.CryopodError as e:
                write_atomically("result", f"FAIL: checkpoint {ckpt.count}: {e.strerror}\n")
                return 1
            if done is None:
                continue
            if done.restored:
                os.write(ckpt.logfd, f"copy: checkpoint {ckpt.count} returned 0 at block {b}\n".encode())
            else:
                write_atomically("latest", f"{os.path.basename(done.path)} {done.id} {b}\n")
                os.write(ckpt.logfd, f"original: checkpoint {ckpt.count} id {done.id} at block {b}\n".encode())
        write_atomically("result", f"ok {acc:016x} restored={ckpt.restored} checkpoints={ckpt.count}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
