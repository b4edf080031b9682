"""What ``carbonx auction`` shows people: one line per execution report, the list of auctions, an
auction's status, its results and the bids, in CNY and the exchange's local time.

Display only: the results file (carbonx.auction_results) keeps integers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from carbonx.auction_results import BID_FIELDS, NOT_RECOMPUTABLE, ResultsFile, Verdict, name_of, to_json
from carbonx.cli.connect import describe
from carbonx.cli.display import EMPTY, cny, exchange_time, iso, reject_in_cny, table, tonnes
from carbonx.cli.member_cmds import show
from engine.auction.clearing import needs_seed
from engine.messages import (
    AuctionAnnounced,
    AuctionApplied,
    AuctionCancelled,
    AuctionCleared,
    AuctionClosed,
    AuctionKind,
    AuctionOpened,
    AuctionSettled,
    AuctionStatus,
    AuctionTerms,
    BidAccepted,
    BidAllocated,
    BidAmended,
    BidWithdrawn,
    DailyFiguresLoaded,
    Event,
    OrderRejected,
    Reject,
    RequestRejected,
)
from gateway.client_core import Result
from gateway.protocol import AuctionInfo, BidInfo

KIND_WORDS = {
    AuctionKind.RESERVE_SALE: "reserve sale",
    AuctionKind.BUYBACK: "buyback",
    AuctionKind.ONE_WAY: "one-way sale",
}

# What to do next, after the engine's reject line (one line still).
HINTS = {
    Reject.UNKNOWN_AUCTION: "the auctions you may see: carbonx auction list",
    Reject.AUCTION_NOT_OPEN: "bids are taken only while it is open: carbonx auction status ID",
    Reject.AUCTION_CUTOFF_PASSED: "bids can no longer be entered, changed or withdrawn",
    Reject.BID_BELOW_FLOOR: "the floor is in carbonx auction status ID",
    Reject.BID_ABOVE_CEILING: "the price limits are in carbonx auction status ID",
    Reject.BIDDER_NOT_ELIGIBLE: "who may bid is in carbonx auction status ID",
    Reject.BID_CAP_EXCEEDED: "the caps count every live bid of the account: carbonx auction bids",
    Reject.UNKNOWN_BID: "your live bids: carbonx auction bids",
    Reject.AUCTION_WRONG_STATUS: "where the auction is: carbonx auction status ID",
    Reject.SEED_MISMATCH: "the seed must be the one made when the auction was announced (its seed file)",
    Reject.AUCTION_NO_REFERENCE_PRICE: "no listing trade in the VWAP window: load past days with carbonx auction "
    "load-figures FILE, or give a fixed price",
}


def local(ts_ns: int, zone: dt.tzinfo) -> str:
    """An auction time as ``2026-12-04 09:30`` in the exchange's zone (seconds when it has them)."""
    if not ts_ns:
        return EMPTY
    moment = exchange_time(ts_ns, zone)
    return moment.strftime("%Y-%m-%d %H:%M" if moment.second == 0 and moment.microsecond == 0 else "%Y-%m-%d %H:%M:%S")


def window(terms: AuctionTerms, zone: dt.tzinfo) -> str:
    opens, closes = local(terms.opens_at, zone), local(terms.closes_at, zone)
    same_day = opens[:10] == closes[:10]
    text = f"{opens}-{closes[11:] if same_day else closes}"
    if terms.cutoff_at and terms.cutoff_at != terms.closes_at:
        text += f", cut-off {local(terms.cutoff_at, zone)[11:]}"
    return text


def percent(bp: int) -> str:
    """Basis points as a percentage with two decimals: 2500 -> '25.00%' (integers to the end)."""
    return f"{bp // 100}.{bp % 100:02d}%"


def limit_name(kind: AuctionKind) -> str:
    return "ceiling" if kind is AuctionKind.BUYBACK else "floor"


def frozen(cash: int, quantity: int) -> str:
    return f"{cny(cash)} CNY" if cash else f"{tonnes(quantity)} t"


def _released(cash: int, quantity: int) -> str:
    return f"released {frozen(cash, quantity)}" if cash or quantity else "nothing left to release"


def seed_step(auction_id: int, terms: AuctionTerms) -> str:
    return (
        f"it clears when the regulator reveals the seed: carbonx auction clear {auction_id} --seed-file FILE"
        if needs_seed(terms.tie_break)
        else "a time tie-break: it clears at the close"
    )


