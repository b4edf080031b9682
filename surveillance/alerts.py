"""An alert: the rule that fired, the parameters it used, a score and the evidence.

Every rule (``surveillance/rules/``) returns ``Alert`` values; the store keeps each once, by its
fingerprint, so running the rules again over the same days adds nothing. The fingerprint is what
the alert is about — rule, day, instrument, subjects, the auctions it concerns and the rule's own
``instance`` key (a cycle's route) — and not its evidence: a pattern that grows during the day (a
third wash trade of the same pair) is the same alert, raised once with what was known then. The score runs from 0 to 1
(kept as basis points, 0-10,000: integers everywhere) and grows with how far the evidence exceeds
the rule's threshold; each rule documents its formula in docs/SURVEILLANCE.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

SCORE_MAX = 10_000


class Evidence(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The ids an analyst opens to see what happened: sorted, each list without repeats."""

    accounts: list[str] = []  # every account involved: the subjects and their counterparties
    orders: list[int] = []
    trades: list[int] = []
    transfers: list[int] = []
    bids: list[int] = []
    auctions: list[int] = []


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    rule: str  # e.g. "wash.same_owner" (docs/SURVEILLANCE.md lists them)
    trading_day: int  # YYYYMMDD
    instrument: str  # "" when the rule is not about one instrument
    subjects: list[str]  # the accounts the alert is about, sorted (not their innocent counterparties)
    score_bp: int  # 0-10,000: the score 0-1
    parameters: dict[str, int]  # the parameters in force for this alert
    figures: dict[str, int]  # the measures the rule compared with its thresholds
    evidence: Evidence
    summary: str  # one line for the analyst
    instance: str = ""  # what tells two alerts of one rule on the same subjects apart (a cycle's route)

    def fingerprint(self) -> str:
        """The alert's identity: rule, day, instrument, subjects, auctions and instance (not the evidence)."""
        key = [self.rule, self.trading_day, self.instrument, self.subjects, self.evidence.auctions, self.instance]
        return hashlib.sha256(msgspec.json.encode(key)).hexdigest()[:32]


def excess_score(observed: int | float, threshold: int | float) -> int:
    """The standard score of a measure that alerts at ``observed >= threshold > 0``: 1 - threshold/observed.

    0 at the threshold, 0.5 at twice it, approaching 1 far beyond; in basis points, rounded down.
    A rule whose measure alerts below a threshold passes the reciprocal (e.g. threshold/observed).
    """
    if threshold <= 0 or observed <= 0:
        return SCORE_MAX if observed > 0 else 0
    if observed <= threshold:
        return 0
    return min(SCORE_MAX, int(SCORE_MAX * (observed - threshold) // observed))


def cny(fen: int) -> str:
    """A price or amount in fen as an alert's summary shows it: 8001 -> '80.01' (CNY)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def mean_score(*scores: int) -> int:
    """The mean of component scores (basis points), rounded down: a rule with several thresholds."""
    return sum(scores) // len(scores) if scores else 0


def evidence(
    accounts: Iterable[str] = (),
    orders: Iterable[int] = (),
    trades: Iterable[int] = (),
    transfers: Iterable[int] = (),
    bids: Iterable[int] = (),
    auctions: Iterable[int] = (),
) -> Evidence:
    """An ``Evidence`` from any iterables of ids: sorted, repeats removed."""
    return Evidence(
        accounts=sorted(set(accounts)),
        orders=sorted(set(orders)),
        trades=sorted(set(trades)),
        transfers=sorted(set(transfers)),
        bids=sorted(set(bids)),
        auctions=sorted(set(auctions)),
    )
