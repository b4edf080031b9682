"""``python -m bench.e2e``: the end-to-end benchmark of a running exchange node, over tcp loopback.

It starts ``carbonx serve --demo`` as a real subprocess on a copy of ``config/`` (free ports, a
throttle no client reaches, scheduler "manual", fsync as chosen) and measures, in one run:

1. baseline: a pyzmq DEALER-ROUTER echo between two processes, with and without CURVE, carrying
   frames the size of a ``Submit(NewOrder)``: what transport and Python cost before any exchange;
2. throughput: N client processes, each logged on as its own demo member (buyers and sellers whose
   prices overlap, so some orders trade), each keeping W requests in flight: (a) one ``Submit`` per
   order, (b) ``SubmitBatch`` of B orders. Only orders whose ``Ack`` arrived are counted. The clients
   log on with ``batch_reports`` (``--no-batch-reports``: one frame per report and per ``Ack``);
3. latency at fixed rates, open loop: each order is a 1 t buy that trades at once against sells
   placed first; order -> ``Ack``, and order -> its ``Trade`` on market data (the first market-data
   message it causes: the publisher queues a trade before the quote it changes), matched through
   the ``Fill``'s ``trade_id``;
4. durability (fsync on): a bare loop that writes and fsyncs each turn's arrivals on the node's
   disk, at the same rates (``bench.e2e_disk``), whose p99 the Ack's is compared with;
5. the floor of that comparison: a CURVE echo that writes and fsyncs what arrived before it
   answers, timed as the latency phase is: transport and durability, nothing else.

The run fails (exit status 1) when anything was refused or rejected, an answer is missing, or the
node's last journal seq is not the one the requests sent imply. Figures: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing
import queue
import select
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec
import zmq

from bench.e2e_disk import run_durable_echo, run_fsync_loop
from bench.e2e_node import (
    BUYER_LIMIT_T,
    NodeUnderTest,
    check_paths,
    filesystem,
    last_lines,
    load_average,
    machine,
    tonnes_needed,
    top_up,
)
from bench.e2e_wire import (
    FIRST_RID,
    INSTRUMENT,
    MAKER_ORDER,
    MAKER_PRICE,
    SCALE_ACCOUNTS,
    SCALE_INSTRUMENTS,
    TAKER_PRICE,
    TRADERS,
    BenchError,
    Context,
    Figures,
    Stamped,
    WireSession,
    drain,
    light_decoder,
    limit_orders,
    percentiles,
    problem_of,
    readable,
    request_frames,
    run_baseline,
)
from carbonx.errors import CarbonxError
from engine.journal import JournalRecord
from engine.messages import OrderRejected
from gateway.protocol import Ack, ExecutionReport, Fill, SubmitBatch, server_decoder
from market_data.messages import Trade, decode_channel_message


# ------------------------------------------------------------------------------------ 2. throughput
@dataclass
class ClientRun:
    """One client process of the throughput phase: what it is to send, then what it saw."""

    index: int
    endpoint: str
    keys: str
    orders: int
    batch: int
    window: int
    seed: int
    timeout_s: float
    batch_reports: bool = True
    scale: bool = False  # orders spread over the trader's ten accounts and 40 instruments
    started_ns: int = 0
    ended_ns: int = 0
    requests: int = 0
    acks: int = 0
    acked_orders: int = 0
    trades: int = 0  # fills in which this client's order took liquidity: each trade has exactly one
    cpu_s: float = 0.0  # the process's CPU time in the pipeline, its libzmq I/O thread included
    problems: list[str] = field(default_factory=list)


def _throughput_client(run: ClientRun, ready: Any, go: Any, results: Any) -> None:
    """One client process: log on, encode every request, wait for the start, keep ``window`` in flight."""
    context: Context = zmq.Context()
    member, account = TRADERS[run.index]
    try:
        session = WireSession(context, run.endpoint, Path(run.keys), member, run.batch_reports)
        tag = f"{'s' if run.batch == 1 else 'b'}{run.index}"
        frames = request_frames(limit_orders(account, run.orders, run.seed, tag, scale=run.scale), run.batch)
        ready.put(None)
        go.wait(run.timeout_s)
        gc.disable()  # a collection in the client would stall the pipeline: the client is not under test
        cpu = time.process_time()
        _pipeline(session.socket, frames, run)
        run.cpu_s = time.process_time() - cpu
        session.close()
    except Exception as exc:  # reported by the parent: a traceback in a child process would be lost
        run.problems.append(f"{member}: {exc}")
        ready.put(str(exc))
    finally:
        results.put(run)
        context.destroy(linger=1_000)


def _pipeline(sock: zmq.Socket[bytes], frames: list[tuple[bytes, int]], run: ClientRun) -> None:
    sent = answered = 0
    run.requests = len(frames)
    run.started_ns = time.perf_counter_ns()
    while answered < len(frames):
        while sent - answered < run.window and sent < len(frames):
            sock.send(frames[sent][0])
            sent += 1
        if not sock.poll(int(run.timeout_s * 1_000)):
            raise BenchError(f"no answer within {run.timeout_s:.0f} s; {answered}/{len(frames)} answered")
        while readable(sock):
            raw = sock.recv()
            for message in light_decoder.decode(raw).messages():
                event = message.event.type if message.event else ""
                if message.type in ("Ack", "Refused"):
                    answered += 1
                if message.type == "Ack":
                    run.acks += 1
                    run.acked_orders += frames[message.request_id - FIRST_RID][1]
                elif message.type == "Refused" or event in ("OrderRejected", "RequestRejected"):
                    run.problems.append(problem_of(raw) or message.type)
                elif event == "Fill" and message.event is not None and message.event.aggressor:
                    run.trades += 1
    run.ended_ns = time.perf_counter_ns()


def run_throughput(endpoint: str, keys: Path, args: argparse.Namespace, batch: int) -> Figures:
    spawn = multiprocessing.get_context("spawn")
    ready, results, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    runs = [
        ClientRun(i, endpoint, str(keys), args.orders, batch, args.window, args.seed * 1_000 + i, args.timeout)
        for i in range(args.clients)
    ]
    for r in runs:
        r.batch_reports, r.scale = args.batch_reports, args.scale
    clients = [spawn.Process(target=_throughput_client, args=(r, ready, go, results), daemon=True) for r in runs]
    for client in clients:
        client.start()
    try:
        for _ in clients:
            if (failed := ready.get(timeout=args.timeout)) is not None:
                raise BenchError(f"a client could not start: {failed}")
        go.set()
        outs: list[ClientRun] = [results.get(timeout=args.timeout * 2) for _ in clients]
    except queue.Empty:
        raise BenchError(f"a client process gave no sign within {args.timeout:.0f} s") from None
    finally:
        for client in clients:
            client.join(10)
            if client.is_alive():
                client.terminate()
    seconds = max(1e-9, (max(o.ended_ns for o in outs) - min(o.started_ns for o in outs)) / 1e9)
    acks, acked = sum(o.acks for o in outs), sum(o.acked_orders for o in outs)
    return {
        "batch": batch,
        "batch_reports": args.batch_reports,
        "clients": len(outs),
        "window": args.window,
        "requests": sum(o.requests for o in outs),
        "orders": args.orders * len(outs),
        "acks": acks,
        "acked_orders": acked,
        "seconds": round(seconds, 3),
        "orders_per_s": round(acked / seconds),
        "acks_per_s": round(acks / seconds),
        "trades": sum(o.trades for o in outs),
        "clients_cpu_s": round(sum(o.cpu_s for o in outs), 3),
        "problems": [p for o in outs for p in o.problems],
    }


# ------------------------------------------------------------------------------------ 3. latency
def run_latency(endpoints: dict[str, str], keys: Path, rate: int, seconds: float, run: int, timeout: float) -> Figures:
    """Resting sells first, then 1 t buys that trade at once, sent ``rate`` per second for ``seconds``."""
    count = max(1, round(rate * seconds))
    context: Context = zmq.Context()
    try:
        (taker_id, taker_account), (maker_id, maker_account) = TRADERS[:2]
        taker = WireSession(context, endpoints["order entry"], keys, taker_id)
        maker = WireSession(context, endpoints["order entry"], keys, maker_id)
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        for prefix in (f"trade.{INSTRUMENT}", f"quote.{INSTRUMENT}", "heartbeat"):
            sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        sub.connect(endpoints["market data"])
        if not sub.poll(int(timeout * 1_000)):  # a heartbeat: the subscription is in place
            raise BenchError(f"{endpoints['market data']}: no market data within {timeout:.0f} s")
        resting = math.ceil(count / MAKER_ORDER)
        sells = limit_orders(maker_account, resting, 0, f"m{run}", MAKER_ORDER, MAKER_PRICE)
        answer, reports = maker.request(SubmitBatch(request_id=FIRST_RID, commands=sells), timeout)
        if not isinstance(answer, Ack) or any(isinstance(r.event, OrderRejected) for r in reports):
            raise BenchError(f"the resting sells were not accepted: {answer!r}")
        buys = limit_orders(taker_account, count, 0, f"t{run}", 1, TAKER_PRICE)
        frames = [frame for frame, _ in request_frames(buys, 1)]
        gc.disable()  # the bench's own pauses would show up as the node's latency
        try:
            sent_at, lag, received, market = _open_loop((taker.socket, sub, maker.socket), frames, rate, timeout)
        finally:
            gc.enable()
        taker.close()
        maker.close()
        figures = _latency_figures(sent_at, received, market)
        return {"rate": rate, "orders": count, "resting_sells": resting, "send_lag_us": percentiles(lag), **figures}
    finally:
        context.destroy(linger=1_000)


def _open_loop(
    sockets: tuple[zmq.Socket[bytes], ...], frames: list[bytes], rate: int, timeout: float
) -> tuple[list[int], list[int], Stamped, Stamped]:
    """Send on a fixed schedule whatever the answers do (open loop); timestamp every message received."""
    taker, sub, maker = sockets
    interval, total = 1_000_000_000 // rate, len(frames)
    sent_at, lag = [0] * total, [0] * total
    received: Stamped = []
    market: Stamped = []
    fills: Stamped = []  # the maker's, read only so they do not pile up
    fds = [cast(int, s.get(zmq.FD)) for s in sockets]
    start = time.perf_counter_ns() + 10_000_000
    deadline = start + int((total / rate + timeout) * 1e9)
    sent = answers = trades = 0
    while answers < total or trades < total:
        now = time.perf_counter_ns()
        while sent < total and now >= start + sent * interval:
            taker.send(frames[sent])
            sent_at[sent] = now = time.perf_counter_ns()
            lag[sent] = now - (start + sent * interval)
            sent += 1
        seen = len(received), len(market)
        drain(taker, received)
        drain(sub, market)
        drain(maker, fills)
        answers += sum(1 for _, (raw,) in received[seen[0] :] if light_decoder.decode(raw).type in ("Ack", "Refused"))
        trades += sum(1 for _, parts in market[seen[1] :] if parts[0].startswith(b"trade."))
        now = time.perf_counter_ns()
        if now > deadline:
            raise BenchError(f"latency at {rate}/s: {answers} answers, {trades} trades of {total} by the deadline")
        wait_ns = start + sent * interval - now if sent < total else 50_000_000
        select.select(fds, [], [], max(0, wait_ns) / 1e9)
    return sent_at, lag, received, market


def _latency_figures(sent_at: list[int], received: Stamped, market: Stamped) -> Figures:
    """Match each order to its Ack (by request id) and to its Trade on market data (by the Fill's trade id)."""
    ack_at: dict[int, int] = {}
    trades_of: dict[int, list[int]] = {}
    problems: list[str] = []
    for at, (raw,) in received:
        message = server_decoder.decode(raw)
        if isinstance(message, Ack):
            ack_at[message.request_id - FIRST_RID] = at
        elif isinstance(message, ExecutionReport) and isinstance(message.event, Fill) and message.request_id:
            trades_of.setdefault(message.request_id - FIRST_RID, []).append(message.event.trade_id)
        problems += filter(None, [problem_of(raw)])
    printed: dict[int, int] = {}
    for at, (topic, payload) in market:
        trade = decode_channel_message(payload) if topic.startswith(b"trade.") else None
        if isinstance(trade, Trade):
            printed.setdefault(trade.trade_id, at)
    once = [k for k in range(len(sent_at)) if len(trades_of.get(k, ())) == 1]
    seen = [k for k in once if trades_of[k][0] in printed]
    if len(once) != len(sent_at):
        problems.append(f"{len(sent_at) - len(once)} orders did not trade exactly once")
    if len(seen) != len(once):
        problems.append(f"{len(once) - len(seen)} trades never seen on market data")
    return {
        "acks": len(ack_at),
        "trades_seen": len(seen),
        "ack_us": percentiles([ack_at[k] - sent_at[k] for k in ack_at]),
        "trade_us": percentiles([printed[trades_of[k][0]] - sent_at[k] for k in seen]),
        "problems": problems,
    }


# ------------------------------------------------------------------------------------ the run
def run(args: argparse.Namespace) -> Figures:
    size = len(request_frames(limit_orders(TRADERS[0][1], 1, 0, f"s0-{args.orders}"), 1)[0][0])
    results: Figures = {"machine": machine(), "fsync": args.fsync, "scale": args.scale, "parameters": vars(args)}
    results["baseline"] = [run_baseline(curve, size, args) for curve in (True, False)]
    with tempfile.TemporaryDirectory(prefix="carbonx-e2e-", dir=args.work_dir) as work:
        order = limit_orders(TRADERS[0][1], 1, 0, "fsync-baseline")[0]
        record = 8 + len(
            msgspec.msgpack.encode(
                JournalRecord(seq=10**6, ts=time.time_ns(), command=order, origin="M001", request_id=10**6)
            )
        )
        results["durability"] = [
            run_fsync_loop(Path(work), rate, args.latency_seconds, record) if args.fsync else {} for rate in args.rates
        ]
        results["floor"] = [
            run_durable_echo(Path(work), rate, args.latency_seconds, size, record, args.timeout) if args.fsync else {}
            for rate in args.rates
        ]
        node = NodeUnderTest(Path(work), args.fsync, args.batch, args.scale)
        results["machine"]["filesystem"] = filesystem(Path(work))
        try:
            node.start(args.timeout)
            entry, keys = node.endpoints["order entry"], node.config / "demo-keys"
            topped = top_up(entry, keys, tonnes_needed(args), args.timeout, args.scale)
            results["throughput"] = [node.timed(run_throughput, entry, keys, args, b) for b in (1, args.batch)]
            results["latency"] = [
                node.timed(run_latency, node.endpoints, keys, rate, args.latency_seconds, n, args.timeout)
                for n, rate in enumerate(args.rates)
            ]
        except BaseException as exc:
            status, _, stderr = node.stop(args.timeout)  # never leave the node running
            if isinstance(exc, BenchError) and status != 0:  # the node's own failure is the story
                raise BenchError(f"{exc}; the node exited with status {status}: {last_lines(stderr)}") from None
            raise
        status, last_seq, stderr = node.stop(args.timeout)
    results["machine"]["load_after"] = load_average()
    orders = sum(t["orders"] for t in results["throughput"])
    orders += sum(f["orders"] + f["resting_sells"] for f in results["latency"])
    expected = node.first_seq + topped + orders
    results["journal"] = {"at_ready": node.first_seq, "top_up": topped, "orders": orders, "expected": expected}
    results["journal"] |= {"last_seq": last_seq, "exit_status": status}
    problems = [p for phase in ("throughput", "latency") for f in results[phase] for p in f["problems"]]
    for t in results["throughput"]:
        if t["acks"] != t["requests"] or t["acked_orders"] != t["orders"]:
            problems.append(f"batch {t['batch']}: {t['acks']}/{t['requests']} acks, {t['acked_orders']}/{t['orders']}")
    for f in results["latency"]:
        if f["acks"] != f["orders"]:
            problems.append(f"latency at {f['rate']}/s: {f['acks']}/{f['orders']} acks")
    if last_seq != expected:
        problems.append(f"the node's last journal seq is {last_seq}, not the {expected} the requests imply")
    if status != 0:
        problems.append(f"the node exited with status {status}")
    dropped = [line for line in stderr.splitlines() if "send_dropped" in line and "queue full" in line]
    if dropped:
        problems.append(f"the node dropped {len(dropped)} replies: a client's queue was full")
    results["problems"] = problems
    return results


def _row(label: str, *cells: object) -> str:
    return f"  {label:<24}" + "".join(f"{c:>10,}" if isinstance(c, int) else f"{c!s:>10}" for c in cells)


def render(r: Figures) -> str:
    m, j, base, t = r["machine"], r["journal"], r["baseline"][0], r["throughput"][0]
    lines = [
        f"machine:  nproc {m['nproc']}, {m['cpu']}, {m['system']}, {m['python']}, {m['zmq']}",
        f"load:     {m['load_before']} before, {m['load_after']} after (1, 5, 15 min averages)",
        f"node:     carbonx serve --demo, fsync {'on' if r['fsync'] else 'off'} (data directory on {m['filesystem']})"
        + (
            f"; at scale: {len(SCALE_INSTRUMENTS)} instruments, {SCALE_ACCOUNTS}x the accounts"
            if r.get("scale")
            else ""
        ),
        f"\n1. baseline: pyzmq DEALER-ROUTER echo, tcp loopback, two processes, {base['bytes']}-byte frames",
        _row("round trips", "per s", "p50 µs", "p90", "p99", "p99.9", "max"),
    ]
    for b in r["baseline"]:
        name = "CURVE" if b["curve"] else "plain"
        lines.append(_row(f"{name} back to back", b["round_trips_per_s"], *b["round_trip_us"].values()))
        lines.append(_row(f"{name} {b['window']} in flight", b["pipelined_per_s"]))
        lines += [_row(f"{name} paced {int(rate):,}/s", "", *us.values()) for rate, us in b["paced_us"].items()]
    reports = "reports and acks batched per turn (Reports frames)" if t.get("batch_reports") else "one frame per report"
    lines += [f"\n2. throughput: {t['clients']} client processes, {t['window']} requests in flight each; {reports}"]
    header = ("requests", "orders", "seconds", "orders/s", "acks/s", "trades", "node CPU", "µs/order", "client µs")
    lines.append(_row("", *header))
    for t in r["throughput"]:
        cells = (t["acks"], t["acked_orders"], f"{t['seconds']:.2f}", t["orders_per_s"], t["acks_per_s"], t["trades"])
        orders = max(1, t["acked_orders"])
        node_us, clients_us = round(t["node_cpu_s"] * 1e6 / orders), round(t.get("clients_cpu_s", 0) * 1e6 / orders)
        cpu = (f"{t['node_cpu_s'] / t['seconds']:.0%}", node_us, clients_us)
        lines.append(_row("single orders" if t["batch"] == 1 else f"batches of {t['batch']}", *cells, *cpu))
    lines += [
        "\n3. latency: open loop, from sending each order",
        _row("", "orders", "p50 µs", "p90", "p99", "p99.9", "max"),
    ]
    for f in r["latency"]:
        lines.append(_row(f"{f['rate']:,}/s order -> Ack", f["orders"], *f["ack_us"].values()))
        lines.append(_row(f"{f['rate']:,}/s order -> md Trade", f["trades_seen"], *f["trade_us"].values()))
        lines.append(_row(f"{f['rate']:,}/s send lag", "", *f["send_lag_us"].values()))
    if r["fsync"]:
        lines.append("\n4. durability: a bare loop writing and fsyncing each turn's arrivals on the same disk")
        lines.append(_row("", "orders", "p50 µs", "p90", "p99", "p99.9", "max", "writes", "B/order"))
        for d in r["durability"]:
            lines.append(
                _row(f"{d['rate']:,}/s write+fsync", d["orders"], *d["us"].values(), d["writes"], d["record_bytes"])
            )
    if r["fsync"] and r.get("floor"):  # figures saved before the floor was measured have none
        lines.append("\n5. the floor: a CURVE echo that writes and fsyncs each turn's arrivals before it answers")
        lines.append(_row("", "orders", "p50 µs", "p90", "p99", "p99.9", "max"))
        for e in r["floor"]:
            lines.append(_row(f"{e['rate']:,}/s durable echo", e["orders"], *e["us"].values()))
    lines += ["", *against_targets(r)]
    lines.append(
        f"\njournal:  seq {j['at_ready']:,} at ready + {j['top_up']} top-up + {j['orders']:,} orders"
        f" = {j['expected']:,}; the node stopped at seq {j['last_seq']:,}, exit status {j['exit_status']}"
    )
    return "\n".join(lines)


TARGET_ECHO_SHARE = 0.60  # single orders/s against the CURVE echo's round trips/s with the window in flight
TARGET_BATCHED = 300_000  # batched orders/s (a stretch goal)
TARGET_ACK_OVER_FSYNC = 1.5  # order -> Ack p99 against the bare write+fsync loop's, at 2,000/s


def against_targets(r: Figures) -> list[str]:
    """The node's figures as ratios to their baselines, each against its target (issue 19)."""

    def verdict(met: bool) -> str:
        return "met" if met else "short"

    curve = next(b for b in r["baseline"] if b["curve"])
    lines = ["targets:"]
    for t in r["throughput"]:
        if t["batch"] == 1:
            share = t["orders_per_s"] / curve["pipelined_per_s"]
            lines.append(
                f"  single orders {t['orders_per_s']:,}/s = {share:.0%} of the CURVE echo's"
                f" {curve['pipelined_per_s']:,} round trips/s with {curve['window']} in flight"
                f" (target {TARGET_ECHO_SHARE:.0%}: {verdict(share >= TARGET_ECHO_SHARE)})"
            )
        else:
            rate = t["orders_per_s"]
            lines.append(
                f"  batches of {t['batch']}: {rate:,} orders/s = {rate / TARGET_BATCHED:.2f}x the stretch target"
                f" {TARGET_BATCHED:,} ({verdict(rate >= TARGET_BATCHED)})"
            )
    floors = r.get("floor") or [{}] * len(r["latency"])  # figures saved before the floor was measured
    for f, d, e in zip(r["latency"], r["durability"], floors, strict=True):
        if not d:
            lines.append(f"  {f['rate']:,}/s order -> Ack: no durability baseline (fsync off)")
            continue
        ratio = f["ack_us"]["p99"] / max(1, d["us"]["p99"])
        target = f" (target {TARGET_ACK_OVER_FSYNC:g}x: {verdict(ratio <= TARGET_ACK_OVER_FSYNC)})"
        lines.append(
            f"  {f['rate']:,}/s order -> Ack p99 {f['ack_us']['p99']:,} µs = {ratio:.2f}x the write+fsync loop's"
            f" {d['us']['p99']:,} µs{target if f['rate'] == 2_000 else ''}"
        )
        if e:
            floor = e["us"]["p99"] / max(1, d["us"]["p99"])
            echo = f"    the durable CURVE echo's p99 {e['us']['p99']:,} µs = {floor:.2f}x"
            lines.append(f"{echo}: the wire and the fsync alone, no node")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--clients", type=int, default=4, help=f"client processes, 2-{len(TRADERS)} (default 4)")
    add("--window", type=int, default=64, help="requests in flight per client (default 64)")
    add("--batch", type=int, default=50, help="orders per SubmitBatch (default 50)")
    add("--orders", type=int, default=20_000, help="orders per client in each throughput mode (default 20000)")
    add("--rates", type=int, nargs="+", default=[500, 2_000], help="latency rates, orders/s (default 500 2000)")
    add("--latency-seconds", type=float, default=5.0, help="seconds at each latency rate (default 5)")
    add("--round-trips", type=int, default=20_000, help="baseline round trips (default 20000)")
    add("--fsync", action=argparse.BooleanOptionalAction, default=True, help="the node fsyncs its journal (default)")
    add(
        "--batch-reports",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="throughput clients log on with batch_reports: reports and acks in one Reports frame per turn (default)",
    )
    add(
        "--scale",
        action="store_true",
        help=f"{len(SCALE_INSTRUMENTS)} instruments, {SCALE_ACCOUNTS}x the accounts: throughput orders spread on them",
    )
    add("--seed", type=int, default=1, help="seed of the throughput orders (default 1)")
    add("--timeout", type=float, default=60.0, help="seconds to wait for any one answer or step (default 60)")
    add("--work-dir", type=Path, help="make the node's temporary directory here (default: the system's)")
    add("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return measure(argv)[0]


def measure(argv: Sequence[str] | None = None) -> tuple[int, Figures | None]:
    """``main``, with the figures (None when the run did not get to measure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("window", "batch", "orders", "round_trips", "latency_seconds", "timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not 2 <= args.clients <= len(TRADERS) or min(args.rates) <= 0:
        parser.error(f"--clients must be 2-{len(TRADERS)} and every rate positive")
    check_paths(parser, args)
    bought = max(t for a, t in tonnes_needed(args).items() if a in {a for _, a in TRADERS[::2]})
    if bought > BUYER_LIMIT_T:
        parser.error(f"a buyer could buy {bought:,} t, over {BUYER_LIMIT_T:,} t (the position limit): lower --orders")
    try:
        results = run(args)
    except CarbonxError as exc:
        print(f"bench.e2e: {exc}", file=sys.stderr)
        return 1, None
    print(render(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for problem in results["problems"][:20]:
        print(f"FAIL: {problem}")
    if results["problems"]:
        return 1, results
    print("check:    every request acknowledged; nothing refused or rejected; journal seq as expected")
    return 0, results


def headline(results: Figures) -> dict[str, float]:
    """The node's figures that ``python -m bench --scale`` compares: orders/s, and Ack p99 at each rate."""
    figures: dict[str, float] = {}
    for t in results["throughput"]:
        figures["single orders/s" if t["batch"] == 1 else f"batches of {t['batch']} orders/s"] = t["orders_per_s"]
    for f in results["latency"]:
        figures[f"{f['rate']:,}/s Ack p99 µs"] = f["ack_us"]["p99"]
    return figures


if __name__ == "__main__":
    # Through the package module, so that the spawned client processes import the very same functions.
    from bench.e2e import main as package_main

    sys.exit(package_main())