def describe_auction(event: Event, zone: dt.tzinfo) -> str:
    """One line for an auction report; any other as the order commands show it."""
    match event:
        case AuctionAnnounced():
            terms = event.terms
            amount = f"{tonnes(terms.volume)} t" if terms.volume else f"up to {cny(terms.budget)} CNY of"
            purpose = f" ({name_of(terms.purpose)})" if terms.purpose else ""
            return (
                f"auction {event.auction_id} announced: {KIND_WORDS[terms.kind]}{purpose} of {amount} "
                f"{terms.instrument} by {terms.auctioneer}, {limit_name(terms.kind)} {cny(event.price_limit)}, "
                f"bidding {window(terms, zone)}, {name_of(terms.pricing)} price, {name_of(terms.tie_break)} "
                f"tie-break; {terms.auctioneer} froze {frozen(event.frozen_cash, event.frozen_quantity)}"
            )
        case AuctionApplied():
            terms = event.terms
            return (
                f"auction {event.auction_id} applied for: {event.account} sells {tonnes(terms.volume)} t "
                f"{terms.instrument} by one-way bidding, floor {cny(terms.price) if terms.price else 'by VWAP'}, "
                f"bidding {window(terms, zone)}; froze {tonnes(event.frozen_quantity)} t; "
                f"next: the regulator approves it (carbonx auction approve {event.auction_id})"
            )
        case AuctionOpened():
            return f"auction {event.auction_id} ({event.instrument}) open for bids"
        case AuctionClosed():
            return f"auction {event.auction_id} ({event.instrument}) closed with {event.bids:,} live bids"
        case AuctionCleared():
            return cleared_line(event)
        case AuctionCancelled():
            return (
                f"auction {event.auction_id} ({event.instrument}) cancelled: {event.reason}; "
                f"{event.auctioneer} {_released(event.released_cash, event.released_quantity)}"
            )
        case BidAccepted():
            verb = "offers" if event.frozen_quantity else "bids for"
            return (
                f"bid {event.bid_id} ({event.client_bid_id}) accepted in auction {event.auction_id}: {event.account} "
                f"{verb} {tonnes(event.quantity)} t @ {cny(event.price)}, time rank {event.time_rank}; "
                f"froze {frozen(event.frozen_cash, event.frozen_quantity)}"
            )
        case BidAmended():
            return (
                f"bid {event.bid_id} amended: {tonnes(event.quantity)} t @ {cny(event.price)}, time rank "
                f"{event.time_rank}; frozen now {frozen(event.frozen_cash, event.frozen_quantity)}"
            )
        case BidWithdrawn():
            return (
                f"bid {event.bid_id} of {event.account} withdrawn from auction {event.auction_id}; "
                f"{_released(event.released_cash, event.released_quantity)}"
            )
        case BidAllocated():
            return allocated_line(event)
        case AuctionSettled():
            return settled_line(event)
        case DailyFiguresLoaded():
            return (
                f"loaded {event.days:,} days of {event.instrument} listing figures, "
                f"{iso(event.first_day)} to {iso(event.last_day)}"
            )
        case RequestRejected() if event.code in HINTS:
            return f"rejected {event.code.value}: {reject_in_cny(event.text)} ({HINTS[event.code]})"
    return describe(event)


def cleared_line(event: AuctionCleared) -> str:
    if event.cancelled:
        return (
            f"auction {event.auction_id} ({event.instrument}) cancelled by its rules: "
            f"{name_of(event.cancel_cause)}; nothing settled, every freeze released"
        )
    sold = "bought" if event.kind is AuctionKind.BUYBACK else "sold"
    offered = f" of {tonnes(event.volume_offered)} t" if event.volume_offered else ""
    price = f", clearing price {cny(event.clearing_price)}" if event.volume_sold else ""
    return (
        f"auction {event.auction_id} ({event.instrument}) cleared: {tonnes(event.volume_sold)} t{offered} {sold}"
        f"{price}, {'spent' if event.kind is AuctionKind.BUYBACK else 'revenue'} {cny(event.revenue)} CNY; "
        f"{event.bid_count:,} bids from {event.bidders:,} bidders for {tonnes(event.bid_volume)} t"
    )


def allocated_line(event: BidAllocated) -> str:
    notes = [
        note
        for note, on in (("cut by the tie-break", event.cut_by_tie_break), ("compliance-only", event.compliance_only))
        if on
    ]
    won = f" @ {cny(event.price)}, value {cny(event.value)} CNY, fee {cny(event.fee)} CNY" if event.quantity else ""
    return (
        f"bid {event.bid_id} of {event.account}: allocated {tonnes(event.quantity)} of {tonnes(event.bid_quantity)} t"
        f"{won}{' (' + ', '.join(notes) + ')' if notes else ''}; "
        f"{_released(event.released_cash, event.released_quantity)}"
    )


