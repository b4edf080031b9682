"""What a mechanism is: one package of the engine that owns some commands and a part of the state.

``engine.exchange.Exchange`` only dispatches. Each mechanism (the market day, listing trading, the
registry, agreement transfers, auctions, the end of day) declares:

- ``handlers()``: the command types it applies, each with the function that applies it;
- ``state()`` and ``restore()``: its part of the state, a msgspec struct, for the snapshot and the
  state hash (``State`` is the struct's type; a mechanism without state leaves both as they are);
- ``check()``: its invariants, walked in full (tests and debugging; never on the hot path);
- ``start_of_day()``, ``session_changed()`` and ``end_of_day()``: its steps when the market day
  opens, moves to another session, and closes.

A mechanism moves money and allowances only through the ledger's API (``settlement.ledger``), which
it is given with the config and the market day's state when it is made. Every step is
deterministic: the command, the exchange time the sequencer stamped on it and the state are its
only inputs. docs/ARCHITECTURE.md "Adding a mechanism" walks through writing one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import msgspec

from engine.config import ExchangeConfig
from engine.messages import Command, Event, RequestRejected, Session, reject_text
from engine.messages.reject import Reject
from settlement.ledger import Ledger

# Applies one command at exchange time ``ts``; returns the events it caused (a reject included).
Handler = Callable[[Any, int], list[Event]]
# The event standing in for a command's events that could not be reported (given the exception): the
# command's INTERNAL_ERROR reject, with the failure kept for the node to log (``Exchange``).
ReportFailure = Callable[[Command, int, Exception], Event]


class Market(Protocol):
    """The market day's state as every other mechanism sees it: read only
    (``engine.market_day.MarketState``; the market day alone changes it)."""

    @property
    def trading_day(self) -> int: ...
    @property
    def day_open(self) -> bool: ...
    @property
    def session(self) -> Session: ...
    @property
    def halted(self) -> bool: ...
    @property
    def instrument_halts(self) -> Mapping[str, str]: ...  # instrument -> reason


class ListingView(Protocol):
    """What listing trading shows every other mechanism: the prices the others' rules hang on, the
    buys its open orders may still make (a position limit counts them), and the day's volume and
    turnover so far (the auctions keep each day's for their VWAP windows), read only."""

    def reference_price(self, instrument: str) -> int: ...
    def open_buy_quantity(self, account: str, instrument: str) -> int: ...
    def day_volume_turnover(self, instrument: str) -> tuple[int, int]: ...


@dataclass(frozen=True)
class Context:
    """What the exchange gives every mechanism it makes."""

    config: ExchangeConfig
    ledger: Ledger  # the one ledger: every balance moves through its API
    market: Market  # the market day's state
    book: str | None  # config ``engine.book``: the listing's book (None: its default)
    report_failure: ReportFailure  # for events a mechanism applied but cannot report
    listing: ListingView  # listing trading, as the other mechanisms read it


class Mechanism:
    """The base every mechanism extends; each method's default is "nothing to do"."""

    # The name its part of the state is kept under in a snapshot: stable, never reused.
    name: ClassVar[str]
    # The type of its part of the state; None for a mechanism that keeps none.
    State: ClassVar[type[msgspec.Struct] | None] = None

    def handlers(self) -> Mapping[type[Command], Handler]:
        """The command types this mechanism applies, each with its handler."""
        return {}

    def state(self) -> msgspec.Struct | None:
        """Its part of the state in canonical order (equal states give equal bytes)."""
        return None

    def restore(self, state: Any) -> None:
        """Take back a part that ``state`` gave (a freshly made mechanism, before any command)."""

    def check(self) -> None:
        """Walk its structures and raise ``AssertionError`` (or a subclass) on any inconsistency."""

    def start_of_day(self, trading_day: int, ts: int) -> None:
        """The trading day ``trading_day`` opens (``StartOfDay``): reset what counts per day."""

    def session_changed(self, session: Session, ts: int) -> list[Event]:
        """The market day moved to ``session`` (``SetSession``); the events this causes."""
        return []

    def end_of_day(self, trading_day: int, ts: int) -> list[Event]:
        """The day closes (``EndOfDay``), before the ledger's statements: its own closing steps."""
        return []

    def resync(self) -> None:
        """Another mechanism's command ran, or a command failed half way: drop whatever this one
        caches from the rest of the state (accounts' status, limits, the session), so that its
        next command reads them afresh."""


class Rejection(Exception):
    """A check of a mechanism failed: the reject's code and its ``key=value`` context. Raised by
    checks and caught by the handler that made them, which turns it into the reject event."""

    def __init__(self, code: Reject, **context: object) -> None:
        super().__init__(code.name)
        self.code = code
        self.context = context


def rejected(cmd: Command, code: Reject, ts: int, **context: object) -> RequestRejected:
    """The reject of a request (anything but a new order) with its code and ``key=value`` context."""
    return RequestRejected(
        ts_event=ts,
        request=type(cmd).__name__,
        code=code,
        text=reject_text(code, **context),
        account=str(getattr(cmd, "account", "")),
        order_id=getattr(cmd, "order_id", 0),
    )
