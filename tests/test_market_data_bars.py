"""The day's one-minute bars (issue 18): ``market_data.bars.DayBars``, the publisher that feeds it,
the snapshot service's ``BarsRequest`` and the node that keeps the bars across a restart.

A bar covers ``[minute, minute + 60 s)`` of exchange time and exists only for a minute with a trade;
its figures are restated here from the trades (open the first price, close the last, turnover
Σ price × quantity), never read back from the code under test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from carbonx.config import LoadedConfig, load_config
from carbonx.node_state import BARS_KIND, NodeState, open_node_state
from carbonx.simulation import funding_commands
from engine.journal import SNAPSHOT_DIR, write_snapshot
from engine.messages import (
    Command,
    Event,
    NewOrder,
    OrderType,
    Session,
    SetSession,
    Side,
    StartOfDay,
    TradeExecuted,
    TradingDayStarted,
)
from market_data.bars import NS_PER_MINUTE, Bar, DayBars, bars_of
from market_data.messages import (
    BarsReply,
    BarsRequest,
    InstrumentBars,
    SnapshotError,
    SnapshotReply,
    Trade,
    decode_channel_message,
    decode_snapshot_reply,
    encode,
)
from market_data.publisher import Publisher
from market_data.snapshot_limits import SnapshotLimits
from market_data.snapshot_service import SnapshotService
from tests.conftest import DAY1, DAY2, Market
from tests.node_process import make_config

EPOCH = 1_700_000_000_000_000_000
S = 1_000_000_000
# 10:00 exchange time on DAY1 (Monday 2026-11-23), a minute's start.
TEN = int(dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()) * S


def at(minute: int, second: int = 0) -> int:
    return TEN + minute * NS_PER_MINUTE + second * S


def bar(minute: int, trades: list[tuple[int, int]]) -> Bar:
    """The bar of ``minute`` restated from its ``(price, quantity)`` trades, in time order."""
    prices = [p for p, _ in trades]
    return Bar(
        at(minute),
        prices[0],
        max(prices),
        min(prices),
        prices[-1],
        sum(q for _, q in trades),
        sum(p * q for p, q in trades),
        len(trades),
    )


# ----------------------------------------------------------------------------------- DayBars


def test_a_bar_per_minute_with_a_trade_and_exact_figures() -> None:
    day = DayBars()
    day.start_day(DAY1)

    for ts, price, quantity in [
        (at(0, 5), 8000, 10),
        (at(0, 20), 8030, 5),
        (at(0, 40), 7990, 7),
        (at(0, 59), 8010, 3),
        (at(3, 1), 8100, 50),  # minutes 1 and 2: no trade, no bar
    ]:
        day.on_trade("SHEA2025", ts, price, quantity)
    day.on_trade("CCER", at(1), 8500, 2)

    assert day.bars("SHEA2025") == [
        bar(0, [(8000, 10), (8030, 5), (7990, 7), (8010, 3)]),
        bar(3, [(8100, 50)]),
    ]
    turnover = 8000 * 10 + 8030 * 5 + 7990 * 7 + 8010 * 3
    assert day.bars("SHEA2025")[0] == Bar(at(0), 8000, 8030, 7990, 8010, 25, turnover, 4)
    assert day.bars("CCER") == [bar(1, [(8500, 2)])]
    assert day.bars("T5") == []
    assert day.instruments() == ["SHEA2025", "CCER"]


def test_a_minute_is_its_start_up_to_the_next_minute_excluded() -> None:
    day = DayBars()

    day.on_trade("SHEA2025", at(0), 8000, 1)  # the minute's first nanosecond
    day.on_trade("SHEA2025", at(1) - 1, 8001, 1)  # its last
    day.on_trade("SHEA2025", at(1), 8002, 1)  # the next minute's first
    day.on_trade("SHEA2025", at(1) - 5, 8003, 1)  # stamped earlier than the last bar: joins it

    assert [(b.minute, b.open, b.close, b.trades) for b in day.bars("SHEA2025")] == [
        (at(0), 8000, 8001, 2),
        (at(1), 8002, 8003, 2),
    ]
    in_order = bars_of([(at(0), 8000, 1), (at(1) - 1, 8001, 1), (at(1), 8002, 1)])
    assert in_order == [day.bars("SHEA2025")[0], Bar(at(1), 8002, 8002, 8002, 8002, 1, 8002, 1)]


def test_starting_a_day_clears_every_bar() -> None:
    day = DayBars()
    day.start_day(DAY1)
    day.on_trade("SHEA2025", at(0), 8000, 10)
    day.on_trade("CCER", at(0), 8500, 10)

    day.start_day(DAY2)

    assert (day.trading_day, day.instruments(), day.bars("SHEA2025")) == (DAY2, [], [])


def test_encode_and_restore_give_back_the_same_bars_and_the_last_bar_goes_on() -> None:
    day = DayBars()
    day.start_day(DAY1)
    day.on_trade("SHEA2025", at(0), 8000, 10)
    day.on_trade("SHEA2025", at(2, 30), 8050, 4)
    day.on_trade("CCER", at(1), 8500, 1)

    restored = DayBars()
    restored.restore(day.encode())

    assert restored.trading_day == DAY1
    assert restored.instruments() == ["SHEA2025", "CCER"]
    assert restored.bars("SHEA2025") == day.bars("SHEA2025") and restored.bars("CCER") == day.bars("CCER")
    assert restored.encode() == day.encode()
    restored.on_trade("SHEA2025", at(2, 50), 8060, 6)  # the same minute: the restored bar grows
    assert restored.bars("SHEA2025")[-1] == bar(2, [(8050, 4), (8060, 6)])


@pytest.mark.parametrize(
    "blob",
    [b"", b"garbage", b"\xc1", msgspec.msgpack.encode({"trading_day": "x", "bars": {}}), msgspec.msgpack.encode([1])],
)
def test_restoring_a_damaged_file_raises_and_leaves_the_bars(blob: bytes) -> None:
    day = DayBars()
    day.start_day(DAY1)
    day.on_trade("SHEA2025", at(0), 8000, 10)
    before = day.encode()

    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        day.restore(blob)

    assert day.encode() == before and day.trading_day == DAY1


_CODES = ("SHEA2025", "CCER")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_CODES),
            st.integers(0, 3 * 60),  # seconds after 10:00: several minutes, some trades stamped earlier
            st.integers(7_200, 8_800),
            st.integers(1, 10_000),
        ),
        max_size=60,
    ),
    st.integers(1, 8),
)
def test_the_batched_path_gives_the_bars_of_the_readable_one(
    trades: list[tuple[str, int, int, int]], batch: int
) -> None:
    one_by_one, batched = DayBars(), DayBars()
    events = []
    for n, (code, second, price, quantity) in enumerate(trades):
        one_by_one.on_trade(code, TEN + second * S, price, quantity)
        events.append(executed(n + 1, code, TEN + second * S, price, quantity))

    for start in range(0, len(events), batch):
        batched.on_trades(events[start : start + batch])

    assert batched.encode() == one_by_one.encode()


def executed(trade_id: int, code: str, ts: int, price: int, quantity: int) -> TradeExecuted:
    return TradeExecuted(
        ts_event=ts,
        instrument=code,
        trade_id=trade_id,
        price=price,
        quantity=quantity,
        aggressor=Side.BUY,
        buy_order_id=1,
        sell_order_id=2,
        buy_account="A1",
        sell_account="A2",
        buy_fee=0,
        sell_fee=0,
        buy_leaves=0,
        sell_leaves=0,
        buy_released_cash=0,
    )


# ----------------------------------------------------------------------------------- the publisher


def trade_at(market: Market, ts: int, price: int, quantity: int, instrument: str = "SHEA2025") -> list[Event]:
    """A resting sell and a buy that takes it, the buy (and so the trade) stamped ``ts``."""
    market.ts = ts - 2
    events = market.sell("A1", quantity, price, instrument=instrument)
    return events + market.buy("A2", quantity, price, instrument=instrument)


def fed(market: Market) -> tuple[Publisher, list[Trade]]:
    """A publisher over ``market`` fed every command's events; the trades it sent go into the list."""
    publisher = Publisher(market.exchange, epoch=EPOCH)
    publisher.drain(0)
    sent: list[Trade] = []
    send = market.send

    def send_and_publish(command: Command) -> list[Event]:
        events = send(command)
        publisher.on_events(events)
        for _, payload in publisher.drain(0):
            message = decode_channel_message(payload)
            if isinstance(message, Trade):
                sent.append(message)
        return events

    market.send = send_and_publish  # type: ignore[method-assign]
    return publisher, sent


