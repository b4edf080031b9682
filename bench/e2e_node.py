"""The node under test of ``python -m bench.e2e``: ``carbonx serve --demo`` as a real subprocess.

It runs on a copy of ``config/`` with free ports, a throttle no client reaches, scheduler "manual"
and fsync as chosen; the regulator tops up the accounts the run trades; the machine and the file
system the journal is written to are described, because every figure depends on them.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from bench.e2e_wire import (
    FIRST_RID,
    INSTRUMENT,
    MAKER_ORDER,
    MAX_QUANTITY,
    SCALE_INSTRUMENTS,
    TRADERS,
    BenchError,
    Context,
    Figures,
    WireSession,
    scaled_accounts,
)
from engine.messages import AllocateAllowances, AnyCommand, DepositCash
from gateway.protocol import Ack, SubmitBatch

REPO = Path(__file__).resolve().parent.parent
CASH_PER_T = 9_000  # fen deposited per tonne a buyer may buy: above any bench price plus fees
BUYER_LIMIT_T = 700_000  # t bought per account: the demo position limit (1,000,000 t) less demo holdings


NODE_TOML = """\
data_dir = "var"
fsync = {fsync}

[gateway]
endpoint = "tcp://127.0.0.1:{ports[0]}"
drop_copy_endpoint = "tcp://127.0.0.1:{ports[1]}"
throttle_per_s = 10_000_000
throttle_burst = 10_000_000
max_batch = {max_batch}
max_frame_bytes = 1_048_576

[market_data]
endpoint = "tcp://127.0.0.1:{ports[2]}"
snapshot_endpoint = "tcp://127.0.0.1:{ports[3]}"
heartbeat_ms = 200

[scheduler]
mode = "manual"
"""
_ENDPOINT = re.compile(r"^\s+(order entry|market data)\s+(\S+)")
_SEQ = re.compile(r"journal seq ([\d,]+)")


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands to sockets bound to port 0, all held at once so that they differ."""
    held = [socket.socket() for _ in range(count)]
    for s in held:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


class NodeUnderTest:
    """``carbonx serve --demo`` on a copy of config/ in ``work``, as a real subprocess."""

    def __init__(self, work: Path, fsync: bool, max_batch: int, scale: bool = False) -> None:
        self.config, self.data_dir, self.stderr_path = work / "config", work / "var", work / "node.stderr"
        shutil.copytree(REPO / "config", self.config)
        if scale:
            scale_config(self.config)
        toml = NODE_TOML.format(fsync=str(fsync).lower(), ports=free_ports(4), max_batch=max(1_000, max_batch))
        (self.config / "node.toml").write_text(toml)
        self.endpoints: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.first_seq = 0

    def start(self, timeout: float) -> None:
        """Start, read stdout up to the line starting with "ready", note the endpoints and the journal seq."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "carbonx", "serve", "--demo", "--config", str(self.config)]
        with open(self.stderr_path, "wb") as stderr:  # a file, not a pipe: nobody reads it while the node runs
            command += ["--data-dir", str(self.data_dir)]
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=REPO)
        assert self.process.stdout is not None
        deadline, banner = time.monotonic() + timeout, b""
        while not re.search(rb"(^|\n)ready", banner):
            if not select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise BenchError(f"the node printed no 'ready' within {timeout:.0f} s; {self._stderr_tail()}")
            chunk = os.read(self.process.stdout.fileno(), 65_536)
            if not chunk:
                raise BenchError(f"the node exited before it was ready; {self._stderr_tail()}")
            banner += chunk
        for line in banner.decode().splitlines():
            if found := _ENDPOINT.match(line):
                self.endpoints[found[1]] = found[2]
            if line.startswith("carbonx node:") and (seq := _SEQ.search(line)):
                self.first_seq = int(seq[1].replace(",", ""))

    def cpu_seconds(self) -> float:
        """User and system CPU time the node has used so far (/proc/<pid>/stat, fields 14 and 15)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(self, phase: Callable[..., Figures], *args: Any) -> Figures:
        """Run one phase; add the node's CPU time during it, so per-order cost is not hidden by the clients."""
        before = self.cpu_seconds()
        figures = phase(*args)
        return figures | {"node_cpu_s": round(self.cpu_seconds() - before, 3)}

    def _stderr_tail(self) -> str:
        return "its stderr ends: " + last_lines(self.stderr_path.read_text(errors="replace"))

    def stop(self, timeout: float) -> tuple[int, int, str]:
        """SIGTERM, then wait: (exit status, last journal seq, the node's stderr)."""
        if self.process is None:
            return -1, -1, ""
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait(timeout)
        stderr = self.stderr_path.read_text(errors="replace")
        found = re.search(r"stopped cleanly at journal seq ([\d,]+)", stderr)
        return status, int(found[1].replace(",", "")) if found else -1, stderr


