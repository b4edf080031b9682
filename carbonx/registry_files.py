"""The regulator's input files for registry operations, read and checked into engine commands.

One file holds the rows of one operation (``allocate``, ``deposit``, ...; docs/REGISTRY.md). A
``.csv`` file has a header row (UTF-8, a BOM is tolerated, blank lines are ignored); a ``.toml``
file is an array of tables named after the operation (``[[allocate]]``). Every row is checked
before any command is built, and every bad row is reported, each on one line naming the file, the
line and the problem, so the regulator can fix the whole file in one pass: a batch is applied
whole or not at all. Numbers are exact: integers only, and CNY amounts are parsed as decimal text,
never through a float.

A file is applied once: ``load_registry_file`` hashes the bytes it parses (SHA-256), and the batch
starts with a ``RecordRegistryFile`` naming the operation, the digest and the file, which the
exchange refuses when it applied the same operation and content before (``--again`` overrides).
The digest is of the bytes, so the same rows written as CSV and as TOML are two different files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from carbonx.errors import CarbonxError
from engine.messages import (
    AllocateAllowances,
    CancelAllowances,
    CarryOverAllowances,
    Command,
    DepositCash,
    MergeAccounts,
    RecordRegistryFile,
    SplitAccount,
    SplitPart,
    SurrenderAllowances,
    Units,
    WithdrawCash,
)

# Far above any real allocation or account balance, and inside the journal's 64-bit integers.
MAX_WHOLE = 10**15
_WHOLE = re.compile(r"[+-]?[0-9]+")
_CNY = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]{1,2}))?")
_YEAR = re.compile(r"[0-9]{4}")

T = TypeVar("T")


class RegistryFileError(CarbonxError):
    """A registry file cannot be applied; ``problems`` holds one line per bad row (file:line: problem)."""

    def __init__(self, problems: Sequence[str], summary: str = "") -> None:
        self.problems = list(problems)
        lines = self.problems if len(self.problems) == 1 or not summary else [summary, *self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Entry:
    """One command to apply and where in the file it came from (``file:line``)."""

    where: str
    command: Command


@dataclass(frozen=True)
class Operation:
    name: str  # the subcommand and the TOML table name
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # a row gives exactly one of these

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.one_of + self.optional


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("allocate", ("account", "instrument", "quantity"), ("compliance_only",)),
        Operation("deposit", ("account",), one_of=("amount_fen", "amount_cny")),
        Operation("withdraw", ("account",), one_of=("amount_fen", "amount_cny")),
        Operation("surrender", ("account", "compliance_year", "verified_emissions")),
        Operation("cancel", ("account", "instrument", "quantity")),
        Operation("carry-over", ("account", "instrument", "quantity")),
        Operation("merge", ("account", "successor")),
        Operation("split", ("account", "to_account"), ("cash_fen", "instrument", "quantity")),
    )
}
# In a TOML split file: [[split]] account = ..., then [[split.part]] account, cash_fen, holdings.
SPLIT_TOML_KEYS = ("account", "part")
SPLIT_PART_KEYS = ("account", "cash_fen", "holdings")
HOLDING_KEYS = ("instrument", "quantity")


# ---------------------------------------------------------------------------------------------- values


class _Bad(Exception):
    """One value is wrong; the message is the problem, without the key."""


def _show(value: object) -> str:
    if isinstance(value, str):  # quoted and escaped: a cell with a line break stays on the one line
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected text, got {_show(value)}")
    return value.strip()


def _whole(value: object, unit: str) -> int:
    """A positive whole number: an integer cell or TOML integer; never a float, '1e3' or '1,000'."""
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _Bad(f"expected a whole number of {unit}, got {_show(value)}")
    if number <= 0:
        raise _Bad(f"must be positive, got {_show(value)}")
    if number > MAX_WHOLE:
        raise _Bad(f"too large, got {_show(value)}")
    return number


def _fen_from_cny(value: object) -> int:
    """CNY as decimal text with at most two decimals ('1234.50'), converted exactly to fen."""
    match = _CNY.fullmatch(value.strip()) if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        fen = value * 100
    elif match:
        sign, whole, cents = match.groups()
        fen = (-1 if sign == "-" else 1) * (int(whole) * 100 + int((cents or "").ljust(2, "0")))
    else:
        raise _Bad(f'expected CNY with at most two decimals such as "1234.50", got {_show(value)}')
    if fen <= 0:
        raise _Bad(f"must be positive, got {_show(value)}")
    if fen > MAX_WHOLE:
        raise _Bad(f"too large, got {_show(value)}")
    return fen


def _year(value: object) -> int:
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _YEAR.fullmatch(text):
        raise _Bad(f"expected a year such as 2025, got {_show(value)}")
    return int(text)


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Bad(f"expected true or false, got {_show(value)}")


class _Row:
    """The values of one row; each read records its problem and returns a stand-in, so all are found."""

    def __init__(self, where: str, values: Mapping[str, object]) -> None:
        self.where = where
        self.values = values
        self.problems: list[str] = []

    def _read(self, key: str, parse: Callable[[object], T], absent: T, required: bool = True) -> T:
        value = self.values.get(key)
        if _absent(value):
            if required:
                self.problems.append(f"{self.where}: {key}: missing")
            return absent
        try:
            return parse(value)
        except _Bad as bad:
            self.problems.append(f"{self.where}: {key}: {bad}")
            return absent

    def text(self, key: str) -> str:
        return self._read(key, _text, "")

    def tonnes(self, key: str, required: bool = True) -> int:
        return self._read(key, lambda v: _whole(v, "tonnes"), 0, required)

    def fen(self, key: str, required: bool = True) -> int:
        return self._read(key, lambda v: _whole(v, "fen"), 0, required)

    def year(self, key: str) -> int:
        return self._read(key, _year, 0)

    def flag(self, key: str) -> bool:
        return self._read(key, _flag, False, required=False)

    def has(self, key: str) -> bool:
        return not _absent(self.values.get(key))

    def amount(self) -> int:
        """The row's money in fen: from ``amount_fen`` or ``amount_cny``, exactly one of them."""
        given = [key for key in ("amount_fen", "amount_cny") if self.has(key)]
        if len(given) != 1:
            problem = "give only one of amount_fen and amount_cny" if given else "missing (amount_fen or amount_cny)"
            self.problems.append(f"{self.where}: amount: {problem}")
            return 0
        if given == ["amount_fen"]:
            return self.fen("amount_fen")
        return self._read("amount_cny", _fen_from_cny, 0)


