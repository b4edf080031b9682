"""``carbonx regulator``: the regulator's market controls against a running node, through the order
gateway as a member with the regulator role (CURVE keys from the keys directory).

Exit status: 0 when the exchange accepted what was asked, 1 when the engine rejected it (the reject
code and text are printed), 2 for an error the user can fix (bad argument, unreachable node, refused
key or request).
"""

from __future__ import annotations

import argparse
from typing import Any

from carbonx.cli.connect import add_connection_options, connect
from carbonx.cli.member_cmds import show
from engine.messages import HaltInstrument, HaltMarket, ResumeInstrument, ResumeMarket


def add_parser(commands: Any) -> None:
    _add_regulator(commands)


def _add_regulator(commands: Any) -> None:
    parser = commands.add_parser(
        "regulator",
        help="halt or resume trading (regulator role)",
        description="The regulator's market controls on a running node: halt or resume one instrument, "
        "or the whole market when no instrument is given. Needs a member with the regulator role.",
        epilog="examples:\n  carbonx regulator halt SHEA2025 --reason 'price anomaly'\n"
        "  carbonx regulator resume SHEA2025\n  carbonx regulator halt            (the whole market)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, summary in (("halt", "halt trading"), ("resume", "resume trading")):
        sub = actions.add_parser(name, help=summary)
        sub.add_argument("instrument", nargs="?", default="", help="instrument code (none: the whole market)")
        if name == "halt":
            sub.add_argument("--reason", default="", help="shown on market data")
        add_connection_options(sub, member_default="REGULATOR")
        sub.set_defaults(run=_regulator)


def _regulator(args: argparse.Namespace) -> int:
    halt = args.action == "halt"
    command: HaltInstrument | ResumeInstrument | HaltMarket | ResumeMarket
    if args.instrument:
        command = (
            HaltInstrument(instrument=args.instrument, reason=args.reason)
            if halt
            else ResumeInstrument(instrument=args.instrument)
        )
    else:
        command = HaltMarket(reason=args.reason) if halt else ResumeMarket()
    client, _ = connect(args)
    with client:
        return show(client.submit(command))
