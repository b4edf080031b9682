"""Agreement transfers (bulk trades) on market data: a real Exchange in, exact messages out.

An executed transfer is one ``BulkTrade`` on ``bulk.<INSTRUMENT>`` and the day's bulk figures in
the quote; it moves no listing figure. Nothing else of a transfer (proposal, rejection, cancel,
expiry) is ever published, and no account is named. The snapshot holds the recent bulk trades and
the quote's bulk figures, so a subscriber joining late, or one that lost a bulk trade, has them.
The board, the bulletin and the statements: tests/test_bulletin_bulk.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from structlog.testing import capture_logs

from engine.messages import (
    EVENT_TYPES,
    AcceptTransfer,
    AllocateAllowances,
    CancelTransfer,
    Command,
    DailyBulletin,
    DepositCash,
    EndOfDay,
    Event,
    ProposeTransfer,
    RejectTransfer,
    Session,
    SetSession,
    Side,
    StartOfDay,
    TransferProposed,
)
from market_data.messages import (
    BulkTrade,
    Bulletin,
    Quote,
    Snapshot,
    SnapshotRequest,
    Trade,
    decode_channel_message,
    decode_snapshot_reply,
    encode,
)
from market_data.publisher import Publisher
from market_data.snapshot_limits import SnapshotLimits
from market_data.snapshot_service import SnapshotService
from tests.conftest import CASH, DAY1, DAY2, Market, market_config
from tests.test_market_data_publisher import EPOCH, quote, started
from tests.test_market_data_subscriber import Node, joined, poll_until, subscriber

BUYER, SELLER = "A1", "A2"
BULK = 100_000  # t: the smallest transfer (TransferRules.min_quantity_t)
PRICE = 8100  # fen/t: within ±30% of SHEA2025's reference price, 80.00


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, object]]]:
    with capture_logs() as entries:
        yield entries


def to_afternoon(market: Market, transfers: int = 1) -> None:
    """Enough for ``transfers`` transfers of BULK t at PRICE from SELLER to BUYER, then the afternoon
    session (transfers are made in the afternoon)."""
    market.send(AllocateAllowances(account=SELLER, instrument="SHEA2025", quantity=transfers * BULK))
    market.send(DepositCash(account=BUYER, amount=transfers * CASH))
    market.session(Session.LUNCH_BREAK)
    market.session(Session.AFTERNOON)


def propose(market: Market, client_id: str, *, price: int = PRICE, quantity: int = BULK) -> int:
    """SELLER proposes to sell to BUYER; the transfer's id."""
    command = ProposeTransfer(
        account=SELLER,
        client_proposal_id=client_id,
        side=Side.SELL,
        counterparty=BUYER,
        instrument="SHEA2025",
        price=price,
        quantity=quantity,
    )
    proposed = market.send(command)
    assert isinstance(proposed[0], TransferProposed), proposed
    return proposed[0].transfer_id


def transfer(market: Market, client_id: str, *, price: int = PRICE, quantity: int = BULK) -> int:
    """A transfer proposed and accepted: executed. Its id."""
    transfer_id = propose(market, client_id, price=price, quantity=quantity)
    assert type(market.send(AcceptTransfer(account=BUYER, transfer_id=transfer_id))[-1]).__name__ == "TransferExecuted"
    return transfer_id


def bulk_trade(seq: int, ts: int, transfer_id: int, price: int = PRICE, quantity: int = BULK) -> BulkTrade:
    return BulkTrade(
        epoch=EPOCH, seq=seq, ts=ts, instrument="SHEA2025", transfer_id=transfer_id, price=price, quantity=quantity
    )


def strings(value: object) -> set[str]:
    """Every text in a decoded msgpack value, keys included."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings(k) | strings(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value))
    return set()


def names_an_account(frames: list[tuple[bytes, bytes]]) -> bool:
    accounts = {account.id for account in market_config().accounts}
    return any(strings(msgspec.msgpack.decode(payload)) & accounts for _, payload in frames)


class RawWire:
    """A publisher fed each command's events and drained after it, as the node does: the frames as sent."""

    def __init__(self, market: Market) -> None:
        self.publisher = Publisher(market.exchange, epoch=EPOCH)
        self.frames: list[tuple[bytes, bytes]] = self.publisher.drain(0)
        self.events: list[Event] = []
        send = market.send

        def send_and_publish(command: Command) -> list[Event]:
            events = send(command)
            self.events += events
            self.publisher.on_events(events)
            self.frames += self.publisher.drain(0)
            return events

        market.send = send_and_publish  # type: ignore[method-assign]

    def take(self) -> list[tuple[bytes, bytes]]:
        frames, self.frames = self.frames, []
        return frames


