"""The surveillance report's pictures: matplotlib figures rendered to PNG bytes for one HTML page.

Each picture has a pure function that computes what it plots (tested without looking at pixels) and
a drawing function. The figures are drawn on their own Agg canvas (``Figure`` + ``FigureCanvasAgg``),
never through pyplot, so a report changes no global matplotlib state and draws no window; the PNG
carries no software or date metadata, so the same store gives the same bytes.

Prices are kept in fen/t until drawn; the axes show CNY/t (fen / 100), as every carbonx screen does.
Times are the exchange's (ns since the epoch, UTC) shown in Asia/Shanghai, the exchange's zone.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Collection, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

import duckdb
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

SHANGHAI = ZoneInfo("Asia/Shanghai")
WIDTH_IN, HEIGHT_IN, DPI = 9.0, 4.0, 100  # 900 × 400 px: small enough to embed a dozen in one page
VOLUME_BAR_S = 300  # volume is summed per 5 minutes: one bar per trade is unreadable on a busy day
TOP_MEMBERS = 15
ALERTED_BELOW_TOP = 10  # alerted members shown below the top ones; a picture of 60 bars reads as none
OPEN, LUNCH, RESUME, CLOSE = (9, 30), (11, 30), (13, 0), (15, 0)  # the exchange's sessions, local time
ALERTED_LABEL = "alerted trades"
ALERTED_COLOUR, OTHER_COLOUR, LINE_COLOUR = "#c62828", "#90a4ae", "#1f4e79"
_NS_PER_S = 1_000_000_000
_NS_PER_HOUR = 3_600 * _NS_PER_S


class TradePoint(NamedTuple):
    trade_id: int
    ts: int  # exchange ns since the epoch (UTC)
    price: int  # fen/t
    quantity: int  # t


class MemberShare(NamedTuple):
    member: str
    tonnes: int  # bought plus sold: both sides of every trade counted
    share_bp: int  # of twice the day's volume, so all members' shares add up to 10,000
    alerted: bool  # a subject of one of the day's alerts is the member's account


class StandingBid(NamedTuple):
    bid_id: int
    account: str
    price: int  # fen/t
    quantity: int  # t


# ------------------------------------------------------------------------------------------ pure data


def chart_hours(day: int, ts_ns: Sequence[int]) -> list[float]:
    """Exchange times as hours since midnight of ``day`` in Asia/Shanghai: the x of the time axes
    (10.5 is 10:30), so the axis reads in the exchange's clock whatever the viewer's zone."""
    midnight = int(dt.datetime(day // 10_000, day // 100 % 100, day % 100, tzinfo=SHANGHAI).timestamp())
    return [(ts - midnight * _NS_PER_S) / _NS_PER_HOUR for ts in ts_ns]


def alerted_points(trades: Sequence[TradePoint], alerted_trade_ids: Collection[int]) -> list[TradePoint]:
    """The trades of the chart that the day's alerts name in their evidence, in the chart's order."""
    return [trade for trade in trades if trade.trade_id in alerted_trade_ids]


def volume_bars(trades: Sequence[TradePoint], bar_s: int = VOLUME_BAR_S) -> list[tuple[int, int]]:
    """(start ns of the bar, tonnes traded in it), for every bar with trades, in time order."""
    width = bar_s * _NS_PER_S
    tonnes: dict[int, int] = {}
    for trade in trades:
        start = trade.ts - trade.ts % width
        tonnes[start] = tonnes.get(start, 0) + trade.quantity
    return sorted(tonnes.items())


def top_members(
    tonnes: dict[str, int], alerted: Collection[str], top: int = TOP_MEMBERS, below: int = ALERTED_BELOW_TOP
) -> list[MemberShare]:
    """The ``top`` members by tonnes (ties by name), then the largest ``below`` alerted members under
    them, so the accused members are on the picture even when they trade little."""
    total = sum(tonnes.values())
    ranked = sorted(tonnes.items(), key=lambda item: (-item[1], item[0]))
    under = [item for item in ranked[top:] if item[0] in alerted][:below]
    shown = ranked[:top] + under
    return [
        MemberShare(member, traded, traded * 10_000 // total if total else 0, member in alerted)
        for member, traded in shown
    ]


def demand_curve(bids: Sequence[StandingBid]) -> list[tuple[int, int]]:
    """(cumulative tonnes, price) from the highest bid down: the quantity demanded at each price."""
    curve, cumulative = [], 0
    for bid in sorted(bids, key=lambda b: (-b.price, b.bid_id)):
        cumulative += bid.quantity
        curve.append((cumulative, bid.price))
    return curve


# ------------------------------------------------------------------------------------------ store reads


def day_trades(con: duckdb.DuckDBPyConnection, day: int, instrument: str) -> list[TradePoint]:
    rows = con.execute(
        "SELECT trade_id, ts, price, quantity FROM trades WHERE day = ? AND instrument = ? ORDER BY seq, ev",
        [day, instrument],
    ).fetchall()
    return [TradePoint(*row) for row in rows]


def member_tonnes(con: duckdb.DuckDBPyConnection, day: int, instrument: str) -> dict[str, int]:
    """Tonnes each member bought plus sold on ``day``: a trade between two members counts for both."""
    rows = con.execute(
        """SELECT member, sum(quantity)::BIGINT FROM (
               SELECT buy_member AS member, quantity FROM trades WHERE day = ? AND instrument = ?
               UNION ALL
               SELECT sell_member AS member, quantity FROM trades WHERE day = ? AND instrument = ?)
           GROUP BY member""",
        [day, instrument, day, instrument],
    ).fetchall()
    return {str(member): int(tonnes) for member, tonnes in rows}


def standing_bids(con: duckdb.DuckDBPyConnection, auction_id: int) -> list[StandingBid]:
    """Each bid as it last stood before the auction closed (amended: the new terms; withdrawn: gone)."""
    rows = con.execute(
        """SELECT bid_id, account, price, quantity FROM (
               SELECT *, row_number() OVER (PARTITION BY bid_id ORDER BY seq DESC, ev DESC) AS latest
               FROM bid_events WHERE auction_id = ? AND event IN ('accepted', 'amended', 'withdrawn'))
           WHERE latest = 1 AND event <> 'withdrawn' ORDER BY bid_id""",
        [auction_id],
    ).fetchall()
    return [StandingBid(*row) for row in rows]


# ------------------------------------------------------------------------------------------ drawing


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, without the software/date metadata that would make them vary."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _cny_axis(axis: Axes) -> None:
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.2f}"))


def _hours(hour_minute: tuple[int, int]) -> float:
    return hour_minute[0] + hour_minute[1] / 60


def _clock_axis(axis: Axes, first: float, last: float) -> None:
    axis.set_xlim(first, last)
    axis.set_xticks(range(math.ceil(first), math.floor(last) + 1))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda hours, _pos: f"{int(hours) % 24:02d}:00"))


def price_volume_figure(
    instrument: str, day: int, trades: Sequence[TradePoint], alerted_trade_ids: Collection[int], close: int
) -> Figure:
    """The day's trade prices as a step line (CNY/t), the alerted trades ringed, the close (the day's
    VWAP, from the bulletin; 0: none) as a dashed line, and 5-minute volume bars below."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    prices_axis, volume_axis = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    times = chart_hours(day, [trade.ts for trade in trades])
    for axis in (prices_axis, volume_axis):
        axis.axvspan(_hours(LUNCH), _hours(RESUME), color="#eeeeee", linewidth=0)
    prices_axis.step(times, [t.price / 100 for t in trades], where="post", color=LINE_COLOUR, linewidth=1,
                     label="trade price")  # fmt: skip
    marked = alerted_points(trades, alerted_trade_ids)
    if marked:
        prices_axis.plot(
            chart_hours(day, [t.ts for t in marked]), [t.price / 100 for t in marked], linestyle="none", marker="o",
            markersize=7, markerfacecolor="none", markeredgecolor=ALERTED_COLOUR, markeredgewidth=1.5,
            label=ALERTED_LABEL,
        )  # fmt: skip
    if close:
        prices_axis.axhline(close / 100, color="#2e7d32", linestyle="--", linewidth=1,
                            label=f"close (VWAP) {close / 100:,.2f}")  # fmt: skip
    prices_axis.set_ylabel("price (CNY/t)")
    _cny_axis(prices_axis)
    prices_axis.legend(loc="upper left", fontsize="small", framealpha=0.8)  # "best" is slow on a busy day
    prices_axis.set_title(f"{instrument}: price and volume, exchange time (Asia/Shanghai)", fontsize="medium")
    bars = volume_bars(trades)
    volume_axis.bar(chart_hours(day, [start for start, _ in bars]), [tonnes for _, tonnes in bars],
                    width=VOLUME_BAR_S / 3_600, align="edge", color=OTHER_COLOUR)  # fmt: skip
    volume_axis.set_ylabel(f"t per {VOLUME_BAR_S // 60} min")
    _clock_axis(volume_axis, min([_hours(OPEN), *times]), max([_hours(CLOSE), *times]))
    return figure