# ---------------------------------------------------------------------------------------------- commands


def _allocate(row: _Row) -> Command:
    return AllocateAllowances(
        account=row.text("account"),
        instrument=row.text("instrument"),
        quantity=row.tonnes("quantity"),
        compliance_only=row.flag("compliance_only"),
    )


def _deposit(row: _Row) -> Command:
    return DepositCash(account=row.text("account"), amount=row.amount())


def _withdraw(row: _Row) -> Command:
    return WithdrawCash(account=row.text("account"), amount=row.amount())


def _surrender(row: _Row) -> Command:
    return SurrenderAllowances(
        account=row.text("account"),
        compliance_year=row.year("compliance_year"),
        verified_emissions=row.tonnes("verified_emissions"),
    )


def _cancel(row: _Row) -> Command:
    return CancelAllowances(
        account=row.text("account"), instrument=row.text("instrument"), quantity=row.tonnes("quantity")
    )


def _carry_over(row: _Row) -> Command:
    return CarryOverAllowances(
        account=row.text("account"), instrument=row.text("instrument"), quantity=row.tonnes("quantity")
    )


def _merge(row: _Row) -> Command:
    return MergeAccounts(account=row.text("account"), successor=row.text("successor"))


BUILDERS: dict[str, Callable[[_Row], Command]] = {
    "allocate": _allocate,
    "deposit": _deposit,
    "withdraw": _withdraw,
    "surrender": _surrender,
    "cancel": _cancel,
    "carry-over": _carry_over,
    "merge": _merge,
}


@dataclass
class _SplitGroup:
    """One source account's split being assembled: its parts in the order the file names them."""

    where: str
    account: str
    parts: dict[str, tuple[int, list[Units]]] = field(default_factory=dict)


def _add_holding(row: _Row, holdings: list[Units], instrument: str, quantity: int) -> None:
    # The engine moves each named instrument once per part; a repeat would be a typing slip.
    if any(units.instrument == instrument for units in holdings):
        row.problems.append(f"{row.where}: instrument: {instrument} named twice for the same part")
        return
    holdings.append(Units(instrument=instrument, quantity=quantity))


def _split_rows(rows: Iterator[_Row], problems: list[str]) -> list[Entry]:
    """CSV split rows grouped by (account, to_account) in file order: one SplitAccount per source account."""
    groups: dict[str, _SplitGroup] = {}
    for row in rows:
        account, to_account = row.text("account"), row.text("to_account")
        cash = row.fen("cash_fen", required=False)
        instrument = row.text("instrument") if row.has("instrument") else ""
        quantity = row.tonnes("quantity", required=instrument != "")
        if row.has("quantity") and not instrument:
            row.problems.append(f"{row.where}: instrument: missing (quantity is given)")
        if not row.has("cash_fen") and not row.has("instrument") and not row.has("quantity"):
            row.problems.append(f"{row.where}: nothing to pass on: give cash_fen, or instrument and quantity")
        group = groups.setdefault(account, _SplitGroup(row.where, account))
        part_cash, holdings = group.parts.get(to_account, (0, []))
        if cash and part_cash:
            row.problems.append(f"{row.where}: cash_fen: given twice for {account} to {to_account}")
        if instrument:
            _add_holding(row, holdings, instrument, quantity)
        group.parts[to_account] = (part_cash or cash, holdings)
        problems += row.problems
    return [_split_entry(group) for group in groups.values()]


