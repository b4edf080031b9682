"""The analyst's day report (`carbonx surveil report`): one self-contained HTML page per trading day.

The page holds the day's alerts with their evidence tables, the day's figures per instrument and
the pictures (``surveillance.charts``) as PNG data URIs: no script, font, stylesheet or image is
fetched from anywhere, so it opens from a mail attachment or an air-gapped desk and prints as shown.
Every text that came from the store (names, notes, summaries) is escaped.

An alert's case status is derived from its case actions, which are only ever appended (issue 17,
"every analyst action is appended, never updated in place"): the last assign, escalate or close
sets it, a note leaves it, no action at all is 'new'.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Callable, Collection, Sequence
from typing import Any

import duckdb

from surveillance import charts
from surveillance.alerts import SCORE_MAX, cny
from surveillance.cases import AlertRow, CaseAction, case_actions, list_alerts

EMPTY = "-"  # a figure that does not exist, as carbonx's command line shows it
ROW_LIMIT = 50  # rows per evidence table; the rest are counted ("and N more")
AUCTION_PICTURES = 3  # bid pictures per alert: a floor-bids alert may span many auctions
STATUSES = ("new", "assigned", "escalated", "closed")
_NS_PER_S = 1_000_000_000

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 1.5em auto; max-width: 960px; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #1f4e79; padding-bottom: .2em; margin-top: 1.6em; }
h3 { margin: 1.2em 0 .3em; } h4 { margin: 1em 0 .3em; color: #1f4e79; }
table { border-collapse: collapse; margin: .3em 0 .8em; font-size: 12.5px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eef2f6; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .2em 0; }
.more { color: #555; font-style: italic; }
.alert { border-top: 1px solid #999; margin-top: 1.5em; }
.status { display: inline-block; padding: 0 .5em; border-radius: 3px; font-size: .85em; background: #ddd; }
.status-new { background: #ffe0b2; } .status-assigned { background: #bbdefb; }
.status-escalated { background: #ffcdd2; } .status-closed { background: #c8e6c9; }
figure { margin: .5em 0 1em; } img { max-width: 100%; height: auto; }
figcaption { font-size: .85em; color: #555; }
@media print {
  body { max-width: none; margin: 0; }
  figure, tr, h3, h4 { break-inside: avoid; } h3, h4, caption { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


# ------------------------------------------------------------------------------------------ formats


def price(fen: int) -> str:
    """A price per tonne; 0 is no price (a market order, a day without trades)."""
    return EMPTY if fen == 0 else cny(fen)


def score(score_bp: int) -> str:
    """Basis points as the 0-1 score, rounded down like the score itself: 8765 -> '0.87'."""
    whole, rest = divmod(score_bp, SCORE_MAX)
    return f"{whole}.{rest * 100 // SCORE_MAX:02d}"


def iso(day: int) -> str:
    return f"{day // 10_000:04d}-{day // 100 % 100:02d}-{day % 100:02d}"


def exchange_clock(ts_ns: int, day: int) -> str:
    """Exchange time to the millisecond in Asia/Shanghai, dated when it is not on ``day``."""
    seconds, ns = divmod(ts_ns, _NS_PER_S)
    local = dt.datetime.fromtimestamp(seconds, charts.SHANGHAI)
    shown = f"{local:%H:%M:%S}.{ns // 1_000_000:03d}"
    return shown if local.strftime("%Y%m%d") == str(day) else f"{local:%Y-%m-%d} {shown}"


def wall_clock(ns: int) -> str:
    return f"{dt.datetime.fromtimestamp(ns // _NS_PER_S, charts.SHANGHAI):%Y-%m-%d %H:%M:%S}"


# ------------------------------------------------------------------------------------------ HTML pieces


class _Html(str):
    """Markup this module made itself (a link, a status badge): a table cell that is not escaped."""


def _e(text: object) -> str:
    return text if isinstance(text, _Html) else html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, numeric: Collection[int] = (),
           caption: str = "", more: int = 0) -> str:  # fmt: skip
    """A table of escaped cells; the columns in ``numeric`` align right; ``more`` rows not shown."""

    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(
            f'<{tag} class="n">{_e(v)}</{tag}>' if i in numeric else f"<{tag}>{_e(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    head = f"<caption>{_e(caption)}</caption>" if caption else ""
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    table = f"<table>{head}<thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"
    return table + (f'<p class="more">and {more:,} more</p>' if more > 0 else "")


def _picture(png: bytes, alt: str) -> str:
    source = base64.b64encode(png).decode("ascii")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the PNG's IHDR
    return (
        f'<figure><img src="data:image/png;base64,{source}" alt="{_e(alt)}" width="{width}" height="{height}">'
        f"<figcaption>{_e(alt)}</figcaption></figure>"
    )


def _status(status: str) -> str:
    return f'<span class="status status-{_e(status)}">{_e(status)}</span>'


# ------------------------------------------------------------------------------------------ store reads


def _accounts(con: duckdb.DuckDBPyConnection, accounts: list[str]) -> dict[str, tuple[str, str, str, bool]]:
    """account -> (member, name, owner group, prohibited), for the accounts the store knows."""
    rows = con.execute(
        """SELECT account, member, name, owner_group, prohibited FROM accounts
           WHERE list_contains(?::VARCHAR[], account)""",
        [accounts],
    ).fetchall()
    return {account: (member, name, group, prohibited) for account, member, name, group, prohibited in rows}


def _limited(con: duckdb.DuckDBPyConnection, sql: str, ids: Sequence[int]) -> tuple[list[tuple[Any, ...]], int]:
    """The first ROW_LIMIT rows of ``sql`` (its one parameter: the ids) and how many more there are."""
    rows = con.execute(f"{sql} LIMIT {ROW_LIMIT}", [list(ids)]).fetchall()
    if len(rows) < ROW_LIMIT:
        return rows, 0
    found = con.execute(f"SELECT count(*) FROM ({sql})", [list(ids)]).fetchone()
    return rows, (found[0] if found else 0) - len(rows)


# ------------------------------------------------------------------------------------------ the page's parts


def _summary(day: int, last_seq: str, alerts: list[AlertRow], statuses: dict[int, str]) -> str:
    seq = f"the store holds the journal up to seq {_e(last_seq)}" if last_seq else "the store records no journal seq"
    parts = [f"<h1>Surveillance report, trading day {iso(day)}</h1>", f"<p>{len(alerts):,} alerts; {seq}.</p>"]
    if not alerts:
        return "".join(parts)
    rules = sorted({a.rule for a in alerts})
    counts = [[rule, *(sum(1 for a in alerts if a.rule == rule and statuses[a.alert_id] == s) for s in STATUSES),
               sum(1 for a in alerts if a.rule == rule)] for rule in rules]  # fmt: skip
    totals = ["all", *(sum(1 for a in alerts if statuses[a.alert_id] == s) for s in STATUSES), len(alerts)]
    numeric = range(1, len(STATUSES) + 2)
    parts.append(
        _table(["rule", *STATUSES, "total"], [*counts, totals], numeric=numeric, caption="Alerts by rule and status")
    )
    index = [[_Html(f'<a href="#alert-{a.alert_id}">{a.alert_id}</a>'), a.rule, a.instrument or EMPTY,
              ", ".join(a.subjects), score(a.score_bp), _Html(_status(statuses[a.alert_id]))]
             for a in alerts]  # fmt: skip
    header = ["alert", "rule", "instrument", "subjects", "score", "status"]
    parts.append(_table(header, index, numeric={4}, caption="Alerts by score"))
    return "".join(parts)


def _bulletins(con: duckdb.DuckDBPyConnection, day: int) -> str:
    rows = con.execute(
        """SELECT instrument, reference_price, open, high, low, close, volume, turnover, trades
           FROM bulletins WHERE day = ? ORDER BY instrument""",
        [day],
    ).fetchall()
    if not rows:
        return "<h2>The day's figures</h2><p>No bulletin for this day.</p>"
    shown = [[code, *(price(p) for p in prices), f"{volume:,}", cny(turnover), f"{trades:,}"]
             for code, *prices, volume, turnover, trades in rows]  # fmt: skip
    header = [
        "instrument",
        "reference",
        "open",
        "high",
        "low",
        "close (VWAP)",
        "volume (t)",
        "turnover (CNY)",
        "trades",
    ]
    return "<h2>The day's figures</h2>" + _table(header, shown, numeric=range(1, 9), caption="Prices in CNY/t")


def _pictures(con: duckdb.DuckDBPyConnection, day: int, alerts: list[AlertRow]) -> str:
    codes = [code for (code,) in con.execute(
        "SELECT instrument FROM trades WHERE day = ? UNION SELECT instrument FROM bulletins WHERE day = ? ORDER BY 1",
        [day, day]).fetchall()]  # fmt: skip
    alerted_trades = {trade for a in alerts for trade in a.evidence.trades}
    members = _accounts(con, sorted({s for a in alerts for s in a.subjects}))
    closes = dict(con.execute("SELECT instrument, close FROM bulletins WHERE day = ?", [day]).fetchall())
    parts = ["<h2>Pictures</h2>"]
    for code in codes:
        trades = charts.day_trades(con, day, code)
        if not trades:
            parts.append(f"<p>{_e(code)}: no trades on this day.</p>")
            continue
        chart = charts.price_volume_figure(code, day, trades, alerted_trades, closes.get(code, 0))
        parts.append(_picture(charts.png(chart), f"{code}: trade prices and volume, alerted trades ringed"))
        alerted = {members[s][0] for a in alerts if a.instrument in (code, "") for s in a.subjects if s in members}
        shares = charts.top_members(charts.member_tonnes(con, day, code), alerted)
        picture = charts.png(charts.member_shares_figure(code, shares))
        parts.append(
            _picture(picture, f"{code}: members' shares of traded tonnes (both sides), alerted members in red")
        )
    if not codes:
        parts.append("<p>No trades on this day.</p>")
    return "".join(parts)


def _subjects(con: duckdb.DuckDBPyConnection, alert: AlertRow) -> str:
    known = _accounts(con, alert.subjects)
    rows = [[s, *(known[s][:3] if s in known else (EMPTY, EMPTY, "")), "yes" if s in known and known[s][3] else ""]
            for s in alert.subjects]  # fmt: skip
    table = _table(["account", "member", "name", "owner group", "prohibited"], rows, caption="Subjects")
    others = [a for a in alert.evidence.accounts if a not in alert.subjects]
    return table + (f"<p>Other accounts involved: {_e(', '.join(others))}</p>" if others else "")


def _figures(alert: AlertRow) -> str:
    def pairs(values: dict[str, int]) -> list[list[str]]:
        return [[name, f"{value:,}"] for name, value in values.items()]

    return _table(["parameter", "value"], pairs(alert.parameters), numeric={1}, caption="Parameters") + _table(
        ["figure", "value"], pairs(alert.figures), numeric={1}, caption="Figures"
    )


def _trades(con: duckdb.DuckDBPyConnection, alert: AlertRow, day: int) -> str:
    sql = """SELECT trade_id, ts, instrument, price, quantity, buy_account, buy_member, sell_account, sell_member,
                    aggressor FROM trades WHERE list_contains(?::BIGINT[], trade_id) ORDER BY seq, ev"""
    rows, more = _limited(con, sql, alert.evidence.trades)
    shown = [[tid, exchange_clock(ts, day), code, price(p), f"{q:,}", f"{buyer} ({bm})", f"{seller} ({sm})", side]
             for tid, ts, code, p, q, buyer, bm, seller, sm, side in rows]  # fmt: skip
    header = ["trade", "time", "instrument", "price", "quantity (t)", "buyer (member)", "seller (member)", "aggressor"]
    return _table(header, shown, numeric={0, 3, 4}, caption="Trades", more=more)


def _orders(con: duckdb.DuckDBPyConnection, alert: AlertRow, day: int) -> str:
    sql = """SELECT ts, seq, order_id, account, event, side, order_type, price, quantity, leaves, trade_id,
                    reason, counterparty, text
             FROM order_events WHERE list_contains(?::BIGINT[], order_id) ORDER BY seq, ev"""
    rows, more = _limited(con, sql, alert.evidence.orders)
    shown = [[exchange_clock(ts, day), seq, oid, account, event, side, kind, price(p), f"{q:,}", f"{left:,}",
              trade or "", reason or (f"with {other}" if other else text)]
             for ts, seq, oid, account, event, side, kind, p, q, left, trade, reason, other, text in rows]  # fmt: skip
    header = ["time", "seq", "order", "account", "event", "side", "type", "price", "quantity (t)", "leaves (t)",
              "trade", "detail"]  # fmt: skip
    return _table(header, shown, numeric={1, 2, 7, 8, 9, 10}, caption="Orders, every event", more=more)


def _bids(con: duckdb.DuckDBPyConnection, alert: AlertRow, day: int) -> str:
    sql = """SELECT ts, seq, event, bid_id, auction_id, account, price, quantity, allocated, paid_price
             FROM bid_events WHERE list_contains(?::BIGINT[], bid_id) ORDER BY seq, ev"""
    rows, more = _limited(con, sql, alert.evidence.bids)
    shown = [[exchange_clock(ts, day), seq, event, bid, auction, account, price(p), f"{q:,}",
              f"{won:,}" if event == "allocated" else "", price(paid)]
             for ts, seq, event, bid, auction, account, p, q, won, paid in rows]  # fmt: skip
    header = ["time", "seq", "event", "bid", "auction", "account", "price", "quantity (t)", "allocated (t)", "paid"]
    return _table(header, shown, numeric={1, 3, 4, 6, 7, 8, 9}, caption="Bids, every event", more=more)


def _transfers(con: duckdb.DuckDBPyConnection, alert: AlertRow, day: int) -> str:
    sql = """SELECT ts, seq, event, transfer_id, proposer, counterparty, side, price, quantity
             FROM transfer_events WHERE list_contains(?::BIGINT[], transfer_id) ORDER BY seq, ev"""
    rows, more = _limited(con, sql, alert.evidence.transfers)
    shown = [[exchange_clock(ts, day), seq, event, tid, proposer, other, side, price(p), f"{q:,}"]
             for ts, seq, event, tid, proposer, other, side, p, q in rows]  # fmt: skip
    header = [
        "time",
        "seq",
        "event",
        "transfer",
        "proposer",
        "counterparty",
        "proposer's side",
        "price",
        "quantity (t)",
    ]
    return _table(header, shown, numeric={1, 3, 7, 8}, caption="Transfers, every event", more=more)


def _auctions(con: duckdb.DuckDBPyConnection, alert: AlertRow, day: int) -> str:
    sql = """SELECT ts, event, auction_id, kind, instrument, volume, price_limit, clearing_price, volume_sold, bidders
             FROM auction_events WHERE list_contains(?::BIGINT[], auction_id)
               AND event IN ('announced', 'cleared', 'cancelled') ORDER BY seq, ev"""
    rows, more = _limited(con, sql, alert.evidence.auctions)
    shown = [[exchange_clock(ts, day), event, aid, kind, code, f"{volume:,}", price(limit), price(clearing),
              f"{sold:,}", bidders]
             for ts, event, aid, kind, code, volume, limit, clearing, sold, bidders in rows]  # fmt: skip
    header = ["time", "event", "auction", "kind", "instrument", "volume (t)", "floor/ceiling", "clearing price",
              "sold (t)", "bidders"]  # fmt: skip
    table = _table(header, shown, numeric={2, 5, 6, 7, 8, 9}, caption="Auctions", more=more)
    return table + "".join(_bid_picture(con, alert, aid) for aid in alert.evidence.auctions[:AUCTION_PICTURES])


def _bid_picture(con: duckdb.DuckDBPyConnection, alert: AlertRow, auction_id: int) -> str:
    if not alert.rule.startswith("auction."):
        return ""
    bids = charts.standing_bids(con, auction_id)
    if not bids:
        return ""
    terms = con.execute(
        "SELECT max(price_limit), max(clearing_price) FROM auction_events WHERE auction_id = ?", [auction_id]
    ).fetchone()
    floor, clearing = terms if terms and terms[0] is not None else (0, 0)
    chart = charts.auction_bids_figure(auction_id, bids, set(alert.evidence.bids), floor, clearing)
    return _picture(charts.png(chart), f"auction {auction_id}: bids by price, the alert's bids ringed")


_EVIDENCE: tuple[tuple[str, Callable[[duckdb.DuckDBPyConnection, AlertRow, int], str]], ...] = (
    ("trades", _trades), ("orders", _orders), ("bids", _bids), ("transfers", _transfers), ("auctions", _auctions),
)  # fmt: skip


def _case(status: str, actions: list[CaseAction]) -> str:
    rows = [[wall_clock(a.acted_at), a.analyst, a.action, a.assignee, a.text] for a in actions]
    table = _table(["time", "analyst", "action", "assignee", "text"], rows) if rows else "<p>No case actions.</p>"
    return f"<h4>Case: {_status(status)}</h4>{table}"


def _alert(con: duckdb.DuckDBPyConnection, day: int, alert: AlertRow, status: str, actions: list[CaseAction]) -> str:
    title = f"Alert {alert.alert_id}: {_e(alert.rule)}, score {score(alert.score_bp)} {_status(status)}"
    facts = (f"<p>{_e(alert.instrument or 'all instruments')} · raised at journal seq {alert.raised_seq:,}</p>"
             f'<p class="summary">{_e(alert.summary)}</p>')  # fmt: skip
    evidence = "".join(show(con, alert, day) for name, show in _EVIDENCE if getattr(alert.evidence, name))
    body = [f"<h3>{title}</h3>", facts, _subjects(con, alert), _figures(alert), "<h4>Evidence</h4>",
            evidence or "<p>No ids in the evidence.</p>", _case(status, actions)]  # fmt: skip
    return f'<section class="alert" id="alert-{alert.alert_id}">{"".join(body)}</section>'


def day_report(con: duckdb.DuckDBPyConnection, day: int) -> str:
    """The complete HTML document of trading day ``day`` (YYYYMMDD): summary, the day's figures,
    pictures, then every alert by score, highest first, with its evidence and case."""
    alerts = list_alerts(con, day=day)  # by score, highest first, then id
    actions = {a.alert_id: case_actions(con, a.alert_id) for a in alerts}
    statuses = {a.alert_id: a.status for a in alerts}
    last_seq = [str(row[0]) for row in con.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchall()]
    sections = [
        f"<header>{_summary(day, last_seq[0] if last_seq else '', alerts, statuses)}</header>",
        "<main>",
        f'<section id="market">{_bulletins(con, day)}</section>',
        f'<section id="pictures">{_pictures(con, day, alerts)}</section>',
        '<section id="alerts"><h2>Alerts</h2>',
        *(_alert(con, day, a, statuses[a.alert_id], actions[a.alert_id]) for a in alerts),
        "" if alerts else "<p>No alerts on this day.</p>",
        "</section></main>",
        "<footer><p>carbonx surveil report. Prices CNY/t, money CNY, quantities t; times are exchange time "
        "(Asia/Shanghai), case actions wall-clock time.</p></footer>",
    ]
    head = (f'<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>carbonx surveillance report {iso(day)}</title><style>{_CSS}</style></head>")  # fmt: skip
    return f'<!DOCTYPE html>\n<html lang="en">{head}<body>{"".join(sections)}</body></html>\n'
