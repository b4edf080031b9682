"""``python -m bench.web``: the public website (issue 18): how soon a trade reaches a browser, and what
the website costs with many live streams.

It starts ``carbonx serve --demo`` as a subprocess (bench.e2e's node: a copy of ``config/`` on free
ports, no throttle a client reaches, fsync on unless ``--no-fsync``) and ``carbonx web`` beside it
(any free port), and measures:

a. latency: headless Chromium (Debian's, ``/usr/bin/chromium``) on the overview; a MutationObserver
   notes ``performance.timeOrigin + performance.now()`` each time SHEA2025's ``.last`` cell changes
   (the DOM, before paint). ``--trades`` trades of 1 t, paced ``--rate`` a second, each a buy that
   crosses a resting sell at its own price (80.01, 80.02, ...), so every trade shows a new last
   price; the intervals are drawn between 0.5 and 1.5 times 1/rate (a fixed one would lock the trades
   to one phase of the browser's animation frames). Each is timed from the trade's exchange timestamp
   (``Trade.ts`` on market data: the node's clock, when it applied the order) and from the moment the
   bench sent the order, to the DOM change, on the machine's wall clock (the browser's clock offset is
   measured and taken off).
b. streams: ``--clients`` Server-Sent-Event readers of ``/api/stream`` (plain asyncio, one process of
   their own) while ``--stream-rate`` trades a second flow for ``--seconds``: the website's CPU
   (utime + stime from /proc over the trading interval), its RSS, the events each client got, and
   whether every client received every change batch (a reader that fell behind is sent the whole
   state again: counted as a reset).

The run fails (exit status 1) when a trade never reaches the page, a client misses a batch without a
reset, or a process fails. Figures: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import queue
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.e2e_node import NodeUnderTest, check_paths, filesystem, last_lines, load_average, machine, top_up
from bench.e2e_wire import BenchError, Figures
from bench.web_process import CHROMIUM, CHROMIUM_ARGS, WebProcess
from carbonx.config import load_config
from carbonx.errors import CarbonxError
from engine.messages import Side
from gateway.client import MemberClient
from gateway.client_commands import new_order_command
from gateway.protocol import Fill
from market_data.messages import Trade
from market_data.subscriber import Subscriber

INSTRUMENT = "SHEA2025"  # reference price 80.00
SELLER, BUYER = ("M002", "A002"), ("M001", "A001")
FIRST_PRICE = 8001  # the latency phase's k-th trade prints at FIRST_PRICE + k
STREAM_PRICE = 8000
OBSERVE = """(code) => {
  const cell = () => document.querySelector(`#overview tr[data-instrument="${code}"] .last`);
  let shown = cell() ? cell().textContent : null;
  window.benchSeen = [];
  new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    const text = cell() ? cell().textContent : null;
    if (text !== shown) { shown = text; window.benchSeen.push([now, text]); }
  }).observe(document.getElementById("app"), { subtree: true, childList: true, characterData: true });
}"""
# Before the page's script runs: note when each "changes" message holding a trade of the instrument
# reaches the page (the EventSource dispatches it), to split the delay into the way there and the page.
ARRIVALS = """(() => {
  const Native = window.EventSource;
  const trade = /"kind":"trade","instrument":"([^"]+)","trade":\\{[^}]*"price":(\\d+)/g;
  window.benchArrived = [];
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("changes", (event) => {
        const now = performance.timeOrigin + performance.now();
        for (const m of event.data.matchAll(trade)) window.benchArrived.push([now, m[1], Number(m[2])]);
      });
    }
  };
})();"""
_CHANGES = re.compile(rb'^event: changes\ndata: \{"v":(\d+)')
_STATE = re.compile(rb'^event: state\ndata: \{"version":(\d+)')


def price_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the RSS high-water mark) of a process, in kB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines) if k in ("VmRSS", "VmHWM")}


def ms_percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """Nearest-rank p50, p90, p99 and the maximum (all 0 for no values)."""
    ordered = sorted(values_ms) or [0.0]
    rank = {
        name: ordered[max(0, -(-q * len(ordered) // 100) - 1)] for name, q in (("p50", 50), ("p90", 90), ("p99", 99))
    }
    return {k: round(v, 1) for k, v in (rank | {"max": ordered[-1]}).items()}


def member(node: NodeUnderTest, who: tuple[str, str], timeout: float) -> MemberClient:
    endpoint, keys = node.endpoints["order entry"], node.config / "demo-keys"
    return MemberClient.from_keys(endpoint, who[0], keys, timeout_ms=int(timeout * 1_000))


# ------------------------------------------------------------------------------------ a. latency
def clock_offset_ms(page: Any) -> tuple[float, float]:
    """The browser's wall clock minus the machine's, and its uncertainty (half the best round trip), ms."""
    best: tuple[float, float] = (0.0, float("inf"))
    for _ in range(7):
        before = time.time_ns()
        browser = page.evaluate("performance.timeOrigin + performance.now()")
        after = time.time_ns()
        if (after - before) / 2e6 < best[1]:
            best = (browser - (before + after) / 2e6, (after - before) / 2e6)
    return round(best[0], 3), round(best[1], 3)


def run_latency(node: NodeUnderTest, site: WebProcess, md: tuple[str, str], args: argparse.Namespace) -> Figures:
    from playwright.sync_api import sync_playwright  # only this phase needs it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.add_init_script(ARRIVALS)
            page.goto(site.url)
            page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=args.timeout * 1_000)
            page.evaluate(OBSERVE, INSTRUMENT)
            offset_before = clock_offset_ms(page)
            sent, trades, acks = _trade_paced(node, md, args)
            last = price_text(FIRST_PRICE + args.trades - 1)
            selector = f'#overview tr[data-instrument="{INSTRUMENT}"] .last'
            page.wait_for_function(
                f"document.querySelector('{selector}').textContent === '{last}'", timeout=args.timeout * 1_000
            )
            offset_after = clock_offset_ms(page)
            seen: list[list[Any]] = page.evaluate("window.benchSeen")
            arrived: list[list[Any]] = page.evaluate("window.benchArrived")
            version = browser.version
        finally:
            browser.close()
    offset = (offset_before[0] + offset_after[0]) / 2
    shown: dict[str, float] = {}
    for at, text in seen:
        shown.setdefault(text, at - offset)
    reached = {price: at - offset for at, code, price in reversed(arrived) if code == INSTRUMENT}
    from_trade, from_sent, to_page, in_page, missing = [], [], [], [], 0
    for k in range(args.trades):
        at, came = shown.get(price_text(FIRST_PRICE + k)), reached.get(FIRST_PRICE + k)
        if came is not None:
            to_page.append(came - trades[k] / 1e6)
        if at is None:
            missing += 1  # two trades drawn in one frame: the first never showed on its own
            continue
        from_trade.append(at - trades[k] / 1e6)
        from_sent.append(at - sent[k] / 1e6)
        if came is not None:
            in_page.append(at - came)
    return {
        "browser": f"Chromium {version} (headless, {CHROMIUM})",
        "trades": args.trades,
        "rate": args.rate,
        "clock_offset_ms": [offset_before, offset_after],
        "shown": args.trades - missing,
        "missing": missing,
        "trade_to_dom_ms": ms_percentiles(from_trade),
        "sent_to_dom_ms": ms_percentiles(from_sent),
        "trade_to_page_ms": ms_percentiles(to_page),
        "page_to_dom_ms": ms_percentiles(in_page),
        "reached_page": len(to_page),
        "shown_after_reaching": len(in_page),
        "sent_to_ack_ms": ms_percentiles(acks),
        "page_errors": errors,
    }


def _trade_paced(
    node: NodeUnderTest, md: tuple[str, str], args: argparse.Namespace
) -> tuple[list[int], list[int], list[float]]:
    """Resting 1 t sells at 80.01, 80.02, ...; then, ``args.rate`` a second, a 1 t buy at each in turn.
    Per trade: when its order was sent and its exchange timestamp (ns, wall clock); per order: ms to its Ack."""
    prices = [FIRST_PRICE + k for k in range(args.trades)]
    with member(node, SELLER, args.timeout) as seller, member(node, BUYER, args.timeout) as buyer:
        sells = [new_order_command(SELLER[1], INSTRUMENT, Side.SELL, 1, p, client_order_id=f"w{p}") for p in prices]
        for i in range(0, len(sells), 500):
            placed = seller.submit_batch(sells[i : i + 500])
            if placed.refused is not None:
                raise BenchError(f"the resting sells were refused: {placed.refused.text}")
        with Subscriber(*md, instruments=[INSTRUMENT]) as subscriber:
            if not subscriber.wait_synced(int(args.timeout * 1_000)):
                raise BenchError("the bench's market-data subscriber did not sync")
            printed: dict[int, int] = {}
            sent, trade_ids, acks = [0] * args.trades, [0] * args.trades, []
            # Intervals drawn at random around 1/rate: a fixed one (50 ms at 20/s, three frames of 60 Hz)
            # would lock the trades to one phase of the page's animation frames, and hide their spread.
            draw = random.Random(args.seed)
            at = list(itertools.accumulate(draw.uniform(0.5, 1.5) / args.rate for _ in prices))
            start = time.monotonic() + 0.2
            for k, price in enumerate(prices):
                while (wait := start + at[k] - time.monotonic()) > 0:
                    _note_trades(subscriber.poll(max(1, int(wait * 1_000))), printed)
                sent[k] = time.time_ns()
                bought = buyer.new_order(BUYER[1], INSTRUMENT, Side.BUY, 1, price, client_order_id=f"wb{price}")
                acks.append((time.time_ns() - sent[k]) / 1e6)
                fills = [e for e in bought.events if isinstance(e, Fill)]
                if len(fills) != 1 or fills[0].price != price:
                    raise BenchError(f"the buy at {price_text(price)} did not trade once at its price: {bought!r}")
                trade_ids[k] = fills[0].trade_id
            deadline = time.monotonic() + args.timeout
            while not set(trade_ids) <= printed.keys():
                if time.monotonic() > deadline:
                    raise BenchError("the bench's subscriber never saw some trades")
                _note_trades(subscriber.poll(100), printed)
    return sent, [printed[t] for t in trade_ids], acks


def _note_trades(messages: list[Any], printed: dict[int, int]) -> None:
    for message in messages:
        if isinstance(message, Trade):
            printed[message.trade_id] = message.ts


# ------------------------------------------------------------------------------------ b. streams
class Reader:
    """One streaming client's counts: its first state's version, later whole states, batch versions."""

    def __init__(self) -> None:
        self.joined = -1
        self.states = 0
        self.versions: list[int] = []
        self.events = 0
        self.pings = 0
        self.error = ""


async def _read_stream(host: str, port: int, reader_of: Reader, stop: asyncio.Event) -> None:
    # HTTP/1.0: the server streams the body as it is (no chunked encoding) and closes at the end.
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET /api/stream HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise BenchError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        rest = b""
        while not stop.is_set():
            chunk = await reader.read(1 << 16)
            if not chunk:
                raise BenchError("the stream ended")
            *events, rest = (rest + chunk).split(b"\n\n")
            for event in events:
                if found := _CHANGES.match(event):
                    reader_of.versions.append(int(found[1]))
                    reader_of.events += 1
                elif found := _STATE.match(event):
                    if reader_of.joined < 0:
                        reader_of.joined = int(found[1])
                    else:
                        reader_of.states += 1
                        reader_of.versions.append(-int(found[1]))  # a whole state: a reset
                elif event.startswith(b":"):
                    reader_of.pings += 1
    finally:
        writer.close()


async def _readers(url: str, count: int, ready: Any, control: Any) -> dict[str, Any]:
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    readers = [Reader() for _ in range(count)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_read_stream(host, int(port), r, stop)) for r in readers]
    cpu = time.process_time()
    loop = asyncio.get_running_loop()
    while any(r.joined < 0 for r in readers) and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    ready.put(sum(r.joined >= 0 for r in readers))
    # The parent sends the website's last version once the trading stopped; read until every client has it.
    final = await loop.run_in_executor(None, control.get)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        abs(r.versions[-1]) >= final if r.versions else False for r in readers
    ):
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    stop.set()
    for task, r in zip(tasks, readers, strict=True):
        if task.done() and task.exception() is not None:
            r.error = f"{type(task.exception()).__name__}: {task.exception()}"
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "cpu_s": time.process_time() - cpu,
        "readers": [{"joined": r.joined, "states": r.states, "versions": r.versions, "events": r.events,
                     "pings": r.pings, "error": r.error} for r in readers],
    }  # fmt: skip


def readers_process(url: str, count: int, ready: Any, control: Any, results: Any) -> None:
    """The streaming clients, in a process of their own (the bench's trading must not wait for them)."""
    try:
        results.put(asyncio.run(_readers(url, count, ready, control)))
    except Exception as exc:  # reported by the parent: a traceback in a child process would be lost
        ready.put(-1)
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def web_version(url: str) -> int:
    with urllib.request.urlopen(url + "api/state", timeout=10) as answer:
        return int(json.loads(answer.read())["version"])


def run_streams(node: NodeUnderTest, site: WebProcess, args: argparse.Namespace) -> Figures:
    spawn = multiprocessing.get_context("spawn")
    ready, control, results = spawn.Queue(), spawn.Queue(), spawn.Queue()
    clients = spawn.Process(target=readers_process, args=(site.url, args.clients, ready, control, results))
    clients.start()
    try:
        joined = ready.get(timeout=args.timeout)
        if joined != args.clients:
            raise BenchError(f"{joined} of {args.clients} streaming clients got the first state")
        total = round(args.stream_rate * args.seconds)
        with member(node, SELLER, args.timeout) as seller, member(node, BUYER, args.timeout) as buyer:
            seller.new_order(SELLER[1], INSTRUMENT, Side.SELL, total, STREAM_PRICE)
            pids = {"web": site.pid, "node": _pid(node), "readers": clients.pid or 0}
            cpu = {k: cpu_seconds(pid) for k, pid in pids.items()}
            started = time.monotonic()
            lag = []
            for k in range(total):
                while (wait := started + k / args.stream_rate - time.monotonic()) > 0:
                    time.sleep(wait)
                lag.append(time.monotonic() - (started + k / args.stream_rate))
                bought = buyer.new_order(BUYER[1], INSTRUMENT, Side.BUY, 1, STREAM_PRICE)
                if not any(isinstance(e, Fill) for e in bought.events):
                    raise BenchError(f"buy {k} did not trade: {bought!r}")
            seconds = time.monotonic() - started
            used = {k: cpu_seconds(pid) - cpu[k] for k, pid in pids.items()}
            memory = memory_kb(site.pid)
        control.put(web_version(site.url))
        got = results.get(timeout=args.timeout + 30)
    finally:
        clients.join(10)
        if clients.is_alive():
            clients.terminate()
    if "error" in got:
        raise BenchError(f"the streaming clients failed: {got['error']}")
    return {
        "clients": args.clients,
        "trades": total,
        "rate": args.stream_rate,
        "seconds": round(seconds, 2),
        "achieved_per_s": round(total / seconds, 1),
        "send_lag_ms_max": round(max(lag) * 1e3, 1),
        "cpu_s": {k: round(v, 2) for k, v in used.items()},
        "web_memory_kb": memory,
        **delivery(got["readers"]),
    }


def _pid(node: NodeUnderTest) -> int:
    assert node.process is not None
    return node.process.pid


def delivery(readers: list[dict[str, Any]]) -> Figures:
    """Did every client get every batch? The batches published after the last client joined are the
    union of what the clients saw; a client without a reset must have seen each of them."""
    start = max(r["joined"] for r in readers)
    published = sorted({v for r in readers for v in r["versions"] if v > start})
    complete = resets = 0
    for r in readers:
        seen = {v for v in r["versions"] if v > start}
        resets += r["states"]
        complete += seen >= set(published)
    events = [r["events"] for r in readers]
    return {
        "batches": len(published),
        "events_per_client": [min(events), max(events)],
        "complete_clients": complete,
        "resets": resets,
        "reader_errors": [r["error"] for r in readers if r["error"]],
    }


# ------------------------------------------------------------------------------------ the run
def run(args: argparse.Namespace) -> Figures:
    results: Figures = {"machine": machine(), "fsync": args.fsync, "parameters": vars(args)}
    with tempfile.TemporaryDirectory(prefix="carbonx-web-", dir=args.work_dir) as work:
        node = NodeUnderTest(Path(work), args.fsync, 1_000)
        results["machine"]["filesystem"] = filesystem(Path(work))
        site: WebProcess | None = None
        try:
            node.start(args.timeout)
            market = load_config(node.config).node.market_data
            md = (node.endpoints["market data"], market.snapshot_endpoint)
            tonnes = args.trades + round(args.stream_rate * args.seconds) + 10
            top_up(node.endpoints["order entry"], node.config / "demo-keys", {BUYER[1]: tonnes, SELLER[1]: tonnes}, 60)
            site = WebProcess(node.config, node.data_dir, *md).start(args.timeout)
            results["web_pid"] = site.pid
            if not args.no_browser:
                results["latency"] = run_latency(node, site, md, args)
            results["streams"] = run_streams(node, site, args)
            results["web_exit_status"] = site.stop()
            results["web_stderr"] = last_lines(site.stderr(), 5)
        finally:
            if site is not None:
                site.close()
            status, _, stderr = node.stop(args.timeout)
        results["node_exit_status"], results["node_stderr"] = status, last_lines(stderr, 5)
    results["machine"]["load_after"] = load_average()
    results["problems"] = problems(results)
    return results


def problems(r: Figures) -> list[str]:
    found = []
    if (a := r.get("latency")) is not None:
        if a["shown"] < a["trades"] * 0.9:
            found.append(f"only {a['shown']} of {a['trades']} trades showed on the page on their own")
        found += [f"page error: {e}" for e in a["page_errors"]]
    b = r["streams"]
    if b["complete_clients"] + b["resets"] < b["clients"]:
        found.append(f"{b['clients'] - b['complete_clients']} clients missed a change batch without a reset")
    found += [f"a streaming client failed: {e}" for e in b["reader_errors"][:3]]
    if r["web_exit_status"] != 0:
        found.append(f"carbonx web exited with status {r['web_exit_status']}: {r['web_stderr']}")
    if r["node_exit_status"] != 0:
        found.append(f"the node exited with status {r['node_exit_status']}: {r['node_stderr']}")
    return found


def _row(label: str, *cells: object) -> str:
    return f"  {label:<28}" + "".join(f"{c:>10,}" if isinstance(c, int) else f"{c!s:>10}" for c in cells)


def render(r: Figures) -> str:
    m, p = r["machine"], r["parameters"]
    lines = [
        f"machine:  nproc {m['nproc']}, {m['cpu']}, {m['system']}, {m['python']}",
        f"load:     {m['load_before']} before, {m['load_after']} after (1, 5, 15 min averages)",
        f"node:     carbonx serve --demo, fsync {'on' if r['fsync'] else 'off'} (data directory on {m['filesystem']});"
        " website: carbonx web, its own process",
    ]
    if (a := r.get("latency")) is not None:
        (before, plus_before), (after, plus_after) = a["clock_offset_ms"]
        lines += [
            f"\na. latency: {a['browser']} on the overview; {a['trades']} trades of 1 t, {a['rate']:g}/s on average,",
            "   to the DOM change of the instrument's .last cell (MutationObserver, before paint), wall clock",
            f"   (browser clock offset {before:+.2f} ms ±{plus_before:.2f} before the trades, "
            f"{after:+.2f} ±{plus_after:.2f} after)",
            _row("", "trades", "p50 ms", "p90", "p99", "max"),
            _row("trade's exchange ts -> DOM", a["shown"], *a["trade_to_dom_ms"].values()),
            _row("order sent -> DOM", a["shown"], *a["sent_to_dom_ms"].values()),
            _row("trade's ts -> page (SSE)", a["reached_page"], *a["trade_to_page_ms"].values()),
            _row("page (SSE) -> DOM", a["shown_after_reaching"], *a["page_to_dom_ms"].values()),
            _row("order sent -> Ack", a["trades"], *a["sent_to_ack_ms"].values()),
            f"  never shown on their own (two trades in one frame): {a['missing']}",
        ]
    b = r["streams"]
    cpu, mem = b["cpu_s"], b["web_memory_kb"]
    share = {k: f"{v / b['seconds']:.0%}" for k, v in cpu.items()}
    low, high = b["events_per_client"]
    lines += [
        f"\nb. streams: {b['clients']} /api/stream readers (asyncio, one process), {b['rate']} trades/s "
        f"for {p['seconds']:g} s",
        f"  trades                    {b['trades']:,} in {b['seconds']:.2f} s ({b['achieved_per_s']:,}/s achieved, "
        f"send lag max {b['send_lag_ms_max']} ms)",
        f"  website CPU               {share['web']} of one core ({cpu['web']:.2f} s user+sys)",
        f"  website RSS               {mem['VmRSS'] / 1024:.1f} MB (high-water {mem['VmHWM'] / 1024:.1f} MB)",
        f"  node CPU                  {share['node']} of one core ({cpu['node']:.2f} s)",
        f"  readers' CPU              {share['readers']} of one core ({cpu['readers']:.2f} s)",
        f"  change batches            {b['batches']:,}; events per client {low:,} to {high:,}",
        f"  delivery                  {b['complete_clients']} of {b['clients']} clients received every batch; "
        f"whole-state resets: {b['resets']}",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.web", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--trades", type=int, default=200, help="latency: trades, each a new last price (default 200, at most 700)")
    add("--rate", type=float, default=20.0, help="latency: trades per second on average (default 20)")
    add("--seed", type=int, default=1, help="latency: seed of the random intervals between trades (default 1)")
    add("--clients", type=int, default=100, help="streams: SSE readers (default 100)")
    add("--stream-rate", type=float, default=200.0, help="streams: trades per second (default 200)")
    add("--seconds", type=float, default=10.0, help="streams: seconds of trading (default 10)")
    add("--no-browser", action="store_true", help="skip the latency phase (no Chromium)")
    add("--fsync", action=argparse.BooleanOptionalAction, default=True, help="the node fsyncs its journal (default)")
    add("--timeout", type=float, default=30.0, help="seconds to wait for any one step (default 30)")
    add("--work-dir", type=Path, help="make the node's temporary directory here (default: the system's)")
    add("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_paths(parser, args)
    if not 1 <= args.trades <= 700:  # 80.01 .. 87.00: inside the daily band of 72.00 .. 88.00
        parser.error(f"--trades must be 1-700, got {args.trades}")
    for name in ("rate", "clients", "stream_rate", "seconds", "timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not args.no_browser and not Path(CHROMIUM).exists():
        found = shutil.which("chromium")
        parser.error(f"no Chromium at {CHROMIUM}{f' (there is {found})' if found else ''}: apt-get install chromium")
    try:
        results = run(args)
    except (BenchError, CarbonxError, queue.Empty) as exc:
        print(f"bench.web: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(render(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for problem in results["problems"][:20]:
        print(f"FAIL: {problem}")
    if results["problems"]:
        return 1
    print("check:    every trade reached the page; every client got every batch (or a whole state)")
    return 0


if __name__ == "__main__":
    # Through the package module, so that the spawned client process imports the very same functions.
    from bench.web import main as package_main

    sys.exit(package_main())
