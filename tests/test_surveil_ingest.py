"""``surveillance.ingest``: the store holds what the engine did, and ingest is incremental and idempotent.

The journals here are written as a node writes them (commands one at a time through a ``Sequencer``),
and the store's rows are checked against an independent replay of the same journal
(``engine.recovery.recover`` with ``on_events``) and against what the live exchange showed while
the journal was written (the best bid and ask each new order met).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from structlog.testing import capture_logs

import surveillance.ingest
from carbonx.config import load_config
from carbonx.simulation import OrderFlow, funding_commands, run_simulation
from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, Journal, JournalRecord, follow_journal
from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    AmendBid,
    AmendOrder,
    AnnounceAuction,
    ApplyAuction,
    AuctionAnnounced,
    AuctionApplied,
    AuctionCancelled,
    AuctionCleared,
    AuctionClosed,
    AuctionKind,
    AuctionOpened,
    AuctionTerms,
    BidAccepted,
    BidAllocated,
    BidAmended,
    BidWithdrawn,
    CancelAuction,
    CancelOrder,
    CancelTransfer,
    CloseAuction,
    Command,
    EndOfDay,
    Event,
    NewOrder,
    OpenAuction,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    OrderType,
    ProposeTransfer,
    Purpose,
    RejectTransfer,
    RequestRejected,
    Session,
    SetSession,
    Side,
    StartOfDay,
    SubmitBid,
    TradeExecuted,
    TradingDayStarted,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
    WithdrawBid,
)
from engine.recovery import CONFIG_FILE, Sequencer, record_config, recover
from engine.view import ExchangeView
from surveillance.ingest import STATE_FILE, IngestResult, ingest, open_data_dir
from surveillance.schema import EXPORTED
from surveillance.settings import SurveillanceError
from surveillance.store import Store, check_store_dir, default_store_dir

pytestmark = pytest.mark.not_per_book  # ingest replays the journals' orders on the default book

REPO = Path(__file__).resolve().parents[1]
DAY1, DAY2 = dt.date(2026, 12, 1), dt.date(2026, 12, 2)  # a Tuesday and a Wednesday
SECOND, MILLISECOND = 1_000_000_000, 1_000_000
SHEA = "SHEA2025"
Rows = dict[str, list[tuple[Any, ...]]]


def day_int(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


class Desk:
    """A journal written as a node writes it: each command through a ``Sequencer`` at the desk's
    exchange time, remembering the best bid and ask the live exchange showed before each new order."""

    def __init__(self, data_dir: Path, config: ExchangeConfig) -> None:
        record_config(data_dir, config)
        self.journal = Journal.open(data_dir, fsync=False)
        self.exchange = Exchange(config)
        self.view = ExchangeView(self.exchange)
        self.zone = ZoneInfo(config.calendar.timezone)
        self.now = 0
        self.sequencer = Sequencer(self.exchange, self.journal, self._clock)
        self.met: dict[int, tuple[int, int]] = {}  # order id -> (best bid, best ask) before it arrived

    def _clock(self) -> int:
        self.now += MILLISECOND
        return self.now

    def at(self, day: dt.date, hour: int, minute: int) -> None:
        self.now = int(dt.datetime.combine(day, dt.time(hour, minute), self.zone).timestamp()) * SECOND

    def send(self, command: Command) -> list[Event]:
        met = (0, 0)
        if isinstance(command, NewOrder):
            bid, ask = self.view.best(command.instrument, Side.BUY), self.view.best(command.instrument, Side.SELL)
            met = (bid or 0, ask or 0)
        events = self.sequencer.submit(command)
        for event in events:
            if isinstance(event, OrderAccepted):
                self.met[event.order_id] = met
        return events

    def one(self, command: Command, kind: type[Event]) -> Any:
        """Send ``command``; its event of type ``kind`` (it must cause one)."""
        events = self.send(command)
        found = [e for e in events if isinstance(e, kind)]
        assert found, f"{type(command).__name__} caused {[str(getattr(e, 'text', type(e).__name__)) for e in events]}"
        return found[0]

    def flow(self, flow: OrderFlow, commands: int) -> None:
        bands = {code: self.view.band(code) for code in self.view.instruments()}
        for _ in range(commands):
            command = flow.next_command(bands)
            flow.observe(command, self.send(command))


def limit(account: str, side: Side, quantity: int, price: int, cid: str) -> NewOrder:
    return NewOrder(account=account, instrument=SHEA, client_order_id=cid, side=side, order_type=OrderType.LIMIT,
                    quantity=quantity, price=price)  # fmt: skip


def write_two_days(data_dir: Path, config: ExchangeConfig) -> Desk:
    """Day 1: orders of every kind and a random flow, a reserve sale, a one-way application withdrawn,
    agreement transfers (executed, declined, withdrawn, expired), the close and the end of day.
    Day 2: its start and a morning of random flow, still open."""
    desk, flow = Desk(data_dir, config), OrderFlow(config, random.Random(17))
    morning(desk, flow, config)
    auctions(desk)
    afternoon(desk, flow)
    desk.at(DAY2, 9, 0)
    desk.send(StartOfDay(trading_day=day_int(DAY2)))
    desk.at(DAY2, 9, 30)
    desk.send(SetSession(session=Session.MORNING))
    desk.flow(flow, 80)
    desk.journal.close()
    return desk


def morning(desk: Desk, flow: OrderFlow, config: ExchangeConfig) -> None:
    """Day 1 starts, every account is funded; a trade, an amendment, a rejected order and request, a flow."""
    desk.at(DAY1, 9, 0)
    desk.send(StartOfDay(trading_day=day_int(DAY1)))
    for command in funding_commands(config):
        desk.send(command)
    desk.send(AllocateAllowances(account="RESERVE", instrument=SHEA, quantity=100_000))
    desk.at(DAY1, 9, 30)
    desk.send(SetSession(session=Session.MORNING))
    resting = desk.one(limit("A001", Side.SELL, 100, 8_010, "d1-sell"), OrderAccepted)
    desk.one(limit("A002", Side.BUY, 50, 7_990, "d1-buy"), OrderAccepted)
    desk.one(limit("A101", Side.BUY, 80, 8_010, "d1-cross"), TradeExecuted)  # 80 of the resting sell
    desk.one(AmendOrder(account="A001", order_id=resting.order_id, price=8_020, quantity=20), OrderAmended)
    desk.one(limit("A003", Side.BUY, 10, 1, "d1-outside-band"), OrderRejected)
    desk.one(CancelOrder(account="A003", order_id=999_999), RequestRejected)
    desk.flow(flow, 200)


def auctions(desk: Desk) -> None:
    """A reserve sale with an amended and a withdrawn bid, cleared; a one-way application withdrawn."""
    announced = desk.one(
        AnnounceAuction(terms=AuctionTerms(kind=AuctionKind.RESERVE_SALE, instrument=SHEA, auctioneer="RESERVE",
                                           volume=20_000, price=7_000, purpose=Purpose.MARKET_SUPPLY, opens_at=1,
                                           closes_at=2**62)),
        AuctionAnnounced,
    )  # fmt: skip
    auction_id = announced.auction_id
    desk.one(OpenAuction(auction_id=auction_id), AuctionOpened)
    bids = {}
    for account, price, quantity in (("A001", 7_300, 8_000), ("A002", 7_200, 9_000), ("A101", 7_100, 6_000)):
        bid = SubmitBid(account=account, auction_id=auction_id, client_bid_id=f"bid-{account}", price=price,
                        quantity=quantity)  # fmt: skip
        bids[account] = desk.one(bid, BidAccepted).bid_id
    desk.one(AmendBid(account="A002", bid_id=bids["A002"], price=7_250, quantity=9_000), BidAmended)
    desk.one(WithdrawBid(account="A101", bid_id=bids["A101"]), BidWithdrawn)
    desk.one(CloseAuction(auction_id=auction_id), AuctionCleared)
    one_way = AuctionTerms(kind=AuctionKind.ONE_WAY, instrument=SHEA, auctioneer="A002", volume=100_000, price=7_600,
                           opens_at=1, closes_at=2**62)  # fmt: skip
    applied = desk.one(ApplyAuction(account="A002", terms=one_way), AuctionApplied)
    desk.one(CancelAuction(auction_id=applied.auction_id, account="A002", reason="changed my mind"), AuctionCancelled)


def afternoon(desk: Desk, flow: OrderFlow) -> None:
    """Four agreement transfers (executed, declined, withdrawn, left to expire at the close), a flow, the end of day."""
    desk.at(DAY1, 11, 30)
    desk.send(SetSession(session=Session.LUNCH_BREAK))
    desk.at(DAY1, 13, 0)
    desk.send(SetSession(session=Session.AFTERNOON))
    transfers = {}
    for cid, proposer, side, counterparty in (
        ("t-done", "A001", Side.SELL, "A104"),
        ("t-declined", "A002", Side.BUY, "A003"),
        ("t-withdrawn", "A003", Side.SELL, "A101"),
        ("t-expires", "A104", Side.BUY, "A002"),
    ):
        proposal = ProposeTransfer(account=proposer, client_proposal_id=cid, side=side, counterparty=counterparty,
                                   instrument=SHEA, price=8_000, quantity=100_000)  # fmt: skip
        transfers[cid] = desk.one(proposal, TransferProposed).transfer_id
    desk.one(AcceptTransfer(account="A104", transfer_id=transfers["t-done"]), TransferExecuted)
    desk.one(RejectTransfer(account="A003", transfer_id=transfers["t-declined"]), TransferRejected)
    desk.one(CancelTransfer(account="A003", transfer_id=transfers["t-withdrawn"]), TransferCancelled)
    desk.flow(flow, 100)
    desk.at(DAY1, 15, 0)
    desk.one(SetSession(session=Session.CLOSED), TransferExpired)
    desk.send(EndOfDay(trading_day=day_int(DAY1)))


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def config() -> ExchangeConfig:
    return load_config(REPO / "config").exchange


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, config: ExchangeConfig) -> Desk:
    return write_two_days(tmp_path_factory.mktemp("desk") / "data", config)


@pytest.fixture(scope="module")
def desk_dir(desk: Desk) -> Path:
    return desk.journal.path.parent


@pytest.fixture(scope="module")
def simulated_dir(tmp_path_factory: pytest.TempPathFactory, config: ExchangeConfig) -> Path:
    data_dir = tmp_path_factory.mktemp("simulated") / "data"
    run_simulation(config, data_dir, seed=7, orders=300, trading_day=DAY1, fsync=False)
    return data_dir


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory: pytest.TempPathFactory, desk_dir: Path) -> Iterator[Store]:
    """The desk's whole journal ingested at once."""
    store_dir = tmp_path_factory.mktemp("one-shot") / "store"
    with Store.open(store_dir) as store:
        ingest(desk_dir, store, store_dir)
        yield store


