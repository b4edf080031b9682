"""Marking the close (RULES.md "Surveillance"; EU Delegated Reg. 2016/522 Annex II): trades that move the close.

Shanghai's close is the day's VWAP of listing trades, rounded half-up to the tick, or the previous
close when nothing traded (``engine.prices.closing_price``, which ``engine.listing.daily.InstrumentDay``
applies at the end of day). Agreement transfers and auctions are not listing trades and never count.
The rules recompute the close from the day's ``trades`` with that same function, then the
counterfactual close without one account's trades: the day's turnover and volume less the account's,
for every account at once.

- ``marking_close.vwap``: every trade the account was party to removed. Alerts when the close moves
  by at least ``min_ticks`` ticks and the account's share of the day's volume is at least
  ``min_share_bp``.
- ``marking_close.last_minutes``: only its trades in the last ``last_minutes`` minutes before the
  afternoon close (the exchange calendar's, which ingest records in the store: 15:00 Asia/Shanghai)
  removed; the share is that window's volume of the account over the day's volume.

An account's share is the tonnes of the trades it was party to (as buyer or seller; a trade with
itself counted once) over the tonnes traded in the day: exactly the volume the counterfactual
close leaves out. Shares of all accounts thus add up to about 200%, and an account that bought 10%
of the day and sold nothing has a 10% share.

Score: the mean of ``excess_score(ticks moved, min_ticks)`` and ``excess_score(share, min_share_bp)``:
0 when both are at their thresholds, growing as the close moves further and the share grows.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from zoneinfo import ZoneInfo

import duckdb

from engine.prices import closing_price
from surveillance.alerts import Alert, cny, evidence, excess_score, mean_score
from surveillance.settings import BP, MarkingCloseParams, SurveillanceSettings, parameters

RULE_IDS = ("marking_close.vwap", "marking_close.last_minutes")

NS_PER_MINUTE = 60 * 1_000_000_000


class DayFigures(NamedTuple):
    """One instrument's listing figures of the day and what its close falls back to."""

    instrument: str
    volume: int
    turnover: int
    tick: int
    reference_price: int  # the previous close: the close of a day without listing trades


class PartyVolume(NamedTuple):
    """The trades one account was party to in one instrument: all day, and since ``window_start``."""

    account: str
    volume: int
    turnover: int
    window_volume: int
    window_turnover: int


