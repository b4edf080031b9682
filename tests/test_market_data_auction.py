"""Auctions on market data (issue 16): a real Exchange in, exact messages out on ``auction.<ID>``.

An auction's topic carries its notice, its state changes and its results, nothing else: no bid,
no bidder, no one-way seller, and nothing of a one-way application before the regulator approves
it. The snapshot service answers with the auctions the exchange keeps and pages a cleared
auction's anonymised bid list, each page within the reply limit; the subscriber SDK follows the
topics through joins and gaps and asks the service for both.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from structlog.testing import capture_logs

from engine.config import Account, AuctionRules, ExchangeConfig
from engine.messages import (
    EVENT_TYPES,
    AllocateAllowances,
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionAnnounced,
    AuctionApplied,
    AuctionCleared,
    AuctionKind,
    AuctionStatus,
    AuctionTerms,
    BidAccepted,
    CancelAuction,
    CancelCause,
    CloseAuction,
    Command,
    Event,
    OpenAuction,
    Pricing,
    Purpose,
    SubmitBid,
    TieBreak,
    WithdrawBid,
)
from market_data.auction_feed import auction_bid
from market_data.messages import (
    ALL_AUCTIONS,
    AuctionBid,
    AuctionBidsReply,
    AuctionBidsRequest,
    AuctionCap,
    AuctionNotice,
    AuctionResults,
    AuctionSnapshot,
    AuctionsReply,
    AuctionsRequest,
    AuctionState,
    MarketDataHeartbeat,
    MarketDataMessage,
    Snapshot,
    SnapshotError,
    SnapshotReply,
    SnapshotRequest,
    bids_page_size,
    decode_channel_message,
    decode_snapshot_reply,
    encode,
)
from market_data.publisher import Publisher
from market_data.snapshot_limits import SnapshotLimits
from market_data.snapshot_service import SnapshotService
from market_data.subscriber import MarketDataError
from tests.conftest import Market, funded_market, market_config
from tests.test_market_data_subscriber import Node, joined, poll_until, subscriber
from tests.test_protocol_doc import TEXT, section, table_fields

EPOCH = 1_700_000_000_000_000_000
VOLUME = 20_000  # t the reserve sells
FLOOR = 4800  # fen/t: 48.00, the reserve's floor of 2014 and 2019
WINDOW = 10**12  # ns between opening and closing
BIDDERS = ("A1", "A2")  # a covered entity and an institution: a market-supply sale's eligible kinds
SYSTEM_ACCOUNTS = {"RESERVE", "TREASURY", "EXCHANGE-FEES"}


def auction_config(**overrides: object) -> ExchangeConfig:
    """The test market with a treasury account (a reserve sale's revenue goes to it)."""
    base = market_config()
    treasury = Account(id="TREASURY", member="REGU", kind="treasury")
    return market_config(accounts=[*base.accounts, treasury], **overrides)


@pytest.fixture
def config() -> ExchangeConfig:
    return auction_config()


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, object]]]:
    with capture_logs() as entries:
        yield entries


class Wire:
    """A publisher fed each command's events and drained after it, as the node does: the frames as sent."""

    def __init__(self, market: Market) -> None:
        self.publisher = Publisher(market.exchange, epoch=EPOCH)
        self.frames: list[tuple[bytes, bytes]] = self.publisher.drain(0)
        send = market.send

        def send_and_publish(command: Command) -> list[Event]:
            events = send(command)
            self.publisher.on_events(events)
            self.frames += self.publisher.drain(0)
            return events

        market.send = send_and_publish  # type: ignore[method-assign]

    def take(self) -> list[tuple[bytes, bytes]]:
        frames, self.frames = self.frames, []
        return frames

    def messages(self, name: str) -> list[object]:
        """The messages sent on one topic since the last ``take``, decoded (the frames are kept)."""
        return [decode_channel_message(payload) for topic, payload in self.frames if topic == name.encode()]