# ------------------------------------------------------------------------------------ the publisher


def test_an_executed_transfer_is_one_bulk_trade_and_the_quotes_bulk_figures(market: Market) -> None:
    wire = started(market)
    to_afternoon(market)
    wire.publish()

    transfer_id = transfer(market, "p1")
    out = wire.publish()

    ts = market.ts
    assert out == [
        ("bulk.SHEA2025", bulk_trade(1, ts, transfer_id)),
        ("quote.SHEA2025", quote(2, ts, bulk_volume=BULK, bulk_turnover=BULK * PRICE, bulk_trades=1)),
    ]
    # Public and anonymous: the instrument, the id, price and quantity, and nothing of the parties.
    assert set(BulkTrade.__struct_fields__) == {"epoch", "seq", "ts", "instrument", "transfer_id", "price", "quantity"}


def test_only_an_executed_transfer_is_published_never_its_proposal_rejection_cancel_or_expiry(
    market: Market,
) -> None:
    wire = RawWire(market)
    to_afternoon(market, transfers=4)
    wire.take()

    rejected = propose(market, "p1")
    market.send(RejectTransfer(account=BUYER, transfer_id=rejected))
    cancelled = propose(market, "p2")
    market.send(CancelTransfer(account=SELLER, transfer_id=cancelled))
    propose(market, "p3")  # still open when the afternoon closes: it expires
    private = wire.take()
    executed = transfer(market, "p4")
    accepted = wire.take()
    market.send(SetSession(session=Session.CLOSED))
    closing = wire.take()

    # Every kind of transfer event the engine has happened here, and only the execution went out.
    kinds = {type(e).__name__ for e in wire.events if type(e).__module__ == "engine.messages.transfer"}
    assert kinds == {t.__name__ for t in EVENT_TYPES if t.__module__ == "engine.messages.transfer"}
    assert {"TransferProposed", "TransferRejected", "TransferCancelled", "TransferExpired"} <= kinds
    assert private == []
    assert [topic for topic, _ in accepted] == [b"bulk.SHEA2025", b"quote.SHEA2025"]
    assert [topic for topic, _ in closing] == [b"status.MARKET"]  # the session, nothing of the expiry
    assert executed == 4
    assert not names_an_account(accepted + closing)


def test_a_bulk_trade_names_no_account_on_the_wire(market: Market) -> None:
    wire = RawWire(market)
    to_afternoon(market)
    transfer_id = propose(market, "p1")
    wire.take()

    market.send(AcceptTransfer(account=BUYER, transfer_id=transfer_id))
    frames = wire.take()

    assert [topic for topic, _ in frames] == [b"bulk.SHEA2025", b"quote.SHEA2025"]
    assert not names_an_account(frames)
    assert msgspec.msgpack.decode(frames[0][1]) == {
        "type": "BulkTrade",
        "epoch": EPOCH,
        "seq": 1,
        "ts": market.ts,
        "instrument": "SHEA2025",
        "transfer_id": transfer_id,
        "price": PRICE,
        "quantity": BULK,
    }


