# SPDX-License-Identifier: LGPL-2.1-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
"""Checkpoint and restart of processes from Python, through libcryopod.

A thin ctypes layer over the C library (include/cryopod/cryopod.h, see
docs/api.md); no compiled extension. The library is found as
$CRYOPOD_LIBRARY, else by the linker's name ``cryopod`` (libcryopod.so.1).

    import cryopod
    with cryopod.Checkpointer("checkpoints", every=60) as ckpt:
        for step in range(start, steps):
            train(step)
            ckpt.tick()          # a checkpoint when one is due

Failures raise CryopodError (an OSError: .errno, .strerror is the library's
message).
"""

import ctypes
import ctypes.util
import errno as _errno
import json
import os
import time

__all__ = [
    "CryopodError", "Checkpoint", "Checkpointer",
    "checkpoint", "restart", "snapshot", "checkpointable",
    "SUBTREE", "KILL", "RESTART_FROZEN", "RESTART_COPY",
]

SUBTREE = 0x1
KILL = 0x2
RESTART_FROZEN = 0x1
RESTART_COPY = 0x2


class CryopodError(OSError):
    """A libcryopod call failed: errno and the library's message."""


def _load():
    names = [os.environ.get("CRYOPOD_LIBRARY"), ctypes.util.find_library("cryopod"), "libcryopod.so.1"]
    last = None
    for name in names:
        if not name:
            continue
        try:
            return ctypes.CDLL(name, use_errno=True)
        except OSError as e:
            last = e
    raise ImportError(f"libcryopod not found (set CRYOPOD_LIBRARY): {last}")


_lib = _load()
_pid_t = ctypes.c_int
_lib.cryopod_checkpoint.argtypes = [_pid_t, ctypes.c_int, ctypes.c_uint, ctypes.c_int]
_lib.cryopod_checkpoint.restype = ctypes.c_long
_lib.cryopod_restart.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_int]
_lib.cryopod_restart.restype = _pid_t
_lib.cryopod_snapshot.argtypes = [_pid_t, ctypes.c_char_p]
_lib.cryopod_snapshot.restype = ctypes.c_long
_lib.cryopod_checkpointable.argtypes = [_pid_t, ctypes.POINTER(ctypes.c_void_p)]
_lib.cryopod_checkpointable.restype = ctypes.c_int
_lib.cryopod_last_error.argtypes = []
_lib.cryopod_last_error.restype = ctypes.c_char_p
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]


def _raise():
    err = ctypes.get_errno() or _errno.EIO
    message = (_lib.cryopod_last_error() or b"").decode("utf-8", "replace")
    raise CryopodError(err, message or os.strerror(err))


def _fileno(f):
    return f if isinstance(f, int) else f.fileno()


def checkpoint(file, pid=0, flags=0, logfd=-1):
    """Checkpoints the tree of `pid` (0: this process) into `file` (an fd or
    an object with fileno(), open for writing). Returns the checkpoint id in
    the process that made it, 0 in the copy restored from it (pid 0)."""
    if hasattr(file, "flush"):
        file.flush()
    result = _lib.cryopod_checkpoint(pid, _fileno(file), flags, logfd)
    if result < 0:
        _raise()
    return result


def restart(file, flags=0, logfd=-1):
    """Restores the image read from `file` (an fd or file open for reading).
    Returns the pid of the restored root process."""
    result = _lib.cryopod_restart(_fileno(file), flags, logfd)
    if result < 0:
        _raise()
    return result


def snapshot(pid=0, label=None):
    """Checkpoints `pid` (0: this process) into the user's snapshot store (the
    Cryopod timeline). Returns the snapshot id, 0 in the restored copy."""
    result = _lib.cryopod_snapshot(pid, label.encode() if label is not None else None)
    if result < 0:
        _raise()
    return result


def checkpointable(pid=0):
    """(True/False, report dict): whether the tree of `pid` (0: this process)
    can be checkpointed, and the engine's report."""
    text = ctypes.c_void_p()
    result = _lib.cryopod_checkpointable(pid, ctypes.byref(text))
    if result < 0:
        _raise()
    try:
        report = json.loads(ctypes.string_at(text.value).decode("utf-8"))
    finally:
        _libc.free(text)
    return bool(result), report


class Checkpoint:
    """One checkpoint a Checkpointer made: its id (0 in the restored copy),
    whether this is the copy, the image path (None for store snapshots)."""

    def __init__(self, ident, path):
        self.id = ident
        self.restored = ident == 0
        self.path = path

    def __repr__(self):
        return f"Checkpoint(id={self.id}, restored={self.restored}, path={self.path!r})"


class Checkpointer:
    """A process checkpointing itself, as a context manager.

    Images go to DIRECTORY/ckpt-N.img (written as .tmp, renamed when done;
    the `keep` newest are kept), or with store=True into the snapshot store.
    tick() checkpoints when `every` seconds passed since the last one;
    checkpoint() does at once. Both return a Checkpoint (or None from tick()
    when none was due); in the copy restored from it, its `restored` is True.
    The log (libcryopod's progress and error lines) goes to `log`, a path or
    an fd, by default DIRECTORY/cryopod.log; the context closes what it
    opened.
    """

    def __init__(self, directory=None, every=60.0, keep=3, store=False, label=None, log=None):
        if directory is None and not store:
            raise ValueError("a directory for the images, or store=True")
        self.directory = directory
        self.every = every
        self.keep = keep
        self.store = store
        self.label = label
        self.count = 0
        self.restored = 0
        self._log = log
        self._logfd = -1
        self._owns_log = False
        self._last = time.monotonic()

    def __enter__(self):
        if self.directory is not None:
            os.makedirs(self.directory, exist_ok=True)
        if isinstance(self._log, int):
            self._logfd = self._log
        elif self._log is not None or self.directory is not None:
            path = self._log if self._log is not None else os.path.join(self.directory, "cryopod.log")
            self._logfd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            self._owns_log = True
        self._last = time.monotonic()
        return self

    def __exit__(self, *exc):
        if self._owns_log and self._logfd >= 0:
            os.close(self._logfd)
        self._logfd = -1
        return False

    @property
    def logfd(self):
        """The fd libcryopod's lines go to (-1: none); the program may add its own."""
        return self._logfd

    def tick(self):
        if time.monotonic() - self._last < self.every:
            return None
        return self.checkpoint()

    def checkpoint(self):
        self.count += 1
        if self.store:
            ident = snapshot(0, self.label)
            path = None
        else:
            path = os.path.join(self.directory, f"ckpt-{self.count}.img")
            tmp = path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                ident = checkpoint(fd, 0, 0, self._logfd)
            finally:
                os.close(fd)
            if ident > 0:
                os.rename(tmp, path)
                self._prune()
        if ident == 0:
            self.restored += 1
        self._last = time.monotonic()
        return Checkpoint(ident, path)

    def _prune(self):
        if not self.keep or self.count <= self.keep:
            return
        old = os.path.join(self.directory, f"ckpt-{self.count - self.keep}.img")
        try:
            os.unlink(old)
        except FileNotFoundError:
            pass
