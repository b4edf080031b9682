"""``carbonx transfer``: agreement transfers (协议转让), bulk bilateral trades, against a running
node through the order gateway, as the order commands connect (CURVE keys from the keys directory).

A member proposes a trade to a named counterparty account, the counterparty's member accepts
(it settles at once) or rejects it, and the proposer may cancel it while it is open; a member
lists the proposals its accounts are party to, the regulator and surveillance every proposal.

Exit status: 0 when the exchange accepted what was asked, 1 when the engine rejected it (one line:
the reject code and text), 2 for an error the user can fix (bad argument, unknown transfer of a
member with several accounts, unreachable node, refused key or request).
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from typing import Any

from carbonx.cli.commands import help_of
from carbonx.cli.connect import MEMBER_ENV, add_connection_options, connect, default_account, describe, fen
from carbonx.cli.display import EMPTY, cny, iso, reject_in_cny, table, tonnes
from carbonx.cli.member_cmds import show
from carbonx.errors import CarbonxError
from engine.messages import (
    Event,
    OrderRejected,
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
from gateway.client import MemberClient
from gateway.client_core import Result
from gateway.protocol import TransferProposal

HELP = help_of("transfer")
DESCRIPTION = """\
Agreement transfers (协议转让): a bulk trade agreed between two accounts instead of on the order
book, on a running node (carbonx serve).

  propose   propose a trade to a counterparty account; the proposer's side is frozen at once
            (a seller's tonnes; a buyer's value plus the agreement fee)
  accept    accept a proposal made to your account: your side is frozen and the trade settles at
            once, delivery versus payment, each side paying the agreement fee
  reject    decline a proposal made to your account; the proposer's freeze is released
  cancel    withdraw your own open proposal; its freeze is released
  list      today's proposals your accounts are party to, in every state (--all: every
            proposal of the market, for the regulator and surveillance)

The exchange's rules (defaults; config/limits.toml [transfer]): a transfer is at least 100,000 t,
proposed and answered in the afternoon session (13:00-15:00); below 500,000 t its price must be
within +-30% of the reference price (the previous close), on the tick. A proposal still open
when the afternoon session closes expires. Only an executed transfer is published, on market
data's bulk channel, without the parties' names; the proposal, its answer and its parties are
seen by the two parties, the regulator and surveillance only. Bought tonnes are sellable from the
next trading day.
"""
PROPOSE_EXAMPLE = (
    "carbonx transfer propose --member M002 --side sell --counterparty A001 --instrument SHEA2025 "
    "--price 80.00 --quantity 150000"
)
EPILOG = f"""\
examples (make run starts a demo node; demo members M001 M002 M003 with accounts A001 A002 A003):
  carbonx regulator session afternoon            (the regulator) transfers are taken in the afternoon
  {PROPOSE_EXAMPLE}
  carbonx transfer list --member M001            the proposal to A001, with its transfer id
  carbonx transfer accept --member M001 1        A001 buys: the transfer settles at once
  carbonx transfer reject --member M001 1        or declines it
  carbonx transfer cancel --member M002 1        or the proposer withdraws it while it is open
  carbonx transfer list --all                    every proposal of today (regulator, surveillance)

Prices are CNY per tonne (at most 2 decimals), quantities tonnes. A refused request prints the
engine's reject on one line (e.g. `rejected 5001: TRANSFER_TOO_SMALL: quantity=50000 min=100000`)
and exits with status 1. Reject codes: docs/REJECT_CODES.md.
"""
PROPOSE_DESCRIPTION = """\
Propose an agreement transfer to the counterparty's account: --side is your own (sell: you sell
to the counterparty; buy: you buy from it). What you deliver is frozen now: the tonnes, or the
value plus the agreement fee. The answer names the exchange's transfer id, which the
counterparty accepts or rejects (carbonx transfer accept|reject ID) and you may cancel while it
is open (carbonx transfer cancel ID).
"""
ANSWER_DESCRIPTION = {
    "accept": """\
Accept a proposal made to your account: your side is frozen (the value plus the agreement fee, or
the tonnes) and the trade settles at once, delivery versus payment; the answer shows the executed
transfer and the fees. A side you cannot fund is rejected (INSUFFICIENT_FUNDS or
INSUFFICIENT_HOLDINGS) and the proposal stays open.
""",
    "reject": """\
