# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# python3 -S, two processes and a named unix socket between them: the root
# listens on STATEDIR/srv.sock (and keeps listening), its child connects
# and sends seeded bytes, the root accepts and answers with other seeded
# bytes; both wait for go with the bytes still queued (the connection is
# restored as a pair without the names: a caveat). After go each reads what
# waits for it, they exchange a second message, and a new client (the
# root) still reaches the listener by its path. Sabotage: the root reads
# the child's bytes before go.
import os
import random
import socket
import sys
import time

import wl

w = wl.start(777)
statedir = w.statedir
os.chdir(statedir)
seed = w.seed
to_root = random.Random(seed).randbytes(5000)
to_child = random.Random(seed + 1).randbytes(3000)
path = os.path.join(statedir, "srv.sock")


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(4)
child = os.fork()
if child == 0:
    listener.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(to_root)
    failures = [] if w.wait_go() else ["child: no go within the workload's lifetime"]
    c.settimeout(5)
    if recv_exactly(c, len(to_child)) != to_child:
        failures.append("child: the root's bytes differ")
    c.sendall(b"second")
    os._exit(w.finish(failures, "child-result"))
conn, _ = listener.accept()
conn.sendall(to_child)
if w.sabotage:
    recv_exactly(conn, 100)
time.sleep(0.1)
w.ready()
failures = [] if w.wait_go() else ["no go within the workload's lifetime"]
conn.settimeout(5)
if recv_exactly(conn, len(to_root)) != to_root:
    failures.append("the child's bytes differ")
if recv_exactly(conn, 6) != b"second":
    failures.append("the child's second message did not arrive")
_, status = os.waitpid(child, 0)
if status != 0:
    failures.append(f"child exited with status {status}")
try:
    with open("child-result") as f:
        verdict = f.read().strip()
    if verdict != "ok":
        failures.append(verdict.removeprefix("FAIL: "))
except OSError:
    failures.append("child: no verdict")
probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    probe.connect(path)
    listener.settimeout(5)
    listener.accept()[0].close()
except OSError as e:
    failures.append(f"the listener is not reachable by its path: {e}")
sys.exit(w.finish(failures))
