"""The bridge (web/bridge.py): the subscriber SDK in, the page's state and its changes out as SSE.

Most tests drive ``Bridge.turn`` over a fake subscriber whose ``poll`` returns what the test
queued; the last one runs a real node as a subprocess, trades through the gateway and loses a
market-data message on purpose (the SDK's ``discard`` hook): the page recovers and ends where a
fresh reset of the same subscriber is.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.messages import AuctionStatus, Side
from gateway.client import MemberClient
from market_data.messages import AuctionBid, AuctionSnapshot, BarsReply, ChannelPayload
from market_data.snapshot_client import MarketDataError
from market_data.subscriber import Subscriber
from tests.node_process import NodeProcess, make_config
from tests.test_web_state import BIDS, DAY1, E, Source, T, bars_reply, market, notice, quote, results, trade
from web import bridge as bridge_module
from web.bridge import BARS_RETRY_S, BIDS_RETRY_S, Bridge
from web.state import PageState

E2 = E + 1  # the node restarted


class FakeSubscriber(Source):
    """What the bridge reads of ``market_data.subscriber.Subscriber``, set by the test."""

    def __init__(self) -> None:
        super().__init__(market_status=market())
        self.synced, self.epoch = False, E
        self.connected: bool | None = True
        self.feed_silent, self.heartbeat_ms = False, 200
        self.polls: deque[list[Any]] = deque()  # what each poll returns, in turn
        self.bars: deque[BarsReply | Exception] = deque()  # what each fetch_bars gives (none left: no bars)
        self.bars_asked = 0
        self.bids: dict[int, list[AuctionBid] | Exception] = {}
        self.bids_asked: list[int] = []
        self.gaps_detected = self.recoveries = self.epoch_changes = self.disconnections = 0
        self.closed = False

    def poll(self, timeout_ms: int) -> list[ChannelPayload]:
        return self.polls.popleft() if self.polls else []

    def fetch_bars(self, instruments: tuple[str, ...] = ()) -> BarsReply:
        self.bars_asked += 1
        reply = self.bars.popleft() if self.bars else BarsReply(request_id=1, epoch=self.epoch, trading_day=0, items=[])
        if isinstance(reply, Exception):
            raise reply
        return reply

    def fetch_all_auction_bids(self, auction_id: int) -> list[AuctionBid]:
        self.bids_asked.append(auction_id)
        bids = self.bids[auction_id]
        if isinstance(bids, Exception):
            raise bids
        return bids

    def close(self) -> None:
        self.closed = True


class Output:
    """``on_output``'s calls, decoded: (version, event, data, whole)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, Any, bool]] = []

    def __call__(self, version: int, chunk: bytes, whole: bool) -> None:
        event, data, blank = chunk.decode().split("\n", 2)
        assert event.startswith("event: ") and data.startswith("data: ") and blank == "\n"
        self.calls.append((version, event.removeprefix("event: "), json.loads(data.removeprefix("data: ")), whole))

    def take(self) -> list[tuple[int, str, Any, bool]]:
        calls, self.calls = self.calls, []
        return calls

    def kinds(self) -> list[str]:
        return [c["kind"] for _, event, data, _ in self.take() if event == "changes" for c in data["changes"]]


def synced(fake: FakeSubscriber | None = None) -> tuple[Bridge, FakeSubscriber, Output]:
    """A bridge over ``fake`` after its first sync; the outputs of that sync taken."""
    fake = fake or FakeSubscriber()
    output = Output()
    bridge = Bridge("tcp://unused:1", "tcp://unused:2", on_output=output, subscriber=fake)  # type: ignore[arg-type]
    fake.synced = True
    bridge.turn(0)
    output.take()
    return bridge, fake, output


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------ sync and changes