@pytest.mark.per_book
def test_the_publishers_bars_follow_the_exchanges_trades(market: Market) -> None:
    publisher, sent = fed(market)

    trade_at(market, at(0, 10), 8000, 10)
    trade_at(market, at(0, 50), 8020, 5)
    trade_at(market, at(2, 0), 7990, 20)
    trade_at(market, at(2, 1), 8500, 3, instrument="CCER")

    assert publisher.bars.trading_day == 0  # the day started before this publisher
    assert publisher.bars.bars("SHEA2025") == [bar(0, [(8000, 10), (8020, 5)]), bar(2, [(7990, 20)])]
    assert publisher.bars.bars("SHEA2025") == bars_of(
        [(t.ts, t.price, t.quantity) for t in sent if t.instrument == "SHEA2025"]
    )
    shea, ccer = publisher.instrument_bars("SHEA2025"), publisher.instrument_bars("CCER")
    assert shea == InstrumentBars(instrument="SHEA2025", seq=3, bars=publisher.bars.bars("SHEA2025"))
    assert shea.seq == max(t.seq for t in sent if t.instrument == "SHEA2025")
    assert shea.seq == publisher.snapshot(1, ["trade.SHEA2025"]).items[0].seq
    assert (ccer.seq, ccer.bars) == (1, [bar(2, [(8500, 3)])])
    assert publisher.instrument_bars("T5") == InstrumentBars(instrument="T5", seq=0, bars=[])


