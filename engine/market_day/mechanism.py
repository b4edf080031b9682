"""The market day: the trading day, its sessions and the market-wide halt (docs/RULES_COVERAGE.md
"Sessions and the calendar").

``StartOfDay`` opens a trading day of the calendar, later than the last one; ``SetSession`` walks
its sessions in order (``NEXT_SESSION``) and never reopens one after the afternoon;
``HaltMarket`` / ``ResumeMarket`` stop and restart all trading (临时停市), ``HaltInstrument`` /
``ResumeInstrument`` the trading of one instrument (停牌), in every mechanism that trades it. The scheduler issues them
by the clock, so a replay needs none. Every other mechanism reads ``MarketState`` (``market``)
and never writes it; the market day tells them a day starts (``on_start``) and a session changes
(``on_session``: agreement transfers still open expire when the afternoon closes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from engine.config import ExchangeConfig
from engine.market_day.calendar import NEXT_SESSION, day_from_int
from engine.mechanism import Handler, Mechanism, rejected
from engine.messages import (
    Command,
    Event,
    HaltInstrument,
    HaltMarket,
    InstrumentStatusChanged,
    MarketStatusChanged,
    Reject,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SessionChanged,
    SetSession,
    StartOfDay,
    TradingDayStarted,
)


class MarketState(msgspec.Struct, kw_only=True, array_like=True):
    trading_day: int = 0  # the open trading day, or the last one when none is open (0: never)
    day_open: bool = False
    session: Session = Session.CLOSED
    halted: bool = False  # the whole market (临时停市)
    halt_reason: str = ""
    sessions_over: bool = False  # the afternoon has closed: no session reopens before EndOfDay
    # The instruments halted (停牌), each with its reason, until the regulator resumes them.
    instrument_halts: dict[str, str] = msgspec.field(default_factory=dict)


class MarketDay(Mechanism):
    name = "market_day"
    State = MarketState

    def __init__(
        self,
        config: ExchangeConfig,
        on_start: Callable[[int, int], None],
        on_session: Callable[[Session, int], list[Event]],
    ) -> None:
        self.calendar = config.calendar
        self.instruments = frozenset(i.code for i in config.instruments)
        self.market = MarketState()
        self._on_start = on_start  # every mechanism's ``start_of_day``, in registration order
        self._on_session = on_session  # every mechanism's ``session_changed``, in registration order

    def handlers(self) -> Mapping[type[Command], Handler]:
        return {
            StartOfDay: self._start_of_day,
            SetSession: self._set_session,
            HaltMarket: self._halt_market,
            ResumeMarket: self._resume_market,
            HaltInstrument: self._halt_instrument,
            ResumeInstrument: self._resume_instrument,
        }

    def state(self) -> MarketState:
        return msgspec.structs.replace(self.market, instrument_halts=dict(sorted(self.market.instrument_halts.items())))

    def restore(self, state: MarketState) -> None:
        for field in msgspec.structs.fields(MarketState):
            setattr(self.market, field.name, getattr(state, field.name))
        self.market.instrument_halts = dict(state.instrument_halts)

    # ------------------------------------------------------------------ the day
    def _start_of_day(self, cmd: StartOfDay, ts: int) -> list[Event]:
        market = self.market
        if market.day_open:
            return [rejected(cmd, Reject.TRADING_DAY_OPEN, ts, trading_day=market.trading_day)]
        day = day_from_int(cmd.trading_day)
        if day is None or not self.calendar.is_trading_day(day):
            return [rejected(cmd, Reject.NOT_A_TRADING_DAY, ts, trading_day=cmd.trading_day)]
        if cmd.trading_day <= market.trading_day:
            return [rejected(cmd, Reject.NOT_A_TRADING_DAY, ts, trading_day=cmd.trading_day, last=market.trading_day)]
        market.trading_day = cmd.trading_day
        market.day_open = True
        market.session = Session.CLOSED
        market.sessions_over = False
        self._on_start(cmd.trading_day, ts)
        return [TradingDayStarted(ts_event=ts, trading_day=cmd.trading_day)]

    def _set_session(self, cmd: SetSession, ts: int) -> list[Event]:
        market = self.market
        if not market.day_open:
            return [rejected(cmd, Reject.NO_TRADING_DAY, ts, session=cmd.session.name)]
        if NEXT_SESSION[market.session] is not cmd.session or (
            market.sessions_over and cmd.session is not Session.CLOSED
        ):
            return [
                rejected(
                    cmd, Reject.INVALID_SESSION_TRANSITION, ts, current=market.session.name, requested=cmd.session.name
                )
            ]
        if market.session is Session.AFTERNOON:
            market.sessions_over = True
        market.session = cmd.session
        events: list[Event] = [SessionChanged(ts_event=ts, trading_day=market.trading_day, session=cmd.session)]
        return events + self._on_session(cmd.session, ts)

    def close_day(self) -> None:
        """The end of day is done: no trading day is open until the next ``StartOfDay``."""
        self.market.day_open = False

    # ------------------------------------------------------------------ halts
    def _halt_market(self, cmd: HaltMarket, ts: int) -> list[Event]:
        if self.market.halted:
            return [rejected(cmd, Reject.ALREADY_HALTED, ts)]
        return self.halt(cmd.reason, ts)

    def _resume_market(self, cmd: ResumeMarket, ts: int) -> list[Event]:
        market = self.market
        if not market.halted:
            return [rejected(cmd, Reject.NOT_HALTED, ts)]
        market.halted, market.halt_reason = False, ""
        return [MarketStatusChanged(ts_event=ts, halted=False, reason="")]

    def _halt_instrument(self, cmd: HaltInstrument, ts: int) -> list[Event]:
        halts = self.market.instrument_halts
        if cmd.instrument not in self.instruments:
            return [rejected(cmd, Reject.UNKNOWN_INSTRUMENT, ts, instrument=cmd.instrument)]
        if cmd.instrument in halts:
            return [rejected(cmd, Reject.ALREADY_HALTED, ts, instrument=cmd.instrument)]
        halts[cmd.instrument] = cmd.reason
        return [InstrumentStatusChanged(ts_event=ts, instrument=cmd.instrument, halted=True, reason=cmd.reason)]

    def _resume_instrument(self, cmd: ResumeInstrument, ts: int) -> list[Event]:
        halts = self.market.instrument_halts
        if cmd.instrument not in self.instruments:
            return [rejected(cmd, Reject.UNKNOWN_INSTRUMENT, ts, instrument=cmd.instrument)]
        if cmd.instrument not in halts:
            return [rejected(cmd, Reject.NOT_HALTED, ts, instrument=cmd.instrument)]
        del halts[cmd.instrument]
        return [InstrumentStatusChanged(ts_event=ts, instrument=cmd.instrument, halted=False, reason="")]

    def halt(self, reason: str, ts: int) -> list[Event]:
        """Halt the whole market (the regulator's command, a failed conservation check, an internal
        error); nothing when it already is, so the first reason stands."""
        market = self.market
        if market.halted:
            return []
        market.halted, market.halt_reason = True, reason
        return [MarketStatusChanged(ts_event=ts, halted=True, reason=reason)]
