"""``carbonx auction``: sealed-bid auctions (reserve sales, buybacks, one-way bidding) against a
running node through the order gateway, and the verification of a published result.

The regulator announces (from a TOML file), approves one-way applications, opens, closes,
clears (revealing the seed it committed to) and cancels auctions, loads past listing figures,
and writes the results (a table, JSON or CSV, and the curve as a PNG); members bid, amend,
withdraw and list their bids, and apply for one-way sales. Anybody verifies a results file.

Exit status: 0 when the exchange accepted what was asked (verify: everything matches), 1 when the
engine rejected it (one line: the reject code and text; verify: the first mismatch), 2 for an
error the user can fix (bad file or argument, unreachable node, refused key or request).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from carbonx.auction_files import AuctionFileError, load_announcement, load_figures
from carbonx.auction_results import load_results, parse_results, published_bids, results_document, verify
from carbonx.auction_seeds import SEED_DIR_NAME, NewSeed, commitment_of, find_seed, read_seed
from carbonx.cli.auction_show import (
    ALLOCATIONS_HEADER,
    ALLOCATIONS_LEFT,
    BIDS_HEADER,
    BIDS_LEFT,
    LIST_HEADER,
    LIST_LEFT,
    allocation_row,
    bid_row,
    format_of,
    list_row,
    results_text,
    show_auction,
    status_lines,
    terms_lines,
    verdict_lines,
)
from carbonx.cli.auction_text import DESCRIPTION, EPILOG, HELP, TEXTS
from carbonx.cli.connect import add_connection_options, connect, default_account, fen
from carbonx.cli.display import cny, table
from carbonx.cli.transfer_cmd import whole
from carbonx.config import LoadedConfig, load_config
from carbonx.errors import CarbonxError
from engine.auction.clearing import needs_seed
from engine.messages import AuctionAnnounced, AuctionKind, AuctionStatus, AuctionTerms, Event
from engine.messages.auction import MAX_LOADED_DAYS
from gateway.client import MemberClient
from gateway.client_core import Result
from gateway.protocol import AuctionInfo

FORMATS = ("table", "json", "csv")
SEES_EVERY_BID = ("regulator", "surveillance")  # roles that see every bid (gateway.access.Role)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "auction",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    subs: dict[str, argparse.ArgumentParser] = {}
    for name, (summary, description, examples) in TEXTS.items():
        run, member_default = RUNS[name]
        sub = actions.add_parser(
            name,
            help=summary,
            description=description,
            epilog=f"examples:\n{examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run)
        if name != "verify":
            add_connection_options(sub, member_default=member_default)
        subs[name] = sub
    _arguments(subs)


def _arguments(subs: dict[str, argparse.ArgumentParser]) -> None:
    for name in ("announce", "apply"):
        subs[name].add_argument("file", metavar="FILE.toml", type=Path, help="the auction's terms (examples/auctions/)")
        subs[name].add_argument(
            "--check", action="store_true", help="read and check the file, print the terms; send nothing"
        )
    subs["apply"].add_argument(
        "--account",
        default=None,
        help="the selling account (default: the file's auctioneer, else the member's only account)",
    )
    for name in ("announce", "approve"):
        seeds = subs[name].add_argument_group("the seed (pro_rata and random tie-breaks)")
        seeds.add_argument(
            "--seed-file",
            type=Path,
            default=None,
            metavar="PATH",
            help="write the new seed here (mode 0600; an existing file is never overwritten)",
        )
        _seed_dir_option(seeds)
    for name in ("status", "approve", "open", "close", "clear", "cancel", "results"):
        subs[name].add_argument("auction_id", metavar="ID", help="the auction id (carbonx auction list)")
    subs["clear"].add_argument(
        "--seed-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="the seed announce made (default: the auction's file in --seed-dir); a time tie-break needs none",
    )
    _seed_dir_option(subs["clear"])
    subs["cancel"].add_argument("--reason", default="", help="why (published with the cancellation)")
    subs["cancel"].add_argument(
        "--account", default="", help="an applicant withdrawing its own one-way application: its account"
    )
    results = subs["results"]
    results.add_argument(
        "--format", choices=FORMATS, default=None, help="table (default), json (the results file) or csv (the bids)"
    )
    results.add_argument("--output", type=Path, default=None, metavar="FILE", help="write to FILE instead of stdout")
    results.add_argument("--plot", type=Path, default=None, metavar="PNG", help="also draw the curve into PNG")
    subs["load-figures"].add_argument("file", type=Path, metavar="FILE", help=".csv or .toml of past days' figures")
    subs["verify"].add_argument("file", type=Path, metavar="RESULTS.json", help="a results file")
    bid = subs["bid"]
    bid.add_argument("auction_id", metavar="ID", help="the auction id")
    for name in ("amend", "withdraw"):
        subs[name].add_argument("bid_id", metavar="BID_ID", help="the bid id (carbonx auction bids)")
    for name in ("bid", "amend"):
        subs[name].add_argument("--price", required=True, help="CNY per tonne, at most 2 decimals, e.g. 48.00")
        subs[name].add_argument("--quantity", required=True, metavar="TONNES", help="tonnes, e.g. 5000 or 5,000")
    for name in ("bid", "amend", "withdraw"):
        subs[name].add_argument("--account", default=None, help="your account (default: the member's only account)")
    bid.add_argument(
        "--client-bid-id",
        default=None,
        metavar="ID",
        help="your id for the bid (default: random), unique per account and auction",
    )
    subs["bids"].add_argument("auction_id", metavar="ID", nargs="?", default="0", help="one auction (default: all)")
    subs["bids"].add_argument("--account", default="", help="only the bids of this account")


def _seed_dir_option(group: Any) -> None:
    group.add_argument(
        "--seed-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where seed files are kept (default: {SEED_DIR_NAME}/ in node.toml's data_dir, e.g. var/{SEED_DIR_NAME})",
    )


# ---------------------------------------------------------------------------------------------- helpers


def _zone(loaded: LoadedConfig) -> ZoneInfo:
    return ZoneInfo(loaded.exchange.calendar.timezone)


def _seed_dir(args: argparse.Namespace, loaded: LoadedConfig) -> Path:
    return Path(args.seed_dir) if args.seed_dir else Path(loaded.node.data_dir) / SEED_DIR_NAME


def _auction(client: MemberClient, auction_id: int) -> AuctionInfo:
    found = next((a for a in client.list_auctions() if a.auction_id == auction_id), None)
    if found is None:
        raise CarbonxError(f"auction {auction_id}: no such auction that {client.member} may see (carbonx auction list)")
    return found


def _announced(events: list[Event]) -> int:
    return next((e.auction_id for e in events if isinstance(e, AuctionAnnounced)), 0)


def _new_seed(args: argparse.Namespace, loaded: LoadedConfig) -> NewSeed:
    """A seed for an announcement or an approval, in its file before anything is sent."""
    return NewSeed.write(args.seed_file, _seed_dir(args, loaded))


# ---------------------------------------------------------------------------------------------- the regulator


def _announce(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)
    announcement = load_announcement(args.file, loaded.exchange.calendar)
    terms = announcement.terms
    if terms.kind is AuctionKind.ONE_WAY:
        raise AuctionFileError(
            f"{args.file}: kind: a one-way sale comes by a member's application (carbonx auction apply FILE), "
            "then the regulator's approval (carbonx auction approve ID)"
        )
    return _send_terms(args, loaded, terms, apply_as=None)


def _apply(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)
    announcement = load_announcement(args.file, loaded.exchange.calendar, account=args.account or "")
    if announcement.terms.kind is not AuctionKind.ONE_WAY:
        raise AuctionFileError(
            f'{args.file}: kind: apply is for one-way sales (kind = "one_way"); the regulator announces '
            "reserve sales and buybacks (carbonx auction announce FILE)"
        )
    return _send_terms(args, loaded, announcement.terms, apply_as=args.account or announcement.terms.auctioneer)


def _send_terms(args: argparse.Namespace, loaded: LoadedConfig, terms: AuctionTerms, apply_as: str | None) -> int:
    if args.check:
        print(f"{args.file}: the terms as the file gives them (the exchange fills in the defaults); nothing sent")
        for line in terms_lines(terms, _zone(loaded)):
            print(line)
        return 0
    zone = _zone(loaded)
    if apply_as is not None:
        client, _ = connect(args, loaded)
        with client:
            account = apply_as or default_account(client, None)
            terms = msgspec.structs.replace(terms, auctioneer=account)
            return show_auction(client.apply_auction(account, terms), zone)
    # The seed is in its file before anything leaves, so an announced commitment never lacks its seed.
    seed = _new_seed(args, loaded) if needs_seed(terms.tie_break) else None
    if seed is not None:
        terms = msgspec.structs.replace(terms, seed_commitment=seed.commitment)
    try:
        client, _ = connect(args, loaded)
    except BaseException:
        if seed is not None:
            seed.discard()  # nothing was sent
        raise
    with client:
        return _seeded(client.announce_auction(terms), seed, zone)


def _seeded(result: Result, seed: NewSeed | None, zone: ZoneInfo) -> int:
    status = show_auction(result, zone)  # raises when the gateway refused it: the seed file stays
    auction_id = _announced(result.events)
    if seed is not None and auction_id:
        path = seed.keep(auction_id)
        print(f"auction {auction_id}: seed commitment (SHA-256 of the seed) {seed.commitment}")
        print(
            f"the seed is in {path} (mode 0600): keep it secret until the clearing: "
            f"carbonx auction clear {auction_id} --seed-file {path}"
        )
    elif seed is not None:
        seed.discard()  # refused: the seed commits to nothing
    return status


def _approve(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    loaded = load_config(args.config)
    client, _ = connect(args, loaded)
    with client:
        terms = _auction(client, auction_id).terms
        seed = _new_seed(args, loaded) if needs_seed(terms.tie_break) else None
        result = client.approve_auction(auction_id, seed.commitment if seed else "")
        return _seeded(result, seed, _zone(loaded))


def _open_or_close(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    client, loaded = connect(args)
    with client:
        send = client.open_auction if args.action == "open" else client.close_auction
        status = show_auction(send(auction_id), _zone(loaded))
        if args.action == "close" and status == 0:
            info = _auction(client, auction_id)
            if info.status is AuctionStatus.CLOSED:
                print(f"next: clear it with the seed: carbonx auction clear {auction_id} --seed-file FILE")
            elif info.results is not None:
                print(f"results: carbonx auction results {auction_id} (--format json --output FILE, --plot PNG)")
        return status


def _clear(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    loaded = load_config(args.config)
    client, _ = connect(args, loaded)
    with client:
        terms = _auction(client, auction_id).terms
        seed = ""
        if args.seed_file is not None or needs_seed(terms.tie_break):
            path = args.seed_file or find_seed(_seed_dir(args, loaded), auction_id, terms.seed_commitment)
            if path is None:
                raise CarbonxError(
                    f"auction {auction_id}: no seed file in {_seed_dir(args, loaded)} matches its commitment "
                    f"{terms.seed_commitment}: give the one announce wrote with --seed-file"
                )
            seed = read_seed(Path(path))
            if commitment_of(seed) != terms.seed_commitment:
                raise CarbonxError(
                    f"{path}: SHA-256 of this seed is {commitment_of(seed)}, not auction {auction_id}'s "
                    f"commitment {terms.seed_commitment or '(none)'}: nothing sent"
                )
        status = show_auction(client.clear_auction(auction_id, seed), _zone(loaded))
        if status == 0:
            print(f"results: carbonx auction results {auction_id} (--format json --output FILE, --plot PNG)")
        return status


def _cancel(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    client, loaded = connect(args)
    with client:
        return show_auction(client.cancel_auction(auction_id, args.account, args.reason), _zone(loaded))


def _load_figures(args: argparse.Namespace) -> int:
    by_instrument = load_figures(args.file)
    client, loaded = connect(args)
    status = 0
    with client:
        for instrument, days in by_instrument.items():
            for start in range(0, len(days), MAX_LOADED_DAYS):
                chunk = days[start : start + MAX_LOADED_DAYS]
                status = max(status, show_auction(client.load_daily_figures(instrument, chunk), _zone(loaded)))
    return status


# ---------------------------------------------------------------------------------------------- anybody


def _list(args: argparse.Namespace) -> int:
    client, loaded = connect(args)
    with client:
        auctions = client.list_auctions()
    if not auctions:
        print("no auctions (the regulator announces one: carbonx auction announce FILE.toml)")
        return 0
    zone = _zone(loaded)
    print(f"auctions (prices CNY/t; bidding in {loaded.exchange.calendar.timezone})")
    for line in table(LIST_HEADER, [list_row(a, zone) for a in auctions], left=LIST_LEFT):
        print(line)
    return 0


def _status(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    client, loaded = connect(args)
    with client:
        info = _auction(client, auction_id)
        sees_bids = client.session.role in SEES_EVERY_BID
    timezone = loaded.exchange.calendar.timezone
    for line in status_lines(info, _zone(loaded), timezone, sees_bids=sees_bids):
        print(line)
    return 0


def _results(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    output_format = args.format or format_of(args.output)
    client, _ = connect(args)
    with client:
        info = _auction(client, auction_id)
        if info.results is None:
            raise CarbonxError(
                f"auction {auction_id} is {info.status.name.lower()}: results come when it clears "
                f"(carbonx auction status {auction_id})"
            )
        bids = published_bids(client, auction_id)
    if len(bids) != info.results.bid_count:
        raise CarbonxError(
            f"auction {auction_id}: the node keeps {len(bids):,} of its {info.results.bid_count:,} published bids "
            "(older results are dropped: auction.results_kept)"
        )
    document = results_document(info.terms, info.results, bids)
    file = parse_results(document, f"auction {auction_id}")
    text = results_text(output_format, document, file)
    if args.output is not None:
        _write(args.output, text)
        print(f"wrote {args.output}: auction {auction_id} results ({output_format}, {len(bids):,} bids)")
    else:
        sys.stdout.write(text)
    if args.plot is not None:
        from carbonx.auction_plot import plot_curve  # matplotlib only when a plot is asked for

        plot_curve(file, args.plot)
        curve = "supply" if info.terms.kind is AuctionKind.BUYBACK else "demand"
        # With json or csv on stdout, the notice goes to stderr: what is piped stays one format.
        notice = sys.stderr if args.output is None and output_format != "table" else sys.stdout
        print(f"wrote {args.plot}: the {curve} curve of {len(bids):,} bids", file=notice)
    return 0


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as failed:
        raise CarbonxError(f"{path}: cannot write it: {failed.strerror or failed}") from None


def _verify(args: argparse.Namespace) -> int:
    file = load_results(args.file)
    verdict = verify(file)
    for line in verdict_lines(args.file, file, verdict):
        print(line)
    return 0 if verdict.ok else 1


# ---------------------------------------------------------------------------------------------- members


def _bid(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id")
    price, quantity = fen(args.price), whole(args.quantity, "quantity", "tonnes")
    client, loaded = connect(args)
    with client:
        account = default_account(client, args.account)
        result = client.submit_bid(account, auction_id, price, quantity, args.client_bid_id)
        return show_auction(result, _zone(loaded))


def _amend_or_withdraw(args: argparse.Namespace) -> int:
    bid_id = whole(args.bid_id, "bid id")
    amend = args.action == "amend"
    price = fen(args.price) if amend else 0
    quantity = whole(args.quantity, "quantity", "tonnes") if amend else 0
    client, loaded = connect(args)
    with client:
        account = args.account or _bid_account(client, bid_id)
        result = client.amend_bid(account, bid_id, price, quantity) if amend else client.withdraw_bid(account, bid_id)
        return show_auction(result, _zone(loaded))


def _bid_account(client: MemberClient, bid_id: int) -> str:
    """The account of the member's live bid ``bid_id``; its only account when no live bid has that id
    (the engine then says UNKNOWN_BID)."""
    found = next((b.account for b in client.list_bids() if b.bid_id == bid_id and b.live), None)
    return found or default_account(client, None)


def _bids(args: argparse.Namespace) -> int:
    auction_id = whole(args.auction_id, "auction id") if args.auction_id != "0" else 0
    client, _ = connect(args)
    with client:
        bids = client.list_bids(auction_id, args.account)
        # A cleared auction's bids are gone from the book: their outcome is what each bidder was told.
        allocations = client.allocations(auction_id, args.account) if auction_id and not bids else []
    if allocations:
        print(f"your bids' outcome in auction {auction_id}, cleared (prices CNY/t, money CNY)")
        for line in table(ALLOCATIONS_HEADER, [allocation_row(a) for a in allocations], left=ALLOCATIONS_LEFT):
            print(line)
        won, value, fees = (sum(getattr(a, key) for a in allocations) for key in ("quantity", "value", "fee"))
        print(f"won {won:,} t for {cny(value)} CNY, fees {cny(fees)} CNY")
        return 0
    if not bids:
        where = f"auction {auction_id}" if auction_id else "auctions not yet cleared"
        print(f"no bids in {where} (an auction's public results: carbonx auction results ID)")
        return 0
    print("bids of auctions not yet cleared (prices CNY/t)")
    for line in table(BIDS_HEADER, [bid_row(b) for b in bids], left=BIDS_LEFT):
        print(line)
    live = [b for b in bids if b.live]
    count = f"{len(bids):,} bid" + ("" if len(bids) == 1 else "s")
    print(f"{count}: {len(live):,} live, {sum(b.quantity for b in live):,} t")
    return 0


REGULATOR = "REGULATOR"
# name -> (what runs it, the member it logs on as by default: None = --member or $CARBONX_MEMBER)
RUNS: dict[str, tuple[Callable[[argparse.Namespace], int], str | None]] = {
    "announce": (_announce, REGULATOR),
    "apply": (_apply, None),
    "approve": (_approve, REGULATOR),
    "open": (_open_or_close, REGULATOR),
    "close": (_open_or_close, REGULATOR),
    "clear": (_clear, REGULATOR),
    "cancel": (_cancel, REGULATOR),
    "load-figures": (_load_figures, REGULATOR),
    "list": (_list, REGULATOR),
    "status": (_status, REGULATOR),
    "results": (_results, REGULATOR),
    "verify": (_verify, None),
    "bid": (_bid, None),
    "amend": (_amend_or_withdraw, None),
    "withdraw": (_amend_or_withdraw, None),
    "bids": (_bids, None),
}
