"""Where a running node listens, as it writes it in its data directory: for the commands that find
the node from the data directory alone (``carbonx web``, ``carbonx registry``) without loading it."""

from __future__ import annotations

from pathlib import Path

import msgspec

ENDPOINTS_FILE = "node-endpoints.json"  # in the data directory while the node runs


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    order_entry: str
    market_data: str
    snapshot: str
    drop_copy: str


def running_endpoints(data_dir: Path) -> Endpoints | None:
    """Where the node holding ``data_dir`` listens (None: no node has written it)."""
    try:
        return msgspec.json.decode((data_dir / ENDPOINTS_FILE).read_bytes(), type=Endpoints)
    except (OSError, msgspec.DecodeError):
        return None
