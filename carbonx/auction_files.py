"""Auction input files: an announcement (or a one-way application) in TOML, and the listing
figures of past days (CSV or TOML) for the VWAP windows of price rules.

An announcement file names the auction's terms in the market's words; what it leaves out takes
the defaults: the bidding window is the morning session of ``calendar.toml`` (09:30-11:30), the
cut-off its end; caps, eligibility and k come from config ``[auction]`` for the purpose (the
engine fills them in, and ``AuctionAnnounced`` carries the terms as resolved). Every mistake is
one line naming the file and the key (``examples/auctions/buyback.toml: price: ...``).

Money is CNY as text with at most two decimals ("48.00"), or a whole number of yuan (48); a
TOML float (48.0) is refused, since it is not exact. Tonnes are whole numbers. Times are local
times of the calendar's time zone on the auction's ``date`` (a date, or "next_trading_day": the
first trading day after today), made ns since the epoch, UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from carbonx.errors import CarbonxError
from engine.config import Calendar
from engine.market_day.calendar import day_to_int
from engine.messages import AuctionKind, AuctionTerms, BidCap, DayFigures, Pricing, Purpose, TieBreak

NEXT_TRADING_DAY = "next_trading_day"
_NS_PER_S = 1_000_000_000

KINDS = {k.name.lower(): k for k in AuctionKind}
PURPOSES = {p.name.lower(): p for p in Purpose if p is not Purpose.NONE}
PRICINGS = {p.name.lower(): p for p in Pricing}
TIE_BREAKS = {t.name.lower(): t for t in TieBreak}

# Every key an announcement file may have; anything else is a typo worth one line.
ANNOUNCEMENT_KEYS = (
    "kind",
    "name",
    "purpose",
    "instrument",
    "auctioneer",
    "volume",
    "budget",
    "price",
    "vwap_k_bp",
    "vwap_from",
    "vwap_to",
    "price_cap",
    "date",
    "opens",
    "closes",
    "cutoff",
    "eligible_kinds",
    "caps",
    "bid_lot_t",
    "pricing",
    "tie_break",
    "cancel_if_undersubscribed",
    "cancel_below_reference_bp",
)
CAP_KEYS = ("kind", "max_t", "max_bp")
FIGURES_KEYS = ("instrument", "trading_day", "volume", "turnover", "close")


class AuctionFileError(CarbonxError):
    """An auction input file that cannot be read as one; ``str()`` names the file and the key."""


class Announcement(NamedTuple):
    terms: AuctionTerms  # seed_commitment still empty: the CLI makes the seed
    day: dt.date  # the auction day the window's times are on


# ---------------------------------------------------------------------------------------------- values


def cny_to_fen(value: object, where: str) -> int:
    """CNY as "48.00" (at most two decimals) or a whole number of yuan, as integer fen."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise AuctionFileError(f'{where}: {value!r} is not an amount in CNY (write it as text: "48.00")')
    try:
        fen = Decimal(str(value).replace(",", "").replace("_", "")) * 100
    except InvalidOperation:
        raise AuctionFileError(f'{where}: {value!r} is not an amount in CNY (e.g. "48.00")') from None
    if fen != fen.to_integral_value() or fen < 0:
        raise AuctionFileError(f"{where}: {value!r} must be a non-negative amount in CNY with at most 2 decimals")
    return int(fen)


def whole(value: object, where: str, *, unit: str = "") -> int:
    """A non-negative whole number (tonnes, basis points); text such as "100,000" is taken too."""
    if isinstance(value, str) and value.replace(",", "").replace("_", "").isdigit():
        return int(value.replace(",", "").replace("_", ""))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return _not_whole(value, where, unit)
    return value


def _not_whole(value: object, where: str, unit: str) -> int:
    raise AuctionFileError(f"{where}: {value!r} is not a whole number" + (f" of {unit}" if unit else ""))


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise AuctionFileError(f"{where}: {value!r} is not a date YYYY-MM-DD")