def test_the_first_sync_sends_the_whole_state_then_the_days_bars() -> None:
    fake, output = FakeSubscriber(), Output()
    fake.values[("quote", "SHEA2025")] = quote(last=8012, change=12, trades=1)
    fake.bars.append(bars_reply(2, [(T, 8000, 10), (T + 60 * 10**9, 8012, 5)]))
    bridge = Bridge("tcp://unused:1", "tcp://unused:2", on_output=output, subscriber=fake)  # type: ignore[arg-type]

    bridge.turn(0)  # not synced yet: nothing to send
    assert output.take() == [] and bridge.page.feed["state"] == "connecting" and fake.bars_asked == 0
    fake.synced = True
    bridge.turn(0)

    (v1, state, document, whole), (v2, event, batch, partial) = output.take()
    assert (state, whole, event, partial) == ("state", True, "changes", False)
    assert v1 == document["version"] and document["feed"]["state"] == "live"
    assert document["quotes"]["SHEA2025"]["last"] == 8012 and document["bars"] == {}
    assert v2 == batch["v"] == v1 + 1 and [c["kind"] for c in batch["changes"]] == ["bars"]
    assert [bar[1] for bar in batch["changes"][0]["bars"]] == [8000, 8012]
    assert fake.bars_asked == 1 and bridge.document()[0] == v2
    assert json.loads(bridge.state_json())["bars"]["SHEA2025"][1][5] == 5


def test_messages_become_changes_in_one_batch() -> None:
    bridge, fake, output = synced()
    fake.polls.append([quote(seq=2, last=8050, change=50, trades=1), trade(1, T, 8050, 300)])

    bridge.turn(0)

    ((version, event, data, whole),) = output.take()
    assert (event, whole, version, data["v"]) == ("changes", False, bridge.page.version, bridge.page.version)
    assert [c["kind"] for c in data["changes"]] == ["quote", "trade", "bar"]
    assert data["changes"][0]["quote"]["change_pct"] == "+0.63%"
    bridge.turn(0)  # nothing new: nothing sent
    assert output.take() == [] and bridge.batches == 3


def test_a_recovered_gap_updates_the_page() -> None:
    bridge, fake, output = synced()
    fake.polls.append([trade(1, T, 8000, 10)])
    bridge.turn(0)
    # trade 2 was lost; the SDK asked the snapshot service and hands over trades 2 and 3 in order.
    fake.gaps_detected, fake.recoveries = 1, 1
    fake.polls.append([trade(2, T + 1, 8010, 5), trade(3, T + 2, 8020, 1)])

    bridge.turn(0)

    assert output.kinds() == ["trade", "bar", "trade", "bar", "trade", "bar"]
    document = bridge.page.document()
    assert [t["trade_id"] for t in document["trades"]["SHEA2025"]] == [1, 2, 3]
    assert document["bars"]["SHEA2025"][0][5] == 16
    assert (bridge.figures()["gaps"], bridge.figures()["recoveries"]) == (1, 1)


def test_a_new_epoch_sends_the_whole_state_again_and_fetches_the_bars_again() -> None:
    bridge, fake, output = synced()
    fake.polls.append([trade(1, T, 8000, 10)])
    bridge.turn(0)
    output.take()

    fake.synced, fake.epoch_changes = False, 1  # the SDK noticed the restart and resyncs
    bridge.turn(0)
    assert output.kinds() == ["feed"] and bridge.page.feed["state"] == "connecting"
    fake.synced, fake.epoch = True, E2
    fake.values[("trades", "SHEA2025")] = [trade(1, T + 5, 7990, 3)]  # the restarted node's feed
    fake.values[("quote", "SHEA2025")] = quote(last=7990, change=-10, trades=1)
    fake.bars.append(BarsReply(request_id=2, epoch=E2, trading_day=DAY1, items=[]))
    bridge.turn(0)

    ((_, event, document, whole),) = output.take()
    assert (event, whole, document["feed"]["state"]) == ("state", True, "live")
    assert [(t["price"], t["quantity"]) for t in document["trades"]["SHEA2025"]] == [(7990, 3)]
    assert fake.bars_asked == 2 and bridge.figures()["epoch_changes"] == 1


def test_bars_of_the_epoch_before_are_not_shown() -> None:
    fake = FakeSubscriber()
    items = bars_reply(1, [(T, 8000, 10)]).items
    fake.bars.append(BarsReply(request_id=1, epoch=E2, trading_day=DAY1, items=items))  # the node restarted since

    bridge, _, _ = synced(fake)

    assert bridge.page.document()["bars"] == {} and fake.bars_asked == 1


# ------------------------------------------------------------------------------------ the feed's health


def test_the_feed_goes_down_at_once_and_live_again() -> None:
    bridge, fake, output = synced()

    fake.connected = False
    bridge.turn(0)
    ((_, _, down, _),) = output.take()
    fake.connected = True
    bridge.turn(0)

    assert down["changes"][0]["feed"]["state"] == "down" and "\n" not in down["changes"][0]["feed"]["text"]
    assert output.kinds() == ["feed"] and bridge.page.feed["state"] == "live"