def announce(market: Market, volume: int = VOLUME, **terms: object) -> int:
    """The reserve gets ``volume`` t and the regulator announces their sale at FLOOR; the auction's id."""
    market.send(AllocateAllowances(account="RESERVE", instrument="SHEA2025", quantity=volume))
    fields: dict[str, object] = {
        "kind": AuctionKind.RESERVE_SALE,
        "purpose": Purpose.MARKET_SUPPLY,
        "instrument": "SHEA2025",
        "auctioneer": "RESERVE",
        "volume": volume,
        "price": FLOOR,
        "opens_at": market.ts + 1,
        "closes_at": market.ts + WINDOW,
        "name": "reserve sale 1",
    }
    fields.update(terms)
    announced = market.send(AnnounceAuction(terms=AuctionTerms(**fields)))  # type: ignore[arg-type]
    assert isinstance(announced[0], AuctionAnnounced), announced
    return announced[0].auction_id


def bid(market: Market, account: str, auction_id: int, price: int, quantity: int) -> int:
    accepted = market.send(
        SubmitBid(account=account, auction_id=auction_id, client_bid_id=f"b{market.ts}", price=price, quantity=quantity)
    )
    assert isinstance(accepted[0], BidAccepted), accepted
    return accepted[0].bid_id


def cleared(market: Market, auction_id: int) -> AuctionCleared:
    """Close the auction: with a time tie-break it clears at once."""
    results = market.send(CloseAuction(auction_id=auction_id))[-1]
    assert isinstance(results, AuctionCleared), results
    return results