def _local_time(value: object, where: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise AuctionFileError(f'{where}: {value!r} is not a local time "HH:MM"')


def _name(value: object, where: str, names: Mapping[str, object]) -> Any:
    found = names.get(value) if isinstance(value, str) else None
    if found is None:
        raise AuctionFileError(f"{where}: {value!r} is not one of {', '.join(names)}")
    return found


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise AuctionFileError(f"{where}: {value!r} is not a name (text)")
    return value


def ns_at(day: dt.date, time: dt.time, zone: ZoneInfo) -> int:
    """A local time of the exchange's zone on ``day`` as ns since the epoch, UTC (integers only)."""
    local = dt.datetime.combine(day, time.replace(tzinfo=None), tzinfo=zone)
    return int(local.timestamp()) * _NS_PER_S + local.microsecond * 1_000


def auction_day(value: object, where: str, calendar: Calendar, today: dt.date) -> dt.date:
    """``date``: a trading day of the calendar, or "next_trading_day" (the first one after today)."""
    if value == NEXT_TRADING_DAY:
        return calendar.next_trading_day(today)
    day = _date(value, where)
    if not calendar.is_trading_day(day):
        raise AuctionFileError(f"{where}: {day} is not a trading day of the calendar (a weekend or a holiday)")
    return day


# ---------------------------------------------------------------------------------------------- announcements


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise AuctionFileError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as bad:
        raise AuctionFileError(f"{path}: not valid TOML: {bad}") from None


def load_announcement(
    path: Path,
    calendar: Calendar,
    *,
    today: dt.date | None = None,
    account: str = "",
) -> Announcement:
    """The terms an announcement file gives (``account``: a one-way seller's account when the
    file names no auctioneer); ``today`` in the calendar's zone unless given."""
    table = read_toml(path)
    zone = ZoneInfo(calendar.timezone)
    today = today or dt.datetime.now(zone).date()
    return announcement_from(table, str(path), calendar, today=today, account=account)


def announcement_from(
    table: Mapping[str, Any], source: str, calendar: Calendar, *, today: dt.date, account: str = ""
) -> Announcement:
    unknown = [key for key in table if key not in ANNOUNCEMENT_KEYS]
    if unknown:
        raise AuctionFileError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(ANNOUNCEMENT_KEYS)})")

    def at(key: str) -> str:
        return f"{source}: {key}"

    def get(key: str, read: Callable[[object, str], Any], default: Any) -> Any:
        return read(table[key], at(key)) if key in table else default

    if "kind" not in table:
        raise AuctionFileError(f"{at('kind')}: missing: one of {', '.join(KINDS)}")
    kind: AuctionKind = _name(table["kind"], at("kind"), KINDS)
    if "instrument" not in table:
        raise AuctionFileError(f"{at('instrument')}: missing: the instrument code, e.g. SHEA2025")
    purpose = _purpose(table, kind, at)
    # A one-way seller's account may come from the command line (or be the member's only account).
    auctioneer = get("auctioneer", _text, account if kind is AuctionKind.ONE_WAY else "")
    if not auctioneer and kind is not AuctionKind.ONE_WAY:
        raise AuctionFileError(f"{at('auctioneer')}: missing: {_AUCTIONEER[kind]}")
    if kind is AuctionKind.ONE_WAY and account and auctioneer != account:
        raise AuctionFileError(f"{at('auctioneer')}: {auctioneer} is not the applying account {account}")
    if "price" in table and any(k in table for k in ("vwap_k_bp", "vwap_from", "vwap_to", "price_cap")):
        raise AuctionFileError(f"{at('price')}: a fixed price and the VWAP rule (vwap_*, price_cap): give one")
    if "price" not in table and not ("vwap_from" in table and "vwap_to" in table):
        raise AuctionFileError(
            f"{at('price')}: missing: a fixed {'ceiling' if kind is AuctionKind.BUYBACK else 'floor'} "
            '("48.00"), or the VWAP rule: vwap_from and vwap_to (and vwap_k_bp, price_cap)'
        )
    day = auction_day(table.get("date", NEXT_TRADING_DAY), at("date"), calendar, today)
    zone = ZoneInfo(calendar.timezone)
    sessions = calendar.sessions
    opens = get("opens", _local_time, sessions.morning_open)
    closes = get("closes", _local_time, sessions.morning_close)
    cutoff = get("cutoff", _local_time, None)
    if closes <= opens:
        raise AuctionFileError(f"{at('closes')}: {closes:%H:%M} is not after opens {opens:%H:%M}")
    if cutoff is not None and not opens < cutoff <= closes:
        raise AuctionFileError(f"{at('cutoff')}: {cutoff:%H:%M} is not within the window {opens:%H:%M}-{closes:%H:%M}")
    terms = AuctionTerms(
        kind=kind,
        instrument=_text(table["instrument"], at("instrument")),
        auctioneer=auctioneer,
        volume=get("volume", lambda v, w: whole(v, w, unit="tonnes"), 0),
        budget=get("budget", cny_to_fen, 0),
        purpose=purpose,
        price=get("price", cny_to_fen, 0),
        vwap_k_bp=get("vwap_k_bp", whole, 0),
        vwap_from=day_to_int(_date(table["vwap_from"], at("vwap_from"))) if "vwap_from" in table else 0,
        vwap_to=day_to_int(_date(table["vwap_to"], at("vwap_to"))) if "vwap_to" in table else 0,
        price_cap=get("price_cap", cny_to_fen, 0),
        opens_at=ns_at(day, opens, zone),
        closes_at=ns_at(day, closes, zone),
        cutoff_at=ns_at(day, cutoff, zone) if cutoff is not None else 0,
        eligible_kinds=get("eligible_kinds", _kinds, None),
        caps=get("caps", _caps, None),
        bid_lot_t=get("bid_lot_t", lambda v, w: whole(v, w, unit="tonnes"), 0),
        pricing=get("pricing", lambda v, w: _name(v, w, PRICINGS), Pricing.UNIFORM),
        tie_break=get("tie_break", lambda v, w: _name(v, w, TIE_BREAKS), TieBreak.TIME),
        cancel_if_undersubscribed=get("cancel_if_undersubscribed", _flag, False),
        cancel_below_reference_bp=get("cancel_below_reference_bp", whole, 0),
        name=get("name", _text, ""),
    )
    _check_amounts(terms, at)
    return Announcement(terms=terms, day=day)


