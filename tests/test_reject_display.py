"""Reject texts as the command line shows them: fen in CNY, tonnes and names as the engine wrote them.

The wire keeps integers (PROTOCOL.md §2); ``carbonx.cli.display.reject_in_cny`` formats the values
whose key means fen for its code. Which (code, key) pairs exist is read from the source of the engine
and the gateway, where every reject's context is written, so a new key fails
``test_every_context_key_is_sorted_into_fen_or_not`` until it is sorted into fen (display.py) or not
(``NOT_FEN`` here).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from carbonx.cli.connect import describe
from carbonx.cli.display import MONEY_KEYS, PRICE_KEYS, reject_in_cny
from engine.messages import COMMAND_TYPES, OrderRejected, Reject, RequestRejected, reject_text
from tests.conftest import Market
from tests.test_reject_codes import ENGINE_CODES, SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
# Where reject contexts are written: the engine's mechanisms and fast boundary, and the gateway.
SOURCES = sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("gateway/*.py")])

# Every (code, key) whose value is not fen: tonnes, counts, ids, names, times, sessions.
NOT_FEN: dict[str, set[str]] = {
    "TRANSFER_TOO_SMALL": {"quantity", "min"},
    "TRANSFER_OUTSIDE_HOURS": {"session", "hours"},
    "TRANSFER_ACCOUNT_NOT_ELIGIBLE": {"role", "account", "reason"},
    "TRANSFER_PARTY_PROHIBITED": {"role", "account"},
    "TRANSFER_SAME_ACCOUNT": {"account"},
    "TRANSFER_POSITION_LIMIT": {"account", "position", "quantity", "limit"},
    "UNKNOWN_TRANSFER": {"transfer_id"},
    "TRANSFER_NOT_OPEN": {"transfer_id", "status"},
    "NOT_TRANSFER_COUNTERPARTY": {"transfer_id"},
    "NOT_TRANSFER_PROPOSER": {"transfer_id"},
    "DUPLICATE_PROPOSAL_ID": {"client_proposal_id"},
    "INVALID_PROPOSAL_ID": {"length", "max"},
    "TOO_MANY_PROPOSALS": {"account", "max"},
    "UNKNOWN_AUCTION": {"auction_id"},
    "AUCTION_NOT_OPEN": {"auction_id", "status"},
    "AUCTION_CUTOFF_PASSED": {"auction_id", "cutoff_at"},
    "BIDDER_NOT_ELIGIBLE": {"account", "reason"},
    "BID_CAP_EXCEEDED": {"account", "live", "quantity", "cap"},
    "UNKNOWN_BID": {"bid_id"},
    "TOO_MANY_BIDS": {"account", "auction_id", "max", "sent"},
    "INVALID_BID_ID": {"length", "max"},
    "DUPLICATE_BID_ID": {"client_bid_id"},
    "INVALID_AUCTION_TERMS": {"term", "reason", "volume", "min"},
    "AUCTION_NO_REFERENCE_PRICE": {"instrument", "vwap_from", "vwap_to"},
    "AUCTION_WRONG_STATUS": {"auction_id", "status", "needed"},
    "SEED_MISMATCH": {"auction_id", "commitment"},
    "TOO_MANY_AUCTIONS": {"account", "live", "max"},
    "INVALID_DAILY_FIGURES": {"field", "reason"},
    "UNKNOWN_ACCOUNT": {"account"},
    "PROHIBITED_PARTICIPANT": {"account"},
    "ACCOUNT_CLOSED": {"account"},
    "ACCOUNT_CANNOT_TRADE": {"account", "kind"},
    "SYSTEM_ACCOUNT": {"account", "kind"},
    "UNKNOWN_INSTRUMENT": {"instrument"},
    "INVALID_CLIENT_ORDER_ID": {"length", "max"},
    "DUPLICATE_CLIENT_ORDER_ID": {"client_order_id"},
    "MARKET_CLOSED": {"session"},
    "INSTRUMENT_HALTED": {"instrument"},
    "ALREADY_HALTED": {"instrument"},
    "NOT_HALTED": {"instrument"},
    "QUANTITY_OUT_OF_RANGE": {"quantity", "min", "max"},
    "INVALID_LOT": {"quantity", "lot"},
    "INVALID_PRICE": {"order_type"},
    "POSITION_LIMIT": {"position", "quantity", "limit"},
    "INSUFFICIENT_HOLDINGS": {"instrument", "required", "available"},
    "INVALID_AMOUNT": {"quantity", "verified_emissions", "account"},
    "UNKNOWN_ORDER": {"order_id"},
    "AMEND_NO_CHANGE": {"quantity"},
    "TRADING_DAY_OPEN": {"trading_day", "account"},
    "NOT_A_TRADING_DAY": {"trading_day", "last", "open"},
    "NO_TRADING_DAY": {"session", "trading_day"},
    "INVALID_SESSION_TRANSITION": {"current", "requested"},
    "SESSION_OPEN": {"session"},
    "NOT_A_COVERED_ENTITY": {"account", "kind"},
    "UNKNOWN_VINTAGE": {"compliance_year"},
    "COMPLIANCE_ALREADY_COMPLETE": {"compliance_year"},
    "EMISSIONS_MISMATCH": {"verified_emissions", "recorded"},
    "NO_CARRY_OVER_RULE": {"instrument"},
    "COMPLIANCE_NOT_COMPLETE": {"compliance_year", "shortfall"},
    "INVALID_SUCCESSOR": {"account", "successor", "parts"},
    "REGISTRY_FILE_ALREADY_APPLIED": {"operation", "digest", "name", "first_ts", "applications"},
    "INTERNAL_ERROR": {"exception", "message"},
    # the gateway's (1xxx)
    "MALFORMED_MESSAGE": {"reason", "detail"},
    "INVALID_FIELD": {"field", "error"},
    "MESSAGE_TOO_LARGE": {"size", "max"},
    "THROTTLED": {"per_s", "cost"},
    "BATCH_TOO_LARGE": {"commands", "max"},
    "UNSUPPORTED_PROTOCOL": {"protocol", "supported"},
    "LOGON_REFUSED": {"member"},
    "NOT_AUTHORISED": {"command", "role", "atomic", "on_disconnect"},
    "RESEND_UNAVAILABLE": {"from_seq", "first_kept"},
}


# A refused auction command that names a bid or an auction names it first, whatever the code
# (``engine.auction.bidding.auction_rejected``: ``INVALID_LOT: auction_id=1 quantity=15 lot=10``):
# these keys, never fen, come from the command, not from the context the sources write.
NAMED_FIRST: dict[str, set[str]] = {
    command.__name__: {"bid_id", "auction_id"} & set(command.__struct_fields__)
    for command in COMMAND_TYPES
    if command.__module__ == "engine.messages.auction"
}


# ------------------------------------------------------------------------------- reading the sources


def _codes(node: ast.AST, names: dict[str, set[str]]) -> set[str]:
    """The Reject codes an expression can be: ``Reject.X``, ``a if c else b``, a local name bound to one."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Reject":
        return {node.attr}
    if isinstance(node, ast.IfExp):
        return _codes(node.body, names) | _codes(node.orelse, names)
    if isinstance(node, ast.Name):
        return names.get(node.id, set())
    return set()


