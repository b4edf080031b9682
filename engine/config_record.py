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
        recorded = msgspec.json.decode(path.read_bytes(), type=ExchangeConfig)
        if recorded != config:
            changed = config_differences(recorded, config)
            shown = "; ".join(changed[:SHOWN_DIFFERENCES])
            more = f"; and {len(changed) - SHOWN_DIFFERENCES} more" if len(changed) > SHOWN_DIFFERENCES else ""
            raise DataDirError(
                f"{path}: the data directory was written under a different config ({shown}{more}): serve it "
                "with the config it was written with, or use another data directory"
            )
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(encoded)
    tmp.replace(path)


SHOWN_DIFFERENCES = 3  # keys a refusal names; the count of the others follows
_SHOWN_VALUE = 40  # characters of a value shown


def config_differences(recorded: ExchangeConfig, current: ExchangeConfig) -> list[str]:
    """Each key whose value differs, as ``key: recorded X, now Y`` (dotted paths, in the config's order)."""
    found: list[str] = []
    _differences(msgspec.to_builtins(recorded), msgspec.to_builtins(current), "", found)
    return found


def _differences(recorded: object, current: object, key: str, found: list[str]) -> None:
    if isinstance(recorded, dict) and isinstance(current, dict):
        for name in [*recorded, *(k for k in current if k not in recorded)]:
            _differences(recorded.get(name), current.get(name), f"{key}.{name}" if key else str(name), found)
    elif recorded != current:
        found.append(f"{key or 'the config'}: recorded {_shown(recorded)}, now {_shown(current)}")


def _shown(value: object) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 3] + "..."


def recorded_config(directory: Path) -> ExchangeConfig:
    path = directory / CONFIG_FILE
    if not path.exists():
        raise DataDirError(f"{directory}: not a carbonx data directory (no {CONFIG_FILE})")
    try:
        return msgspec.json.decode(path.read_bytes(), type=ExchangeConfig)
    except msgspec.DecodeError as exc:
        raise DataDirError(f"{path}: unreadable config record: {exc}") from None