def strings(value: object) -> set[str]:
    """Every text in a decoded msgpack value, keys included."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings(k) | strings(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value))
    return set()


def accounts_named(payloads: list[bytes]) -> set[str]:
    """The trading accounts named anywhere in these payloads (system accounts apart)."""
    trading = {account.id for account in auction_config().accounts} - SYSTEM_ACCOUNTS
    return set().union(*(strings(msgspec.msgpack.decode(p)) & trading for p in payloads)) if payloads else set()


def ask(service: SnapshotService, request: MarketDataMessage) -> tuple[bytes, SnapshotReply]:
    raw = service.answer(encode(request), "192.0.2.1", 0)
    return raw, decode_snapshot_reply(raw)


def notice(auction_id: int, ts: int, opens_at: int, **fields: object) -> AuctionNotice:
    values: dict[str, object] = {
        "kind": AuctionKind.RESERVE_SALE,
        "purpose": Purpose.MARKET_SUPPLY,
        "instrument": "SHEA2025",
        "auctioneer": "RESERVE",
        "volume": VOLUME,
        "budget": 0,
        "price_limit": FLOOR,
        "vwap": 0,
        "vwap_k_bp": 0,
        "vwap_from": 0,
        "vwap_to": 0,
        "price_cap": 0,
        "bid_ceiling": 0,
        "opens_at": opens_at,
        "closes_at": opens_at - 1 + WINDOW,
        "cutoff_at": opens_at - 1 + WINDOW,
        "bid_lot_t": 1,
        "pricing": Pricing.UNIFORM,
        "tie_break": TieBreak.TIME,
        # market_supply's defaults (RULES.md §3), resolved into the announcement
        "eligible_kinds": ["covered_entity", "institution"],
        "caps": [AuctionCap(kind="covered_entity", max_t=100_000), AuctionCap(kind="institution", max_t=50_000)],
        "cancel_if_undersubscribed": False,
        "cancel_below_reference_bp": 0,
        "seed_commitment": "",
        "name": "reserve sale 1",
    }
    values.update(fields)
    return AuctionNotice(epoch=EPOCH, seq=1, ts=ts, auction_id=auction_id, **values)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ the publisher


def test_a_reserve_sale_publishes_its_notice_state_changes_and_results(market: Market) -> None:
    wire = Wire(market)
    wire.take()

    auction_id = announce(market)
    announced_at = market.ts
    market.send(OpenAuction(auction_id=auction_id))
    opened_at = market.ts
    bid(market, "A1", auction_id, 5000, 8_000)
    bid(market, "A2", auction_id, 4900, 10_000)
    bid(market, "A1", auction_id, 4800, 5_000)  # the marginal bid: 2,000 t of it
    cleared(market, auction_id)
    closed_at = market.ts

    name = f"auction.{auction_id}"
    assert [topic for topic, _ in wire.frames] == [name.encode()] * 4  # no quote: the listing did not move
    assert wire.messages(name) == [
        notice(auction_id, announced_at, opens_at=announced_at),
        AuctionState(
            epoch=EPOCH, seq=2, ts=opened_at, auction_id=auction_id, instrument="SHEA2025", status=AuctionStatus.OPEN
        ),
        AuctionState(
            epoch=EPOCH, seq=3, ts=closed_at, auction_id=auction_id, instrument="SHEA2025", status=AuctionStatus.CLOSED
        ),
        AuctionResults(
            epoch=EPOCH,
            seq=4,
            ts=closed_at,
            auction_id=auction_id,
            kind=AuctionKind.RESERVE_SALE,
            instrument="SHEA2025",
            volume_offered=VOLUME,
            budget=0,
            price_limit=FLOOR,
            bid_volume=23_000,
            bid_count=3,
            bidders=2,
            successful_bidders=2,
            volume_sold=VOLUME,
            clearing_price=4800,  # uniform: the lowest accepted bid
            revenue=VOLUME * 4800,
            bid_to_cover_bp=11_500,
            min_bid=4800,
            median_bid=4900,
            max_bid=5000,
            covered_share_bp=5_000,  # A1 (covered) won 10,000 t of 20,000
            hhi=5_000,  # two bidders with half each
            cancelled=False,
            cancel_cause=CancelCause.NONE,
            reference_price=0,
            cancel_below_reference_bp=0,
            seed_commitment="",
            seed="",
            fees=0,
        ),
    ]


def test_the_results_carry_every_field_of_auction_cleared() -> None:
    channel = {"epoch", "seq", "ts"}
    assert set(AuctionResults.__struct_fields__) - channel == set(AuctionCleared.__struct_fields__) - {
        "ts_event",
        "version",
    }


def test_no_bid_and_no_bidder_is_ever_published(market: Market) -> None:
    wire = Wire(market)
    auction_id = announce(market)
    market.send(OpenAuction(auction_id=auction_id))
    wire.take()

    first = bid(market, "A1", auction_id, 5000, 8_000)
    second = bid(market, "A2", auction_id, 4900, 15_000)
    market.send(AmendBid(account="A1", bid_id=first, price=5100, quantity=7_000))
    market.send(WithdrawBid(account="A2", bid_id=second))
    bid(market, "A2", auction_id, 4850, 5_000)
    bidding = wire.take()
    cleared(market, auction_id)
    clearing = wire.take()

    # Every kind of bid event happened, and none of them published anything.
    kinds = {type(e).__name__ for e in market.events if type(e).__name__.startswith("Bid")}
    assert kinds == {"BidAccepted", "BidAmended", "BidWithdrawn", "BidAllocated"}
    assert bidding == []
    assert [type(decode_channel_message(p)).__name__ for _, p in clearing] == ["AuctionState", "AuctionResults"]
    assert accounts_named([p for _, p in clearing]) == set()
    bid_types = {t.__name__ for t in EVENT_TYPES if t.__name__.startswith("Bid")}
    assert {type(decode_channel_message(p)).__name__ for _, p in clearing} & bid_types == set()


def test_a_one_way_notice_names_no_seller_and_an_application_is_never_published(market: Market) -> None:
    wire = Wire(market)
    market.send(AllocateAllowances(account="A1", instrument="SHEA2025", quantity=200_000))
    terms = AuctionTerms(
        kind=AuctionKind.ONE_WAY,
        instrument="SHEA2025",
        auctioneer="A1",
        volume=100_000,
        price=7600,  # within the previous close (80.00) −10%
        opens_at=market.ts + 1,
        closes_at=market.ts + WINDOW,
        name="one-way sale",
    )
    wire.take()

    withdrawn = market.send(ApplyAuction(account="A1", terms=terms))[0]
    assert isinstance(withdrawn, AuctionApplied)
    market.send(CancelAuction(auction_id=withdrawn.auction_id, account="A1", reason="changed my mind"))
    applied = market.send(ApplyAuction(account="A1", terms=terms))[0]
    assert isinstance(applied, AuctionApplied)
    private = wire.take()
    market.send(ApproveAuction(auction_id=applied.auction_id))
    approved = wire.take()

    assert private == []  # the application, its withdrawal, the second application: nothing
    assert [topic for topic, _ in approved] == [f"auction.{applied.auction_id}".encode()]
    published = decode_channel_message(approved[0][1])
    assert isinstance(published, AuctionNotice)
    assert (published.kind, published.auctioneer, published.volume, published.price_limit) == (
        AuctionKind.ONE_WAY,
        "",
        100_000,
        7600,
    )
    assert published.bid_ceiling == 8800  # the previous close +10%: bids may go no higher
    assert accounts_named([approved[0][1]]) == set()
    assert f"auction.{withdrawn.auction_id}" not in wire.publisher.topics()


def test_a_restarted_publisher_publishes_the_auctions_the_exchange_keeps(market: Market) -> None:
    finished = announce(market)
    market.send(OpenAuction(auction_id=finished))
    bid(market, "A1", finished, 4900, 5_000)
    results = cleared(market, finished)
    live = announce(market, name="reserve sale 2")
    market.send(OpenAuction(auction_id=live))

    restarted = Publisher(market.exchange, epoch=EPOCH + 1, ts=42)
    sent = [(t.decode(), decode_channel_message(p)) for t, p in restarted.drain(0)]

    on_auctions = [(t, type(m).__name__, m.seq) for t, m in sent if t.startswith("auction.")]
    assert on_auctions == [
        (f"auction.{finished}", "AuctionNotice", 1),
        (f"auction.{finished}", "AuctionState", 2),  # it closed before it cleared
        (f"auction.{finished}", "AuctionResults", 3),
        (f"auction.{live}", "AuctionNotice", 1),
        (f"auction.{live}", "AuctionState", 2),
    ]
    kept = restarted.snapshot(1, [f"auction.{finished}"]).items[0].auction
    assert isinstance(kept, AuctionSnapshot) and kept.status is AuctionStatus.CLEARED and kept.seq == 3
    assert kept.results is not None and kept.results.revenue == results.revenue and kept.results.ts == 42
    assert kept.state is not None and kept.state.status is AuctionStatus.CLOSED


def test_the_exchange_forgetting_an_auction_drops_its_topic(book_kind: str) -> None:
    market = funded_market(auction_config(auction=AuctionRules(results_kept=1)), book_kind)
    wire = Wire(market)
    first = announce(market)
    market.send(CancelAuction(auction_id=first, reason="no longer needed"))
    assert wire.messages(f"auction.{first}")[-1] == AuctionState(
        epoch=EPOCH,
        seq=2,
        ts=market.ts,
        auction_id=first,
        instrument="SHEA2025",
        status=AuctionStatus.CANCELLED,
        reason="no longer needed",
    )
    second = announce(market, name="reserve sale 2")
    market.send(OpenAuction(auction_id=second))
    cleared(market, second)  # no bids: it clears with nothing sold, and the first is forgotten

    publisher = wire.publisher
    assert f"auction.{first}" not in publisher.topics() and f"auction.{second}" in publisher.topics()
    beat = decode_channel_message(publisher.heartbeat(0)[1])
    assert isinstance(beat, MarketDataHeartbeat) and set(beat.seqs) & {f"auction.{first}"} == set()
    service = SnapshotService(None, publisher, SnapshotLimits())
    _, reply = ask(service, AuctionsRequest(request_id=1))
    assert isinstance(reply, AuctionsReply) and [a.auction_id for a in reply.auctions] == [second]


# ------------------------------------------------------------------------------ the snapshot service


def test_the_auctions_request_answers_every_public_auction_kept(market: Market) -> None:
    wire = Wire(market)
    sale = announce(market)
    market.send(OpenAuction(auction_id=sale))
    market.send(AllocateAllowances(account="A1", instrument="SHEA2025", quantity=100_000))
    terms = AuctionTerms(
        kind=AuctionKind.ONE_WAY,
        instrument="SHEA2025",
        auctioneer="A1",
        volume=100_000,
        price=8000,
        opens_at=market.ts + 1,
        closes_at=market.ts + WINDOW,
    )
    application = market.send(ApplyAuction(account="A1", terms=terms))[0]
    assert isinstance(application, AuctionApplied)
    service = SnapshotService(None, wire.publisher, SnapshotLimits())

    raw, reply = ask(service, AuctionsRequest(request_id=9))
    _, one = ask(service, AuctionsRequest(request_id=10, auction_ids=[sale, application.auction_id, 99]))
    _, private = ask(service, AuctionBidsRequest(request_id=11, auction_id=application.auction_id))
    _, still_open = ask(service, AuctionBidsRequest(request_id=12, auction_id=sale))

    name = f"auction.{sale}"
    expected = AuctionSnapshot(
        auction_id=sale,
        seq=2,
        status=AuctionStatus.OPEN,
        notice=next(m for m in wire.messages(name) if isinstance(m, AuctionNotice)),
        state=next(m for m in wire.messages(name) if isinstance(m, AuctionState)),
    )
    assert reply == AuctionsReply(request_id=9, epoch=EPOCH, auctions=[expected])  # no application
    assert one == AuctionsReply(request_id=10, epoch=EPOCH, auctions=[expected])
    assert accounts_named([raw]) == set()
    assert private == SnapshotError(request_id=11, text=f"UNKNOWN_AUCTION: auction_id={application.auction_id}")
    assert still_open == SnapshotError(request_id=12, text=f"AUCTION_NOT_CLEARED: auction_id={sale}, status=OPEN")
    _, by_topic = ask(service, SnapshotRequest(request_id=13, topics=[ALL_AUCTIONS, "status.MARKET"]))
    assert isinstance(by_topic, Snapshot)
    assert [(i.topic, i.seq, i.auction) for i in by_topic.items] == [
        (name, 2, expected),
        ("status.MARKET", 1, msgspec.UNSET),  # not on the wire: other topics' items keep their bytes
    ]


def test_the_page_size_keeps_the_widest_page_within_the_reply_limit() -> None:
    widest = 2**64 - 1
    for limit in (1024, 65_536, 4_194_304):
        page = bids_page_size(limit)
        bids = [AuctionBid(widest, widest, widest, widest, widest, widest)] * page
        reply = AuctionBidsReply(
            request_id=widest, epoch=widest, auction_id=widest, offset=widest, total=widest, bids=bids
        )
        assert len(encode(reply)) <= limit < len(encode(msgspec.structs.replace(reply, bids=[*bids, bids[0]])))
    assert bids_page_size(4_194_304) == 76_257  # the default limit: (4 MiB − a 119 B envelope) ÷ 55 B a bid


def test_pages_of_the_bid_list_hold_every_bid_once_and_each_fits_the_limit(market: Market) -> None:
    publisher = Publisher(market.exchange, epoch=EPOCH)
    auction_id = announce(market, volume=1_000)
    market.send(OpenAuction(auction_id=auction_id))
    for n in range(40):
        bid(market, BIDDERS[n % 2], auction_id, FLOOR + 10 * (n % 7), 10 + n)
    cleared(market, auction_id)
    publisher.on_events(market.events)
    limit = 1024
    service = SnapshotService(None, publisher, SnapshotLimits(max_reply_bytes=limit))
    assert service.bids_page == 16

    pages: list[AuctionBidsReply] = []
    sizes = []
    while not pages or pages[-1].offset + len(pages[-1].bids) < pages[-1].total:
        offset = pages[-1].offset + len(pages[-1].bids) if pages else 0
        raw, page = ask(service, AuctionBidsRequest(request_id=len(pages) + 1, auction_id=auction_id, offset=offset))
        assert isinstance(page, AuctionBidsReply)
        pages.append(page)
        sizes.append(len(raw))

    view = publisher.view
    expected = [auction_bid(b) for b in view.published_bids(auction_id)]
    assert [len(p.bids) for p in pages] == [16, 16, 8]
    assert {p.total for p in pages} == {40} and max(sizes) <= limit
    assert [b for p in pages for b in p.bids] == expected
    assert [b.time_rank for b in expected] == list(range(1, 41))  # each bid once, in time-rank order
    assert sum(b.allocated for b in expected) == 1_000
    _, asked_for_more = ask(service, AuctionBidsRequest(request_id=7, auction_id=auction_id, limit=1000))
    _, asked_for_five = ask(service, AuctionBidsRequest(request_id=8, auction_id=auction_id, offset=38, limit=5))
    _, beyond = ask(service, AuctionBidsRequest(request_id=9, auction_id=auction_id, offset=40))
    assert isinstance(asked_for_more, AuctionBidsReply) and len(asked_for_more.bids) == 16
    assert isinstance(asked_for_five, AuctionBidsReply) and asked_for_five.bids == expected[38:]
    assert beyond == AuctionBidsReply(request_id=9, epoch=EPOCH, auction_id=auction_id, offset=40, total=40, bids=[])


def test_a_malformed_auction_request_is_refused_with_its_request_id(market: Market) -> None:
    service = SnapshotService(None, Publisher(market.exchange, epoch=EPOCH), SnapshotLimits())
    payload = msgspec.msgpack.encode({"type": "AuctionBidsRequest", "request_id": 4, "auction_id": 1, "offset": -1})

    reply = decode_snapshot_reply(service.answer(payload, "192.0.2.1", 0))

    assert isinstance(reply, SnapshotError) and reply.request_id == 4
    assert reply.text.startswith("MALFORMED_REQUEST: ValidationError")


# ------------------------------------------------------------------------------------- the subscriber


def test_a_late_joiner_has_the_auction_from_the_snapshot_and_follows_it(market: Market) -> None:
    node = Node(market)
    try:
        auction_id = 0

        def open_auction(m: Market) -> None:
            nonlocal auction_id
            auction_id = announce(m)
            m.send(OpenAuction(auction_id=auction_id))
            bid(m, "A1", auction_id, 5000, 8_000)

        node.act(open_auction)
        name = f"auction.{auction_id}"
        lost = (name, 3)  # the close: recovered from the snapshot service
        with (
            subscriber(node, discard=lambda topic, seq: (topic, seq) == lost) as sub,
            subscriber(node, instruments=["CCER"]) as other,
        ):
            first = joined(sub)
            joined(other)
            with node.lock:
                published = node.publisher.snapshot(1, [name]).items[0].auction
            assert isinstance(published, AuctionSnapshot) and published.status is AuctionStatus.OPEN
            assert sub.auction(auction_id) == published == other.auction(auction_id)  # whichever instruments
            assert [m for m in first if isinstance(m, AuctionNotice | AuctionState)] == [
                published.notice,
                published.state,
            ]
            assert sub.instruments() == ["SHEA2025", "CCER", "T5"] and other.instruments() == ["CCER"]

            node.act(lambda m: (bid(m, "A2", auction_id, 4900, 10_000), cleared(m, auction_id)))
            got = poll_until(sub, lambda got: any(isinstance(m, AuctionResults) for m in got))

            kept = sub.auction(auction_id)
            assert kept is not None and kept.status is AuctionStatus.CLEARED and kept.seq == 4
            assert [type(m).__name__ for m in got][-2:] == [
                "AuctionState",
                "AuctionResults",
            ]
            assert sub.gaps_detected == 1 and sub.recoveries == 1
            assert sub.fetch_auctions() == [kept] and sub.auctions() == [kept]
            with node.lock:
                expected = [auction_bid(b) for b in node.publisher.view.published_bids(auction_id)]
            assert sub.fetch_all_auction_bids(auction_id) == expected and len(expected) == 2
            with pytest.raises(MarketDataError, match="UNKNOWN_AUCTION: auction_id=99"):
                sub.fetch_auction_bids(99)
    finally:
        node.close()


# ---------------------------------------------------------------------------------------- the docs


@pytest.mark.parametrize(
    "kind",
    [AuctionsRequest, AuctionBidsRequest, AuctionSnapshot, AuctionBid, AuctionCap],
    ids=lambda kind: kind.__name__,
)
def test_the_auction_requests_and_records_are_documented(kind: type[msgspec.Struct]) -> None:
    # The published messages and the replies are checked with every message (tests/test_protocol_doc.py).
    fields = set(kind.__struct_fields__)
    if kind.__struct_config__.tag is not None:
        fields.add("type")
    assert table_fields(section(TEXT, kind.__name__)) == fields
