"""Concentration and cornering (RULES.md "Surveillance"): volume share, holdings near the limit, large holders.

- ``concentration.volume_share``: an account's share of the day's listing volume in one instrument is
  at least ``volume_share_bp``, on a day with at least ``min_day_volume_t`` traded. The share is the
  one ``marking_close`` uses: the tonnes of the trades the account was party to (buyer or seller, a
  trade with itself once) over the tonnes traded. Evidence: all its trades of the day in the
  instrument. Score: ``excess_score(share, volume_share_bp)``.
- ``concentration.near_limit``: the account's closing holding of the instrument (its end-of-day
  statement, table ``holdings``) is within ``near_limit_bp`` of its position limit: closing ≥ limit ×
  (1 − near_limit_bp / 10,000). The limit is the one in force that day (``holdings.position_limit``:
  config ``risk.position_limit_t`` by account kind plus, as ``engine.risk.PositionLimits.limit`` adds
  it, a covered entity's own free allocation; 0: none, never alerted). Evidence: its buys of
  the day in the instrument (listing trades and executed agreement transfers), what brought it there.
  Score: how far into the band it is, 10,000 × (closing − band start) / (limit − band start), capped at
  10,000: 0 at the band's edge, 10,000 at (or over) the limit. (``excess_score`` of closing against
  the band start would never pass 500 bp, as the engine refuses buys beyond the limit.)
- ``concentration.large_holder``: each row of the engine's large-holder report (table ``large_holders``,
  ``LargeHolderReported``: holding strictly above the threshold, ``engine.end_of_day.mechanism``), one
  alert per account, instrument and day; evidence its buys of the day as above. Score:
  ``excess_score(holding, threshold)``.
"""

from __future__ import annotations

import duckdb

from surveillance.alerts import SCORE_MAX, Alert, evidence, excess_score
from surveillance.rules.marking_close import day_figures, party_trades, party_volumes, percent
from surveillance.settings import BP, SurveillanceSettings, parameters

RULE_IDS = ("concentration.volume_share", "concentration.near_limit", "concentration.large_holder")


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    alerts = [*_volume_share(con, day, settings), *_near_limit(con, day, settings), *_large_holders(con, day, settings)]
    return sorted(alerts, key=lambda a: (a.rule, a.instrument, a.subjects))


def _volume_share(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    alerts: list[Alert] = []
    for figures in day_figures(con, day):
        params = settings.for_instrument(figures.instrument).concentration
        if not params.enabled or figures.volume <= 0 or figures.volume < params.min_day_volume_t:
            continue
        for party in party_volumes(con, day, figures.instrument, 0):
            if party.volume * BP < params.volume_share_bp * figures.volume:
                continue
            share_bp = party.volume * BP // figures.volume
            trades, counterparties = party_trades(con, day, figures.instrument, party.account)
            alerts.append(
                Alert(
                    rule=RULE_IDS[0],
                    trading_day=day,
                    instrument=figures.instrument,
                    subjects=[party.account],
                    score_bp=excess_score(share_bp, params.volume_share_bp),
                    parameters=parameters(params),
                    figures={"share_bp": share_bp, "volume_t": party.volume, "day_volume_t": figures.volume},
                    evidence=evidence(accounts=[party.account, *counterparties], trades=trades),
                    summary=(
                        f"{party.account}: {percent(share_bp)} of the day's {figures.instrument} volume "
                        f"({party.volume} of {figures.volume} t)"
                    ),
                )
            )
    return alerts


def _near_limit(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    rows = con.execute(
        """
        SELECT h.account, h.instrument, h.closing, h.position_limit
        FROM holdings h
        WHERE h.day = ? AND h.position_limit > 0 AND h.closing > 0
        ORDER BY h.instrument, h.account
        """,
        [day],
    ).fetchall()
    alerts: list[Alert] = []
    for account, instrument, closing, limit in rows:
        params = settings.for_instrument(instrument).concentration
        # The band's edge, exactly: closing × 10,000 ≥ limit × (10,000 − near_limit_bp).
        if not params.enabled or closing * BP < limit * (BP - params.near_limit_bp):
            continue
        band_start = -(-limit * (BP - params.near_limit_bp) // BP)  # rounded up: the first tonne in the band
        depth = limit - band_start
        score = SCORE_MAX if depth <= 0 else min(SCORE_MAX, SCORE_MAX * (closing - band_start) // depth)
        trades, transfers, sellers = _buys(con, day, instrument, account)
        alerts.append(
            Alert(
                rule=RULE_IDS[1],
                trading_day=day,
                instrument=instrument,
                subjects=[account],
                score_bp=score,
                parameters=parameters(params),
                figures={"closing_t": closing, "position_limit_t": limit, "band_start_t": band_start},
                evidence=evidence(accounts=[account, *sellers], trades=trades, transfers=transfers),
                summary=f"{account}: holds {closing} t of {instrument}, position limit {limit} t",
            )
        )
    return alerts


def _large_holders(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    rows = con.execute(
        """
        SELECT account, instrument, max(holding), max(threshold) FROM large_holders
        WHERE day = ? GROUP BY account, instrument ORDER BY instrument, account
        """,
        [day],
    ).fetchall()
    alerts: list[Alert] = []
    for account, instrument, holding, threshold in rows:
        params = settings.for_instrument(instrument).concentration
        if not params.enabled:
            continue
        trades, transfers, sellers = _buys(con, day, instrument, account)
        alerts.append(
            Alert(
                rule=RULE_IDS[2],
                trading_day=day,
                instrument=instrument,
                subjects=[account],
                score_bp=excess_score(holding, threshold),
                parameters=parameters(params),
                figures={"holding_t": holding, "threshold_t": threshold},
                evidence=evidence(accounts=[account, *sellers], trades=trades, transfers=transfers),
                summary=f"{account}: large holder of {instrument}, {holding} t over the {threshold} t threshold",
            )
        )
    return alerts


def _buys(
    con: duckdb.DuckDBPyConnection, day: int, instrument: str, account: str
) -> tuple[list[int], list[int], list[str]]:
    """What the account bought of ``instrument`` on ``day``: listing trades, executed transfers, and the sellers."""
    trades = con.execute(
        """
        SELECT trade_id, sell_account FROM trades
        WHERE day = ? AND instrument = ? AND buy_account = ? ORDER BY seq, ev
        """,
        [day, instrument, account],
    ).fetchall()
    transfers = con.execute(
        """
        SELECT transfer_id, sell_account FROM transfer_events
        WHERE day = ? AND instrument = ? AND event = 'executed' AND buy_account = ? ORDER BY seq, ev
        """,
        [day, instrument, account],
    ).fetchall()
    sellers = [str(r[1]) for r in (*trades, *transfers)]
    return [int(r[0]) for r in trades], [int(r[0]) for r in transfers], sellers
