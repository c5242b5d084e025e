# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# A python3 multiprocessing program, with the workload contract of README.md:
# python3 -S wl_pypool.py STATEDIR. A Pool of 2 worker processes (fork
# context) computes SHA-256 chains, batch after batch, the whole time until
# go (a batch every 0.1 s), so the checkpoint lands mid-work. Every task also counts itself in a
# multiprocessing.Value (shared memory from multiprocessing's heap: an
# unlinked file in /dev/shm mapped MAP_SHARED) under its lock (a SemLock:
# sem_open, its name unlinked at once), and takes a multiprocessing.Lock.
# The pool's own queues are pipes guarded by SemLocks too. After go: a last
# batch, then every result is recomputed, the counter must equal the number
# of tasks run, the Lock must be free. WL_SABOTAGE=1: one result is
# corrupted after ready.

import multiprocessing
import os
import sys
import time

import wl

STEPS = 500
BATCH = 8


counter = None
lock = None


def init(c, l):
    global counter, lock
    counter = c
    lock = l


def task(item):
    digest = wl.chain(item, STEPS)
    with counter.get_lock():
        counter.value += 1
    with lock:
        pass
    return item, digest, os.getpid()


def main():
    w = wl.start(0x9E3779B9)
    seed = w.seed
    ctx = multiprocessing.get_context("fork")
    shared_counter = ctx.Value("q", 0)
    shared_lock = ctx.Lock()
    pool = ctx.Pool(2, initializer=init, initargs=(shared_counter, shared_lock))
    failures = []
    results = {}
    next_item = seed & 0xFFFFFFFF
    workers = set()

    def run_batch():
        nonlocal next_item
        items = list(range(next_item, next_item + BATCH))
        next_item += BATCH
        for item, digest, pid in pool.imap_unordered(task, items):
            results[item] = digest
            workers.add(pid)

    run_batch()
    w.ready()
    if w.sabotage:
        first = min(results)
        results[first] = bytes(32)
    # Batches until go: the checkpoint comes while the workers compute.
    while not w.go_given():
        if w.expired():
            failures.append("no go within the workload's lifetime")
            break
        run_batch()
        time.sleep(0.1)
    run_batch()
    pool.close()
    pool.join()

    for item, digest in sorted(results.items()):
        if wl.chain(item, STEPS) != digest:
            failures.append(f"task {item}: the chain differs")
            break
    if shared_counter.value != len(results):
        failures.append(f"the shared counter is {shared_counter.value}, {len(results)} tasks ran")
    if not shared_lock.acquire(timeout=2):
        failures.append("the multiprocessing.Lock is not free")
    else:
        shared_lock.release()
    if len(workers) < 1:
        failures.append("no worker process ran a task")
    return w.finish(failures)


if __name__ == "__main__":
    sys.exit(main())