@pytest.fixture(scope="module")
def one_shot_tables(one_shot: Store) -> Rows:
    return tables(one_shot)


def tables(store: Store) -> Rows:
    """Every exported table's rows, sorted: what two stores of one journal must agree on."""
    return {table: sorted(store.con.execute(f"SELECT * FROM {table}").fetchall()) for table in EXPORTED}


def replayed(data_dir: Path) -> list[tuple[JournalRecord, list[Event]]]:
    """Each journal record with its events, from the engine's own recovery (no surveillance code)."""
    seen: list[tuple[JournalRecord, list[Event]]] = []
    recover(data_dir, open_data_dir(data_dir), use_snapshots=False, on_events=lambda r, e: seen.append((r, e)))
    return seen


def engine_events(data_dir: Path) -> list[tuple[int, int, int, int, Event]]:
    """(seq, ev, ts, trading day, event) of every event the journal's replay caused."""
    day, found = 0, []
    for record, events in replayed(data_dir):
        for ev, event in enumerate(events):
            if isinstance(event, TradingDayStarted):
                day = event.trading_day
            found.append((record.seq, ev, record.ts, day, event))
    return found


def record_ends(data_dir: Path) -> list[tuple[int, int]]:
    """(seq, offset where the record ends) of every record of the journal."""
    return [(record.seq, end) for record, end in follow_journal(data_dir)]