Decline a proposal made to your account: it closes, and the proposer's freeze is released.
""",
    "cancel": """\
Withdraw your own open proposal: it closes, and its freeze is released. The regulator may cancel
any open proposal (an emergency power).
""",
}
LIST_DESCRIPTION = """\
Today's agreement transfer proposals, open and closed, by transfer id: its state (open, executed,
rejected by the counterparty, cancelled by the proposer, expired), the proposer and the proposer's
side, the counterparty, instrument, price, quantity and what the proposer has frozen for it now.
A member sees the proposals its accounts made or received; with --all, the regulator and
surveillance see every proposal of the market.
"""
LIST_EPILOG = """\
examples:
  carbonx transfer list --member M001
  carbonx transfer list --member M101 --account A102
  carbonx transfer list --all                     as REGULATOR: every proposal of today
  carbonx transfer list --all --member EXCHANGE   as surveillance
"""
ANSWER_EXAMPLES = {
    "accept": "  carbonx transfer accept --member M001 1\n  carbonx transfer accept --member M101 --account A101 2",
    "reject": "  carbonx transfer reject --member M001 1",
    "cancel": "  carbonx transfer cancel --member M002 1\n"
    "  carbonx transfer cancel --member REGULATOR 1      the regulator withdraws any open proposal",
}
SIDES = {"buy": Side.BUY, "sell": Side.SELL}
SEE_ALL = ("regulator", "surveillance")  # the roles --all is for (gateway.access.Role)

# What to do next, after the engine's reject line (one line still).
HINTS = {
    Reject.TRANSFER_OUTSIDE_HOURS: "transfers are taken only in the sessions named by hours=; "
    "on a demo node the regulator opens the afternoon: carbonx regulator session afternoon",
    Reject.TRANSFER_TOO_SMALL: "a smaller quantity trades on the order book: carbonx order new",
    Reject.UNKNOWN_TRANSFER: "today's proposals of your accounts: carbonx transfer list",
    Reject.TRANSFER_NOT_OPEN: "only an open proposal can be answered or cancelled: carbonx transfer list",
    Reject.NOT_TRANSFER_COUNTERPARTY: "only the counterparty accepts or rejects; the proposer may cancel",
    Reject.NOT_TRANSFER_PROPOSER: "only the proposer cancels; the counterparty rejects",
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "transfer",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    propose = actions.add_parser(
        "propose",
        help="propose a bulk trade to a counterparty account",
        description=PROPOSE_DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    propose.add_argument("--side", choices=tuple(SIDES), required=True, help="your side: buy or sell")
    propose.add_argument("--counterparty", required=True, metavar="ACCOUNT", help="the other party's account")
    propose.add_argument("--instrument", required=True, help="instrument code, e.g. SHEA2025")
    propose.add_argument("--price", required=True, help="CNY per tonne, at most 2 decimals, e.g. 80.00")
    propose.add_argument("--quantity", required=True, metavar="TONNES", help="tonnes, e.g. 150000 or 150,000")
    propose.add_argument("--account", default=None, help="your account (default: the member's only account)")
    propose.add_argument(
        "--client-proposal-id",
        default=None,
        metavar="ID",
        help="your id for the proposal (default: random), unique per account and day: "
        "the same id again is rejected DUPLICATE_PROPOSAL_ID, never a second proposal",
    )
    propose.set_defaults(run=_propose)
    answers = []
    for name, summary in (
        ("accept", "accept a proposal made to your account: it settles at once"),
        ("reject", "decline a proposal made to your account"),
        ("cancel", "withdraw your own open proposal"),
    ):
        answer = actions.add_parser(
            name,
            help=summary,
            description=ANSWER_DESCRIPTION[name],
            epilog=f"examples:\n{ANSWER_EXAMPLES[name]}\n\nThe transfer id is in the proposal's answer and in "
            "carbonx transfer list.",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        answer.add_argument("transfer_id", metavar="TRANSFER_ID", help="the exchange's transfer id")
        answer.add_argument(
            "--account",
            default=None,
            help="your account that is party to it (default: found from carbonx transfer list)",
        )
        answer.set_defaults(run=_answer)
        answers.append(answer)
    listing = actions.add_parser(
        "list",
        help="today's proposals your accounts are party to (--all: every one, regulator)",
        description=LIST_DESCRIPTION,
        epilog=LIST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--account", default="", help="only the proposals of this account")
    listing.add_argument(
        "--all",
        action="store_true",
        help="every proposal of the market: the regulator or surveillance role (--member defaults to REGULATOR)",
    )
    listing.set_defaults(run=_list)
    for sub in (propose, *answers, listing):
        add_connection_options(sub)


# ---------------------------------------------------------------------------------------------- actions


def _propose(args: argparse.Namespace) -> int:
    price = fen(args.price)
    quantity = whole(args.quantity, "quantity", "tonnes")
    client, _ = connect(args)
    with client:
        account = default_account(client, args.account)
        result = client.propose_transfer(
            account, args.counterparty, args.instrument, SIDES[args.side], price, quantity, args.client_proposal_id
        )
        status = show_transfer(result)
    proposed = next((e for e in result.events if isinstance(e, TransferProposed)), None)
    if proposed is not None and status == 0:
        n = proposed.transfer_id
        print(
            f"open until {proposed.counterparty} accepts or rejects it (carbonx transfer accept|reject {n}) "
            f"or the afternoon session closes; withdraw it: carbonx transfer cancel {n}"
        )
    return status


def _answer(args: argparse.Namespace) -> int:
    transfer_id = whole(args.transfer_id, "transfer id")
    client, _ = connect(args)
    with client:
        account = args.account or party_account(client, transfer_id, proposer=args.action == "cancel")
        send = {"accept": client.accept_transfer, "reject": client.reject_transfer, "cancel": client.cancel_transfer}
        return show_transfer(send[args.action](account, transfer_id))


def _list(args: argparse.Namespace) -> int:
    if args.all and args.member is None and not os.environ.get(MEMBER_ENV):
        args.member = "REGULATOR"
    client, _ = connect(args)
    with client:
        role, day = client.session.role, client.session.trading_day
        if args.all and role not in SEE_ALL:
            raise CarbonxError(
                f"--all lists every member's proposals: it needs the regulator or surveillance role, and "
                f"{client.member} has the {role} role (without --all: the proposals of its accounts)"
            )
        proposals = client.list_transfers(args.account)
    if not day:
        print("no trading day has started yet")
        return 0
    if not proposals:
        print(f"no agreement transfer proposals on trading day {iso(day)}")
        return 0
    print(f"agreement transfers of trading day {iso(day)} (prices CNY/t; side and frozen: the proposer's)")
    for line in table(LIST_HEADER, [_row(p) for p in proposals], left=LIST_LEFT):
        print(line)
    print(summary(proposals))
    return 0


LIST_HEADER = (
    "transfer",
    "status",
    "proposer",
    "side",
    "counterparty",
    "instrument",
    "price",
    "quantity t",
    "frozen",
    "client id",
)
LIST_LEFT = frozenset({"status", "proposer", "side", "counterparty", "instrument", "client id"})


def _row(p: TransferProposal) -> tuple[str, ...]:
    return (
        str(p.transfer_id),
        p.status.name.lower(),
        p.proposer,
        p.side.name.lower(),
        p.counterparty,
        p.instrument,
        cny(p.price),
        tonnes(p.quantity),
        frozen(p.frozen_cash, p.frozen_quantity) if p.frozen_cash or p.frozen_quantity else EMPTY,
        p.client_proposal_id,
    )


def summary(proposals: list[TransferProposal]) -> str:
    """The closing line of the list: how many in each state, and the tonnes executed."""
    by_status = Counter(p.status for p in proposals)
    states = ", ".join(f"{by_status[s]} {s.name.lower()}" for s in TransferStatus if by_status[s])
    executed = sum(p.quantity for p in proposals if p.status is TransferStatus.EXECUTED)
    count = f"{len(proposals)} proposal" + ("" if len(proposals) == 1 else "s")
    return f"{count}: {states}; {tonnes(executed)} t executed"


# ---------------------------------------------------------------------------------------------- helpers


def whole(text: str, what: str, unit: str = "") -> int:
    """A positive whole number as people write it ("150000", "150,000", "150_000"); one line if not."""
    digits = text.replace(",", "").replace("_", "")
    if not digits.isdigit() or int(digits) == 0:
        raise CarbonxError(f"{what} {text!r}: not a positive whole number" + (f" of {unit}" if unit else ""))
    return int(digits)


def party_account(client: MemberClient, transfer_id: int, *, proposer: bool) -> str:
    """The account of this member that acts on the proposal: its counterparty (accept, reject) or its
    proposer (cancel), as the member's list of proposals shows it (the regulator's: every proposal);
    the member's only account when the list does not have it (the engine then says UNKNOWN_TRANSFER)."""
    accounts = client.session.accounts
    found = next((p for p in client.list_transfers() if p.transfer_id == transfer_id), None)
    if found is not None:
        acting, other = (found.proposer, found.counterparty) if proposer else (found.counterparty, found.proposer)
        # The member's other party account: the engine then says NOT_TRANSFER_PROPOSER (or COUNTERPARTY).
        return acting if acting in accounts else other
    if len(accounts) == 1:
        return accounts[0]
    raise CarbonxError(
        f"transfer {transfer_id}: no proposal of today names an account of {client.member} "
        "(today's proposals: carbonx transfer list)"
    )


