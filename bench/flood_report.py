"""The table of ``python -m bench.flood``: as text for the terminal, and as Markdown for bench/RESULTS.md."""

from __future__ import annotations

from collections.abc import Sequence

from bench.e2e_wire import Figures

HEADER = (
    "phase",
    "flood/s: target",
    "reached",
    "victim Acks",
    "no Ack",
    "p50 ms",
    "p99 ms",
    "max ms",
    "node CPU",
    "RSS MB: before",
    "after",
    "recovered",
    "peak",
    "VmHWM",
    "data +MB",
    "log +MB",
    "recovery s",
)


def _ms(us: int | None) -> str:
    if us is None:
        return "no Ack"
    if us < 10_000:
        return f"{us / 1_000:.2f}"
    return f"{us / 1_000:,.1f}" if us < 100_000 else f"{us / 1_000:,.0f}"


def _mb(kb: int) -> str:
    return f"{(kb + 512) // 1_024:,}"


def _bytes_mb(n: int) -> str:
    return f"{n / 1_048_576:,.1f}"


def row(phase: Figures) -> list[str]:
    """One phase as the table's cells."""
    victim, flood, node = phase["victim"], phase["flood"], phase["node"]
    before, after = node["before"], node["after"]
    name = phase["kind"] if "letter" not in phase else f"{phase['letter']} {phase['kind']}"
    if phase.get("killed_at_kb"):
        name += " (node killed)"
    target = f"{phase['rate']:,}" if "rate" in phase else "-"
    reached = f"{flood['sent_per_s']:,}" if "sent_per_s" in flood else "-"
    us = victim["all_us"]  # an order without an Ack counts: a percentile that falls on one says "no Ack"
    settled = "-" if phase["settle_s"] is None else f"{phase['settle_s']:.2f}"
    return [
        name,
        target,
        reached,
        f"{victim['acks']:,}/{victim['orders']:,}",
        f"{victim['no_ack']:,}",
        _ms(us["p50"]),
        _ms(us["p99"]),
        _ms(us["max"]),
        "-" if phase["node_cpu_pct"] is None else f"{phase['node_cpu_pct']}%",
        _mb(before["rss_kb"]),
        _mb(after.get("rss_kb", 0)) if after.get("rss_kb") else "gone",
        _mb(node["settled"]["rss_kb"]) if node["settled"]["rss_kb"] else "gone",
        _mb(phase["peak_rss_kb"]),
        _mb(max(after.get("hwm_kb", 0), node["settled"]["hwm_kb"])) if after.get("hwm_kb") else "-",
        _bytes_mb(after.get("data_bytes", before["data_bytes"]) - before["data_bytes"]),
        _bytes_mb(after.get("log_bytes", before["log_bytes"]) - before["log_bytes"]),
        settled,
    ]


def _flood_lines(r: Figures) -> list[str]:
    lines = []
    for phase in r["phases"][1:]:
        flood = phase["flood"]
        if "problem" in flood:
            lines.append(f"  {phase['kind']:<16} PROBLEM: {flood['problem']}")
            continue
        got = ", ".join(f"{k} {v:,}" for k, v in list(flood.get("received", {}).items())[:4]) or "nothing read"
        stream = f", {flood['reports_in_stream']:,} reports in its stream" if "reports_in_stream" in flood else ""
        lines.append(
            f"  {phase['kind']:<16} {flood.get('sent', 0):,} frames of {flood.get('frame_bytes', 0):,} B"
            f"{' from ' + str(flood['processes']) + ' processes' if 'processes' in flood else ''}"
            f" in {flood.get('seconds', 0):.2f} s, {flood.get('behind', 0):,} behind schedule;"
            f" flooder CPU {flood.get('cpu_s', 0):.2f} s, RSS {_mb(flood.get('flooder_rss_kb', 0))} MB{stream};"
            f" {'read' if phase['reads'] else 'never read'}: {got}"
        )
    return lines


def render(r: Figures) -> str:
    m, p = r["machine"], r["parameters"]
    rows = [row(phase) for phase in r["phases"]]
    widths = [max(len(h), *(len(cells[i]) for cells in rows)) for i, h in enumerate(HEADER)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded)

    lines = [
        f"machine:  nproc {m['nproc']}, {m['cpu']}, {m['system']}, {m['python']}, {m['zmq']}",
        f"load:     {m['load_before']} before, {m['load_after']} after (1, 5, 15 min averages)",
        f"node:     carbonx serve --demo, production gateway limits, fsync {'on' if r['fsync'] else 'off'}"
        f" (data directory on {m['filesystem']}); RSS cap {p['rss_cap_mb']:,} MB",
        f"victim:   M101, {p['victim_rate']:,} single orders/s for {p['seconds']} s per phase, order -> Ack;"
        f" {p['grace']} s for the last answers",
        "",
        line(HEADER),
        *map(line, rows),
    ]
    lines += ["", "what each flooder did and got back:", *_flood_lines(r)]
    for node in r["nodes"]:
        lines.append(
            f"node:     phases {', '.join(node['phases'])}: exit status {node['exit_status']},"
            f" last journal seq {node['last_seq']:,}"
        )
    lines += [f"note:     {n}" for n in r["notes"]]
    return "\n".join(lines)


def markdown(r: Figures) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row(phase)) + " |" for phase in r["phases"]]
    return "\n".join(lines)
