"""``carbonx quotes [INSTRUMENT ...]``: the live quotes of a running node, as a table or a board."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from typing import Any, TextIO

from carbonx.cli.commands import help_of
from carbonx.cli.feed import Feed, add_feed_options, feed_of, no_answer
from carbonx.errors import CarbonxError
from market_data.board import render
from market_data.overview import overview
from market_data.subscriber import Subscriber
from market_data.terminal import Paint

HELP = help_of("quotes")
DESCRIPTION = """\
Subscribe to the node's public market data and show it; the state comes from the snapshot service
first, then from the live feed, and gaps are recovered on their own.

Without an instrument: one line per instrument, sized for an 80x24 terminal: code, last price,
change against the reference price in percent, best bid and ask, volume (t), turnover (CNY) and
status (trading, lunch, closed, HALTED); on a day with agreement transfers, a "bulk t" column too.
When the instruments do not fit the terminal's height, a page of them is shown and the last line
says how many are not (--page N shows another).

With instruments: a board each: last price and change, reference price, open/high/low, the band's
limit-up and limit-down prices, volume, turnover, the five best ask and bid levels with quantity
and order count, today's last 5 trades (time, price, quantity, the aggressor's side), the session
and halt status. Prices are CNY per tonne; times are exchange time in the calendar's time zone.