def show_transfer(result: Result) -> int:
    """Print a request's execution reports, one line each; the exit status (0 done, 1 rejected)."""
    if result.refused is not None:
        return show(result)  # raises: refused by the gateway, one line
    if result.duplicate:
        print("already sent: the original result follows (nothing new)")
    for report in result.reports:
        print(f"#{report.seq} {describe_transfer(report.event)}")
    rejected = any(isinstance(e, OrderRejected | RequestRejected) for e in result.events)
    return 1 if rejected else 0


def frozen(cash: int, quantity: int) -> str:
    return f"{cny(cash)} CNY" if cash else f"{tonnes(quantity)} t"


def _released(cash: int, quantity: int, account: str) -> str:
    return f"released {frozen(cash, quantity)} to {account}" if cash or quantity else "nothing was frozen"


def describe_transfer(event: Event) -> str:
    """One line for an execution report of an agreement transfer (both parties are named: only they,
    the regulator and surveillance see these); any other report as the order commands show it."""
    match event:
        case TransferProposed():
            buys = event.side is Side.BUY
            return (
                f"transfer {event.transfer_id} proposed ({event.client_proposal_id}): {event.account} "
                f"{'buys' if buys else 'sells'} {tonnes(event.quantity)} t {event.instrument} @ {cny(event.price)} "
                f"{'from' if buys else 'to'} {event.counterparty}; "
                f"{event.account} froze {frozen(event.frozen_cash, event.frozen_quantity)}"
            )
        case TransferAccepted():
            return (
                f"transfer {event.transfer_id} accepted by {event.account}; "
                f"{event.account} froze {frozen(event.frozen_cash, event.frozen_quantity)}"
            )
        case TransferExecuted():
            fees = (
                f"fee {cny(event.buy_fee)} CNY each"
                if event.buy_fee == event.sell_fee
                else f"fees: buyer {cny(event.buy_fee)} CNY, seller {cny(event.sell_fee)} CNY"
            )
            return (
                f"transfer {event.transfer_id} executed: {event.buy_account} bought {tonnes(event.quantity)} t "
                f"{event.instrument} @ {cny(event.price)} from {event.sell_account}, "
                f"value {cny(event.price * event.quantity)} CNY, {fees}"
            )
        case TransferRejected():
            released = _released(event.released_cash, event.released_quantity, event.proposer)
            return f"transfer {event.transfer_id} rejected by {event.account}; {released}"
        case TransferCancelled():
            released = _released(event.released_cash, event.released_quantity, event.account)
            return f"transfer {event.transfer_id} cancelled by the proposer {event.account}; {released}"
        case TransferExpired():
            released = _released(event.released_cash, event.released_quantity, event.account)
            return f"transfer {event.transfer_id} from {event.account} to {event.counterparty} expired; {released}"
        case RequestRejected() if event.code in HINTS:
            return f"rejected {event.code.value}: {reject_in_cny(event.text)} ({HINTS[event.code]})"
    return describe(event)