@pytest.mark.per_book
def test_a_new_trading_day_starts_the_publishers_bars_empty(market: Market) -> None:
    publisher, _ = fed(market)
    trade_at(market, at(0), 8000, 10)

    market.close_day(DAY1)
    assert publisher.bars.bars("SHEA2025") == [bar(0, [(8000, 10)])]  # the ended day's bars stay
    market.open_day(DAY2)

    assert publisher.bars.trading_day == DAY2
    assert publisher.instrument_bars("SHEA2025") == InstrumentBars(instrument="SHEA2025", seq=1, bars=[])


@pytest.mark.per_book
def test_a_batch_that_starts_a_day_puts_only_the_trades_after_it_in_the_new_days_bars(market: Market) -> None:
    publisher = Publisher(market.exchange, epoch=EPOCH)
    before, after = executed(1, "SHEA2025", at(0), 8000, 10), executed(2, "SHEA2025", at(0, 30), 8100, 4)

    publisher.on_batch([[before], [TradingDayStarted(ts_event=at(0, 1), trading_day=DAY2)], [after]])

    assert publisher.bars.trading_day == DAY2
    assert publisher.bars.bars("SHEA2025") == [bar(0, [(8100, 4)])]


# ----------------------------------------------------------------------------------- the snapshot service


def ask(service: SnapshotService, request: BarsRequest) -> SnapshotReply:
    return decode_snapshot_reply(service.answer(encode(request), "192.0.2.1", 0))


