"""``carbonx web``: the exchange's public website, from a running node's market data."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import structlog

from carbonx.cli.commands import help_of
from carbonx.config import load_config
from carbonx.endpoints import running_endpoints
from carbonx.errors import CarbonxError
from carbonx.web_records import WebRecords

HELP = help_of("web")
DESCRIPTION = """\
Serve the exchange's public website over HTTP, from a running node's public market data (the
real-time quotes, volumes, turnover and market information Decree 20 Art. 31 requires the exchange
to publish). It takes no orders and shows no member's private data.

Pages (labels in Chinese and English; prices in CNY, quantities in tonnes; red rises, green falls):
  /                    every instrument live: last, change, change %, best bid and ask, volume,
                       turnover, bulk volume, status (session, halted)
  /instrument/CODE     five levels per side with order counts, the last trades, the day's price and
                       volume chart, limit-up and limit-down, the reference price
  /bulk                the day's agreement transfers (bulk trades), apart from listing trades
  /bulletin            the daily bulletin, by date (past days from the end-of-day database)
  /auctions            auction notices, live state (window, cut-off; never a bid) and results; a
                       cleared auction's page draws its anonymised demand (or supply) curve, shows
                       the seed commitment and the revealed seed, and offers the results file that
                       `carbonx auction verify FILE` checks
Pages update live (Server-Sent Events, /api/stream) within milliseconds of the market-data
message, with no reloads. When the node is gone or the feed is stale, every page says so at once.
docs/WEB.md describes the routes and the JSON API.

The website is a process of its own, beside the node (`make run` starts both): a bridge
subscribes to market data and the snapshot service (gap recovery included), keeps the page's
state and streams its changes. Started mid-day it draws the whole day: the snapshot service keeps
the day's one-minute bars. It listens on 127.0.0.1 by default (node.toml [web] host and port);
put a reverse proxy in front to publish it.

The market-data endpoints are those of node.toml, or, when the node listens on ports it chose
itself, those it wrote into its data directory. Past bulletins are read, read-only, from the
end-of-day database of the data directory.
"""
EPILOG = """\
examples:
  carbonx web                                   what `make run` starts beside the node
  carbonx web --port 8081
  carbonx web --config /etc/carbonx --data-dir /srv/carbonx --host 0.0.0.0
  carbonx web --endpoint tcp://10.0.0.5:7002 --snapshot-endpoint tcp://10.0.0.5:7003
then open the URL it prints (http://127.0.0.1:8080/ by default).
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "web", help=HELP, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="config", metavar="DIR", help="config directory (default: config)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the node's data directory, for past bulletins (default: node.toml data_dir, var)",
    )
    parser.add_argument("--host", metavar="HOST", help="address to listen on (default: node.toml [web] host)")
    parser.add_argument("--port", type=int, metavar="N", help="port to listen on (default: node.toml [web] port)")
    parser.add_argument("--endpoint", metavar="E", help="market-data PUB endpoint (default: from the node)")
    parser.add_argument("--snapshot-endpoint", metavar="E", help="snapshot service endpoint (default: from the node)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from web.server import WebServer  # the node and the other commands never load aiohttp

    loaded = load_config(args.config)
    options = loaded.node.web
    data_dir: Path = args.data_dir or Path(loaded.node.data_dir)
    host: str = args.host or options.host
    port: int = options.port if args.port is None else args.port
    if not 0 <= port <= 65_535:
        raise CarbonxError(f"--port must be a TCP port (0-65535), got {port}")
    running = running_endpoints(data_dir)
    endpoint = args.endpoint or (running.market_data if running else loaded.node.market_data.endpoint)
    snapshot = args.snapshot_endpoint or (running.snapshot if running else loaded.node.market_data.snapshot_endpoint)
    server = WebServer(
        endpoint,
        snapshot,
        records=WebRecords(data_dir),
        max_streams=options.max_streams,
        stream_queue_bytes=options.stream_queue_bytes,
    )
    return asyncio.run(_serve(server, host, port, endpoint))


async def _serve(server: Any, host: str, port: int, endpoint: str) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        url = await server.start(host, port)
    except OSError as exc:
        raise CarbonxError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another web running? --port N)"
        ) from None
    structlog.get_logger("carbonx.web").info("web.started", url=url, market_data=endpoint)
    print(f"carbonx web: {url}   (market data {endpoint}; Ctrl-C stops)", flush=True)
    try:
        await stopping.wait()
    finally:
        await server.stop()
    print("carbonx web stopped", file=sys.stderr)
    return 0
