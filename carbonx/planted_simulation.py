"""``carbonx simulate --with-manipulation``: the planted-manipulation market, journaled in a data directory.

The planted market's own config (``surveillance.planted.planted_config``: 60 members, 200+ accounts,
not config/) is checked as a config directory would be, recorded with the journal, and run through
``surveillance.planted.run_planted``: three trading days of honest flow with every surveillance
pattern planted. The data directory is prepared as ``carbonx simulate`` prepares its own (a running
node's is refused; ``overwrite`` replaces an earlier simulation's), and it is left as a node would
leave it: the journal, each end of day in the statements database, a snapshot, and beside them the
ground truth, ``planted-cases.json``, for `carbonx surveil ingest --data-dir DIR` and
`carbonx surveil alerts --data-dir DIR` to be measured against.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from carbonx.config import load_config
from carbonx.errors import ConfigError
from carbonx.simulation import SimulationError, prepare_data_dir
from carbonx.statements_db import DB_FILE, StatementStore
from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.journal import write_snapshot
from engine.recovery import record_config
from surveillance.planted import LABELS_FILE, ORDERS_PER_DAY, PlantedRun, planted_config, run_planted, write_labels


class PlantedSimulation(msgspec.Struct, kw_only=True):
    run: PlantedRun
    seed: int
    data_dir: Path
    labels: Path
    database: Path


def check_config(config: ExchangeConfig) -> None:
    """Put ``config`` through every check ``carbonx.config`` makes of a config directory.

    Written out as the TOML files of a config directory and loaded back: a problem is the
    ``ConfigError`` the same files in config/ would raise, and what loads must be ``config`` itself.
    (msgspec encodes TOML only with tomli_w, which carbonx does not depend on: ``_toml`` writes it.)
    """
    files: dict[str, Any] = {
        "instruments.toml": {"instrument": config.instruments},
        "members.toml": {"member": config.members, "account": config.accounts},
        "calendar.toml": config.calendar,
        "fees.toml": config.fees,
        "limits.toml": {"listing": config.listing, "transfer": config.transfer, "risk": config.risk},
        "registry.toml": config.registry,
        "auctions.toml": {"auction": config.auction},
    }
    with tempfile.TemporaryDirectory(prefix="carbonx-planted-config-") as directory:
        for name, content in files.items():
            builtins = msgspec.to_builtins(content, builtin_types=(dt.date, dt.time))
            (Path(directory) / name).write_text(_toml(builtins), encoding="utf-8")
        loaded = load_config(directory).exchange
    if loaded != config:
        raise ConfigError("the planted config does not read back from its own TOML files unchanged")


def _toml(table: dict[str, Any], prefix: str = "") -> str:
    """A TOML document of plain values: scalars first, then sub-tables and arrays of tables."""
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items() if not _is_table(v)]
    for key, value in table.items():
        name = f"{prefix}{json.dumps(key)}"
        if isinstance(value, dict):
            lines += ["", f"[{name}]", _toml(value, name + ".")]
        elif _is_table(value):
            for entry in value:
                lines += ["", f"[[{name}]]", _toml(entry, name + ".")]
    return "\n".join(lines) + "\n"


def _is_table(value: object) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and bool(value) and isinstance(value[0], dict))


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)  # int, or str: a JSON string is a TOML basic string


def run_planted_simulation(
    data_dir: Path,
    *,
    seed: int,
    first_day: dt.date,
    orders_per_day: int = ORDERS_PER_DAY,
    overwrite: bool = False,
    fsync: bool = True,
) -> PlantedSimulation:
    config = planted_config(seed)
    check_config(config)
    if not config.calendar.is_trading_day(first_day):
        raise SimulationError(f"{first_day} is not a trading day of the calendar (weekend or holiday)")
    exchange = Exchange(config)
    with prepare_data_dir(data_dir, overwrite, fsync) as journal:
        record_config(data_dir, config)
        (data_dir / LABELS_FILE).unlink(missing_ok=True)  # an earlier run's labels: written anew at the end
        # The database is a projection of the journal: each end of day is written once it is
        # journaled, and the snapshot after the last, so a snapshot never covers a day it lacks.
        with StatementStore.open(data_dir / DB_FILE) as store:
            run = run_planted(
                config,
                journal,
                seed=seed,
                first_day=first_day,
                orders_per_day=orders_per_day,
                exchange=exchange,
                on_end_of_day=store.record,
            )
        write_snapshot(data_dir, journal.last_seq, exchange.snapshot())
    labels = data_dir / LABELS_FILE
    write_labels(labels, run.cases)
    return PlantedSimulation(run=run, seed=seed, data_dir=data_dir, labels=labels, database=data_dir / DB_FILE)
