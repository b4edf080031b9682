"""The version of carbonx: the installed package's, else the one pyproject.toml of the source tree names."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def carbonx_version(pyproject: Path = PYPROJECT) -> str:
    """``0.1.0``; ``0.1.0 (source tree, not installed)`` when run from a checkout without ``pip install``."""
    try:
        return metadata.version("carbonx")
    except metadata.PackageNotFoundError:
        pass
    try:
        version = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return "unknown (not installed, and no pyproject.toml beside the source)"
    return f"{version} (source tree, not installed)"