def _dict_keys(node: ast.AST) -> set[str]:
    """The constant keys of a dict literal (or of either dict of a conditional expression)."""
    if isinstance(node, ast.IfExp):
        return _dict_keys(node.body) | _dict_keys(node.orelse)
    if isinstance(node, ast.Dict):
        return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return set()


class _Contexts(ast.NodeVisitor):
    """(code, key) pairs of one module: ``f(..., Reject.X, ..., key=v)``, ``Reject.X, {"key": v}``,
    ``if code == Reject.X: return {"key": v}``, and keys a helper passes on (``**{name: v}`` of a
    parameter, ``**context``), looked up at the helper's calls."""

    def __init__(self, tree: ast.Module) -> None:
        self.pairs: set[tuple[str, str]] = set()
        self.functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        self.calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call)]
        self.names: dict[str, set[str]] = {}
        self.function: ast.FunctionDef | None = None
        self.visit(tree)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer = self.function, self.names
        self.function, self.names = node, {}
        for statement in ast.walk(node):
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
                if isinstance(target, ast.Name) and _codes(statement.value, {}):
                    self.names.setdefault(target.id, set()).update(_codes(statement.value, {}))
        self.generic_visit(node)
        self.function, self.names = outer

    def _add(self, codes: set[str], keys: set[str]) -> None:
        self.pairs |= {(code, key) for code in codes for key in keys}

    def visit_Call(self, node: ast.Call) -> None:
        codes = set().union(*(_codes(arg, self.names) for arg in node.args))
        if codes:
            keys = {k.arg for k in node.keywords if k.arg is not None}
            keys |= set().union(*(_dict_keys(arg) for arg in node.args))
            for spread in (k.value for k in node.keywords if k.arg is None):
                keys |= _dict_keys(spread) | self._passed_on(spread)
            self._add(codes, keys)
        self.generic_visit(node)

    def _passed_on(self, spread: ast.AST) -> set[str]:
        """Keys reaching ``**spread`` through the enclosing helper's parameters, from its calls."""
        function = self.function
        if function is None:
            return set()
        params = [a.arg for a in function.args.args if a.arg not in ("self", "cls")]
        keys: set[str] = set()
        calls = [c for c in self.calls if getattr(c.func, "attr", getattr(c.func, "id", None)) == function.name]
        if isinstance(spread, ast.Name) and function.args.kwarg and spread.id == function.args.kwarg.arg:
            keys |= {k.arg for call in calls for k in call.keywords if k.arg is not None}
        if isinstance(spread, ast.Dict):
            for key in spread.keys:
                if isinstance(key, ast.Name) and key.id in params:
                    index = params.index(key.id)
                    keys |= {
                        call.args[index].value
                        for call in calls
                        if len(call.args) > index and isinstance(call.args[index], ast.Constant)
                    }
        return keys

    def visit_Tuple(self, node: ast.Tuple) -> None:
        if len(node.elts) == 2:
            self._add(_codes(node.elts[0], {}), _dict_keys(node.elts[1]))
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        codes = {c for part in ast.walk(node.test) for c in _codes(part, {})}
        first = node.body[0]
        if codes and isinstance(first, ast.Return) and first.value is not None:
            self._add(codes, _dict_keys(first.value))
        self.generic_visit(node)


