"""`carbonx auction` without a node: announcement files, the results file, verify, the plot, seeds.

A "real" results file is made the way the node makes one: an exchange on the demo config (in
process) announces, takes bids, closes and clears an auction; its read view's record and
anonymised bid list go through the same assembly as ``carbonx auction results`` (page by page).
``verify`` must confirm it, and must name the first thing a tampered copy changed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from carbonx.auction_files import announcement_from, load_figures, ns_at
from carbonx.auction_plot import plot_curve
from carbonx.auction_results import load_results, parse_results, published_bids, results_document, to_json
from carbonx.auction_seeds import NewSeed, find_seed, read_seed
from carbonx.cli import main
from carbonx.cli.auction_show import results_text
from carbonx.config import load_config
from carbonx.simulation import funding_commands
from engine.auction.prng import commitment
from engine.auction.state import PublishedBid
from engine.exchange import Exchange
from engine.messages import (
    AllocateAllowances,
    AnnounceAuction,
    AuctionCleared,
    AuctionKind,
    AuctionTerms,
    ClearAuction,
    CloseAuction,
    DepositCash,
    OpenAuction,
    Pricing,
    Purpose,
    SubmitBid,
    TieBreak,
)
from engine.view import ExchangeView
from tests.node_process import REPO

pytestmark = pytest.mark.not_per_book

CONFIG = str(REPO / "config")
EXAMPLES = REPO / "examples" / "auctions"
NOW = 1_795_000_000_000_000_000  # 2026-11-18, before every window below
HOUR = 3_600_000_000_000
SEED = bytes(range(32))  # pinned: its random order cuts bidder 3 out of the tie at 48.00
OTHER_SEED = bytes([1] * 32)  # another seed: its order gives bidder 3 1,000 t and bidder 4 none


# ------------------------------------------------------------------------------------------ a real auction


def cleared(
    kind: AuctionKind,
    bids: list[tuple[str, int, int]],
    seed: bytes | None = SEED,
    **terms: Any,
) -> tuple[AuctionTerms, AuctionCleared, list[PublishedBid]]:
    """Run one auction on the demo config in process: its resolved terms, results and published bids."""
    config = load_config(CONFIG).exchange
    exchange = Exchange(config)
    for command in funding_commands(config):
        exchange.apply(command, NOW)
    exchange.apply(AllocateAllowances(account="RESERVE", instrument="SHEA2025", quantity=500_000), NOW)
    exchange.apply(DepositCash(account="TREASURY", amount=10_000_000_00), NOW)
    auctioneer = {AuctionKind.RESERVE_SALE: "RESERVE", AuctionKind.BUYBACK: "TREASURY"}[kind]
    fields: dict[str, Any] = {
        "kind": kind,
        "instrument": "SHEA2025",
        "auctioneer": auctioneer,
        "volume": 10_000,
        "price": 4800 if kind is AuctionKind.RESERVE_SALE else 7900,
        "purpose": Purpose.MARKET_SUPPLY if kind is AuctionKind.RESERVE_SALE else Purpose.NONE,
        "opens_at": NOW + HOUR,
        "closes_at": NOW + 2 * HOUR,
        "tie_break": TieBreak.RANDOM,
        "seed_commitment": commitment(seed) if seed else "",
        **terms,
    }
    (announced,) = exchange.apply(AnnounceAuction(terms=AuctionTerms(**fields)), NOW)
    auction_id = announced.auction_id  # type: ignore[attr-defined]
    exchange.apply(OpenAuction(auction_id=auction_id), NOW)
    for n, (account, price, quantity) in enumerate(bids):
        (accepted,) = exchange.apply(
            SubmitBid(account=account, auction_id=auction_id, client_bid_id=f"b{n}", price=price, quantity=quantity),
            NOW,
        )
        assert type(accepted).__name__ == "BidAccepted", accepted
    exchange.apply(CloseAuction(auction_id=auction_id), NOW)
    if seed is not None:
        exchange.apply(ClearAuction(auction_id=auction_id, seed=seed.hex()), NOW)
    view = ExchangeView(exchange)
    record = view.auction(auction_id)
    assert record is not None and record.results is not None
    return record.terms, record.results, view.published_bids(auction_id)


SALE_BIDS = [("A001", 4850, 4000), ("A002", 4800, 5000), ("A003", 4800, 3000), ("A101", 4800, 2000)]


@pytest.fixture(scope="module")
def sale() -> tuple[AuctionTerms, AuctionCleared, list[PublishedBid]]:
    return cleared(AuctionKind.RESERVE_SALE, SALE_BIDS)


@pytest.fixture
def results_file(tmp_path: Path, sale: tuple[AuctionTerms, AuctionCleared, list[PublishedBid]]) -> Path:
    path = tmp_path / "results-1.json"
    path.write_text(to_json(results_document(*sale)))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def error(result: tuple[int, list[str], str]) -> str:
    """The one line of an error the user can fix: exit status 2, nothing on stdout, no traceback."""
    status, lines, err = result
    assert (status, lines) == (2, []), (status, lines, err)
    assert err.count("\n") == 1 and err.startswith("carbonx auction: error: "), err
    return err.removeprefix("carbonx auction: error: ").rstrip("\n")


# ------------------------------------------------------------------------------------------ the results file


def test_the_results_file_holds_the_clearing_terms_the_public_results_and_every_bid_in_integers(
    sale: tuple[AuctionTerms, AuctionCleared, list[PublishedBid]],
) -> None:
    document = json.loads(to_json(results_document(*sale)))

    assert (document["format"], document["version"], document["auction_id"]) == ("carbonx auction results", 1, 1)
    assert document["terms"] == {
        "kind": "reserve_sale",
        "volume": 10_000,
        "budget": 0,
        "bid_lot_t": 1,
        "pricing": "uniform",
        "tie_break": "random",
        "price_limit": 4800,
        "cancel_if_undersubscribed": False,
        "cancel_below_reference_bp": 0,
        "reference_price": 0,
    }
    results = document["results"]
    assert {k: results[k] for k in ("volume_offered", "volume_sold", "clearing_price", "revenue", "bid_count")} == {
        "volume_offered": 10_000,
        "volume_sold": 10_000,
        "clearing_price": 4800,
        "revenue": 48_000_000,
        "bid_count": 4,
    }
    assert (results["kind"], results["cancel_cause"], results["cancelled"]) == ("reserve_sale", "none", False)
    assert (results["seed"], results["seed_commitment"]) == (SEED.hex(), commitment(SEED))
    # Bidder 1 wins its 4,000 t at 48.50; the tie at 48.00 shares 6,000 t in the seed's order.
    assert [tuple(b.values()) for b in document["bids"]] == [
        (1, 1, 4850, 4000, 4000, 4800),
        (2, 2, 4800, 5000, 5000, 4800),
        (3, 3, 4800, 3000, 0, 0),
        (4, 4, 4800, 2000, 1000, 4800),
    ]
    numbers = [v for v in _leaves(document) if not isinstance(v, str | bool)]
    assert numbers and all(type(v) is int for v in numbers)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


class _Pages:
    """A client whose node serves the anonymised list two bids a page."""

    def __init__(self, bids: list[PublishedBid]) -> None:
        self.bids, self.asked = bids, []

    def auction_bids_page(self, auction_id: int, offset: int = 0, limit: int = 0) -> Any:
        self.asked.append(offset)
        page = [msgspec.structs.asdict(b) for b in self.bids[offset : offset + 2]]
        return msgspec.defstruct("Page", [("bids", list), ("total", int)])(
            bids=[msgspec.defstruct("Bid", [(k, int) for k in p])(**p) for p in page], total=len(self.bids)
        )


def test_the_bid_list_is_assembled_page_by_page_until_its_total(
    sale: tuple[AuctionTerms, AuctionCleared, list[PublishedBid]],
) -> None:
    bids = sale[2] + sale[2][:1]  # five bids: three pages
    client = _Pages(bids)

    assembled = published_bids(client, 1)

    assert assembled == bids and client.asked == [0, 2, 4]


def test_json_csv_and_table_show_the_same_results(
    sale: tuple[AuctionTerms, AuctionCleared, list[PublishedBid]],
) -> None:
    document = results_document(*sale)
    file = parse_results(document, "auction 1")

    as_json = results_text("json", document, file)
    as_csv = results_text("csv", document, file).splitlines()
    as_table = results_text("table", document, file).splitlines()

    assert json.loads(as_json) == json.loads(to_json(document))
    assert as_csv == [
        "bidder,time_rank,price,quantity,allocated,allocation_price",
        "1,1,4850,4000,4000,4800",
        "2,2,4800,5000,5000,4800",
        "3,3,4800,3000,0,0",
        "4,4,4800,2000,1000,4800",
    ]
    assert as_table[0] == "auction 1 results: reserve sale of SHEA2025 (prices CNY/t)"
    rows = {line.split("  ")[1].strip(): line.split("  ", 2)[2].strip() for line in as_table[1:18] if line}
    assert rows["volume offered"] == "10,000 t"
    assert rows["bids received"] == "14,000 t in 4 bids from 4 bidders"
    assert rows["clearing price"] == "48.00 (uniform)"
    assert rows["revenue"] == "480,000.00 CNY"
    assert rows["bid-to-cover"] == "1.4000"
    assert rows["seed"] == SEED.hex()
    assert as_table[-5].split() == [
        "bidder",
        "time",
        "rank",
        "price",
        "quantity",
        "t",
        "allocated",
        "t",
        "allocation",
        "price",
    ]
    assert as_table[-1].split() == ["4", "4", "48.00", "2,000", "1,000", "48.00"]


def test_the_plot_writes_the_demand_and_the_supply_curve_as_png(
    tmp_path: Path, sale: tuple[AuctionTerms, AuctionCleared, list[PublishedBid]]
) -> None:
    buyback = cleared(AuctionKind.BUYBACK, [("A001", 7800, 4000), ("A002", 7850, 8000), ("A101", 7850, 5000)])
    for name, auction in (("demand.png", sale), ("supply.png", buyback)):
        plot_curve(parse_results(results_document(*auction), name), tmp_path / name)

        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_matplotlib_is_imported_only_for_a_plot() -> None:
    probe = "import sys, carbonx.cli as c; c.build_parser(); print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO, env={**os.environ}
    ).stdout
    assert out.strip() == "False"


# ------------------------------------------------------------------------------------------ verify


def test_verify_confirms_a_real_results_file(capsys: pytest.CaptureFixture[str], results_file: Path) -> None:
    status, lines, err = run(capsys, "auction", "verify", str(results_file))

    assert (status, err) == (0, ""), lines
    assert lines[0] == f"{results_file}: auction 1, reserve_sale of SHEA2025, 4 bids, random tie-break"
    assert f"  ok  seed: SHA-256 of the seed is the commitment {commitment(SEED)}" in lines
    assert "  ok  allocations: all 4 bids as published" in lines
    assert "  ok  clearing price 48.00, volume sold 10,000 t, revenue 480,000.00 CNY" in lines
    assert lines[-1] == "verified: every allocation and the clearing price match the published results"


def _tampered(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    document = json.loads(path.read_text())
    change(document)
    tampered = path.with_name("tampered.json")
    tampered.write_text(json.dumps(document))
    return tampered


def _move_a_tonne_block(d: dict[str, Any]) -> None:
    d["bids"][2]["allocated"], d["bids"][2]["allocation_price"] = 1000, 4800
    d["bids"][3]["allocated"] = 0


def _reveal_another_seed(d: dict[str, Any]) -> None:
    d["results"]["seed"] = OTHER_SEED.hex()


def _another_seed_and_its_commitment(d: dict[str, Any]) -> None:
    d["results"]["seed"], d["results"]["seed_commitment"] = OTHER_SEED.hex(), commitment(OTHER_SEED)


def _raise_the_clearing_price(d: dict[str, Any]) -> None:
    d["results"]["clearing_price"] = 4850


def _raise_one_allocation_price(d: dict[str, Any]) -> None:
    d["bids"][1]["allocation_price"] = 4850


@pytest.mark.parametrize(
    ("change", "mismatch"),
    [
        (
            _move_a_tonne_block,
            "bid 3 (bidder 3, time rank 3, 3,000 t @ 48.00): allocated t: recomputed 0, published 1,000",
        ),
        (
            _reveal_another_seed,
            f"seed: SHA-256 of the seed (the commitment): recomputed {commitment(OTHER_SEED)}, "
            f"published {commitment(SEED)}",
        ),
        (
            _another_seed_and_its_commitment,
            "bid 3 (bidder 3, time rank 3, 3,000 t @ 48.00): allocated t: recomputed 1,000, published 0",
        ),
        (_raise_the_clearing_price, "clearing price: recomputed 48.00, published 48.50"),
        (
            _raise_one_allocation_price,
            "bid 2 (bidder 2, time rank 2, 5,000 t @ 48.00): allocation price: recomputed 48.00, published 48.50",
        ),
    ],
)
def test_verify_fails_a_tampered_file_naming_the_first_mismatch(
    capsys: pytest.CaptureFixture[str],
    results_file: Path,
    change: Callable[[dict[str, Any]], None],
    mismatch: str,
) -> None:
    status, lines, err = run(capsys, "auction", "verify", str(_tampered(results_file, change)))

    assert (status, err) == (1, ""), lines
    assert lines[-2:] == [
        f"MISMATCH: {mismatch}",
        "not verified: the file's results are not what its bids and seed give",
    ]


def test_verify_recomputes_a_cancellation_and_a_pay_as_bid_buyback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    undersubscribed = cleared(
        AuctionKind.RESERVE_SALE, SALE_BIDS[:2], None, tie_break=TieBreak.TIME, cancel_if_undersubscribed=True
    )
    pay_as_bid = cleared(
        AuctionKind.BUYBACK,
        [("A001", 7800, 4000), ("A002", 7850, 8000), ("A101", 7850, 5000)],
        pricing=Pricing.PAY_AS_BID,
        tie_break=TieBreak.PRO_RATA,
    )
    for name, auction in (("cancelled.json", undersubscribed), ("buyback.json", pay_as_bid)):
        (tmp_path / name).write_text(to_json(results_document(*auction)))
        status, lines, _ = run(capsys, "auction", "verify", str(tmp_path / name))
        assert status == 0, lines

    assert undersubscribed[1].cancelled and [b.allocated for b in undersubscribed[2]] == [0, 0]
    # Pay-as-offer: 4,000 t at 78.00, then 6,000 t shared pro rata at 78.50: 6,000 x 8/13 and x 5/13, the
    # leftover tonne to one of them in the seeded order.
    allocated = [(b.allocated, b.allocation_price) for b in pay_as_bid[2]]
    assert allocated[0] == (4000, 7800) and allocated[1][0] + allocated[2][0] == 6000
    assert {allocated[1][0], allocated[2][0]} <= {3692, 3693, 2307, 2308}


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (lambda text: "{", "not a results file: Expecting property name enclosed in double quotes: line 1 column 2"),
        (lambda text: '{"format": "other"}', 'not a results file (no "format": "carbonx auction results")'),
        (
            lambda text: text.replace('"price": 4850,', '"price": 48.5,', 1),
            "not a results file: the number 48.5 has a fraction: the results file holds integers only",
        ),
        (lambda text: text.replace('"bidder": 2,', '"bidder": "B",', 1), "bids[1].bidder: 'B' is not a whole number"),
        (
            lambda text: text.replace('"tie_break": "random"', '"tie_break": "coin"', 1),
            "terms.tie_break: 'coin' is not",
        ),
    ],
)
def test_a_file_that_is_not_a_results_file_is_one_line(
    capsys: pytest.CaptureFixture[str], results_file: Path, edit: Callable[[str], str], line: str
) -> None:
    results_file.write_text(edit(results_file.read_text()))

    assert error(run(capsys, "auction", "verify", str(results_file))).startswith(f"{results_file}: {line}")


def test_load_results_reads_back_what_results_document_wrote(
    results_file: Path, sale: tuple[AuctionTerms, AuctionCleared, list[PublishedBid]]
) -> None:
    file = load_results(results_file)

    assert file.bids == sale[2]
    assert (file.terms["kind"], file.terms["tie_break"]) == (AuctionKind.RESERVE_SALE, TieBreak.RANDOM)


# ------------------------------------------------------------------------------------------ announcement files


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auction.toml"
    path.write_text(text)
    return path


SALE = """\
kind = "reserve_sale"
purpose = "market_supply"
instrument = "SHEA2025"
auctioneer = "RESERVE"
volume = 100_000
price = "48.00"
date = 2026-12-07
"""


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (('kind = "reserve_sale"\n', ""), "kind: missing: one of reserve_sale, buyback, one_way"),
        (("reserve_sale", "auction"), "kind: 'auction' is not one of reserve_sale, buyback, one_way"),
        (('"48.00"', "48.0"), 'price: 48.0 is not an amount in CNY (write it as text: "48.00")'),
        (('"48.00"', '"48.001"'), "price: '48.001' must be a non-negative amount in CNY with at most 2 decimals"),
        (("100_000", '"lots"'), "volume: 'lots' is not a whole number of tonnes"),
        (("volume", "volumn"), "unknown key 'volumn' (known: kind, name, purpose, instrument, auctioneer, volume, "),
        (
            ("2026-12-07", "2026-12-05"),
            "date: 2026-12-05 is not a trading day of the calendar (a weekend or a holiday)",
        ),
        (("2026-12-07", '"12/07/2026"'), "date: '12/07/2026' is not a date YYYY-MM-DD"),
        (("date", 'opens = "9h30"\ndate'), "opens: '9h30' is not a local time \"HH:MM\""),
        (("date", 'opens = "11:30"\ncloses = "09:30"\ndate'), "closes: 09:30 is not after opens 11:30"),
        (("date", 'cutoff = "12:00"\ndate'), "cutoff: 12:00 is not within the window 09:30-11:30"),
        (('purpose = "market_supply"\n', ""), "purpose: missing: a reserve sale's purpose, one of compliance, "),
        (("market_supply", "supply"), "purpose: 'supply' is not one of compliance, market_supply"),
        (('price = "48.00"', 'price = "48.00"\nvwap_from = 2026-11-02'), "price: a fixed price and the VWAP rule"),
        (('price = "48.00"\n', ""), 'price: missing: a fixed floor ("48.00"), or the VWAP rule: '),
        (("instrument", 'tie_break = "coin"\ninstrument'), "tie_break: 'coin' is not one of time, pro_rata, random"),
        (("instrument", 'caps = [{ kind = "institution" }]\ninstrument'), "caps[1]: a cap names its kind and max_t"),
        (("instrument", "cancel_if_undersubscribed = 1\ninstrument"), "cancel_if_undersubscribed: 1 is not true or"),
        (("volume = 100_000\n", 'budget = "1000000.00"\n'), "budget: only a buyback has a budget"),
        (('= "RESERVE"', "= "), "not valid TOML: "),
    ],
)
def test_a_mistake_in_an_announcement_file_is_one_line_naming_the_file_and_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: tuple[str, str], line: str
) -> None:
    path = _write(tmp_path, SALE.replace(*edit))

    found = error(run(capsys, "auction", "announce", str(path), "--check", "--config", CONFIG))

    assert found.startswith(f"{path}: {line}"), found


def test_a_buyback_gives_a_volume_or_a_budget_and_a_missing_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    both = SALE.replace("reserve_sale", "buyback").replace('purpose = "market_supply"\n', "")
    both = both.replace("RESERVE", "TREASURY") + 'budget = "100.00"\n'
    path = _write(tmp_path, both)

    assert error(run(capsys, "auction", "announce", str(path), "--check", "--config", CONFIG)) == (
        f"{path}: volume: a buyback gives a volume (tonnes) or a budget (CNY), one of them"
    )
    missing = tmp_path / "none.toml"
    assert error(run(capsys, "auction", "announce", str(missing), "--config", CONFIG)) == f"{missing}: no such file"


def test_the_regulator_announces_no_one_way_sale_and_a_member_applies_for_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one_way, sale = EXAMPLES / "one_way.toml", EXAMPLES / "reserve_sale.toml"

    assert error(run(capsys, "auction", "announce", str(one_way), "--check", "--config", CONFIG)).startswith(
        f"{one_way}: kind: a one-way sale comes by a member's application (carbonx auction apply FILE)"
    )
    assert error(run(capsys, "auction", "apply", str(sale), "--check", "--config", CONFIG)).startswith(
        f'{sale}: kind: apply is for one-way sales (kind = "one_way")'
    )


@pytest.mark.parametrize("name", ["reserve_sale", "buyback", "one_way"])
def test_each_example_file_reads_with_its_window_on_a_trading_day(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    action = "apply" if name == "one_way" else "announce"
    status, lines, err = run(capsys, "auction", action, str(EXAMPLES / f"{name}.toml"), "--check", "--config", CONFIG)

    assert (status, err) == (0, ""), (lines, err)
    assert lines[0].endswith("the terms as the file gives them (the exchange fills in the defaults); nothing sent")
    shown = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:]}
    assert shown["kind"] == name and shown["instrument"] == "SHEA2025"
    assert shown["opens_at"].endswith(" 09:30") and shown["closes_at"].endswith(" 11:30")
    calendar = load_config(CONFIG).exchange.calendar
    assert calendar.is_trading_day(dt.date.fromisoformat(shown["opens_at"][:10]))


def test_next_trading_day_follows_the_calendar_and_times_are_local() -> None:
    calendar = load_config(CONFIG).exchange.calendar
    table = {
        "kind": "buyback",
        "instrument": "SHEA2025",
        "auctioneer": "TREASURY",
        "budget": "1000000",
        "price": 79,
        "opens": "10:00",
        "closes": "10:30",
        "date": "next_trading_day",
    }

    friday = announcement_from(table, "f.toml", calendar, today=dt.date(2026, 12, 4))
    before_golden_week = announcement_from(table, "f.toml", calendar, today=dt.date(2026, 9, 30))

    assert friday.day == dt.date(2026, 12, 7)  # Monday
    assert before_golden_week.day == dt.date(2026, 10, 8)  # after the National Day holidays
    # 10:00 in Shanghai (UTC+8) is 02:00 UTC.
    assert friday.terms.opens_at == int(dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC).timestamp()) * 10**9
    assert friday.terms.closes_at - friday.terms.opens_at == 30 * 60 * 10**9
    assert (friday.terms.budget, friday.terms.price, friday.terms.volume) == (100_000_000, 7900, 0)
    assert ns_at(dt.date(2026, 12, 7), dt.time(9, 30), __import__("zoneinfo").ZoneInfo("Asia/Shanghai")) == (
        friday.terms.opens_at - 30 * 60 * 10**9
    )


def test_the_example_figures_file_gives_each_day_in_fen(tmp_path: Path) -> None:
    figures = load_figures(EXAMPLES / "figures.csv")

    assert list(figures) == ["SHEA2025"]
    first = figures["SHEA2025"][0]
    assert (first.trading_day, first.volume, first.turnover, first.close) == (20261116, 120_000, 958_800_000, 7990)
    bad = tmp_path / "figures.csv"
    bad.write_text("instrument,trading_day,volume,turnover,close\nSHEA2025,2026-11-16,12.5,100.00,80.00\n")
    with pytest.raises(Exception, match=r"figures.csv:2: volume: '12.5' is not a whole number of tonnes"):
        load_figures(bad)


# ------------------------------------------------------------------------------------------ seeds


def test_a_seed_file_is_the_owners_alone_never_overwritten_and_found_by_its_commitment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed = NewSeed.write(None, tmp_path / "seeds")
    kept = seed.keep(4)

    assert kept == tmp_path / "seeds" / "auction-4.seed"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "seeds").stat().st_mode) == 0o700
    assert read_seed(kept) == seed.text and commitment(bytes.fromhex(seed.text)) == seed.commitment
    assert find_seed(tmp_path / "seeds", 9, seed.commitment) == kept  # another id: found by its commitment
    assert find_seed(tmp_path / "seeds", 4, "0" * 64) is None

    # announce --seed-file with a file that is there already: refused before anything is sent.
    before = kept.read_bytes()
    found = error(
        run(
            capsys,
            "auction",
            "announce",
            str(EXAMPLES / "buyback.toml"),
            "--seed-file",
            str(kept),
            "--config",
            CONFIG,
            "--gateway",
            "tcp://127.0.0.1:9",
        )
    )
    assert found.startswith(f"{kept}: a seed file is there already and is never overwritten")
    assert kept.read_bytes() == before


# ------------------------------------------------------------------------------------------ help


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ([], ["announce", "approve", "verify", "reserve_sale", "buyback", "one_way", "examples/auctions"]),
        (["announce"], ["FILE.toml", "--seed-file", "--seed-dir", "--check", "commitment", "tie_break", "0600"]),
        (["apply"], ["FILE.toml", "--account", "100,000 t", "approve"]),
        (["approve"], ["ID", "--seed-file", "commitment"]),
        (["open"], ["ID", "scheduler"]),
        (["close"], ["ID", "time tie-break", "clears"]),
        (["clear"], ["ID", "--seed-file", "--seed-dir", "commitment"]),
        (["cancel"], ["ID", "--reason", "--account"]),
        (["load-figures"], ["FILE", "instrument,trading_day,volume,turnover,close"]),
        (["list"], ["announced", "applications"]),
        (["status"], ["ID", "commitment"]),
        (["results"], ["ID", "--format", "--output", "--plot", "json", "csv", "verify"]),
        (["verify"], ["RESULTS.json", "commitment", "Exit status 0"]),
        (["bid"], ["ID", "--price", "--quantity", "--account", "--client-bid-id", "frozen"]),
        (["amend"], ["BID_ID", "--price", "--quantity", "time"]),
        (["withdraw"], ["BID_ID", "released"]),
        (["bids"], ["ID", "--account", "regulator"]),
    ],
)
def test_help_is_enough_for_each_auction_command(
    capsys: pytest.CaptureFixture[str], action: list[str], words: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["auction", *action, "--help"])
    out = capsys.readouterr().out

    assert exit_info.value.code == 0
    assert out.startswith(f"usage: carbonx auction {' '.join(action)}".rstrip())
    assert [w for w in words if w not in out] == []
    if action and action != ["verify"]:
        assert all(option in out for option in ("--member", "--gateway", "--keys-dir", "--config"))


def test_a_bad_id_price_or_quantity_is_one_line_before_anything_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    node = ["--config", CONFIG, "--gateway", "tcp://127.0.0.1:9", "--member", "M001"]

    assert error(run(capsys, "auction", "open", "first", *node)) == "auction id 'first': not a positive whole number"
    assert error(run(capsys, "auction", "bid", "1", "--price", "48.001", "--quantity", "10", *node)) == (
        "price '48.001': must be a non-negative amount in yuan with at most 2 decimals"
    )
    assert error(run(capsys, "auction", "bid", "1", "--price", "48", "--quantity", "1.5", *node)) == (
        "quantity '1.5': not a positive whole number of tonnes"
    )
    assert error(run(capsys, "auction", "withdraw", "x", *node)) == "bid id 'x': not a positive whole number"


def test_mode_0600_is_kept_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        seed = NewSeed.write(tmp_path / "mine.seed", tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(seed.path.stat().st_mode) == 0o600 and seed.keep(1) == tmp_path / "mine.seed"
