# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian's chromium, headless, for the report page's tests: the DOM after its scripts ran, a
screenshot, and a page driven with real key presses over the DevTools protocol (--remote-debugging-pipe:
JSON messages ending in a NUL byte, written to the browser's fd 3 and read from its fd 4).

Nothing here skips: a missing chromium fails the test that needs it (scripts/setup installs it).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
TIMEOUT = 60


def executable():
    found = shutil.which("chromium")
    assert found, "chromium is not installed: scripts/setup installs Debian's chromium package"
    return found


def run(arguments, url):
    """Run chromium once on a URL with a fresh profile; its stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        result = subprocess.run([executable()] + FLAGS + ["--user-data-dir=%s" % profile] + arguments + [url],
                                capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dump_dom(url):
    """The page's DOM, serialized after its scripts ran."""
    return run(["--dump-dom"], url)


def screenshot(url, path, width, height):
    run(["--screenshot=%s" % path, "--window-size=%d,%d" % (width, height)], url)


class DevTools:
    """One headless chromium driven over --remote-debugging-pipe, with one page attached."""

    def __init__(self, url):
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def on_fds_3_and_4():
            # Out of the way first (either end may already be 3 or 4), then onto the numbers chromium reads.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self._process = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
            [executable()] + FLAGS + ["--user-data-dir=%s" % self._profile.name, "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=on_fds_3_and_4, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next = 0
        self._session = None
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        # A new target shows about:blank (complete at once) before the URL's document commits.
        self.wait_for("window.location.href === %s && document.readyState === 'complete'" % json.dumps(url))

    def send(self, method, params=None):
        """A command's result (for the attached page once attached), or AssertionError with the browser's error."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next:
                    assert "error" not in reply, reply["error"]
                    return reply["result"]
            ready, _write, _error = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "chromium did not answer %s within %ds" % (method, TIMEOUT)
            chunk = os.read(self._replies, 1 << 16)
            assert chunk, "chromium exited during %s" % method
            self._buffer += chunk

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression):
        """Until the expression is true; while a page loads its context may go away under a call."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if self.evaluate(expression):
                    return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
            assert time.monotonic() < deadline, "timed out waiting for %s" % expression
            time.sleep(0.05)

    def press(self, key, code):
        """A real key press (down and up) on the focused element."""
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code})

    def close(self):
        try:
            self._next += 1
            os.write(self._commands, json.dumps({"id": self._next, "method": "Browser.close"}).encode() + b"\0")
            self._process.wait(TIMEOUT)
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(TIMEOUT)
            os.close(self._commands)
            os.close(self._replies)
            self._profile.cleanup()
