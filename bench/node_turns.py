"""``python -m bench.node_turns``: the node's own work per order, in one process, without sockets or fsync.

``bench.e2e`` measures the node as members see it, over CURVE and with fsync, and its rates move by
a quarter between runs on a shared 2-core VM. This measures what the node's Python costs per order,
steadily enough to compare two commits: the frames the e2e clients send (one ``Submit`` per order,
or ``SubmitBatch``es) go through ``Gateway.receive`` as the node's loop hands them over, then
``Node._sequence`` (the journal with fsync off, the engine, the execution reports, market data),
``gc.freeze`` as the node does after a turn, the outbox and the market-data publisher, ``--turn``
requests a turn. What it leaves out: reading and sending on the sockets (about 1 µs a message each
way in pyzmq), CURVE, the fsync and the wait in ``poll``.

The node is built from a copy of ``config/`` (the demo members, the e2e benchmark's node.toml), its
day opened and the traders funded with the node's own commands; the four trading members log on
with ``batch_reports``, as bench.e2e's clients do. Figures: bench/RESULTS.md (issue 19).
"""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from bench.e2e_node import CASH_PER_T, NODE_TOML, REPO
from bench.e2e_wire import INSTRUMENT, MAX_QUANTITY, TRADERS, limit_orders, request_frames
from carbonx.config import load_config
from carbonx.node import Node
from engine.messages import AllocateAllowances, Command, DepositCash
from gateway.protocol import Logon, encoder
from gateway.submission import Submission


def measure(orders: int, batch: int, turn: int, seed: int) -> dict[str, float]:
    """Each of four traders sends ``orders`` orders in requests of ``batch``; ``turn`` requests a turn.
    Returns the node's time per order and per request, and the journal seq the run ended at."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        with tempfile.TemporaryDirectory(prefix="carbonx-node-turns-") as work:
            return _run(Path(work), orders, batch, turn, seed)
    finally:
        structlog.reset_defaults()


def _run(work: Path, orders: int, batch: int, turn: int, seed: int) -> dict[str, float]:
    config = work / "config"
    shutil.copytree(REPO / "config", config)
    (config / "node.toml").write_text(NODE_TOML.format(fsync="false", ports=[0, 0, 0, 0], max_batch=1_000))
    node = Node(load_config(config), work / "var", demo=True)
    try:
        own: list[Command] = list(node.state.demo_commands(node.clock()))
        for i, (_, account) in enumerate(TRADERS):
            if i % 2:
                own.append(AllocateAllowances(account=account, instrument=INSTRUMENT, quantity=orders * MAX_QUANTITY))
            else:
                own.append(DepositCash(account=account, amount=orders * MAX_QUANTITY * CASH_PER_T))
        node._sequence([Submission(routing_id=b"", member="", request_id=0, commands=own)])
        gateway, now = node.gateway, node.monotonic()
        clients = []
        for i, (member, account) in enumerate(TRADERS[:4]):
            routing_id = f"trader-{i}".encode()
            logon = encoder.encode(Logon(request_id=0, member=member, batch_reports=True))
            gateway.receive(routing_id, [logon], member, now, i + 1, i + 100)
            frames = [f for f, _ in request_frames(limit_orders(account, orders, seed * 1_000 + i, f"t{i}"), batch)]
            clients.append((routing_id, member, i + 1, i + 100, frames))
        gateway.take_outbox()
        first_seq = node.state.journal.last_seq
        each = max(1, turn // len(clients))  # requests from each client in a turn
        requests = len(clients[0][4])
        gc.collect()
        started = time.perf_counter_ns()
        for start in range(0, requests, each):
            for routing_id, member, connection, fd, frames in clients:
                for frame in frames[start : start + each]:
                    gateway.receive(routing_id, [frame], member, now, connection, fd)
            node._sequence(gateway.take_work())
            gc.freeze()
            gateway.take_outbox()
            node.publisher.drain(now, lambda topic: True)
        elapsed = time.perf_counter_ns() - started
        gc.unfreeze()
        sequenced = node.state.journal.last_seq - first_seq
    finally:
        node.state.close()
    total = orders * len(clients)
    if sequenced != total:
        raise SystemExit(f"the node sequenced {sequenced:,} commands of the {total:,} orders sent")
    return {"ns_per_order": elapsed / total, "ns_per_request": elapsed / (requests * len(clients))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.node_turns", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20_000, help="orders per trader (default 20000)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 50], help="orders per request (default 1 50)")
    parser.add_argument("--turn", type=int, default=32, help="requests a turn, from the four traders (default 32)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is printed (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"node turns: 4 traders x {args.orders:,} orders, {args.turn} requests a turn, fsync off, no sockets")
    for batch in args.batch:
        runs = [measure(args.orders, batch, args.turn, args.seed) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["ns_per_order"])
        label = "single orders" if batch == 1 else f"batches of {batch}"
        spread = ", ".join(f"{r['ns_per_order'] / 1_000:.1f}" for r in runs)
        print(
            f"  {label:<16} {best['ns_per_order'] / 1_000:6.1f} µs an order (best of {args.repeat}: {spread})"
            f"  {best['ns_per_request'] / 1_000:8.1f} µs a request"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