def test_a_silent_feed_is_stale() -> None:
    bridge, fake, output = synced()

    fake.feed_silent = True
    bridge.turn(0)

    (change,) = [c for _, _, data, _ in output.take() for c in data["changes"]]
    assert change["feed"]["state"] == "stale"
    assert "行情中断" in change["feed"]["text"] and "No market data for 0.6 s" in change["feed"]["text"]  # 3 × 200 ms


# ------------------------------------------------------------------------------------ failures


def test_a_failed_bars_request_is_retried_later_and_the_page_is_served_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(bridge_module, "time", clock)
    fake = FakeSubscriber()
    fake.bars.extend([MarketDataError("the snapshot service did not answer"), bars_reply(0, [(T, 8000, 10)])])

    bridge, _, output = synced(fake)
    assert fake.bars_asked == 1 and bridge.page.document()["bars"] == {}
    assert json.loads(bridge.state_json())["feed"]["state"] == "live"
    clock.now += BARS_RETRY_S - 0.001
    bridge.turn(0)
    assert fake.bars_asked == 1
    clock.now += 0.002
    bridge.turn(0)

    assert fake.bars_asked == 2 and output.kinds() == ["bars"]
    bridge.turn(0)
    assert fake.bars_asked == 2  # once answered, not asked again


def test_a_failure_inside_a_batch_is_counted_and_the_next_turn_rebuilds() -> None:
    bridge, fake, output = synced()
    fake.polls.append([object()])  # not a market-data message: apply raises

    bridge.turn(0)
    assert (bridge.failures, output.take()) == (1, [])
    bridge.turn(0)

    ((_, event, document, whole),) = output.take()
    assert (event, whole, document["version"]) == ("state", True, bridge.page.version)
    assert fake.bars_asked == 2 and bridge.failures == 1


def cleared_auction() -> AuctionSnapshot:
    return AuctionSnapshot(auction_id=1, seq=4, status=AuctionStatus.CLEARED, notice=notice(), results=results())


def test_a_cleared_auctions_bids_are_fetched_once_for_its_curve() -> None:
    fake = FakeSubscriber()
    fake.auction_list, fake.bids[1] = [cleared_auction()], list(BIDS)

    bridge, _, _ = synced(fake)
    bridge.turn(0)

    assert fake.bids_asked == [1]
    curve = bridge.curve(1)
    assert curve is not None and [s["price"] for s in curve["steps"]] == [7600, 7200, 7200, 7000]
    assert bridge.auction(1) == (cleared_auction(), BIDS) and bridge.auction(2) is None and bridge.curve(2) is None


def test_an_auction_cleared_live_gets_its_bids_and_the_page_is_told_its_curve_is_ready() -> None:
    bridge, fake, output = synced()
    fake.bids[1] = list(BIDS)
    fake.polls.append([notice()])
    bridge.turn(0)
    assert bridge.auction(1) is None and fake.bids_asked == []
    output.take()

    fake.polls.append([results()])
    bridge.turn(0)

    assert fake.bids_asked == [1] and bridge.curve(1) is not None
    changes = [c for _, event, data, _ in output.take() if event == "changes" for c in data["changes"]]
    assert [(c["auction"]["status"], c["auction"]["curve"]) for c in changes] == [("cleared", False), ("cleared", True)]
    assert json.loads(bridge.state_json())["auctions"][0]["curve"] is True


def test_an_auction_whose_bids_could_not_be_fetched_offers_no_curve_and_no_file_until_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(bridge_module, "time", clock)
    fake = FakeSubscriber()
    fake.auction_list, fake.bids[1] = [cleared_auction()], MarketDataError("refused")

    bridge, _, output = synced(fake)

    assert bridge.curve(1) is None and bridge.auction(1) is None
    assert json.loads(bridge.state_json())["auctions"][0]["curve"] is False
    first, longest = BIDS_RETRY_S
    bridge.turn(0)
    assert fake.bids_asked == [1]  # not before the wait is over
    clock.now += first
    bridge.turn(0)
    clock.now += first  # the second wait is twice the first
    bridge.turn(0)
    assert fake.bids_asked == [1, 1]
    clock.now += longest
    fake.bids[1] = list(BIDS)
    bridge.turn(0)

    assert fake.bids_asked == [1, 1, 1] and bridge.auction(1) == (cleared_auction(), BIDS)
    assert [
        c["auction"]["curve"]
        for _, event, data, _ in output.take()
        if event == "changes"
        for c in data["changes"]
        if c["kind"] == "auction"
    ] == [True]


