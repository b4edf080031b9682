"""The end-of-day database: the engine's end-of-day events kept in SQLite for reports.

The database (``carbonx.db`` in the node's data directory) is a projection of the journal, not a
second source of truth: the boundary records the events of an applied ``EndOfDay`` after the
journal holds the command, and recording a trading day again replaces that day's rows, so a
replay of the journal rebuilds the same rows. Money in fen, prices in fen per tonne, quantities
in tonnes: integers only. docs/DATABASE.md describes every table and column.

The schema is created and upgraded at start-up by ``MIGRATIONS``, an ordered list of SQL scripts,
each applied in its own transaction; ``PRAGMA user_version`` counts the scripts applied. A database
written by a newer carbonx (a higher user_version) is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec
import structlog

from carbonx.errors import CarbonxError
from engine.messages import (
    AccountStatement,
    ConservationChecked,
    DailyBulletin,
    Event,
    LargeHolderReported,
    MemberSettlement,
    TradingDayEnded,
)
from settlement.statements import CashStatement, ConservationMismatch, HoldingStatement, StatementTrade

DB_FILE = "carbonx.db"

# Append only: a released script is never edited, since databases already carry its user_version.
MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE trading_days (
    trading_day INTEGER PRIMARY KEY,
    ts_event INTEGER NOT NULL,
    expired_orders INTEGER NOT NULL,
    fees_collected INTEGER NOT NULL,
    conservation_ok INTEGER NOT NULL CHECK (conservation_ok IN (0, 1))
) STRICT;
CREATE TABLE bulletins (
    trading_day INTEGER NOT NULL REFERENCES trading_days (trading_day),
    instrument TEXT NOT NULL,
    reference_price INTEGER NOT NULL,
    open INTEGER NOT NULL,
    high INTEGER NOT NULL,
    low INTEGER NOT NULL,
    last INTEGER NOT NULL,
    close INTEGER NOT NULL,
    vwap INTEGER NOT NULL,
    volume INTEGER NOT NULL,
    turnover INTEGER NOT NULL,
    trades INTEGER NOT NULL,
    PRIMARY KEY (trading_day, instrument)
) STRICT;
CREATE TABLE cash_statements (
    trading_day INTEGER NOT NULL REFERENCES trading_days (trading_day),
    account TEXT NOT NULL,
    member TEXT NOT NULL,
    opening INTEGER NOT NULL,
    deposits INTEGER NOT NULL,
    withdrawals INTEGER NOT NULL,
    bought INTEGER NOT NULL,
    sold INTEGER NOT NULL,
    fees_paid INTEGER NOT NULL,
    fees_received INTEGER NOT NULL,
    transferred_in INTEGER NOT NULL,
    transferred_out INTEGER NOT NULL,
    closing INTEGER NOT NULL,
    closing_frozen INTEGER NOT NULL,
    released INTEGER NOT NULL,
    withdrawable INTEGER NOT NULL,
    PRIMARY KEY (trading_day, account)
) STRICT;
CREATE INDEX cash_statements_by_account ON cash_statements (account, trading_day);
CREATE INDEX cash_statements_by_member ON cash_statements (member, trading_day);
CREATE TABLE holding_statements (
    trading_day INTEGER NOT NULL,
    account TEXT NOT NULL,
    instrument TEXT NOT NULL,
    opening INTEGER NOT NULL,
    allocated INTEGER NOT NULL,
    bought INTEGER NOT NULL,
    sold INTEGER NOT NULL,
    surrendered INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    carried_in INTEGER NOT NULL,
    carried_out INTEGER NOT NULL,
    transferred_in INTEGER NOT NULL,
    transferred_out INTEGER NOT NULL,
    closing INTEGER NOT NULL,
    closing_compliance INTEGER NOT NULL,
    released_restricted INTEGER NOT NULL,
    PRIMARY KEY (trading_day, account, instrument),
    FOREIGN KEY (trading_day, account) REFERENCES cash_statements (trading_day, account)
) STRICT;
CREATE INDEX holding_statements_by_account ON holding_statements (account, instrument, trading_day);
CREATE TABLE statement_trades (
    trading_day INTEGER NOT NULL,
    account TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    instrument TEXT NOT NULL,
    side INTEGER NOT NULL CHECK (side IN (1, 2)),
    price INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    value INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    PRIMARY KEY (trading_day, account, trade_id, side),
    FOREIGN KEY (trading_day, account) REFERENCES cash_statements (trading_day, account)
) STRICT;
CREATE INDEX statement_trades_by_account ON statement_trades (account, trading_day);
CREATE INDEX statement_trades_by_trade ON statement_trades (trade_id);
CREATE TABLE member_settlements (
    trading_day INTEGER NOT NULL REFERENCES trading_days (trading_day),
    member TEXT NOT NULL,
    bought INTEGER NOT NULL,
    sold INTEGER NOT NULL,
    fees_paid INTEGER NOT NULL,
    fees_received INTEGER NOT NULL,
    net INTEGER NOT NULL,
    PRIMARY KEY (trading_day, member)
) STRICT;
CREATE TABLE large_holders (
    trading_day INTEGER NOT NULL REFERENCES trading_days (trading_day),
    account TEXT NOT NULL,
    member TEXT NOT NULL,
    instrument TEXT NOT NULL,
    holding INTEGER NOT NULL,
    threshold INTEGER NOT NULL,
    PRIMARY KEY (trading_day, account, instrument)
) STRICT;
CREATE TABLE conservation_mismatches (
    trading_day INTEGER NOT NULL REFERENCES trading_days (trading_day),
    asset TEXT NOT NULL,
    expected INTEGER NOT NULL,
    actual INTEGER NOT NULL,
    difference INTEGER NOT NULL,
    PRIMARY KEY (trading_day, asset)
) STRICT;
""",
    # 2: agreement transfers (bulk trades). The bulletin counts them apart from the listing; a
    # statement's trade says its method, which joins the primary key: a transfer's id (its
    # transfer_id) is numbered apart from the listing's trade ids, so both may be 1. SQLite cannot
    # change a primary key in place: the table is copied. Days recorded before had no transfers.
    """
ALTER TABLE bulletins ADD COLUMN bulk_volume INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulletins ADD COLUMN bulk_turnover INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulletins ADD COLUMN bulk_trades INTEGER NOT NULL DEFAULT 0;
CREATE TABLE statement_trades_2 (
    trading_day INTEGER NOT NULL,
    account TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    instrument TEXT NOT NULL,
    side INTEGER NOT NULL CHECK (side IN (1, 2)),
    price INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    value INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    method INTEGER NOT NULL DEFAULT 0 CHECK (method IN (0, 1)),
    PRIMARY KEY (trading_day, account, method, trade_id, side),
    FOREIGN KEY (trading_day, account) REFERENCES cash_statements (trading_day, account)
) STRICT;
INSERT INTO statement_trades_2 (trading_day, account, trade_id, instrument, side, price, quantity, value, fee)
    SELECT trading_day, account, trade_id, instrument, side, price, quantity, value, fee FROM statement_trades;
DROP TABLE statement_trades;
ALTER TABLE statement_trades_2 RENAME TO statement_trades;
CREATE INDEX statement_trades_by_account ON statement_trades (account, trading_day);
CREATE INDEX statement_trades_by_trade ON statement_trades (trade_id);
""",
    # 3: sealed-bid auctions. An allocation is a statement trade of method 2 (settlement.arrays
    # METHOD_AUCTION, trade id = bid id), which migration 2's CHECK refused: an end of day with a
    # cleared auction could not be recorded. The table is copied with the CHECK widened.
    """
CREATE TABLE statement_trades_3 (
    trading_day INTEGER NOT NULL,
    account TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    instrument TEXT NOT NULL,
    side INTEGER NOT NULL CHECK (side IN (1, 2)),
    price INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    value INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    method INTEGER NOT NULL DEFAULT 0 CHECK (method IN (0, 1, 2)),
    PRIMARY KEY (trading_day, account, method, trade_id, side),
    FOREIGN KEY (trading_day, account) REFERENCES cash_statements (trading_day, account)
) STRICT;
INSERT INTO statement_trades_3 SELECT trading_day, account, trade_id, instrument, side, price, quantity, value, fee,
    method FROM statement_trades;
DROP TABLE statement_trades;
ALTER TABLE statement_trades_3 RENAME TO statement_trades;
CREATE INDEX statement_trades_by_account ON statement_trades (account, trading_day);
CREATE INDEX statement_trades_by_trade ON statement_trades (trade_id);
""",
)
SCHEMA_VERSION = len(MIGRATIONS)

