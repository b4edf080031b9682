"""Where a running node's market data is, for the commands that read it (quotes, bulletin, regulator):
the --endpoint and --snapshot-endpoint options, their defaults from node.toml, and the one line for
a node that does not answer."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from carbonx.config import LoadedConfig, load_config
from carbonx.errors import CarbonxError
from market_data.board import EXCHANGE_TZ


class Feed(NamedTuple):
    """Where a node's market data is and how to read it, from the options and the config."""

    endpoint: str
    snapshot_endpoint: str
    heartbeat_ms: int  # the interval the config expects until the feed tells its own (0: unknown)
    tz: dt.tzinfo  # the exchange's time zone, for times


def add_endpoint_options(parser: Any, metavar: str = "E") -> None:
    """--endpoint and --snapshot-endpoint, on a parser or an argument group."""
    parser.add_argument("--endpoint", metavar=metavar, help="market-data PUB endpoint (default: from node.toml)")
    parser.add_argument(
        "--snapshot-endpoint", metavar=metavar, help="snapshot service endpoint (default: from node.toml)"
    )


def add_feed_options(parser: argparse.ArgumentParser) -> None:
    """--config, the endpoints and --timeout-ms: all a command that only reads market data needs."""
    parser.add_argument("--config", metavar="DIR", help="config directory (default: config)")
    add_endpoint_options(parser)
    parser.add_argument(
        "--timeout-ms",
        type=int,
        default=3000,
        metavar="N",
        help="how long to wait for the snapshot service (default: 3000)",
    )


def feed_of(args: argparse.Namespace, loaded: LoadedConfig | None = None) -> Feed:
    """The endpoints from the options, else the config's node.toml.

    ``loaded``: the config the command has read already. Without it the config is read when named
    or needed (both endpoints given and no --config: not at all).
    """
    if args.timeout_ms <= 0:
        raise CarbonxError(f"--timeout-ms must be > 0, got {args.timeout_ms}")
    endpoint, snapshot_endpoint = args.endpoint, args.snapshot_endpoint
    if loaded is None:
        if args.config is None and endpoint is not None and snapshot_endpoint is not None:
            return Feed(endpoint, snapshot_endpoint, 0, EXCHANGE_TZ)
        loaded = load_config(args.config or "config")
    options = loaded.node.market_data
    return Feed(
        endpoint or options.endpoint,
        snapshot_endpoint or options.snapshot_endpoint,
        options.heartbeat_ms,
        ZoneInfo(loaded.exchange.calendar.timezone),
    )


def no_answer(feed: Feed, timeout_ms: int, way_out: str = "") -> CarbonxError:
    """The one line for a node that does not answer: unreachable is a mistake the user can fix (exit 2).

    ``way_out``: what else the user may give, added to the question (e.g. "give --date").
    """
    also = f" {way_out}" if way_out else ""
    return CarbonxError(
        f"no answer from {feed.snapshot_endpoint} within {timeout_ms} ms (is carbonx serve running there?{also})"
    )
