"""Prohibited participants: any order, bid, transfer or refused request of a flagged account."""

from __future__ import annotations

from surveillance.alerts import SCORE_MAX, Alert
from surveillance.rules import prohibited
from surveillance.settings import ProhibitedParams, RuleParams, SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"
NEXT_DAY = DAY + 1


def market() -> Market:
    m = Market()
    m.account("STAFF", "MX", prohibited=True)
    m.account("H", "MH")
    m.account("K", "MK")
    return m


def detect(m: Market, day: int = DAY, s: SurveillanceSettings | None = None) -> list[Alert]:
    return prohibited.detect(m.con, day, s or SurveillanceSettings())


def transfer_event(m: Market, event: str, transfer_id: int, proposer: str, counterparty: str, ts: int) -> None:
    m.seq += 1
    m.store.insert(
        "transfer_events",
        [(m.seq, 0, ts, DAY, "", event, transfer_id, CODE, proposer, counterparty, "SELL", 8_000, 100, "", "")],
    )


def test_every_kind_of_attempt_is_in_one_alert() -> None:
    m = market()
    order = m.order("STAFF", "BUY", 8_000, 10, at(0))
    m.reject("STAFF", at(10))  # a refused order: order_events and rejects, one request
    m.reject("STAFF", at(20), request="SubmitBid", code=5020, name="PROHIBITED_PARTICIPANT")
    m.bid("STAFF", 1, 41, 8_000, 100, at(30))
    transfer_event(m, "proposed", 9, "STAFF", "H", at(40))
    transfer_event(m, "proposed", 10, "K", "STAFF", at(50))
    first_reject = 2  # the journal seq of the first refused request (the order took seq 1)

    [alert] = detect(m)

    assert alert.rule == "prohibited"
    assert alert.subjects == ["STAFF"]
    assert alert.instrument == ""
    assert alert.score_bp == SCORE_MAX
    assert alert.evidence.orders == [order]
    assert alert.evidence.bids == [41]
    assert alert.evidence.transfers == [9, 10]
    assert alert.evidence.accounts == ["H", "K", "STAFF"]
    assert alert.figures == {
        "orders": 1,
        "bids": 1,
        "transfers": 2,
        "applications": 0,
        "rejected": 2,
        "first_seq": first_reject,
    }


def test_a_single_refused_request_is_enough() -> None:
    m = market()
    m.reject("STAFF", at(0), request="ProposeTransfer", code=2003)

    [alert] = detect(m)

    assert alert.figures == {"orders": 0, "bids": 0, "transfers": 0, "applications": 0, "rejected": 1, "first_seq": 1}
    assert alert.evidence.orders == alert.evidence.bids == alert.evidence.transfers == []


def test_executed_transfer_and_one_way_application_count() -> None:
    m = market()
    m.transfer("STAFF", "H", 8_000, 50, at(0), transfer_id=3)
    m.seq += 1
    m.store.insert(
        "auction_events",
        [
            (
                m.seq,
                0,
                at(10),
                DAY,
                "applied",
                5,
                "ONE_WAY",
                CODE,
                "STAFF",
                100_000,
                0,
                7_500,
                0,
                0,
                0,
                0,
                0,
                False,
                "",
                "",
            )
        ],
    )

    [alert] = detect(m)

    assert alert.evidence.transfers == [3]
    assert alert.evidence.auctions == [5]
    assert "first_seq" not in alert.figures


def test_honest_accounts_and_other_days_raise_nothing() -> None:
    m = market()
    m.trade("H", "K", 8_000, 10, at(0))
    m.reject("H", at(10))
    transfer_event(m, "proposed", 9, "H", "K", at(20))
    m.order("STAFF", "BUY", 8_000, 10, at(0, day=NEXT_DAY), day=NEXT_DAY)

    assert detect(m) == []
    assert [a.trading_day for a in detect(m, NEXT_DAY)] == [NEXT_DAY]


def test_one_alert_per_prohibited_account_sorted() -> None:
    m = market()
    m.account("AUDIT", "MY", prohibited=True)
    m.order("STAFF", "SELL", 8_000, 10, at(0))
    m.order("AUDIT", "BUY", 8_000, 10, at(1))
    m.order("AUDIT", "BUY", 8_001, 10, at(2))

    alerts = detect(m)

    assert [(a.subjects, a.figures["orders"]) for a in alerts] == [(["AUDIT"], 2), (["STAFF"], 1)]
    assert detect(m) == alerts


def test_disabled_family() -> None:
    m = market()
    m.order("STAFF", "BUY", 8_000, 10, at(0))
    off = RuleParams(prohibited=ProhibitedParams(enabled=False))

    assert detect(m, s=SurveillanceSettings(rules=off)) == []
    # Not about one instrument: an instrument's override does not switch it off.
    assert len(detect(m, s=SurveillanceSettings(instruments={CODE: off}))) == 1
