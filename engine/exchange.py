"""The Exchange: ``apply(command) -> events`` is the only way state changes; it only dispatches.

Each command goes to the one mechanism that declared its type (``engine.mechanism``). The
mechanisms are made here, in ``MECHANISMS`` order, between the market day (which opens the day)
and the end of day (which closes it); that order is also the order of their parts of the state
and of their start- and end-of-day steps. A new trading method is one package and one line there.

Deterministic by construction: no clock reads, randomness, I/O or logging here. The exchange time
``ts`` comes from the sequencer with the command, so a replay of the journal gives the same events
byte for byte, and ``state_hash()`` does not depend on the book implementation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from engine.auction import Auctions
from engine.batch import CommandBatch, EventBatch
from engine.config import ExchangeConfig
from engine.end_of_day import DayEnd
from engine.legacy_state import upcast
from engine.listing import ListingTrading, make_listing
from engine.market_day import MarketDay, MarketState
from engine.mechanism import Context, Handler, Mechanism
from engine.messages import (
    Command,
    ConservationChecked,
    Event,
    NewOrder,
    OrderRejected,
    Reject,
    RequestRejected,
    Session,
    reject_text,
)
from engine.registry import Registry
from engine.transfer import Transfers
from settlement.ledger import Ledger, LedgerState

# The mechanisms between the market day and the end of day, each made from the context. Their
# order is the order of their parts of the state and of their start- and end-of-day steps.
MECHANISMS: tuple[Callable[[Context], Mechanism], ...] = (
    make_listing,
    Registry,
    Transfers,
    Auctions,
)

STATE_VERSION = 2


class ExchangeState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Everything the exchange knows, in canonical order: snapshots and the state hash use it.

    ``parts``: each mechanism's part of the state by its name, msgpack-encoded, in the order the
    mechanisms are made. A part a snapshot lacks (a mechanism added since) starts empty.
    """

    version: int
    ledger: LedgerState
    parts: list[tuple[str, msgspec.Raw]]


_encoder = msgspec.msgpack.Encoder()
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
    # The conservation check run at once; None when only reporting the command's events failed
    # (``engine.batch.decode_or_report``: nothing was halted or checked).
    conservation_ok: bool | None