def scale_config(config: Path) -> None:
    """The demo market at scale: the instruments of ``SCALE_INSTRUMENTS`` (the new ones as SHEA2025,
    under other codes) and, for each trader's account, the other accounts of ``scaled_accounts``."""
    instruments = tomllib.loads((config / "instruments.toml").read_text())["instrument"]
    model = next(i for i in instruments if i["code"] == INSTRUMENT)
    known = {i["code"] for i in instruments}
    added = [
        {**model, "code": code, "name": f"bench instrument {code}"} for code in SCALE_INSTRUMENTS if code not in known
    ]
    with open(config / "instruments.toml", "a", encoding="utf-8") as f:
        f.write("".join(_toml_table("instrument", table) for table in added))
    accounts = {a["id"]: a for a in tomllib.loads((config / "members.toml").read_text())["account"]}
    extra = [
        {**accounts[account], "id": other, "name": f"bench account {other}"}
        for _, account in TRADERS
        for other in scaled_accounts(account, True)[1:]
    ]
    with open(config / "members.toml", "a", encoding="utf-8") as f:
        f.write("".join(_toml_table("account", table) for table in extra))


def _toml_table(name: str, table: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int) else f'"{v}"'

    return f"\n[[{name}]]\n" + "".join(f"{key} = {value(v)}\n" for key, v in table.items())


def last_lines(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def tonnes_needed(args: argparse.Namespace) -> dict[str, int]:
    """The most each account can buy or sell in the run: throughput orders at full size, then latency."""
    needs = {account: 2 * args.orders * MAX_QUANTITY for _, account in TRADERS[: args.clients]}
    for rate in args.rates:
        count = max(1, round(rate * args.latency_seconds))
        needs[TRADERS[0][1]] += count
        needs[TRADERS[1][1]] += math.ceil(count / MAKER_ORDER) * MAKER_ORDER
    return needs


def top_up(endpoint: str, keys: Path, needs: dict[str, int], timeout: float, scale: bool = False) -> int:
    """As the regulator, give each seller the allowances and each buyer the cash the run may need.

    The demo funding covers the default run; the top-up lets a longer one go through unrefused. It is
    journaled like any command; the number of commands is returned. At ``scale`` every account of a
    trader gets what the trader's own would, in every instrument.
    """
    instruments = SCALE_INSTRUMENTS if scale else (INSTRUMENT,)
    commands: list[AnyCommand] = []
    for i, (_, a) in enumerate(TRADERS):
        if a not in needs:
            continue
        for account in scaled_accounts(a, scale):
            if i % 2:
                commands += [AllocateAllowances(account=account, instrument=j, quantity=needs[a]) for j in instruments]
            else:
                commands.append(DepositCash(account=account, amount=needs[a] * CASH_PER_T))
    context: Context = zmq.Context()
    try:
        regulator = WireSession(context, endpoint, keys, "REGULATOR")
        answer, reports = regulator.request(SubmitBatch(request_id=FIRST_RID, commands=commands), timeout)
        regulator.close()
    finally:
        context.destroy(linger=1_000)
    if not isinstance(answer, Ack) or any(type(r.event).__name__.endswith("Rejected") for r in reports):
        raise BenchError(f"the regulator's top-up was not applied: {answer!r}")
    return len(commands)


def check_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--work-dir`` and ``--json`` name directories that exist: one line now, not a traceback after the run."""
    if args.work_dir is not None and not args.work_dir.is_dir():
        parser.error(f"--work-dir {args.work_dir}: no such directory")
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"--json {args.json}: no such directory {args.json.parent}")


def machine() -> Figures:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": models[0] if models else platform.processor() or "unknown",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "zmq": f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}",
        "load_before": load_average(),  # other work on the machine shows in every figure
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def filesystem(path: Path) -> str:
    """The type of the file system holding ``path``: fsync costs what that file system makes it cost."""
    resolved = str(path.resolve())
    mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    inside = [(len(p), kind) for p, kind in mounts if resolved == p or resolved.startswith(p.rstrip("/") + "/")]
    return max(inside)[1] if inside else "unknown"
