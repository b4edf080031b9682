"""``python -m bench.flood``: a well-behaved member's order -> Ack latency while another floods the node (issue 12).

It starts ``carbonx serve --demo`` as a subprocess on a copy of ``config/`` with the production
gateway limits (throttle 500/s, burst 1,000; fsync on unless ``--no-fsync``), sets the market up as
the regulator, logs the victim on (demo member M101: 1 t orders at 80.00, alternately a buy that
rests and a sell that trades with it, ``--victim-rate`` a second), and runs one phase per flood
kind, the first without any flooder:

  a  throttle         Submit(NewOrder IOC) frames at --rate, far beyond the member's throttle
  b  long-id          NewOrders with a 60,000-character client order id, at the rate the throttle lets in
  c  resend           ResendRequest of the flooder's whole report stream, 25/s, replies never read
  c  logon-resend     Logon with resend_from=1 (costs no token), 25/s, replies never read
  d  big-frames       20 KB Submit frames at --rate
  e  snapshot         60 KB SnapshotRequests naming trade.SHEA2025 4,000 times, unauthenticated, unread
  f  logon-heartbeat  Logon and Heartbeat frames at --rate
  f  not-logged-on    Submit frames at --rate on a connection that never logs on

The flooder is demo member M002 (or, for the snapshot service, a socket with no key at all), in a
process of its own, on raw pyzmq sockets with frames encoded beforehand; it reports the rate it
reached. Per phase: the victim's Acks and their p50/p99/max, what the flooder sent and got back, the
node's CPU, its RSS (VmRSS) and high-water mark (VmHWM) before and after the flood, its data
directory and log growth, and how long it took to answer the victim within 10 ms again.

The node is SIGKILLed if its RSS passes --rss-cap-mb (the kill is recorded, and a new node runs the
remaining phases); at the end it is stopped with SIGTERM. Figures: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import queue
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import zmq

from bench.e2e_node import check_paths, filesystem, last_lines, load_average, machine
from bench.e2e_wire import BenchError, Context, Figures
from bench.flood_node import FloodNode, RssWatch, prepare
from bench.flood_report import markdown, render
from bench.flood_victim import SELLER, Victim
from bench.flood_wire import KINDS, FloodSpec, flood_process
from carbonx.errors import CarbonxError

QUIET = "quiet"
SETTLED_NS = 10_000_000  # the target: a victim's order answered within 10 ms
WARM_UP_ORDERS = 50
MAX_RSS_CAP_MB = 4_000  # the machine is shared: no node of this bench may grow past 4 GB


class Flooder:
    """One flood kind in ``processes`` processes of their own, each at its share of the rate, waiting for ``go``."""

    def __init__(self, spec: FloodSpec, processes: int, timeout: float) -> None:
        spawn = multiprocessing.get_context("spawn")  # no zmq context may cross a fork
        self.ready, self.results = spawn.Queue(), spawn.Queue()
        self.go, self.stop = spawn.Event(), spawn.Event()
        rates = [spec.rate // processes + (k < spec.rate % processes) for k in range(processes)]
        shares = [dataclasses.replace(spec, rate=rate) for rate in rates if rate > 0]
        self.processes = [
            spawn.Process(target=flood_process, args=(share, self.ready, self.go, self.stop, self.results), daemon=True)
            for share in shares
        ]
        for process in self.processes:
            process.start()
        failed: str | None = None
        for _ in self.processes:
            try:
                failed = failed or self.ready.get(timeout=timeout)
            except queue.Empty:
                failed = f"no sign within {timeout:.0f} s"
                break
        if failed is not None:
            self.finish(timeout)
            raise BenchError(f"the {spec.kind} flooder could not start: {failed}")

    def finish(self, timeout: float) -> Figures:
        """Stop every process; their figures added up (the slowest one's seconds, the largest RSS)."""
        self.stop.set()
        shares: list[Figures] = []
        try:
            shares += [self.results.get(timeout=timeout).figures for _ in self.processes]
        except queue.Empty:
            shares.append({"problem": f"a flooder process sent no figures within {timeout:.0f} s"})
        for process in self.processes:
            process.join(timeout)
            if process.is_alive():
                process.terminate()
        return _added_up(shares)


def _added_up(shares: list[Figures]) -> Figures:
    if len(shares) == 1:
        return shares[0]
    total: Figures = {"processes": len(shares)} | {k: v for s in shares for k, v in s.items()}
    for name in ("sent", "behind", "cpu_s"):
        total[name] = round(sum(s.get(name, 0) for s in shares), 3)
    total["seconds"] = max(s.get("seconds", 0.0) for s in shares)
    total["sent_per_s"] = round(total["sent"] / max(total["seconds"], 1e-9))
    total["flooder_rss_kb"] = max(s.get("flooder_rss_kb", 0) for s in shares)
    received: Counter[str] = Counter()
    for share in shares:
        received.update(share.get("received", {}))
    total["received"] = dict(received.most_common())
    problems = [s["problem"] for s in shares if "problem" in s]
    if problems:
        total["problem"] = "; ".join(problems)
    return total


def flood_spec(kind: str, node: FloodNode, args: argparse.Namespace) -> FloodSpec:
    about = KINDS[kind]
    reads = about.reads if args.flooder_reads == "auto" else args.flooder_reads == "yes"
    return FloodSpec(
        kind=kind,
        endpoint=node.snapshot_endpoint if about.socket == "snapshot" else node.endpoints["order entry"],
        keys=str(node.config / "demo-keys"),
        rate=args.kind_rate.get(kind) or about.rate or args.rate,
        seconds=args.seconds + args.grace + 5,  # a bound: the bench stops it when the victim's orders are sent
        connections=args.connections,
        reads=reads,
        frame_bytes=args.frame_bytes,
        long_id_chars=args.long_id_chars,
        snapshot_topics=args.snapshot_topics,
        timeout=args.timeout,
    )


def run_phase(kind: str, node: FloodNode, victim: Victim, watch: RssWatch, args: argparse.Namespace) -> Figures:
    """The victim's orders for ``args.seconds``, with the flooder of ``kind`` going (none for ``quiet``)."""
    spec = flood_spec(kind, node, args) if kind != QUIET else None
    flooder = Flooder(spec, args.processes, args.timeout) if spec is not None else None
    before = node.sample()
    watch.reset_peak()
    after: Figures = {}

    def at_end() -> None:  # the victim's last order is sent: the flood stops, its effect is read
        if flooder is not None:
            flooder.stop.set()
        after.update(node.sample())

    if flooder is not None:
        flooder.go.set()
    figures: Figures = {"kind": kind}
    if spec is not None:
        about = KINDS[kind]
        figures |= {"letter": about.letter, "what": about.what, "rate": spec.rate, "reads": spec.reads}
    figures["victim"] = victim.run(args.victim_rate, args.seconds, args.grace, at_end)
    figures["flood"] = flooder.finish(args.timeout) if flooder is not None else {}
    alive_after = bool(after.get("rss_kb"))  # not killed during the flood
    figures["node_cpu_pct"] = round(100 * (after["cpu_s"] - before["cpu_s"]) / args.seconds) if alive_after else None
    figures["settle_s"] = settle(victim, node, args.settle_seconds)
    figures["node"] = {"before": before, "after": after, "settled": node.sample()}
    # The backlog a flood leaves may grow the node after the flood has stopped: the peak counts until settled.
    figures["peak_rss_kb"], figures["killed_at_kb"] = watch.peak_kb, watch.killed_at_kb
    return figures


def settle(victim: Victim, node: FloodNode, limit_s: float) -> float | None:
    """Seconds until three orders in a row are answered within 10 ms (None: not within ``limit_s``)."""
    start, good = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < limit_s and node.alive():
        took = victim.probe(min(1.0, limit_s - elapsed))
        good = good + 1 if took is not None and took < SETTLED_NS else 0
        if good == 3:
            return round(time.monotonic() - start, 2)
    return None


def run_node(work: Path, pending: list[str], phases: list[Figures], args: argparse.Namespace) -> Figures:
    """One node: start, set up, run phases from ``pending`` until none is left or the node is killed."""
    work.mkdir()
    node = FloodNode(work, args.fsync)
    context: Context = zmq.Context()
    watch: RssWatch | None = None
    victim: Victim | None = None
    figures: Figures = {"phases": []}
    try:
        node.start(args.timeout)
        entry, keys = node.endpoints["order entry"], node.config / "demo-keys"
        figures["ready"] = node.sample()
        sells = math.ceil(args.victim_rate * (args.seconds + 1) * (len(pending) + 1)) + 10_000
        reports = args.flooder_reports if {"resend", "logon-resend"} & set(pending) else 0
        figures["setup_commands"] = prepare(entry, keys, SELLER, sells, reports, args.timeout)
        figures["after_setup"] = node.sample()
        victim = Victim(context, entry, keys)
        for _ in range(WARM_UP_ORDERS):  # the node's first orders pay for first-time paths, not for any flood
            victim.probe(args.timeout)
        watch = RssWatch(node.pid, args.rss_cap_mb * 1_024)
        watch.start()
        while pending and node.alive():
            kind = pending.pop(0)
            phases.append(run_phase(kind, node, victim, watch, args))
            figures["phases"].append(kind)
    finally:
        if watch is not None:
            watch.stop()
            figures["killed_at_kb"] = watch.killed_at_kb
        alive = node.alive()
        if victim is not None:
            try:
                victim.close(alive)
            except BenchError as exc:  # a node still busy with a flood's backlog: stop it all the same
                figures["victim_logout"] = str(exc)
        status, last_seq, stderr = node.stop(args.timeout)
        context.destroy(linger=0)
        figures |= {"alive_at_end": alive, "exit_status": status, "last_seq": last_seq}
        if status != 0:
            figures["log_tail"] = last_lines(stderr)
    return figures


def run(args: argparse.Namespace) -> Figures:
    results: Figures = {"machine": machine(), "fsync": args.fsync, "parameters": vars(args), "phases": []}
    results["nodes"], results["notes"], results["problems"] = [], [], []
    pending = [QUIET, *args.kinds]
    with tempfile.TemporaryDirectory(prefix="carbonx-flood-", dir=args.work_dir) as work:
        results["machine"]["filesystem"] = filesystem(Path(work))
        while pending:
            node = run_node(Path(work) / f"node{len(results['nodes'])}", pending, results["phases"], args)
            results["nodes"].append(node)
            if not node["phases"]:
                raise BenchError(f"a node ran no phase: exit status {node['exit_status']}, {node.get('log_tail', '')}")
            last = node["phases"][-1]
            if node.get("killed_at_kb"):
                results["notes"].append(f"{last}: node SIGKILLed at RSS {node['killed_at_kb'] // 1_024:,} MB (cap)")
            elif not node["alive_at_end"]:
                results["notes"].append(f"{last}: the node exited by itself ({node.get('log_tail', '')})")
            elif node["exit_status"] != 0:
                results["notes"].append(f"the node did not stop cleanly: status {node['exit_status']}")
    results["machine"]["load_after"] = load_average()
    for phase in results["phases"]:
        if "problem" in phase["flood"]:
            results["problems"].append(phase["flood"]["problem"])
    quiet = results["phases"][0]["victim"]
    if quiet["no_ack"] or quiet["refused"]:
        results["problems"].append(f"without a flooder the victim had {quiet['no_ack']} orders unanswered")
    return results


def _kinds(names: Sequence[str]) -> list[str]:
    kinds: list[str] = []
    for name in names:
        chosen = [k for k in KINDS if k == name or KINDS[k].letter == name] if name != "all" else list(KINDS)
        if not chosen:
            raise argparse.ArgumentTypeError(f"unknown flood kind {name!r}: one of {', '.join(KINDS)}, a-f, all")
        kinds += [k for k in chosen if k not in kinds]
    return kinds


def _kind_rate(text: str) -> tuple[str, int]:
    kind, _, rate = text.partition("=")
    if kind not in KINDS or not rate.isdigit() or int(rate) <= 0:
        raise argparse.ArgumentTypeError(f"expected KIND=FRAMES_PER_S with KIND one of {', '.join(KINDS)}")
    return kind, int(rate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.flood", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--seconds", type=float, default=5.0, help="seconds per phase: the victim's orders, and the flood (default 5)")
    add("--kinds", nargs="+", default=["all"], help="flood kinds to run, by name or letter (default all)")
    add("--rate", type=int, default=40_000, help="frames/s of the high-rate kinds: a, d, f (default 40000)")
    add(
        "--kind-rate",
        type=_kind_rate,
        action="append",
        default=[],
        metavar="KIND=N",
        help="frames/s of one kind (defaults: long-id 500, resend 25, logon-resend 25, snapshot 25)",
    )
    add("--victim-rate", type=int, default=200, help="the victim's orders/s (default 200; its throttle is 500)")
    add("--grace", type=float, default=2.0, help="seconds the victim waits for its last Acks (default 2)")
    add("--settle-seconds", type=float, default=20.0, help="longest wait for the node to recover (default 20)")
    add("--processes", type=int, default=1, help="flooding processes, each at its share of the rate (default 1)")
    add("--connections", type=int, default=1, help="sockets per flooding process, one member's (default 1)")
    add(
        "--flooder-reads",
        choices=("auto", "yes", "no"),
        default="auto",
        help="whether the flooder reads its replies (auto: all but resend, logon-resend and snapshot)",
    )
    add("--frame-bytes", type=int, default=20_000, help="size of a big-frames frame (default 20000)")
    add("--long-id-chars", type=int, default=60_000, help="client order id length of long-id (default 60000)")
    add("--snapshot-topics", type=int, default=4_000, help="times a snapshot request names its topic (default 4000)")
    add(
        "--flooder-reports",
        type=int,
        default=20_000,
        help="execution reports the flooder has before the resend kinds: regulator deposits (default 20000)",
    )
    cap = f"SIGKILL the node past this RSS (default 3000, at most {MAX_RSS_CAP_MB})"
    add("--rss-cap-mb", type=int, default=3_000, help=cap)
    add("--fsync", action=argparse.BooleanOptionalAction, default=True, help="the node fsyncs its journal (default)")
    add("--timeout", type=float, default=30.0, help="seconds to wait for any one step (default 30)")
    add("--work-dir", type=Path, help="make the node's temporary directory here (default: the system's)")
    add("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    add("--markdown", action="store_true", help="also print the table as Markdown (for bench/RESULTS.md)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_paths(parser, args)
    try:
        args.kinds = _kinds(args.kinds)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    args.kind_rate = dict(args.kind_rate)
    positive = ("seconds", "rate", "victim_rate", "timeout", "processes", "connections", "frame_bytes", "long_id_chars")
    for name in positive:
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not 0 < args.rss_cap_mb <= MAX_RSS_CAP_MB:
        parser.error(f"--rss-cap-mb must be 1-{MAX_RSS_CAP_MB}, got {args.rss_cap_mb}")
    if args.victim_rate > 400:
        parser.error("--victim-rate must stay within the victim's throttle (500/s with its probes): at most 400")
    try:
        results = run(args)
    except CarbonxError as exc:
        print(f"bench.flood: {exc}", file=sys.stderr)
        return 1
    print(render(results))
    if args.markdown:
        print("\n" + markdown(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for problem in results["problems"]:
        print(f"FAIL: {problem}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    # Through the package module, so that the spawned flooder processes import the very same functions.
    from bench.flood import main as package_main

    sys.exit(package_main())
