"""``carbonx web`` as a real subprocess, for ``bench.web`` and the browser tests (tcp loopback, any free port).

It is started on a node's config and data directory, pointed at the node's market-data endpoints
(the node of ``tests/node_process.py`` binds ports it chooses), and listens on a port the kernel
picks: the URL is read from its "carbonx web: http://..." line on stdout. Waiting is for that line
with a deadline, never a sleep. Its stderr goes to a file (nobody reads a pipe while it runs), kept
for failure messages.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, NoReturn

REPO = Path(__file__).resolve().parent.parent
_URL = re.compile(rb"^carbonx web: (http://\S+)", re.MULTILINE)
CHROMIUM = "/usr/bin/chromium"  # Debian's (apt-get install chromium): Playwright's own downloads are never used
CHROMIUM_ARGS = [  # headless in a container: no sandbox, GPU or background traffic
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class WebProcess:
    def __init__(self, config: Path, data_dir: Path, endpoint: str, snapshot_endpoint: str) -> None:
        self.config, self.data_dir = config, data_dir
        self.endpoint, self.snapshot_endpoint = endpoint, snapshot_endpoint
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._stderr: IO[bytes] | None = None

    def start(self, timeout: float = 20.0) -> WebProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "carbonx", "web", "--config", str(self.config)]
        command += ["--data-dir", str(self.data_dir), "--port", "0"]
        command += ["--endpoint", self.endpoint, "--snapshot-endpoint", self.snapshot_endpoint]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - it lives as long as the process; close() closes it
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=REPO)
        self.url = self._read_url(timeout)
        return self

    def _read_url(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        out = b""
        while (found := _URL.search(out)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self._fail(f"carbonx web printed no URL within {timeout:.0f} s", out)
            chunk = os.read(fd, 65_536)
            if not chunk:
                self._fail("carbonx web exited before it listened", out)
            out += chunk
        return found[1].decode()

    def _fail(self, what: str, out: bytes) -> NoReturn:
        """Stop the process and raise with what it said."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        status = self.process.wait(10)
        stdout, stderr = out.decode(errors="replace")[-1000:], self.stderr()[-2000:]
        self.close()
        raise AssertionError(f"{what}: exit status {status}, stdout={stdout!r}, stderr={stderr!r}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait for the clean exit (SIGKILL if it does not come); the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
                raise AssertionError(
                    f"carbonx web ignored SIGTERM for {timeout:.0f} s: {self.stderr()[-2000:]}"
                ) from None
        return self.process.returncode

    def close(self) -> None:
        """Whatever state it is in: gone, its pipes closed."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
