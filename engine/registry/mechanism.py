"""Registry operations (Decree 20 Art. 12-14, 21).

The regulator's commands on accounts: cash deposits and withdrawals, free allocation, surrender
(清缴) for verified emissions with the offset cap, voluntary cancellation (自愿注销), carry-over to a
later vintage, merger and split. Each checks everything before it moves anything, so a refused
command leaves the state untouched; the ledger then moves the units and records them for the
end-of-day statements and the conservation check.

The registry also keeps every registry file applied (``RecordRegistryFile``, first in a file's
atomic batch): a second batch of the same operation and content is rejected
``REGISTRY_FILE_ALREADY_APPLIED``, naming the first application's file and exchange time, unless it
says ``again``. So a file applied twice by mistake credits nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from engine.config import TRADING_ACCOUNT_KINDS, Account, Instrument
from engine.mechanism import Context, Handler, Mechanism
from engine.messages import (
    AccountsMerged,
    AccountSplit,
    AllocateAllowances,
    AllowancesAllocated,
    AllowancesCancelled,
    AllowancesCarriedOver,
    AllowancesSurrendered,
    CancelAllowances,
    CarryOverAllowances,
    CashDeposited,
    CashWithdrawn,
    Command,
    DepositCash,
    Event,
    MergeAccounts,
    RecordRegistryFile,
    RegistryFileRecorded,
    Reject,
    RequestRejected,
    SplitAccount,
    SurrenderAllowances,
    Units,
    WithdrawCash,
    reject_text,
)

BP = 10_000
OFFSET_KINDS = ("ccer", "shcer")
# The largest amount (fen) or quantity (t) one registry command may carry: 10 trillion CNY, far
# above any real figure, and low enough that no sum of them leaves SQLite's 64-bit integers.
MAX_AMOUNT = 10**15
MOVABLE_BUCKETS = ("available", "restricted", "compliance")  # what a merger or split passes on


class ComplianceRecord(msgspec.Struct, kw_only=True, array_like=True):
    """A covered entity's surrender for one compliance year, cumulative over its surrenders."""

    account: str
    compliance_year: int
    verified_emissions: int
    covered: int = 0
    offsets_used: int = 0

    @property
    def complete(self) -> bool:
        return self.covered >= self.verified_emissions


class RegistryFileRecord(msgspec.Struct, kw_only=True, array_like=True):
    """A registry file applied: its first application's name and exchange time, and how often."""

    operation: str
    sha256: str
    name: str
    ts: int  # exchange time of the first application (ns since the epoch, UTC)
    commands: int
    applications: int = 1


class Rejected(Exception):
    """A registry check failed: carries the code and its context (never leaves this module)."""

    def __init__(self, code: Reject, **context: object) -> None:
        super().__init__(code.name)
        self.code, self.context = code, context


class RegistryState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """The registry's part of the state: surrenders per compliance year, and the files applied."""

    compliance: list[ComplianceRecord]  # by account and compliance year
    registry_files: list[RegistryFileRecord]  # by operation and SHA-256


