"""An auction's results file, and its verification from that file alone.

``carbonx auction results ID --format json`` writes it; ``carbonx auction verify FILE`` reads it
back and recomputes every allocation and the clearing price with the exchange's own clearing
rule (``engine.auction.clearing``) and seeded order (``engine.auction.prng``), so anybody holding
the file can check the exchange (docs/AUCTIONS.md "Verifiable randomness").

The file is JSON with integers only (prices fen per tonne, quantities tonnes, money fen, shares
basis points, times ns since the epoch, UTC); names of kinds and rules are lowercase text:

- ``format``, ``version``, ``units``, ``auction_id``, ``name``, ``instrument``;
- ``terms``: what clearing needs: ``kind`` (reserve_sale, buyback, one_way), ``volume``,
  ``budget``, ``bid_lot_t``, ``pricing`` (uniform, pay_as_bid), ``tie_break`` (time, pro_rata,
  random), ``price_limit`` (a sale's floor, a buyback's ceiling), ``cancel_if_undersubscribed``,
  ``cancel_below_reference_bp`` and ``reference_price`` (the previous close the cancellation test
  used; 0: no such test);
- ``results``: the public results, every field of the ``AuctionCleared`` event, the seed and its
  commitment among them;
- ``bids``: the anonymised bid list in time-rank order, each ``bidder`` (a pseudonym numbered in
  this auction), ``time_rank``, ``price``, ``quantity``, ``allocated``, ``allocation_price``.

What the file cannot prove: ``covered_share_bp`` (bidders are anonymous, so their kinds are not
published) and ``fees`` (a config rate); ``verify`` says so.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import msgspec

from carbonx.errors import CarbonxError
from engine.auction.clearing import ClearingTerms, SealedBid, cancel_cause, clear, figures, needs_seed, priority
from engine.auction.prng import commitment, parse_seed
from engine.auction.state import PublishedBid
from engine.messages import AuctionCleared, AuctionKind, AuctionTerms, CancelCause, Pricing, TieBreak
from gateway.protocol import AuctionBidsPage
from market_data.messages import AuctionBid, AuctionNotice, AuctionResults

FORMAT = "carbonx auction results"
VERSION = 1
UNITS = "prices fen/t, quantities t, money fen, shares basis points (1/10,000), times ns since the epoch (UTC)"
RESULT_FIELDS = tuple(f for f in AuctionCleared.__struct_fields__ if f != "version")
BID_FIELDS = PublishedBid.__struct_fields__
TERM_FIELDS = (
    "kind",
    "volume",
    "budget",
    "bid_lot_t",
    "pricing",
    "tie_break",
    "price_limit",
    "cancel_if_undersubscribed",
    "cancel_below_reference_bp",
    "reference_price",
)
# Results fields whose values are names in the file, and what they name.
_NAMED: dict[str, dict[str, Any]] = {
    "kind": {k.name.lower(): k for k in AuctionKind},
    "pricing": {p.name.lower(): p for p in Pricing},
    "tie_break": {t.name.lower(): t for t in TieBreak},
    "cancel_cause": {c.name.lower(): c for c in CancelCause},
}
_TEXT = frozenset({"instrument", "seed", "seed_commitment", "name", "format", "units"})
_FLAGS = frozenset({"cancelled", "cancel_if_undersubscribed"})
NOT_RECOMPUTABLE = "covered_share_bp (bidders' kinds are not published), fees (a config rate)"


class ResultsFileError(CarbonxError):
    """A results file that cannot be read as one: one line naming the file and what is wrong."""


def name_of(value: Any) -> str:
    return str(value.name.lower())


# ---------------------------------------------------------------------------------------------- writing


def results_document(
    terms: AuctionTerms, results: AuctionCleared, bids: Sequence[PublishedBid], name: str = ""
) -> dict[str, Any]:
    """The results file of a cleared auction: its clearing terms, public results and bid list."""
    public: dict[str, Any] = {key: getattr(results, key) for key in RESULT_FIELDS}
    public["kind"] = name_of(results.kind)
    public["cancel_cause"] = name_of(results.cancel_cause)
    return {
        "format": FORMAT,
        "version": VERSION,
        "units": UNITS,
        "auction_id": results.auction_id,
        "name": name or terms.name,
        "instrument": results.instrument,
        "terms": {
            "kind": name_of(terms.kind),
            "volume": terms.volume,
            "budget": terms.budget,
            "bid_lot_t": terms.bid_lot_t,
            "pricing": name_of(terms.pricing),
            "tie_break": name_of(terms.tie_break),
            "price_limit": results.price_limit,
            "cancel_if_undersubscribed": terms.cancel_if_undersubscribed,
            "cancel_below_reference_bp": terms.cancel_below_reference_bp,
            "reference_price": results.reference_price,
        },
        "results": public,
        "bids": [msgspec.structs.asdict(bid) for bid in bids],
    }


def feed_results_document(notice: AuctionNotice, results: AuctionResults, bids: Sequence[AuctionBid]) -> dict[str, Any]:
    """The same results file from what market data published (the website offers it): the notice
    holds the terms, the results every field of ``AuctionCleared``, and the snapshot service's bid
    list the same anonymised bids."""
    cleared = AuctionCleared(ts_event=results.ts, **{key: getattr(results, key) for key in RESULT_FIELDS[1:]})
    terms = AuctionTerms(
        kind=notice.kind,
        instrument=notice.instrument,
        auctioneer=notice.auctioneer,
        volume=notice.volume,
        budget=notice.budget,
        bid_lot_t=notice.bid_lot_t,
        pricing=notice.pricing,
        tie_break=notice.tie_break,
        cancel_if_undersubscribed=notice.cancel_if_undersubscribed,
        cancel_below_reference_bp=notice.cancel_below_reference_bp,
        name=notice.name,
    )
    published = [PublishedBid(**msgspec.structs.asdict(bid)) for bid in bids]
    return results_document(terms, cleared, published)


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


class BidPages(Protocol):
    """What serves a cleared auction's anonymised bid list in pages (``gateway.client.MemberClient``)."""

    def auction_bids_page(self, auction_id: int, offset: int = 0, limit: int = 0) -> AuctionBidsPage: ...


