"""``carbonx bulletin``: the daily bulletin, from a running node's market data or from a data directory."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import msgspec

from carbonx.cli.commands import help_of
from carbonx.cli.display import iso, trading_day_arg
from carbonx.cli.feed import add_feed_options, feed_of, no_answer
from carbonx.cli.recorded_days import (
    BULLETIN_PRICES,
    BULLETIN_UNITS,
    DayFigures,
    bulletin_table,
    change,
    end_of_day_database,
    recorded_day,
)
from carbonx.errors import CarbonxError
from carbonx.statements_db import DB_FILE, StatementStore
from market_data.board import change_bp
from market_data.subscriber import Subscriber

HELP = help_of("bulletin")
DESCRIPTION = """\
The daily bulletin is published at the end of each trading day: per instrument the reference price
(the previous close), open, high, low, last, close, the change of the close against the reference
(CNY and percent), the volume-weighted average price, volume, turnover and number of trades. The
close is the day's volume-weighted average price rounded to the tick (with no trade, the reference
price); it is the next trading day's reference price.

Agreement transfers (协议转让, bulk trades) are counted apart: their bulk volume (t), bulk turnover
and number of transfers. They are outside the listing, so they are in none of the prices, the
volume or the turnover above. The table shows them below the listing's, for the instruments that
had any (nothing on a day without); csv and json always carry them.

By default the bulletin comes from a running node: its snapshot service keeps the latest bulletin
of each instrument, published since the node started (--config, --endpoint and
--snapshot-endpoint as for `carbonx quotes`). With --data-dir it comes from the end-of-day database
of a data directory (carbonx.db), which keeps every trading day; no node is needed.

--date chooses the trading day: from a data directory any recorded day (default: the latest);
from a node only the day of the bulletin it holds.

Formats: table (for people: CNY with two decimals, tonnes, the change in percent; it leaves out
the change in CNY, the last trade's price, the VWAP and the number of trades to fit 80 columns; as
in carbonx eod report), csv (one row per instrument with every figure;
integers with the unit in each column name: _fen, _t, _fen_per_t; change_bp is the change in basis
points; the bulk columns come last) and json (one document, every figure, integers in fen, fen per
tonne and tonnes).
"""
EPILOG = """\
examples:
  carbonx bulletin                                  the latest bulletin of the running node
  carbonx bulletin --format csv > bulletin.csv
  carbonx bulletin --data-dir var --date 2026-11-23
                                                    any recorded day, no node needed
  carbonx bulletin --data-dir var --format json     the latest recorded day, as JSON
"""
FORMATS = ("table", "csv", "json")
CSV_COLUMNS = (
    "trading_day",
    "instrument",
    *(f"{name}_fen_per_t" for name in BULLETIN_PRICES),
    "change_fen_per_t",
    "change_bp",
    "volume_t",
    "turnover_fen",
    "trades",
    "bulk_volume_t",
    "bulk_turnover_fen",
    "bulk_trades",
)


class DayBulletin(NamedTuple):
    """A trading day's bulletin and where it was read."""

    trading_day: int
    source: str  # "the node at <endpoint>" or the database's path
    instruments: Sequence[DayFigures]


class BulletinUnavailable(CarbonxError):
    """The node holds no bulletin (of that day), or the data directory has none: one line saying what to do."""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "bulletin",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--date", type=trading_day_arg, metavar="DATE", help="the trading day: YYYY-MM-DD or YYYYMMDD (default: latest)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"read the data directory's {DB_FILE} instead of asking a running node",
    )
    add_feed_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        bulletin = from_data_dir(args.data_dir, args.date)
    else:
        feed = feed_of(args)
        with Subscriber(
            feed.endpoint, feed.snapshot_endpoint, channels=("bulletin",), snapshot_timeout_ms=args.timeout_ms
        ) as subscriber:
            if not subscriber.wait_synced(args.timeout_ms):
                raise no_answer(feed, args.timeout_ms)
            held = [b for b in map(subscriber.bulletin, subscriber.instruments()) if b is not None]
        bulletin = from_node(held, f"the node at {feed.snapshot_endpoint}", args.date)
    if args.format == "csv":
        write_csv(bulletin, sys.stdout)
    elif args.format == "json":
        sys.stdout.write(json_document(bulletin).decode() + "\n")
    else:
        for line in table(bulletin):
            print(line)
    return 0


def from_node(held: Sequence[DayFigures], source: str, day: int | None) -> DayBulletin:
    """The newest day among the bulletins a node holds; ``day`` another: a one-line error."""
    if not held:
        raise BulletinUnavailable(
            f"{source} holds no bulletin yet: it is published at the end of the trading day, and a node keeps"
            " the latest one; for an earlier day use --data-dir DIR"
        )
    latest = max(b.trading_day for b in held)
    if day is not None and day != latest:
        raise BulletinUnavailable(
            f"{source} holds the bulletin of {iso(latest)} only, not of {iso(day)}; for other days use --data-dir DIR"
        )
    shown = sorted((b for b in held if b.trading_day == latest), key=lambda b: b.instrument)
    return DayBulletin(trading_day=latest, source=source, instruments=shown)


def from_data_dir(data_dir: Path, day: int | None) -> DayBulletin:
    """The bulletin of ``day`` (None: the latest recorded) from the data directory's end-of-day database."""
    db = end_of_day_database(data_dir)
    with StatementStore.open(db) as store:
        chosen = recorded_day(store, db, day)
        return DayBulletin(trading_day=chosen, source=str(db), instruments=store.bulletins(chosen))


# ---------------------------------------------------------------------------------------------- formats


def table(bulletin: DayBulletin) -> list[str]:
    return [
        f"Daily bulletin, trading day {iso(bulletin.trading_day)}, from {bulletin.source}",
        BULLETIN_UNITS,
        *bulletin_table(bulletin.instruments),
    ]


def csv_rows(bulletin: DayBulletin) -> list[dict[str, object]]:
    day = iso(bulletin.trading_day)
    return [
        {"trading_day": day, "instrument": b.instrument}
        | {f"{name}_fen_per_t": getattr(b, name) for name in BULLETIN_PRICES}
        | {
            "change_fen_per_t": change(b),
            "change_bp": change_bp(change(b), b.reference_price) if b.reference_price > 0 else "",
            "volume_t": b.volume,
            "turnover_fen": b.turnover,
            "trades": b.trades,
            "bulk_volume_t": b.bulk_volume,
            "bulk_turnover_fen": b.bulk_turnover,
            "bulk_trades": b.bulk_trades,
        }
        for b in bulletin.instruments
    ]


def write_csv(bulletin: DayBulletin, out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(bulletin))


def json_document(bulletin: DayBulletin) -> bytes:
    """One JSON document: the day, where it was read, and per instrument its figures (integers)."""
    document = {
        "trading_day": iso(bulletin.trading_day),
        "source": bulletin.source,
        "units": {"money": "fen", "price": "fen per tonne", "quantity": "tonnes", "change_bp": "basis points"},
        "instruments": [
            {"instrument": b.instrument}
            | {name: getattr(b, name) for name in BULLETIN_PRICES}
            | {
                "change": change(b),
                "change_bp": change_bp(change(b), b.reference_price) if b.reference_price > 0 else None,
                "volume": b.volume,
                "turnover": b.turnover,
                "trades": b.trades,
                "bulk_volume": b.bulk_volume,
                "bulk_turnover": b.bulk_turnover,
                "bulk_trades": b.bulk_trades,
            }
            for b in bulletin.instruments
        ],
    }
    return msgspec.json.format(msgspec.json.encode(document), indent=2)
