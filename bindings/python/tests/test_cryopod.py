# SPDX-License-Identifier: GPL-2.0-or-later
# SPDX-FileCopyrightText: 2026 Cryopod developers
"""The Python bindings against the real library, without a helper: the
errors each call reports (errno and message), the constants, the context
manager's files. tests/lib/libcryopodtest runs a Python program that
checkpoints itself through a real helper (lib_selfcheckpoint.py)."""
import errno
import os
import tempfile
import unittest

import cryopod

NO_BUS = "unix:path=/nonexistent/cryopod-test-bus"


class BindingsTest(unittest.TestCase):
    def setUp(self):
        self._saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = NO_BUS

    def tearDown(self):
        if self._saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self._saved

    def test_constants_match_the_header(self):
        header = os.path.join(os.path.dirname(__file__), "../../../lib/include/cryopod/cryopod.h")
        with open(header) as f:
            text = f.read()
        for name, value in [("SUBTREE", cryopod.SUBTREE), ("KILL", cryopod.KILL),
                            ("RESTART_FROZEN", cryopod.RESTART_FROZEN), ("RESTART_COPY", cryopod.RESTART_COPY)]:
            self.assertIn(f"#define CRYOPOD_{name} {value:#x}u", text)

    def test_no_helper(self):
        with tempfile.TemporaryFile() as f:
            with self.assertRaises(cryopod.CryopodError) as caught:
                cryopod.checkpoint(f, pid=os.getpid())
        self.assertEqual(caught.exception.errno, errno.ENOENT)
        self.assertIn("cannot reach cryopod-helper", caught.exception.strerror)
        self.assertIn(NO_BUS[len("unix:path="):], caught.exception.strerror)
        with self.assertRaises(cryopod.CryopodError) as caught:
            cryopod.checkpointable(0)
        self.assertEqual(caught.exception.errno, errno.ENOENT)

    def test_bad_fd(self):
        r, w = os.pipe()
        os.close(w)
        with self.assertRaises(cryopod.CryopodError) as caught:
            cryopod.checkpoint(w)
        self.assertEqual(caught.exception.errno, errno.EBADF)
        self.assertIn(f"fd {w} is not open", caught.exception.strerror)
        with self.assertRaises(cryopod.CryopodError) as caught:
            cryopod.checkpoint(r)  # the read end: not open for writing
        self.assertEqual(caught.exception.errno, errno.EBADF)
        self.assertIn("not open for writing", caught.exception.strerror)
        os.close(r)

    def test_restart_copy_and_flags(self):
        with tempfile.TemporaryFile() as f:
            with self.assertRaises(cryopod.CryopodError) as caught:
                cryopod.restart(f, cryopod.RESTART_COPY)
            self.assertEqual(caught.exception.errno, errno.ENOTSUP)
            self.assertIn("original pid", caught.exception.strerror)
            with self.assertRaises(cryopod.CryopodError) as caught:
                cryopod.checkpoint(f, 0, 0x80)
            self.assertEqual(caught.exception.errno, errno.EINVAL)
            self.assertIn("unknown flags", caught.exception.strerror)

    def test_log_lines_go_to_logfd(self):
        r, w = os.pipe()
        with tempfile.TemporaryFile() as f:
            with self.assertRaises(cryopod.CryopodError):
                cryopod.checkpoint(f, os.getpid(), 0, w)
        os.close(w)
        text = os.read(r, 65536).decode()
        os.close(r)
        self.assertTrue(text.startswith("cryopod: checkpoint: cannot reach cryopod-helper"), text)

    def test_checkpointer_context(self):
        with tempfile.TemporaryDirectory() as d:
            with cryopod.Checkpointer(d, every=3600) as ckpt:
                self.assertIsNone(ckpt.tick())  # not due yet
                with self.assertRaises(cryopod.CryopodError) as caught:
                    ckpt.checkpoint()
                self.assertEqual(caught.exception.errno, errno.ENOENT)
                logfd = ckpt.logfd
                self.assertGreaterEqual(logfd, 0)
            with self.assertRaises(OSError):
                os.fstat(logfd)  # closed with the context
            with open(os.path.join(d, "cryopod.log")) as log:
                self.assertIn("cannot reach cryopod-helper", log.read())
        with self.assertRaises(ValueError):
            cryopod.Checkpointer()


if __name__ == "__main__":
    unittest.main()