Agreement transfers (bulk trades, negotiated off the order book) are outside the listing: they
set no price and count in none of the listing's figures. On a day with any, the board adds a
"bulk" line under the volume (the day's bulk volume, bulk turnover and number of transfers) and
the table its "bulk t" column.

"updated" is the exchange time of the newest change shown. STALE means nothing, not even a
heartbeat, came from the market-data feed within three heartbeat intervals: the node has stopped or
the network is cut, so the figures may be old. It clears when the feed speaks again.

Colour follows the Chinese market: red above the reference price (rising), green below
(falling). It is on for a terminal; off when NO_COLOR is set, TERM is dumb or the output is not a
terminal; --color always/never decides instead.

On a terminal the display redraws in place until Ctrl-C. --once prints it once and exits, for
scripts (every instrument then, not a page). The endpoints default to [market_data] of the config's
node.toml.
"""
EPILOG = """\
examples:
  carbonx quotes                              every instrument, one line each, live
  carbonx quotes SHEA2025                     the board of one instrument, live
  carbonx quotes SHEA2025 CCER --once         two boards, printed once
  carbonx quotes --once --color never > quotes.txt
  carbonx quotes --page 2                     the second page of a long list
  carbonx quotes --endpoint tcp://10.0.0.5:7002 --snapshot-endpoint tcp://10.0.0.5:7003
"""
CLEAR_HOME = "\x1b[H\x1b[2J"
REDRAW_S = 0.1  # at most ten redraws a second, however busy the feed
TABLE_CHANNELS = ("quote", "status")
BOARD_CHANNELS = ("quote", "depth", "trade", "status")
COLOR_CHOICES = ("auto", "always", "never")

# The clock STALE is judged by (time.monotonic(), as the subscriber's); a test may move it on.
clock = time.monotonic


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "quotes",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "instruments", nargs="*", metavar="INSTRUMENT", help="instruments to show in detail (default: a table of all)"
    )
    add_feed_options(parser)
    parser.add_argument("--once", action="store_true", help="print once and exit")
    parser.add_argument(
        "--page", type=int, metavar="N", help="the table's page N when the instruments do not fit the terminal"
    )
    parser.add_argument(
        "--color", choices=COLOR_CHOICES, default="auto", help="colour prices: auto (a terminal), always, never"
    )
    parser.set_defaults(run=run)


def colour_wanted(choice: str, stream: TextIO) -> bool:
    """Colour for ``stream``: always, never, or (auto) on a terminal unless NO_COLOR is set or TERM is dumb.

    NO_COLOR (https://no-color.org) counts when set to anything but the empty string.
    """
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def run(args: argparse.Namespace) -> int:
    if args.page is not None and args.page < 1:
        raise CarbonxError(f"--page must be >= 1, got {args.page}")
    feed = feed_of(args)
    requested = list(dict.fromkeys(args.instruments))
    with Subscriber(
        feed.endpoint,
        feed.snapshot_endpoint,
        instruments=requested or None,
        channels=BOARD_CHANNELS if requested else TABLE_CHANNELS,
        snapshot_timeout_ms=args.timeout_ms,
    ) as subscriber:
        if not subscriber.wait_synced(args.timeout_ms):
            raise no_answer(feed, args.timeout_ms)
        if requested:
            _check_known(requested, subscriber, feed, args.timeout_ms)
        screen = Screen(subscriber, requested, feed, args.page, colour_wanted(args.color, sys.stdout))
        if args.once:
            for line in screen.lines(clock(), terminal=False):
                print(line)
            return 0
        return _follow(subscriber, screen)


def _check_known(requested: list[str], subscriber: Subscriber, feed: Feed, timeout_ms: int) -> None:
    """An instrument the node does not publish is a one-line error naming those it does."""
    missing = [code for code in requested if code not in subscriber.instruments()]
    if not missing:
        return
    statuses = Subscriber(feed.endpoint, feed.snapshot_endpoint, channels=("status",), snapshot_timeout_ms=timeout_ms)
    with statuses:
        statuses.wait_synced(timeout_ms)
        known = statuses.instruments()
    raise CarbonxError(f"unknown instrument {missing[0]}; known: {', '.join(known) or 'none'}")


class Screen:
    """What is drawn: the table of every instrument, or the boards of those asked for."""

    def __init__(
        self,
        subscriber: Subscriber,
        requested: list[str],
        feed: Feed,
        page: int | None,
        colour: bool,
    ) -> None:
        self.subscriber = subscriber
        self.requested = requested
        self.feed = feed
        self.page = page
        self.paint = Paint(colour)

    def stale_at(self) -> float | None:
        """When the feed turns silent, by the interval it told or else the one the config expects."""
        return self.subscriber.silent_at(self.feed.heartbeat_ms)

    def stale(self, now: float) -> bool:
        return (at := self.stale_at()) is not None and now >= at

    def lines(self, now: float, *, terminal: bool) -> list[str]:
        """On a terminal the table is cut to its height (a page); elsewhere every instrument is shown."""
        size = shutil.get_terminal_size((100, 24))
        stale = self.stale(now)
        if self.requested:
            return render(self.subscriber, self.requested, size.columns, stale=stale, paint=self.paint, tz=self.feed.tz)
        height = size.lines if terminal or self.page is not None else None
        return overview(
            self.subscriber,
            self.subscriber.instruments(),
            width=size.columns,
            height=height,
            page=self.page or 1,
            stale=stale,
            paint=self.paint,
            tz=self.feed.tz,
        )


def _follow(subscriber: Subscriber, screen: Screen) -> int:
    """Redraw on every change, and when the feed turns stale or fresh, until Ctrl-C: in place on a
    terminal, appended otherwise."""
    terminal = sys.stdout.isatty()
    try:
        stale = screen.stale(clock())
        _draw(screen, terminal)
        drawn_at, changed = clock(), False
        while True:
            now = clock()
            wait_s = max(0.0, drawn_at + REDRAW_S - now) if changed else 1.0
            turns_stale = screen.stale_at()
            if not stale and turns_stale is not None:
                wait_s = min(wait_s, max(0.0, turns_stale - now))
            changed = bool(subscriber.poll(math.ceil(wait_s * 1000))) or changed
            now = clock()
            flipped = screen.stale(now) != stale
            if flipped or (changed and now >= drawn_at + REDRAW_S):
                stale = screen.stale(now)
                _draw(screen, terminal)
                drawn_at, changed = clock(), False
    except KeyboardInterrupt:
        if terminal:
            print()
        return 0


def _draw(screen: Screen, terminal: bool) -> None:
    lines = screen.lines(clock(), terminal=terminal)
    if terminal:
        # No newline after the last line: a full-height screen would scroll its first line away.
        sys.stdout.write(CLEAR_HOME + "\n".join(lines))
    else:
        sys.stdout.write("\n".join(lines) + "\n\n")
    sys.stdout.flush()