class Registry(Mechanism):
    name = "registry"
    State = RegistryState

    def __init__(self, context: Context) -> None:
        config = context.config
        self.config = config
        self.ledger = context.ledger
        self.market = context.market
        self.accounts: dict[str, Account] = {a.id: a for a in config.accounts}
        self.instruments: dict[str, Instrument] = {i.code: i for i in config.instruments}
        self.carry_over_rules = {r.from_instrument: r for r in config.registry.carry_over}
        self.compliance: dict[tuple[str, int], ComplianceRecord] = {}
        self.files: dict[tuple[str, str], RegistryFileRecord] = {}  # (operation, sha256) -> record
        self._ts = 0  # exchange time of the command being applied
        self._operations: dict[type[Command], Callable[[Any], list[Event]]] = {
            DepositCash: self._deposit,
            WithdrawCash: self._withdraw,
            AllocateAllowances: self._allocate,
            SurrenderAllowances: self._surrender,
            CancelAllowances: self._cancel,
            CarryOverAllowances: self._carry_over,
            MergeAccounts: self._merge,
            SplitAccount: self._split,
            RecordRegistryFile: self._record_file,
        }

    def handlers(self) -> Mapping[type[Command], Handler]:
        return dict.fromkeys(self._operations, self.apply)

    def apply(self, cmd: Command, ts: int) -> list[Event]:
        self._ts = ts
        try:
            events = self._operations[type(cmd)](cmd)
        except Rejected as rejected:
            return [
                RequestRejected(
                    ts_event=ts,
                    request=type(cmd).__name__,
                    code=rejected.code,
                    text=reject_text(rejected.code, **rejected.context),
                    account=str(getattr(cmd, "account", "")),
                )
            ]
        return [msgspec.structs.replace(e, ts_event=ts) for e in events]

    # ------------------------------------------------------------------ checks
    def _account(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise Rejected(Reject.UNKNOWN_ACCOUNT, account=account_id)
        if account_id in self.ledger.closed:
            raise Rejected(Reject.ACCOUNT_CLOSED, account=account_id)
        return account

    def _trading_account(self, account_id: str) -> Account:
        account = self._account(account_id)
        if account.kind not in TRADING_ACCOUNT_KINDS:
            raise Rejected(Reject.SYSTEM_ACCOUNT, account=account_id, kind=account.kind)
        return account

    def _instrument(self, code: str) -> Instrument:
        instrument = self.instruments.get(code)
        if instrument is None:
            raise Rejected(Reject.UNKNOWN_INSTRUMENT, instrument=code)
        return instrument

    @staticmethod
    def _positive(name: str, value: int) -> None:
        if not 0 < value <= MAX_AMOUNT:
            raise Rejected(Reject.INVALID_AMOUNT, **{name: value})

    def _available(self, account: str, instrument: str, quantity: int) -> None:
        available = self.ledger.holding(account, instrument).available
        if quantity > available:
            raise Rejected(Reject.INSUFFICIENT_HOLDINGS, instrument=instrument, required=quantity, available=available)

    def _day_closed(self, **context: object) -> None:
        # Mergers and splits restructure accounts: only between trading days, when no order is
        # open and nothing is restricted or awaiting the next day.
        if self.market.day_open:
            raise Rejected(Reject.TRADING_DAY_OPEN, trading_day=self.market.trading_day, **context)

    # ------------------------------------------------------------------ cash
    def _deposit(self, cmd: DepositCash) -> list[Event]:
        self._account(cmd.account)
        self._positive("amount", cmd.amount)
        self.ledger.deposit(cmd.account, cmd.amount)
        return [CashDeposited(account=cmd.account, amount=cmd.amount)]

    def _withdraw(self, cmd: WithdrawCash) -> list[Event]:
        self._account(cmd.account)
        self._positive("amount", cmd.amount)
        withdrawable = self.ledger.cash(cmd.account).withdrawable
        if cmd.amount > withdrawable:
            raise Rejected(Reject.NOT_WITHDRAWABLE, amount=cmd.amount, withdrawable=withdrawable)
        self.ledger.withdraw(cmd.account, cmd.amount)
        return [CashWithdrawn(account=cmd.account, amount=cmd.amount)]

    # ------------------------------------------------------------------ allowances
    def _allocate(self, cmd: AllocateAllowances) -> list[Event]:
        self._account(cmd.account)
        self._instrument(cmd.instrument)
        self._positive("quantity", cmd.quantity)
        self.ledger.allocate(cmd.account, cmd.instrument, cmd.quantity, cmd.compliance_only)
        return [
            AllowancesAllocated(
                account=cmd.account,
                instrument=cmd.instrument,
                quantity=cmd.quantity,
                compliance_only=cmd.compliance_only,
            )
        ]

    def _cancel(self, cmd: CancelAllowances) -> list[Event]:
        self._account(cmd.account)
        self._instrument(cmd.instrument)
        self._positive("quantity", cmd.quantity)
        self._available(cmd.account, cmd.instrument, cmd.quantity)
        self.ledger.cancel(cmd.account, cmd.instrument, cmd.quantity)
        return [AllowancesCancelled(account=cmd.account, instrument=cmd.instrument, quantity=cmd.quantity)]

    def _carry_over(self, cmd: CarryOverAllowances) -> list[Event]:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.instrument)
        self._positive("quantity", cmd.quantity)
        rule = self.carry_over_rules.get(cmd.instrument)
        if rule is None:
            raise Rejected(Reject.NO_CARRY_OVER_RULE, instrument=cmd.instrument)
        if rule.requires_compliance and account.kind == "covered_entity":
            record = self.compliance.get((cmd.account, instrument.vintage))
            if record is None or not record.complete:
                shortfall = record.verified_emissions - record.covered if record else None
                raise Rejected(
                    Reject.COMPLIANCE_NOT_COMPLETE,
                    compliance_year=instrument.vintage,
                    shortfall="unrecorded" if shortfall is None else shortfall,
                )
        self._available(cmd.account, cmd.instrument, cmd.quantity)
        self.ledger.carry_over(cmd.account, cmd.instrument, rule.to_instrument, cmd.quantity)
        return [
            AllowancesCarriedOver(
                account=cmd.account,
                instrument=cmd.instrument,
                to_instrument=rule.to_instrument,
                quantity=cmd.quantity,
            )
        ]

    def _surrender(self, cmd: SurrenderAllowances) -> list[Event]:
        account = self._account(cmd.account)
        if account.kind != "covered_entity":
            raise Rejected(Reject.NOT_A_COVERED_ENTITY, account=cmd.account, kind=account.kind)
        self._positive("verified_emissions", cmd.verified_emissions)
        # Vintage 0 marks an instrument not split by vintage: it belongs to no compliance year.
        allowances = [
            i.code
            for i in self.config.instruments
            if i.kind == "allowance" and i.vintage and i.vintage == cmd.compliance_year
        ]
        if not allowances:
            raise Rejected(Reject.UNKNOWN_VINTAGE, compliance_year=cmd.compliance_year)
        key = (cmd.account, cmd.compliance_year)
        record = self.compliance.get(key) or ComplianceRecord(
            account=cmd.account, compliance_year=cmd.compliance_year, verified_emissions=cmd.verified_emissions
        )
        if record.verified_emissions != cmd.verified_emissions:
            raise Rejected(
                Reject.EMISSIONS_MISMATCH, verified_emissions=cmd.verified_emissions, recorded=record.verified_emissions
            )
        if record.complete:
            raise Rejected(Reject.COMPLIANCE_ALREADY_COMPLETE, compliance_year=cmd.compliance_year)
        cap = cmd.verified_emissions * self.config.registry.offset_cap_bp // BP
        offsets = [i.code for i in self.config.instruments if i.kind in OFFSET_KINDS]
        # Compliance-only units first (they can serve nothing else), then offsets up to the cap
        # (the cheaper units), then the year's allowances: available, then bought today.
        # Each source: (instrument, bucket, counts against the offset cap).
        sources = [(code, "compliance", False) for code in allowances]
        sources += [(code, "available", True) for code in offsets]
        sources += [(code, bucket, False) for bucket in ("available", "restricted") for code in allowances]
        surrendered: dict[str, int] = {}
        for code, bucket, offset in sources:
            need = record.verified_emissions - record.covered
            if offset:
                need = min(need, cap - record.offsets_used)
            take = min(need, getattr(self.ledger.holding(cmd.account, code), bucket))
            if take <= 0:
                continue
            self.ledger.surrender(cmd.account, code, bucket, take)
            surrendered[code] = surrendered.get(code, 0) + take
            record.covered += take
            if offset:
                record.offsets_used += take
        self.compliance[key] = record
        return [
            AllowancesSurrendered(
                account=cmd.account,
                compliance_year=cmd.compliance_year,
                verified_emissions=cmd.verified_emissions,
                surrendered=[Units(instrument=c, quantity=q) for c, q in surrendered.items()],
                covered=record.covered,
                offsets_used=record.offsets_used,
                offset_cap=cap,
                shortfall=record.verified_emissions - record.covered,
                complete=record.complete,
            )
        ]

    # ------------------------------------------------------------------ merger and split
    def _merge(self, cmd: MergeAccounts) -> list[Event]:
        self._trading_account(cmd.account)
        if cmd.successor == cmd.account:
            raise Rejected(Reject.INVALID_SUCCESSOR, account=cmd.account, successor=cmd.successor)
        self._trading_account(cmd.successor)
        self._day_closed(account=cmd.account)
        ledger = self.ledger
        cash = ledger.cash(cmd.account).available
        units = [
            (instrument, bucket, getattr(holding, bucket))
            for instrument, holding in ledger.holdings_of(cmd.account)
            for bucket in MOVABLE_BUCKETS
            if getattr(holding, bucket)
        ]
        ledger.transfer(cmd.account, cmd.successor, cash, units)
        ledger.pass_allocation(cmd.account, cmd.successor)
        ledger.close_account(cmd.account)
        totals: dict[str, int] = {}
        for instrument, _, quantity in units:
            totals[instrument] = totals.get(instrument, 0) + quantity
        return [
            AccountsMerged(
                account=cmd.account,
                successor=cmd.successor,
                cash=cash,
                holdings=[Units(instrument=i, quantity=q) for i, q in totals.items()],
            )
        ]

    def _split(self, cmd: SplitAccount) -> list[Event]:
        self._trading_account(cmd.account)
        targets = [part.account for part in cmd.parts]
        if not targets or cmd.account in targets or len(set(targets)) != len(targets):
            raise Rejected(Reject.INVALID_SUCCESSOR, account=cmd.account, parts=",".join(targets) or "none")
        for part in cmd.parts:
            self._trading_account(part.account)
        self._day_closed(account=cmd.account)
        ledger = self.ledger
        needed_cash = 0
        needed: dict[str, int] = {}
        for part in cmd.parts:
            if not 0 <= part.cash <= MAX_AMOUNT or not (part.cash or part.holdings):
                # A part that receives nothing is a mistake in the split, not a no-op to journal.
                raise Rejected(Reject.INVALID_AMOUNT, account=part.account, cash=part.cash)
            needed_cash += part.cash
            for units in part.holdings:
                self._instrument(units.instrument)
                self._positive("quantity", units.quantity)
                needed[units.instrument] = needed.get(units.instrument, 0) + units.quantity
        available_cash = ledger.cash(cmd.account).available
        if needed_cash > available_cash:
            raise Rejected(Reject.INSUFFICIENT_FUNDS, required=needed_cash, available=available_cash)
        for instrument, quantity in needed.items():
            holding = ledger.holding(cmd.account, instrument)
            held = holding.available + holding.compliance
            if quantity > held:
                raise Rejected(Reject.INSUFFICIENT_HOLDINGS, instrument=instrument, required=quantity, available=held)
        # Tradable units go first; compliance-only units pass on as compliance-only. What is left
        # tradable is counted down over every line of every part: a part may name an instrument twice.
        tradable = {instrument: ledger.holding(cmd.account, instrument).available for instrument in needed}
        for part in cmd.parts:
            moves = []
            for units in part.holdings:
                from_available = min(units.quantity, tradable[units.instrument])
                tradable[units.instrument] -= from_available
                moves += [(units.instrument, "available", from_available)] if from_available else []
                if units.quantity > from_available:
                    moves.append((units.instrument, "compliance", units.quantity - from_available))
            ledger.transfer(cmd.account, part.account, part.cash, moves)
        return [AccountSplit(account=cmd.account, parts=list(cmd.parts))]

    # ------------------------------------------------------------------ registry files
    def _record_file(self, cmd: RecordRegistryFile) -> list[Event]:
        key = (cmd.operation, cmd.sha256)
        first = self.files.get(key)
        if first is not None and not cmd.again:
            raise Rejected(
                Reject.REGISTRY_FILE_ALREADY_APPLIED,
                operation=cmd.operation,
                digest=cmd.sha256,  # keys of a reject text are letters and underscores
                name=first.name,
                first_ts=first.ts,
                applications=first.applications,
            )
        if first is None:
            first = self.files[key] = RegistryFileRecord(
                operation=cmd.operation, sha256=cmd.sha256, name=cmd.name, ts=self._ts, commands=cmd.commands
            )
        else:
            first.applications += 1  # the first application stays the one a refusal names
        return [
            RegistryFileRecorded(
                operation=cmd.operation,
                sha256=cmd.sha256,
                name=cmd.name,
                commands=cmd.commands,
                again=cmd.again,
                applications=first.applications,
            )
        ]

    # ------------------------------------------------------------------ state
    def state(self) -> RegistryState:
        return RegistryState(
            compliance=[msgspec.structs.replace(r) for _, r in sorted(self.compliance.items())],
            registry_files=[msgspec.structs.replace(r) for _, r in sorted(self.files.items())],
        )

    def restore(self, state: RegistryState) -> None:
        self.compliance = {(r.account, r.compliance_year): msgspec.structs.replace(r) for r in state.compliance}
        self.files = {(r.operation, r.sha256): msgspec.structs.replace(r) for r in state.registry_files}