def copy_prefix(source: Path, target: Path, size: int) -> None:
    """``target`` as a data directory whose journal is the first ``size`` bytes of ``source``'s."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / CONFIG_FILE, target / CONFIG_FILE)
    (target / JOURNAL_FILE).write_bytes((source / JOURNAL_FILE).read_bytes()[:size])


def kinds(events: list[tuple[int, int, int, int, Event]]) -> Counter[type]:
    return Counter(type(e) for *_, e in events)


# ------------------------------------------------------------------ the rows agree with the engine
@pytest.fixture(scope="module", params=["desk", "simulated"])
def ingested(
    request: pytest.FixtureRequest, desk_dir: Path, simulated_dir: Path, one_shot: Store
) -> tuple[Path, Store]:
    if request.param == "desk":
        return desk_dir, one_shot
    store = Store.memory()
    ingest(simulated_dir, store)
    return simulated_dir, store


def test_each_trade_is_stored_as_the_engine_executed_it(ingested: tuple[Path, Store], config: ExchangeConfig) -> None:
    data_dir, store = ingested
    member_of = {a.id: a.member for a in config.accounts}
    expected = [
        (seq, ev, ts, day, e.trade_id, e.instrument, e.price, e.quantity, e.aggressor.name, e.buy_order_id,
         e.sell_order_id, e.buy_account, e.sell_account, member_of[e.buy_account], member_of[e.sell_account],
         e.buy_fee, e.sell_fee)
        for seq, ev, ts, day, e in engine_events(data_dir)
        if isinstance(e, TradeExecuted)
    ]  # fmt: skip

    stored = store.con.execute("SELECT * FROM trades ORDER BY seq, ev").fetchall()

    assert len(expected) > 50
    assert stored == expected


def test_order_events_are_counted_as_the_engine_caused_them(ingested: tuple[Path, Store]) -> None:
    data_dir, store = ingested
    counted = kinds(engine_events(data_dir))

    stored = dict(store.con.execute("SELECT event, count(*) FROM order_events GROUP BY event").fetchall())
    rejects = store.scalar("SELECT count(*) FROM rejects")

    assert {event: stored.get(event, 0) for event in ("accepted", "cancelled", "amended", "rejected", "converted")} == {
        "accepted": counted[OrderAccepted],
        "cancelled": counted[OrderCancelled],
        "amended": counted[OrderAmended],
        "rejected": counted[OrderRejected],
        "converted": counted[OrderConvertedToLimit],
    }
    assert stored["filled"] == 2 * counted[TradeExecuted]
    assert rejects == counted[OrderRejected] + counted[RequestRejected] > 0


def test_every_trade_fills_its_buy_and_its_sell_with_the_counterparty(ingested: tuple[Path, Store]) -> None:
    data_dir, store = ingested
    expected = set()
    for seq, ev, _ts, _day, e in engine_events(data_dir):
        if isinstance(e, TradeExecuted):
            expected.add((seq, ev, e.trade_id, "BUY", e.buy_order_id, e.buy_account, e.sell_account, e.quantity,
                          e.price, e.buy_leaves))  # fmt: skip
            expected.add((seq, ev, e.trade_id, "SELL", e.sell_order_id, e.sell_account, e.buy_account, e.quantity,
                          e.price, e.sell_leaves))  # fmt: skip

    fills = store.con.execute(
        "SELECT seq, ev, trade_id, side, order_id, account, counterparty, quantity, price, leaves "
        "FROM order_events WHERE event = 'filled'"
    ).fetchall()

    assert len(fills) == len(set(fills)) == len(expected)
    assert set(fills) == expected


def test_each_order_event_is_at_the_seq_and_place_the_engine_gave_it(ingested: tuple[Path, Store]) -> None:
    data_dir, store = ingested
    kind_of = {OrderAccepted: "accepted", OrderCancelled: "cancelled", OrderAmended: "amended",
               OrderRejected: "rejected", OrderConvertedToLimit: "converted"}  # fmt: skip
    expected = sorted(
        (seq, ev, ts, day, kind_of[type(e)], 0 if isinstance(e, OrderRejected) else e.order_id, e.account, e.instrument)
        for seq, ev, ts, day, e in engine_events(data_dir)
        if isinstance(e, OrderAccepted | OrderCancelled | OrderAmended | OrderRejected | OrderConvertedToLimit)
    )

    stored = store.con.execute(
        "SELECT seq, ev, ts, day, event, order_id, account, instrument FROM order_events "
        "WHERE event <> 'filled' ORDER BY seq, ev"
    ).fetchall()

    assert stored == expected


def test_agreement_transfers_are_stored_step_by_step(desk_dir: Path, one_shot: Store) -> None:
    events = engine_events(desk_dir)
    counted = kinds(events)
    executed = [
        (seq, ev, e.transfer_id, e.price, e.quantity, e.buy_account, e.sell_account)
        for seq, ev, _ts, _day, e in events
        if isinstance(e, TransferExecuted)
    ]

    stored = dict(one_shot.con.execute("SELECT event, count(*) FROM transfer_events GROUP BY event").fetchall())
    stored_executed = one_shot.con.execute(
        "SELECT seq, ev, transfer_id, price, quantity, buy_account, sell_account FROM transfer_events "
        "WHERE event = 'executed' ORDER BY seq"
    ).fetchall()

    assert stored == {
        "proposed": counted[TransferProposed],
        "accepted": counted[TransferAccepted],
        "executed": counted[TransferExecuted],
        "rejected": counted[TransferRejected],
        "cancelled": counted[TransferCancelled],
        "expired": counted[TransferExpired],
    }
    assert all(stored.values())
    assert (
        stored_executed
        == executed
        == [(executed[0][0], executed[0][1], executed[0][2], 8_000, 100_000, "A104", "A001")]
    )


def test_the_proposers_side_and_counterparty_follow_every_step_of_a_transfer(one_shot: Store) -> None:
    steps = one_shot.con.execute(
        "SELECT transfer_id, list(DISTINCT proposer || '>' || counterparty || ':' || side) FROM transfer_events "
        "GROUP BY transfer_id ORDER BY transfer_id"
    ).fetchall()

    assert [names for _id, names in steps] == [["A001>A104:SELL"], ["A002>A003:BUY"], ["A003>A101:SELL"],
                                               ["A104>A002:BUY"]]  # fmt: skip


def test_auctions_and_bids_are_stored_as_the_engine_ran_them(desk_dir: Path, one_shot: Store) -> None:
    events = engine_events(desk_dir)
    counted = kinds(events)
    (cleared,) = [e for *_, e in events if isinstance(e, AuctionCleared)]

    auctions = dict(one_shot.con.execute("SELECT event, count(*) FROM auction_events GROUP BY event").fetchall())
    bids = dict(one_shot.con.execute("SELECT event, count(*) FROM bid_events GROUP BY event").fetchall())
    stored_cleared = one_shot.con.execute(
        "SELECT auction_id, kind, auctioneer, volume, price_limit, clearing_price, volume_sold, revenue, bid_count, "
        "bidders FROM auction_events WHERE event = 'cleared'"
    ).fetchall()
    allocated = one_shot.con.execute(
        "SELECT account, allocated, paid_price FROM bid_events WHERE event = 'allocated' ORDER BY account"
    ).fetchall()

    assert auctions == {
        "announced": counted[AuctionAnnounced],
        "applied": counted[AuctionApplied],
        "opened": counted[AuctionOpened],
        "closed": counted[AuctionClosed],
        "cleared": counted[AuctionCleared],
        "cancelled": counted[AuctionCancelled],
    }
    assert bids == {
        "accepted": counted[BidAccepted],
        "amended": counted[BidAmended],
        "withdrawn": counted[BidWithdrawn],
        "allocated": counted[BidAllocated],
    }
    assert stored_cleared == [
        (cleared.auction_id, "RESERVE_SALE", "RESERVE", 20_000, 7_000, cleared.clearing_price, cleared.volume_sold,
         cleared.revenue, cleared.bid_count, cleared.bidders)
    ]  # fmt: skip
    assert allocated == [("A001", 8_000, cleared.clearing_price), ("A002", 9_000, cleared.clearing_price)]


def test_the_one_way_application_withdrawn_is_stored_with_its_seller(one_shot: Store) -> None:
    rows = one_shot.con.execute(
        "SELECT event, kind, auctioneer, volume, price_limit, cancelled, reason FROM auction_events "
        "WHERE kind = 'ONE_WAY' ORDER BY seq, ev"
    ).fetchall()

    assert rows == [
        ("applied", "ONE_WAY", "A002", 100_000, 7_600, False, ""),
        ("cancelled", "ONE_WAY", "A002", 100_000, 7_600, True, "changed my mind"),
    ]


def test_each_accepted_order_carries_the_best_prices_the_live_book_showed_before_it(
    desk: Desk, one_shot: Store
) -> None:
    stored = {
        order_id: (bid, ask)
        for order_id, bid, ask in one_shot.con.execute(
            "SELECT order_id, best_bid, best_ask FROM order_events WHERE event = 'accepted'"
        ).fetchall()
    }

    assert stored == desk.met
    assert len({(bid > 0, ask > 0) for bid, ask in stored.values()}) == 4  # both sides, one side, none


def test_the_days_table_has_each_days_first_and_last_seq_and_whether_it_ended(desk_dir: Path, one_shot: Store) -> None:
    records = [record for record, _end in follow_journal(desk_dir)]
    starts = [r for r in records if isinstance(r.command, StartOfDay)]
    (end,) = [r for r in records if isinstance(r.command, EndOfDay)]
    last = records[-1]

    days = one_shot.con.execute("SELECT * FROM days ORDER BY day").fetchall()

    assert days == [
        (day_int(DAY1), starts[0].seq, starts[0].ts, end.seq, end.ts, True),
        (day_int(DAY2), starts[1].seq, starts[1].ts, last.seq, last.ts, False),
    ]


def test_the_reference_tables_are_the_recorded_configs(one_shot: Store, config: ExchangeConfig) -> None:
    accounts = one_shot.con.execute(
        "SELECT account, member, kind, prohibited FROM accounts ORDER BY account"
    ).fetchall()
    instruments = one_shot.con.execute("SELECT instrument, tick, lot, reference_price FROM instruments").fetchall()

    assert accounts == sorted((a.id, a.member, str(a.kind), a.prohibited) for a in config.accounts)
    assert sorted(instruments) == sorted(
        (i.code, i.tick_fen, i.lot_t, i.reference_price_fen) for i in config.instruments
    )


# ------------------------------------------------------------------ incremental and idempotent
def test_ingesting_the_journal_as_it_grows_gives_the_one_shot_tables(
    desk_dir: Path, one_shot: Store, one_shot_tables: Rows, tmp_path: Path
) -> None:
    ends = record_ends(desk_dir)
    day2 = [r.seq for r, _end in follow_journal(desk_dir) if isinstance(r.command, StartOfDay)][1]
    seqs = [41, day2, ends[-10][0], ends[-1][0]]  # the second ingest ends with day 2's start
    data_dir, store_dir = tmp_path / "data", tmp_path / "store"
    results = []

    with Store.open(store_dir) as store:
        for seq in seqs:
            copy_prefix(desk_dir, data_dir, ends[seq - 1][1])
            results.append(ingest(data_dir, store, store_dir))
        grown = tables(store)
        meta = [store.meta(key) for key in ("last_seq", "journal_offset")]

    assert grown == one_shot_tables
    assert meta == [one_shot.meta(key) for key in ("last_seq", "journal_offset")]
    assert [r.records for r in results] == [seqs[0], *(b - a for a, b in itertools.pairwise(seqs))]
    assert [r.stored_records for r in results] == [r.records for r in results]
    assert [r.last_seq for r in results] == seqs
    assert [r.days for r in results] == [[day_int(DAY1)], [day_int(DAY1), day_int(DAY2)], [day_int(DAY2)],
                                         [day_int(DAY2)]]  # fmt: skip


@pytest.mark.parametrize("torn_at", ["length header", "payload"])
def test_a_torn_tail_is_left_quietly_and_picked_up_once_complete(
    desk_dir: Path, one_shot_tables: Rows, tmp_path: Path, torn_at: str
) -> None:
    ends = record_ends(desk_dir)
    (seq, boundary), (_next, next_end) = ends[-6], ends[-5]
    torn = boundary + (3 if torn_at == "length header" else (next_end - boundary) // 2)
    data_dir, store_dir = tmp_path / "data", tmp_path / "store"
    copy_prefix(desk_dir, data_dir, torn)

    with Store.open(store_dir) as store:
        with capture_logs() as logs:
            partial = ingest(data_dir, store, store_dir)
        stopped_at = [store.meta(key) for key in ("last_seq", "journal_offset")]
        copy_prefix(desk_dir, data_dir, ends[-1][1])
        whole = ingest(data_dir, store, store_dir)
        completed = tables(store)

    assert (partial.last_seq, stopped_at) == (seq, [str(seq), str(boundary)])
    assert [entry for entry in logs if entry["log_level"] in ("warning", "error", "critical")] == []
    assert (whole.records, whole.stored_records) == (5, 5)
    assert completed == one_shot_tables


def test_a_second_ingest_adds_nothing(desk_dir: Path, one_shot_tables: Rows, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        ingest(desk_dir, store, store_dir)
        again = ingest(desk_dir, store, store_dir)
        after = tables(store)

    assert (again.records, again.events, again.stored_records, again.days) == (0, 0, 0, [])
    assert after == one_shot_tables


def test_without_its_state_file_a_reingest_replays_everything_and_adds_nothing(
    desk_dir: Path, one_shot_tables: Rows, tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        first = ingest(desk_dir, store, store_dir)
        (store_dir / STATE_FILE).unlink()
        again = ingest(desk_dir, store, store_dir)
        after = tables(store)

    assert (again.records, again.stored_records, again.last_seq) == (first.records, 0, first.last_seq)
    assert after == one_shot_tables
    assert (store_dir / STATE_FILE).is_file()


def test_a_replay_that_stores_nothing_reports_no_day_with_new_activity(desk_dir: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        ingest(desk_dir, store, store_dir)
        (store_dir / STATE_FILE).unlink()
        again = ingest(desk_dir, store, store_dir)

    assert again.days == []


def test_a_damaged_state_file_only_means_replaying_more(desk_dir: Path, one_shot_tables: Rows, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        first = ingest(desk_dir, store, store_dir)
        (store_dir / STATE_FILE).write_bytes(b"not a state")
        again = ingest(desk_dir, store, store_dir)
        after = tables(store)

    assert (again.records, again.stored_records) == (first.records, 0)
    assert after == one_shot_tables


class DiskFull(Exception):
    """The failure injected into the store's inserts."""


