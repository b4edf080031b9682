"""The public page's state (issue 18, web/state.py): market-data messages in, STATE and CHANGE out.

``PageState`` is pure, so it is driven here by hand-built ``market_data.messages`` values and a
fake ``FeedSource``. The values are restated from the brief (docs/WEB.md): times in ms, enums as
lowercase names, integers for prices, quantities and money. The last tests replay the changes on
the STATE taken at some version, as a browser does, and check it ends where the page is.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.messages import AuctionKind, AuctionStatus, CancelCause, Pricing, Purpose, Session, Side, TieBreak
from market_data.bars import NS_PER_MINUTE, bars_of
from market_data.messages import (
    AuctionBid,
    AuctionCap,
    AuctionNotice,
    AuctionResults,
    AuctionSnapshot,
    AuctionState,
    BarsReply,
    BulkTrade,
    Bulletin,
    ChannelPayload,
    Depth,
    InstrumentBars,
    InstrumentStatus,
    Level,
    MarketStatus,
    Quote,
    Trade,
)
from web.state import TRADES_KEPT, Json, PageState

E = 1_700_000_000_000_000_000  # epoch
DAY1, DAY2 = 20261123, 20261124
MIDNIGHT = 1_795_363_200_000_000_000  # 2026-11-23 00:00 Asia/Shanghai, ns UTC
T = MIDNIGHT + 10 * 3600 * 1_000_000_000 + 123_456_789  # 10:00:00.123456789 on DAY1


def words(text: str) -> set[str]:
    return set(text.split())


NOTICE_KEYS = words(  # the brief's NOTICE and RESULTS (docs/WEB.md)
    "auction_id name kind purpose instrument auctioneer volume budget price_limit vwap vwap_k_bp vwap_from vwap_to "
    "price_cap bid_ceiling opens_at_ms closes_at_ms cutoff_at_ms bid_lot_t pricing tie_break eligible_kinds caps "
    "cancel_if_undersubscribed cancel_below_reference_bp seed_commitment"
)
RESULTS_KEYS = words(
    "volume_offered budget price_limit bid_volume bid_count bidders successful_bidders volume_sold clearing_price "
    "revenue bid_to_cover_bp min_bid median_bid max_bid covered_share_bp hhi cancelled cancel_cause reference_price "
    "cancel_below_reference_bp seed_commitment seed fees ts_ms"
)


# ------------------------------------------------------------------------------------ messages


def quote(code: str = "SHEA2025", seq: int = 1, ts: int = T, **figures: int) -> Quote:
    values = dict.fromkeys(("last", "change", "open", "high", "low", "volume", "turnover", "trades"), 0)
    values |= {"reference_price": 8000, "bid": 0, "bid_quantity": 0, "ask": 0, "ask_quantity": 0}
    values |= {"limit_up": 8800, "limit_down": 7200}
    return Quote(epoch=E, seq=seq, ts=ts, instrument=code, **values | figures)


def trade(seq: int, ts: int = T, price: int = 8012, quantity: int = 100, code: str = "SHEA2025") -> Trade:
    return Trade(
        epoch=E, seq=seq, ts=ts, instrument=code, trade_id=seq, price=price, quantity=quantity, aggressor=Side.BUY
    )


def bulk(seq: int, ts: int = T, code: str = "SHEA2025") -> BulkTrade:
    return BulkTrade(epoch=E, seq=seq, ts=ts, instrument=code, transfer_id=seq, price=7900, quantity=50_000)


def market(day: int = DAY1, seq: int = 1, ts: int = T, **fields: Any) -> MarketStatus:
    values = {"session": Session.MORNING, "halted": False, "reason": "", "day_open": True} | fields
    return MarketStatus(epoch=E, seq=seq, ts=ts, trading_day=day, **values)


def bulletin(code: str = "SHEA2025", day: int = DAY1) -> Bulletin:
    figures = dict(reference_price=8000, open=8000, high=8020, low=7990, last=8012, close=8005, vwap=8005)
    figures |= dict(volume=1200, turnover=9_606_000, trades=7, bulk_volume=50_000, bulk_turnover=395_000_000)
    return Bulletin(epoch=E, seq=1, ts=T, trading_day=day, instrument=code, bulk_trades=1, **figures)


def notice(auction_id: int = 1, kind: AuctionKind = AuctionKind.RESERVE_SALE, seq: int = 1) -> AuctionNotice:
    return AuctionNotice(
        epoch=E, seq=seq, ts=T, auction_id=auction_id, kind=kind, purpose=Purpose.MARKET_SUPPLY, instrument="SHEA2025",
        auctioneer="RESERVE", volume=1_000, budget=0, price_limit=7000, vwap=0, vwap_k_bp=0, vwap_from=0, vwap_to=0,
        price_cap=0, bid_ceiling=0, opens_at=T + 1_000_000, closes_at=T + 2_000_000, cutoff_at=T + 1_500_000,
        bid_lot_t=10, pricing=Pricing.UNIFORM, tie_break=TieBreak.TIME, eligible_kinds=["covered_entity"],
        caps=[AuctionCap(kind="covered_entity", max_t=500)], cancel_if_undersubscribed=False,
        cancel_below_reference_bp=0, seed_commitment="", name=f"sale {auction_id}",
    )  # fmt: skip


def results(auction_id: int = 1, kind: AuctionKind = AuctionKind.RESERVE_SALE, seq: int = 4) -> AuctionResults:
    figures = dict.fromkeys(RESULTS_KEYS - {"cancelled", "cancel_cause", "seed", "seed_commitment", "ts_ms"}, 0)
    figures |= {"volume_offered": 1_000, "price_limit": 7000, "clearing_price": 7400, "volume_sold": 1_000}
    return AuctionResults(
        epoch=E, seq=seq, ts=T + 3_000_000, auction_id=auction_id, kind=kind, instrument="SHEA2025", cancelled=False,
        cancel_cause=CancelCause.NONE, seed_commitment="", seed="", **figures,
    )  # fmt: skip


def state(auction_id: int, status: AuctionStatus, seq: int) -> AuctionState:
    return AuctionState(epoch=E, seq=seq, ts=T, auction_id=auction_id, instrument="SHEA2025", status=status)


class Source:
    """A ``FeedSource`` giving what a test put in ``values`` (``market_data.subscriber.Subscriber``'s getters)."""

    def __init__(self, codes: Iterable[str] = ("SHEA2025", "CCER"), market_status: MarketStatus | None = None):
        self.codes, self.market = list(codes), market_status
        self.values: dict[tuple[str, str], Any] = {}  # (getter, instrument) -> what it returns
        self.auction_list: list[AuctionSnapshot] = []

    def instruments(self) -> list[str]:
        return list(self.codes)

    def quote(self, instrument: str) -> Quote | None:
        return self.values.get(("quote", instrument))

    def depth(self, instrument: str) -> Depth | None:
        return self.values.get(("depth", instrument))

    def status(self, instrument: str) -> InstrumentStatus | None:
        return self.values.get(("status", instrument))

    def market_status(self) -> MarketStatus | None:
        return self.market

    def bulletin(self, instrument: str) -> Bulletin | None:
        return self.values.get(("bulletin", instrument))

    def trades(self, instrument: str) -> list[Trade]:
        return list(self.values.get(("trades", instrument), ()))

    def bulk_trades(self, instrument: str) -> list[BulkTrade]:
        return list(self.values.get(("bulk_trades", instrument), ()))

    def auctions(self) -> list[AuctionSnapshot]:
        return list(self.auction_list)


def full_source() -> Source:
    source = Source(market_status=market())
    source.values = {
        ("quote", "SHEA2025"): quote(
            last=8012, change=12, open=8000, high=8020, low=7990, trades=2, volume=1200, bulk_trades=1
        ),
        ("quote", "CCER"): quote("CCER", reference_price=8500),
        ("depth", "SHEA2025"): Depth(
            epoch=E, seq=3, ts=T, instrument="SHEA2025", bids=[Level(8010, 300, 2)], asks=[Level(8015, 100, 1)]
        ),
        ("status", "SHEA2025"): InstrumentStatus(epoch=E, seq=1, ts=T, instrument="SHEA2025", halted=False, reason=""),
        ("bulletin", "SHEA2025"): bulletin(day=20261120),
        # The held trades span days; the quote's counts say the last 2 trades and the last bulk trade are today's.
        ("trades", "SHEA2025"): [trade(1, MIDNIGHT - 1, 7999), trade(2, MIDNIGHT, 8000), trade(3)],
        ("bulk_trades", "SHEA2025"): [bulk(1, MIDNIGHT - 1), bulk(2)],
    }
    source.auction_list = [AuctionSnapshot(auction_id=1, seq=1, status=AuctionStatus.ANNOUNCED, notice=notice())]
    return source


def reset(source: Source | None = None) -> PageState:
    page = PageState()
    page.reset(source or full_source())
    return page


def bars_reply(seq: int, rows: Iterable[tuple[int, int, int]], code: str = "SHEA2025", day: int = DAY1) -> BarsReply:
    item = InstrumentBars(instrument=code, seq=seq, bars=bars_of(list(rows)))
    return BarsReply(request_id=1, epoch=E, trading_day=day, items=[item])


# ------------------------------------------------------------------------------------ reset and values


def test_reset_gives_the_state_document_of_the_brief() -> None:
    document = reset().document()

    assert document["version"] == 1 and document["feed"]["state"] == "connecting"
    assert document["market"] == {
        "trading_day": DAY1, "session": "morning", "halted": False, "reason": "", "day_open": True,
        "sessions_over": False, "ts_ms": T // 1_000_000,
    }  # fmt: skip
    assert document["instruments"] == ["SHEA2025", "CCER"]
    assert document["quotes"]["SHEA2025"] == {
        "instrument": "SHEA2025", "reference_price": 8000, "last": 8012, "change": 12, "change_pct": "+0.15%",
        "open": 8000, "high": 8020, "low": 7990, "volume": 1200, "turnover": 0, "trades": 2, "bid": 0,
        "bid_quantity": 0, "ask": 0, "ask_quantity": 0, "limit_up": 8800, "limit_down": 7200, "bulk_volume": 0,
        "bulk_turnover": 0, "bulk_trades": 1, "ts_ms": 1_795_399_200_123,
    }  # fmt: skip
    assert document["quotes"]["CCER"]["change_pct"] == "—"  # nothing traded today
    assert document["depth"] == {
        "SHEA2025": {"instrument": "SHEA2025", "bids": [[8010, 300, 2]], "asks": [[8015, 100, 1]]}
    }
    assert document["status"] == {"SHEA2025": {"instrument": "SHEA2025", "halted": False, "reason": ""}}
    # Only the trading day's, as many as the quote counts (the day may run ahead of the calendar in a demo).
    assert document["trades"] == {
        "SHEA2025": [
            {"trade_id": 2, "ts_ms": MIDNIGHT // 1_000_000, "price": 8000, "quantity": 100, "aggressor": "buy"},
            {"trade_id": 3, "ts_ms": T // 1_000_000, "price": 8012, "quantity": 100, "aggressor": "buy"},
        ],
        "CCER": [],
    }
    assert document["bulk"] == {
        "SHEA2025": [{"transfer_id": 2, "ts_ms": T // 1_000_000, "price": 7900, "quantity": 50_000}],
        "CCER": [],
    }
    assert document["bars"] == {}  # bars come apart (set_bars)
    assert document["bulletins"]["SHEA2025"] == {
        "trading_day": 20261120, "instrument": "SHEA2025", "reference_price": 8000, "open": 8000, "high": 8020,
        "low": 7990, "last": 8012, "close": 8005, "vwap": 8005, "volume": 1200, "turnover": 9_606_000, "trades": 7,
        "bulk_volume": 50_000, "bulk_turnover": 395_000_000, "bulk_trades": 1,
    }  # fmt: skip
    (auction,) = document["auctions"]
    assert (auction["auction_id"], auction["status"], auction["state_reason"], auction["results"]) == (
        1, "announced", "", None
    )  # fmt: skip
    assert set(auction["notice"]) == NOTICE_KEYS
    assert {k: auction["notice"][k] for k in ("kind", "purpose", "pricing", "tie_break", "opens_at_ms")} == {
        "kind": "reserve_sale", "purpose": "market_supply", "pricing": "uniform", "tie_break": "time",
        "opens_at_ms": (T + 1_000_000) // 1_000_000,
    }  # fmt: skip
    assert auction["notice"]["caps"] == [{"kind": "covered_entity", "max_t": 500, "max_bp": 0}]
    assert json.loads(json.dumps(document)) == document  # JSON as it stands


@pytest.mark.parametrize(("today", "shown"), [(3, [1, 2, 3]), (5, [1, 2, 3]), (0, [])])
def test_the_quotes_day_count_picks_todays_trades_among_those_held(today: int, shown: list[int]) -> None:
    # Not the calendar: a demo node opens the next trading day on a weekend, its trades dated before it.
    source = full_source()
    source.values[("quote", "SHEA2025")] = quote(last=8012, change=12, trades=today)

    document = reset(source).document()

    assert [t["trade_id"] for t in document["trades"]["SHEA2025"]] == shown
    assert document["bulk"]["SHEA2025"] == []  # the quote counts no bulk trade today


# ------------------------------------------------------------------------------------ changes


def test_each_message_gives_its_change_and_one_apply_moves_the_version_once() -> None:
    page = reset()
    depth = Depth(epoch=E, seq=4, ts=T, instrument="CCER", bids=[], asks=[Level(8600, 5, 1)])
    halted = InstrumentStatus(epoch=E, seq=2, ts=T, instrument="CCER", halted=True, reason="news")
    day_bulletin = bulletin("CCER")
    messages: list[ChannelPayload] = [quote("CCER", 2, reference_price=8500, last=8600, change=100, trades=1)]
    messages += [depth, bulk(3)]
    messages += [halted, market(halted=True, reason="drill"), day_bulletin, trade(4)]

    changes = page.apply(messages)

    assert page.version == 2
    assert [c["kind"] for c in changes] == ["quote", "depth", "bulk", "status", "market", "bulletin", "trade", "bar"]
    assert changes[0]["quote"]["change_pct"] == "+1.18%" and changes[0]["quote"]["last"] == 8600
    assert changes[1] == {"kind": "depth", "depth": {"instrument": "CCER", "bids": [], "asks": [[8600, 5, 1]]}}
    assert changes[2] == {
        "kind": "bulk", "instrument": "SHEA2025",
        "bulk": {"transfer_id": 3, "ts_ms": T // 1_000_000, "price": 7900, "quantity": 50_000},
    }  # fmt: skip
    assert changes[3] == {"kind": "status", "status": {"instrument": "CCER", "halted": True, "reason": "news"}}
    assert (changes[4]["market"]["halted"], changes[4]["market"]["reason"]) == (True, "drill")
    assert changes[5] == {"kind": "bulletin", "bulletin": page.bulletins["CCER"]}
    bought = {"trade_id": 4, "ts_ms": T // 10**6, "price": 8012, "quantity": 100, "aggressor": "buy"}
    assert changes[6]["trade"] == bought
    minute = (T - T % NS_PER_MINUTE) // 1_000_000
    assert changes[7]["bar"] == [minute, 8012, 8012, 8012, 8012, 100, 801_200]
    assert page.apply([]) == [] and page.version == 2


def test_auction_messages_follow_the_auction_and_an_unknown_one_changes_nothing() -> None:
    page = reset()

    assert page.apply([state(9, AuctionStatus.OPEN, 2)]) == [] and page.version == 1  # no notice heard
    (opened,) = page.apply([state(1, AuctionStatus.OPEN, 2)])
    (second,) = page.apply([notice(2, AuctionKind.BUYBACK)])
    (cleared,) = page.apply([results(1)])

    assert (opened["kind"], opened["auction"]["status"], page.version) == ("auction", "open", 4)
    assert second["auction"]["notice"]["kind"] == "buyback" and second["auction"]["status"] == "announced"
    assert cleared["auction"]["status"] == "cleared"
    assert set(cleared["auction"]["results"]) == RESULTS_KEYS
    assert cleared["auction"]["results"]["cancel_cause"] == "none"
    assert [a["auction_id"] for a in page.document()["auctions"]] == [1, 2]
    assert page.cleared_without_bids() == [1]


def test_a_trade_the_bars_cover_is_not_added_again_and_a_later_one_is() -> None:
    page = reset()
    minute = T - T % NS_PER_MINUTE
    page.set_bars(bars_reply(3, [(T, 8000, 10), (T + 1, 8010, 5)]))

    covered = page.apply([trade(3, T + 1, 8010, 5)])
    same_minute = page.apply([trade(4, T + 2, 8030, 1)])
    next_minute = page.apply([trade(5, minute + NS_PER_MINUTE, 7990, 2)])

    assert [c["kind"] for c in covered] == ["trade"]
    assert same_minute[1]["bar"] == [minute // 1_000_000, 8000, 8030, 8000, 8030, 16, 80_000 + 40_050 + 8030]
    assert next_minute[1]["bar"] == [(minute + NS_PER_MINUTE) // 1_000_000, 7990, 7990, 7990, 7990, 2, 15_980]
    assert page.document()["bars"]["SHEA2025"] == [same_minute[1]["bar"], next_minute[1]["bar"]]
    assert page.bars_seq["SHEA2025"] == 5


def test_bars_of_another_trading_day_are_ignored() -> None:
    page = reset()

    assert page.set_bars(bars_reply(3, [(T, 8000, 10)], day=DAY2)) == []
    assert page.version == 1 and page.document()["bars"] == {}
    assert len(page.set_bars(bars_reply(3, [(T, 8000, 10)]))) == 1 and page.version == 2


def test_a_new_trading_day_clears_trades_bulk_and_bars() -> None:
    page = reset()
    page.set_bars(bars_reply(3, [(T, 8000, 10)]))
    page.apply([trade(4), bulk(3)])

    same_day = page.apply([market(DAY1, seq=2, session=Session.LUNCH_BREAK)])
    ended = page.apply([market(DAY1, seq=3, session=Session.CLOSED, day_open=False)])
    new_day = page.apply([market(DAY2, seq=4, session=Session.CLOSED)])

    assert [c["kind"] for c in same_day] == ["market"] and [c["kind"] for c in ended] == ["market"]
    assert new_day[0] == {"kind": "day", "trading_day": DAY2} and new_day[1]["kind"] == "market"
    document = page.document()
    assert document["trades"] == {"SHEA2025": [], "CCER": []} and document["bulk"] == {"SHEA2025": [], "CCER": []}
    assert not any(document["bars"].values())
    assert page.apply([trade(5, T + 86_400 * 1_000_000_000)])[1]["kind"] == "bar"


def test_set_feed_changes_only_when_the_feed_does() -> None:
    page = reset()

    live = {"state": "live", "text": "实时行情 Live"}
    assert page.set_feed("live", "实时行情 Live") == [{"kind": "feed", "feed": live}]
    assert page.set_feed("live", "实时行情 Live") == [] and page.version == 2


# ------------------------------------------------------------------------------------ curves


def curve_page(kind: AuctionKind, bids: list[AuctionBid]) -> PageState:
    page = reset(Source())
    page.apply([notice(1, kind), state(1, AuctionStatus.OPEN, 2), state(1, AuctionStatus.CLOSED, 3), results(1, kind)])
    page.auction_bids[1] = bids
    return page


BIDS = [AuctionBid(1, 1, 7200, 300, 300, 7400), AuctionBid(2, 2, 7600, 500, 500, 7400)]
BIDS += [AuctionBid(3, 3, 7200, 400, 200, 7400), AuctionBid(1, 4, 7000, 100, 0, 0)]


def test_a_sales_curve_fills_from_the_highest_price_earlier_rank_first() -> None:
    page = curve_page(AuctionKind.RESERVE_SALE, BIDS)

    assert page.curve(2) is None and reset().curve(1) is None  # unknown; bids not fetched
    assert page.curve(1) == {
        "auction_id": 1, "kind": "reserve_sale", "side": "demand", "price_limit": 7000, "clearing_price": 7400,
        "volume": 1_000,
        "steps": [
            {"start": 0, "quantity": 500, "price": 7600, "allocated": 500},
            {"start": 500, "quantity": 300, "price": 7200, "allocated": 300},
            {"start": 800, "quantity": 400, "price": 7200, "allocated": 200},
            {"start": 1200, "quantity": 100, "price": 7000, "allocated": 0},
        ],
    }  # fmt: skip


def test_a_buybacks_curve_fills_from_the_lowest_price() -> None:
    curve = curve_page(AuctionKind.BUYBACK, BIDS).curve(1)

    assert curve is not None and (curve["kind"], curve["side"]) == ("buyback", "supply")
    assert [(s["start"], s["price"]) for s in curve["steps"]] == [(0, 7000), (100, 7200), (400, 7200), (800, 7600)]


# ------------------------------------------------------------------------------------ properties


@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 200), st.integers(7200, 8800), st.integers(1, 1000)), max_size=80),
    st.integers(0, 10),
)
def test_any_quotes_and_trades_keep_bounded_trades_and_sorted_bars(
    steps: list[tuple[bool, int, int, int]], covered: int
) -> None:
    page = reset(Source(market_status=market()))
    history = [(T, 8000, 10)]  # the bars' own trade, before everything
    page.set_bars(bars_reply(covered, history))
    ts, seq, trades, added = T, 0, 0, list(history)
    for is_trade, seconds, price, quantity in steps:
        ts += seconds * 1_000_000_000
        if is_trade:
            seq, trades = seq + 1, trades + 1
            page.apply([trade(seq, ts, price, quantity)])
            if seq > covered:
                added.append((ts, price, quantity))
        else:
            page.apply([quote(seq=seq + 2, ts=ts, last=price, trades=1)])

    document = page.document()
    assert len(document["trades"].get("SHEA2025", [])) == min(trades, TRADES_KEPT)
    bars = document["bars"]["SHEA2025"]
    assert [b[0] for b in bars] == sorted({b[0] for b in bars})
    assert sum(b[5] for b in bars) == sum(q for _, _, q in added)
    assert bars == [[b.minute // 1_000_000, *msgspec.structs.astuple(b)[1:7]] for b in bars_of(added)]


# ------------------------------------------------------------------------------------ snapshot plus deltas


def browse(document: Json, batches: list[list[Json]]) -> Json:
    """What a browser holds after applying ``batches`` to the STATE it had: the brief's CHANGE rules."""
    page = copy.deepcopy(document)
    for changes in batches:
        for change in changes:
            kind = change["kind"]
            if kind in ("feed", "market"):
                page[kind] = change[kind]
            elif kind in ("quote", "depth", "status"):
                value = change[kind]
                page[{"quote": "quotes", "depth": "depth", "status": "status"}[kind]][value["instrument"]] = value
                if kind == "quote" and value["instrument"] not in page["instruments"]:
                    page["instruments"].append(value["instrument"])
            elif kind == "bulletin":
                page["bulletins"][change["bulletin"]["instrument"]] = change["bulletin"]
            elif kind in ("trade", "bulk"):
                kept = page["trades" if kind == "trade" else "bulk"].setdefault(change["instrument"], [])
                kept.append(change[kind])
                del kept[: -TRADES_KEPT if kind == "trade" else None]
            elif kind == "bar":
                bars = page["bars"].setdefault(change["instrument"], [])
                same = [n for n, bar in enumerate(bars) if bar[0] == change["bar"][0]]
                if same:
                    bars[same[0]] = change["bar"]
                else:
                    bars.append(change["bar"])
            elif kind == "bars":
                page["bars"][change["instrument"]] = change["bars"]
            elif kind == "auction":
                others = [a for a in page["auctions"] if a["auction_id"] != change["auction"]["auction_id"]]
                page["auctions"] = sorted([*others, change["auction"]], key=lambda a: a["auction_id"])
            elif kind == "day":
                for table in ("trades", "bulk", "bars"):
                    for kept in page[table].values():
                        kept.clear()
    return page


def same_page(document: Json) -> Json:
    """The document as JSON, the version apart; an instrument without trades, bulk or bars, the same as none."""
    value = json.loads(json.dumps(document))
    value.pop("version")
    for table in ("trades", "bulk", "bars"):
        value[table] = {code: kept for code, kept in value[table].items() if kept}
    return value


def test_the_state_at_a_version_plus_the_changes_after_it_is_the_page() -> None:
    page = reset()
    page.set_feed("live", "实时行情 Live")
    at_version, batches = json.loads(json.dumps(page.document())), []
    minute = T - T % NS_PER_MINUTE

    batches.append(page.set_bars(bars_reply(3, [(T - NS_PER_MINUTE, 7990, 10), (T, 8000, 10)])))
    batches.append(page.apply([quote(seq=2, last=8000, trades=3), trade(3, T, 8000, 10), trade(4, T + 1, 8030, 1)]))
    batches.append(page.apply([trade(5, minute + NS_PER_MINUTE, 7990, 2), bulk(3), quote("SHCER", 1)]))
    batches.append(page.apply([InstrumentStatus(epoch=E, seq=2, ts=T, instrument="CCER", halted=True, reason="x")]))
    batches.append(page.apply([notice(2), state(1, AuctionStatus.OPEN, 2), results(2, seq=2), bulletin("CCER")]))
    batches.append(page.set_feed("stale", "行情中断 No market data"))
    batches.append(page.apply([*(trade(seq, T + seq, 8000, 1) for seq in range(6, 60))]))
    batches.append(page.apply([market(DAY2, seq=2, session=Session.CLOSED), trade(60, T + 86_400_000_000_000)]))
    batches.append(page.set_feed("live", "实时行情 Live"))

    assert same_page(browse(at_version, batches)) == same_page(page.document())
    assert page.version == at_version["version"] + len([b for b in batches if b])


def test_bars_fetched_after_live_trades_keep_the_browsers_bars_in_order() -> None:
    # The bridge retries a failed bars request (web.bridge.BARS_RETRY_S): live trades may come first.
    page = reset()
    at_version = json.loads(json.dumps(page.document()))
    later = T + 3 * NS_PER_MINUTE

    batches = [page.apply([trade(4, later, 8030, 1)])]
    batches.append(page.set_bars(bars_reply(4, [(T, 8000, 10), (later, 8030, 1)])))

    assert same_page(browse(at_version, batches)) == same_page(page.document())