def member_shares_figure(instrument: str, shares: Sequence[MemberShare]) -> Figure:
    """Horizontal bars of the members' shares of the day's tonnes (both sides counted), the largest
    on top, the members of alerted accounts in red; taller when more than the top members show."""
    height = max(HEIGHT_IN, 1.2 + 0.2 * len(shares))
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    axis = figure.subplots()
    ordered = list(reversed(shares))
    bars = axis.barh(
        [share.member for share in ordered],
        [share.share_bp / 100 for share in ordered],
        color=[ALERTED_COLOUR if share.alerted else OTHER_COLOUR for share in ordered],
    )
    axis.bar_label(bars, labels=[f"{share.share_bp / 100:.2f}%" for share in ordered], fontsize="x-small", padding=2)
    axis.set_xlabel("share of the day's traded tonnes, buy and sell sides both counted (%)")
    axis.set_title(f"{instrument}: members' volume shares", fontsize="medium")
    axis.tick_params(axis="y", labelsize="small")
    axis.margins(x=0.12)
    axis.legend(
        handles=[Patch(color=ALERTED_COLOUR, label="member of an alerted account"),
                 Patch(color=OTHER_COLOUR, label="other member")],
        loc="lower right", fontsize="small",
    )  # fmt: skip
    return figure


def auction_bids_figure(
    auction_id: int, bids: Sequence[StandingBid], alerted_bid_ids: Collection[int], floor: int, clearing_price: int
) -> Figure:
    """The auction's demand curve (price against cumulative tonnes), the alert's bids ringed, with the
    floor and the clearing price (0: none) as lines."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    axis = figure.subplots()
    curve = demand_curve(bids)
    axis.step([0, *(q for q, _ in curve)], [curve[0][1] / 100 if curve else 0, *(p / 100 for _, p in curve)],
              where="pre", color=LINE_COLOUR, linewidth=1, label="bids, highest first")  # fmt: skip
    by_id = {bid.bid_id: position for position, bid in enumerate(sorted(bids, key=lambda b: (-b.price, b.bid_id)))}
    marked = [curve[by_id[bid_id]] for bid_id in sorted(alerted_bid_ids) if bid_id in by_id]
    if marked:
        axis.plot([q for q, _ in marked], [p / 100 for _, p in marked], linestyle="none", marker="o",
                  markerfacecolor="none", markeredgecolor=ALERTED_COLOUR, markeredgewidth=1.5,
                  label="alerted bids")  # fmt: skip
    if floor:
        axis.axhline(floor / 100, color="#6d4c41", linestyle=":", linewidth=1, label=f"floor {floor / 100:,.2f}")
    if clearing_price:
        axis.axhline(clearing_price / 100, color="#2e7d32", linestyle="--", linewidth=1,
                     label=f"clearing price {clearing_price / 100:,.2f}")  # fmt: skip
    axis.set_xlabel("cumulative quantity (t)")
    axis.set_ylabel("bid price (CNY/t)")
    _cny_axis(axis)
    axis.set_title(f"auction {auction_id}: bids as they stood", fontsize="medium")
    axis.legend(loc="upper right", fontsize="small", framealpha=0.8)
    return figure
