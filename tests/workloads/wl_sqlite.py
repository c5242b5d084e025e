# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# python3 -S with the sqlite3 module: STATEDIR/db.sqlite (rollback journal)
# holds 300 committed rows from the seed; a transaction inserting 200 more
# is open and not committed (SQLite holds its RESERVED and SHARED POSIX
# locks on the database and has db.sqlite-journal open) the whole time.
# After go: another process must find the database locked for writing
# (BEGIN IMMEDIATE: "database is locked") and see only the 300 rows; then the
# transaction commits, and another process must see all 500 rows with the
# seeded values. Sabotage: the transaction is rolled back after ready.
import os
import random
import sqlite3
import subprocess
import sys

import wl

w = wl.start(1234)
os.chdir(w.statedir)
seed = w.seed
rows = [(i, random.Random(seed * 1000003 + i).getrandbits(48)) for i in range(500)]
failures = []


def finish(status_failures):
    sys.exit(w.finish(status_failures))


def other_process(code):
    # A separate python3 -S (the caller's locks are per process).
    r = subprocess.run([sys.executable, "-S", "-c", code, "db.sqlite"], capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


db = sqlite3.connect("db.sqlite", timeout=0)
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
db.executemany("INSERT INTO t VALUES (?, ?)", rows[:300])
db.commit()
db.executemany("INSERT INTO t VALUES (?, ?)", rows[300:])  # opens the transaction, not committed
if not db.in_transaction or not os.path.exists("db.sqlite-journal"):
    finish(["setup: no open transaction with its journal"])
w.ready()
if w.sabotage:
    db.rollback()
if not w.wait_go():
    finish(["no go within the workload's lifetime"])

status, out, err = other_process(
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
    "try:\n"
    "    c.execute('BEGIN IMMEDIATE')\n"
    "    print('not locked')\n"
    "except sqlite3.OperationalError as e:\n"
    "    print(e)\n"
)
if out != "database is locked":
    failures.append(f"another process could write while the transaction was open: {out or err}")
status, out, err = other_process("import sqlite3, sys; print(sqlite3.connect(sys.argv[1], timeout=5).execute('SELECT count(*) FROM t').fetchone()[0])")
if out != "300":
    failures.append(f"another process saw {out or err} rows before the commit, expected 300")
try:
    db.commit()
except sqlite3.Error as e:
    failures.append(f"commit: {e}")
db.close()
status, out, err = other_process(
    "import sqlite3, sys\n"
    "for i, v in sqlite3.connect(sys.argv[1], timeout=5).execute('SELECT id, v FROM t ORDER BY id'):\n"
    "    print(i, v)\n"
)
got = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line]
if got != rows:
    failures.append(f"after the commit another process read {len(got)} rows, expected the 500 seeded ones ({err})")
finish(failures)