END_OF_DAY_EVENTS = (
    DailyBulletin,
    AccountStatement,
    MemberSettlement,
    LargeHolderReported,
    ConservationChecked,
    TradingDayEnded,
)


def _event_fields(event_type: type[Event]) -> tuple[str, ...]:
    return tuple(f for f in event_type.__struct_fields__ if f not in ("version", "ts_event"))


# The columns of each table, in the order of the Struct fields they hold (the migration must agree;
# the round-trip tests check it). Children first: a day's rows are deleted in this order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "statement_trades": ("trading_day", "account", *StatementTrade.__struct_fields__),
    "holding_statements": ("trading_day", "account", *HoldingStatement.__struct_fields__),
    "cash_statements": ("trading_day", "account", "member", *CashStatement.__struct_fields__),
    "bulletins": _event_fields(DailyBulletin),
    "member_settlements": _event_fields(MemberSettlement),
    "large_holders": _event_fields(LargeHolderReported),
    "conservation_mismatches": ("trading_day", *ConservationMismatch.__struct_fields__),
    "trading_days": ("trading_day", "ts_event", "expired_orders", "fees_collected", "conservation_ok"),
}
_INSERT_ORDER = tuple(reversed(COLUMNS))

Row = tuple[Any, ...]


class StatementStoreError(CarbonxError):
    """The database cannot be opened or is of an unknown (newer) schema; the message names the file."""


