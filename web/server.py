"""The public website's HTTP server (aiohttp): pages, the JSON API and the live stream.

Public data only: it takes no orders and reads no member's private data. Every page path serves
the same ``static/index.html``, whose script draws the page from ``/api/stream`` (Server-Sent
Events: the whole state, then its changes). docs/WEB.md lists the routes and every value.

The past (bulletins of ended days) comes from the end-of-day database through ``Records``, which
the command line gives (``carbonx.web_records``), read-only; a cleared auction's results file is
built by the same code as ``carbonx auction results --format json``, so ``carbonx auction verify``
checks the file the page offers.

Whatever a browser sends, the server answers within bounds: unknown paths get 404, a bad day or
id 400 or 404 with one line of JSON, at most ``max_streams`` live streams are open (503 beyond),
and a stream that falls behind is sent the whole state again rather than queued without end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import structlog
from aiohttp import web

from market_data.messages import AuctionBid, AuctionNotice, AuctionResults
from web.bridge import Bridge
from web.hub import Hub

STATIC = Path(__file__).parent / "static"
PING_S = 5.0  # a stream with nothing to say sends a comment this often
PAGES = ("/", "/bulk", "/bulletin", "/bulletin/{day}", "/auctions", "/auctions/{auction_id}", "/instrument/{code}")
_log = structlog.get_logger("carbonx.web")
_NO_CACHE = {"Cache-Control": "no-store"}


class Records(Protocol):
    """What the site reads beyond the live feed: the end-of-day database and the results files."""

    def trading_days(self) -> list[int]:
        """Days with an end-of-day record, newest first."""
        ...

    def bulletins(self, trading_day: int) -> list[dict[str, Any]]:
        """The day's bulletin, one value per instrument (docs/WEB.md BULLETIN); [] for none."""
        ...

    def results_file(self, notice: AuctionNotice, results: AuctionResults, bids: list[AuctionBid]) -> str:
        """A cleared auction's results file (JSON text) that ``carbonx auction verify`` checks."""
        ...


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=_NO_CACHE)


def _day(text: str) -> int:
    """``YYYYMMDD`` or ``YYYY-MM-DD`` as an int day; ValueError otherwise."""
    day = dt.date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")
    if len(text) not in (8, 10):
        raise ValueError(text)
    return day.year * 10_000 + day.month * 100 + day.day


class Site:
    """The routes, over a bridge (the live state) and its hub (the streams)."""

    def __init__(self, bridge: Bridge, hub: Hub, records: Records | None) -> None:
        self.bridge = bridge
        self.hub = hub
        self.records = records
        self._index = (STATIC / "index.html").read_bytes()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_log_errors], client_max_size=4_096)
        for path in PAGES:
            app.router.add_get(path, self.page)
        app.router.add_get("/api/state", self.state)
        app.router.add_get("/api/stream", self.stream)
        app.router.add_get("/api/health", self.health)
        app.router.add_get("/api/bulletin/days", self.bulletin_days)
        app.router.add_get("/api/bulletin/{day}", self.bulletin)
        app.router.add_get("/api/auctions/{auction_id}/curve", self.curve)
        app.router.add_get("/api/auctions/{auction_id}/results.json", self.results_file)
        app.router.add_static("/static", STATIC, follow_symlinks=False)
        return app

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._index, content_type="text/html", charset="utf-8", headers=_NO_CACHE)

    async def state(self, request: web.Request) -> web.Response:
        return web.Response(body=self.bridge.state_json(), content_type="application/json", headers=_NO_CACHE)

    async def health(self, request: web.Request) -> web.Response:
        figures = {"feed": self.bridge.page.feed["state"], "streams": len(self.hub.clients), **self.bridge.figures()}
        return web.json_response(figures, headers=_NO_CACHE)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        client = self.hub.join()
        if client is None:
            return _error(503, f"too many live streams (max_streams={self.hub.max_clients}); try again later")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
        try:
            await response.prepare(request)
            await response.write(b"retry: 1000\n\n")
            while True:
                await response.write(await self.hub.next(client, PING_S))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.hub.leave(client)
        return response

    async def bulletin_days(self, request: web.Request) -> web.Response:
        days = self.records.trading_days() if self.records is not None else []
        return web.json_response({"days": days}, headers=_NO_CACHE)

    async def bulletin(self, request: web.Request) -> web.Response:
        text = request.match_info["day"]
        try:
            day = _day(text)
        except ValueError:
            return _error(400, f"not a trading day: {text[:20]!r} (YYYYMMDD or YYYY-MM-DD)")
        bulletins = self.records.bulletins(day) if self.records is not None else []
        if not bulletins:
            return _error(404, f"no bulletin for {day}: not a trading day that has ended")
        return web.json_response({"trading_day": day, "bulletins": bulletins}, headers=_NO_CACHE)

    def _auction_id(self, request: web.Request) -> int | None:
        text = request.match_info["auction_id"]
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None

    async def curve(self, request: web.Request) -> web.Response:
        auction_id = self._auction_id(request)
        curve = self.bridge.curve(auction_id) if auction_id is not None else None
        if curve is None:
            return _error(404, "no curve: the auction is unknown or not cleared yet")
        return web.json_response(curve, headers=_NO_CACHE)

    async def results_file(self, request: web.Request) -> web.Response:
        auction_id = self._auction_id(request)
        found = self.bridge.auction(auction_id) if auction_id is not None else None
        if found is None or self.records is None:
            return _error(404, "no results file: the auction is unknown or not cleared yet")
        auction, bids = found
        assert auction.results is not None  # Bridge.auction returns cleared auctions only
        text = self.records.results_file(auction.notice, auction.results, bids)
        return web.Response(
            text=text,
            content_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="auction-{auction_id}-results.json"', **_NO_CACHE},
        )


@web.middleware
async def _log_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A failure inside a handler is one log line and a 500 with one line of JSON, never a traceback page."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        _log.error("web.request_failed", path=request.path[:200], error_type=type(exc).__name__, error=str(exc)[:200])
        return web.Response(text=json.dumps({"error": "internal error"}), status=500, content_type="application/json")


class WebServer:
    """The bridge's thread, the hub and the HTTP server, run on one asyncio loop until stopped."""

    def __init__(
        self,
        endpoint: str,
        snapshot_endpoint: str,
        *,
        records: Records | None,
        max_streams: int = 1_000,
        stream_queue_bytes: int = 8 << 20,
        snapshot_timeout_ms: int = 2_000,
    ) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bridge = Bridge(
            endpoint, snapshot_endpoint, on_output=self._from_bridge, snapshot_timeout_ms=snapshot_timeout_ms
        )
        self.hub = Hub(self.bridge.document, max_clients=max_streams, max_queued_bytes=stream_queue_bytes)
        self.site = Site(self.bridge, self.hub, records)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def _from_bridge(self, version: int, chunk: bytes, whole: bool) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.hub.publish, version, chunk, whole)

    async def start(self, host: str, port: int) -> str:
        """Bind and start; the URL it serves at. Raises ``OSError`` when the port cannot be bound."""
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.site.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        # The bound socket tells the port when 0 asked for any free one.
        sockets = getattr(site._server, "sockets", None) or ()
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound_port}/"
        self.bridge.start()
        return self.url

    async def stop(self) -> None:
        self.bridge.stop()
        if self._runner is not None:
            await self._runner.cleanup()