def traded_service(market: Market, **limits: int) -> SnapshotService:
    publisher, _ = fed(market)
    trade_at(market, at(0), 8000, 10)
    trade_at(market, at(1), 8010, 5)
    trade_at(market, at(1, 30), 8600, 1, instrument="CCER")
    return SnapshotService(None, publisher, SnapshotLimits(**limits))


@pytest.mark.per_book
def test_a_bars_request_gets_every_instrument_or_the_ones_named(market: Market) -> None:
    service = traded_service(market)
    publisher = service.publisher
    shea = InstrumentBars(instrument="SHEA2025", seq=2, bars=[bar(0, [(8000, 10)]), bar(1, [(8010, 5)])])
    ccer = InstrumentBars(instrument="CCER", seq=1, bars=[bar(1, [(8600, 1)])])
    t5 = InstrumentBars(instrument="T5", seq=0, bars=[])

    every = ask(service, BarsRequest(request_id=7))
    named = ask(service, BarsRequest(request_id=8, instruments=["CCER", "SHEA2025", "CCER"]))

    assert every == BarsReply(request_id=7, epoch=EPOCH, trading_day=0, items=[shea, ccer, t5])
    assert [item.instrument for item in every.items] == list(publisher.instruments())  # type: ignore[union-attr]
    assert named == BarsReply(request_id=8, epoch=EPOCH, trading_day=0, items=[ccer, shea])
    assert service.answered == 2 and service.refused == 0


@pytest.mark.per_book
def test_a_request_for_every_instrument_is_not_refused_for_their_number(market: Market) -> None:
    service = traded_service(market, max_topics=2)  # the market lists three

    reply = ask(service, BarsRequest(request_id=5))

    assert isinstance(reply, BarsReply) and len(reply.items) == 3


@pytest.mark.per_book
@pytest.mark.parametrize(
    ("request_", "limits", "code"),
    [
        (BarsRequest(request_id=9, instruments=["SHEA2025", "NOPE"]), {}, "UNKNOWN_INSTRUMENT"),
        (BarsRequest(request_id=9, instruments=["SHEA2025", "CCER", "T5"]), {"max_topics": 2}, "TOO_MANY_TOPICS"),
        (BarsRequest(request_id=9), {"max_reply_bytes": 64}, "REPLY_TOO_LARGE"),
    ],
)
def test_a_bars_request_beyond_the_rules_is_refused_with_its_code(
    market: Market, request_: BarsRequest, limits: dict[str, int], code: str
) -> None:
    service = traded_service(market, **limits)

    reply = ask(service, request_)

    assert isinstance(reply, SnapshotError) and reply.request_id == 9
    assert reply.text.startswith(code + ": "), reply.text
    assert service.refused == 1


# ----------------------------------------------------------------------------------- the node across a restart


class Clock:
    def __init__(self) -> None:
        self.ns = TEN

    def __call__(self) -> int:
        return self.ns


class Node:
    """What the node does with bars, in process: NodeState on a data directory, and a publisher fed
    every batch it applies (the node's ``Publisher(..., bars=state.bars)``)."""

    def __init__(self, loaded: LoadedConfig, data_dir: Path, clock: Clock) -> None:
        self.loaded = loaded
        self.clock = clock
        self.state: NodeState = open_node_state(loaded, data_dir, clock)
        self.publisher = Publisher(self.state.exchange, epoch=clock(), bars=self.state.bars)
        self.orders = 0

    def submit(self, *commands: Command) -> None:
        self.publisher.on_batch(self.state.sequencer.submit_batch(list(commands)))

    def trade(self, ts: int, price: int, quantity: int, instrument: str = "SHEA2025") -> None:
        self.clock.ns = ts
        self.orders += 1
        order = {"instrument": instrument, "order_type": OrderType.LIMIT, "quantity": quantity, "price": price}
        self.submit(
            NewOrder(account="A002", client_order_id=f"s{self.orders}", side=Side.SELL, **order),  # type: ignore[arg-type]
            NewOrder(account="A001", client_order_id=f"b{self.orders}", side=Side.BUY, **order),  # type: ignore[arg-type]
        )

    def bars(self) -> dict[str, list[Bar]]:
        return {code: self.state.bars.bars(code) for code in self.state.bars.instruments()}


