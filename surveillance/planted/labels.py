"""The ground truth of a planted run: one ``PlantedCase`` per injected instance, kept as JSON.

A case names the rule it was planted for, the trading day and instrument, the manipulator accounts,
and the key evidence: the ids the engine gave the orders, trades, transfers and bids the injection
caused (captured from its events as it ran). A rule catches the case when one of its alerts of that
rule names one of the case's accounts among its subjects and its evidence holds every key id listed
in ``orders``, ``trades``, ``transfers`` and ``bids``; ``auctions`` only says which auctions it took
part in. The key ids of each rule's cases:

- wash.same_owner, wash.round_trip: ``trades``, the trades between the case's accounts;
- circular: ``trades`` (a cycle on the book) or ``transfers`` (a cycle of agreement transfers);
- spoofing.layering: ``orders``, the large orders cancelled; ``trades``, its fill on the other side;
- marking_close.vwap, marking_close.last_minutes: ``trades``, every trade of the account that day in
  the instrument;
- auction.ramping: ``trades``, the winner's buys on the day the ramp completes;
- auction.identical_bids: ``bids``, both accounts' identical bids;
- auction.floor_bids: ``bids``, the group's floor bids in the auction of the case's day (its earlier
  floor bids, in an earlier auction, are evidence a look-back rule may add);
- spoofing.order_to_trade, concentration.*, prohibited: none, the account is the case (the prohibited
  account's order and bid were refused, so they have no ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

LABELS_FILE = "planted-cases.json"

# The rule ids of surveillance's alerts, each of which the generator plants at least once.
RULE_IDS: tuple[str, ...] = (
    "wash.same_owner",
    "wash.round_trip",
    "circular",
    "spoofing.layering",
    "spoofing.order_to_trade",
    "marking_close.vwap",
    "marking_close.last_minutes",
    "concentration.volume_share",
    "concentration.near_limit",
    "concentration.large_holder",
    "auction.ramping",
    "auction.identical_bids",
    "auction.floor_bids",
    "prohibited",
)


class PlantedCase(msgspec.Struct, frozen=True, kw_only=True):
    rule: str  # one of RULE_IDS
    trading_day: int  # YYYYMMDD
    instrument: str
    accounts: list[str]  # the manipulators, sorted
    orders: list[int] = []
    trades: list[int] = []
    transfers: list[int] = []
    bids: list[int] = []
    auctions: list[int] = []


def case(
    rule: str,
    trading_day: int,
    instrument: str,
    accounts: Sequence[str],
    *,
    orders: Sequence[int] = (),
    trades: Sequence[int] = (),
    transfers: Sequence[int] = (),
    bids: Sequence[int] = (),
    auctions: Sequence[int] = (),
) -> PlantedCase:
    """A case with every list sorted and without repeats."""
    if rule not in RULE_IDS:
        raise ValueError(f"unknown rule id {rule!r}")
    return PlantedCase(
        rule=rule,
        trading_day=trading_day,
        instrument=instrument,
        accounts=sorted(set(accounts)),
        orders=sorted(set(orders)),
        trades=sorted(set(trades)),
        transfers=sorted(set(transfers)),
        bids=sorted(set(bids)),
        auctions=sorted(set(auctions)),
    )


def write_labels(path: Path, cases: Sequence[PlantedCase]) -> None:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(list(cases)), indent=2) + b"\n")


def read_labels(path: Path) -> list[PlantedCase]:
    return msgspec.json.decode(path.read_bytes(), type=list[PlantedCase])