def stopped_then_resumed(
    data_dir: Path, store: Store, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, IngestResult]:
    """Ingest with the store's third chunk of order events failing (a full disk), then again: the
    seq the first ingest stored up to, and what the second one did."""
    chunks, insert = Counter[str](), store.insert

    def insert_failing_once(table: str, rows: Any) -> None:
        chunks[table] += 1
        if table == "order_events" and chunks[table] == 3:  # the third chunk, two being stored
            raise DiskFull("no space left on device")
        insert(table, rows)

    monkeypatch.setattr(store, "insert", insert_failing_once)
    with pytest.raises(DiskFull):
        ingest(data_dir, store, store_dir)
    stopped_at = int(store.meta("last_seq"))
    return stopped_at, ingest(data_dir, store, store_dir)


@pytest.mark.parametrize("earlier", [False, True], ids=["from-empty", "after-an-earlier-ingest"])
def test_an_ingest_interrupted_after_a_chunk_is_completed_exactly_by_the_next(
    desk_dir: Path, one_shot_tables: Rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier: bool
) -> None:
    monkeypatch.setattr(surveillance.ingest, "REPLAY_BATCH", 16)
    monkeypatch.setattr(surveillance.ingest, "CHUNK_RECORDS", 48)
    ends = record_ends(desk_dir)
    data_dir, store_dir = tmp_path / "data", tmp_path / "store"
    with Store.open(store_dir) as store:
        if earlier:
            copy_prefix(desk_dir, data_dir, ends[100][1])
            ingest(data_dir, store, store_dir)
        copy_prefix(desk_dir, data_dir, ends[-1][1])
        interrupted_at, resumed = stopped_then_resumed(data_dir, store, store_dir, monkeypatch)
        after = tables(store)

    assert (101 if earlier else 0) < interrupted_at < ends[-1][0]
    assert resumed.stored_records == ends[-1][0] - interrupted_at
    assert after == one_shot_tables


