"""End-of-day statements: what each account held, what moved, and what it holds now.

A statement covers everything between two ends of day: the opening balance is the closing
balance of the previous end of day (zero before the first), then every movement that changed the
account's total — deposits, withdrawals, trades with their fees, registry operations — and the
closing balance. Each section balances exactly (``opening + movements = closing``); the tests
assert it for every statement. Freezes move value only between an account's own buckets, so
they appear as the total released during the day, not as movements.

Money in fen, quantities in tonnes; all integers.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

import msgspec

from settlement.arrays import (
    K_RELEASED,
    T_BUY_FEE,
    T_BUYER,
    T_ID,
    T_INSTR,
    T_PRICE,
    T_QTY,
    T_SELL_FEE,
    T_SELLER,
    LedgerArrays,
)


class CashStatement(msgspec.Struct, frozen=True, kw_only=True):
    """One account's cash over the day: ``closing = opening + the signed movements``."""

    opening: int
    deposits: int = 0
    withdrawals: int = 0
    bought: int = 0  # value of the day's purchases
    sold: int = 0  # value of the day's sales
    fees_paid: int = 0
    fees_received: int = 0  # the exchange's fee account only
    transferred_in: int = 0  # merger or split
    transferred_out: int = 0
    closing: int
    closing_frozen: int = 0  # part of ``closing`` still frozen
    released: int = 0  # freezes released during the day (cancel, expiry, price improvement, unused fee)
    withdrawable: int = 0  # part of ``closing`` that may be withdrawn after the close

    def movements(self) -> int:
        return (
            self.deposits
            - self.withdrawals
            - self.bought
            + self.sold
            - self.fees_paid
            + self.fees_received
            + self.transferred_in
            - self.transferred_out
        )


class HoldingStatement(msgspec.Struct, frozen=True, kw_only=True):
    """One account's holding of one instrument over the day, every bucket together."""

    instrument: str
    opening: int
    allocated: int = 0
    bought: int = 0
    sold: int = 0
    surrendered: int = 0
    cancelled: int = 0  # voluntary cancellation (自愿注销)
    carried_in: int = 0  # carry-over from an earlier vintage
    carried_out: int = 0  # carry-over to a later vintage
    transferred_in: int = 0  # merger or split
    transferred_out: int = 0
    closing: int
    closing_compliance: int = 0  # part of ``closing`` that can only be surrendered
    released_restricted: int = 0  # bought today, sellable from the next trading day

    def movements(self) -> int:
        return (
            self.allocated
            + self.bought
            - self.sold
            - self.surrendered
            - self.cancelled
            + self.carried_in
            - self.carried_out
            + self.transferred_in
            - self.transferred_out
        )


