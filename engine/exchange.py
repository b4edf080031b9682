"""The Exchange state machine: ``apply(command) -> events`` is the only way state changes.

Deterministic by construction: no clock reads, randomness, I/O or logging here. The exchange time
``ts`` comes from the sequencer with the command, so a replay of the journal gives the same events
byte for byte, and ``state_hash()`` does not depend on the book implementation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

import engine.listing
from engine.batch import CommandBatch, EventBatch
from engine.config import ExchangeConfig
from engine.end_of_day.mechanism import run_end_of_day
from engine.listing import BOOK_KINDS
from engine.listing.daily import InstrumentDay
from engine.listing.fast.listing import FastListing
from engine.listing.orders import Order, OrderRecord
from engine.listing.reference import Listing
from engine.market_day.calendar import NEXT_SESSION, day_from_int
from engine.messages import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    ConservationChecked,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    InstrumentStatusChanged,
    MarketStatusChanged,
    NewOrder,
    OrderRejected,
    Reject,
    RequestRejected,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SessionChanged,
    SetSession,
    Side,
    StartOfDay,
    TradingDayStarted,
    reject_text,
)
from engine.registry.mechanism import ComplianceRecord, Registry, RegistryFileRecord
from engine.risk import PositionLimits
from settlement.arrays import ArrayLedger
from settlement.ledger import Ledger, LedgerState


class MarketState(msgspec.Struct, kw_only=True, array_like=True):
    trading_day: int = 0  # the open trading day, or the last one when none is open (0: never)
    day_open: bool = False
    session: Session = Session.CLOSED
    halted: bool = False  # the whole market (临时停市)
    halt_reason: str = ""
    sessions_over: bool = False  # the afternoon has closed: no session reopens before EndOfDay


class ExchangeState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Everything the exchange knows, in canonical order: snapshots and the state hash use it."""

    market: MarketState
    instruments: list[InstrumentDay]
    orders: list[OrderRecord]  # per instrument (config order): bids best first, then asks; FIFO
    ledger: LedgerState
    client_order_ids: list[tuple[str, str]]
    next_order_id: int
    next_trade_id: int
    fees_today: int
    compliance: list[ComplianceRecord]
    # The registry files applied (sorted by operation and SHA-256). Trailing with a default: a
    # snapshot written before it decodes with none.
    registry_files: list[RegistryFileRecord] = msgspec.field(default_factory=list)


_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(ExchangeState)


@dataclass(frozen=True)
class BatchRejection:
    """A command of a rehearsed batch that would be rejected: its index in the batch, code and text."""

    index: int
    code: Reject
    text: str


@dataclass(frozen=True)
class Rehearsal:
    """What a batch would cause, applied to a copy (``Exchange.rehearse``); nothing was applied."""

    events: list[list[Event]]  # per command, in order
    rejections: list[BatchRejection]  # every reject the batch would get, in order

    @property
    def accepted(self) -> bool:
        return not self.rejections


@dataclass(frozen=True)
class InternalFailure:
    """An exception that escaped while applying ``command``: a defect, since mechanisms check before
    they change anything. The exchange keeps it for the node to log (``Exchange.take_failures``);
    it is never part of the state or its hash, which the events of the failure already account for.
    """

    command: Command
    ts: int
    exception: Exception
    # The conservation check run at once; None when only decoding the command's records failed
    # (``engine.batch.decode_or_report``: nothing was halted or checked).
    conservation_ok: bool | None


