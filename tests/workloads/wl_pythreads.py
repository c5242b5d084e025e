# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# A python3 interpreter with threads (threading), with the workload contract
# of README.md: python3 -S wl_pythreads.py STATEDIR. Besides the main thread:
#   worker0, worker1  extend SHA-256 hash chains, contending for the GIL
#                     (timed condition waits on the GIL's futex)
#   waiter            blocked in threading.Event.wait() (a lock acquire
#                     without timeout: futex wait)
#   consumer          blocked in queue.Queue.get() until the main thread
#                     feeds it after go
#   sleeper           time.sleep(0.2) in a loop: no early return
# Each keeps a threading.local value derived from the seed and its native
# thread id (threading.get_native_id(), the kernel's tid before the
# checkpoint). After go every thread checks its own state, the chains are
# recomputed from the seed. WL_SABOTAGE=1: the sleeper corrupts its
# thread-local value after ready.

import hashlib
import os
import queue
import sys
import threading
import time

import wl


class Shared:
    def __init__(self, workload):
        self.workload = workload
        self.seed = workload.seed
        self.go = threading.Event()
        self.release = threading.Event()
        self.sabotage = threading.Event()
        self.sabotaged = threading.Event()
        self.items = queue.Queue()
        self.tls = threading.local()
        self.lock = threading.Lock()
        self.failures = []
        self.tids = {}
        self.started = threading.Barrier(6)

    def fail(self, text):
        with self.lock:
            self.failures.append(text)

    def expired(self):
        return self.workload.expired()

    def set_up(self, name, index):
        self.tls.value = (self.seed * 31 + index) & 0xFFFFFFFFFFFFFFFF
        self.tls.name = name
        with self.lock:
            self.tids[name] = threading.get_native_id()
        self.started.wait()

    def check_self(self, name, index):
        if getattr(self.tls, "value", None) != (self.seed * 31 + index) & 0xFFFFFFFFFFFFFFFF or self.tls.name != name:
            self.fail(f"{name}: thread-local values differ")
        if threading.get_native_id() != self.tids.get(name):
            self.fail(f"{name}: native thread id {threading.get_native_id()}, was {self.tids.get(name)}")
        if threading.current_thread().name != name:
            self.fail(f"{name}: thread name {threading.current_thread().name}")


def worker(shared, name, index, results):
    shared.set_up(name, index)
    h = (shared.seed + index).to_bytes(8, "little")
    steps = 0
    while not shared.go.is_set() and not shared.expired():
        for _ in range(500):
            h = hashlib.sha256(h + steps.to_bytes(8, "little")).digest()
            steps += 1
        time.sleep(0.002)
    results[index] = (steps, h)
    shared.check_self(name, index)


def waiter(shared, name, index):
    shared.set_up(name, index)
    if not shared.release.wait():
        shared.fail("waiter: Event.wait() returned False")
    if not shared.go.is_set():
        shared.fail("waiter: woke before go")
    shared.check_self(name, index)


def consumer(shared, name, index, total):
    shared.set_up(name, index)
    got = 0
    while True:
        item = shared.items.get()
        if item is None:
            break
        got += item
    if not shared.go.is_set():
        shared.fail("consumer: fed before go")
    total.append(got)
    shared.check_self(name, index)


def sleeper(shared, name, index):
    shared.set_up(name, index)
    early = 0
    sleeps = 0
    while not shared.go.is_set() and not shared.expired():
        if shared.sabotage.is_set():
            shared.tls.value ^= 1
            shared.sabotage.clear()
            shared.sabotaged.set()
        t0 = time.monotonic()
        time.sleep(0.2)
        if time.monotonic() - t0 < 0.2:
            early += 1
        sleeps += 1
    if early:
        shared.fail(f"sleeper: {early} of {sleeps} sleeps returned early")
    shared.check_self(name, index)


def main():
    w = wl.start(0x7EAD5EED)
    seed = w.seed
    shared = Shared(w)
    results = [None, None]
    total = []
    threads = [
        threading.Thread(target=worker, name="worker0", args=(shared, "worker0", 0, results)),
        threading.Thread(target=worker, name="worker1", args=(shared, "worker1", 1, results)),
        threading.Thread(target=waiter, name="waiter", args=(shared, "waiter", 2)),
        threading.Thread(target=consumer, name="consumer", args=(shared, "consumer", 3, total)),
        threading.Thread(target=sleeper, name="sleeper", args=(shared, "sleeper", 4)),
    ]
    for t in threads:
        t.start()
    shared.set_up("MainThread", 5)
    time.sleep(0.05)

    w.ready()
    if w.sabotage:
        shared.sabotage.set()
        shared.sabotaged.wait(5)

    while not w.go_given():
        if shared.expired():
            shared.fail("no go within the workload's lifetime")
            break
        time.sleep(0.05)

    tasks = len(os.listdir("/proc/self/task"))
    if tasks != 6:
        shared.fail(f"{tasks} threads in /proc/self/task at go, expected 6")
    shared.go.set()
    shared.release.set()
    items = [(seed >> i) & 0xFFFF for i in range(0, 48, 4)]
    for item in items:
        shared.items.put(item)
    shared.items.put(None)
    for t in threads:
        t.join(timeout=10)
        if t.is_alive():
            shared.fail(f"{t.name} did not finish")
    for index, result in enumerate(results):
        if result is None:
            shared.fail(f"worker{index}: no result")
        elif wl.chain(seed + index, result[0]) != result[1]:
            shared.fail(f"worker{index}: hash chain of {result[0]} steps differs")
    if total != [sum(items)]:
        shared.fail(f"consumer: got {total}, expected {sum(items)}")
    shared.check_self("MainThread", 5)

    return w.finish(shared.failures)


if __name__ == "__main__":
    sys.exit(main())
