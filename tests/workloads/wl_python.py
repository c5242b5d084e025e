# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# A python3 interpreter mid-computation, with the workload contract of
# README.md: python3 -S wl_python.py STATEDIR. It builds some objects (a list
# of seeded ints, a dict, a bytearray, a half-consumed generator, a closure),
# writes ready, then keeps extending a SHA-256 hash chain until go. After go
# it recomputes the chain and every object from the seed and compares.
# WL_SABOTAGE=1 corrupts the list after ready.

import hashlib
import sys
import time

import wl


def rng(seed):
    # splitmix64, like the C workloads
    state = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        yield z ^ (z >> 31)


def build(seed):
    gen = rng(seed)
    numbers = [next(gen) for _ in range(20000)]
    table = {f"k{i}": (numbers[i] % 1000003, str(numbers[i])) for i in range(0, 20000, 7)}
    blob = bytearray(next(gen) & 0xFF for _ in range(65536))
    return numbers, table, blob


def counter_gen(start):
    value = start
    while True:
        yield value
        value = (value * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF


def make_closure(base):
    calls = [0]

    def bump():
        calls[0] += 1
        return base + calls[0]

    return bump


def main():
    w = wl.start(0x5EED5EED)
    seed = w.seed

    numbers, table, blob = build(seed)
    gen = counter_gen(seed)
    consumed = [next(gen) for _ in range(1000)]
    bump = make_closure(seed % 1000)
    for _ in range(500):
        bump()
    pi_approx = sum(1.0 / (k * k) for k in range(1, 100001))

    w.ready()
    if w.sabotage:
        numbers[1234] ^= 1

    h = seed.to_bytes(8, "little")
    steps = 0
    failures = []
    while not w.go_given():
        if w.expired():
            failures.append("no go within the workload's lifetime")
            break
        for _ in range(2000):
            h = hashlib.sha256(h + steps.to_bytes(8, "little")).digest()
            steps += 1
        time.sleep(0.005)

    # Verify everything against fresh computations from the seed.
    if wl.chain(seed, steps) != h:
        failures.append(f"hash chain of {steps} steps differs")
    numbers2, table2, blob2 = build(seed)
    if numbers != numbers2:
        bad = next(i for i in range(len(numbers2)) if i >= len(numbers) or numbers[i] != numbers2[i])
        failures.append(f"list differs at index {bad}")
    if table != table2:
        failures.append("dict differs")
    if blob != blob2:
        failures.append("bytearray differs")
    gen2 = counter_gen(seed)
    if consumed != [next(gen2) for _ in range(1000)] or next(gen) != next(gen2):
        failures.append("generator state differs")
    if bump() != seed % 1000 + 501:
        failures.append("closure state differs")
    if pi_approx != sum(1.0 / (k * k) for k in range(1, 100001)):
        failures.append("float result differs")

    return w.finish(failures)


if __name__ == "__main__":
    sys.exit(main())
