"""What ``carbonx surveil`` prints: alerts, a case, trails and the book, in the analyst's words.

Prices in CNY per tonne, quantities in tonnes, times in the exchange's time zone; scores 0.00-1.00.
"""

from __future__ import annotations

import datetime as dt

from carbonx.cli.display import exchange_time, iso, price, table
from surveillance.book_replay import BookAt
from surveillance.cases import AlertRow, CaseAction
from surveillance.ingest import IngestResult
from surveillance.trail import TrailEvent

ALERT_HEADER = ["id", "day", "rule", "instrument", "subjects", "score", "status", "summary"]
ALERT_LEFT = {"day", "rule", "instrument", "subjects", "status", "summary"}


def score(score_bp: int) -> str:
    whole, rest = divmod(score_bp, 10_000)
    return f"{whole}.{rest // 100:02d}"


def alert_rows(alerts: list[AlertRow]) -> list[list[str]]:
    return [
        [
            str(a.alert_id),
            iso(a.day),
            a.rule,
            a.instrument or "-",
            ", ".join(a.subjects),
            score(a.score_bp),
            a.status + (f" ({a.assignee})" if a.status == "assigned" and a.assignee else ""),
            a.summary,
        ]
        for a in alerts
    ]


def alerts_text(alerts: list[AlertRow]) -> list[str]:
    if not alerts:
        return ["no alerts"]
    return [*table(ALERT_HEADER, alert_rows(alerts), ALERT_LEFT), "", f"{len(alerts):,} alerts"]


def alert_text(alert: AlertRow, actions: list[CaseAction], zone: dt.tzinfo) -> list[str]:
    evidence = alert.evidence
    lines = [
        f"alert {alert.alert_id}: {alert.rule} on {iso(alert.day)}"
        + (f", {alert.instrument}" if alert.instrument else ""),
        f"  {alert.summary}",
        f"score        {score(alert.score_bp)}",
        f"status       {alert.status}" + (f" (assigned to {alert.assignee})" if alert.assignee else ""),
        f"subjects     {', '.join(alert.subjects)}",
        f"raised       at journal seq {alert.raised_seq:,}, {_wall(alert.raised_at, zone)}",
        "parameters   " + ", ".join(f"{k}={v}" for k, v in alert.parameters.items()),
        "figures      " + ", ".join(f"{k}={v}" for k, v in alert.figures.items()),
        "evidence",
    ]
    for name in ("accounts", "orders", "trades", "transfers", "bids", "auctions"):
        ids = getattr(evidence, name)
        if ids:
            shown = ", ".join(str(i) for i in ids[:40]) + (f" ... ({len(ids):,} in all)" if len(ids) > 40 else "")
            lines.append(f"  {name:<10} {shown}")
    lines.append("case")
    if not actions:
        lines.append("  no actions yet")
    for action in actions:
        who = f" to {action.assignee}" if action.assignee else ""
        text = f": {action.text}" if action.text else ""
        lines.append(
            f"  {action.action_id:>4}  {_wall(action.acted_at, zone)}  {action.analyst}  {action.action}{who}{text}"
        )
    if alert.subjects:
        lines.append("")
        lines.append(f"trail of a subject: carbonx surveil trail --account {alert.subjects[0]} --date {iso(alert.day)}")
    return lines


def trail_text(events: list[TrailEvent], zone: dt.tzinfo) -> list[str]:
    if not events:
        return ["no events"]
    rows = [
        [
            exchange_time(e.ts, zone).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            f"{e.seq:,}.{e.ev}",
            e.kind,
            str(e.ref) if e.ref else "-",
            e.event,
            e.account,
            e.instrument,
            e.detail,
        ]
        for e in events
    ]
    header = ["time", "seq", "kind", "id", "event", "account", "instrument", "detail"]
    return [
        *table(header, rows, {"time", "kind", "event", "account", "instrument", "detail"}),
        "",
        f"{len(events):,} events",
    ]


def book_text(book: BookAt, zone: dt.tzinfo, depth: int, member_of: dict[str, str]) -> list[str]:
    when = exchange_time(book.ts, zone).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if book.ts else "before any command"
    source = f"snapshot at seq {book.snapshot_seq:,} + " if book.snapshot_seq else ""
    lines = [
        f"{book.instrument} after journal seq {book.seq:,} ({when}; trading day {iso(book.trading_day) or '-'})",
        f"rebuilt from {source}{book.replayed:,} journal records",
        "",
    ]
    for name, orders in (("bids", book.bids), ("asks", book.asks)):
        levels: list[int] = []
        rows = []
        for order in orders:
            if order.price not in levels:
                if len(levels) == depth:
                    break
                levels.append(order.price)
            rows.append(
                [
                    price(order.price),
                    str(len(levels)),
                    f"{order.leaves:,}",
                    str(order.order_id),
                    order.account,
                    member_of.get(order.account, ""),
                    order.client_order_id,
                    f"{order.filled:,}",
                ]
            )
        total = sum(o.leaves for o in orders)
        lines.append(
            f"{name}: {len(orders):,} orders, {total:,} t" + (f" (first {depth} levels below)" if rows else "")
        )
        header = ["price", "level", "open t", "order", "account", "member", "client id", "filled t"]
        lines += [*table(header, rows, {"account", "member", "client id"}), ""] if rows else [""]
    return lines


def ingest_text(result: IngestResult, raised: int, store: str) -> list[str]:
    days = ", ".join(iso(d) for d in result.days) or "none"
    return [
        f"ingested {result.records:,} journal records ({result.events:,} events) up to seq {result.last_seq:,}",
        f"days with new activity: {days}",
        f"new alerts: {raised:,}" + ("  (carbonx surveil alerts)" if raised else ""),
        f"store: {store}",
    ]


def _wall(ns: int, zone: dt.tzinfo) -> str:
    return exchange_time(ns, zone).strftime("%Y-%m-%d %H:%M:%S") if ns else "-"
