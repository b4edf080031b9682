"""The end of day (docs/RULES_COVERAGE.md "End of day, the registry and risk control").

In order: every mechanism closes its day (listing trading: day orders expire and their freezes are
released, each instrument's bulletin is published and its close becomes the next reference
price), the resale restriction is lifted, the statements of every account and the cash settlement
of every member are issued, holders above the large-holder threshold are listed, and conservation
is checked. A conservation mismatch halts the market: the books are closed anyway, and nothing may
trade on balances that do not add up until the operator has looked and resumed the market.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from engine.config import ExchangeConfig
from engine.market_day import MarketDay
from engine.mechanism import Handler, Mechanism, rejected
from engine.messages import (
    AccountStatement,
    CancelReason,
    Command,
    ConservationChecked,
    EndOfDay,
    Event,
    LargeHolderReported,
    MemberSettlement,
    OrderCancelled,
    Reject,
    Session,
    TradingDayEnded,
)
from engine.risk import PositionLimits
from settlement.ledger import Ledger
from settlement.statements import AccountDay

CONSERVATION_HALT_REASON = "conservation check failed"

# Every mechanism's own closing steps for the day (``Mechanism.end_of_day``), in registration order.
ClosingSteps = Callable[[int, int], list[Event]]


class DayEnd(Mechanism):
    name = "end_of_day"

    def __init__(self, config: ExchangeConfig, ledger: Ledger, market_day: MarketDay, steps: ClosingSteps) -> None:
        self.ledger = ledger
        self.market_day = market_day
        self.fee_account = config.fees.fee_account
        self.members = {a.id: a.member for a in config.accounts}
        self.risk = PositionLimits(config, ledger)
        self._steps = steps

    def handlers(self) -> Mapping[type[Command], Handler]:
        return {EndOfDay: self._end_of_day}

    def _end_of_day(self, cmd: EndOfDay, ts: int) -> list[Event]:
        market = self.market_day.market
        if not market.day_open:
            return [rejected(cmd, Reject.NO_TRADING_DAY, ts, trading_day=cmd.trading_day)]
        if cmd.trading_day != market.trading_day:
            return [rejected(cmd, Reject.NOT_A_TRADING_DAY, ts, trading_day=cmd.trading_day, open=market.trading_day)]
        if market.session is not Session.CLOSED:
            return [rejected(cmd, Reject.SESSION_OPEN, ts, session=market.session.name)]
        day, ledger = market.trading_day, self.ledger
        events = self._steps(day, ts)
        expired = sum(1 for e in events if type(e) is OrderCancelled and e.reason is CancelReason.EXPIRED)
        ledger.end_of_day()
        statements = ledger.statements()
        members = self.members
        events += [
            AccountStatement(
                ts_event=ts,
                trading_day=day,
                account=s.account,
                member=members[s.account],
                cash=s.cash,
                holdings=s.holdings,
                trades=s.trades,
            )
            for s in statements
        ]
        events += _member_settlements(statements, members, day, ts)
        fees = sum(s.cash.fees_received for s in statements if s.account == self.fee_account)
        ledger.start_next_statements()
        events += self._large_holders(day, ts)
        mismatches = ledger.conservation()
        events.append(ConservationChecked(ts_event=ts, trading_day=day, ok=not mismatches, mismatches=mismatches))
        if mismatches:
            events += self.market_day.halt(CONSERVATION_HALT_REASON, ts)
        self.market_day.close_day()
        events.append(TradingDayEnded(ts_event=ts, trading_day=day, expired_orders=expired, fees_collected=fees))
        return events

    def _large_holders(self, day: int, ts: int) -> list[Event]:
        events: list[Event] = []
        for (account, instrument), holding in self.ledger.holdings():
            if holding.total:
                threshold = self.risk.large_holder_threshold(account, instrument)
                if threshold is not None and holding.total > threshold:
                    events.append(
                        LargeHolderReported(
                            ts_event=ts,
                            trading_day=day,
                            account=account,
                            member=self.members[account],
                            instrument=instrument,
                            holding=holding.total,
                            threshold=threshold,
                        )
                    )
        return events


def _member_settlements(statements: list[AccountDay], members: dict[str, str], day: int, ts: int) -> list[Event]:
    """Net cash of the day's trades per member: what it pays (negative) or receives (positive)."""
    totals: dict[str, list[int]] = {}
    for statement in statements:
        cash = statement.cash
        if not (cash.bought or cash.sold or cash.fees_paid or cash.fees_received):
            continue
        total = totals.setdefault(members[statement.account], [0, 0, 0, 0])
        for i, amount in enumerate((cash.bought, cash.sold, cash.fees_paid, cash.fees_received)):
            total[i] += amount
    return [
        MemberSettlement(
            ts_event=ts,
            trading_day=day,
            member=member,
            bought=bought,
            sold=sold,
            fees_paid=paid,
            fees_received=received,
            net=sold - bought - paid + received,
        )
        for member, (bought, sold, paid, received) in sorted(totals.items())
    ]
