"""The bridge: market data in through the subscriber SDK, the page's state and its changes out.

It runs on a thread of its own, because the SDK waits in ZeroMQ's poll; the web server's event
loop only reads what the bridge keeps (``document``, ``curve``, ``auction``) and receives the
changes through ``on_output``, one call per batch, already encoded as Server-Sent Events, in order.

- Gap recovery is the SDK's: a lost message, a lost last message, a node restart (new epoch).
- After the first sync, and after every new epoch, the state is rebuilt from the subscriber
  (``PageState.reset``), the day's one-minute bars are fetched from the snapshot service, and the
  browsers are sent the whole state again.
- A cleared auction's anonymised bid list is fetched once, for its curve and results file; the
  page is told when it is there (the auction's ``curve``), and a failed fetch is asked again.
- Nothing is asked of the snapshot service while the node's connection is down (each question
  would wait its whole timeout): the questions wait for the connection to come back.
- The feed's health goes to the page at once: ``down`` the moment the node's end of the TCP
  connection closes (the SDK's socket monitor), ``stale`` when nothing came for three heartbeat
  intervals, ``connecting`` until the first sync, else ``live``.

Nothing a market-data message holds can stop the bridge: a failure while handling one batch is
logged (one line) and the state is rebuilt from the subscriber at the next turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from market_data.messages import SILENT_AFTER_HEARTBEATS, AuctionBid, AuctionSnapshot
from market_data.snapshot_client import MarketDataError
from market_data.subscriber import Subscriber
from web.state import Json, PageState

_log = structlog.get_logger("carbonx.web")

POLL_MS = 100  # the longest the thread waits in one poll: how soon it notices a stop request
BARS_RETRY_S = 2.0  # after a failed bars request
BIDS_RETRY_S = (2.0, 60.0)  # after a failed request for a cleared auction's bids: first, doubling up to
_encoder = msgspec.json.Encoder()

FEED_TEXT = {
    "connecting": "正在连接行情 Connecting to market data…",
    "down": "交易系统连接中断 The exchange is unreachable: prices shown may be out of date",
    "stale": "行情中断 No market data for {seconds} s: prices shown may be out of date",
    "live": "实时行情 Live",
}


def _seconds(ms: int) -> str:
    """``ms`` as seconds to a tenth, without a float: 600 -> "0.6", 3000 -> "3"."""
    whole, tenths = divmod(ms // 100, 10)
    return f"{whole}.{tenths}" if tenths else str(whole)


def sse(event: str, data: Json) -> bytes:
    """One Server-Sent Event: ``event: NAME`` and its JSON on one ``data:`` line."""
    return b"event: " + event.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


class Bridge:
    def __init__(
        self,
        endpoint: str,
        snapshot_endpoint: str,
        *,
        on_output: Callable[[int, bytes, bool], None],
        snapshot_timeout_ms: int = 2_000,
        subscriber: Subscriber | None = None,
    ) -> None:
        """``on_output(version, chunk, whole)``: called on the bridge's thread with each batch of
        changes (``whole`` False) or a whole new state (``whole`` True), encoded as SSE."""
        self.page = PageState()
        self.lock = threading.Lock()  # held while the page changes, and while a reader reads it
        self._on_output = on_output
        self._subscriber = subscriber or Subscriber(
            endpoint, snapshot_endpoint, snapshot_timeout_ms=snapshot_timeout_ms, watch_connection=True
        )
        self._epoch: int | None = None
        self._bars_due = 0.0  # monotonic time of the next bars request (0: none wanted)
        self._bids_due: dict[int, tuple[float, float]] = {}  # auction id -> (when to ask again, wait after)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.failures = 0

    # ------------------------------------------------------------------ the thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="carbonx-web-bridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._subscriber.close()

    def run(self) -> None:
        while not self._stop.is_set():
            self.turn(POLL_MS)

    def turn(self, timeout_ms: int) -> None:
        """One poll of the subscriber and what follows from it; never raises."""
        try:
            self._turn(timeout_ms)
        except Exception as exc:  # a bug met by one batch must not stop the website
            self.failures += 1
            self._epoch = None  # rebuild from the subscriber at the next turn
            _log.error("web.bridge_failed", error_type=type(exc).__name__, error=str(exc)[:200])

    def _turn(self, timeout_ms: int) -> None:
        subscriber = self._subscriber
        messages = subscriber.poll(timeout_ms)
        if subscriber.synced and subscriber.epoch != self._epoch:
            self._epoch = subscriber.epoch
            with self.lock:
                self.page.reset(subscriber)
                self.page.set_feed(*self._feed())
                version, whole = self.page.version, sse("state", self.page.document())
            self._on_output(version, whole, True)
            self._bars_due = time.monotonic()
        elif messages:
            with self.lock:
                day = self.page.trading_day
                changes = self.page.apply(messages)
                version, new_day = self.page.version, self.page.trading_day != day
            if changes:
                self._emit(version, changes)
            if new_day:
                self._bars_due = time.monotonic()  # the new day's bars (a restored node may hold some)
        with self.lock:
            changes = self.page.set_feed(*self._feed())
            version = self.page.version
        if changes:
            self._emit(version, changes)
        if subscriber.connected is not False:
            if self._bars_due and time.monotonic() >= self._bars_due:
                self._fetch_bars()
            self._fetch_auction_bids()
        self.batches += 1

    def _emit(self, version: int, changes: list[Json]) -> None:
        self._on_output(version, sse("changes", {"v": version, "changes": changes}), False)

    def _feed(self) -> tuple[str, str]:
        subscriber = self._subscriber
        if subscriber.connected is False:
            state = "down"
        elif not subscriber.synced or self._epoch is None:
            state = "connecting"
        elif subscriber.feed_silent:
            state = "stale"
        else:
            return "live", FEED_TEXT["live"]
        return state, FEED_TEXT[state].format(seconds=_seconds(SILENT_AFTER_HEARTBEATS * subscriber.heartbeat_ms))

    def _fetch_bars(self) -> None:
        try:
            reply = self._subscriber.fetch_bars()
        except MarketDataError as exc:
            _log.warning("web.bars_unavailable", error=str(exc))
            self._bars_due = time.monotonic() + BARS_RETRY_S
            return
        self._bars_due = 0.0
        with self.lock:
            if reply.epoch != self._epoch:
                return  # an answer from before the node restarted: the reset asks again
            changes = self.page.set_bars(reply)  # another day's: none, the new day asks again
            version = self.page.version
        if changes:
            self._emit(version, changes)

    def _fetch_auction_bids(self) -> None:
        with self.lock:
            wanted = self.page.cleared_without_bids()
        now = time.monotonic()
        self._bids_due = {key: due for key, due in self._bids_due.items() if key in wanted}
        for auction_id in wanted:
            due, wait = self._bids_due.get(auction_id, (0.0, BIDS_RETRY_S[0]))
            if due > now:
                continue
            try:
                bids = self._subscriber.fetch_all_auction_bids(auction_id)
            except MarketDataError as exc:
                # No curve and no results file until the bids come: a file without them would not verify.
                _log.warning("web.auction_bids_unavailable", auction_id=auction_id, error=str(exc))
                self._bids_due[auction_id] = (now + wait, min(2 * wait, BIDS_RETRY_S[1]))
                continue
            self._bids_due.pop(auction_id, None)
            with self.lock:
                changes = self.page.set_auction_bids(auction_id, bids)
                version = self.page.version
            if changes:
                self._emit(version, changes)

    # ------------------------------------------------------------------ readers (the server's thread)
    def document(self) -> tuple[int, bytes]:
        """The whole state as an SSE ``state`` event, and its version."""
        with self.lock:
            return self.page.version, sse("state", self.page.document())

    def state_json(self) -> bytes:
        with self.lock:
            return _encoder.encode(self.page.document())

    def curve(self, auction_id: int) -> Json | None:
        with self.lock:
            return self.page.curve(auction_id)

    def auction(self, auction_id: int) -> tuple[AuctionSnapshot, list[AuctionBid]] | None:
        """A cleared auction's messages and its bid list, once the bridge has both."""
        with self.lock:
            auction, bids = self.page.auctions.get(auction_id), self.page.auction_bids.get(auction_id)
        if auction is None or bids is None or auction.results is None:
            return None
        return auction, bids

    def figures(self) -> dict[str, Any]:
        """The bridge's counters, for /api/health."""
        subscriber = self._subscriber
        return {
            "batches": self.batches,
            "failures": self.failures,
            "gaps": subscriber.gaps_detected,
            "recoveries": subscriber.recoveries,
            "epoch_changes": subscriber.epoch_changes,
            "disconnections": subscriber.disconnections,
        }