# ------------------------------------------------------------------ refusals
def test_a_store_built_from_another_journal_is_refused(desk_dir: Path, tmp_path: Path, config: ExchangeConfig) -> None:
    other = tmp_path / "other"
    run_simulation(config, other, seed=3, orders=40, trading_day=dt.date(2026, 12, 3), fsync=False)
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        ingest(desk_dir, store, store_dir)
        before = tables(store)
        with pytest.raises(SurveillanceError) as refused:
            ingest(other, store, store_dir)
        after = tables(store)

    assert "another journal" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert after == before


def test_a_store_of_another_journal_with_the_same_first_record_is_refused(
    tmp_path: Path, config: ExchangeConfig
) -> None:
    for seed in (1, 2):
        run_simulation(config, tmp_path / f"data{seed}", seed=seed, orders=40 * seed, trading_day=DAY1, fsync=False)
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        ingest(tmp_path / "data1", store, store_dir)
        with pytest.raises(SurveillanceError, match="another journal"):
            ingest(tmp_path / "data2", store, store_dir)


def test_a_store_started_while_the_journal_was_empty_goes_on_once_it_has_records(
    tmp_path: Path, config: ExchangeConfig
) -> None:
    data_dir, store_dir = tmp_path / "data", tmp_path / "store"
    record_config(data_dir, config)
    with Journal.open(data_dir, fsync=False) as journal, Store.open(store_dir) as store:
        empty = ingest(data_dir, store, store_dir)
        Sequencer(Exchange(config), journal, lambda: 1_796_000_000 * SECOND).submit(StartOfDay(trading_day=20261201))
        later = ingest(data_dir, store, store_dir)

    assert (empty.records, later.records, later.last_seq) == (0, 1, 1)