class Exchange:
    def __init__(self, config: ExchangeConfig, book: str | None = None) -> None:
        book = engine.listing.DEFAULT_BOOK if book is None else book
        if book not in BOOK_KINDS:
            raise ValueError(f"unknown order book {book!r}: expected one of {', '.join(BOOK_KINDS)}")
        self.config = config
        ledger_class = ArrayLedger if book == "fast" else Ledger
        self.ledger = ledger_class(
            accounts=[a.id for a in config.accounts],
            instruments=[i.code for i in config.instruments],
            fee_account=config.fees.fee_account,
        )
        self.market = MarketState()
        self.book_kind = book
        self.risk = PositionLimits(config, self.ledger)
        self.listing: Listing | FastListing
        if isinstance(self.ledger, ArrayLedger):
            self.listing = FastListing(config, self.ledger, self.market, self.risk)
        else:
            self.listing = Listing(config, self.ledger, self.market, self.risk, book)
        self.registry = Registry(config, self.ledger, self.market)
        self.failures: list[InternalFailure] = []  # not state: drained by ``take_failures``
        listing = self.listing
        orders_on_arrays = self._orders_on_arrays
        self._handlers: dict[type[Command], Callable[[Any, int], list[Event]]] = {
            NewOrder: orders_on_arrays if book == "fast" else listing.new_order,
            CancelOrder: orders_on_arrays if book == "fast" else listing.cancel_order,
            AmendOrder: orders_on_arrays if book == "fast" else listing.amend_order,
            CancelAllOrders: orders_on_arrays if book == "fast" else listing.cancel_all_orders,
            StartOfDay: self._start_of_day,
            SetSession: self._set_session,
            EndOfDay: self._end_of_day,
            HaltInstrument: self._halt_instrument,
            ResumeInstrument: self._resume_instrument,
            HaltMarket: self._halt_market,
            ResumeMarket: self._resume_market,
        }
        registry_handler = self._registry_on_arrays if book == "fast" else self.registry.apply
        for command_type in self.registry.handlers:
            self._handlers[command_type] = registry_handler

    def apply(self, command: Command, ts: int = 0) -> list[Event]:
        """Apply one sequenced command at exchange time ``ts``; return the events it caused.

        It never raises: an exception from a mechanism becomes the command's INTERNAL_ERROR outcome
        (``_failed``), so a journaled command cannot take the node down, on the day or on replay.
        """
        try:
            return self._handlers[type(command)](command, ts)
        except Exception as exc:
            return self._failed(command, ts, exc)

    def rehearse(self, commands: Sequence[Command], ts: int) -> Rehearsal:
        """Would this whole batch be accepted? Applied in order to a copy, at the sequenced time ``ts``.

        Nothing here changes: the copy is built from the snapshot and dropped. The regulator's
        atomic batches (a registry file, the day's steps) are rehearsed so, then journaled whole or
        not at all.
        """
        trial = Exchange.from_snapshot(self.config, self.snapshot(), self.book_kind)
        events = [trial.apply(command, ts) for command in commands]
        rejections = [
            BatchRejection(index=index, code=event.code, text=event.text)
            for index, outcome in enumerate(events)
            for event in outcome
            if isinstance(event, OrderRejected | RequestRejected)
        ]
        return Rehearsal(events=events, rejections=rejections)

    def take_failures(self) -> list[InternalFailure]:
        """The internal failures since the last call, oldest first (the node logs each one)."""
        failures, self.failures = self.failures, []
        return failures

    def command_batch(self, commands: Sequence[Command], ts: Sequence[int]) -> CommandBatch:
        """The batch ``apply_batch`` takes: columns on the fast book, the objects on the reference book.

        A batch the fast book cannot encode (a defect in ``engine.listing.fast.encode``) is applied one by
        one instead: each command is then encoded alone inside ``apply``, so the one that cannot be
        gets the INTERNAL_ERROR outcome and the others theirs, as if they had come one at a time.
        """
        if isinstance(self.listing, FastListing):
            try:
                return CommandBatch(commands, ts, self.listing.encode(commands, ts))
            except Exception:
                return CommandBatch(commands, ts)
        return CommandBatch(commands, ts)

    def apply_batch(self, batch: CommandBatch) -> EventBatch:
        """Apply a batch of sequenced commands in order; the same events as ``apply`` one by one.

        On the fast book every run of order commands is one kernel call over the columns, and the
        events stay fixed-layout records until someone asks for them (``EventBatch.events``).
        An exception on the way ends as it would one by one: the kernel's failing command gets the
        outcome ``apply`` gives (``FastListing.run``), and records that do not decode give way to
        a reject when read (``engine.batch.decode_or_report``). The node's poll batches and
        recovery's batches of 4,096 therefore give the same events.
        """
        listing = self.listing
        if not isinstance(listing, FastListing) or batch.columns is None:
            return EventBatch(batch, python_events={i: self.apply(c, t) for i, (c, t) in enumerate(
                zip(batch.commands, batch.ts, strict=True))})  # fmt: skip
        python: dict[int, list[Event]] = {}

        def apply_in_python(index: int) -> None:
            python[index] = self.apply(batch.commands[index], int(batch.ts[index]))

        def failed(index: int, exc: Exception) -> None:
            # What ``apply`` does with the exception ``run`` raises when given one command at a time.
            python[index] = self._failed(batch.commands[index], int(batch.ts[index]), exc)

        records, first = listing.run(batch.columns, apply_in_python, failed)
        generation = listing.generation
        return EventBatch(
            batch, records, first, listing.names, python, lambda: listing.generation == generation, self._report_failure
        )

    def _orders_on_arrays(self, cmd: Command, ts: int) -> list[Event]:
        assert isinstance(self.listing, FastListing)
        return self.listing.apply_many([cmd], [ts], self._report_failure)[0]

    def _registry_on_arrays(self, cmd: Command, ts: int) -> list[Event]:
        # A registry operation may close an account or change an allocation (and so a position
        # limit): the fast listing recomputes both before its next kernel call.
        events = self.registry.apply(cmd, ts)
        assert isinstance(self.listing, FastListing)
        self.listing.stale = True
        return events

    # ------------------------------------------------------------------ the trading day
    def _start_of_day(self, cmd: StartOfDay, ts: int) -> list[Event]:
        market = self.market
        if market.day_open:
            return [_rejected(cmd, Reject.TRADING_DAY_OPEN, ts, trading_day=market.trading_day)]
        day = day_from_int(cmd.trading_day)
        if day is None or not self.config.calendar.is_trading_day(day):
            return [_rejected(cmd, Reject.NOT_A_TRADING_DAY, ts, trading_day=cmd.trading_day)]
        if cmd.trading_day <= market.trading_day:
            return [_rejected(cmd, Reject.NOT_A_TRADING_DAY, ts, trading_day=cmd.trading_day, last=market.trading_day)]
        market.trading_day = cmd.trading_day
        market.day_open = True
        market.session = Session.CLOSED
        market.sessions_over = False
        for figures in self.listing.days.values():
            figures.start_day()
        self.listing.fees_today = 0
        return [TradingDayStarted(ts_event=ts, trading_day=cmd.trading_day)]

    def _set_session(self, cmd: SetSession, ts: int) -> list[Event]:
        market = self.market
        if not market.day_open:
            return [_rejected(cmd, Reject.NO_TRADING_DAY, ts, session=cmd.session.name)]
        if NEXT_SESSION[market.session] is not cmd.session or (
            market.sessions_over and cmd.session is not Session.CLOSED
        ):
            return [
                _rejected(
                    cmd,
                    Reject.INVALID_SESSION_TRANSITION,
                    ts,
                    current=market.session.name,
                    requested=cmd.session.name,
                )
            ]
        if market.session is Session.AFTERNOON:
            market.sessions_over = True
        market.session = cmd.session
        return [SessionChanged(ts_event=ts, trading_day=market.trading_day, session=cmd.session)]

    def _end_of_day(self, cmd: EndOfDay, ts: int) -> list[Event]:
        """Close the day: expiry, bulletin, statements, settlement, large holders, conservation."""
        market = self.market
        if not market.day_open:
            return [_rejected(cmd, Reject.NO_TRADING_DAY, ts, trading_day=cmd.trading_day)]
        if cmd.trading_day != market.trading_day:
            return [_rejected(cmd, Reject.NOT_A_TRADING_DAY, ts, trading_day=cmd.trading_day, open=market.trading_day)]
        if market.session is not Session.CLOSED:
            return [_rejected(cmd, Reject.SESSION_OPEN, ts, session=market.session.name)]
        return run_end_of_day(self.config, market, self.listing, self.ledger, self.risk, ts)

    # ------------------------------------------------------------------ halts
    def _halt_instrument(self, cmd: HaltInstrument, ts: int) -> list[Event]:
        return self._set_instrument_halt(cmd, cmd.instrument, True, cmd.reason, ts)

    def _resume_instrument(self, cmd: ResumeInstrument, ts: int) -> list[Event]:
        return self._set_instrument_halt(cmd, cmd.instrument, False, "", ts)

    def _set_instrument_halt(self, cmd: Command, instrument: str, halted: bool, reason: str, ts: int) -> list[Event]:
        figures = self.listing.days.get(instrument)
        if figures is None:
            return [_rejected(cmd, Reject.UNKNOWN_INSTRUMENT, ts, instrument=instrument)]
        if figures.halted == halted:
            code = Reject.ALREADY_HALTED if halted else Reject.NOT_HALTED
            return [_rejected(cmd, code, ts, instrument=instrument)]
        figures.halted, figures.halt_reason = halted, reason
        return [InstrumentStatusChanged(ts_event=ts, instrument=instrument, halted=halted, reason=reason)]

    def _halt_market(self, cmd: HaltMarket, ts: int) -> list[Event]:
        return self._set_market_halt(cmd, True, cmd.reason, ts)

    def _resume_market(self, cmd: ResumeMarket, ts: int) -> list[Event]:
        return self._set_market_halt(cmd, False, "", ts)

    def _set_market_halt(self, cmd: Command, halted: bool, reason: str, ts: int) -> list[Event]:
        if self.market.halted == halted:
            return [_rejected(cmd, Reject.ALREADY_HALTED if halted else Reject.NOT_HALTED, ts)]
        self.market.halted, self.market.halt_reason = halted, reason
        return [MarketStatusChanged(ts_event=ts, halted=halted, reason=reason)]

    # ------------------------------------------------------------------ internal failures
    def _failed(self, cmd: Command, ts: int, exc: Exception) -> list[Event]:
        """The outcome of a command whose mechanism raised: reject, halt, conservation check.

        The command gets its usual reject event with code INTERNAL_ERROR; the market halts (unless
        it already is), since the state may hold half of what the command meant to do; and the
        ledger's conservation check (the end of day's) runs at once and says whether balances still
        add up. Whatever the command changed before it raised stays changed: the same journal
        replays the same code to the same failure, so a replay gives the same events and hash.
        While halted, new orders are refused and cancels accepted, until the regulator's
        ``ResumeMarket``. The exception is kept for the node to log, outside the state.
        """
        events: list[Event] = [_internal_error_reject(cmd, ts, exc)]
        market = self.market
        if not market.halted:
            reason = f"internal error applying {type(cmd).__name__}"
            market.halted, market.halt_reason = True, reason
            events.append(MarketStatusChanged(ts_event=ts, halted=True, reason=reason))
        if isinstance(self.listing, FastListing):
            self.listing.stale = True  # the command may have changed an account or a limit before it failed
        try:
            mismatches = self.ledger.conservation()
            ok = not mismatches
        except Exception:  # a ledger too broken to check: reported as failing, with nothing to list
            mismatches, ok = [], False
        events.append(ConservationChecked(ts_event=ts, trading_day=market.trading_day, ok=ok, mismatches=mismatches))
        self.failures.append(InternalFailure(command=cmd, ts=ts, exception=exc, conservation_ok=ok))
        return events

    def _report_failure(self, cmd: Command, ts: int, exc: Exception) -> Event:
        """Records of ``cmd`` that could not be decoded (``engine.batch.decode_or_report``): its reject."""
        self.failures.append(InternalFailure(command=cmd, ts=ts, exception=exc, conservation_ok=None))
        return _internal_error_reject(cmd, ts, exc)

    # ------------------------------------------------------------------ state
    def state(self) -> ExchangeState:
        listing = self.listing
        return ExchangeState(
            market=msgspec.structs.replace(self.market),
            instruments=[msgspec.structs.replace(d) for d in listing.days.values()],
            orders=listing.order_records()
            if isinstance(listing, FastListing)
            else [o.record() for book in listing.books.values() for o in book.orders()],
            ledger=self.ledger.state(),
            client_order_ids=sorted(listing.client_order_ids),
            next_order_id=listing.next_order_id,
            next_trade_id=listing.next_trade_id,
            fees_today=listing.fees_today,
            compliance=self.registry.records(),
            registry_files=self.registry.file_records(),
        )

    def snapshot(self) -> bytes:
        return _state_encoder.encode(self.state())

    def state_hash(self) -> str:
        """SHA-256 of the canonical state: equal for equal states whatever book holds the orders."""
        return hashlib.sha256(self.snapshot()).hexdigest()

    @classmethod
    def from_snapshot(cls, config: ExchangeConfig, snapshot: bytes, book: str | None = None) -> Exchange:
        state = _state_decoder.decode(snapshot)
        exchange = cls(config, book)
        for field in msgspec.structs.fields(MarketState):
            setattr(exchange.market, field.name, getattr(state.market, field.name))
        listing = exchange.listing
        for figures in state.instruments:
            listing.days[figures.code] = msgspec.structs.replace(figures)
        exchange.ledger.restore(state.ledger)
        if isinstance(listing, FastListing):
            listing.restore_orders(state.orders, state.next_order_id)
            listing.restore_client_order_ids(state.client_order_ids)
        else:
            for record in state.orders:
                order = Order.from_record(record)
                listing.books[record.instrument].add(order)
                if order.side is Side.BUY:
                    key = (order.account, order.instrument)
                    listing.open_buys[key] = listing.open_buys.get(key, 0) + order.leaves
            listing.client_order_ids = {(a, c) for a, c in state.client_order_ids}
        listing.next_order_id = state.next_order_id
        listing.next_trade_id = state.next_trade_id
        listing.fees_today = state.fees_today
        exchange.registry.restore(state.compliance)
        exchange.registry.restore_files(state.registry_files)
        return exchange

    def validate_internal_state(self) -> None:
        """Check every book against its index (debug and test aid; never on the hot path)."""
        if isinstance(self.listing, FastListing):
            self.listing.validate_internal_state()
            return
        for book in self.listing.books.values():
            book.validate_internal_state()