def test_nothing_is_asked_of_the_snapshot_service_while_the_node_is_down() -> None:
    fake = FakeSubscriber()
    fake.auction_list, fake.bids[1] = [cleared_auction()], list(BIDS)
    fake.connected = False
    bridge, _, _ = synced(fake)

    assert (fake.bars_asked, fake.bids_asked, bridge.page.feed["state"]) == (0, [], "down")
    fake.connected = True
    bridge.turn(0)

    assert (fake.bars_asked, fake.bids_asked) == (1, [1])


def test_a_new_trading_day_asks_for_its_bars() -> None:
    bridge, fake, output = synced()
    assert fake.bars_asked == 1
    fake.bars.append(bars_reply(7, [(T, 8000, 10)], day=DAY1 + 1))
    fake.polls.append([market(DAY1 + 1, seq=2)])

    bridge.turn(0)

    assert fake.bars_asked == 2 and output.kinds() == ["day", "market", "bars"]
    assert bridge.page.document()["bars"]["SHEA2025"][0][1] == 8000


def test_stop_closes_the_subscriber() -> None:
    bridge, fake, _ = synced()
    bridge.start()

    bridge.stop()

    assert fake.closed and bridge.batches >= 1


# ------------------------------------------------------------------------------------ a real node


def turn_until(bridge: Bridge, done: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"the bridge never got {what}"
        bridge.turn(50)


def without_version(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in json.loads(json.dumps(document)).items() if key not in ("version", "feed")}


@pytest.mark.e2e
@pytest.mark.per_book
def test_a_real_node_trade_and_a_lost_message_reach_the_page(tmp_path: Path) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    lose: list[str] = []  # a topic whose next message is lost on the wire
    lost: list[tuple[str, int]] = []

    def discard(topic: str, seq: int) -> bool:
        if lose and topic == lose[0]:
            lose.pop()
            lost.append((topic, seq))
            return True
        return False

    md, snapshot = node.endpoints["market data"], node.endpoints["snapshot"]
    subscriber = Subscriber(md, snapshot, discard=discard, watch_connection=True)
    bridge = Bridge(md, snapshot, on_output=Output(), subscriber=subscriber)
    page = bridge.page
    seller = MemberClient.from_keys(node.order_entry, "M002", node.keys_dir, timeout_ms=5_000)
    buyer = MemberClient.from_keys(node.order_entry, "M001", node.keys_dir, timeout_ms=5_000)
    try:
        turn_until(bridge, lambda: subscriber.synced and page.feed["state"] == "live", "synced")
        seller.new_order("A002", "SHEA2025", Side.SELL, 300, 8050)
        buyer.new_order("A001", "SHEA2025", Side.BUY, 300, 8050)
        turn_until(bridge, lambda: page.quotes["SHEA2025"]["last"] == 8050 and bool(page.bars.get("SHEA2025")), "it")
        (shown,) = page.document()["trades"]["SHEA2025"]
        assert (shown["price"], shown["quantity"], shown["aggressor"]) == (8050, 300, "buy")
        assert page.document()["bars"]["SHEA2025"][-1][4:6] == [8050, 300]

        lose.append("trade.SHEA2025")
        seller.new_order("A002", "SHEA2025", Side.SELL, 100, 8060)
        buyer.new_order("A001", "SHEA2025", Side.BUY, 100, 8060)
        turn_until(bridge, lambda: len(page.trades["SHEA2025"]) == 2, "the lost trade back")

        assert lost and subscriber.gaps_detected >= 1 and subscriber.recoveries >= 1
        fresh = PageState()
        fresh.reset(subscriber)
        fresh.set_bars(subscriber.fetch_bars())
        assert without_version(page.document()) == without_version(fresh.document())
        assert sum(bar[5] for bar in page.document()["bars"]["SHEA2025"]) == 400
    finally:
        seller.close()
        buyer.close()
        bridge.stop()
        assert node.stop() == 0, node.stderr()