@pytest.mark.parametrize("inside", ["store", "nested/deeper/store", "."])
def test_a_store_inside_the_data_directory_is_refused(tmp_path: Path, inside: str) -> None:
    data_dir = tmp_path / "data"

    with pytest.raises(SurveillanceError, match="must not be inside the data directory") as refused:
        check_store_dir(data_dir / inside, data_dir)

    assert "\n" not in str(refused.value)


def test_the_default_store_is_beside_the_data_directory_and_accepted(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    store_dir = default_store_dir(data_dir)
    check_store_dir(store_dir, data_dir)  # raises when refused
    check_store_dir(data_dir / ".." / "elsewhere", data_dir)

    assert store_dir == data_dir.resolve().with_name("data-surveillance")


def test_a_missing_data_directory_journal_or_config_is_one_line(tmp_path: Path, desk_dir: Path) -> None:
    no_journal, no_config = tmp_path / "no-journal", tmp_path / "no-config"
    no_journal.mkdir()
    shutil.copy(desk_dir / CONFIG_FILE, no_journal / CONFIG_FILE)
    no_config.mkdir()
    shutil.copy(desk_dir / JOURNAL_FILE, no_config / JOURNAL_FILE)
    problems = {}

    for name, data_dir in (("missing", tmp_path / "missing"), ("no journal", no_journal), ("no config", no_config)):
        with pytest.raises(SurveillanceError) as refused:
            ingest(data_dir, Store.memory())
        problems[name] = str(refused.value)

    assert problems == {
        "missing": f"{tmp_path / 'missing'}: data directory not found",
        "no journal": f"{no_journal}: not a carbonx data directory (no {JOURNAL_FILE})",
        "no config": f"{no_config}: not a carbonx data directory (no {CONFIG_FILE})",
    }


def test_a_journal_damaged_in_the_middle_is_one_line(desk_dir: Path, tmp_path: Path) -> None:
    ends = record_ends(desk_dir)
    data_dir = tmp_path / "data"
    copy_prefix(desk_dir, data_dir, ends[-1][1])
    journal = bytearray((data_dir / JOURNAL_FILE).read_bytes())
    journal[ends[20][1] + 12] ^= 0xFF  # inside record 22's payload: its CRC fails, and records follow
    (data_dir / JOURNAL_FILE).write_bytes(bytes(journal))

    with pytest.raises(SurveillanceError, match="corrupt journal") as refused:
        ingest(data_dir, Store.memory())

    assert "\n" not in str(refused.value)


def test_the_state_file_round_trips_the_replay_state(desk_dir: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    with Store.open(store_dir) as store:
        result = ingest(desk_dir, store, store_dir)
    state = msgspec.msgpack.decode((store_dir / STATE_FILE).read_bytes(), type=surveillance.ingest.IngestState)

    assert (state.seq, state.offset) == record_ends(desk_dir)[-1]
    assert state.seq == result.last_seq
    assert state.tracker.day is not None and state.tracker.day.day == day_int(DAY2)