# An exception's text can hold what differs between two runs of the same journal: object addresses.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
_MESSAGE_MAX = 200  # characters of the exception's text a reject carries


def _internal_error_reject(cmd: Command, ts: int, exc: Exception) -> Event:
    """The command's reject for an internal failure: ``INTERNAL_ERROR: exception=<type> message=<text>``.

    The text is the exception's own, with addresses masked and cut to ``_MESSAGE_MAX`` characters,
    so that the same failure gives the same event on every run; quoted as any client text is.
    """
    try:
        message = _ADDRESS.sub("0x*", str(exc))
    except Exception:  # an exception that cannot even say what it is
        message = "(unprintable)"
    if len(message) > _MESSAGE_MAX:
        message = message[: _MESSAGE_MAX - 3] + "..."
    text = reject_text(Reject.INTERNAL_ERROR, exception=type(exc).__name__, message=message)
    if isinstance(cmd, NewOrder):
        return OrderRejected(
            ts_event=ts,
            account=cmd.account,
            instrument=cmd.instrument,
            client_order_id=cmd.client_order_id,
            code=Reject.INTERNAL_ERROR,
            text=text,
        )
    return RequestRejected(
        ts_event=ts,
        request=type(cmd).__name__,
        code=Reject.INTERNAL_ERROR,
        text=text,
        account=str(getattr(cmd, "account", "")),
        order_id=getattr(cmd, "order_id", 0),
    )


def _rejected(cmd: Command, code: Reject, ts: int, **context: object) -> RequestRejected:
    return RequestRejected(
        ts_event=ts,
        request=type(cmd).__name__,
        code=code,
        text=reject_text(code, **context),
        account=str(getattr(cmd, "account", "")),
    )
