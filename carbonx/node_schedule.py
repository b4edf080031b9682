"""The scheduler as the node's loop asks it: what is due now, and how long until something is.

``carbonx.scheduler`` says, from the market and the calendar, which commands bring the market to
where the clock says it should be. The loop asks every turn, so the answer is kept: nothing is
due before the next moment (``next_wakeup``, the auctions' times) as long as the market has not
changed since, and the node says when it may have (``market_may_change``: a turn held a command
other than an order, cancel or amend).

A command the engine refuses (``RequestRejected``), or one that breaks a bound (dropped before the
journal), would be found due again at once and sent every turn: the schedule then says so once,
at critical level (``scheduler.refused``), and asks nothing for ``SCHEDULER_RETRY_NS``, or until the
market may have changed (a regulator's command may have made it possible).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import structlog

from carbonx.config import SchedulerOptions
from carbonx.scheduler import due_auction_commands, due_commands, next_auction_wakeup, next_wakeup
from engine.exchange import Exchange
from engine.messages import Event, RequestRejected
from engine.view import ExchangeView
from gateway.submission import Submission

SCHEDULER_RETRY_NS = 60 * 1_000_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_log = structlog.get_logger("carbonx.node")


class NodeSchedule:
    def __init__(self, exchange: Exchange, options: SchedulerOptions, clock: Callable[[], int]) -> None:
        self.exchange = exchange
        self.options = options
        self.clock = clock
        # The last look at the calendar: nothing is due before ``_wake`` (clock ns; None: never), as
        # long as the market has not changed since.
        self._wake_known = False
        self._wake: int | None = None
        self.sent: Submission | None = None  # the schedule's submission in the work being sequenced
        self._refused_until: int | None = None  # waiting after a refusal, until then (None: not)

    def due(self) -> list[Submission]:
        """The node's own submission of what is due now, or nothing."""
        now_ns = self.clock()
        if self._refused_until is not None and now_ns < self._refused_until:
            return []  # the engine refused what was sent last, and the market has not changed since
        if self._wake_known and (self._wake is None or now_ns < self._wake):
            return []  # the calendar was read since the market last changed, and its moment has not come
        commands = due_commands(self.exchange.market, self._now(), self.exchange.config.calendar, self.options)
        auctions = ExchangeView(self.exchange).auction_times()
        commands += due_auction_commands(auctions, self.clock(), self.options)
        if not commands:
            self._learn_wake()
            return []
        _log.info("scheduler.commands", commands=[type(c).__name__ for c in commands])
        self.sent = Submission(routing_id=b"", member="", request_id=0, commands=list(commands))
        return [self.sent]

    def wait_ns(self) -> int | None:
        """How long until something is due (0: now; None: nothing ever, as things stand)."""
        if self._refused_until is not None:
            # Something is due (what was refused), but not before the wait ends or the market changes.
            return max(0, self._refused_until - self.clock())
        if not self._wake_known:
            self._learn_wake()
        return None if self._wake is None else max(0, self._wake - self.clock())

    def market_may_change(self) -> None:
        """The day, its session or an auction may change: read the calendar again, and try again
        what the engine refused."""
        self._wake_known, self._refused_until = False, None

    def dropped(self, submission: Submission) -> None:
        """The node dropped ``submission`` before the journal (a bound broken, logged)."""
        if submission is self.sent:
            self.sent, self._refused_until = None, self.clock() + SCHEDULER_RETRY_NS

    def answered(self, submission: Submission, outcomes: Sequence[Sequence[Event]], seqs: Sequence[int]) -> None:
        """What the engine made of the schedule's commands (nothing for another submission)."""
        if submission is not self.sent:
            return
        self.sent = None
        refused = [
            (seq, type(command).__name__, event)
            for command, events, seq in zip(submission.commands, outcomes, seqs, strict=True)
            for event in events
            if type(event) is RequestRejected
        ]
        if not refused:
            return
        self._refused_until = self.clock() + SCHEDULER_RETRY_NS
        seq, command, event = refused[0]
        _log.critical(
            "scheduler.refused",
            command=command,
            journal_seq=seq,
            code=event.code.name,
            text=event.text,
            refused=len(refused),
            retry_in_s=SCHEDULER_RETRY_NS // 1_000_000_000,
        )

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock() / 1e9, tz=ZoneInfo(self.exchange.config.calendar.timezone))

    def _learn_wake(self) -> None:
        """Read the calendar and the auctions' times for the next moment something is due (now, when
        something already is). It costs ~25 µs, and the answer holds until the market changes: the
        loop asks every turn, so it is kept (bench/RESULTS.md, issue 19)."""
        self._wake_known, self._wake = True, None
        wakes: list[int] = []
        wake = next_wakeup(self.exchange.market, self._now(), self.exchange.config.calendar, self.options)
        if wake is not None:
            wakes.append((wake - _EPOCH) // dt.timedelta(microseconds=1) * 1_000)
        auctions = ExchangeView(self.exchange).auction_times()
        auction_wake = next_auction_wakeup(auctions, self.clock(), self.options)
        if auction_wake is not None:
            wakes.append(auction_wake)
        self._wake = min(wakes, default=None)