_AUCTIONEER = {
    AuctionKind.RESERVE_SALE: "the reserve account that sells, e.g. RESERVE",
    AuctionKind.BUYBACK: "the treasury account that buys, e.g. TREASURY",
}


def _purpose(table: Mapping[str, Any], kind: AuctionKind, at: Callable[[str], str]) -> Purpose:
    if kind is not AuctionKind.RESERVE_SALE:
        if "purpose" in table:
            raise AuctionFileError(f"{at('purpose')}: only a reserve sale has a purpose")
        return Purpose.NONE
    if "purpose" not in table:
        raise AuctionFileError(f"{at('purpose')}: missing: a reserve sale's purpose, one of {', '.join(PURPOSES)}")
    purpose: Purpose = _name(table["purpose"], at("purpose"), PURPOSES)
    return purpose


def _check_amounts(terms: AuctionTerms, at: Callable[[str], str]) -> None:
    if terms.kind is AuctionKind.BUYBACK:
        if bool(terms.volume) == bool(terms.budget):
            raise AuctionFileError(f"{at('volume')}: a buyback gives a volume (tonnes) or a budget (CNY), one of them")
    elif terms.budget:
        raise AuctionFileError(f"{at('budget')}: only a buyback has a budget")
    elif not terms.volume:
        raise AuctionFileError(f"{at('volume')}: missing: the tonnes offered")


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise AuctionFileError(f"{where}: {value!r} is not true or false")
    return value


