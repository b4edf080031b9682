"""`carbonx transfer propose|accept|reject|cancel|list`: agreement transfers from the command line.

The README's demo (two demo members agree a 150,000 t transfer in the afternoon session) and the
one-line refusals run against a real demo node (a subprocess) through ``carbonx.cli.main``, as a
member at a terminal would; the help, the argument errors and the report lines need no node.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from carbonx.cli import main
from carbonx.cli.connect import MEMBER_ENV
from carbonx.cli.transfer_cmd import describe_transfer, summary, whole
from carbonx.errors import CarbonxError
from engine.messages import (
    Reject,
    RequestRejected,
    Side,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
    TransferStatus,
)
from gateway.protocol import TransferProposal
from tests.node_process import REPO, NodeProcess, make_config

pytestmark = pytest.mark.not_per_book

CONFIG = str(REPO / "config")
PROPOSE = (
    "transfer propose --member M002 --side sell --counterparty A001 --instrument SHEA2025 --price 80.00 "
    "--quantity 150000"
)


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    root = tmp_path_factory.mktemp("cli-transfer")
    process = NodeProcess(make_config(root), root / "var").start()
    try:
        yield process
        assert process.stop() == 0, process.stderr()
    finally:
        process.close()


def cli(capsys: pytest.CaptureFixture[str], node: NodeProcess, command: str) -> tuple[int, list[str], str]:
    """A command as the README writes it, with the test node's config and endpoints added."""
    argv = command.split()
    extra = ["--config", str(node.config), "--gateway", node.order_entry]
    if argv[:2] == ["regulator", "session"]:
        extra += ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
    status = main([*argv, *extra])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def done(result: tuple[int, list[str], str]) -> list[str]:
    status, lines, err = result
    assert (status, err) == (0, ""), (status, lines, err)
    return lines


def rejected(result: tuple[int, list[str], str]) -> str:
    """The one line of a request the engine rejected (exit status 1, nothing on stderr), its report
    number left off."""
    status, lines, err = result
    assert (status, err, len(lines)) == (1, "", 1), (status, lines, err)
    return re.sub(r"^#\d+ ", "", lines[0])


def error(result: tuple[int, list[str], str]) -> str:
    """The one line of an error the user can fix: exit status 2, nothing on stdout, no traceback."""
    status, lines, err = result
    assert (status, lines) == (2, []), (status, lines, err)
    assert err.count("\n") == 1 and err.startswith("carbonx transfer: error: "), err
    return err.removeprefix("carbonx transfer: error: ").rstrip("\n")


def unnumbered(lines: list[str]) -> list[str]:
    return [re.sub(r"^#\d+ ", "", line) for line in lines]


# ------------------------------------------------------------------------------------------ the demo