def opened(tmp_path: Path, clock: Clock) -> Node:
    """A node on a fresh data directory, its accounts funded and DAY1's morning session open."""
    node = Node(load_config(make_config(tmp_path)), tmp_path / "var", clock)
    node.submit(*funding_commands(node.loaded.exchange))
    node.submit(StartOfDay(trading_day=DAY1), SetSession(session=Session.MORNING))
    return node


@pytest.mark.per_book
def test_a_node_restarted_mid_day_has_the_bars_of_a_node_that_never_stopped(tmp_path: Path) -> None:
    clock = Clock()
    first = opened(tmp_path, clock)
    first.trade(at(0, 10), 8000, 10)
    first.trade(at(1, 5), 8010, 5)
    first.state.snapshot()  # mid-day, mid-minute
    snapshot_seq = first.state.journal.last_seq
    first.trade(at(1, 40), 8030, 7)  # the same minute as the snapshot's last bar
    first.trade(at(4, 0), 7980, 2)
    first.trade(at(4, 1), 8600, 3, instrument="CCER")
    never_stopped, trading_day = first.bars(), first.state.bars.trading_day
    first.state.close()  # killed: no snapshot at stop

    restarted = Node(first.loaded, tmp_path / "var", clock)
    try:
        assert (restarted.state.snapshot_seq, restarted.state.replayed) == (snapshot_seq, 6)
        assert restarted.bars() == never_stopped
        assert restarted.state.bars.trading_day == trading_day == DAY1
        assert never_stopped["SHEA2025"] == [
            bar(0, [(8000, 10)]),
            bar(1, [(8010, 5), (8030, 7)]),
            bar(4, [(7980, 2)]),
        ]
        restarted.orders = first.orders  # client order ids stay unique
        restarted.trade(at(4, 30), 7990, 1)  # and it goes on from there
        assert restarted.state.bars.bars("SHEA2025")[-1] == bar(4, [(7980, 2), (7990, 1)])
    finally:
        restarted.state.close()


@pytest.mark.per_book
@pytest.mark.parametrize("companion", ["missing", "damaged"])
def test_a_data_dir_without_usable_bars_starts_with_the_journals_trades_after_the_snapshot(
    tmp_path: Path, companion: str
) -> None:
    clock = Clock()
    first = opened(tmp_path, clock)
    first.trade(at(0), 8000, 10)
    first.state.snapshot()
    seq = first.state.journal.last_seq
    first.trade(at(2), 8020, 4)
    first.state.close()
    saved = tmp_path / "var" / SNAPSHOT_DIR / f"{BARS_KIND}-{seq:012d}.cxs"
    assert saved.is_file()
    if companion == "missing":
        saved.unlink()  # a data directory from before bars were saved
    else:  # a sound file whose bars cannot be read
        write_snapshot(tmp_path / "var", seq, b"not bars", kind=BARS_KIND)

    with capture_logs() as logs:
        restarted = Node(first.loaded, tmp_path / "var", clock)
    try:
        assert (restarted.state.snapshot_seq, restarted.state.replayed) == (seq, 2)  # the snapshot is used
        assert restarted.bars() == {"SHEA2025": [bar(2, [(8020, 4)])]}
        assert restarted.state.bars.trading_day == 0  # the day started before the snapshot
    finally:
        restarted.state.close()
    unreadable = [entry for entry in logs if entry["event"] == "bars.unreadable"]
    assert len(unreadable) == (0 if companion == "missing" else 1)
