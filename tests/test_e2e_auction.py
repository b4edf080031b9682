"""Issue 16's "Done when", through a real demo node (a subprocess over tcp loopback) and the command
line as the README and examples/auctions/README.md write it.

The regulator funds the reserve, announces the reserve sale of examples/auctions/ and opens it by
hand; three demo members bid from the CLI; the regulator closes it and it clears at once (a time
tie-break); ``results --plot`` writes the curve and ``verify`` confirms the results file. A buyback
(pro-rata: the seed is made at the announcement, kept in a file of mode 0600 and revealed by
``clear``) and a one-way sale (applied for by a member, approved by the regulator, pay-as-bid) run
the same way. Waits are for answers, never sleeps.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonx.cli import main
from gateway.client import MemberClient
from gateway.protocol import AccountBalance
from tests.node_process import REPO, NodeProcess, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]  # auctions never reach the order book

EXAMPLES = REPO / "examples" / "auctions"
PNG = b"\x89PNG\r\n\x1a\n"

RESERVE_SALE = [
    "registry allocate examples/auctions/fund_reserve.csv",
    "auction announce examples/auctions/reserve_sale.toml",
    "auction open 1",
    "auction bid --member M001 1 --price 48.50 --quantity 40000",
    "auction bid --member M002 1 --price 48.00 --quantity 50000",
    "auction bid --member M101 --account A101 1 --price 48.00 --quantity 30000",
    "auction close 1",
    "auction results 1 --format json --output results-1.json --plot curve-1.png",
    "auction verify results-1.json",
]
BUYBACK = [
    "registry deposit examples/auctions/fund_treasury.csv",
    "auction announce examples/auctions/buyback.toml",
    "auction open 1",
    "auction bid --member M001 1 --price 78.00 --quantity 8000",
    "auction bid --member M002 1 --price 78.50 --quantity 10000",
    "auction bid --member M101 --account A101 1 --price 78.50 --quantity 7000",
    "auction close 1",
    "auction clear 1",
    "auction results 1 --format json --output results-1.json --plot curve-1.png",
    "auction verify results-1.json",
]
ONE_WAY = [
    "auction apply --member M002 examples/auctions/one_way.toml",
    "auction approve 1",
    "auction open 1",
    "auction bid --member M001 1 --price 79.00 --quantity 60000",
    "auction bid --member M101 --account A101 1 --price 78.00 --quantity 50000",
    "auction bid --member M102 1 --price 77.00 --quantity 30000",
    "auction close 1",
    "auction results 1 --format json --output results-1.json --plot curve-1.png",
    "auction verify results-1.json",
]


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NodeProcess]:
    """A demo node; the commands run in ``tmp_path`` (where results and curves are written)."""
    process = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    monkeypatch.chdir(tmp_path)
    try:
        yield process
        assert process.stop() == 0, process.stderr()
    finally:
        process.close()


def cli(capsys: pytest.CaptureFixture[str], node: NodeProcess, command: str) -> tuple[int, list[str], str]:
    """A command as the READMEs write it, with the test node's config, endpoints and seed directory."""
    argv = [word.replace("examples/", f"{REPO}/examples/") for word in command.split()]
    extra = ["--config", str(node.config), "--gateway", node.order_entry]
    if argv[0] == "registry":
        extra += ["--data-dir", str(node.data_dir)]
    if argv[:2] in (["auction", "announce"], ["auction", "approve"], ["auction", "clear"]):
        extra += ["--seed-dir", "seeds"]
    status = main([*argv, *([] if argv[:2] == ["auction", "verify"] else extra)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def done(result: tuple[int, list[str], str]) -> list[str]:
    status, lines, err = result
    assert (status, err) == (0, ""), (status, lines, err)
    return [re.sub(r"^#\d+ ", "", line) for line in lines]


def run_all(capsys: pytest.CaptureFixture[str], node: NodeProcess, steps: list[str]) -> list[list[str]]:
    return [done(cli(capsys, node, step)) for step in steps]


def shown(steps: list[str], readme: Path) -> list[str]:
    """The steps a README does not show, as it writes them (`.venv/bin/carbonx ...`)."""
    text = readme.read_text()
    return [s for s in steps if f".venv/bin/carbonx {s}" not in text]


def balance(node: NodeProcess, member: str, account: str) -> tuple[int, int]:
    """(cash available, SHEA2025 held: available + restricted + frozen) of ``account``."""
    with MemberClient.from_keys(node.order_entry, member, node.keys_dir, timeout_ms=5_000) as client:
        (found,) = client.accounts(account)
    assert isinstance(found, AccountBalance)
    shea = next(h for h in found.holdings if h.instrument == "SHEA2025")
    return found.cash_available, shea.available + shea.restricted + shea.frozen


def results_json() -> dict[str, object]:
    document = json.loads(Path("results-1.json").read_text())
    assert Path("curve-1.png").read_bytes()[:8] == PNG
    return document


def allocations(document: dict[str, object]) -> list[tuple[int, ...]]:
    bids = document["bids"]
    assert isinstance(bids, list)
    return [
        (b["bidder"], b["time_rank"], b["price"], b["quantity"], b["allocated"], b["allocation_price"]) for b in bids
    ]


def rows(status: list[str]) -> dict[str, str]:
    """The rows of ``carbonx auction status``: name -> value."""
    return dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in status[1:] if re.search(r"\S\s{2,}\S", line))


VERIFIED = "verified: every allocation and the clearing price match the published results"


# ------------------------------------------------------------------------------------------ reserve sale


def test_a_reserve_sale_from_the_examples_clears_and_its_results_file_verifies(
    node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shown(RESERVE_SALE, REPO / "README.md") == [], "the README shows these steps"
    assert shown(RESERVE_SALE, EXAMPLES / "README.md") == []
    a001_before = balance(node, "M001", "A001")

    funded, announced, opened, *bids = run_all(capsys, node, RESERVE_SALE[:6])
    below_floor = cli(capsys, node, "auction bid --member M001 1 --price 47.00 --quantity 100")
    closed, written, verified = run_all(capsys, node, RESERVE_SALE[6:])
    too_late = cli(capsys, node, "auction bid --member M002 1 --price 48.00 --quantity 100")
    outcome = done(cli(capsys, node, "auction bids --member M101 1"))

    assert funded[1] == "allocated 500,000 t SHEA2025 to RESERVE"
    assert announced[0].startswith(
        "auction 1 announced: reserve sale (market_supply) of 100,000 t SHEA2025 by RESERVE, floor 48.00, bidding "
    )
    assert announced[0].endswith(", uniform price, time tie-break; RESERVE froze 100,000 t")
    assert len(announced) == 1  # a time tie-break: no seed made, none kept
    assert opened == ["auction 1 (SHEA2025) open for bids"]
    assert [re.sub(r"\(\w+\)", "(id)", b[0]) for b in bids] == [
        "bid 1 (id) accepted in auction 1: A001 bids for 40,000 t @ 48.50, time rank 1; froze 1,940,000.00 CNY",
        "bid 2 (id) accepted in auction 1: A002 bids for 50,000 t @ 48.00, time rank 2; froze 2,400,000.00 CNY",
        "bid 3 (id) accepted in auction 1: A101 bids for 30,000 t @ 48.00, time rank 3; froze 1,440,000.00 CNY",
    ]
    assert closed == [
        "auction 1 (SHEA2025) closed with 3 live bids",
        "bid 1 of A001: allocated 40,000 of 40,000 t @ 48.00, value 1,920,000.00 CNY, fee 0.00 CNY; "
        "released 20,000.00 CNY",
        "bid 2 of A002: allocated 50,000 of 50,000 t @ 48.00, value 2,400,000.00 CNY, fee 0.00 CNY; "
        "nothing left to release",
        "bid 3 of A101: allocated 10,000 of 30,000 t @ 48.00, value 480,000.00 CNY, fee 0.00 CNY "
        "(cut by the tie-break); released 960,000.00 CNY",
        "auction 1 settled for RESERVE: delivered 100,000 t SHEA2025 for 4,800,000.00 CNY; nothing left to release; "
        "4,800,000.00 CNY passed to TREASURY",
        "auction 1 (SHEA2025) cleared: 100,000 t of 100,000 t sold, clearing price 48.00, revenue 4,800,000.00 CNY; "
        "3 bids from 3 bidders for 120,000 t",
        "results: carbonx auction results 1 (--format json --output FILE, --plot PNG)",
    ]
    assert written == [
        "wrote results-1.json: auction 1 results (json, 3 bids)",
        "wrote curve-1.png: the demand curve of 3 bids",
    ]
    assert verified[-1] == VERIFIED
    document = results_json()
    assert allocations(document) == [
        (1, 1, 4850, 40000, 40000, 4800),
        (2, 2, 4800, 50000, 50000, 4800),
        (3, 3, 4800, 30000, 10000, 4800),
    ]
    results = document["results"]
    assert isinstance(results, dict)
    assert (results["covered_share_bp"], results["hhi"], results["seed"]) == (9000, 4200, "")
    # A bid below the floor is refused at once; after the clearing, bidding is over.
    assert (below_floor[0], below_floor[2], len(below_floor[1])) == (1, "", 1)
    assert "rejected 5018: BID_BELOW_FLOOR: auction_id=1 price=" in below_floor[1][0]
    assert (too_late[0], too_late[2]) == (1, "")
    assert "rejected 5016: AUCTION_NOT_OPEN: auction_id=1 status=CLEARED (" in too_late[1][0]
    # Privately, each bidder reads its own outcome.
    assert outcome[0] == "your bids' outcome in auction 1, cleared (prices CNY/t, money CNY)"
    assert outcome[2].split() == [
        *("3", "A101", "48.00", "30,000", "10,000", "48.00", "480,000.00", "0.00"),
        *("cut", "by", "the", "tie-break"),
    ]
    assert outcome[3] == "won 10,000 t for 480,000.00 CNY, fees 0.00 CNY"
    # Delivery versus payment: A001 paid 48.00 a tonne for its 40,000 t.
    cash, held = a001_before
    assert balance(node, "M001", "A001") == (cash - 1_920_000_00, held + 40_000)


# ------------------------------------------------------------------------------------------ buyback


def test_a_pro_rata_buyback_commits_to_its_seed_clears_with_it_and_verifies(
    node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shown(BUYBACK, EXAMPLES / "README.md") == []
    _, announced, _, *offers, closed, cleared, written, verified = run_all(capsys, node, BUYBACK)

    assert announced[0].startswith("auction 1 announced: buyback of 20,000 t SHEA2025 by TREASURY, ceiling 79.00")
    assert announced[0].endswith(", uniform price, pro_rata tie-break; TREASURY froze 1,580,000.00 CNY")
    commitment = announced[1].removeprefix("auction 1: seed commitment (SHA-256 of the seed) ")
    seed_file = Path("seeds/auction-1.seed")
    assert announced[2].startswith(f"the seed is in {seed_file} (mode 0600): keep it secret until the clearing")
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
    assert hashlib.sha256(bytes.fromhex(seed_file.read_text().strip())).hexdigest() == commitment
    assert [o[0].split(": ", 1)[1] for o in offers] == [
        "A001 offers 8,000 t @ 78.00, time rank 1; froze 8,000 t",
        "A002 offers 10,000 t @ 78.50, time rank 2; froze 10,000 t",
        "A101 offers 7,000 t @ 78.50, time rank 3; froze 7,000 t",
    ]
    assert closed == [
        "auction 1 (SHEA2025) closed with 3 live bids",
        "next: clear it with the seed: carbonx auction clear 1 --seed-file FILE",
    ]
    assert cleared[-2] == (
        "auction 1 (SHEA2025) cleared: 20,000 t of 20,000 t bought, clearing price 78.50, spent 1,570,000.00 CNY; "
        "3 bids from 3 bidders for 25,000 t"
    )
    assert written[-1] == "wrote curve-1.png: the supply curve of 3 bids"
    assert f"  ok  seed: SHA-256 of the seed is the commitment {commitment}" in verified
    assert verified[-1] == VERIFIED
    document = results_json()
    (first, second, third) = allocations(document)
    # 8,000 t at 78.00 first; the 12,000 t left go pro rata at 78.50: 12,000 x 10/17 and x 7/17, rounded
    # down (7,058 and 4,941), the leftover tonne to one of them in the seed's order.
    assert first == (1, 1, 7800, 8000, 8000, 7850)
    assert second[4] + third[4] == 12_000 and (second[4], third[4]) in ((7059, 4941), (7058, 4942))
    results = document["results"]
    assert isinstance(results, dict) and results["seed_commitment"] == commitment
    assert results["seed"] == seed_file.read_text().strip()


VWAP_BUYBACK = """\
kind = "buyback"
instrument = "SHEA2025"
auctioneer = "TREASURY"
volume = 1_000
vwap_from = 2026-11-16
vwap_to = 2026-11-20
"""


def test_bids_change_until_the_close_the_seed_must_match_and_the_regulator_cancels(
    node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    run_all(capsys, node, BUYBACK[:4])  # the treasury funded, auction 1 announced and open, M001 offers: bid 1
    amended = done(cli(capsys, node, "auction amend --member M001 1 --price 78.10 --quantity 8000"))
    listed = done(cli(capsys, node, "auction bids --member M001"))
    regulator_sees = done(cli(capsys, node, "auction status 1"))
    member_sees = done(cli(capsys, node, "auction status 1 --member M002"))
    not_its_bid = cli(capsys, node, "auction withdraw --member M002 1")
    withdrawn = done(cli(capsys, node, "auction withdraw --member M001 1"))
    closed = done(cli(capsys, node, "auction close 1"))
    Path("other.seed").write_text("00" * 32 + "\n")
    status, lines, err = cli(capsys, node, "auction clear 1 --seed-file other.seed")
    cancelled = done(cli(capsys, node, "auction cancel 1 --reason drill"))
    listing = done(cli(capsys, node, "auction list"))

    assert amended == ["bid 1 amended: 8,000 t @ 78.10, time rank 2; frozen now 8,000 t"]
    assert listed[2].split()[:4] == ["1", "1", "A001", listed[2].split()[3]]
    assert listed[2].split()[4:] == ["78.10", "8,000", "2", "8,000", "t", "live"]
    assert listed[3] == "1 bid: 1 live, 8,000 t"
    assert rows(regulator_sees)["bids"] == "1 live (1 received)"
    assert "bids" not in rows(member_sees)  # a member is not told how many bids an auction holds
    assert (not_its_bid[0], not_its_bid[2]) == (1, "")
    assert not_its_bid[1][0].endswith("rejected 5022: UNKNOWN_BID: bid_id=1 (your live bids: carbonx auction bids)")
    assert withdrawn == ["bid 1 of A001 withdrawn from auction 1; released 8,000 t"]
    assert closed[0] == "auction 1 (SHEA2025) closed with 0 live bids"
    other = hashlib.sha256(bytes(32)).hexdigest()
    assert (status, lines, err.count("\n")) == (2, [], 1)
    assert err.startswith(f"carbonx auction: error: other.seed: SHA-256 of this seed is {other}, not auction 1's ")
    assert err.endswith(": nothing sent\n")
    assert cancelled == ["auction 1 (SHEA2025) cancelled: drill; TREASURY released 1,580,000.00 CNY"]
    assert listing[2].split()[:3] == ["1", "cancelled", "buyback"]

    # A ceiling by the VWAP rule: five loaded days of 535,000 t for 42,795,000.00 CNY, k = 1.
    Path("vwap.toml").write_text(VWAP_BUYBACK)
    loaded = done(cli(capsys, node, "auction load-figures examples/auctions/figures.csv"))
    announced = done(cli(capsys, node, "auction announce vwap.toml"))
    terms = done(cli(capsys, node, "auction status 2"))

    assert loaded == ["loaded 5 days of SHEA2025 listing figures, 2026-11-16 to 2026-11-20"]
    assert "buyback of 1,000 t SHEA2025 by TREASURY, ceiling 79.99, bidding " in announced[0]
    assert rows(terms)["ceiling"] == "79.99 (1 x the VWAP 79.99 of 2026-11-16 to 2026-11-20, to the tick)"


# ------------------------------------------------------------------------------------------ one-way sale


def test_a_one_way_sale_is_applied_for_approved_bid_on_and_cleared_pay_as_bid(
    node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shown(ONE_WAY, EXAMPLES / "README.md") == []
    a002_before = balance(node, "M002", "A002")

    (applied,) = run_all(capsys, node, ONE_WAY[:1])
    unseen = done(cli(capsys, node, "auction list --member M001"))
    approved, _, *bids, closed, written, verified = run_all(capsys, node, ONE_WAY[1:])

    assert applied[0].startswith("auction 1 applied for: A002 sells 100,000 t SHEA2025 by one-way bidding, floor 76.00")
    assert applied[0].endswith("froze 100,000 t; next: the regulator approves it (carbonx auction approve 1)")
    assert unseen == ["no auctions (the regulator announces one: carbonx auction announce FILE.toml)"]
    assert approved[0].startswith("auction 1 announced: one-way sale of 100,000 t SHEA2025 by A002, floor 76.00")
    assert approved[0].endswith(", pay_as_bid price, time tie-break; A002 froze 100,000 t")
    assert [b[0].split(": ", 1)[1] for b in bids] == [
        "A001 bids for 60,000 t @ 79.00, time rank 1; froze 4,744,740.00 CNY",
        "A101 bids for 50,000 t @ 78.00, time rank 2; froze 3,903,900.00 CNY",
        "A104 bids for 30,000 t @ 77.00, time rank 3; froze 2,312,310.00 CNY",
    ]
    assert closed[1:4] == [
        "bid 1 of A001: allocated 60,000 of 60,000 t @ 79.00, value 4,740,000.00 CNY, fee 4,740.00 CNY; "
        "nothing left to release",
        "bid 2 of A101: allocated 40,000 of 50,000 t @ 78.00, value 3,120,000.00 CNY, fee 3,120.00 CNY; "
        "released 780,780.00 CNY",
        "bid 3 of A104: allocated 0 of 30,000 t; released 2,312,310.00 CNY",
    ]
    assert verified[-1] == VERIFIED
    assert written[0] == "wrote results-1.json: auction 1 results (json, 3 bids)"
    assert allocations(results_json()) == [
        (1, 1, 7900, 60000, 60000, 7900),
        (2, 2, 7800, 50000, 40000, 7800),
        (3, 3, 7700, 30000, 0, 0),
    ]
    # The seller delivered 100,000 t and got 7,860,000.00 CNY less its 0.10% fee (7,860.00 CNY).
    cash, held = a002_before
    assert balance(node, "M002", "A002") == (cash + 7_860_000_00 - 7_860_00, held - 100_000)