@pytest.mark.e2e
def test_two_demo_members_agree_a_150000_t_transfer_as_the_readme_shows(
    node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (REPO / "README.md").read_text()
    steps = [
        "regulator session afternoon",
        PROPOSE,
        "transfer list --member M001",
        "transfer accept --member M001 1",
        "transfer list --member M002",
        "transfer list --all",
        "account --member M001",
    ]
    assert [s for s in steps if f".venv/bin/carbonx {s}" not in readme] == [], "the README shows these steps"

    afternoon = done(cli(capsys, node, steps[0]))
    proposed = done(cli(capsys, node, steps[1]))
    offered = done(cli(capsys, node, steps[2]))
    accepted = done(cli(capsys, node, steps[3]))
    seller_list = done(cli(capsys, node, steps[4]))
    regulator_list = done(cli(capsys, node, steps[5]))
    account = done(cli(capsys, node, steps[6]))

    assert unnumbered(afternoon)[-1].startswith("session AFTERNOON")
    assert len(proposed) == 2
    assert re.fullmatch(
        r"#\d+ transfer 1 proposed \(\w+\): A002 sells 150,000 t SHEA2025 @ 80\.00 to A001; A002 froze 150,000 t",
        proposed[0],
    ), proposed
    assert proposed[1].startswith("open until A001 accepts or rejects it (carbonx transfer accept|reject 1)")
    assert offered[1].split() == [
        "transfer",
        "status",
        "proposer",
        "side",
        "counterparty",
        "instrument",
        "price",
        "quantity",
        "t",
        "frozen",
        "client",
        "id",
    ]
    assert offered[2].split()[:9] == ["1", "open", "A002", "sell", "A001", "SHEA2025", "80.00", "150,000", "150,000"]
    assert offered[3] == "1 proposal: 1 open; 0 t executed"
    assert unnumbered(accepted) == [
        "transfer 1 accepted by A001; A001 froze 12,012,000.00 CNY",
        "transfer 1 executed: A001 bought 150,000 t SHEA2025 @ 80.00 from A002, value 12,000,000.00 CNY, "
        "fee 12,000.00 CNY each",
    ]
    assert seller_list[2].split()[:9] == ["1", "executed", "A002", "sell", "A001", "SHEA2025", "80.00", "150,000", "-"]
    assert seller_list[3] == "1 proposal: 1 executed; 150,000 t executed"
    assert regulator_list[2:] == seller_list[2:]
    shea = next(line for line in account if line.strip().startswith("SHEA2025"))
    assert "restricted    150,000 t" in shea  # bought today: sellable from the next trading day
    assert "available    17,988,000.00" in account[1]  # 30,000,000.00 - 12,000,000.00 - 12,000.00


@pytest.mark.e2e
def test_what_the_exchange_refuses_is_one_line(
    node: NodeProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMBER_ENV, raising=False)
    too_early = rejected(cli(capsys, node, PROPOSE))
    done(cli(capsys, node, "regulator session afternoon"))
    proposed = done(cli(capsys, node, PROPOSE + " --client-proposal-id mine-1"))
    again = rejected(cli(capsys, node, PROPOSE + " --client-proposal-id mine-1"))
    too_small = rejected(cli(capsys, node, PROPOSE.replace("150000", "50,000")))
    too_dear = rejected(cli(capsys, node, PROPOSE.replace("80.00", "200")))
    unknown = rejected(cli(capsys, node, "transfer accept --member M001 99"))
    not_proposer = rejected(cli(capsys, node, "transfer cancel --member M001 1"))
    not_counterparty = rejected(cli(capsys, node, "transfer reject --member M002 1"))
    not_its_account = error(cli(capsys, node, "transfer reject --member M001 1 --account A002"))
    several_accounts = error(cli(capsys, node, "transfer accept --member M101 99"))
    all_as_member = error(cli(capsys, node, "transfer list --all --member M001"))
    declined = done(cli(capsys, node, "transfer reject --member M001 1"))
    answered = rejected(cli(capsys, node, "transfer accept --member M001 1"))

    assert too_early == (
        "rejected 5003: TRANSFER_OUTSIDE_HOURS: session=MORNING hours=AFTERNOON (transfers are taken only in the "
        "sessions named by hours=; on a demo node the regulator opens the afternoon: carbonx regulator session "
        "afternoon)"
    )
    assert "transfer 1 proposed (mine-1)" in proposed[0]
    assert again == "rejected 5012: DUPLICATE_PROPOSAL_ID: client_proposal_id=mine-1"
    assert too_small == (
        "rejected 5001: TRANSFER_TOO_SMALL: quantity=50000 min=100000 "
        "(a smaller quantity trades on the order book: carbonx order new)"
    )
    assert too_dear == "rejected 5002: TRANSFER_PRICE_OUT_OF_BAND: price=200.00 lower=56.00 upper=104.00"
    assert unknown == (
        "rejected 5008: UNKNOWN_TRANSFER: transfer_id=99 (today's proposals of your accounts: carbonx transfer list)"
    )
    assert not_proposer.startswith("rejected 5011: NOT_TRANSFER_PROPOSER: transfer_id=1 (only the proposer cancels")
    assert not_counterparty.startswith("rejected 5010: NOT_TRANSFER_COUNTERPARTY: transfer_id=1 (only the")
    assert "UNKNOWN_ACCOUNT: account=A002" in not_its_account
    assert several_accounts == (
        "transfer 99: no proposal of today names an account of M101 (today's proposals: carbonx transfer list)"
    )
    assert all_as_member.startswith("--all lists every member's proposals: it needs the regulator or surveillance")
    assert unnumbered(declined) == ["transfer 1 rejected by A001; released 150,000 t to A002"]
    assert answered.startswith("rejected 5009: TRANSFER_NOT_OPEN: transfer_id=1 status=REJECTED")


# ----------------------------------------------------------------------------- without a node


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ([], ["propose", "accept", "reject", "cancel", "list", "100,000 t", "afternoon", "examples"]),
        (["propose"], ["--side", "--counterparty", "--instrument", "--price", "--quantity", "--client-proposal-id"]),
        (["accept"], ["TRANSFER_ID", "--account", "settles at once", "carbonx transfer accept --member M001 1"]),
        (["reject"], ["TRANSFER_ID", "--account", "freeze is released", "carbonx transfer reject"]),
        (["cancel"], ["TRANSFER_ID", "--account", "your own open proposal", "carbonx transfer cancel"]),
        (["list"], ["--all", "--account", "regulator", "surveillance", "carbonx transfer list --member M001"]),
    ],
)
def test_help_tells_a_member_how_to_use_each_transfer_command(
    capsys: pytest.CaptureFixture[str], action: list[str], words: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["transfer", *action, "--help"])
    out = capsys.readouterr().out

    assert exit_info.value.code == 0
    assert out.startswith(f"usage: carbonx transfer {' '.join(action)}".rstrip())
    assert [w for w in words if w not in out] == []
    if action:
        assert all(option in out for option in ("--member", "--gateway", "--keys-dir", "--config"))


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--price", "80.001"], "price '80.001': must be a non-negative amount in yuan with at most 2 decimals"),
        (["--price", "eighty"], "price 'eighty': not a number (yuan, e.g. 80.00)"),
        (["--quantity", "lots"], "quantity 'lots': not a positive whole number of tonnes"),
        (["--quantity", "1.5"], "quantity '1.5': not a positive whole number of tonnes"),
        (["--quantity", "0"], "quantity '0': not a positive whole number of tonnes"),
    ],
)
def test_a_bad_price_or_quantity_is_one_line_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    command = dict(zip(PROPOSE.split()[2::2], PROPOSE.split()[3::2], strict=True)) | dict([argv])
    words = ["transfer", "propose", *(w for pair in command.items() for w in pair)]

    status = main([*words, "--config", CONFIG, "--gateway", "tcp://127.0.0.1:9"])
    out, err = capsys.readouterr()

    assert error((status, out.splitlines(), err)) == line


