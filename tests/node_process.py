"""A carbonx node as a real subprocess, for the end-to-end tests (tcp loopback, ephemeral ports).

The node's config is a copy of ``config/`` with every endpoint on ``tcp://127.0.0.1:*`` (the node
prints the ports it bound), fsync off (the tests measure behaviour, not disks), the scheduler in
manual mode (``--demo`` opens the session) and short heartbeats, plus per-test member options.
Waiting is always for an event (a line on the node's stdout, a message, a process exit) with a
deadline, never a sleep.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import engine.listing

REPO = Path(__file__).resolve().parent.parent

NODE_TOML = """\
data_dir = "var"
fsync = false

[gateway]
endpoint = "tcp://127.0.0.1:*"
drop_copy_endpoint = "tcp://127.0.0.1:*"
keys_dir = "demo-keys"
heartbeat_min_ms = 50

[market_data]
endpoint = "tcp://127.0.0.1:*"
snapshot_endpoint = "tcp://127.0.0.1:*"
heartbeat_ms = 200

[scheduler]
mode = "manual"
"""

# Member options the tests need, inserted after the member's id line in members.toml.
MEMBER_OPTIONS = {
    "M003": "throttle_per_s = 1\nthrottle_burst = 3\n",
    "M102": "cancel_on_disconnect = true\n",
}

_ENDPOINT = re.compile(r"^\s+(order entry|market data|drop copy)\s+(\S+)(?:\s+.*?snapshot service (\S+))?")


def make_config(directory: Path) -> Path:
    config = directory / "config"
    shutil.copytree(REPO / "config", config)
    # The book the test runs on (tests/conftest.py's book_kind makes it the engine's default).
    (config / "node.toml").write_text(NODE_TOML + f'\n[engine]\nbook = "{engine.listing.DEFAULT_BOOK}"\n')
    members = config / "members.toml"
    text = members.read_text()
    for member, options in MEMBER_OPTIONS.items():
        text = text.replace(f'id = "{member}"\n', f'id = "{member}"\n{options}', 1)
    members.write_text(text)
    return config


class NodeProcess:
    def __init__(self, config: Path, data_dir: Path) -> None:
        self.config, self.data_dir = config, data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.banner: list[str] = []
        self.endpoints: dict[str, str] = {}

    @property
    def keys_dir(self) -> Path:
        return self.config / "demo-keys"

    def start(self, timeout: float = 20.0) -> NodeProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "carbonx", "serve", "--demo", "--config", str(self.config)]
        self.process = subprocess.Popen(
            [*command, "--data-dir", str(self.data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.banner = self._read_until_ready(timeout)
        for line in self.banner:
            found = _ENDPOINT.match(line)
            if found:
                self.endpoints[found[1]] = found[2]
                if found[3]:
                    self.endpoints["snapshot"] = found[3]
        return self

    def _read_until_ready(self, timeout: float) -> list[str]:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        buffer = b""
        fd = self.process.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                lines.append(line.decode())
                if line.startswith(b"ready"):
                    return lines
        stderr = self.process.stderr.read().decode() if self.process.poll() is not None and self.process.stderr else ""
        raise AssertionError(f"node did not become ready: stdout={lines!r} stderr={stderr[-2000:]!r}")

    @property
    def order_entry(self) -> str:
        return self.endpoints["order entry"]

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for the clean exit; the exit status.

        A node still running after ``timeout`` is asked for its stacks and killed, and the test fails
        with what it was doing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = self.stacks()
            self.kill()
            raise AssertionError(f"node still running {timeout:g} s after SIGTERM; its stderr:\n{stacks}") from None

    def stacks(self, timeout: float = 5.0) -> str:
        """Its stderr, with the stack of each thread at the end (SIGUSR1, ``carbonx serve --help``)."""
        assert self.process is not None and self.process.stderr is not None
        self.process.send_signal(signal.SIGUSR1)
        fd, seen, deadline = self.process.stderr.fileno(), b"", time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            # The signal handler writes the whole dump at once: once it has begun, a quiet half second
            # means it is complete.
            ready, _, _ = select.select([fd], [], [], min(left, 0.5) if b"most recent call first" in seen else left)
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                break
            seen += chunk
        return seen.decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no flush, no snapshot — what a crash looks like."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stderr(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        return self.process.stderr.read().decode()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