@pytest.mark.per_book
def test_a_transfer_changes_no_listing_figure_and_the_bulletin_counts_it_apart(market: Market) -> None:
    wire = started(market)
    market.sell("A3", 10, 8010)
    market.buy("A4", 10, 8010)  # the day's listing trade: 10 t at 80.10
    market.buy("A4", 5, 7990)  # rests: a bid for the depth
    to_afternoon(market)
    wire.publish()
    before = market.exchange.listing.days["SHEA2025"]
    listing = (before.open, before.high, before.low, before.last, before.volume, before.turnover, before.trades)

    transfer(market, "p1", price=9000)  # far above the listing's high, within the transfer band
    out = wire.publish()

    after = market.exchange.listing.days["SHEA2025"]
    assert (after.open, after.high, after.low, after.last, after.volume, after.turnover, after.trades) == listing
    assert [name for name, _ in out] == ["bulk.SHEA2025", "quote.SHEA2025"]  # no trade, no depth
    quoted = out[1][1]
    assert isinstance(quoted, Quote)
    assert (quoted.last, quoted.open, quoted.high, quoted.low) == (8010, 8010, 8010, 8010)
    assert (quoted.volume, quoted.turnover, quoted.trades, quoted.change) == (10, 80_100, 1, 10)
    assert (quoted.limit_down, quoted.limit_up) == (7200, 8800)  # the band did not move
    assert (quoted.bulk_volume, quoted.bulk_turnover, quoted.bulk_trades) == (BULK, BULK * 9000, 1)

    market.send(SetSession(session=Session.CLOSED))
    market.send(EndOfDay(trading_day=DAY1))
    bulletin = next(m for name, m in wire.publish() if name == "bulletin.SHEA2025")
    assert isinstance(bulletin, Bulletin)
    assert (bulletin.open, bulletin.high, bulletin.low, bulletin.last, bulletin.close, bulletin.vwap) == (8010,) * 6
    assert (bulletin.volume, bulletin.turnover, bulletin.trades) == (10, 80_100, 1)
    assert (bulletin.bulk_volume, bulletin.bulk_turnover, bulletin.bulk_trades) == (BULK, BULK * 9000, 1)

    market.send(StartOfDay(trading_day=DAY2))
    fresh = next(m for name, m in wire.publish() if name == "quote.SHEA2025")
    assert isinstance(fresh, Quote) and (fresh.bulk_volume, fresh.bulk_turnover, fresh.bulk_trades) == (0, 0, 0)
    assert fresh.reference_price == 8010  # the listing's close, the transfer's price in no part of it


def test_bulk_trades_are_never_conflated(market: Market) -> None:
    interval = 1_000_000_000
    wire = started(market, conflate_ns=interval)
    to_afternoon(market, transfers=2)
    wire.publish(0)

    first = transfer(market, "p1")
    assert [name for name, _ in wire.publish(1)] == ["bulk.SHEA2025", "quote.SHEA2025"]
    second = transfer(market, "p2")
    within = wire.publish(2)  # the quote waits for its interval; the bulk trade does not
    ended = wire.publish(1 + interval)

    assert within == [("bulk.SHEA2025", bulk_trade(2, market.ts, second))]
    assert ended == [
        ("quote.SHEA2025", quote(3, market.ts, bulk_volume=2 * BULK, bulk_turnover=2 * BULK * PRICE, bulk_trades=2))
    ]
    assert first == 1 and second == 2


# ------------------------------------------------------------------------------------------ snapshots


def test_the_snapshot_holds_the_recent_bulk_trades_and_the_quote_the_days_figures(market: Market) -> None:
    publisher = Publisher(market.exchange, epoch=EPOCH, recent_trades=2)
    to_afternoon(market, transfers=3)
    ids = []
    for client_id in ("p1", "p2", "p3"):
        ids.append(transfer(market, client_id))
        publisher.on_events(market.events[-2:])
        publisher.drain(0)
    service = SnapshotService(None, publisher, SnapshotLimits())
    request = SnapshotRequest(request_id=7, topics=["bulk.SHEA2025", "quote.SHEA2025", "trade.SHEA2025"])

    reply = decode_snapshot_reply(service.answer(encode(request), "peer", 0))

    assert isinstance(reply, Snapshot) and reply.request_id == 7
    bulk, quoted, trades = reply.items
    assert (bulk.topic, bulk.seq, bulk.latest, bulk.trades) == ("bulk.SHEA2025", 3, None, [])
    assert [(b.seq, b.transfer_id) for b in bulk.bulk_trades] == [(2, ids[1]), (3, ids[2])]  # the last two kept
    assert isinstance(quoted.latest, Quote) and quoted.bulk_trades == []
    assert (quoted.latest.bulk_volume, quoted.latest.bulk_turnover, quoted.latest.bulk_trades) == (
        3 * BULK,
        3 * BULK * PRICE,
        3,
    )
    assert (trades.seq, trades.trades, trades.bulk_trades) == (0, [], [])  # no listing trade today
    assert "bulk.SHEA2025" in publisher.topics() and "bulk.CCER" not in publisher.topics()