def test_a_bad_transfer_id_or_no_member_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMBER_ENV, raising=False)

    def run(*argv: str) -> str:
        status = main(["transfer", *argv, "--config", CONFIG])
        out, err = capsys.readouterr()
        return error((status, out.splitlines(), err))

    assert run("accept", "--member", "M001", "first") == "transfer id 'first': not a positive whole number"
    assert run("cancel", "1") == f"no member: give --member ID or set {MEMBER_ENV}"
    assert run("list", "--member", "M999").startswith(f"{CONFIG}/members.toml: unknown member 'M999' (known: ")


def test_an_unreachable_node_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = f"tcp://127.0.0.1:{port}"
    status = main(
        ["transfer", "list", "--member", "M001", "--config", CONFIG, "--gateway", gateway, "--timeout-ms", "300"]
    )
    out, err = capsys.readouterr()

    assert error((status, out.splitlines(), err)) == (
        f"{gateway}: no answer to the logon within 300 ms (is carbonx serve running there?)"
    )


# ------------------------------------------------------------------------------------ report lines

PROPOSED = TransferProposed(
    transfer_id=7,
    account="A001",
    client_proposal_id="bid-7",
    side=Side.BUY,
    counterparty="A002",
    instrument="SHEA2025",
    price=7550,
    quantity=200_000,
    frozen_cash=1_511_510_000,
    frozen_quantity=0,
)