def day_figures(con: duckdb.DuckDBPyConnection, day: int) -> list[DayFigures]:
    """Each instrument with listing trades on ``day``: volume, turnover, tick and previous close, by code."""
    rows = con.execute(
        """
        WITH traded AS (
            SELECT instrument, sum(quantity) AS volume, sum(price * quantity) AS turnover
            FROM trades WHERE day = $day GROUP BY instrument
        )
        SELECT t.instrument, t.volume, t.turnover, i.tick,
            coalesce(
                (SELECT b.reference_price FROM bulletins b WHERE b.instrument = t.instrument AND b.day = $day LIMIT 1),
                (SELECT b.close FROM bulletins b WHERE b.instrument = t.instrument AND b.day < $day
                 ORDER BY b.day DESC LIMIT 1),
                i.reference_price)
        FROM traded t JOIN instruments i ON i.instrument = t.instrument
        ORDER BY t.instrument
        """,
        {"day": day},
    ).fetchall()
    return [DayFigures(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


def party_volumes(con: duckdb.DuckDBPyConnection, day: int, instrument: str, window_start: int) -> list[PartyVolume]:
    """Per account: the volume and turnover of the trades it was party to, all day and from ``window_start``."""
    rows = con.execute(
        """
        WITH parties AS (
            SELECT buy_account AS account, trade_id, ts, price, quantity FROM trades
            WHERE day = $day AND instrument = $instrument
            UNION  -- a trade with itself is one trade of the account, not two
            SELECT sell_account, trade_id, ts, price, quantity FROM trades
            WHERE day = $day AND instrument = $instrument
        )
        SELECT account, sum(quantity), sum(price * quantity),
            coalesce(sum(quantity) FILTER (WHERE ts >= $start), 0),
            coalesce(sum(price * quantity) FILTER (WHERE ts >= $start), 0)
        FROM parties GROUP BY account ORDER BY account
        """,
        {"day": day, "instrument": instrument, "start": window_start},
    ).fetchall()
    return [PartyVolume(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


def party_trades(
    con: duckdb.DuckDBPyConnection, day: int, instrument: str, account: str, since: int = 0
) -> tuple[list[int], list[str]]:
    """The account's trades of the day in ``instrument`` from ``since`` (ns): their ids and counterparties."""
    rows = con.execute(
        """
        SELECT trade_id, CASE WHEN buy_account = $account THEN sell_account ELSE buy_account END
        FROM trades
        WHERE day = $day AND instrument = $instrument AND ts >= $since
            AND (buy_account = $account OR sell_account = $account)
        ORDER BY seq, ev
        """,
        {"day": day, "instrument": instrument, "account": account, "since": since},
    ).fetchall()
    return [int(r[0]) for r in rows], [str(r[1]) for r in rows]


def percent(bp: int) -> str:
    """Basis points as the analyst reads them: 1234 -> "12.34%"."""
    return f"{bp // 100}.{bp % 100:02d}%"


def session_close(con: duckdb.DuckDBPyConnection, day: int) -> int:
    """The afternoon close of ``day`` (ns since the epoch), by the exchange's calendar as ingest recorded
    it (store ``meta``: ``timezone``, ``afternoon_close``); 15:00 Asia/Shanghai in a store without it."""
    meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('timezone', 'afternoon_close')").fetchall())
    zone = ZoneInfo(meta.get("timezone", "Asia/Shanghai"))
    close = dt.time.fromisoformat(meta.get("afternoon_close", "15:00:00"))
    moment = dt.datetime.combine(dt.date(day // 10_000, day // 100 % 100, day % 100), close, zone)
    return int(moment.timestamp()) * 1_000_000_000


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    alerts: list[Alert] = []
    for figures in day_figures(con, day):
        params = settings.for_instrument(figures.instrument).marking_close
        if not params.enabled or figures.volume <= 0:
            continue
        window_start = session_close(con, day) - params.last_minutes * NS_PER_MINUTE
        for party in party_volumes(con, day, figures.instrument, window_start):
            whole = _moved_close(figures, params, party.volume, party.turnover)
            if whole is not None:
                alerts.append(_alert(con, day, figures, params, party.account, whole, RULE_IDS[0], 0))
            window = _moved_close(figures, params, party.window_volume, party.window_turnover)
            if window is not None:
                alerts.append(_alert(con, day, figures, params, party.account, window, RULE_IDS[1], window_start))
    return sorted(alerts, key=lambda a: (a.rule, a.instrument, a.subjects))


class _Move(NamedTuple):
    close: int
    counterfactual: int
    ticks: int
    share_bp: int


def _moved_close(figures: DayFigures, params: MarkingCloseParams, volume: int, turnover: int) -> _Move | None:
    """The close and the close without ``volume`` t worth ``turnover``, when both thresholds are met."""
    if volume <= 0 or volume * BP < params.min_share_bp * figures.volume:
        return None
    close = closing_price(figures.turnover, figures.volume, figures.reference_price, figures.tick)
    without = closing_price(figures.turnover - turnover, figures.volume - volume, figures.reference_price, figures.tick)
    moved = abs(close - without)
    if moved < params.min_ticks * figures.tick:
        return None
    return _Move(close, without, moved // figures.tick, volume * BP // figures.volume)


def _alert(
    con: duckdb.DuckDBPyConnection,
    day: int,
    figures: DayFigures,
    params: MarkingCloseParams,
    account: str,
    move: _Move,
    rule: str,
    since: int,
) -> Alert:
    trades, counterparties = party_trades(con, day, figures.instrument, account, since)
    where = "its trades" if rule == RULE_IDS[0] else f"its trades of the last {params.last_minutes} minutes"
    return Alert(
        rule=rule,
        trading_day=day,
        instrument=figures.instrument,
        subjects=[account],
        score_bp=mean_score(
            excess_score(move.ticks, params.min_ticks), excess_score(move.share_bp, params.min_share_bp)
        ),
        parameters=parameters(params),
        figures={
            "close": move.close,
            "counterfactual_close": move.counterfactual,
            "ticks_moved": move.ticks,
            "share_bp": move.share_bp,
            "day_volume_t": figures.volume,
        },
        evidence=evidence(accounts=[account, *counterparties], trades=trades),
        summary=(
            f"{account}: close of {figures.instrument} {cny(move.close)} vs {cny(move.counterfactual)} without {where} "
            f"({move.ticks} ticks), {percent(move.share_bp)} of the day's volume"
        ),
    )
