"""Listing trading on the fast book: the Python boundary around the kernels.

``FastListing`` is listing trading as ``engine.listing.reference.Listing`` specifies it (both
extend ``engine.listing.mechanism.ListingTrading``, and nothing outside the package tells them
apart), but keeps its orders, ladders and counters in arrays and applies new orders, cancels,
amends and mass cancels with one kernel call per batch (``engine.listing.fast.commands.run_batch``).
Per call it:

1. turns the commands into a columnar int64 batch (``encode``): names to indices, each client
   order id interned to an integer key per (account, id);
2. pushes what commands of other mechanisms changed since the last call (``resync``: the session,
   halts, the band, the day's figures, account status and position limits), only when one ran;
3. runs the kernel, growing an array and calling again whenever the kernel stopped for room;
4. pulls the day's figures back and hands over the event records, which ``engine.listing.fast.events``
   turns into messages only for whoever asks.

An exception on the way falls on one command, as it would one command at a time (``run``). The
read side (``FastBook``, ``ClientOrderIds``) is in ``engine.listing.fast.views``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TypeVar

import numpy as np

from engine.batch import CommandBatch, EventBatch, ReportFailure, decode_or_report
from engine.config import TRADING_ACCOUNT_KINDS
from engine.listing.book import BookInvariantError
from engine.listing.fast import ahead, commands, ladder
from engine.listing.fast.bulk import decode_batch
from engine.listing.fast.encode import encode
from engine.listing.fast.events import Names, decode
from engine.listing.fast.layout import (
    B_ASK_BASE,
    B_BEST_ASK,
    B_BEST_BID,
    B_BID_BASE,
    B_HALTED,
    B_LIVE,
    B_LO,
    B_LOT,
    B_LOWER,
    B_N,
    B_OPEN,
    B_TICK,
    B_TRADES,
    B_UPPER,
    BOOK_FIELDS,
    CMD_PYTHON,
    EVENT_FIELDS,
    L_HEAD,
    L_TAIL,
    LEVEL_FIELDS,
    O_ACCT,
    O_COID,
    O_FCASH,
    O_FILLED,
    O_FQTY,
    O_FREEZE,
    O_ID,
    O_INSTR,
    O_LEAVES,
    O_PRICE,
    O_SIDE,
    O_STP,
    O_TVALUE,
    O_TYPE,
    ORDER_FIELDS,
    P_COID_MAX,
    P_FEE_ACCT,
    P_FREE_TOP,
    P_ID_BASE,
    P_IDS_PER_SLOT,
    P_LEVELS,
    P_LIVE,
    P_LOOK_AHEAD,
    P_MARKET_HALTED,
    P_MAX_Q,
    P_MIN_Q,
    P_NEXT_ORDER,
    P_NEXT_TRADE,
    P_OPEN,
    P_RATE,
    P_SESSION,
    P_TRADE_ROWS,
    PARAM_FIELDS,
    R_LIMIT,
    R_OPEN_BUYS,
    REASON_FIELDS,
    RISK_FIELDS,
    X_COID,
    X_KIND,
)
from engine.listing.fast.views import ClientOrderIds, FastBook, from_rows
from engine.listing.mechanism import BatchFailure, ListingTrading
from engine.listing.orders import Order, OrderRecord
from engine.mechanism import Context
from engine.messages import (
    Command,
    Event,
    Reject,
    Session,
    Side,
)

# Order slots, order ids and client order ids each array starts with (events: twice as many). They
# double when full, but each doubling stops the kernel and copies: a node sizes them for a busy
# day's start at once. Zeroed pages cost nothing until touched.
CAPACITY = 1 << 16


T = TypeVar("T")


ROW_ALIGNMENT = 128  # bytes: an order's row (16 int64) on two whole cache lines, never three


def aligned_zeros(rows: int, fields: int = ORDER_FIELDS) -> np.ndarray:
    """A zeroed int64 (rows, fields) array whose first row starts on a ``ROW_ALIGNMENT`` boundary.

    numpy aligns a large array to 16 bytes only: an order's 128-byte row then spans three cache
    lines, and the kernels touch orders in random order (a cancel, the head of a level), so each
    touch cost a third line. With 40 instruments and 40,000 resting orders, that was ~10% of the
    kernel's time (bench/RESULTS.md, issue 19).
    """
    spare = ROW_ALIGNMENT // 8
    flat = np.zeros(rows * fields + spare, dtype=np.int64)
    skip = (-flat.ctypes.data % ROW_ALIGNMENT) // 8
    return flat[skip : skip + rows * fields].reshape(rows, fields)


class FastListing(ListingTrading):
    """The listing-trading state over arrays: one ladder per instrument, the day's figures, the ids."""

    book_kind = "fast"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        config, ledger = context.config, self.ledger
        self.coid_max = config.listing.client_order_id_max_length
        self.account_index = ledger.account_index
        self.instrument_index = {code: j for j, code in enumerate(self.instruments)}
        self.names = Names(ledger.account_names, list(self.instruments), [a.kind for a in config.accounts])
        self.books = {code: FastBook(self, j, code) for j, code in enumerate(self.instruments)}
        n_accounts, n_instruments = len(self.accounts), len(self.instruments)
        self.orders = aligned_zeros(CAPACITY)
        self.free = np.arange(CAPACITY - 1, -1, -1, dtype=np.int64)
        self.picked = np.empty(CAPACITY, dtype=np.int64)  # a mass cancel's scratch (``commands.cancel_all``)
        self.book_rows = np.zeros((n_instruments, BOOK_FIELDS), dtype=np.int64)
        self.levels = np.zeros((0, LEVEL_FIELDS), dtype=np.int64)
        self.risk_rows = np.zeros((n_accounts, n_instruments, RISK_FIELDS), dtype=np.int64)
        self.account_codes = np.zeros(n_accounts, dtype=np.int64)
        self.ids = np.full(CAPACITY, -1, dtype=np.int64)
        self.coids = np.zeros(CAPACITY, dtype=np.uint8)
        self.coid_keys: dict[tuple[int, str], int] = {}
        self.compact_due = False
        self.events = np.zeros((2 * CAPACITY, EVENT_FIELDS), dtype=np.int64)
        self.generation = 0  # batches run: the records ``run`` returned are valid while it is unchanged
        self._reason = np.zeros(REASON_FIELDS, dtype=np.int64)  # the kernels' scratch for a reject's code and context
        p = self.params = np.zeros(PARAM_FIELDS, dtype=np.int64)
        p[P_NEXT_ORDER] = p[P_NEXT_TRADE] = p[P_ID_BASE] = 1
        p[P_FREE_TOP] = self.orders.shape[0]
        p[P_RATE] = self.rate_ppm
        limits = config.listing
        p[P_LEVELS], p[P_MIN_Q], p[P_MAX_Q] = limits.market_levels, limits.min_quantity_t, limits.max_quantity_t
        p[P_COID_MAX] = limits.client_order_id_max_length
        p[P_LOOK_AHEAD] = ahead.LOOK_AHEAD_FROM
        p[P_IDS_PER_SLOT] = ladder.IDS_PER_SLOT
        p[P_FEE_ACCT] = self.account_index[config.fees.fee_account]
        ledger.arrays.keep_trade_count_in(p[P_TRADE_ROWS : P_TRADE_ROWS + 1])
        for j, instrument in enumerate(config.instruments):
            self.book_rows[j, B_LOT] = instrument.lot_t
        self._laid_out_for: list[int | None] = [None] * n_instruments
        # The arrays lag the Python side (the market day's state, halts, the day's figures and band,
        # account status, position limits) until ``_push``: after any other mechanism's command.
        self.stale = True
        self.client_order_ids = ClientOrderIds(self)
        self._lay_out()

    # ------------------------------------------------------------------ counters
    @property
    def next_order_id(self) -> int:
        return int(self.params[P_NEXT_ORDER])

    @next_order_id.setter
    def next_order_id(self, value: int) -> None:
        self.params[P_NEXT_ORDER] = value

    @property
    def next_trade_id(self) -> int:
        return int(self.params[P_NEXT_TRADE])

    @next_trade_id.setter
    def next_trade_id(self, value: int) -> None:
        self.params[P_NEXT_TRADE] = value

    @property
    def open_buys(self) -> dict[tuple[str, str], int]:
        """Tonnes each account may still buy through its open orders, per instrument (non-zero only)."""
        column = self.risk_rows[:, :, R_OPEN_BUYS]
        return {
            (self.names.accounts[a], self.names.instruments[j]): int(column[a, j])
            for a, j in np.argwhere(column).tolist()
        }

    def open_buy_quantity(self, account: str, instrument: str) -> int:
        a, j = self.ledger.account_index.get(account), self.ledger.instrument_index.get(instrument)
        return 0 if a is None or j is None else int(self.risk_rows[a, j, R_OPEN_BUYS])

    # ------------------------------------------------------------------ orders as objects
    def order_at(self, slot: int) -> Order:
        return self.orders_at([slot])[0]

    def open_orders(self, accounts: Collection[str] | None, instruments: Sequence[str]) -> list[Order]:
        """``ListingTrading.open_orders`` without an object for anybody else's orders: one walk of the id
        index (``ladder.open_slots``) picks the accounts' slots, in order id order. Building every
        resting order to keep a member's few cost a query 50-60 ms with 40,000 resting
        (bench/RESULTS.md, issue 19, ninth session)."""
        if accounts is None:
            return super().open_orders(accounts, instruments)
        wanted = np.zeros(len(self.account_index), dtype=np.bool_)
        for account in accounts:
            index = self.account_index.get(account)
            if index is not None:
                wanted[index] = True
        listed = np.zeros(len(self.instruments), dtype=np.bool_)
        for code in instruments:
            listed[self.instrument_index[code]] = True
        issued = int(self.params[P_NEXT_ORDER] - self.params[P_ID_BASE])
        per_slot = int(self.params[P_IDS_PER_SLOT])
        out = np.empty(int(self.params[P_LIVE]), dtype=np.int64)
        found = ladder.open_slots(self.orders, self.ids, issued, per_slot, wanted, listed, out)
        return self.orders_at(out[:found].tolist())

    def orders_at(self, slots: list[int]) -> list[Order]:
        """The orders in ``slots`` as objects (one numpy read for all; enums by lookup, not call)."""
        return from_rows(self.orders, self.names, slots, Order)

    def order_records(self) -> list[OrderRecord]:
        """Every resting order as its snapshot record, in canonical order (straight from the arrays)."""
        slots = [
            slot
            for j in range(len(self.instruments))
            for slot in ladder.canonical(self.orders, self.levels, self.book_rows, j).tolist()
        ]
        return from_rows(self.orders, self.names, slots, OrderRecord)

    def find_order(self, order_id: int) -> Order | None:
        index = order_id - int(self.params[P_ID_BASE])
        if index < 0 or order_id >= self.next_order_id or index >= self.ids.shape[0]:
            return None
        slot = int(self.ids[index])
        return None if slot < 0 else self.order_at(slot)

    # ------------------------------------------------------------------ commands
    def intern(self, account: int, client_order_id: str) -> int:
        key = self.coid_keys.get((account, client_order_id))
        if key is None:
            key = self.coid_keys[(account, client_order_id)] = len(self.names.client_order_ids)
            self.names.client_order_ids.append((self.names.accounts[account], client_order_id))
            self.reserve_coids(key + 1)
        return key

    def reserve_coids(self, count: int) -> None:
        """Room in ``coids`` for ``count`` interned ids (doubling, as one id at a time would)."""
        while count > self.coids.shape[0]:
            self.coids = np.concatenate([self.coids, np.zeros_like(self.coids)])

    def _compact_ids(self, cmds: np.ndarray) -> None:
        """Drop the interned ids nothing needs any more (after an end of day): keep the ones in use
        and those of resting orders, and renumber them in the orders and in the batch about to run."""
        live = np.flatnonzero(self.orders[:, O_ID])
        keep = np.zeros(len(self.names.client_order_ids), dtype=bool)
        keep[self.orders[live, O_COID]] = True
        keep |= self.coids[: keep.shape[0]].astype(bool)
        in_batch = cmds[:, X_COID] >= 0
        keep[cmds[in_batch, X_COID]] = True
        renumber = np.full(keep.shape[0], -1, dtype=np.int64)
        kept = np.flatnonzero(keep)
        renumber[kept] = np.arange(kept.shape[0])
        self.orders[live, O_COID] = renumber[self.orders[live, O_COID]]
        cmds[in_batch, X_COID] = renumber[cmds[in_batch, X_COID]]
        old_names, used = self.names.client_order_ids, self.coids
        self.names.client_order_ids = [old_names[k] for k in kept.tolist()]
        self.coid_keys = {(self.account_index[a], c): k for k, (a, c) in enumerate(self.names.client_order_ids)}
        self.coids = np.zeros(max(1024, 2 * kept.shape[0]), dtype=np.uint8)
        self.coids[: kept.shape[0]] = used[kept]
        self.compact_due = False

    def encode(self, cmds: Sequence[Command], ts: Sequence[int]) -> np.ndarray:
        """The columnar batch of ``cmds`` stamped with ``ts`` (``engine.listing.fast.encode``).

        Apply a batch (``run``) before encoding the next: an end of day inside a batch lets the
        next ``run`` renumber the interned client order ids, and it renumbers only its own batch.
        """
        return encode(self, cmds, ts)

    def run(
        self,
        cmds: np.ndarray,
        on_python: Callable[[int], None] | None = None,
        on_failure: Callable[[int, Exception], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply a columnar batch: the event records and each command's first record (n + 1).

        The records are a view of ``events``, valid until the next ``run`` (which bumps
        ``generation``): the caller reads or copies them first.

        A ``CMD_PYTHON`` row is handed to ``on_python(index)`` between two kernel calls, with the
        objects in step with the arrays; what it changes is pushed into the arrays before the next
        kernel call (``resync`` marks it), as on the one-command path (``apply``).

        An exception raised here (by a kernel, or by the pushing, growing or compacting around the
        kernel calls) is blamed on one command (``_blame``): the records it wrote are dropped, what
        the kernel changed is pulled into the objects, and ``on_failure(index, exception)`` gives
        its events (the exchange: an INTERNAL_ERROR reject and a halt); the batch goes on after it.
        Without ``on_failure`` the exception is raised after the same clean-up: one command at a
        time, ``Exchange.apply`` catches it and does what ``on_failure`` does, so a batch and one
        by one end the same. What a command did before it failed stays done (nothing is undone).
        Pushing and kernel failures fall on the same command either way; growing and compacting
        happen at points that depend on the batch's length, so only a defect in them or a lack of
        memory could fail there, on the command the batch had reached.
        """
        n = cmds.shape[0]
        first = np.empty(n + 1, dtype=np.int64)
        first.fill(-1)  # not reached yet (``_blame`` relies on it); np.full costs 4x as much
        count = np.zeros(1, dtype=np.int64)
        columns = cmds.T  # the kernel's layout: one C-order row per field
        compact, start = self.compact_due, 0
        while start < n:
            try:
                if compact:
                    compact = False
                    self._compact_ids(cmds)
                if columns[X_KIND, start] != CMD_PYTHON:
                    start = self._kernel_call(columns, start, count, first)
                    continue
                first[start] = count[0]
                if on_python is None:
                    raise TypeError(f"command {start} of the batch is not a fast-path command")
                on_python(start)
                start += 1
            except Exception as exc:
                failed = self._blame(first, count, start, n)
                if on_failure is None:
                    raise
                on_failure(failed, exc)
                start = failed + 1
        first[n] = count[0]
        self.generation += 1
        return self.events[: count[0]], first

    def _kernel_call(self, columns: np.ndarray, start: int, count: np.ndarray, first: np.ndarray) -> int:
        """Apply fast commands from ``start`` until the kernel stops; return where it stopped, objects pulled."""
        if self.stale:
            self._push()  # if this fails, the objects still hold the truth: nothing to pull
        try:
            self._make_room(int(count[0]))
            arrays = self.ledger.arrays
            stop: int = commands.run_batch(
                columns, start, self.orders, self.levels, self.book_rows, arrays.cash, arrays.holdings,
                self.risk_rows, self.account_codes, self.ids, self.free, self.picked, self.coids, arrays.trades,
                self.events, self.params, count, first, self._reason,
            )  # fmt: skip
            if stop < columns.shape[1]:
                first[stop] = -1  # not applied yet: a failure before it is applied is not its (``_blame``)
            self._pull()  # it ends the last command applied, as it ends each command of ``apply``
        except Exception:
            # The day's figures the kernel moved before it failed: without them the next push would undo
            # them. If pulling is what fails, the arrays stay as they are.
            with contextlib.suppress(Exception):
                self._pull()
            raise
        return stop

    def _blame(self, first: np.ndarray, count: np.ndarray, start: int, n: int) -> int:
        """The command a failure in ``run`` belongs to, with the records it wrote dropped.

        The kernel sets a command's first record before it applies it, so the failing command is the
        last one with its first record set (since ``start``); a failure before the kernel set any
        (pushing, growing, compacting) belongs to the command at ``start``.
        """
        reached = np.flatnonzero(first[start:n] >= 0)
        failed = start + int(reached[-1]) if reached.size else start
        if first[failed] >= 0:
            count[0] = first[failed]
        else:
            first[failed] = count[0]
        return failed

    def apply_many(
        self, cmds: Sequence[Command], ts: Sequence[int], report_failure: ReportFailure | None = None
    ) -> list[list[Event]]:
        """Apply fast-path commands in one kernel call; their events as messages, per command.

        ``report_failure``: for records that do not decode, as ``EventBatch`` does (``decode_or_report``).
        """
        records, first = self.run(self.encode(cmds, ts))
        rows = records.tolist()
        bounds = first.tolist()
        return [
            decode_or_report(rows[bounds[i] : bounds[i + 1]], t, cmd, self.names.decode, report_failure)
            for i, (cmd, t) in enumerate(zip(cmds, ts, strict=True))
        ]

    def apply(self, cmd: Command, ts: int) -> list[Event]:
        return self.apply_many([cmd], [ts], self.report_failure)[0]

    def run_batch(
        self,
        batch: CommandBatch,
        python: dict[int, list[Event]],
        on_python: Callable[[int], None],
        on_failure: BatchFailure,
    ) -> EventBatch:
        """Apply an encoded batch (``run``); its events stay records until read (``EventBatch``).

        A batch that could not be encoded (``Exchange.command_batch``) goes one by one instead.
        """
        if batch.columns is None:
            return super().run_batch(batch, python, on_python, on_failure)
        records, first = self.run(batch.columns, on_python, on_failure)
        generation = self.generation
        return EventBatch(
            batch, records, first, self.names.decode, python, lambda: self.generation == generation,
            self.report_failure, self.decode_all,
        )  # fmt: skip

    def decode_all(
        self, records: np.ndarray, first: np.ndarray, commands: Sequence[Command], stamps: list[int]
    ) -> list[Event]:
        """A batch's records into its events at once, in record order (``engine.listing.fast.bulk``)."""
        return decode_batch(records, first, commands, stamps, self.names)

    def resync(self) -> None:
        self.stale = True  # pushed before the next kernel call

    def expire_all(self, ts: int) -> list[Event]:
        """End of day: every order still resting expires (orders are day orders)."""
        self._push()
        count = np.zeros(1, dtype=np.int64)
        events = np.zeros((int(self.params[P_LIVE]) + 1, EVENT_FIELDS), dtype=np.int64)  # its own: may run mid-batch
        arrays = self.ledger.arrays
        commands.expire_all(
            self.orders, self.levels, self.book_rows, arrays.cash, arrays.holdings, self.risk_rows, self.ids,
            self.free, events, self.params, count,
        )  # fmt: skip
        self._pull()
        return decode(events[: count[0]].tolist(), ts, None, self.names)

    # ------------------------------------------------------------------ keeping arrays and objects in step
    def _push(self) -> None:
        """What Python-side commands changed since the last kernel call (``resync``), into the arrays:
        the session and halts, the day's figures and band, account status and position limits."""
        market, p, rows = self.market, self.params, self.book_rows
        session: Session = market.session
        p[P_OPEN] = 1 if market.day_open and session.is_continuous else 0
        p[P_SESSION] = int(session)
        p[P_MARKET_HALTED] = 1 if market.halted else 0
        for j, figures in enumerate(self.days.values()):
            if figures.reference_price != self._laid_out_for[j]:
                self._lay_out()
            rows[j, B_HALTED] = figures.code in market.instrument_halts
            rows[j, B_OPEN : B_TRADES + 1] = (figures.open, figures.high, figures.low, figures.last,
                                               figures.volume, figures.turnover, figures.trades)  # fmt: skip
        self._refresh_accounts()

    def _pull(self) -> None:
        for j, figures in enumerate(self.days.values()):
            (figures.open, figures.high, figures.low, figures.last, figures.volume, figures.turnover,
             figures.trades) = self.book_rows[j, B_OPEN : B_TRADES + 1].tolist()  # fmt: skip

    def _refresh_accounts(self) -> None:
        """Account status and position limits, which only registry operations change."""
        closed = self.ledger.closed
        for a, account in enumerate(self.accounts.values()):
            code: int
            if account.prohibited:
                code = Reject.PROHIBITED_PARTICIPANT
            elif account.id in closed:
                code = Reject.ACCOUNT_CLOSED
            elif account.kind not in TRADING_ACCOUNT_KINDS:
                code = Reject.ACCOUNT_CANNOT_TRADE
            else:
                code = 0
            self.account_codes[a] = code
            for j, instrument in enumerate(self.instruments):
                limit = self.risk.limit(account.id, instrument)
                self.risk_rows[a, j, R_LIMIT] = -1 if limit is None else limit
        self.stale = False

    def _lay_out(self) -> None:
        """Size every ladder to its band (and to any order resting outside it), keeping FIFO order."""
        if self.levels.shape[0]:
            resting = [ladder.canonical(self.orders, self.levels, self.book_rows, j) for j in range(len(self.days))]
        else:  # not laid out yet: nothing rests
            resting = [np.zeros(0, dtype=np.int64) for _ in self.days]
        rows, base = self.book_rows, 0
        for j, (code, figures) in enumerate(self.days.items()):
            lower, upper = self.band(code)
            prices = self.orders[resting[j], O_PRICE]
            low, high = min([lower, *prices.tolist()]), max([upper, *prices.tolist()])
            tick = self.instruments[code].tick_fen
            if any(p % tick for p in prices.tolist()) or low % tick:
                raise BookInvariantError(f"{code}: a resting price is not on the tick {tick}")
            n = (high - low) // tick + 1
            rows[j, B_LO], rows[j, B_TICK], rows[j, B_N] = low, tick, n
            rows[j, B_BID_BASE], rows[j, B_ASK_BASE] = base, base + n
            rows[j, B_BEST_BID] = rows[j, B_BEST_ASK] = -1
            rows[j, B_LIVE] = 0
            rows[j, B_LOWER], rows[j, B_UPPER] = lower, upper
            base += 2 * n
            self._laid_out_for[j] = figures.reference_price
        self.levels = aligned_zeros(base, LEVEL_FIELDS)
        self.levels[:, L_HEAD : L_TAIL + 1] = -1  # no order at any level
        for slots in resting:
            ladder.add_all(self.orders, self.levels, self.book_rows, slots)

    def _make_room(self, events_written: int) -> None:
        """Grow whatever the next command might not fit in (the kernel stops rather than overflow)."""
        p = self.params
        live = int(p[P_LIVE])
        if events_written + live + 4 > self.events.shape[0]:
            grown = np.zeros((2 * (events_written + live + 4), EVENT_FIELDS), dtype=np.int64)
            grown[:events_written] = self.events[:events_written]
            self.events = grown
        self.ledger.arrays.ensure_trade_room(live + 1)
        if p[P_FREE_TOP] < 1:
            self._grow_orders()
        if p[P_NEXT_ORDER] - p[P_ID_BASE] >= self.ids.shape[0]:
            self.ids = np.concatenate([self.ids, np.full_like(self.ids, -1)])

    def _grow_orders(self) -> None:
        """Double the order slots; the new ones go under the free ones still on the stack."""
        size, top = self.orders.shape[0], int(self.params[P_FREE_TOP])
        grown = aligned_zeros(2 * size)
        grown[:size] = self.orders
        self.orders = grown
        new = np.arange(2 * size - 1, size - 1, -1, dtype=np.int64)
        self.free = np.concatenate([new, self.free[:top], np.zeros(size - top, dtype=np.int64)])
        self.picked = np.empty(2 * size, dtype=np.int64)
        self.params[P_FREE_TOP] = top + size

    # ------------------------------------------------------------------ snapshots
    def restore_orders(self, records: list[OrderRecord], client_order_ids: Iterable[tuple[str, str]]) -> None:
        """Rest the orders of a snapshot (canonical order), with their freezes already in the ledger,
        and flag the client order ids used today; ``next_order_id`` is already restored."""
        next_order_id = self.next_order_id
        base = min([r.order_id for r in records], default=next_order_id)
        self.params[P_ID_BASE] = base
        self.ids = np.full(max(1024, 2 * (next_order_id - base + 1)), -1, dtype=np.int64)
        while self.params[P_FREE_TOP] < len(records) + 1:
            self._grow_orders()
        self._push()
        slots = []
        for record in records:
            top = int(self.params[P_FREE_TOP]) - 1
            self.params[P_FREE_TOP] = top
            slot = int(self.free[top])
            a, j = self.account_index[record.account], self.instrument_index[record.instrument]
            row = self.orders[slot]
            row[:] = 0
            row[O_ID], row[O_ACCT], row[O_INSTR], row[O_SIDE], row[O_TYPE] = (
                record.order_id, a, j, record.side, record.order_type)  # fmt: skip
            row[O_PRICE], row[O_LEAVES], row[O_STP], row[O_FREEZE] = (
                record.price, record.leaves, record.stp, record.freeze_price)  # fmt: skip
            row[O_FILLED], row[O_FCASH], row[O_FQTY], row[O_TVALUE] = (
                record.filled, record.frozen_cash, record.frozen_quantity, record.traded_value)  # fmt: skip
            row[O_COID] = self.intern(a, record.client_order_id)
            self.ids[record.order_id - base] = slot
            if record.side == Side.BUY:
                self.risk_rows[a, j, R_OPEN_BUYS] += record.leaves
            slots.append(slot)
        ladder.add_all(self.orders, self.levels, self.book_rows, np.array(slots, dtype=np.int64))
        self.params[P_LIVE] = len(slots)
        for account, client_order_id in client_order_ids:
            key = self.intern(self.account_index[account], client_order_id)  # may grow ``coids``
            self.coids[key] = 1

    def check(self) -> None:
        """Check every ladder against the order rows and the id index (debug and test aid)."""
        code = ladder.check(self.orders, self.levels, self.book_rows, self.ids, int(self.params[P_ID_BASE]))
        if code:
            raise BookInvariantError(f"fast book invariant {code} broken (engine.listing.fast.ladder.check)")
        if int(self.book_rows[:, B_LIVE].sum()) != int(self.params[P_LIVE]):
            raise BookInvariantError("resting order count disagrees with the books")
