"""The config a data directory was written under, kept beside its journal: a directory is replayed
with the config it was written with, and refused under another. Apart from recovery, so that a
command that only reads the record does not load the engine."""

from __future__ import annotations

from pathlib import Path

import msgspec

from engine.config import ExchangeConfig

CONFIG_FILE = "exchange-config.json"


class DataDirError(Exception):
    """The data directory cannot be used (no config recorded, config differs); one line."""


def record_config(directory: Path, config: ExchangeConfig) -> None:
    """Keep the config with the journal; refuse a directory written under a different config."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    encoded = msgspec.json.format(msgspec.json.encode(config), indent=2)
    if path.exists():
        if msgspec.json.decode(path.read_bytes(), type=ExchangeConfig) != config:
            raise DataDirError(f"{path}: the data directory was written under a different config")
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(encoded)
    tmp.replace(path)


def recorded_config(directory: Path) -> ExchangeConfig:
    path = directory / CONFIG_FILE
    if not path.exists():
        raise DataDirError(f"{directory}: not a carbonx data directory (no {CONFIG_FILE})")
    try:
        return msgspec.json.decode(path.read_bytes(), type=ExchangeConfig)
    except msgspec.DecodeError as exc:
        raise DataDirError(f"{path}: unreadable config record: {exc}") from None