def _split_entry(group: _SplitGroup) -> Entry:
    parts = [SplitPart(account=a, cash=cash, holdings=holdings) for a, (cash, holdings) in group.parts.items()]
    return Entry(group.where, SplitAccount(account=group.account, parts=parts))


# ---------------------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class RegistryFile:
    """A checked registry file: its rows and the digest of exactly the bytes they were read from."""

    path: Path
    operation: str
    sha256: str
    entries: list[Entry]

    def commands(self, again: bool = False) -> list[Command]:
        """The batch to apply: the file's record first, then its rows' commands in file order."""
        op, name, n = self.operation, self.path.name, len(self.entries)
        record = RecordRegistryFile(operation=op, sha256=self.sha256, name=name, commands=n, again=again)
        return [record, *(entry.command for entry in self.entries)]


def load_registry_file(path: Path, operation: str) -> RegistryFile:
    """Read ``path`` once, hash its bytes and check every row; ``RegistryFileError`` lists every problem."""
    if not path.is_file():
        raise RegistryFileError([f"{path}: no such file"])
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".toml"):
        raise RegistryFileError([f"{path}: unsupported file type {suffix or '(none)'!r}: use .csv or .toml"])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryFileError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    # As a file opened in text mode reads it: \r\n and \r are line breaks.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    entries = _entries(path, OPERATIONS[operation], text)
    return RegistryFile(path=path, operation=operation, sha256=hashlib.sha256(raw).hexdigest(), entries=entries)


def read_registry_file(path: Path, operation: str) -> list[Entry]:
    """Read and check every row of ``path``; raise ``RegistryFileError`` listing every problem."""
    return load_registry_file(path, operation).entries


def _entries(path: Path, op: Operation, text: str) -> list[Entry]:
    suffix = path.suffix.lower()
    problems: list[str] = []
    if suffix == ".toml" and op.name == "split":
        return _checked(path, _toml_splits(path, text, problems), problems)
    # Rows are read and built one by one, so the problems come out in the file's order.
    rows = _csv_rows(path, text, op, problems) if suffix == ".csv" else _toml_rows(path, text, op, problems)
    if op.name == "split":
        return _checked(path, _split_rows(rows, problems), problems)
    entries = []
    for row in rows:
        command = BUILDERS[op.name](row)
        problems += row.problems
        entries.append(Entry(row.where, command))
    return _checked(path, entries, problems)


def _checked(path: Path, entries: list[Entry], problems: list[str]) -> list[Entry]:
    if problems:
        raise RegistryFileError(problems, f"{path}: {len(problems)} problems; nothing applied")
    if not entries:
        raise RegistryFileError([f"{path}: no rows: nothing to apply"])
    return entries