class StatementStore:
    """The end-of-day tables of one data directory. Open with ``StatementStore.open(path)``."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> StatementStore:
        """Open (creating it if needed) and migrate the database at ``path``."""
        try:
            # isolation_level=None: transactions are the explicit BEGIN ... COMMIT below, nothing implicit.
            connection = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StatementStoreError(f"{path}: cannot open the end-of-day database: {exc}") from None
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a recorded end of day survives a power cut, as the journal it comes from does.
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            _migrate(connection, path)
        except sqlite3.Error as exc:
            connection.close()
            raise StatementStoreError(f"{path}: not a usable carbonx end-of-day database: {exc}") from None
        except BaseException:
            connection.close()
            raise
        return cls(path, connection)

    @classmethod
    def open_read_only(cls, path: Path) -> StatementStore:
        """Open an existing database for reading only (the public website): nothing is created,
        migrated or written, and the node writing beside it is never blocked (WAL readers)."""
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise StatementStoreError(f"{path}: cannot open the end-of-day database: {exc}") from None
        try:
            version = _user_version(connection)
            if version != SCHEMA_VERSION:
                newer = "newer than this carbonx knows" if version > SCHEMA_VERSION else "older: start the node on it"
                raise StatementStoreError(f"{path}: database schema version {version} is {newer} ({SCHEMA_VERSION})")
        except sqlite3.Error as exc:
            connection.close()
            raise StatementStoreError(f"{path}: not a usable carbonx end-of-day database: {exc}") from None
        except BaseException:
            connection.close()
            raise
        return cls(path, connection)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StatementStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def record(self, events: Sequence[Event]) -> list[int]:
        """Write the end-of-day events among ``events``, one transaction per trading day; other events
        are ignored. A day recorded before is replaced, so recording the same events twice leaves the
        same rows. Returns the trading days written, in order."""
        days: dict[int, list[Event]] = {}
        for event in events:
            if isinstance(event, END_OF_DAY_EVENTS):
                days.setdefault(event.trading_day, []).append(event)
        for day, day_events in sorted(days.items()):
            rows, checked = _day_rows(day, day_events)
            if not checked.ok:
                _alarm(checked)
            self._replace_day(day, rows)
        return sorted(days)

    def _replace_day(self, day: int, rows: dict[str, list[Row]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table in COLUMNS:
                self._db.execute(f"DELETE FROM {table} WHERE trading_day = ?", (day,))
            for table in _INSERT_ORDER:
                columns = COLUMNS[table]
                marks = ", ".join("?" * len(columns))
                self._db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows[table])
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ reading
    def trading_days(self) -> list[int]:
        """Every trading day with a recorded end of day (YYYYMMDD), oldest first."""
        return [day for (day,) in self._db.execute("SELECT trading_day FROM trading_days ORDER BY trading_day")]

    def latest_trading_day(self) -> int | None:
        """The newest trading day with a recorded end of day (YYYYMMDD); None when none is."""
        day: int | None = self._db.execute("SELECT MAX(trading_day) FROM trading_days").fetchone()[0]
        return day

    def day_ended(self, day: int) -> TradingDayEnded | None:
        row = self._db.execute(
            "SELECT ts_event, expired_orders, fees_collected FROM trading_days WHERE trading_day = ?", (day,)
        ).fetchone()
        if row is None:
            return None
        ts, expired, fees = row
        return TradingDayEnded(ts_event=ts, trading_day=day, expired_orders=expired, fees_collected=fees)

    def conservation(self, day: int) -> ConservationChecked | None:
        row = self._db.execute(
            "SELECT ts_event, conservation_ok FROM trading_days WHERE trading_day = ?", (day,)
        ).fetchone()
        if row is None:
            return None
        mismatches = [
            ConservationMismatch(**_named(COLUMNS["conservation_mismatches"], r, skip=1))
            for r in self._select("conservation_mismatches", day, order="asset")
        ]
        return ConservationChecked(ts_event=row[0], trading_day=day, ok=bool(row[1]), mismatches=mismatches)

    def bulletins(self, day: int) -> list[DailyBulletin]:
        """The day's bulletin, one per instrument, in instrument order."""
        ts = self._ts(day)
        return [
            DailyBulletin(ts_event=ts, **_named(COLUMNS["bulletins"], r))
            for r in self._select("bulletins", day, order="instrument")
        ]

    def member_settlements(self, day: int) -> list[MemberSettlement]:
        ts = self._ts(day)
        return [
            MemberSettlement(ts_event=ts, **_named(COLUMNS["member_settlements"], r))
            for r in self._select("member_settlements", day, order="member")
        ]

    def large_holders(self, day: int) -> list[LargeHolderReported]:
        ts = self._ts(day)
        return [
            LargeHolderReported(ts_event=ts, **_named(COLUMNS["large_holders"], r))
            for r in self._select("large_holders", day, order="account, instrument")
        ]

    def accounts(self, day: int) -> list[str]:
        """The accounts with a statement on ``day``, in order."""
        query = "SELECT account FROM cash_statements WHERE trading_day = ? ORDER BY account"
        return [account for (account,) in self._db.execute(query, (day,))]

    def statements(self, day: int, account: str | None = None) -> list[AccountStatement]:
        """The day's account statements (or just ``account``'s), in account order, each with its
        holdings in instrument order and its trades in trade order: the listing's by trade id, then
        the agreement transfers by transfer id (``StatementTrade.method``)."""
        holdings: dict[str, list[HoldingStatement]] = {}
        for r in self._select("holding_statements", day, account, order="account, instrument"):
            holdings.setdefault(r[1], []).append(HoldingStatement(**_named(COLUMNS["holding_statements"], r, skip=2)))
        trades: dict[str, list[StatementTrade]] = {}
        for r in self._select("statement_trades", day, account, order="account, method, trade_id, side"):
            trades.setdefault(r[1], []).append(StatementTrade(**_named(COLUMNS["statement_trades"], r, skip=2)))
        ts = self._ts(day)
        return [
            AccountStatement(
                ts_event=ts,
                trading_day=day,
                account=r[1],
                member=r[2],
                cash=CashStatement(**_named(COLUMNS["cash_statements"], r, skip=3)),
                holdings=holdings.get(r[1], []),
                trades=trades.get(r[1], []),
            )
            for r in self._select("cash_statements", day, account, order="account")
        ]

    def _ts(self, day: int) -> int:
        ended = self.day_ended(day)
        return 0 if ended is None else ended.ts_event

    def _select(self, table: str, day: int, account: str | None = None, *, order: str) -> Iterable[Row]:
        # Table, column and order names come from this module's constants, never from a caller's input.
        where = "trading_day = ?" + ("" if account is None else " AND account = ?")
        params: tuple[object, ...] = (day,) if account is None else (day, account)
        query = f"SELECT {', '.join(COLUMNS[table])} FROM {table} WHERE {where} ORDER BY {order}"
        return list(self._db.execute(query, params))