def published_bids(client: BidPages, auction_id: int) -> list[PublishedBid]:
    """The whole anonymised list, page after page, until the page that completes ``total`` (a page
    holds what fits the gateway's reply limit)."""
    bids: list[PublishedBid] = []
    while True:
        page = client.auction_bids_page(auction_id, offset=len(bids))
        bids += [PublishedBid(**msgspec.structs.asdict(b)) for b in page.bids]
        if not page.bids or len(bids) >= page.total:
            return bids


# ---------------------------------------------------------------------------------------------- reading


class ResultsFile(NamedTuple):
    """A results file read back, its names turned into the engine's enums."""

    auction_id: int
    instrument: str
    terms: dict[str, Any]
    results: dict[str, Any]
    bids: list[PublishedBid]


def _no_float(text: str) -> Any:
    raise ValueError(f"the number {text} has a fraction: the results file holds integers only")


def load_results(path: Path) -> ResultsFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as failed:
        raise ResultsFileError(f"{path}: cannot read it: {failed}") from None
    try:
        document = json.loads(text, parse_float=_no_float, parse_constant=_no_float)
    except ValueError as bad:
        raise ResultsFileError(f"{path}: not a results file: {bad}") from None
    return parse_results(document, str(path))


def parse_results(document: Any, source: str) -> ResultsFile:
    """Check a results document's shape (every value of the type it must have) and read it."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ResultsFileError(f'{source}: not a results file (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise ResultsFileError(f"{source}: version {document.get('version')!r}: this carbonx reads version {VERSION}")
    terms = _section(document, "terms", TERM_FIELDS, source)
    results = _section(document, "results", RESULT_FIELDS, source)
    raw_bids = document.get("bids")
    if not isinstance(raw_bids, list):
        raise ResultsFileError(f"{source}: bids: missing, or not a list")
    bids = []
    for n, raw in enumerate(raw_bids):
        values = _section({"bid": raw}, "bid", BID_FIELDS, f"{source}: bids[{n}]")
        bids.append(PublishedBid(**values))
    auction_id, instrument = document.get("auction_id"), document.get("instrument")
    if not isinstance(auction_id, int) or not isinstance(instrument, str):
        raise ResultsFileError(f"{source}: auction_id (a whole number) and instrument (text) are needed")
    return ResultsFile(auction_id, instrument, terms, results, bids)


def _section(document: Mapping[str, Any], key: str, fields: Sequence[str], source: str) -> dict[str, Any]:
    section = document.get(key)
    where = source if key == "bid" else f"{source}: {key}"
    if not isinstance(section, dict):
        raise ResultsFileError(f"{where}: missing, or not an object")
    values: dict[str, Any] = {}
    for name in fields:
        if name not in section:
            raise ResultsFileError(f"{where}.{name}: missing")
        value = section[name]
        if name in _NAMED:
            if value not in _NAMED[name]:
                raise ResultsFileError(f"{where}.{name}: {value!r} is not one of {', '.join(_NAMED[name])}")
            value = _NAMED[name][value]
        elif name in _FLAGS:
            if not isinstance(value, bool):
                raise ResultsFileError(f"{where}.{name}: {value!r} is not true or false")
        elif name in _TEXT:
            if not isinstance(value, str):
                raise ResultsFileError(f"{where}.{name}: {value!r} is not text")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ResultsFileError(f"{where}.{name}: {value!r} is not a whole number")
        values[name] = value
    return values


# ---------------------------------------------------------------------------------------------- verifying


@dataclass
class Verdict:
    """What ``verify`` found: the checks that passed, in order, and the first mismatch (or None)."""

    passed: list[str] = field(default_factory=list)
    mismatch: str | None = None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


class _Mismatch(Exception):
    pass


def _same(what: str, recomputed: object, published: object, show: Any = None) -> None:
    if recomputed != published:
        shown = show or (lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))
        raise _Mismatch(f"{what}: recomputed {shown(recomputed)}, published {shown(published)}")


def cny(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}"


def clearing_terms(terms: Mapping[str, Any]) -> ClearingTerms:
    return ClearingTerms(
        sells=terms["kind"] is not AuctionKind.BUYBACK,
        volume=terms["volume"],
        budget=terms["budget"],
        lot=terms["bid_lot_t"],
        pricing=terms["pricing"],
        tie_break=terms["tie_break"],
    )


def sealed_bids(bids: Sequence[PublishedBid]) -> list[SealedBid]:
    """The published bids as clearing takes them, each keyed by its place in the list."""
    return [SealedBid(key=n, rank=b.time_rank, price=b.price, quantity=b.quantity) for n, b in enumerate(bids)]


def verify(file: ResultsFile) -> Verdict:
    """Recompute the allocations, the clearing price and the figures; the first mismatch stops it."""
    verdict = Verdict()
    try:
        _verify(file, verdict)
    except _Mismatch as mismatch:
        verdict.mismatch = str(mismatch)
    return verdict


def _verify(file: ResultsFile, verdict: Verdict) -> None:
    terms, results, bids = file.terms, file.results, file.bids
    _check_echoes(file)
    verdict.passed.append("the results restate the clearing terms")
    seed = _check_seed(terms, results)
    verdict.passed.append(
        f"seed: SHA-256 of the seed is the commitment {results['seed_commitment']}"
        if seed is not None
        else "seed: none needed (a time tie-break draws nothing)"
    )
    _check_bids(terms, bids)
    verdict.passed.append(f"bids: {len(bids):,}, each of whole lots, within the price limit, time ranks distinct")
    sealed = sealed_bids(bids)
    outcome = clear(sealed, clearing_terms(terms), seed)
    bid_volume = sum(b.quantity for b in bids)
    cause = cancel_cause(
        terms["kind"],
        terms["volume"],
        bid_volume,
        outcome.clearing_price,
        terms["reference_price"],
        if_undersubscribed=terms["cancel_if_undersubscribed"],
        below_reference_bp=terms["cancel_below_reference_bp"],
    )
    cancelled = cause is not CancelCause.NONE
    _same("cancel cause", name_of(cause), name_of(results["cancel_cause"]))
    _same("cancelled", cancelled, results["cancelled"])
    for n, bid in enumerate(bids):
        allocated = 0 if cancelled else outcome.fills[n]
        price = outcome.prices[n] if allocated else 0
        who = f"bid {n + 1} (bidder {bid.bidder}, time rank {bid.time_rank}, {bid.quantity:,} t @ {cny(bid.price)})"
        _same(f"{who}: allocated t", allocated, bid.allocated)
        _same(f"{who}: allocation price", price, bid.allocation_price, cny)
    verdict.passed.append(f"allocations: all {len(bids):,} bids as published")
    clearing_price = 0 if cancelled else outcome.clearing_price
    _same("clearing price", clearing_price, results["clearing_price"], cny)
    sold = sum(b.allocated for b in bids)
    revenue = sum(b.allocated * b.allocation_price for b in bids)
    _same("volume sold t", sold, results["volume_sold"])
    _same("revenue", revenue, results["revenue"], cny)
    verdict.passed.append(
        f"clearing price {cny(clearing_price)}, volume sold {sold:,} t, revenue {cny(revenue)} CNY"
        + (f" (cancelled: {name_of(cause)})" if cancelled else "")
    )
    _check_figures(terms, results, bids, sealed)
    verdict.passed.append("figures: bids, bidders, min/median/max bid, bid-to-cover, HHI")


def _check_echoes(file: ResultsFile) -> None:
    terms, results = file.terms, file.results
    _same("results.auction_id", file.auction_id, results["auction_id"])
    _same("results.instrument", file.instrument, results["instrument"])
    _same("results.kind", name_of(terms["kind"]), name_of(results["kind"]))
    _same("results.volume_offered", terms["volume"], results["volume_offered"])
    _same("results.budget", terms["budget"], results["budget"])
    _same("results.price_limit", terms["price_limit"], results["price_limit"])
    _same("results.reference_price", terms["reference_price"], results["reference_price"])
    _same("results.cancel_below_reference_bp", terms["cancel_below_reference_bp"], results["cancel_below_reference_bp"])
    if terms["bid_lot_t"] <= 0:
        raise _Mismatch("terms.bid_lot_t: a bid lot is at least 1 t")


def _check_seed(terms: Mapping[str, Any], results: Mapping[str, Any]) -> bytes | None:
    text, committed = results["seed"], results["seed_commitment"]
    if not text and not needs_seed(terms["tie_break"]):
        return None
    seed = parse_seed(text)
    if seed is None:
        raise _Mismatch(f"seed: {text!r} is not 64 hexadecimal characters (a {name_of(terms['tie_break'])} tie-break)")
    _same("seed: SHA-256 of the seed (the commitment)", commitment(seed), committed)
    return seed


def _check_bids(terms: Mapping[str, Any], bids: Sequence[PublishedBid]) -> None:
    sells = terms["kind"] is not AuctionKind.BUYBACK
    limit, lot = terms["price_limit"], terms["bid_lot_t"]
    ranks = Counter(b.time_rank for b in bids)
    for n, bid in enumerate(bids):
        who = f"bid {n + 1} (bidder {bid.bidder}, time rank {bid.time_rank})"
        if ranks[bid.time_rank] > 1:
            raise _Mismatch(f"{who}: time rank {bid.time_rank} is given to {ranks[bid.time_rank]} bids")
        if bid.quantity <= 0 or bid.quantity % lot:
            raise _Mismatch(f"{who}: {bid.quantity:,} t is not a whole number of {lot:,} t lots")
        if bid.price <= 0 or (bid.price < limit if sells else bid.price > limit):
            side = "below the floor" if sells else "above the ceiling"
            raise _Mismatch(f"{who}: price {cny(bid.price)} {side} {cny(limit)}")


def _check_figures(
    terms: Mapping[str, Any], results: Mapping[str, Any], bids: Sequence[PublishedBid], sealed: Sequence[SealedBid]
) -> None:
    won: Counter[int] = Counter()
    for bid in bids:
        won[bid.bidder] += bid.allocated
    stats = figures(sealed, terms["volume"], won.values())
    for name in ("bid_volume", "bid_count", "min_bid", "median_bid", "max_bid", "bid_to_cover_bp", "hhi"):
        _same(name, getattr(stats, name), results[name])
    _same("bidders", len({b.bidder for b in bids}), results["bidders"])
    _same("successful_bidders", sum(1 for w in won.values() if w), results["successful_bidders"])


# ---------------------------------------------------------------------------------------------- the curve


class CurveStep(NamedTuple):
    """One bid on the demand (or supply) curve: the tonnes before it, its own, its price, what it won."""

    start: int
    quantity: int
    price: int
    allocated: int


def curve(file: ResultsFile) -> list[CurveStep]:
    """The bids in the order they fill (best price for the auctioneer first, then time rank)."""
    sells = file.terms["kind"] is not AuctionKind.BUYBACK
    by_key = dict(enumerate(file.bids))
    steps, start = [], 0
    for sealed in priority(sealed_bids(file.bids), sells):
        bid = by_key[sealed.key]
        steps.append(CurveStep(start, bid.quantity, bid.price, bid.allocated))
        start += bid.quantity
    return steps