def test_each_transfer_report_is_one_line_naming_both_parties() -> None:
    lines = [
        describe_transfer(PROPOSED),
        describe_transfer(
            TransferAccepted(
                transfer_id=7,
                account="A002",
                proposer="A001",
                instrument="SHEA2025",
                frozen_cash=0,
                frozen_quantity=200_000,
            )
        ),
        describe_transfer(
            TransferExecuted(
                transfer_id=7,
                instrument="SHEA2025",
                price=7550,
                quantity=200_000,
                buy_account="A001",
                sell_account="A002",
                buy_fee=1_510_000,
                sell_fee=1_500_000,
                proposer_side=Side.BUY,
            )
        ),
        describe_transfer(
            TransferRejected(
                transfer_id=7,
                account="A002",
                proposer="A001",
                instrument="SHEA2025",
                released_cash=1_511_510_000,
                released_quantity=0,
            )
        ),
        describe_transfer(
            TransferCancelled(
                transfer_id=8,
                account="A001",
                counterparty="A002",
                instrument="SHEA2025",
                released_cash=0,
                released_quantity=0,
            )
        ),
        describe_transfer(
            TransferExpired(
                transfer_id=9,
                account="A002",
                counterparty="A001",
                instrument="CCER",
                released_cash=0,
                released_quantity=100_000,
            )
        ),
        describe_transfer(
            RequestRejected(
                request="CancelTransfer", code=Reject.NOT_TRANSFER_PROPOSER, text="NOT_TRANSFER_PROPOSER: x"
            )
        ),
        describe_transfer(
            RequestRejected(
                request="ProposeTransfer", code=Reject.TRANSFER_POSITION_LIMIT, text="TRANSFER_POSITION_LIMIT"
            )
        ),
    ]

    assert lines == [
        "transfer 7 proposed (bid-7): A001 buys 200,000 t SHEA2025 @ 75.50 from A002; A001 froze 15,115,100.00 CNY",
        "transfer 7 accepted by A002; A002 froze 200,000 t",
        "transfer 7 executed: A001 bought 200,000 t SHEA2025 @ 75.50 from A002, value 15,100,000.00 CNY, "
        "fees: buyer 15,100.00 CNY, seller 15,000.00 CNY",
        "transfer 7 rejected by A002; released 15,115,100.00 CNY to A001",
        "transfer 8 cancelled by the proposer A001; nothing was frozen",
        "transfer 9 from A002 to A001 expired; released 100,000 t to A002",
        "rejected 5011: NOT_TRANSFER_PROPOSER: x (only the proposer cancels; the counterparty rejects)",
        "rejected 5007: TRANSFER_POSITION_LIMIT",
    ]


def test_the_list_closes_with_the_count_in_each_state() -> None:
    def proposal(transfer_id: int, status: TransferStatus, quantity: int) -> TransferProposal:
        return TransferProposal(
            transfer_id=transfer_id,
            proposer="A001",
            client_proposal_id=f"p{transfer_id}",
            side=Side.SELL,
            counterparty="A002",
            instrument="SHEA2025",
            price=8000,
            quantity=quantity,
            status=status,
            frozen_cash=0,
            frozen_quantity=quantity if status is TransferStatus.OPEN else 0,
        )

    proposals = [
        proposal(1, TransferStatus.EXECUTED, 150_000),
        proposal(2, TransferStatus.OPEN, 100_000),
        proposal(3, TransferStatus.EXECUTED, 500_000),
        proposal(4, TransferStatus.EXPIRED, 100_000),
    ]

    assert summary(proposals) == "4 proposals: 1 open, 2 executed, 1 expired; 650,000 t executed"
    assert summary(proposals[1:2]) == "1 proposal: 1 open; 0 t executed"


@pytest.mark.parametrize(("text", "tonnes"), [("150000", 150_000), ("150,000", 150_000), ("1_000_000", 1_000_000)])
def test_quantities_are_taken_as_people_write_them(text: str, tonnes: int) -> None:
    assert whole(text, "quantity", "tonnes") == tonnes


@pytest.mark.parametrize("text", ["", "-5", "1e5", "1.0", "0", "ten"])
def test_anything_else_is_not_a_quantity(text: str) -> None:
    with pytest.raises(CarbonxError, match=r"not a positive whole number of tonnes$"):
        whole(text, "quantity", "tonnes")