def _named(columns: tuple[str, ...], row: Row, skip: int = 0) -> dict[str, Any]:
    return dict(zip(columns[skip:], row[skip:], strict=True))


def _day_rows(day: int, events: list[Event]) -> tuple[dict[str, list[Row]], ConservationChecked]:
    """The rows of every table for one day's end-of-day events."""
    ended = [e for e in events if isinstance(e, TradingDayEnded)]
    checked = [e for e in events if isinstance(e, ConservationChecked)]
    if len(ended) != 1 or len(checked) != 1:
        # The engine emits the whole end of day from one command; a part of it is a bug at the boundary.
        raise ValueError(
            f"end of day {day}: need exactly one TradingDayEnded and one ConservationChecked, "
            f"got {len(ended)} and {len(checked)}"
        )
    end, check = ended[0], checked[0]
    rows: dict[str, list[Row]] = {table: [] for table in COLUMNS}
    rows["trading_days"].append((day, end.ts_event, end.expired_orders, end.fees_collected, int(check.ok)))
    rows["conservation_mismatches"] += [(day, *msgspec.structs.astuple(m)) for m in check.mismatches]
    for event in events:
        if isinstance(event, AccountStatement):
            rows["cash_statements"].append((day, event.account, event.member, *msgspec.structs.astuple(event.cash)))
            rows["holding_statements"] += [(day, event.account, *msgspec.structs.astuple(h)) for h in event.holdings]
            rows["statement_trades"] += [(day, event.account, *msgspec.structs.astuple(t)) for t in event.trades]
        elif isinstance(event, DailyBulletin):
            rows["bulletins"].append(_values(event, "bulletins"))
        elif isinstance(event, MemberSettlement):
            rows["member_settlements"].append(_values(event, "member_settlements"))
        elif isinstance(event, LargeHolderReported):
            rows["large_holders"].append(_values(event, "large_holders"))
    return rows, check


def _values(event: Event, table: str) -> Row:
    return tuple(getattr(event, column) for column in COLUMNS[table])


def _alarm(checked: ConservationChecked) -> None:
    """The boundary's alarm: balances that do not add up halt the market and need an operator now."""
    structlog.get_logger().critical(
        "conservation_check_failed",
        trading_day=checked.trading_day,
        mismatches=[msgspec.structs.asdict(m) for m in checked.mismatches],
    )


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Apply the scripts the database has not seen yet, each with its version in one transaction."""
    version = _user_version(connection)
    if version > SCHEMA_VERSION:
        raise StatementStoreError(
            f"{path}: database schema version {version} is newer than this carbonx knows "
            f"({SCHEMA_VERSION}); use the carbonx that wrote it or a newer one"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if _user_version(connection) < target:
                for statement in _statements(MIGRATIONS[target - 1]):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {target}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


def _user_version(connection: sqlite3.Connection) -> int:
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def _statements(script: str) -> list[str]:
    """A script as its statements (``executescript`` would commit our open transaction first)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"migration script ends inside a statement: {pending.strip()[:60]!r}")
    return statements