def settled_line(event: AuctionSettled) -> str:
    """The auctioneer's side of the clearing (its member and the regulator see it)."""
    buys = bool(event.released_cash or event.passed_quantity)  # a buyback's treasury: cash out, tonnes in
    fee = f", fee {cny(event.fee)} CNY" if event.fee else ""
    passed = frozen(event.passed_cash, event.passed_quantity)
    passed_on = f"; {passed} passed to {event.passed_to}" if event.passed_to and passed != "0 t" else ""
    return (
        f"auction {event.auction_id} settled for {event.account}: {'bought' if buys else 'delivered'} "
        f"{tonnes(event.quantity)} t {event.instrument} for {cny(event.value)} CNY{fee}; "
        f"{_released(event.released_cash, event.released_quantity)}{passed_on}"
    )


def show_auction(result: Result, zone: dt.tzinfo) -> int:
    """Print a request's execution reports, one line each; the exit status (0 done, 1 rejected)."""
    if result.refused is not None:
        return show(result)  # raises: refused by the gateway, one line
    if result.duplicate:
        print("already sent: the original result follows (nothing new)")
    for report in result.reports:
        print(f"#{report.seq} {describe_auction(report.event, zone)}")
    rejected = any(isinstance(e, OrderRejected | RequestRejected) for e in result.events)
    return 1 if rejected else 0


# ---------------------------------------------------------------------------------------------- tables

LIST_HEADER = ("auction", "status", "kind", "instrument", "volume t", "limit", "bidding", "tie-break", "name")
LIST_LEFT = frozenset({"status", "kind", "instrument", "bidding", "tie-break", "name"})


def list_row(info: AuctionInfo, zone: dt.tzinfo) -> tuple[str, ...]:
    terms = info.terms
    volume = tonnes(terms.volume) if terms.volume else f"{cny(terms.budget)} CNY"
    limit = cny(info.price_limit) if info.price_limit else (cny(terms.price) if terms.price else "VWAP")
    return (
        str(info.auction_id),
        name_of(info.status),
        KIND_WORDS[terms.kind].replace(" ", "-"),
        terms.instrument,
        volume,
        f"{limit_name(terms.kind)} {limit}",
        window(terms, zone),
        name_of(terms.tie_break),
        terms.name,
    )


def status_lines(info: AuctionInfo, zone: dt.tzinfo, timezone: str, *, sees_bids: bool) -> list[str]:
    terms = info.terms
    rows: list[tuple[str, str]] = [
        ("status", name_of(info.status) + (f": {info.cancel_reason}" if info.cancel_reason else "")),
        ("kind", KIND_WORDS[terms.kind] + (f" ({name_of(terms.purpose)})" if terms.purpose else "")),
        ("instrument", terms.instrument),
        (
            "auctioneer",
            (terms.auctioneer or "(not shown to members)")
            + (f" (applied for by {info.applicant})" if info.applicant else ""),
        ),
    ]
    if info.frozen_cash or info.frozen_quantity:
        rows.append(("frozen", f"{frozen(info.frozen_cash, info.frozen_quantity)} of the auctioneer"))
    rows.append(("volume", f"{tonnes(terms.volume)} t" if terms.volume else "-"))
    if terms.budget:
        rows.append(("budget", f"{cny(terms.budget)} CNY"))
    rows.append((limit_name(terms.kind), _limit(info)))
    if info.bid_ceiling:
        rows.append(
            (
                "bid ceiling",
                f"{cny(info.bid_ceiling)} (the highest bid; the previous close was {cny(info.reference_price)})",
            )
        )
    rows += [
        ("bidding", f"{window(terms, zone)} {timezone}"),
        ("bid lot", f"{tonnes(terms.bid_lot_t)} t" if terms.bid_lot_t else "the instrument's lot"),
        ("pricing", name_of(terms.pricing).replace("_", "-")),
        ("tie-break", name_of(terms.tie_break).replace("_", "-")),
        ("eligible", ", ".join(terms.eligible_kinds or ()) or "the purpose's default"),
        ("caps", _caps(terms)),
        ("cancellation", _cancellation(terms)),
    ]
    if terms.seed_commitment:
        rows.append(("seed commitment", terms.seed_commitment))
    if sees_bids and info.status in (AuctionStatus.OPEN, AuctionStatus.CLOSED, AuctionStatus.ANNOUNCED):
        rows.append(("bids", f"{info.bids:,} live ({info.bids_received:,} received)"))
    if info.results is not None:
        rows.append(("results", cleared_line(info.results).split(": ", 1)[1]))
        rows.append(("", f"carbonx auction results {info.auction_id} (the table, --format json, --plot)"))
    elif info.status is AuctionStatus.CLOSED:
        rows.append(("next", seed_step(info.auction_id, terms)))
    width = max(len(k) for k, _ in rows)
    title = f"auction {info.auction_id}" + (f": {terms.name}" if terms.name else "")
    return [title, *(f"  {k.ljust(width)}  {v}" for k, v in rows)]