class Exchange:
    def __init__(self, config: ExchangeConfig, book: str | None = None) -> None:
        self.config = config
        self.ledger = Ledger(
            accounts=[a.id for a in config.accounts],
            instruments=[i.code for i in config.instruments],
            fee_account=config.fees.fee_account,
        )
        self.failures: list[InternalFailure] = []  # not state: drained by ``take_failures``
        self.market_day = MarketDay(config, self._start_of_day, self._session_changed)
        self.market: MarketState = self.market_day.market
        listing_link = _ListingLink()
        context = Context(config, self.ledger, self.market, book, self._report_failure, listing_link)
        trading = [make(context) for make in MECHANISMS]
        self.day_end = DayEnd(config, self.ledger, self.market_day, self._end_of_day)
        self.mechanisms: tuple[Mechanism, ...] = (self.market_day, *trading, self.day_end)
        self._by_name = {m.name: m for m in self.mechanisms}
        if len(self._by_name) != len(self.mechanisms):
            raise ValueError("two mechanisms share a name")
        listing = self._by_name["listing"]
        registry = self._by_name["registry"]
        transfers = self._by_name["transfer"]
        assert isinstance(listing, ListingTrading) and isinstance(registry, Registry)
        auctions = self._by_name["auction"]
        assert isinstance(transfers, Transfers) and isinstance(auctions, Auctions)
        self.transfers = transfers  # what the read view shows of the day's proposals
        self.auctions = auctions  # what the read view shows of auctions, and the scheduler reads
        self.listing = listing  # the batches' fast path, and what the read view shows
        listing_link.listing = listing
        self.registry = registry
        self.book_kind = listing.book_kind
        self._handlers: dict[type[Command], Handler] = {}
        # Per command type, the other mechanisms that cache what the command may change.
        self._resyncs: dict[type[Command], list[Callable[[], None]]] = {}
        for mechanism in self.mechanisms:
            for command_type, handler in mechanism.handlers().items():
                if command_type in self._handlers:
                    raise ValueError(f"{command_type.__name__} is handled by two mechanisms")
                self._handlers[command_type] = handler
                self._resyncs[command_type] = [
                    m.resync for m in self.mechanisms if m is not mechanism and type(m).resync is not Mechanism.resync
                ]

    def apply(self, command: Command, ts: int = 0) -> list[Event]:
        """Apply one sequenced command at exchange time ``ts``; return the events it caused.

        It never raises: an exception from a mechanism becomes the command's INTERNAL_ERROR outcome
        (``_failed``), so a journaled command cannot take the node down, on the day or on replay.
        """
        try:
            kind = type(command)
            events = self._handlers[kind](command, ts)
            for resync in self._resyncs[kind]:
                resync()
            return events
        except Exception as exc:
            return self._failed(command, ts, exc)

    def take_failures(self) -> list[InternalFailure]:
        """The internal failures since the last call, oldest first (the node logs each one)."""
        failures, self.failures = self.failures, []
        return failures

    # ------------------------------------------------------------------ batches
    def command_batch(self, commands: Sequence[Command], ts: Sequence[int]) -> CommandBatch:
        """The batch ``apply_batch`` takes: with the listing's encoded form when its book has one.

        A batch the listing cannot encode (a defect there) is applied one by one instead: each
        command is then encoded alone inside ``apply``, so the one that cannot be gets the
        INTERNAL_ERROR outcome and the others theirs, as if they had come one at a time.
        """
        try:
            return CommandBatch(commands, ts, self.listing.encode(commands, ts))
        except Exception:
            return CommandBatch(commands, ts)

    def apply_batch(self, batch: CommandBatch) -> EventBatch:
        """Apply a batch of sequenced commands in order; the same events as ``apply`` one by one.

        With an encoded batch (the fast book) every run of order commands is one kernel call, and
        the events stay fixed-layout records until someone asks for them (``EventBatch.events``);
        the other commands come back here between kernel calls. An exception on the way ends as it
        would one by one: the failing command gets the outcome ``apply`` gives, and records that do
        not decode give way to a reject when read (``engine.batch.decode_or_report``). The node's
        poll batches and recovery's batches of 4,096 therefore give the same events.
        """
        python: dict[int, list[Event]] = {}

        def apply_in_python(index: int) -> None:
            python[index] = self.apply(batch.commands[index], int(batch.ts[index]))

        def failed(index: int, exc: Exception) -> None:
            # What ``apply`` does with the exception ``run`` raises when given one command at a time.
            python[index] = self._failed(batch.commands[index], int(batch.ts[index]), exc)

        return self.listing.run_batch(batch, python, apply_in_python, failed)

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

    # ------------------------------------------------------------------ the day's steps
    def _start_of_day(self, trading_day: int, ts: int) -> None:
        for mechanism in self.mechanisms:
            mechanism.start_of_day(trading_day, ts)

    def _session_changed(self, session: Session, ts: int) -> list[Event]:
        events: list[Event] = []
        for mechanism in self.mechanisms:
            events += mechanism.session_changed(session, ts)
        return events

    def _end_of_day(self, trading_day: int, ts: int) -> list[Event]:
        events: list[Event] = []
        for mechanism in self.mechanisms:
            events += mechanism.end_of_day(trading_day, ts)
        return events

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
        events += self.market_day.halt(f"internal error applying {type(cmd).__name__}", ts)
        for mechanism in self.mechanisms:  # the command may have changed anything before it failed
            mechanism.resync()
        try:
            mismatches = self.ledger.conservation()
            ok = not mismatches
        except Exception:  # a ledger too broken to check: reported as failing, with nothing to list
            mismatches, ok = [], False
        trading_day = self.market.trading_day
        events.append(ConservationChecked(ts_event=ts, trading_day=trading_day, ok=ok, mismatches=mismatches))
        self.failures.append(InternalFailure(command=cmd, ts=ts, exception=exc, conservation_ok=ok))
        return events

    def _report_failure(self, cmd: Command, ts: int, exc: Exception) -> Event:
        """Events of ``cmd`` that could not be reported (``engine.batch.decode_or_report``): its reject."""
        self.failures.append(InternalFailure(command=cmd, ts=ts, exception=exc, conservation_ok=None))
        return _internal_error_reject(cmd, ts, exc)

    # ------------------------------------------------------------------ state
    def state(self) -> ExchangeState:
        parts = []
        for mechanism in self.mechanisms:
            part = mechanism.state()
            if part is not None:
                parts.append((mechanism.name, msgspec.Raw(_encoder.encode(part))))
        return ExchangeState(version=STATE_VERSION, ledger=self.ledger.state(), parts=parts)

    def snapshot(self) -> bytes:
        return _encoder.encode(self.state())

    def state_hash(self) -> str:
        """SHA-256 of the canonical state: equal for equal states whatever book holds the orders."""
        return hashlib.sha256(self.snapshot()).hexdigest()

    @classmethod
    def from_snapshot(cls, config: ExchangeConfig, snapshot: bytes, book: str | None = None) -> Exchange:
        """The exchange a snapshot holds (the ledger first: the mechanisms' parts rest on its freezes)."""
        state = _decode_state(snapshot)
        exchange = cls(config, book)
        exchange.ledger.restore(state.ledger)
        for name, raw in state.parts:
            mechanism = exchange._by_name.get(name)
            if mechanism is None or mechanism.State is None:
                raise ValueError(f"the snapshot holds a part {name!r} that no mechanism keeps")
            mechanism.restore(msgspec.msgpack.decode(raw, type=mechanism.State))
        return exchange

    def validate_internal_state(self) -> None:
        """Walk every mechanism's structures (``Mechanism.check``; debug and test aid, never on the hot path)."""
        for mechanism in self.mechanisms:
            mechanism.check()


class _ListingLink:
    """The listing as the context shows it to every mechanism (``engine.mechanism.ListingView``):
    the context is made before the mechanisms, the listing among them, so it is linked once made."""

    listing: ListingTrading

    def reference_price(self, instrument: str) -> int:
        return self.listing.reference_price(instrument)

    def open_buy_quantity(self, account: str, instrument: str) -> int:
        return self.listing.open_buy_quantity(account, instrument)

    def day_volume_turnover(self, instrument: str) -> tuple[int, int]:
        return self.listing.day_volume_turnover(instrument)


def _decode_state(snapshot: bytes) -> ExchangeState:
    """A snapshot's state; one written before the state came in parts (version 1) is converted."""
    try:
        return _state_decoder.decode(snapshot)
    except msgspec.ValidationError:
        ledger, parts = upcast(snapshot)
        return ExchangeState(version=STATE_VERSION, ledger=ledger, parts=parts)


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
