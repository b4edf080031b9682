"""The node of ``python -m bench.flood``: production limits, its memory watched, killed past a cap.

Unlike the end-to-end benchmark's node (a throttle no client reaches), this one runs the gateway's
production settings (``throttle_per_s`` 500, ``throttle_burst`` 1,000, ``max_frame_bytes`` 65,536,
``max_batch`` 1,000: config/node.toml's defaults), since the floods are measured against them. Only
the regulator, which sets the market up before the phases, gets a throttle it cannot reach.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import zmq

from bench.e2e_node import NodeUnderTest, free_ports
from bench.e2e_wire import FIRST_RID, INSTRUMENT, BenchError, Context, Figures, WireSession
from bench.flood_wire import FLOODER_ACCOUNT
from engine.messages import AllocateAllowances, AnyCommand, DepositCash
from gateway.protocol import Ack, SubmitBatch

NODE_TOML = """\
data_dir = "var"
fsync = {fsync}

[gateway]
endpoint = "tcp://127.0.0.1:{ports[0]}"
drop_copy_endpoint = "tcp://127.0.0.1:{ports[1]}"

[market_data]
endpoint = "tcp://127.0.0.1:{ports[2]}"
snapshot_endpoint = "tcp://127.0.0.1:{ports[3]}"

[scheduler]
mode = "manual"
"""
_REGULATOR = 'id = "REGULATOR"\n'
_REGULATOR_THROTTLE = "throttle_per_s = 100_000_000\nthrottle_burst = 100_000_000\n"
_BATCH = 1_000  # commands per SubmitBatch: the production max_batch


class FloodNode(NodeUnderTest):
    """``carbonx serve --demo`` with the production gateway limits; the regulator unthrottled."""

    def __init__(self, work: Path, fsync: bool) -> None:
        super().__init__(work, fsync, _BATCH)
        ports = free_ports(4)
        (self.config / "node.toml").write_text(NODE_TOML.format(fsync=str(fsync).lower(), ports=ports))
        members = self.config / "members.toml"
        text = members.read_text()
        if _REGULATOR not in text:
            raise BenchError(f"{members}: no [[member]] with {_REGULATOR.strip()}")
        members.write_text(text.replace(_REGULATOR, _REGULATOR + _REGULATOR_THROTTLE, 1))
        self.snapshot_endpoint = f"tcp://127.0.0.1:{ports[3]}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def sample(self) -> Figures:
        """The node's memory (kB), journal and log sizes (bytes) and CPU time now; zeros once it is gone."""
        memory = status_kb(self.pid) if self.alive() else {}
        return {
            "rss_kb": memory.get("VmRSS", 0),
            "hwm_kb": memory.get("VmHWM", 0),
            "data_bytes": directory_bytes(self.data_dir),
            "log_bytes": self.stderr_path.stat().st_size if self.stderr_path.exists() else 0,
            "cpu_s": self.cpu_seconds() if self.alive() else 0.0,
        }


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and the other kB figures of /proc/<pid>/status ({} if the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines) if v.strip().endswith(" kB")}


def directory_bytes(path: Path) -> int:
    """Bytes in the files under ``path``: the journal, snapshots and the node's database."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file the node removed meanwhile
                total += (Path(root) / name).stat().st_size
    return total


class RssWatch(threading.Thread):
    """Reads the node's RSS every ``interval`` seconds, keeps the peak, and SIGKILLs the node past ``cap_kb``.

    A flood can grow the node by hundreds of MB a second: polled at 10 ms, the node is stopped within
    a few MB of the cap, long before the machine runs short.
    """

    def __init__(self, pid: int, cap_kb: int, interval: float = 0.01) -> None:
        super().__init__(name="rss-watch", daemon=True)
        self.pid, self.cap_kb, self.interval = pid, cap_kb, interval
        self.peak_kb = 0
        self.killed_at_kb = 0  # the RSS read when the cap was passed (0: not killed)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            rss = status_kb(self.pid).get("VmRSS")
            if rss is None:
                return
            self.peak_kb = max(self.peak_kb, rss)
            if rss > self.cap_kb:
                os.kill(self.pid, signal.SIGKILL)
                self.killed_at_kb = rss
                return

    def reset_peak(self) -> None:
        self.peak_kb = status_kb(self.pid).get("VmRSS", 0)

    def stop(self) -> None:
        self._done.set()
        self.join(5)


def prepare(endpoint: str, keys: Path, victim_seller: str, sells: int, flooder_reports: int, timeout: float) -> int:
    """As the regulator: allowances for every sell the victim may send, and ``flooder_reports`` 1-fen deposits
    into the flooder's account, each an execution report of the flooder's (what a whole resend sends again).

    Returns the number of commands journaled.
    """
    commands: list[AnyCommand] = [AllocateAllowances(account=victim_seller, instrument=INSTRUMENT, quantity=sells)]
    commands += [DepositCash(account=FLOODER_ACCOUNT, amount=1) for _ in range(flooder_reports)]
    context: Context = zmq.Context()
    try:
        regulator = WireSession(context, endpoint, keys, "REGULATOR")
        for k in range(0, len(commands), _BATCH):
            batch = SubmitBatch(request_id=FIRST_RID + k, commands=commands[k : k + _BATCH])
            answer, reports = regulator.request(batch, timeout)
            if not isinstance(answer, Ack) or any(type(r.event).__name__.endswith("Rejected") for r in reports):
                raise BenchError(f"the regulator's set-up was not applied: {answer!r}")
        regulator.close()
    finally:
        context.destroy(linger=1_000)
    return len(commands)