def _limit(info: AuctionInfo) -> str:
    terms = info.terms
    if not info.price_limit:  # an application not yet approved: the terms as applied
        return f"{cny(terms.price)} (fixed)" if terms.price else "by the VWAP rule, computed at the approval"
    if not info.vwap:
        return f"{cny(info.price_limit)} (fixed)"
    k = f"{terms.vwap_k_bp // 10_000}.{terms.vwap_k_bp % 10_000:04d}".rstrip("0").rstrip(".")
    cap = f", capped at {cny(terms.price_cap)}" if terms.price_cap else ""
    return (
        f"{cny(info.price_limit)} ({k} x the VWAP {cny(info.vwap)} of {iso(terms.vwap_from)} to "
        f"{iso(terms.vwap_to)}{cap}, to the tick)"
    )


def _caps(terms: AuctionTerms) -> str:
    parts = []
    for cap in terms.caps or ():
        limits = [f"{tonnes(cap.max_t)} t"] if cap.max_t else []
        limits += [f"{percent(cap.max_bp)} of the volume"] if cap.max_bp else []
        parts.append(f"{cap.kind} {' or '.join(limits)}")
    return "; ".join(parts) or "none"


def _cancellation(terms: AuctionTerms) -> str:
    rules = ["when the bids are fewer tonnes than the volume"] if terms.cancel_if_undersubscribed else []
    if terms.cancel_below_reference_bp:
        bp = terms.cancel_below_reference_bp
        side = "above" if terms.kind is AuctionKind.BUYBACK else "below"
        rules.append(f"when the clearing price is more than {percent(bp)} {side} the previous close")
    return "; ".join(rules) or "none"


BIDS_HEADER = ("bid", "auction", "account", "client id", "price", "quantity t", "time rank", "frozen", "state")
BIDS_LEFT = frozenset({"account", "client id", "state"})


def bid_row(bid: BidInfo) -> tuple[str, ...]:
    return (
        str(bid.bid_id),
        str(bid.auction_id),
        bid.account,
        bid.client_bid_id,
        cny(bid.price),
        tonnes(bid.quantity),
        str(bid.time_rank),
        frozen(bid.frozen_cash, bid.frozen_quantity) if bid.live else EMPTY,
        "live" if bid.live else "withdrawn",
    )


ALLOCATIONS_HEADER = ("bid", "account", "bid price", "bid t", "allocated t", "price", "value", "fee", "note")
ALLOCATIONS_LEFT = frozenset({"account", "note"})


def allocation_row(a: BidAllocated) -> tuple[str, ...]:
    """One bid's private outcome: what it won, at what price, what it paid (or got), and why not more."""
    notes = [
        n for n, on in (("cut by the tie-break", a.cut_by_tie_break), ("compliance-only", a.compliance_only)) if on
    ]
    return (
        str(a.bid_id),
        a.account,
        cny(a.bid_price),
        tonnes(a.bid_quantity),
        tonnes(a.quantity),
        cny(a.price) if a.quantity else EMPTY,
        cny(a.value),
        cny(a.fee),
        ", ".join(notes),
    )


# ---------------------------------------------------------------------------------------------- results


