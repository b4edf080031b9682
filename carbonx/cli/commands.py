"""Which module runs each ``carbonx`` command, and its one-line help: enough to list the commands
(``carbonx --help``) and to import only the one that is run (``carbonx.cli.main``). A command's
module takes its help from here, so the list and the command's own parser cannot differ."""

from __future__ import annotations

# Command -> (module under carbonx.cli, one-line help), in the order ``carbonx --help`` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve_cmd", "run the exchange: order gateway, market data, drop copy, scheduler"),
    "quotes": (
        "quotes_cmd",
        "show the live quotes of a running node: all instruments in a table, or one in detail",
    ),
    "bulletin": (
        "bulletin_cmd",
        "show the daily bulletin: open, high, low, close, change, volume and turnover per instrument",
    ),
    "order": ("member_cmds", "send, amend, cancel and list orders on a running node"),
    "account": ("member_cmds", "cash and holdings of the member's accounts on a running node"),
    "fills": ("fills_cmd", "your executions (fills) of a trading day, from your execution reports"),
    "transfer": (
        "transfer_cmd",
        "agreement transfers (协议转让): propose, accept, reject, cancel and list bulk trades",
    ),
    "auction": (
        "auction_cmd",
        "sealed-bid auctions: reserve sales, buybacks, one-way bidding; bids; results and verify",
    ),
    "regulator": (
        "regulator_cmd",
        "halt or resume trading; sessions, end and start of the trading day (regulator role)",
    ),
    "keys": ("keys_cmd", "CURVE keys of the order gateway: generate the node's and the members' key pairs"),
    "simulate": (
        "simulate_cmd",
        "run a seeded simulated trading day (or three, with planted manipulation) and print its bulletin",
    ),
    "replay": ("replay_cmd", "rebuild the state from a data directory's snapshot and journal; print its hash"),
    "surveil": (
        "surveil_cmd",
        "market surveillance: ingest the journal, alerts and cases, order trails, the book at any moment",
    ),
    "eod": ("eod_cmd", "end-of-day reports: bulletin, conservation, member settlement and account statements"),
    "registry": (
        "registry_cmd",
        "apply a registry operation (allocation, cash, surrender, ...) from a CSV or TOML file",
    ),
    "web": ("web_cmd", "serve the public website: live quotes, bulk trades, daily bulletins, auction results"),
}


def help_of(command: str) -> str:
    return COMMANDS[command][1]