def test_a_publisher_started_later_knows_the_days_bulk_figures(market: Market) -> None:
    to_afternoon(market)
    transfer(market, "p1")

    mid_day = Publisher(market.exchange, epoch=EPOCH + 1)  # a node restarted after the transfer

    quoted = mid_day.snapshot(1, ["quote.SHEA2025"]).items[0].latest
    assert isinstance(quoted, Quote) and (quoted.bulk_volume, quoted.bulk_trades) == (BULK, 1)
    ended = market.close_day()
    after_close = Publisher(market.exchange, epoch=EPOCH + 2)  # the day's transfers are gone from the exchange
    after_close.drain(0)
    # The node hands it the last bulletin it recorded (carbonx.node): its bulk figures are the quote's.
    after_close.on_events([e for e in ended if isinstance(e, DailyBulletin)])
    republished = [decode_channel_message(p) for t, p in after_close.drain(0) if t == b"quote.SHEA2025"]
    assert [(q.bulk_volume, q.bulk_turnover, q.bulk_trades) for q in republished if isinstance(q, Quote)] == [
        (BULK, BULK * PRICE, 1)
    ]
    after_close.on_events(market.send(StartOfDay(trading_day=DAY2)))
    after_close.drain(0)
    fresh = after_close.snapshot(1, ["quote.SHEA2025"]).items[0].latest
    assert isinstance(fresh, Quote) and (fresh.bulk_volume, fresh.bulk_turnover, fresh.bulk_trades) == (0, 0, 0)


def test_an_older_bulletin_handed_on_a_later_day_leaves_the_bulk_figures_alone(market: Market) -> None:
    to_afternoon(market)
    transfer(market, "p1")
    yesterday = DailyBulletin(
        trading_day=DAY1 - 1,
        instrument="SHEA2025",
        reference_price=8000,
        open=0,
        high=0,
        low=0,
        last=0,
        close=8000,
        vwap=0,
        volume=0,
        turnover=0,
        trades=0,
        bulk_volume=7 * BULK,
        bulk_turnover=7 * BULK * PRICE,
        bulk_trades=7,
    )
    publisher = Publisher(market.exchange, epoch=EPOCH)

    publisher.on_events([yesterday])

    quoted = publisher.snapshot(1, ["quote.SHEA2025"]).items[0].latest
    assert isinstance(quoted, Quote) and (quoted.bulk_volume, quoted.bulk_trades) == (BULK, 1)


# ------------------------------------------------------------------------------------- the subscriber


def test_a_late_subscriber_has_the_bulk_figures_and_recovers_a_lost_bulk_trade(market: Market) -> None:
    node = Node(market)
    try:
        node.act(lambda m: (to_afternoon(m, transfers=3), transfer(m, "p1")))
        lost = ("bulk.SHEA2025", 2)
        with subscriber(node, discard=lambda name, seq: (name, seq) == lost) as sub:
            joined(sub)
            quoted = sub.quote("SHEA2025")
            assert quoted is not None and (quoted.bulk_volume, quoted.bulk_trades) == (BULK, 1)
            assert [b.transfer_id for b in sub.bulk_trades("SHEA2025")] == [1]  # from the snapshot
            assert sub.trades("SHEA2025") == []

            node.act(lambda m: (transfer(m, "p2"), transfer(m, "p3")))
            got = poll_until(sub, lambda got: [m.transfer_id for m in got if isinstance(m, BulkTrade)] == [2, 3])

            assert not any(isinstance(m, Trade) for m in got)
            assert [b.transfer_id for b in sub.bulk_trades("SHEA2025")] == [1, 2, 3]
            assert sub.gaps_detected >= 1 and sub.recoveries >= 1 and sub.unrecoverable_trades == 0
            poll_until(sub, lambda _: (q := sub.quote("SHEA2025")) is not None and q.bulk_trades == 3)
            quoted = sub.quote("SHEA2025")
            assert quoted is not None and (quoted.bulk_volume, quoted.bulk_turnover) == (3 * BULK, 3 * BULK * PRICE)
            assert (quoted.last, quoted.volume, quoted.trades) == (0, 0, 0)
    finally:
        node.close()


def test_a_subscriber_of_other_channels_never_sees_bulk_trades(market: Market) -> None:
    node = Node(market)
    try:
        with subscriber(node, channels=("quote", "trade")) as sub:
            joined(sub)
            node.act(lambda m: (to_afternoon(m), transfer(m, "p1")))
            poll_until(sub, lambda _: (q := sub.quote("SHEA2025")) is not None and q.bulk_trades == 1)
            assert sub.bulk_trades("SHEA2025") == []
    finally:
        node.close()