def _csv_rows(path: Path, text: str, op: Operation, problems: list[str]) -> Iterator[_Row]:
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    header: list[str] | None = None
    header_line = 0
    try:
        while True:
            line = reader.line_num + 1  # where this record starts: a quoted cell may span lines
            cells = next(reader, None)
            if cells is None:
                return
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header, header_line = [cell.strip().lower() for cell in cells], line
                if bad := _header_problems(header, op):
                    problems += [f"{path}:{line}: {problem}" for problem in bad]
                    return
                continue
            if len(cells) != len(header):
                problems.append(
                    f"{path}:{line}: {len(cells)} cells, but the header (line {header_line}) has {len(header)}"
                )
                continue
            yield _Row(f"{path}:{line}", dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        problems.append(f"{path}:{reader.line_num}: unreadable CSV: {exc}")


def _header_problems(header: list[str], op: Operation) -> list[str]:
    expected = ", ".join(op.columns)
    problems = [f'unknown column "{c}" (expected {expected})' for c in header if c not in op.columns]
    problems += [f'column "{c}" appears twice' for c in sorted(set(header)) if header.count(c) > 1]
    problems += [f'missing column "{c}" (expected {expected})' for c in op.required if c not in header]
    if op.one_of and not any(c in header for c in op.one_of):
        problems.append(f"missing column: one of {' or '.join(op.one_of)} (expected {expected})")
    return problems


def _load_toml(path: Path, text: str, table: str) -> list[object]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryFileError([f"{path}: invalid TOML: {exc}"]) from None
    unknown = [key for key in document if key != table]
    if unknown:
        raise RegistryFileError(
            [f"{path}: unknown table or key {unknown[0]!r}: a registry {table} file holds only [[{table}]] tables"]
        )
    tables = document.get(table)
    if tables is None:
        raise RegistryFileError([f"{path}: no [[{table}]] tables: nothing to apply"])
    if not isinstance(tables, list):
        raise RegistryFileError([f"{path}: {table} must be an array of tables, written [[{table}]]"])
    return tables


def _header_lines(text: str, table: str) -> list[int]:
    header = re.compile(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]\s*(#.*)?")
    return [n for n, line in enumerate(text.splitlines(), 1) if header.fullmatch(line)]


def _toml_tables(path: Path, text: str, table: str, problems: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    """Each table with where it starts: its header's line, or its index when the lines cannot be matched."""
    tables = _load_toml(path, text, table)
    lines = _header_lines(text, table)
    for index, values in enumerate(tables):
        where = f"{path}:{lines[index]}" if len(lines) == len(tables) else f"{path}: [[{table}]] #{index + 1}"
        if not isinstance(values, dict):
            problems.append(f"{where}: expected a table, got {_show(values)}")
            continue
        yield where, values


def _unknown_keys(where: str, values: Mapping[str, object], allowed: Sequence[str]) -> list[str]:
    expected = ", ".join(allowed)
    return [f"{where}: {key}: unknown key (expected {expected})" for key in values if key not in allowed]


def _toml_rows(path: Path, text: str, op: Operation, problems: list[str]) -> Iterator[_Row]:
    for where, values in _toml_tables(path, text, op.name, problems):
        problems += _unknown_keys(where, values, op.columns)
        yield _Row(where, values)


def _toml_splits(path: Path, text: str, problems: list[str]) -> list[Entry]:
    """Each [[split]] table is one SplitAccount; its [[split.part]] tables are the parts, in order."""
    tables = list(_toml_tables(path, text, "split", problems))
    part_lines = _split_part_lines(text)
    entries = []
    for index, (where, values) in enumerate(tables):
        split = _Row(where, values)
        split.problems += _unknown_keys(where, values, SPLIT_TOML_KEYS)
        account = split.text("account")
        given = values.get("part")
        if not isinstance(given, list) or not given:
            split.problems.append(f"{where}: part: missing (add [[split.part]] tables)")
            given = []
        lines = part_lines[index] if len(part_lines) == len(tables) else []
        parts = []
        for number, values_of_part in enumerate(given, 1):
            part_where = f"{path}:{lines[number - 1]}" if len(lines) == len(given) else f"{where}: part #{number}"
            if not isinstance(values_of_part, dict):
                split.problems.append(f"{part_where}: expected a [[split.part]] table, got {_show(values_of_part)}")
                continue
            part = _Row(part_where, values_of_part)
            parts.append(_toml_part(part))
            split.problems += part.problems
        problems += split.problems
        entries.append(Entry(where, SplitAccount(account=account, parts=parts)))
    return entries


def _split_part_lines(text: str) -> list[list[int]]:
    """The lines of each [[split]] table's [[split.part]] headers, in order."""
    split = re.compile(r"\s*\[\[\s*split\s*\]\]\s*(#.*)?")
    part = re.compile(r"\s*\[\[\s*split\s*\.\s*part\s*\]\]\s*(#.*)?")
    found: list[list[int]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if split.fullmatch(line):
            found.append([])
        elif part.fullmatch(line) and found:
            found[-1].append(n)
    return found


def _toml_part(row: _Row) -> SplitPart:
    row.problems += _unknown_keys(row.where, row.values, SPLIT_PART_KEYS)
    account = row.text("account")
    cash = row.fen("cash_fen", required=False)
    holdings: list[Units] = []
    given = row.values.get("holdings", [])
    if not isinstance(given, list):
        row.problems.append(f"{row.where}: holdings: expected a list such as [{{instrument = ..., quantity = ...}}]")
        given = []
    for number, item in enumerate(given, 1):
        units = _Row(f"{row.where}: holdings #{number}", item if isinstance(item, dict) else {})
        units.problems += _unknown_keys(units.where, units.values, HOLDING_KEYS)
        instrument, quantity = units.text("instrument"), units.tonnes("quantity")
        row.problems += units.problems
        _add_holding(row, holdings, instrument, quantity)
    if not cash and not holdings and not row.problems:
        row.problems.append(f"{row.where}: nothing to pass on: give cash_fen or holdings")
    return SplitPart(account=account, cash=cash, holdings=holdings)