def _kinds(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise AuctionFileError(f'{where}: {value!r} is not a list of account kinds, e.g. ["covered_entity"]')
    return [str(k) for k in value]


def _caps(value: object, where: str) -> list[BidCap]:
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise AuctionFileError(f'{where}: not a list of caps, e.g. [{{ kind = "institution", max_t = 50000 }}]')
    caps = []
    for n, cap in enumerate(value, 1):
        here = f"{where}[{n}]"
        unknown = [key for key in cap if key not in CAP_KEYS]
        if unknown:
            raise AuctionFileError(f"{here}: unknown key {unknown[0]!r} (known: {', '.join(CAP_KEYS)})")
        if "kind" not in cap or not ("max_t" in cap or "max_bp" in cap):
            raise AuctionFileError(f"{here}: a cap names its kind and max_t (tonnes) or max_bp (basis points)")
        caps.append(
            BidCap(
                kind=_text(cap["kind"], f"{here}.kind"),
                max_t=whole(cap.get("max_t", 0), f"{here}.max_t", unit="tonnes"),
                max_bp=whole(cap.get("max_bp", 0), f"{here}.max_bp"),
            )
        )
    return caps


# ---------------------------------------------------------------------------------------------- daily figures


def load_figures(path: Path) -> dict[str, list[DayFigures]]:
    """Past days' listing figures per instrument, each list ascending by day.

    CSV with the header ``instrument,trading_day,volume,turnover,close`` or TOML with one
    ``[[day]]`` table per row and the same keys: trading_day a date, volume tonnes, turnover and
    close CNY. Mistakes are one line naming FILE:LINE (CSV) or FILE: day[N] (TOML) and the column.
    """
    rows: list[tuple[str, Mapping[str, object]]]
    if path.suffix == ".csv":
        rows = _csv_rows(path)
    elif path.suffix == ".toml":
        days = read_toml(path).get("day")
        if not isinstance(days, list) or not days or not all(isinstance(d, dict) for d in days):
            raise AuctionFileError(f"{path}: no [[day]] tables (one per instrument and trading day)")
        rows = [(f"{path}: day[{n}]", d) for n, d in enumerate(days, 1)]
    else:
        raise AuctionFileError(f"{path}: not a .csv or .toml file")
    by_instrument: dict[str, list[DayFigures]] = {}
    for where, row in rows:
        missing = [key for key in FIGURES_KEYS if row.get(key) in (None, "")]
        unknown = [key for key in row if key not in FIGURES_KEYS]
        if missing or unknown:
            problem = f"missing {missing[0]}" if missing else f"unknown column {unknown[0]!r}"
            raise AuctionFileError(f"{where}: {problem} (columns: {', '.join(FIGURES_KEYS)})")
        figures = DayFigures(
            trading_day=day_to_int(_date(row["trading_day"], f"{where}: trading_day")),
            volume=whole(row["volume"], f"{where}: volume", unit="tonnes"),
            turnover=cny_to_fen(row["turnover"], f"{where}: turnover"),
            close=cny_to_fen(row["close"], f"{where}: close"),
        )
        by_instrument.setdefault(_text(row["instrument"], f"{where}: instrument"), []).append(figures)
    for days in by_instrument.values():
        days.sort(key=lambda d: d.trading_day)
    return by_instrument


def _csv_rows(path: Path) -> list[tuple[str, Mapping[str, object]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows: list[tuple[str, Mapping[str, object]]] = [(f"{path}:{reader.line_num}", dict(row)) for row in reader]
    except FileNotFoundError:
        raise AuctionFileError(f"{path}: no such file") from None
    if not rows:
        raise AuctionFileError(f"{path}: no rows (header: {','.join(FIGURES_KEYS)})")
    return rows