class StatementTrade(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One side of one trade, as the account's statement shows it."""

    trade_id: int
    instrument: str
    side: int  # 1 buy, 2 sell (engine.messages.Side)
    price: int
    quantity: int
    value: int
    fee: int
    method: int = 0  # the trading method: 0 listing, 1 agreement transfer, 2 auction (settlement.arrays.METHOD_*)


class Units(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A quantity of one instrument (in a registry event or a split).

    Bounded like every command field (engine.messages.limits, which settlement may not import: a
    test holds the two to the same numbers), since a split carries these into the journal.
    """

    instrument: Annotated[str, msgspec.Meta(max_length=64)]
    quantity: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]


class ConservationMismatch(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One asset whose balances do not add up: ``asset`` is an instrument code or ``"CASH"``."""

    asset: str
    expected: int  # issued − surrendered − cancelled, or deposits − withdrawals
    actual: int  # summed over every account and bucket
    difference: int  # actual − expected


# ----------------------------------------------------------------------------------------------
# The day's activity, kept by the ledger until the end of day turns it into statements.

# trade_id, instrument, price, quantity, buyer, seller, buyer_fee, seller_fee
TradeRecord = tuple[int, str, int, int, str, str, int, int]
CASH = ""  # the asset key of cash in the movement records

# The movements a statement section shows, by the field of its statement.
CASH_MOVEMENTS = ("deposits", "withdrawals", "transferred_in", "transferred_out")
HOLDING_MOVEMENTS = (
    "allocated",
    "surrendered",
    "cancelled",
    "carried_in",
    "carried_out",
    "transferred_in",
    "transferred_out",
)


class DayActivityState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    opening_cash: list[tuple[str, int]]
    opening_holdings: list[tuple[str, str, int]]
    trades: list[TradeRecord]
    movements: list[tuple[str, str, str, int]]  # account, asset (instrument, or "" for cash), kind, amount
    released: list[tuple[str, int]]
    released_restricted: list[tuple[str, str, int]]
    # (row of ``trades``, method) of the trades not made by listing trading (``METHOD_LISTING``)
    methods: list[tuple[int, int]] = []


class AccountDay(NamedTuple):
    account: str
    cash: CashStatement
    holdings: list[HoldingStatement]
    trades: list[StatementTrade]


class DayActivity:
    """What moved since the last end of day: trades (one record each), registry movements, releases.

    The trades and the released cash are the parts the fast book writes too, so they live in the
    ledger's arrays, where both forms of the ledger write them: the trade log (``trades``, one row
    per trade) and the released-cash column of ``cash``. They become names and tuples only when
    read. The registry movements, the openings and the lifted restrictions are written by the
    Python API alone and are kept here. The statements aggregate at the end of day, where time
    does not matter.
    """

    def __init__(self, arrays: LedgerArrays, accounts: list[str], instruments: list[str]) -> None:
        self._arrays = arrays
        self._accounts = accounts
        self._instruments = instruments
        self._account_index = {a: i for i, a in enumerate(accounts)}
        self._instrument_index = {code: i for i, code in enumerate(instruments)}
        self.opening_cash: dict[str, int] = {}
        self.opening_holdings: dict[tuple[str, str], int] = {}
        self.movements: dict[tuple[str, str, str], int] = {}
        self.released_restricted: dict[tuple[str, str], int] = {}

    @property
    def trades(self) -> list[TradeRecord]:
        """The trade log's rows as records, in the order they were written."""
        arrays, accounts, instruments = self._arrays, self._accounts, self._instruments
        return [
            (r[T_ID], instruments[r[T_INSTR]], r[T_PRICE], r[T_QTY], accounts[r[T_BUYER]], accounts[r[T_SELLER]],
             r[T_BUY_FEE], r[T_SELL_FEE])
            for r in arrays.trades[: int(arrays.trade_count[0])].tolist()
        ]  # fmt: skip

    @property
    def methods(self) -> dict[int, int]:
        """The trading method of each row of the trade log that is not a listing trade."""
        arrays = self._arrays
        column = arrays.trade_methods[: int(arrays.trade_count[0])]
        return {row: int(column[row]) for row in column.nonzero()[0].tolist()}

    @property
    def released(self) -> dict[str, int]:
        """Cash freezes released per account (the accounts with a release only)."""
        column = self._arrays.cash[:, K_RELEASED].tolist()
        return {self._accounts[i]: amount for i, amount in enumerate(column) if amount}

    def move(self, account: str, asset: str, kind: str, amount: int) -> None:
        key = (account, asset, kind)
        self.movements[key] = self.movements.get(key, 0) + amount

    def statements(
        self,
        cash: dict[str, tuple[int, int, int]],
        holdings: dict[tuple[str, str], tuple[int, int]],
        fee_account: str,
    ) -> list[AccountDay]:
        """Statements of every account with a balance or a movement, in account order.

        ``cash``: account -> (closing total, frozen, withdrawable); ``holdings``: (account,
        instrument) -> (closing total, compliance-only part).
        """
        trades: dict[str, list[StatementTrade]] = {}
        flows: dict[tuple[str, str, str], int] = dict(self.movements)
        methods = self.methods
        for row, (trade_id, instrument, price, quantity, buyer, seller, buyer_fee, seller_fee) in enumerate(
            self.trades
        ):
            value, method = price * quantity, methods.get(row, 0)
            for account, side, fee in ((buyer, 1, buyer_fee), (seller, 2, seller_fee)):
                trades.setdefault(account, []).append(
                    StatementTrade(
                        trade_id=trade_id,
                        instrument=instrument,
                        side=side,
                        price=price,
                        quantity=quantity,
                        value=value,
                        fee=fee,
                        method=method,
                    )
                )
                verb = "bought" if side == 1 else "sold"
                for key, amount in (((account, CASH, verb), value), ((account, instrument, verb), quantity)):
                    flows[key] = flows.get(key, 0) + amount
                flows[(account, CASH, "fees_paid")] = flows.get((account, CASH, "fees_paid"), 0) + fee
            if buyer_fee + seller_fee:
                key = (fee_account, CASH, "fees_received")
                flows[key] = flows.get(key, 0) + buyer_fee + seller_fee
        sections: dict[str, set[str]] = {}
        for account, asset, _ in flows:
            sections.setdefault(account, set()).add(asset)
        for account, total in (*self.opening_cash.items(), *((a, c[0]) for a, c in cash.items())):
            if total:
                sections.setdefault(account, set()).add(CASH)
        for (account, instrument), total in (
            *self.opening_holdings.items(),
            *((k, h[0]) for k, h in holdings.items()),
        ):
            if total:
                sections.setdefault(account, set()).add(instrument)
        released = self.released
        for account in released:
            sections.setdefault(account, set()).add(CASH)
        return [
            self._account_day(account, assets, cash, holdings, flows, released, trades.get(account, []))
            for account, assets in sorted(sections.items())
        ]

    def _account_day(
        self,
        account: str,
        assets: set[str],
        cash: dict[str, tuple[int, int, int]],
        holdings: dict[tuple[str, str], tuple[int, int]],
        flows: dict[tuple[str, str, str], int],
        released: dict[str, int],
        trades: list[StatementTrade],
    ) -> AccountDay:
        closing, frozen, withdrawable = cash.get(account, (0, 0, 0))
        kinds = (*CASH_MOVEMENTS, "bought", "sold", "fees_paid", "fees_received")
        cash_statement = CashStatement(
            opening=self.opening_cash.get(account, 0),
            closing=closing,
            closing_frozen=frozen,
            released=released.get(account, 0),
            withdrawable=withdrawable,
            **{kind: flows.get((account, CASH, kind), 0) for kind in kinds},
        )
        holding_statements = []
        for instrument in sorted(assets - {CASH}):
            key = (account, instrument)
            total, compliance = holdings.get(key, (0, 0))
            holding_statements.append(
                HoldingStatement(
                    instrument=instrument,
                    opening=self.opening_holdings.get(key, 0),
                    closing=total,
                    closing_compliance=compliance,
                    released_restricted=self.released_restricted.get(key, 0),
                    **{
                        kind: flows.get((account, instrument, kind), 0)
                        for kind in (*HOLDING_MOVEMENTS, "bought", "sold")
                    },
                )
            )
        return AccountDay(account, cash_statement, holding_statements, trades)

    def start_next(self, cash: dict[str, int], holdings: dict[tuple[str, str], int]) -> None:
        """Today's closing balances become the next statement's opening; the records start empty."""
        self.opening_cash = {a: total for a, total in cash.items() if total}
        self.opening_holdings = {k: total for k, total in holdings.items() if total}
        self._arrays.trade_methods[: int(self._arrays.trade_count[0])] = 0  # rows not in use hold 0
        self._arrays.trade_count[0] = 0
        self._arrays.cash[:, K_RELEASED] = 0
        self.movements = {}
        self.released_restricted = {}

    def state(self) -> DayActivityState:
        return DayActivityState(
            opening_cash=sorted(self.opening_cash.items()),
            opening_holdings=[(a, i, q) for (a, i), q in sorted(self.opening_holdings.items())],
            trades=self.trades,
            movements=[(a, s, k, q) for (a, s, k), q in sorted(self.movements.items())],
            released=sorted(self.released.items()),
            released_restricted=[(a, i, q) for (a, i), q in sorted(self.released_restricted.items())],
            methods=sorted(self.methods.items()),
        )

    def restore(self, state: DayActivityState) -> None:
        """Put back the activity of a snapshot: its trades into the trade log, its releases into the column."""
        self.opening_cash = dict(state.opening_cash)
        self.opening_holdings = {(a, i): q for a, i, q in state.opening_holdings}
        self.movements = {(a, s, k): q for a, s, k, q in state.movements}
        self.released_restricted = {(a, i): q for a, i, q in state.released_restricted}
        arrays, accounts, instruments = self._arrays, self._account_index, self._instrument_index
        n = len(state.trades)
        arrays.trade_methods[: int(arrays.trade_count[0])] = 0  # rows not in use hold 0
        arrays.trade_count[0] = 0
        arrays.ensure_trade_room(n)
        if n:  # column by column: a busy day's snapshot holds a million trades
            trades = arrays.trades[:n]
            ids, codes, prices, quantities, buyers, sellers, buyer_fees, seller_fees = zip(*state.trades, strict=True)
            trades[:, T_ID], trades[:, T_INSTR] = ids, [instruments[code] for code in codes]
            trades[:, T_PRICE], trades[:, T_QTY] = prices, quantities
            trades[:, T_BUYER], trades[:, T_SELLER] = [accounts[a] for a in buyers], [accounts[a] for a in sellers]
            trades[:, T_BUY_FEE], trades[:, T_SELL_FEE] = buyer_fees, seller_fees
            for row, method in state.methods:
                arrays.trade_methods[row] = method
        arrays.trade_count[0] = n
        column = arrays.cash[:, K_RELEASED]
        column[:] = 0
        for account, amount in state.released:
            column[accounts[account]] = amount