def results_lines(file: ResultsFile) -> list[str]:
    """The results as a table for people (the file's integers in CNY and tonnes)."""
    terms, r = file.terms, file.results
    kind: AuctionKind = terms["kind"]
    bp = r["bid_to_cover_bp"]
    rows: list[tuple[str, str]] = [
        ("volume offered", f"{tonnes(r['volume_offered'])} t" if r["volume_offered"] else "-"),
        *((("budget", f"{cny(r['budget'])} CNY"),) if r["budget"] else ()),
        (limit_name(kind), cny(r["price_limit"])),
        ("bids received", f"{tonnes(r['bid_volume'])} t in {r['bid_count']:,} bids from {r['bidders']:,} bidders"),
        ("volume " + ("bought" if kind is AuctionKind.BUYBACK else "sold"), f"{tonnes(r['volume_sold'])} t"),
        ("clearing price", f"{cny(r['clearing_price'])} ({name_of(terms['pricing']).replace('_', '-')})"),
        ("spent" if kind is AuctionKind.BUYBACK else "revenue", f"{cny(r['revenue'])} CNY"),
        ("bid-to-cover", f"{bp // 10_000}.{bp % 10_000:04d}" if r["volume_offered"] else "-"),
        ("min/median/max", " / ".join(cny(r[k]) for k in ("min_bid", "median_bid", "max_bid"))),
        ("successful", f"{r['successful_bidders']:,} bidders"),
        ("covered entities", f"{percent(r['covered_share_bp'])} of the volume won"),
        ("HHI", f"{r['hhi']:,} (of 10,000)"),
        ("cancelled", f"yes: {name_of(r['cancel_cause'])}" if r["cancelled"] else "no"),
        ("tie-break", name_of(terms["tie_break"]).replace("_", "-")),
        ("seed commitment", r["seed_commitment"] or "-"),
        ("seed", r["seed"] or "- (a time tie-break draws nothing)"),
        ("fees", f"{cny(r['fees'])} CNY"),
    ]
    if terms["reference_price"]:
        rows.insert(-5, ("reference price", f"{cny(terms['reference_price'])} (the cancellation test's)"))
    width = max(len(k) for k, _ in rows)
    title = f"auction {file.auction_id} results: {KIND_WORDS[kind]} of {file.instrument} (prices CNY/t)"
    lines = [title, *(f"  {k.ljust(width)}  {v}" for k, v in rows), ""]
    header = ("bidder", "time rank", "price", "quantity t", "allocated t", "allocation price")
    bid_rows = [
        (
            str(b.bidder),
            str(b.time_rank),
            cny(b.price),
            tonnes(b.quantity),
            tonnes(b.allocated),
            cny(b.allocation_price) if b.allocated else EMPTY,
        )
        for b in file.bids
    ]
    lines.append(f"anonymised bids, in time order ({len(file.bids):,}):")
    lines += table(header, bid_rows, left=frozenset())
    return lines


def format_of(output: Path | None) -> str:
    """The format an output file's suffix names (.json, .csv); table otherwise."""
    suffix = output.suffix.lstrip(".") if output is not None else ""
    return suffix if suffix in ("json", "csv") else "table"


def results_text(output_format: str, document: dict[str, Any], file: ResultsFile) -> str:
    """The results as json (the results file), csv (the bid list, integers) or a table for people."""
    if output_format == "json":
        return to_json(document)
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=BID_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(bids_csv_rows(file))
        return buffer.getvalue()
    return "\n".join(results_lines(file)) + "\n"


def bids_csv_rows(file: ResultsFile) -> Sequence[dict[str, Any]]:
    return [
        {
            "bidder": b.bidder,
            "time_rank": b.time_rank,
            "price": b.price,
            "quantity": b.quantity,
            "allocated": b.allocated,
            "allocation_price": b.allocation_price,
        }
        for b in file.bids
    ]


def terms_lines(terms: AuctionTerms, zone: dt.tzinfo) -> list[str]:
    """The terms as an announcement file gives them: prices in CNY, times local, names as the file
    writes them, and what the exchange will fill in."""
    lines = []
    for key, value in msgspec.structs.asdict(terms).items():
        if key in ("price", "budget", "price_cap"):
            shown = cny(value)
        elif key in ("opens_at", "closes_at", "cutoff_at"):
            shown = local(value, zone) if value else "(closes_at)"
        elif key in ("kind", "purpose", "pricing", "tie_break"):
            shown = name_of(value)
        elif value is None or (key == "bid_lot_t" and not value):
            shown = "(the default: config/auctions.toml, the instrument's lot)"
        elif key == "seed_commitment" and not value:
            shown = "(made by announce or approve when the tie-break needs a seed)"
        elif key.startswith("vwap_") and not value:
            shown = EMPTY
        else:
            shown = str(value)
        lines.append(f"  {key:<26}{shown}")
    return lines


def verdict_lines(path: Path, file: ResultsFile, verdict: Verdict) -> list[str]:
    """What verify found: the checks that passed, then the verdict (or the first mismatch)."""
    lines = [
        f"{path}: auction {file.auction_id}, {name_of(file.terms['kind'])} of {file.instrument}, "
        f"{len(file.bids):,} bids, {name_of(file.terms['tie_break'])} tie-break",
        *(f"  ok  {check}" for check in verdict.passed),
    ]
    if verdict.mismatch is not None:
        return [
            *lines,
            f"MISMATCH: {verdict.mismatch}",
            "not verified: the file's results are not what its bids and seed give",
        ]
    return [
        *lines,
        f"  not recomputable from the file: {NOT_RECOMPUTABLE}",
        "verified: every allocation and the clearing price match the published results",
    ]