def written_contexts() -> dict[str, set[str]]:
    """Every (code, key) the sources write, as code -> keys."""
    found: dict[str, set[str]] = {}
    for path in SOURCES:
        for code, key in _Contexts(ast.parse(path.read_text(encoding="utf-8"))).pairs:
            found.setdefault(code, set()).add(key)
    return found


def _merged(*tables: dict[str, set[str]] | dict[str, frozenset[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for table in tables:
        for code, keys in table.items():
            merged.setdefault(code, set()).update(keys)
    return merged


@pytest.mark.not_per_book
def test_every_context_key_is_sorted_into_fen_or_not() -> None:
    fen = _merged(PRICE_KEYS, MONEY_KEYS)
    written = written_contexts()

    unsorted = {code: keys - fen.get(code, set()) - NOT_FEN.get(code, set()) for code, keys in written.items()}
    assert {code: keys for code, keys in unsorted.items() if keys} == {}, "sort these into display.py or NOT_FEN"
    assert _merged(fen, NOT_FEN) == written, "a sorted key no source writes any more"
    assert all(not fen.get(code, set()) & keys for code, keys in NOT_FEN.items())
    assert set(written) <= {code.name for code in Reject}


CONTEXT_KEY = re.compile(r"([a-z_]+)=")


@pytest.mark.per_book
@pytest.mark.parametrize("code", ENGINE_CODES, ids=lambda code: code.name)
def test_the_source_reading_finds_every_key_the_engine_writes(market: Market, code: Reject) -> None:
    """The engine's own texts (one scenario per code, either book): their keys are all found in the sources."""
    SCENARIOS[code](market)
    written = written_contexts()

    for reject in (e for e in market.events if isinstance(e, OrderRejected | RequestRejected)):
        context = reject.text.partition(": ")[2]
        keys = set(CONTEXT_KEY.findall(re.sub(r'"(?:[^"\\]|\\.)*"', "", context)))
        named_first = NAMED_FIRST.get(reject.request, set()) if isinstance(reject, RequestRejected) else set()
        assert keys <= written.get(reject.code.name, set()) | named_first, reject.text


# ------------------------------------------------------------------------------------------ the display


@pytest.mark.not_per_book
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            reject_text(Reject.PRICE_OUT_OF_BAND, price=9000, lower=7200, upper=8800),
            "PRICE_OUT_OF_BAND: price=90.00 lower=72.00 upper=88.00",
        ),
        (
            reject_text(Reject.INSUFFICIENT_FUNDS, required=801_191_988, available=500_000),
            "INSUFFICIENT_FUNDS: required=8,011,919.88 CNY available=5,000.00 CNY",
        ),
        (
            reject_text(Reject.NOT_WITHDRAWABLE, amount=25_000_000, withdrawable=24_990_050),
            "NOT_WITHDRAWABLE: amount=250,000.00 CNY withdrawable=249,900.50 CNY",
        ),
        (reject_text(Reject.INVALID_TICK, price=7781, tick=5), "INVALID_TICK: price=77.81 tick=0.05"),
        (reject_text(Reject.INVALID_PRICE, price=-5), "INVALID_PRICE: price=-0.05"),
        (
            reject_text(Reject.AMEND_NO_CHANGE, price=7900, quantity=100),
            "AMEND_NO_CHANGE: price=79.00 quantity=100",
        ),
        (
            reject_text(Reject.INVALID_AMOUNT, account="A 1", cash=-100),
            'INVALID_AMOUNT: account="A 1" cash=-1.00 CNY',
        ),
        # Tonnes stay tonnes, also under a key that is cash for another code.
        (
            reject_text(Reject.INSUFFICIENT_HOLDINGS, required=1_000, available=900),
            "INSUFFICIENT_HOLDINGS: required=1000 available=900",
        ),
        (reject_text(Reject.INVALID_AMOUNT, quantity=0), "INVALID_AMOUNT: quantity=0"),
        (reject_text(Reject.MARKET_HALTED), "MARKET_HALTED"),
    ],
)
def test_fen_values_are_shown_in_cny_and_the_rest_as_written(text: str, shown: str) -> None:
    assert reject_in_cny(text) == shown


@pytest.mark.per_book
def test_an_execution_report_of_a_reject_shows_cny(market: Market) -> None:
    (reject,) = market.buy("A1", 100, 8801)

    assert reject.text == "PRICE_OUT_OF_BAND: price=8801 lower=7200 upper=8800"  # the wire: integers
    assert describe(reject) == "rejected 2008: PRICE_OUT_OF_BAND: price=88.01 lower=72.00 upper=88.00"
